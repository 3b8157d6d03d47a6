#include "textflag.h"

// AVX-512 micro-kernel: a 12×32 tile of C (12 rows, two zmm of 16 floats
// per row), 24 accumulators, 2 FMAs per broadcast A value. Zen 5 and
// Skylake-X class cores retire two 512-bit FMAs per cycle with a latency of
// 4 cycles, so 24 independent accumulators keep both pipes busy; loads are
// 2 vector + 12 broadcast per 24 FMAs, well within two loads per cycle.
//
// Register allocation:
//	AX        packed A (12 floats per k step, 48 bytes)
//	BX        packed B (32 floats per k step, 128 bytes)
//	CX        remaining k steps after the unrolled loop
//	R8        unrolled (×4) iteration count
//	DI        C tile, DX = ldc in bytes, R10 = current C row
//	Z0..Z23   accumulators: row i in Z(2i) (columns 0-15) and Z(2i+1) (16-31)
//	Z24, Z25  the current row of packed B
//	Z26..Z31  broadcast A values, rotated so broadcasts can run ahead;
//	          Z30/Z31 hold alpha/beta in the epilogue

// AROW multiplies row i of the tile: t = bcast(a[i]); c0 += t·b0; c1 += t·b1.
#define AROW(aoff, t, c0, c1) \
	VBROADCASTSS aoff(AX), t; \
	VFMADD231PS  Z24, t, c0; \
	VFMADD231PS  Z25, t, c1

// KSTEP is one rank-1 update of the tile with A at aoff(AX), B at boff(BX).
#define KSTEP(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	VMOVUPS boff+64(BX), Z25; \
	AROW(aoff+0, Z26, Z0, Z1); \
	AROW(aoff+4, Z27, Z2, Z3); \
	AROW(aoff+8, Z28, Z4, Z5); \
	AROW(aoff+12, Z29, Z6, Z7); \
	AROW(aoff+16, Z30, Z8, Z9); \
	AROW(aoff+20, Z31, Z10, Z11); \
	AROW(aoff+24, Z26, Z12, Z13); \
	AROW(aoff+28, Z27, Z14, Z15); \
	AROW(aoff+32, Z28, Z16, Z17); \
	AROW(aoff+36, Z29, Z18, Z19); \
	AROW(aoff+40, Z30, Z20, Z21); \
	AROW(aoff+44, Z31, Z22, Z23)

// SCALE multiplies both accumulators of a row by alpha (Z30).
#define SCALE(c0, c1) \
	VMULPS Z30, c0, c0; \
	VMULPS Z30, c1, c1

// STOREROW writes a row of the tile and moves R10 to the next C row.
#define STOREROW(c0, c1) \
	VMOVUPS c0, (R10); \
	VMOVUPS c1, 64(R10); \
	ADDQ    DX, R10

// UPDATEROW writes c + beta·C (beta in Z31) and moves R10 to the next row.
#define UPDATEROW(c0, c1) \
	VFMADD231PS (R10), Z31, c0; \
	VFMADD231PS 64(R10), Z31, c1; \
	VMOVUPS     c0, (R10); \
	VMOVUPS     c1, 64(R10); \
	ADDQ        DX, R10

// PFROW prefetches one 128-byte row of the C tile and advances R10.
#define PFROW \
	PREFETCHT0 (R10); \
	PREFETCHT0 64(R10); \
	ADDQ       DX, R10

// func sgemmKernel12x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel12x32AVX512(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	// Touch the C tile early so its lines arrive while we compute.
	MOVQ DI, R10
	PFROW; PFROW; PFROW; PFROW; PFROW; PFROW
	PFROW; PFROW; PFROW; PFROW; PFROW; PFROW

	VPXORD Z0, Z0, Z0
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z0, Z3
	VMOVAPS Z0, Z4
	VMOVAPS Z0, Z5
	VMOVAPS Z0, Z6
	VMOVAPS Z0, Z7
	VMOVAPS Z0, Z8
	VMOVAPS Z0, Z9
	VMOVAPS Z0, Z10
	VMOVAPS Z0, Z11
	VMOVAPS Z0, Z12
	VMOVAPS Z0, Z13
	VMOVAPS Z0, Z14
	VMOVAPS Z0, Z15
	VMOVAPS Z0, Z16
	VMOVAPS Z0, Z17
	VMOVAPS Z0, Z18
	VMOVAPS Z0, Z19
	VMOVAPS Z0, Z20
	VMOVAPS Z0, Z21
	VMOVAPS Z0, Z22
	VMOVAPS Z0, Z23

	MOVQ CX, R8
	SHRQ $2, R8
	JZ   tail

loop4:
	KSTEP(0, 0)
	KSTEP(48, 128)
	KSTEP(96, 256)
	KSTEP(144, 384)
	ADDQ $192, AX
	ADDQ $512, BX
	DECQ R8
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   epilogue

loop1:
	KSTEP(0, 0)
	ADDQ $48, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  loop1

epilogue:
	VBROADCASTSS alpha+40(FP), Z30
	SCALE(Z0, Z1)
	SCALE(Z2, Z3)
	SCALE(Z4, Z5)
	SCALE(Z6, Z7)
	SCALE(Z8, Z9)
	SCALE(Z10, Z11)
	SCALE(Z12, Z13)
	SCALE(Z14, Z15)
	SCALE(Z16, Z17)
	SCALE(Z18, Z19)
	SCALE(Z20, Z21)
	SCALE(Z22, Z23)
	MOVQ DI, R10

	// beta == ±0: store without reading C.
	MOVL beta+44(FP), R9
	SHLL $1, R9
	JZ   store

	VBROADCASTSS beta+44(FP), Z31
	UPDATEROW(Z0, Z1)
	UPDATEROW(Z2, Z3)
	UPDATEROW(Z4, Z5)
	UPDATEROW(Z6, Z7)
	UPDATEROW(Z8, Z9)
	UPDATEROW(Z10, Z11)
	UPDATEROW(Z12, Z13)
	UPDATEROW(Z14, Z15)
	UPDATEROW(Z16, Z17)
	UPDATEROW(Z18, Z19)
	UPDATEROW(Z20, Z21)
	UPDATEROW(Z22, Z23)
	VZEROUPPER
	RET

store:
	STOREROW(Z0, Z1)
	STOREROW(Z2, Z3)
	STOREROW(Z4, Z5)
	STOREROW(Z6, Z7)
	STOREROW(Z8, Z9)
	STOREROW(Z10, Z11)
	STOREROW(Z12, Z13)
	STOREROW(Z14, Z15)
	STOREROW(Z16, Z17)
	STOREROW(Z18, Z19)
	STOREROW(Z20, Z21)
	STOREROW(Z22, Z23)
	VZEROUPPER
	RET
