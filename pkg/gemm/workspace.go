package gemm

import (
	"sync"
	"unsafe"
)

// workspace holds one worker's packing buffers. Buffers only grow and are
// kept in a free list between calls, so steady-state calls do not allocate.
type workspace struct {
	a    []float32 // packed A block, mc×kc
	b    []float32 // packed B block, kc×nc
	tile []float32 // mr×nr scratch tile for partial edge tiles
}

var (
	wsMu   sync.Mutex
	wsFree []*workspace
)

// getWorkspace takes a workspace from the free list (or makes one).
func getWorkspace() *workspace {
	wsMu.Lock()
	defer wsMu.Unlock()
	if n := len(wsFree); n > 0 {
		ws := wsFree[n-1]
		wsFree = wsFree[:n-1]
		return ws
	}
	return new(workspace)
}

// putWorkspace returns ws to the free list.
func putWorkspace(ws *workspace) {
	wsMu.Lock()
	wsFree = append(wsFree, ws)
	wsMu.Unlock()
}

// grow returns buf if it holds n floats, else a new 64-byte-aligned buffer.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return alignedFloats(n)
}

// alignedFloats allocates n float32s starting on a 64-byte (cache line)
// boundary.
func alignedFloats(n int) []float32 {
	const align = 64 / 4
	raw := make([]float32, n+align)
	off := int(uintptr(unsafe.Pointer(&raw[0]))%64) / 4
	if off != 0 {
		off = align - off
	}
	return raw[off : off+n : off+n]
}
