package tokenizer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smt-go/smt/pkg/atomicfile"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// sharedData returns the shared data directory (SMT_SHARED_DATA, or
// ../shared/data beside the repository), skipping the test if absent.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SMT_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("shared data not found at %s (set SMT_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// refDir is where the fixture scripts put reference tokenizers that may
// not be committed (SMT_TOKENIZER_REF_DIR, default /tmp/smt-tokenizer-ref).
func refDir() string {
	if d := os.Getenv("SMT_TOKENIZER_REF_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "smt-tokenizer-ref")
}

// refFile finds a reference tokenizer file via env or refDir, or skips.
func refFile(t testing.TB, env, rel string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = filepath.Join(refDir(), rel)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference tokenizer %s not found (set %s, or run scripts/tokenizer/gen_llama3_fixture.sh): %v", p, env, err)
	}
	return p
}

func loadT(t testing.TB, path string) *Tokenizer {
	t.Helper()
	tk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

type fixture struct {
	Generator string `json:"generator"`
	Tokenizer string `json:"tokenizer"`
	Sources   []struct {
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
	} `json:"sources"`
	Fields    []string  `json:"fields"`
	Unique    int       `json:"unique"`
	Tokens    int       `json:"tokens"`
	Digests   string    `json:"digests"`
	FullEvery int       `json:"full_every"`
	Full      [][]int32 `json:"full"`
	Hard      []struct {
		Name       string  `json:"name"`
		Text       string  `json:"text"`
		IDs        []int32 `json:"ids"`
		Decoded    *string `json:"decoded"`
		DecodedBOS *string `json:"decoded_bos"`
		// Hugging Face fixtures: add_special_tokens=True ids and the
		// decoding with special tokens.
		IDsSpecial     []int32 `json:"ids_special"`
		DecodedSpecial *string `json:"decoded_special"`
	} `json:"hard"`
	HFSlow []struct {
		Name string  `json:"name"`
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	} `json:"hf_slow"`
	Decode []struct {
		IDs  []int32 `json:"ids"`
		Text string  `json:"text"`
	} `json:"decode"`
	Skipped []string `json:"skipped"`
}

func readFixture(t testing.TB, name string) *fixture {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture: %v (regenerate with the scripts in scripts/tokenizer)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var fx fixture
	if err := json.NewDecoder(zr).Decode(&fx); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &fx
}

var sourceCache sync.Map // data dir + sources → []string

// sourceStrings re-reads the fixture's source files from the shared data
// and returns the unique strings in the fixture's order.
func sourceStrings(t testing.TB, data string, fx *fixture) []string {
	t.Helper()
	var key strings.Builder
	key.WriteString(data)
	for _, s := range fx.Sources {
		key.WriteString("|" + s.Path)
	}
	if v, ok := sourceCache.Load(key.String()); ok {
		return v.([]string)
	}
	seen := map[string]bool{}
	var texts []string
	for _, s := range fx.Sources {
		b, err := os.ReadFile(filepath.Join(data, s.Path))
		if err != nil {
			t.Fatalf("fixture source: %v", err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != s.SHA256 {
			t.Fatalf("%s changed since the fixture was generated (sha256 %x, fixture %s); regenerate the fixture", s.Path, sum, s.SHA256)
		}
		var recs []map[string]any
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", s.Path, err)
		}
		for _, r := range recs {
			for _, k := range fx.Fields {
				v, _ := r[k].(string)
				if !seen[v] {
					seen[v] = true
					texts = append(texts, v)
				}
			}
		}
	}
	if len(texts) != fx.Unique {
		t.Fatalf("%d unique source strings, fixture has %d", len(texts), fx.Unique)
	}
	sourceCache.Store(key.String(), texts)
	return texts
}

func idsDigest(ids []int32) []byte {
	b := make([]byte, 4*len(ids))
	for i, id := range ids {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(id))
	}
	s := sha256.Sum256(b)
	return s[:6]
}

// checkSources encodes every unique source string and compares with the
// fixture's digests (and full ids where present). It returns the number
// of strings that match.
func checkSources(t *testing.T, tk *Tokenizer, fx *fixture, texts []string, opts EncodeOptions) int {
	t.Helper()
	digests, err := base64.StdEncoding.DecodeString(fx.Digests)
	if err != nil || len(digests) != 6*len(texts) {
		t.Fatalf("fixture digests: %d bytes for %d strings (%v)", len(digests), len(texts), err)
	}
	match, fails := 0, 0
	for i, s := range texts {
		ids := tk.Encode(s, opts)
		ok := bytes.Equal(idsDigest(ids), digests[6*i:6*i+6])
		if fx.FullEvery > 0 && i%fx.FullEvery == 0 {
			want := fx.Full[i/fx.FullEvery]
			if !slices.Equal(ids, want) {
				ok = false
				if fails < 5 {
					t.Errorf("source string %d %q:\n got  %v\n want %v", i, trunc(s), ids, want)
				}
			}
		}
		if ok {
			match++
		} else {
			if fails < 10 {
				t.Errorf("source string %d %q: ids %v differ from the reference (digest)", i, trunc(s), truncIDs(ids))
			}
			fails++
		}
	}
	t.Logf("%s: %d/%d unique source strings match %s", tk.Source(), match, len(texts), fx.Generator)
	return match
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func truncIDs(ids []int32) string {
	if len(ids) > 60 {
		return fmt.Sprint(ids[:60]) + "..."
	}
	return fmt.Sprint(ids)
}

func checkHard(t *testing.T, tk *Tokenizer, fx *fixture, opts EncodeOptions, skip map[string]string) {
	t.Helper()
	match := 0
	for _, h := range fx.Hard {
		if why, ok := skip[h.Name]; ok {
			t.Logf("hard string %s %q skipped: %s", h.Name, trunc(h.Text), why)
			continue
		}
		ids := tk.Encode(h.Text, opts)
		if !slices.Equal(ids, h.IDs) {
			t.Errorf("hard string %s %q:\n got  %v\n want %v", h.Name, trunc(h.Text), truncIDs(ids), truncIDs(h.IDs))
			continue
		}
		match++
		if h.Decoded != nil {
			if got := tk.Decode(h.IDs); got != *h.Decoded {
				t.Errorf("hard string %s: Decode(%v) = %q, want %q", h.Name, truncIDs(h.IDs), trunc(got), trunc(*h.Decoded))
			}
		}
		if h.IDsSpecial != nil {
			if got := tk.Encode(h.Text, tk.DefaultOptions()); !slices.Equal(got, h.IDsSpecial) {
				t.Errorf("hard string %s with DefaultOptions %+v:\n got  %v\n want %v", h.Name, tk.DefaultOptions(), truncIDs(got), truncIDs(h.IDsSpecial))
			}
		}
		if h.DecodedSpecial != nil {
			if got := tk.DecodeWith(h.IDs, DecodeOptions{Special: true}); got != *h.DecodedSpecial {
				t.Errorf("hard string %s: DecodeWith(Special) = %q, want %q", h.Name, trunc(got), trunc(*h.DecodedSpecial))
			}
		}
		if h.DecodedBOS != nil {
			in := append([]int32{tk.BOS()}, h.IDs...)
			if got := tk.Decode(in); got != *h.DecodedBOS {
				t.Errorf("hard string %s: Decode(BOS+ids) = %q, want %q", h.Name, trunc(got), trunc(*h.DecodedBOS))
			}
		}
	}
	t.Logf("%s: %d/%d hard strings match", tk.Source(), match, len(fx.Hard))
}

// TestStoriesModelGolden writes tok512.bin as a SentencePiece
// tokenizer.model and compares it with the committed golden file (which
// the SentencePiece fixture was generated from).
func TestStoriesModelGolden(t *testing.T) {
	data := sharedData(t)
	tk := loadT(t, filepath.Join(data, "tinyllamas-stories260K", "tok512.bin"))
	got, err := tk.MarshalSentencePiece()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "stories260K.tokenizer.model")
	if *update {
		if err := atomicfile.WriteFile(golden, got); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalSentencePiece(tok512.bin) differs from %s (run with -update after checking why)", golden)
	}
	// Our own reader agrees with what we wrote.
	back, err := ParseSentencePiece(got, golden)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != tk.Hash() {
		t.Errorf("hash of the written model %s != hash of tok512.bin %s", back.Hash(), tk.Hash())
	}
}

func TestSentencePieceLlama2Fixture(t *testing.T) {
	data := sharedData(t)
	fx := readFixture(t, "sp_llama2.json.gz")
	texts := sourceStrings(t, data, fx)
	for _, name := range []string{"tokenizer.model", "tokenizer.bin"} {
		t.Run(name, func(t *testing.T) {
			tk := loadT(t, filepath.Join(data, "llama2-tokenizer", name))
			if n := checkSources(t, tk, fx, texts, EncodeOptions{}); n != len(texts) {
				t.Errorf("%d of %d source strings differ", len(texts)-n, len(texts))
			}
			checkHard(t, tk, fx, EncodeOptions{}, nil)
			checkDecodeSeqs(t, tk, fx)
			checkHFSlow(t, tk, fx)
		})
	}
}

func TestSentencePieceStoriesFixture(t *testing.T) {
	data := sharedData(t)
	fx := readFixture(t, "sp_stories260k.json.gz")
	texts := sourceStrings(t, data, fx)
	paths := []string{
		filepath.Join(data, "tinyllamas-stories260K", "tok512.bin"),
		filepath.Join("testdata", "stories260K.tokenizer.model"),
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			tk := loadT(t, p)
			if n := checkSources(t, tk, fx, texts, EncodeOptions{}); n != len(texts) {
				t.Errorf("%d of %d source strings differ", len(texts)-n, len(texts))
			}
			checkHard(t, tk, fx, EncodeOptions{}, nil)
			checkDecodeSeqs(t, tk, fx)
		})
	}
}

func checkDecodeSeqs(t *testing.T, tk *Tokenizer, fx *fixture) {
	t.Helper()
	for _, d := range fx.Decode {
		if got := tk.Decode(d.IDs); got != d.Text {
			t.Errorf("Decode(%v) = %q, want %q", d.IDs, got, d.Text)
		}
	}
}

// checkHFSlow compares ParseSpecial encoding with the slow Hugging Face
// LlamaTokenizer (legacy) as the fixture script emulates it with
// SentencePiece.
func checkHFSlow(t *testing.T, tk *Tokenizer, fx *fixture) {
	t.Helper()
	for _, h := range fx.HFSlow {
		got := tk.Encode(h.Text, EncodeOptions{ParseSpecial: true})
		if !slices.Equal(got, h.IDs) {
			t.Errorf("ParseSpecial %s %q:\n got  %v\n want %v (slow LlamaTokenizer, legacy)", h.Name, h.Text, got, h.IDs)
		}
	}
}

// TestHFFixtures compares with transformers.js on the real LLaMA-3 and
// Mistral tokenizer.json files and on LLaMA-2's tokenizer.json, which
// scripts/tokenizer/gen_llama3_fixture.sh fetches with npm (they may not be
// committed). Special tokens in the text are parsed, as Hugging Face does.
func TestHFFixtures(t *testing.T) {
	cases := []struct{ name, env, rel, fixture string }{
		{"llama3", "SMT_LLAMA3_TOKENIZER", "llama3/tokenizer.json", "hf_llama3.json.gz"},
		{"mistral", "SMT_MISTRAL_TOKENIZER", "mistral/tokenizer.json", "hf_mistral.json.gz"},
		{"llama2", "SMT_LLAMA2_TOKENIZER_JSON", "llama2-hf/tokenizer.json", "hf_llama2.json.gz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := sharedData(t)
			p := refFile(t, c.env, c.rel)
			fx := readFixture(t, c.fixture)
			texts := sourceStrings(t, data, fx)
			tk := loadT(t, filepath.Dir(p))
			if n := checkSources(t, tk, fx, texts, EncodeOptions{ParseSpecial: true}); n != len(texts) {
				t.Errorf("%d of %d source strings differ", len(texts)-n, len(texts))
			}
			checkHard(t, tk, fx, EncodeOptions{ParseSpecial: true}, nil)
		})
	}
}

// TestSentencePieceStoriesHard needs no shared data: the committed
// stories260K.tokenizer.model against SentencePiece's ids for the hard
// strings and decodings.
func TestSentencePieceStoriesHard(t *testing.T) {
	fx := readFixture(t, "sp_stories260k.json.gz")
	tk := loadT(t, filepath.Join("testdata", "stories260K.tokenizer.model"))
	checkHard(t, tk, fx, EncodeOptions{}, nil)
	checkDecodeSeqs(t, tk, fx)
}
