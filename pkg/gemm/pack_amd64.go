package gemm

// transposePack4AVX512 packs groups·4 rows of src (spaced ld) for 16·blocks
// columns into dst with stride w: dst[q·w+r] = src[r·ld+q].
//
//go:noescape
func transposePack4AVX512(dst, src *float32, ld, w, groups, blocks int)

// copyPack32AVX512 copies kc rows of 32 floats (spaced ld) to dst densely.
//
//go:noescape
func copyPack32AVX512(dst, src *float32, ld, kc int)

// copyPack12AVX512 copies kc rows of 12 floats (spaced ld) to dst densely.
//
//go:noescape
func copyPack12AVX512(dst, src *float32, ld, kc int)

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

// copyPanelFast is copyPanel for full panels of width 12 or 32 using
// AVX-512. It reports false when it does not apply.
func copyPanelFast(panel, src []float32, ld, kc, n, w int) bool {
	if !hasAVX512 || n != w || kc == 0 || (w != 12 && w != 32) {
		return false
	}
	_ = panel[kc*w-1]
	_ = src[(kc-1)*ld+w-1]
	if w == 32 {
		copyPack32AVX512(&panel[0], &src[0], ld, kc)
	} else {
		copyPack12AVX512(&panel[0], &src[0], ld, kc)
	}
	return true
}
