package openblas

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/gemm/internal/gemmtest"
)

// loadOrSkip returns the library or skips the test with the reason.
func loadOrSkip(t *testing.T) *Lib {
	t.Helper()
	lib, err := Load()
	if err != nil {
		t.Skipf("OpenBLAS is not available: %v", err)
	}
	return lib
}

func TestLoad(t *testing.T) {
	before := os.Getenv("OPENBLAS_CORETYPE")
	lib := loadOrSkip(t)
	t.Logf("loaded %s: %s; core %s; removed from C environment: %v", lib.Path, lib.Config, lib.CoreName, lib.RemovedEnv)
	if lib.CoreName == "" || !strings.Contains(lib.Config, "OpenBLAS") {
		t.Errorf("core name %q, config %q: want both reported", lib.CoreName, lib.Config)
	}
	if before != "" && os.Getenv(KeepCoreTypeEnv) != "1" {
		if !slices.Contains(lib.RemovedEnv, "OPENBLAS_CORETYPE="+before) {
			t.Errorf("RemovedEnv = %v, want OPENBLAS_CORETYPE=%s in it", lib.RemovedEnv, before)
		}
		if v, err := cGetenv("OPENBLAS_CORETYPE"); err != nil || v != "" {
			t.Errorf("C getenv(OPENBLAS_CORETYPE) = %q, %v after Load; want it unset", v, err)
		}
		if os.Getenv("OPENBLAS_CORETYPE") != before {
			t.Errorf("Go's environment changed; child processes should still inherit OPENBLAS_CORETYPE")
		}
	}
	if again, _ := Load(); again != lib {
		t.Errorf("second Load returned a different *Lib")
	}
}

func TestSgemm(t *testing.T) {
	lib := loadOrSkip(t)
	rng := rand.New(rand.NewPCG(31, 32))
	for _, th := range []int{1, 2} {
		lib.SetThreads(th)
		for _, c := range gemmtest.ShapeCases(rng) {
			gemmtest.Check(t, "openblas "+lib.CoreName, lib.Sgemm, c, rng)
		}
		gemmtest.Check(t, "openblas", lib.Sgemm, gemmtest.Case{M: 500, N: 700, K: 600, Alpha: 1, Beta: 0, NaNC: true, TransB: true}, rng)
	}
	lib.SetThreads(0)
	if lib.Threads() < 1 {
		t.Errorf("Threads() = %d", lib.Threads())
	}
}

func TestSgemmPanics(t *testing.T) {
	lib := loadOrSkip(t)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "openblas.Sgemm: lda=2") {
			t.Errorf("panic = %v, want the gemm.CheckArgs message", r)
		}
	}()
	buf := make([]float32, 100)
	lib.Sgemm(false, false, 2, 2, 3, 1, buf, 2, buf, 2, 0, buf, 2)
}

// TestCoreTypeEnv runs this test binary again with OPENBLAS_CORETYPE=Haswell
// to check that Load removes the override (OpenBLAS then picks the same core
// as with no variable at all) unless SMT_KEEP_OPENBLAS_CORETYPE=1.
func TestCoreTypeEnv(t *testing.T) {
	loadOrSkip(t)
	if os.Getenv("SMT_OPENBLAS_HELPER") == "1" {
		t.Skip("helper process")
	}
	core := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCoreName$", "-test.v")
		cmd.Env = append(filterEnv(os.Environ(), "OPENBLAS_CORETYPE", KeepCoreTypeEnv), "SMT_OPENBLAS_HELPER=1")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if c, ok := strings.CutPrefix(strings.TrimSpace(line), "CORE="); ok {
				return c
			}
		}
		t.Fatalf("helper printed no CORE= line:\n%s", out)
		return ""
	}
	natural := core()
	removed := core("OPENBLAS_CORETYPE=Haswell")
	kept := core("OPENBLAS_CORETYPE=Haswell", KeepCoreTypeEnv+"=1")
	t.Logf("core chosen: no variable %s; OPENBLAS_CORETYPE=Haswell removed %s; kept %s", natural, removed, kept)
	if removed != natural {
		t.Errorf("with OPENBLAS_CORETYPE=Haswell, Load chose %s; want %s as without the variable", removed, natural)
	}
	if kept != "Haswell" {
		t.Errorf("with %s=1, OpenBLAS chose %s; want Haswell", KeepCoreTypeEnv, kept)
	}
}

// TestHelperCoreName prints the core OpenBLAS chose (run by TestCoreTypeEnv).
func TestHelperCoreName(t *testing.T) {
	if os.Getenv("SMT_OPENBLAS_HELPER") != "1" {
		t.Skip("run by TestCoreTypeEnv")
	}
	lib := loadOrSkip(t)
	println("CORE=" + lib.CoreName)
}

// TestGoEnvReachesC records whether Go's os.Setenv/os.Unsetenv reach the C
// environment in this build (they do with cgo, and with purego's fake cgo
// when CGO_ENABLED=0 on linux); Load does not rely on it either way.
func TestGoEnvReachesC(t *testing.T) {
	loadOrSkip(t)
	const name = "SMT_GEMM_ENV_PROBE"
	os.Setenv(name, "probe")
	set, err := cGetenv(name)
	if err != nil {
		t.Skip(err)
	}
	os.Unsetenv(name)
	unset, _ := cGetenv(name)
	t.Logf("os.Setenv visible to C getenv: %v; os.Unsetenv visible: %v", set == "probe", unset == "")
}

func filterEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// TestCandidates checks the search order: $SMT_OPENBLAS first, then the
// sonames, then the Debian openblas-pthread directory among the fixed paths.
func TestCandidates(t *testing.T) {
	t.Setenv(PathEnv, "/nonexistent/libopenblas.so")
	c := candidates()
	if c[0] != "/nonexistent/libopenblas.so" || c[1] != "libopenblas.so.0" || c[2] != "libopenblas.so" {
		t.Fatalf("candidates start %v", c[:3])
	}
	if !slices.Contains(c, "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0") {
		t.Errorf("candidates lack the openblas-pthread directory: %v", c)
	}
	if _, err := dlopen(c[0]); err == nil {
		t.Errorf("dlopen of a missing file succeeded")
	}
}
