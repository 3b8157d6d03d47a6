#include "textflag.h"

// func expSubSumAVX512(x *float32, n int, m float32) float32
//
// Registers: Z0 m, Z1/Z2 clamp bounds, Z3 log2e, Z4/Z5 ln2 hi/lo,
// Z6..Z12 polynomial coefficients, Z13 running sum, Z14 x, Z15 n (the
// power of two), Z16 polynomial.
TEXT ·expSubSumAVX512(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Z0
	LEAQ ·expConsts(SB), AX
	VBROADCASTSS 0(AX), Z1
	VBROADCASTSS 4(AX), Z2
	VBROADCASTSS 8(AX), Z3
	VBROADCASTSS 12(AX), Z4
	VBROADCASTSS 16(AX), Z5
	VBROADCASTSS 20(AX), Z6
	VBROADCASTSS 24(AX), Z7
	VBROADCASTSS 28(AX), Z8
	VBROADCASTSS 32(AX), Z9
	VBROADCASTSS 36(AX), Z10
	VBROADCASTSS 40(AX), Z11
	VBROADCASTSS 44(AX), Z12
	VXORPS Z13, Z13, Z13

loop:
	CMPQ CX, $16
	JLT  done
	VMOVUPS (SI), Z14
	VSUBPS  Z0, Z14, Z14          // x − m
	VMAXPS  Z1, Z14, Z14          // clamp
	VMINPS  Z2, Z14, Z14
	VMULPS  Z3, Z14, Z15          // x·log2e
	VRNDSCALEPS $0, Z15, Z15      // n = round to nearest even
	VFNMADD231PS Z4, Z15, Z14     // r = x − n·ln2hi
	VFNMADD231PS Z5, Z15, Z14     // r −= n·ln2lo
	VMOVAPS Z6, Z16               // p = 1/720
	VFMADD213PS Z7, Z14, Z16      // p = p·r + 1/120
	VFMADD213PS Z8, Z14, Z16      // … 1/24
	VFMADD213PS Z9, Z14, Z16      // … 1/6
	VFMADD213PS Z10, Z14, Z16     // … 1/2
	VFMADD213PS Z11, Z14, Z16     // … 1
	VFMADD213PS Z12, Z14, Z16     // … 1
	VSCALEFPS Z15, Z16, Z16       // p·2ⁿ
	VMOVUPS Z16, (SI)
	VADDPS  Z16, Z13, Z13
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  loop

done:
	VEXTRACTF32X8 $1, Z13, Y14
	VADDPS Y14, Y13, Y13
	VEXTRACTF128 $1, Y13, X14
	VADDPS X14, X13, X13
	VHADDPS X13, X13, X13
	VHADDPS X13, X13, X13
	VZEROUPPER
	MOVSS X13, ret+24(FP)
	RET
