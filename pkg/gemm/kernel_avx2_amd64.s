#include "textflag.h"

// AVX2+FMA micro-kernel: a 6×16 tile of C (6 rows, two ymm of 8 floats per
// row), 12 accumulators, for x86-64 cores without AVX-512. With two 256-bit
// FMA pipes of latency 4-5, 12 independent accumulators keep both busy.
//
// Register allocation:
//	AX        packed A (6 floats per k step, 24 bytes)
//	BX        packed B (16 floats per k step, 64 bytes)
//	CX        remaining k steps after the unrolled loop
//	R8        unrolled (×4) iteration count
//	DI        C tile, DX = ldc in bytes, R10 = current C row
//	Y0..Y11   accumulators: row i in Y(2i) (columns 0-7) and Y(2i+1) (8-15)
//	Y12, Y13  the current row of packed B
//	Y14, Y15  broadcast A values (alternating); alpha/beta in the epilogue

// AROW multiplies row i of the tile: t = bcast(a[i]); c0 += t·b0; c1 += t·b1.
#define AROW(aoff, t, c0, c1) \
	VBROADCASTSS aoff(AX), t; \
	VFMADD231PS  Y12, t, c0; \
	VFMADD231PS  Y13, t, c1

// KSTEP is one rank-1 update of the tile with A at aoff(AX), B at boff(BX).
#define KSTEP(aoff, boff) \
	VMOVUPS boff(BX), Y12; \
	VMOVUPS boff+32(BX), Y13; \
	AROW(aoff+0, Y14, Y0, Y1); \
	AROW(aoff+4, Y15, Y2, Y3); \
	AROW(aoff+8, Y14, Y4, Y5); \
	AROW(aoff+12, Y15, Y6, Y7); \
	AROW(aoff+16, Y14, Y8, Y9); \
	AROW(aoff+20, Y15, Y10, Y11)

// SCALE multiplies both accumulators of a row by alpha (Y14).
#define SCALE(c0, c1) \
	VMULPS Y14, c0, c0; \
	VMULPS Y14, c1, c1

// STOREROW writes a row of the tile and moves R10 to the next C row.
#define STOREROW(c0, c1) \
	VMOVUPS c0, (R10); \
	VMOVUPS c1, 32(R10); \
	ADDQ    DX, R10

// UPDATEROW writes c + beta·C (beta in Y15) and moves R10 to the next row.
#define UPDATEROW(c0, c1) \
	VFMADD231PS (R10), Y15, c0; \
	VFMADD231PS 32(R10), Y15, c1; \
	VMOVUPS     c0, (R10); \
	VMOVUPS     c1, 32(R10); \
	ADDQ        DX, R10

// func sgemmKernel6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel6x16AVX2(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R8
	SHRQ $2, R8
	JZ   tail

loop4:
	KSTEP(0, 0)
	KSTEP(24, 64)
	KSTEP(48, 128)
	KSTEP(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R8
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   epilogue

loop1:
	KSTEP(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

epilogue:
	VBROADCASTSS alpha+40(FP), Y14
	SCALE(Y0, Y1)
	SCALE(Y2, Y3)
	SCALE(Y4, Y5)
	SCALE(Y6, Y7)
	SCALE(Y8, Y9)
	SCALE(Y10, Y11)
	MOVQ DI, R10

	// beta == ±0: store without reading C.
	MOVL beta+44(FP), R9
	SHLL $1, R9
	JZ   store

	VBROADCASTSS beta+44(FP), Y15
	UPDATEROW(Y0, Y1)
	UPDATEROW(Y2, Y3)
	UPDATEROW(Y4, Y5)
	UPDATEROW(Y6, Y7)
	UPDATEROW(Y8, Y9)
	UPDATEROW(Y10, Y11)
	VZEROUPPER
	RET

store:
	STOREROW(Y0, Y1)
	STOREROW(Y2, Y3)
	STOREROW(Y4, Y5)
	STOREROW(Y6, Y7)
	STOREROW(Y8, Y9)
	STOREROW(Y10, Y11)
	VZEROUPPER
	RET
