//go:build !amd64

package gemm

// transposePanelFast has no accelerated version on this architecture.
func transposePanelFast(panel, src []float32, ld, kc, n, w int) bool { return false }

// copyPanelsFast has no accelerated version on this architecture.
func copyPanelsFast(dst, src []float32, ld, kc, panels, w int) bool { return false }
