//go:build amd64 && !purego

#include "textflag.h"

// CMUL sets b to b·w, w at r (its (re, re, −im, im)), with t and u scratch:
// b·(re, re) + swap(b)·(−im, im) is (b.re·re − b.im·im, b.im·re + b.re·im),
// bfly's products and sums.
#define CMUL(r, b, t, u) \
	MOVAPD	b, t; \
	SHUFPD	$1, t, t; \
	MOVUPD	(r), u; \
	MULPD	u, b; \
	MOVUPD	16(r), u; \
	MULPD	u, t; \
	ADDPD	t, b

// func stagePairSSE(x *complex128, n, half int, tw *float64)
//
// stagePairGo: for every block of 4·half points, quarters q0…q3, at k
// = 0 the first stage's butterflies and the second's first without
// products, then at every k ≥ 1 both stages' butterflies, the first's
// by tw1[k], the second's by tw2[k] and tw3[k].
TEXT ·stagePairSSE(SB), NOSPLIT, $0-32
	MOVQ	x+0(FP), DI
	MOVQ	n+8(FP), CX
	MOVQ	half+16(FP), DX
	MOVQ	tw+24(FP), SI
	MOVQ	DX, R8
	SHLQ	$4, R8            // a quarter's bytes
	LEAQ	(R8)(R8*2), R13   // three quarters'
	MOVQ	DX, R9
	SHLQ	$5, R9            // half twiddles' bytes in stv
	LEAQ	(SI)(R9*1), R10   // tw1 = stw[half:]
	LEAQ	(R10)(R9*1), R11  // tw2 = stw[2·half:]
	LEAQ	(R11)(R9*1), R12  // tw3 = stw[3·half:]
	SHLQ	$4, CX
	ADDQ	DI, CX            // the end of x

block:
	CMPQ	DI, CX
	JGE	done
	MOVUPD	(DI), X0
	MOVUPD	(DI)(R8*1), X1
	MOVUPD	(DI)(R8*2), X2
	MOVUPD	(DI)(R13*1), X3
	MOVAPD	X0, X4
	ADDPD	X1, X0 // a0
	SUBPD	X1, X4 // a1
	MOVAPD	X2, X5
	ADDPD	X3, X2 // a2
	SUBPD	X3, X5 // a3
	MOVAPD	X0, X6
	ADDPD	X2, X0
	SUBPD	X2, X6
	MOVUPD	X0, (DI)
	MOVUPD	X6, (DI)(R8*2)
	CMUL(R12, X5, X7, X8)
	MOVAPD	X4, X6
	ADDPD	X5, X4
	SUBPD	X5, X6
	MOVUPD	X4, (DI)(R8*1)
	MOVUPD	X6, (DI)(R13*1)
	MOVQ	$16, BX // k's bytes in x
	MOVQ	$32, AX // k's bytes in stv

point:
	CMPQ	BX, R8
	JGE	next
	LEAQ	(DI)(BX*1), SI
	MOVUPD	(SI), X0
	MOVUPD	(SI)(R8*1), X1
	MOVUPD	(SI)(R8*2), X2
	MOVUPD	(SI)(R13*1), X3
	LEAQ	(R10)(AX*1), DX
	CMUL(DX, X1, X4, X8)
	MOVAPD	X0, X4
	ADDPD	X1, X0 // a0
	SUBPD	X1, X4 // a1
	CMUL(DX, X3, X5, X8)
	MOVAPD	X2, X5
	ADDPD	X3, X2 // a2
	SUBPD	X3, X5 // a3
	LEAQ	(R11)(AX*1), DX
	CMUL(DX, X2, X6, X8)
	MOVAPD	X0, X6
	ADDPD	X2, X0
	SUBPD	X2, X6
	MOVUPD	X0, (SI)
	MOVUPD	X6, (SI)(R8*2)
	LEAQ	(R12)(AX*1), DX
	CMUL(DX, X5, X7, X8)
	MOVAPD	X4, X6
	ADDPD	X5, X4
	SUBPD	X5, X6
	MOVUPD	X4, (SI)(R8*1)
	MOVUPD	X6, (SI)(R13*1)
	ADDQ	$16, BX
	ADDQ	$32, AX
	JMP	point

next:
	LEAQ	(DI)(R8*4), DI
	JMP	block

done:
	RET
