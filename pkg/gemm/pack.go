package gemm

// packA copies the block op(A)[i0:i0+mc, p0:p0+kc] into dst as ceil(mc/mr)
// micro-panels of mr·kc floats. Panel r holds, for p = 0..kc-1, the mr
// values op(A)[i0+r·mr+i, p0+p], i = 0..mr-1; rows past mc are zero, so the
// micro-kernel can always compute a whole tile.
func packA(transA bool, a []float32, lda, i0, p0, mc, kc, mr int, dst []float32) {
	for r := 0; r*mr < mc; r++ {
		rows := min(mr, mc-r*mr)
		panel := dst[r*mr*kc : (r+1)*mr*kc]
		if transA {
			// Stored A is k×m: the mr values for one p are contiguous.
			copyPanel(panel, a[p0*lda+i0+r*mr:], lda, kc, rows, mr)
		} else {
			// Stored A is m×k: gather one value from each of the mr rows.
			transposePanel(panel, a[(i0+r*mr)*lda+p0:], lda, kc, rows, mr)
		}
	}
}

// packB copies the columns [s0·nr, s1·nr) ∩ [0, nc) of the block
// op(B)[p0:p0+kc, j0:j0+nc] into dst as micro-panels of kc·nr floats. Panel
// s holds, for p = 0..kc-1, the nr values op(B)[p0+p, j0+s·nr+j]; columns
// past nc are zero. Only panels s0..s1-1 are written, so workers can pack
// disjoint parts of one shared block.
func packB(transB bool, b []float32, ldb, p0, j0, kc, nc, nr int, dst []float32, s0, s1 int) {
	for s := s0; s < s1; s++ {
		cols := min(nr, nc-s*nr)
		panel := dst[s*nr*kc : (s+1)*nr*kc]
		if transB {
			// Stored B is n×k: gather one value from each of the nr rows.
			transposePanel(panel, b[(j0+s*nr)*ldb+p0:], ldb, kc, cols, nr)
		} else {
			// Stored B is k×n: the nr values for one p are contiguous.
			copyPanel(panel, b[p0*ldb+j0+s*nr:], ldb, kc, cols, nr)
		}
	}
}

// copyPanel fills panel (kc groups of w floats) from kc rows of src spaced
// ld apart, taking the first n ≤ w values of each row and zeroing the rest.
func copyPanel(panel, src []float32, ld, kc, n, w int) {
	if copyPanelFast(panel, src, ld, kc, n, w) {
		return
	}
	switch {
	case n == 32 && w == 32:
		for p := 0; p < kc; p++ {
			*(*[32]float32)(panel[p*32:]) = *(*[32]float32)(src[p*ld:])
		}
	case n == 16 && w == 16:
		for p := 0; p < kc; p++ {
			*(*[16]float32)(panel[p*16:]) = *(*[16]float32)(src[p*ld:])
		}
	case n == 12 && w == 12:
		for p := 0; p < kc; p++ {
			*(*[12]float32)(panel[p*12:]) = *(*[12]float32)(src[p*ld:])
		}
	default:
		for p := 0; p < kc; p++ {
			d := panel[p*w : p*w+w]
			copy(d[:n], src[p*ld:p*ld+n])
			clear(d[n:])
		}
	}
}

// transposePanel fills panel (kc groups of w floats) from n ≤ w rows of src
// spaced ld apart, each read for kc contiguous values: panel[p·w+i] =
// src[i·ld+p]. Slots i ≥ n are zero.
func transposePanel(panel, src []float32, ld, kc, n, w int) {
	if transposePanelFast(panel, src, ld, kc, n, w) {
		return
	}
	if n == 12 && w == 12 {
		transpose12(panel, src, ld, kc)
		return
	}
	if n < w {
		clear(panel[:kc*w])
	}
	for i := 0; i < n; i++ {
		row := src[i*ld : i*ld+kc]
		for p, v := range row {
			panel[p*w+i] = v
		}
	}
}

// transpose12 is transposePanel for n = w = 12 (the AVX-512 kernel's mr):
// twelve sequential read streams and one sequential write stream.
func transpose12(panel, src []float32, ld, kc int) {
	r0, r1, r2, r3 := src[0*ld:][:kc], src[1*ld:][:kc], src[2*ld:][:kc], src[3*ld:][:kc]
	r4, r5, r6, r7 := src[4*ld:][:kc], src[5*ld:][:kc], src[6*ld:][:kc], src[7*ld:][:kc]
	r8, r9, r10, r11 := src[8*ld:][:kc], src[9*ld:][:kc], src[10*ld:][:kc], src[11*ld:][:kc]
	panel = panel[:kc*12]
	for p := range r0 {
		d := (*[12]float32)(panel[p*12:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
	}
}
