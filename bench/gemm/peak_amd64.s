#include "textflag.h"

#define ADD8 ADDQ $1, AX; ADDQ $1, AX; ADDQ $1, AX; ADDQ $1, AX; ADDQ $1, AX; ADDQ $1, AX; ADDQ $1, AX; ADDQ $1, AX

// func addChain(n int) int
//
// n iterations of 64 dependent 1-cycle integer adds: the loop takes 64·n
// core clock cycles, so timing it measures the clock. AX is the chain, CX
// the counter.
TEXT ·addChain(SB), NOSPLIT, $0-16
	MOVQ n+0(FP), CX
	XORQ AX, AX

loop:
	ADD8; ADD8; ADD8; ADD8; ADD8; ADD8; ADD8; ADD8
	DECQ CX
	JNZ  loop
	MOVQ AX, ret+8(FP)
	RET

#define FMA8(a, b, c, d, e, f, g, h) VFMADD231PS Z30, Z31, a; VFMADD231PS Z30, Z31, b; VFMADD231PS Z30, Z31, c; VFMADD231PS Z30, Z31, d; VFMADD231PS Z30, Z31, e; VFMADD231PS Z30, Z31, f; VFMADD231PS Z30, Z31, g; VFMADD231PS Z30, Z31, h

// func fmaLoop512(n int)
//
// n iterations of 24 independent 512-bit FMAs (Z0..Z23 accumulate
// Z30·Z31): enough chains to cover FMA latency × pipes, so the loop runs at
// the core's FMA throughput.
TEXT ·fmaLoop512(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

loop:
	FMA8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	FMA8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	FMA8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

#define FMA6Y(a, b, c, d, e, f) VFMADD231PS Y14, Y15, a; VFMADD231PS Y14, Y15, b; VFMADD231PS Y14, Y15, c; VFMADD231PS Y14, Y15, d; VFMADD231PS Y14, Y15, e; VFMADD231PS Y14, Y15, f

// func fmaLoop256(n int)
//
// n iterations of 12 independent 256-bit FMAs (Y0..Y11), for AVX2 machines.
TEXT ·fmaLoop256(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

loop:
	FMA6Y(Y0, Y1, Y2, Y3, Y4, Y5)
	FMA6Y(Y6, Y7, Y8, Y9, Y10, Y11)
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET
