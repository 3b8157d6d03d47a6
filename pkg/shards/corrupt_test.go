package shards

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// corruptSeed is FuzzOpenShard's seed corpus entry for a zstd shard
// whose first compressed buffer declares 512 MiB decompressed (it holds
// 32 bytes): the Arrow reader would allocate the 512 MiB before finding
// the stream short.
const corruptSeed = "testdata/fuzz/FuzzOpenShard/zstd-declared-512MiB"

func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(raw), "\n")
	body = strings.TrimSpace(body)
	if head != "go test fuzz v1" || !strings.HasPrefix(body, "[]byte(") || !strings.HasSuffix(body, ")") {
		t.Fatalf("%s: not a []byte corpus entry", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// TestCorruptDeclaredLength opens zstd shards whose first compressed
// buffer declares a corrupt decompressed length: OpenFiles returns an
// error naming the file, without allocating the length.
func TestCorruptDeclaredLength(t *testing.T) {
	seed := readSeed(t, corruptSeed)
	// The entry's first zstd frame follows the corrupt length.
	at := bytes.Index(seed, []byte{0x28, 0xB5, 0x2F, 0xFD}) - 8
	if at < 0 || binary.LittleEndian.Uint64(seed[at:]) != 512<<20 {
		t.Fatalf("%s: no 512 MiB length before the first zstd frame", corruptSeed)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		declared uint64
		want     string
	}{
		{512 << 20, "zstd data holds at most"},
		{1 << 40, "over the limit"},
		{1 << 63, "declares a decompressed length of"},
	} {
		data := bytes.Clone(seed)
		binary.LittleEndian.PutUint64(data[at:], c.declared)
		p := filepath.Join(dir, strconv.FormatUint(c.declared, 10)+".arrow")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := OpenFiles(p)
		runtime.ReadMemStats(&after)
		if err == nil {
			s.Close()
			t.Fatalf("declared %d: opened", c.declared)
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("declared %d: %v; want an error naming the file and saying %q", c.declared, err, c.want)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
			t.Errorf("declared %d: opening allocated %d bytes", c.declared, got)
		}
	}
	// Restored, the shard opens.
	data := bytes.Clone(seed)
	binary.LittleEndian.PutUint64(data[at:], 32)
	p := filepath.Join(dir, "restored.arrow")
	os.WriteFile(p, data, 0o644)
	s, err := OpenFiles(p)
	if err != nil {
		t.Fatalf("restored: %v", err)
	}
	defer s.Close()
	if s.Len() != 20 {
		t.Fatalf("restored: %d examples", s.Len())
	}
}
