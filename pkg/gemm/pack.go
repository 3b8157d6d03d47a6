package gemm

// packA copies the block op(A)[i0:i0+mc, p0:p0+kc] into dst as ceil(mc/mr)
// micro-panels of mr·kc floats. Panel r holds, for p = 0..kc-1, the mr
// values op(A)[i0+r·mr+i, p0+p], i = 0..mr-1; rows past mc are zero, so the
// micro-kernel can always compute a whole tile.
func packA(transA bool, a []float32, lda, i0, p0, mc, kc, mr int, dst []float32) {
	if transA {
		// Stored A is k×m: the mr values for one p are contiguous.
		copyPanels(dst, a[p0*lda+i0:], lda, kc, mc, mr)
		return
	}
	// Stored A is m×k: gather one value from each of the mr rows.
	for r := 0; r*mr < mc; r++ {
		rows := min(mr, mc-r*mr)
		transposePanel(dst[r*mr*kc:(r+1)*mr*kc], a[(i0+r*mr)*lda+p0:], lda, kc, rows, mr)
	}
}

// packB copies the block op(B)[p0:p0+kc, j0:j0+nc] into dst as
// ceil(nc/nr) micro-panels of kc·nr floats. Panel s holds, for p = 0..kc-1,
// the nr values op(B)[p0+p, j0+s·nr+j]; columns past nc are zero.
func packB(transB bool, b []float32, ldb, p0, j0, kc, nc, nr int, dst []float32) {
	if !transB {
		// Stored B is k×n: the nr values for one p are contiguous.
		copyPanels(dst, b[p0*ldb+j0:], ldb, kc, nc, nr)
		return
	}
	// Stored B is n×k: gather one value from each of the nr rows.
	for s := 0; s*nr < nc; s++ {
		cols := min(nr, nc-s*nr)
		transposePanel(dst[s*nr*kc:(s+1)*nr*kc], b[(j0+s*nr)*ldb+p0:], ldb, kc, cols, nr)
	}
}

// copyPanels packs n columns of kc rows of src (spaced ld) into ceil(n/w)
// panels of kc groups of w floats: panel r holds src[p·ld + r·w + i] at
// p·w + i. Columns past n are zero.
func copyPanels(dst, src []float32, ld, kc, n, w int) {
	full := n / w
	if full > 0 && !copyPanelsFast(dst, src, ld, kc, full, w) {
		for r := 0; r < full; r++ {
			copyPanel(dst[r*w*kc:], src[r*w:], ld, kc, w, w)
		}
	}
	if rest := n - full*w; rest > 0 {
		copyPanel(dst[full*w*kc:], src[full*w:], ld, kc, rest, w)
	}
}

// copyPanel fills one panel (kc groups of w floats) from kc rows of src
// spaced ld apart, taking the first n ≤ w values of each row and zeroing
// the rest.
func copyPanel(panel, src []float32, ld, kc, n, w int) {
	for p := 0; p < kc; p++ {
		d := panel[p*w : p*w+w]
		copy(d[:n], src[p*ld:p*ld+n])
		clear(d[n:])
	}
}

// transposePanel fills panel (kc groups of w floats) from n ≤ w rows of src
// spaced ld apart, each read for kc contiguous values: panel[p·w+i] =
// src[i·ld+p]. Slots i ≥ n are zero.
func transposePanel(panel, src []float32, ld, kc, n, w int) {
	if transposePanelFast(panel, src, ld, kc, n, w) {
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
