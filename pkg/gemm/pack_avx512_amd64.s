#include "textflag.h"

// Packing helpers for the AVX-512 kernel. See pack_amd64.go.

// func transposePack4AVX512(dst, src *float32, ld, w, groups, blocks int)
//
// For g < groups, q < 16·blocks, i < 4:  dst[q·w + 4g + i] = src[(4g+i)·ld + q].
// Each step loads 16 consecutive values from 4 rows (4 zmm), transposes the
// four 4×4 blocks held in the 128-bit lanes with unpack instructions, and
// stores each lane (4 values of one column q) to its place in dst.
//
// Register allocation:
//	SI   first row of the current group of 4; R13 its cursor along q
//	DI   dst for the current group (advances 4 floats per group); R14 its cursor
//	R8   ld in bytes, R12 = 3·R8
//	R9   w in bytes (dst stride between consecutive q), R11 = 3·R9
//	CX   groups left, BX blocks per row, DX blocks left
//	R15  the same columns of the next group (prefetched)
//	Z0..Z3  the 4 rows, then the transposed lanes (o0..o3)
//	Z4..Z7  unpack temporaries
TEXT ·transposePack4AVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R12
	MOVQ w+24(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R11
	MOVQ groups+32(FP), CX
	MOVQ blocks+40(FP), BX
	TESTQ CX, CX
	JZ   done
	TESTQ BX, BX
	JZ   done

group:
	MOVQ SI, R13
	MOVQ DI, R14
	MOVQ BX, DX

block:
	// Prefetch the same columns of the next group's 4 rows: rows of a
	// large A sit in different pages (often in DRAM), and runs of kc
	// values are too short for the hardware prefetcher to ramp up.
	LEAQ       (R13)(R8*4), R15
	PREFETCHT0 (R15)
	PREFETCHT0 (R15)(R8*1)
	PREFETCHT0 (R15)(R8*2)
	PREFETCHT0 (R15)(R12*1)
	VMOVUPS (R13), Z0
	VMOVUPS (R13)(R8*1), Z1
	VMOVUPS (R13)(R8*2), Z2
	VMOVUPS (R13)(R12*1), Z3
	VUNPCKLPS Z1, Z0, Z4 // r0c0 r1c0 r0c1 r1c1 in each lane
	VUNPCKHPS Z1, Z0, Z5 // r0c2 r1c2 r0c3 r1c3
	VUNPCKLPS Z3, Z2, Z6 // r2c0 r3c0 r2c1 r3c1
	VUNPCKHPS Z3, Z2, Z7 // r2c2 r3c2 r2c3 r3c3
	VUNPCKLPD Z6, Z4, Z0 // column 4L+0 of rows 0..3
	VUNPCKHPD Z6, Z4, Z1 // column 4L+1
	VUNPCKLPD Z7, Z5, Z2 // column 4L+2
	VUNPCKHPD Z7, Z5, Z3 // column 4L+3

	// Lane 0: columns 0..3.
	VMOVUPS X0, (R14)
	VMOVUPS X1, (R14)(R9*1)
	VMOVUPS X2, (R14)(R9*2)
	VMOVUPS X3, (R14)(R11*1)
	LEAQ    (R14)(R9*4), R14

	// Lane 1: columns 4..7.
	VEXTRACTF32X4 $1, Z0, (R14)
	VEXTRACTF32X4 $1, Z1, (R14)(R9*1)
	VEXTRACTF32X4 $1, Z2, (R14)(R9*2)
	VEXTRACTF32X4 $1, Z3, (R14)(R11*1)
	LEAQ          (R14)(R9*4), R14

	// Lane 2: columns 8..11.
	VEXTRACTF32X4 $2, Z0, (R14)
	VEXTRACTF32X4 $2, Z1, (R14)(R9*1)
	VEXTRACTF32X4 $2, Z2, (R14)(R9*2)
	VEXTRACTF32X4 $2, Z3, (R14)(R11*1)
	LEAQ          (R14)(R9*4), R14

	// Lane 3: columns 12..15.
	VEXTRACTF32X4 $3, Z0, (R14)
	VEXTRACTF32X4 $3, Z1, (R14)(R9*1)
	VEXTRACTF32X4 $3, Z2, (R14)(R9*2)
	VEXTRACTF32X4 $3, Z3, (R14)(R11*1)
	LEAQ          (R14)(R9*4), R14

	ADDQ $64, R13
	DECQ DX
	JNZ  block

	LEAQ (SI)(R8*4), SI
	ADDQ $16, DI
	DECQ CX
	JNZ  group

done:
	VZEROUPPER
	RET

// func copyPanels32AVX512(dst, src *float32, ld, kc, panels int)
//
// For p < kc, r < panels, j < 32:
//	dst[r·32·kc + 32p + j] = src[p·ld + 32r + j].
// Rows of src are read front to back (one row at a time, good for the TLB
// and the prefetchers); each panel of dst is written sequentially.
//	SI src row p, DI dst for row p of panel 0, R8 ld in bytes,
//	R9 panel stride in bytes (128·kc), R10/R11 cursors, CX rows left,
//	DX panels left, Z0/Z1 the 32 values.
TEXT ·copyPanels32AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	MOVQ CX, R9
	SHLQ $7, R9
	MOVQ panels+32(FP), BX
	TESTQ CX, CX
	JZ   done
	TESTQ BX, BX
	JZ   done

row:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ BX, DX

panel:
	VMOVUPS (R10), Z0
	VMOVUPS 64(R10), Z1
	VMOVUPS Z0, (R11)
	VMOVUPS Z1, 64(R11)
	ADDQ    $128, R10
	ADDQ    R9, R11
	DECQ    DX
	JNZ     panel

	ADDQ R8, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  row

done:
	VZEROUPPER
	RET

// func copyPanels12AVX512(dst, src *float32, ld, kc, panels int)
//
// For p < kc, r < panels, i < 12:
//	dst[r·12·kc + 12p + i] = src[p·ld + 12r + i].
//	SI src row p, DI dst for row p of panel 0, R8 ld in bytes,
//	R9 panel stride in bytes (48·kc), R10/R11 cursors, CX rows left,
//	DX panels left, Y0/X1 the 12 values.
TEXT ·copyPanels12AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	LEAQ (CX)(CX*2), R9
	SHLQ $4, R9
	MOVQ panels+32(FP), BX
	TESTQ CX, CX
	JZ   done
	TESTQ BX, BX
	JZ   done

row:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ BX, DX

panel:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), X1
	VMOVUPS Y0, (R11)
	VMOVUPS X1, 32(R11)
	ADDQ    $48, R10
	ADDQ    R9, R11
	DECQ    DX
	JNZ     panel

	ADDQ R8, SI
	ADDQ $48, DI
	DECQ CX
	JNZ  row

done:
	VZEROUPPER
	RET
