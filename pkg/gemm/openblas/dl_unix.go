//go:build (linux || darwin || freebsd || netbsd) && !android

package openblas

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/ebitengine/purego"
)

// dlopen loads a shared library with global symbol binding.
func dlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// bind points the Go function variable fn at the C function name.
func bind(handle uintptr, name string, fn any) error {
	sym, err := purego.Dlsym(handle, name)
	if err != nil {
		return fmt.Errorf("symbol %s: %w", name, err)
	}
	purego.RegisterFunc(fn, sym)
	return nil
}

// globOrEmpty returns the files matching pattern, or none.
func globOrEmpty(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// libcName is the C library whose environ OpenBLAS's constructor reads.
func libcName() string {
	switch runtime.GOOS {
	case "darwin":
		return "/usr/lib/libSystem.B.dylib"
	case "freebsd":
		return "libc.so.7"
	case "netbsd":
		return "libc.so"
	}
	return "libc.so.6"
}

// unsetCEnv removes the named variables from the C library's environment
// (which Go's os.Unsetenv only reaches when the runtime was built with cgo
// or purego's fake cgo) and returns the NAME=value pairs it removed.
func unsetCEnv(names []string) ([]string, error) {
	libc, err := dlopen(libcName())
	if err != nil {
		return nil, err
	}
	var getenv func(string) string
	var unsetenv func(string) int32
	if err := bind(libc, "getenv", &getenv); err != nil {
		return nil, err
	}
	if err := bind(libc, "unsetenv", &unsetenv); err != nil {
		return nil, err
	}
	var removed []string
	for _, name := range names {
		v := getenv(name)
		if v == "" {
			continue
		}
		if unsetenv(name) != 0 {
			return removed, fmt.Errorf("unsetenv(%s) failed", name)
		}
		removed = append(removed, name+"="+v)
	}
	return removed, nil
}

// cGetenv reads a variable from the C library's environment (for tests).
func cGetenv(name string) (string, error) {
	libc, err := dlopen(libcName())
	if err != nil {
		return "", err
	}
	var getenv func(string) string
	if err := bind(libc, "getenv", &getenv); err != nil {
		return "", err
	}
	return getenv(name), nil
}
