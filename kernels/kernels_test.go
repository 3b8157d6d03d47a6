package kernels

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestPTXMatchesSources checks that sources.sha256 lists every source,
// header, PTX file and the Makefile with its current hash: a .cu file
// edited without `make -C kernels`, or a PTX edited by hand, fails here.
func TestPTXMatchesSources(t *testing.T) {
	sums, err := os.ReadFile("sources.sha256")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("sources.sha256: bad line %q", line)
		}
		recorded[f[1]] = f[0]
	}
	files, _ := fs.Glob(os.DirFS("."), "*")
	for _, name := range files {
		switch path.Ext(name) {
		case ".cu", ".cuh", ".ptx":
		default:
			if name != "Makefile" {
				continue
			}
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want, ok := recorded[name]
		switch {
		case !ok:
			t.Errorf("%s is not in sources.sha256: run `make -C kernels` and commit the PTX", name)
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("%s changed since the PTX was generated: run `make -C kernels` and commit the PTX", name)
		}
		delete(recorded, name)
	}
	for name := range recorded {
		t.Errorf("sources.sha256 lists %s, which does not exist", name)
	}
	for _, m := range Modules() {
		if _, err := os.Stat(m.Name + ".cu"); err != nil {
			t.Errorf("%s.ptx has no source %s.cu", m.Name, m.Name)
		}
	}
}

// TestEntries checks that every extern "C" __global__ kernel of a source is
// an entry of its PTX, and the PTX targets compute_80 or lower.
func TestEntries(t *testing.T) {
	kernelRe := regexp.MustCompile(`extern "C" __global__ void(?: __launch_bounds__\(\d+\))?\s+(smt_\w+)\(`)
	macroRe := regexp.MustCompile(`smt_(\w+)_##SUF`)
	instRe := regexp.MustCompile(`(?m)^ATT_KERNELS\((\w+),`)
	for _, m := range Modules() {
		src, err := os.ReadFile(m.Name + ".cu")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range kernelRe.FindAllSubmatch(src, -1) {
			names = append(names, string(s[1]))
		}
		for _, inst := range instRe.FindAllSubmatch(src, -1) {
			for _, mm := range macroRe.FindAllSubmatch(src, -1) {
				names = append(names, "smt_"+string(mm[1])+"_"+string(inst[1]))
			}
		}
		if len(names) == 0 {
			t.Errorf("%s.cu: no kernels found", m.Name)
		}
		for _, n := range names {
			if !bytes.Contains(m.PTX, []byte(".entry "+n+"(")) {
				t.Errorf("%s.ptx has no entry %s", m.Name, n)
			}
		}
		if !bytes.Contains(m.PTX, []byte(".target sm_80")) {
			t.Errorf("%s.ptx does not target sm_80", m.Name)
		}
	}
}
