//go:build !((linux || darwin || freebsd || netbsd) && !android)

package openblas

// dlopen is unavailable on this platform.
func dlopen(path string) (uintptr, error) { return 0, errUnsupported }

// bind is unavailable on this platform.
func bind(handle uintptr, name string, fn any) error { return errUnsupported }

// globOrEmpty finds nothing on this platform.
func globOrEmpty(pattern string) []string { return nil }

// unsetCEnv has nothing to do on this platform.
func unsetCEnv(names []string) ([]string, error) { return nil, nil }

// cGetenv is unavailable on this platform.
func cGetenv(name string) (string, error) { return "", errUnsupported }
