//go:build linux && (amd64 || arm64)

// Package cudatest builds and drives stand-in CUDA libraries for tests that
// run without a GPU: small C++ files (in standin/) compiled at test time
// with g++ into libcuda.so.1, libcublas.so.12 and libnccl.so.2 that export
// the symbols the bindings use, log every call with its arguments, return
// chosen status codes on request, and keep "device memory" in host memory.
// The stand-in libcuda also runs the real kernels (kernels/*.cu compiled
// for the CPU against standin/emu.h), and the stand-in cuBLAS computes its
// GEMMs with a reference loop, so the whole CUDA backend can be checked
// against the CPU backend in CI.
//
// The libraries are built once per source hash into the user's cache
// directory ($XDG_CACHE_HOME/smt-standin) and reused.
package cudatest

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/smt-go/smt/kernels"
	"github.com/smt-go/smt/pkg/cuda"
)

//go:embed standin/*.h standin/*.cc
var standinFS embed.FS

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Build compiles the stand-in libraries (or finds them in the cache) and
// returns the directory holding them. It skips the test when g++ is
// missing.
func Build(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ not found: the stand-in CUDA libraries cannot be built")
	}
	buildOnce.Do(func() { buildDir, buildErr = build() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func build() (string, error) {
	files := map[string][]byte{}
	for _, src := range []fs.FS{standinFS, kernels.Sources} {
		err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(src, p)
			files[filepath.Base(p)] = b
			return err
		})
		if err != nil {
			return "", err
		}
	}
	ver, _ := exec.Command("g++", "--version").Output()
	h := sha256.New()
	h.Write(ver)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s %d\n", n, len(files[n]))
		h.Write(files[n])
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	final := filepath.Join(cache, "smt-standin", key)
	if _, err := os.Stat(filepath.Join(final, "libnccl.so.2")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	out := filepath.Join(tmp, "lib")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	var cus []string
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o644); err != nil {
			return "", err
		}
		if strings.HasSuffix(n, ".cu") {
			cus = append(cus, filepath.Join(src, n))
		}
	}
	sort.Strings(cus)
	flags := []string{"-std=c++17", "-O1", "-g0", "-shared", "-fPIC", "-pthread", "-Wl,-Bsymbolic", "-U_FORTIFY_SOURCE", "-I", src}
	jobs := []struct {
		lib  string
		args []string
	}{
		{"libcuda.so.1", append(append([]string{"-DSMT_EMU", filepath.Join(src, "libcuda.cc"), "-x", "c++"}, cus...), "-x", "none")},
		{"libcublas.so.12", []string{filepath.Join(src, "libcublas.cc")}},
		{"libnccl.so.2", []string{filepath.Join(src, "libnccl.cc")}},
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(append([]string{}, flags...), "-o", filepath.Join(out, j.lib))
			args = append(args, j.args...)
			cmd := exec.Command("g++", args...)
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("cudatest: building the stand-in %s: %v\n%s", j.lib, err, b)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", err
		}
	}
	if err := os.Rename(out, final); err != nil {
		if _, err2 := os.Stat(filepath.Join(final, "libnccl.so.2")); err2 == nil {
			return final, nil // built concurrently by another test process
		}
		return "", err
	}
	return final, nil
}

var (
	keptMu sync.Mutex
	kept   [][]byte
)

// cstr returns s as a NUL-terminated C string in memory that stays
// allocated (and, being referenced from a global, on the heap).
func cstr(s string) []byte {
	b := append([]byte(s), 0)
	keptMu.Lock()
	kept = append(kept, b)
	keptMu.Unlock()
	return b
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// keep marks b as used until here.
func keep(b []byte) { runtime.KeepAlive(b) }

// StandIn drives the loaded stand-in libraries.
type StandIn struct {
	Dir     string
	logPath string
	handles map[string]uintptr // lib → dlopen handle
}

var libFiles = map[string]string{"cuda": "libcuda.so.1", "cublas": "libcublas.so.12", "nccl": "libnccl.so.2"}

// Open builds the stand-ins, opens them (the loaders in package cuda then
// get the same handles) and starts a fresh log for the test.
func Open(t testing.TB) *StandIn {
	t.Helper()
	dir := Build(t)
	s := &StandIn{Dir: dir, handles: map[string]uintptr{}}
	for lib, file := range libFiles {
		h, err := purego.Dlopen(filepath.Join(dir, file), purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			t.Fatalf("cudatest: %v", err)
		}
		s.handles[lib] = h
	}
	s.Reset(t)
	return s
}

// Options are the load options that find the stand-ins and nothing else.
func (s *StandIn) Options() cuda.LoadOptions {
	return cuda.LoadOptions{Dirs: []string{s.Dir}, OnlyDirs: true, Local: true}
}

func (s *StandIn) call(t testing.TB, lib, fn string, args ...uintptr) {
	t.Helper()
	p, err := purego.Dlsym(s.handles[lib], fn)
	if err != nil {
		t.Fatalf("cudatest: %v", err)
	}
	purego.SyscallN(p, args...)
}

// Reset starts a new log (in the test's temp dir) and clears pending
// failures in all three libraries.
func (s *StandIn) Reset(t testing.TB) {
	t.Helper()
	s.logPath = filepath.Join(t.TempDir(), "standin.log")
	if err := os.WriteFile(s.logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := cstr(s.logPath)
	for lib := range libFiles {
		s.call(t, lib, "standin_"+lib+"_control", uintptrOf(path))
	}
	keep(path)
}

// Setup sets the stand-in driver's device count and CUDA version.
func (s *StandIn) Setup(t testing.TB, devices, version int) {
	t.Helper()
	s.call(t, "cuda", "standin_cuda_setup", uintptr(devices), uintptr(version))
}

// Fail makes the next call of fn in lib ("cuda", "cublas" or "nccl")
// return code.
func (s *StandIn) Fail(t testing.TB, lib, fn string, code int) {
	t.Helper()
	name := cstr(fn)
	s.call(t, lib, "standin_"+lib+"_fail", uintptrOf(name), uintptr(code))
	keep(name)
}

// Call is one logged call: the function and its key=value arguments.
type Call struct {
	Fn   string
	Args map[string]string
	Line string
}

// Int returns an integer argument (decimal or 0x hex).
func (c Call) Int(key string) int64 {
	v, ok := c.Args[key]
	if !ok {
		panic(fmt.Sprintf("cudatest: %s has no argument %s: %s", c.Fn, key, c.Line))
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		u, err2 := strconv.ParseUint(v, 0, 64)
		if err2 != nil {
			panic(fmt.Sprintf("cudatest: %s %s=%s: %v", c.Fn, key, v, err))
		}
		return int64(u)
	}
	return n
}

// Float returns a floating-point argument.
func (c Call) Float(key string) float64 {
	f, err := strconv.ParseFloat(c.Args[key], 64)
	if err != nil {
		panic(fmt.Sprintf("cudatest: %s %s=%s: %v", c.Fn, key, c.Args[key], err))
	}
	return f
}

// Calls returns the calls logged since the last Reset.
func (s *StandIn) Calls(t testing.TB) []Call {
	t.Helper()
	f, err := os.Open(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		c := Call{Fn: fields[0], Args: map[string]string{}, Line: line}
		for _, kv := range fields[1:] {
			if k, v, ok := strings.Cut(kv, "="); ok {
				c.Args[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// Find returns the logged calls of fn.
func (s *StandIn) Find(t testing.TB, fn string) []Call {
	t.Helper()
	var out []Call
	for _, c := range s.Calls(t) {
		if c.Fn == fn {
			out = append(out, c)
		}
	}
	return out
}

// Problems returns the log lines that report a misuse: a pointer outside
// every allocation, an overwritten canary, a call without a current
// context, kernel arguments that do not match the PTX, too much shared
// memory, a kernel without an emulation.
func (s *StandIn) Problems(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, c := range s.Calls(t) {
		switch c.Fn {
		case "BADPTR", "BADFREE", "CANARY", "NOCTX", "PARAMS-MISMATCH", "SHARED-TOO-BIG", "NOEMU", "EMU-DEADLOCK":
			out = append(out, c.Line)
		}
	}
	return out
}
