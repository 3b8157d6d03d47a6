// Package kernels holds the CUDA kernels of the CUDA backend: the .cu
// sources, and the PTX that nvcc made from them (`make -C kernels`),
// embedded in every binary. sources.sha256 records the hashes of the
// sources, the Makefile and the PTX at generation time; the package's test
// checks them, so CI notices a source edited without regenerating the PTX
// without needing nvcc.
package kernels

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed *.ptx
var ptxFS embed.FS

// Sources holds the kernel sources (*.cu, *.cuh), the Makefile and
// sources.sha256, for tools that build the kernels another way (the CI
// stand-in libcuda compiles them for the CPU).
//
//go:embed *.cu *.cuh Makefile sources.sha256
var Sources embed.FS

// Module is one compiled kernel file.
type Module struct {
	Name string // the source's base name, e.g. "attention"
	PTX  []byte
}

// Modules returns the embedded PTX modules, sorted by name.
func Modules() []Module {
	ents, err := fs.ReadDir(ptxFS, ".")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	var out []Module
	for _, e := range ents {
		b, err := ptxFS.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, Module{Name: strings.TrimSuffix(e.Name(), path.Ext(e.Name())), PTX: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
