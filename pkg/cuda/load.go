package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// LibraryPathEnv names the environment variable holding extra directories
// (separated by ':') searched for the CUDA libraries before any other.
const LibraryPathEnv = "SMT_CUDA_LIBRARY_PATH"

// LoadOptions says where the loaders look for a library.
type LoadOptions struct {
	// Dirs are searched first, in order.
	Dirs []string
	// OnlyDirs restricts the search to Dirs: no environment variables, no
	// system loader, no standard or Python directories. Tests use it to
	// load stand-in libraries.
	OnlyDirs bool
	// Local opens the libraries with RTLD_LOCAL, keeping their symbols out
	// of the process's global scope (tests use it so that stand-in
	// libraries cannot interpose on real ones loaded later).
	Local bool
}

// library is one opened shared object.
type library struct {
	name string // what it is, for messages: "libcuda", "cuBLAS", "NCCL"
	path string // the path (or soname) it was opened by
	h    uintptr
}

// sym looks up the C symbol name.
func (l *library) sym(name string) (uintptr, error) {
	p, err := dlsym(l.h, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("cuda: %s (%s) has no symbol %s", l.name, l.path, name)
	}
	return p, nil
}

// bind looks up every (name, destination) pair; optional names may be
// missing and leave their destination 0.
func (l *library) bind(syms []symbol) error {
	for _, s := range syms {
		p, err := l.sym(s.name)
		if err != nil {
			if s.optional {
				continue
			}
			return err
		}
		*s.dst = p
	}
	return nil
}

type symbol struct {
	name     string
	dst      *uintptr
	optional bool
}

// searchDir is one place the loader looks: a directory, or the system
// loader (dir == "").
type searchDir struct {
	dir  string
	from string // why it is searched, for messages
}

// searchDirs lists the places searched, in order.
func searchDirs(opts LoadOptions) []searchDir {
	var out []searchDir
	seen := map[string]bool{}
	add := func(dir, from string, mustExist bool) {
		if dir == "" {
			return
		}
		dir = filepath.Clean(dir)
		if seen[dir] {
			return
		}
		if mustExist {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return
			}
		}
		seen[dir] = true
		out = append(out, searchDir{dir: dir, from: from})
	}
	for _, d := range opts.Dirs {
		add(d, "option", false)
	}
	if opts.OnlyDirs {
		return out
	}
	for _, d := range filepath.SplitList(os.Getenv(LibraryPathEnv)) {
		add(d, "$"+LibraryPathEnv, false)
	}
	for _, d := range filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")) {
		add(d, "$LD_LIBRARY_PATH", false)
	}
	out = append(out, searchDir{from: "the system loader (ld.so.cache and default paths)"})
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	for _, d := range []string{
		"/usr/local/cuda/lib64",
		"/usr/local/cuda/targets/" + arch + "-linux/lib",
		"/usr/local/cuda/targets/sbsa-linux/lib",
		"/usr/lib/" + arch + "-linux-gnu",
		"/usr/lib64",
		"/usr/lib",
		"/usr/lib/wsl/lib",
	} {
		add(d, "standard", true)
	}
	for _, site := range pythonSiteDirs() {
		libs, _ := filepath.Glob(filepath.Join(site, "nvidia", "*", "lib"))
		slices.Sort(libs)
		for _, d := range libs {
			add(d, "Python wheel", true)
		}
	}
	return out
}

// pythonSiteDirs lists the site-packages and dist-packages directories of
// the system Pythons, the user's, and the virtual environments on PATH,
// where PyTorch's pip wheels install the CUDA libraries
// (site-packages/nvidia/*/lib).
func pythonSiteDirs() []string {
	var roots []string
	roots = append(roots, "/usr/lib", "/usr/local/lib")
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".local", "lib"))
	}
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if v := os.Getenv(env); v != "" {
			roots = append(roots, filepath.Join(v, "lib"))
		}
	}
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if filepath.Base(p) == "bin" {
			roots = append(roots, filepath.Join(filepath.Dir(p), "lib"))
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range roots {
		for _, kind := range []string{"site-packages", "dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(r, "python3*", kind))
			slices.Sort(m)
			for _, d := range m {
				if !seen[d] {
					seen[d] = true
					out = append(out, d)
				}
			}
		}
	}
	return out
}

// openLibrary opens the first of sonames found in the search order: the
// first place holding any of them wins, and within a place the earlier
// soname. preload, when not nil, names companion libraries to open first
// from the same place (libcublasLt for libcublas), keyed by soname.
func openLibrary(name string, sonames []string, preload map[string]string, opts LoadOptions) (*library, error) {
	if !supported {
		return nil, errUnsupported
	}
	mode := rtldNow | rtldGlobal
	if opts.Local {
		mode = rtldNow
	}
	var searched, failures []string
	for _, sd := range searchDirs(opts) {
		if sd.dir == "" {
			searched = append(searched, sd.from)
		} else {
			searched = append(searched, sd.dir)
		}
		for _, so := range sonames {
			path := so
			if sd.dir != "" {
				path = filepath.Join(sd.dir, so)
				if _, err := os.Stat(path); err != nil {
					continue
				}
			}
			if pre := preload[so]; pre != "" {
				pp := pre
				if sd.dir != "" {
					pp = filepath.Join(sd.dir, pre)
				}
				if sd.dir == "" || fileExists(pp) {
					_, _ = dlopen(pp, mode) // best effort; the main open reports failures
				}
			}
			h, err := dlopen(path, mode)
			if err != nil || h == 0 {
				if sd.dir != "" {
					failures = append(failures, fmt.Sprintf("%s: %v", path, err))
				}
				continue
			}
			return &library{name: name, path: path, h: h}, nil
		}
	}
	return nil, &NotFoundError{Library: name, Sonames: sonames, Searched: searched, Failures: failures}
}

// NotFoundError reports a library that none of the searched places had
// (or could open).
type NotFoundError struct {
	Library  string   // e.g. "libcuda.so.1", "cuBLAS"
	Sonames  []string // the file names looked for
	Searched []string // every directory searched, in order, and the system loader
	Failures []string // files found that failed to open, with the loader's error
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("cuda: no %s found (looked for %s); searched: %s", e.Library, strings.Join(e.Sonames, ", "), strings.Join(e.Searched, ", "))
	if len(e.Failures) > 0 {
		msg += "; could not open: " + strings.Join(e.Failures, "; ")
	}
	return msg
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
