package gemm

// transposePack4AVX512 packs groups·4 rows of src (spaced ld) for 16·blocks
// columns into dst with stride w: dst[q·w+r] = src[r·ld+q].
//
//go:noescape
func transposePack4AVX512(dst, src *float32, ld, w, groups, blocks int)

// copyPanels32AVX512 packs panels×32 columns of kc rows of src (spaced
// ld) into panels of 32·kc floats.
//
//go:noescape
func copyPanels32AVX512(dst, src *float32, ld, kc, panels int)

// copyPanels12AVX512 packs panels×12 columns of kc rows of src (spaced ld)
// into panels of 12·kc floats.
//
//go:noescape
func copyPanels12AVX512(dst, src *float32, ld, kc, panels int)

// transposePanelFast is transposePanel for full panels whose width is a
// multiple of 4, using AVX-512 for whole blocks of 16 columns. It reports
// false when it does not apply.
func transposePanelFast(panel, src []float32, ld, kc, n, w int) bool {
	if !hasAVX512 || n != w || w%4 != 0 || kc < 16 {
		return false
	}
	blocks := kc / 16
	_ = panel[kc*w-1]
	_ = src[(n-1)*ld+kc-1]
	transposePack4AVX512(&panel[0], &src[0], ld, w, w/4, blocks)
	for i := 0; i < n; i++ {
		row := src[i*ld : i*ld+kc]
		for p := blocks * 16; p < kc; p++ {
			panel[p*w+i] = row[p]
		}
	}
	return true
}

// copyPanelsFast is copyPanels for widths 12 and 32 using AVX-512. It
// reports false when it does not apply.
func copyPanelsFast(dst, src []float32, ld, kc, panels, w int) bool {
	if !hasAVX512 || kc == 0 || panels == 0 || (w != 12 && w != 32) {
		return false
	}
	_ = dst[panels*w*kc-1]
	_ = src[(kc-1)*ld+panels*w-1]
	if w == 32 {
		copyPanels32AVX512(&dst[0], &src[0], ld, kc, panels)
	} else {
		copyPanels12AVX512(&dst[0], &src[0], ld, kc, panels)
	}
	return true
}
