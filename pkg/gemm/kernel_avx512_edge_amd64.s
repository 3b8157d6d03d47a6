#include "textflag.h"

// AVX-512 micro-kernel for the right edge of C: a tile of 12 full rows and
// 1 ≤ cols < 32 columns, read from the same packed panels as the 12×32
// kernel (B rows of 32 floats, zero beyond cols) and written straight to C
// with masked stores, so partial tiles need no scratch copy. When
// cols ≤ 16 only the first 16 columns are computed: half the FMAs of a
// full tile (head_dim 48 in attention gives such panels).
//
// Register allocation:
//	AX        packed A (12 floats per k step, 48 bytes)
//	BX        packed B (32 floats per k step, 128 bytes)
//	CX        remaining k steps after the unrolled loop; R8 unrolled count
//	DI        C tile, DX = ldc in bytes, R10 = current C row
//	K1        column mask of the last (partial) 16-column group
//	full width (cols > 16): as the 12×32 kernel, Z0..Z23 accumulators
//	          (row i in Z(2i), Z(2i+1)), Z24/Z25 the B row, Z26..Z31
//	          broadcasts (alpha in Z30, beta in Z31 at the end)
//	half width (cols ≤ 16): Z0..Z11 accumulators (row i in Zi), Z24 the B
//	          row, Z26..Z31 broadcasts

#define AROW2(aoff, t, c0, c1) \
	VBROADCASTSS aoff(AX), t; \
	VFMADD231PS  Z24, t, c0; \
	VFMADD231PS  Z25, t, c1

#define KSTEP2(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	VMOVUPS boff+64(BX), Z25; \
	AROW2(aoff+0, Z26, Z0, Z1); \
	AROW2(aoff+4, Z27, Z2, Z3); \
	AROW2(aoff+8, Z28, Z4, Z5); \
	AROW2(aoff+12, Z29, Z6, Z7); \
	AROW2(aoff+16, Z30, Z8, Z9); \
	AROW2(aoff+20, Z31, Z10, Z11); \
	AROW2(aoff+24, Z26, Z12, Z13); \
	AROW2(aoff+28, Z27, Z14, Z15); \
	AROW2(aoff+32, Z28, Z16, Z17); \
	AROW2(aoff+36, Z29, Z18, Z19); \
	AROW2(aoff+40, Z30, Z20, Z21); \
	AROW2(aoff+44, Z31, Z22, Z23)

#define AROW1(aoff, t, c0) \
	VBROADCASTSS aoff(AX), t; \
	VFMADD231PS  Z24, t, c0

#define KSTEP1(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	AROW1(aoff+0, Z26, Z0); \
	AROW1(aoff+4, Z27, Z1); \
	AROW1(aoff+8, Z28, Z2); \
	AROW1(aoff+12, Z29, Z3); \
	AROW1(aoff+16, Z30, Z4); \
	AROW1(aoff+20, Z31, Z5); \
	AROW1(aoff+24, Z26, Z6); \
	AROW1(aoff+28, Z27, Z7); \
	AROW1(aoff+32, Z28, Z8); \
	AROW1(aoff+36, Z29, Z9); \
	AROW1(aoff+40, Z30, Z10); \
	AROW1(aoff+44, Z31, Z11)

// Epilogue helpers; R10 walks the rows of C.
#define STORE2(c0, c1) \
	VMOVUPS c0, (R10); \
	VMOVUPS c1, K1, 64(R10); \
	ADDQ    DX, R10

#define UPDATE2(c0, c1) \
	VFMADD231PS (R10), Z31, c0; \
	VFMADD231PS 64(R10), Z31, K1, c1; \
	VMOVUPS     c0, (R10); \
	VMOVUPS     c1, K1, 64(R10); \
	ADDQ        DX, R10

#define STORE1(c0) \
	VMOVUPS c0, K1, (R10); \
	ADDQ    DX, R10

#define UPDATE1(c0) \
	VFMADD231PS (R10), Z31, K1, c0; \
	VMOVUPS     c0, K1, (R10); \
	ADDQ        DX, R10

// func sgemmKernel12xNAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32, cols int)
TEXT ·sgemmKernel12xNAVX512(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), R9
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	// K1 = mask of the columns present in the last 16-column group.
	MOVQ cols+48(FP), CX
	CMPQ CX, $16
	JLE  maskset
	SUBQ $16, CX

maskset:
	MOVL  $1, R11
	SHLL  CX, R11
	DECL  R11
	KMOVW R11, K1
	MOVQ  R9, CX
	MOVQ  cols+48(FP), R11
	CMPQ  R11, $16
	JLE   half

	VPXORD  Z0, Z0, Z0
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
	MOVQ    CX, R8
	SHRQ    $2, R8
	JZ      tail2

loop2:
	KSTEP2(0, 0)
	KSTEP2(48, 128)
	KSTEP2(96, 256)
	KSTEP2(144, 384)
	ADDQ $192, AX
	ADDQ $512, BX
	DECQ R8
	JNZ  loop2

tail2:
	ANDQ $3, CX
	JZ   epi2

one2:
	KSTEP2(0, 0)
	ADDQ $48, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  one2

epi2:
	VBROADCASTSS alpha+40(FP), Z30
	VMULPS       Z30, Z0, Z0
	VMULPS       Z30, Z1, Z1
	VMULPS       Z30, Z2, Z2
	VMULPS       Z30, Z3, Z3
	VMULPS       Z30, Z4, Z4
	VMULPS       Z30, Z5, Z5
	VMULPS       Z30, Z6, Z6
	VMULPS       Z30, Z7, Z7
	VMULPS       Z30, Z8, Z8
	VMULPS       Z30, Z9, Z9
	VMULPS       Z30, Z10, Z10
	VMULPS       Z30, Z11, Z11
	VMULPS       Z30, Z12, Z12
	VMULPS       Z30, Z13, Z13
	VMULPS       Z30, Z14, Z14
	VMULPS       Z30, Z15, Z15
	VMULPS       Z30, Z16, Z16
	VMULPS       Z30, Z17, Z17
	VMULPS       Z30, Z18, Z18
	VMULPS       Z30, Z19, Z19
	VMULPS       Z30, Z20, Z20
	VMULPS       Z30, Z21, Z21
	VMULPS       Z30, Z22, Z22
	VMULPS       Z30, Z23, Z23
	MOVQ         DI, R10
	MOVL         beta+44(FP), R9
	SHLL         $1, R9
	JZ           store2
	VBROADCASTSS beta+44(FP), Z31
	UPDATE2(Z0, Z1)
	UPDATE2(Z2, Z3)
	UPDATE2(Z4, Z5)
	UPDATE2(Z6, Z7)
	UPDATE2(Z8, Z9)
	UPDATE2(Z10, Z11)
	UPDATE2(Z12, Z13)
	UPDATE2(Z14, Z15)
	UPDATE2(Z16, Z17)
	UPDATE2(Z18, Z19)
	UPDATE2(Z20, Z21)
	UPDATE2(Z22, Z23)
	VZEROUPPER
	RET

store2:
	STORE2(Z0, Z1)
	STORE2(Z2, Z3)
	STORE2(Z4, Z5)
	STORE2(Z6, Z7)
	STORE2(Z8, Z9)
	STORE2(Z10, Z11)
	STORE2(Z12, Z13)
	STORE2(Z14, Z15)
	STORE2(Z16, Z17)
	STORE2(Z18, Z19)
	STORE2(Z20, Z21)
	STORE2(Z22, Z23)
	VZEROUPPER
	RET

half:
	VPXORD  Z0, Z0, Z0
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
	MOVQ    CX, R8
	SHRQ    $2, R8
	JZ      tail1

loop1:
	KSTEP1(0, 0)
	KSTEP1(48, 128)
	KSTEP1(96, 256)
	KSTEP1(144, 384)
	ADDQ $192, AX
	ADDQ $512, BX
	DECQ R8
	JNZ  loop1

tail1:
	ANDQ $3, CX
	JZ   epi1

one1:
	KSTEP1(0, 0)
	ADDQ $48, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  one1

epi1:
	VBROADCASTSS alpha+40(FP), Z30
	VMULPS       Z30, Z0, Z0
	VMULPS       Z30, Z1, Z1
	VMULPS       Z30, Z2, Z2
	VMULPS       Z30, Z3, Z3
	VMULPS       Z30, Z4, Z4
	VMULPS       Z30, Z5, Z5
	VMULPS       Z30, Z6, Z6
	VMULPS       Z30, Z7, Z7
	VMULPS       Z30, Z8, Z8
	VMULPS       Z30, Z9, Z9
	VMULPS       Z30, Z10, Z10
	VMULPS       Z30, Z11, Z11
	MOVQ         DI, R10
	MOVL         beta+44(FP), R9
	SHLL         $1, R9
	JZ           store1
	VBROADCASTSS beta+44(FP), Z31
	UPDATE1(Z0)
	UPDATE1(Z1)
	UPDATE1(Z2)
	UPDATE1(Z3)
	UPDATE1(Z4)
	UPDATE1(Z5)
	UPDATE1(Z6)
	UPDATE1(Z7)
	UPDATE1(Z8)
	UPDATE1(Z9)
	UPDATE1(Z10)
	UPDATE1(Z11)
	VZEROUPPER
	RET

store1:
	STORE1(Z0)
	STORE1(Z1)
	STORE1(Z2)
	STORE1(Z3)
	STORE1(Z4)
	STORE1(Z5)
	STORE1(Z6)
	STORE1(Z7)
	STORE1(Z8)
	STORE1(Z9)
	STORE1(Z10)
	STORE1(Z11)
	VZEROUPPER
	RET
