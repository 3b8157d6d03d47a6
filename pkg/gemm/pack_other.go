//go:build !amd64

package gemm

// transposePanelFast has no accelerated version on this architecture.
func transposePanelFast(panel, src []float32, ld, kc, n, w int) bool { return false }

// copyPanelFast has no accelerated version on this architecture.
func copyPanelFast(panel, src []float32, ld, kc, n, w int) bool { return false }
