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

// func copyPack32AVX512(dst, src *float32, ld, kc int)
//
// For p < kc: dst[32p : 32p+32] = src[p·ld : p·ld+32].
//	DI dst, SI src, R8 ld in bytes, CX rows left, Z0/Z1 the row.
TEXT ·copyPack32AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	TESTQ CX, CX
	JZ   done

row:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    R8, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     row

done:
	VZEROUPPER
	RET

// func copyPack12AVX512(dst, src *float32, ld, kc int)
//
// For p < kc: dst[12p : 12p+12] = src[p·ld : p·ld+12].
//	DI dst, SI src, R8 ld in bytes, CX rows left, Y0/X1 the row.
TEXT ·copyPack12AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	TESTQ CX, CX
	JZ   done

row:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), X1
	VMOVUPS Y0, (DI)
	VMOVUPS X1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $48, DI
	DECQ    CX
	JNZ     row

done:
	VZEROUPPER
	RET
