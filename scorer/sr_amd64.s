//go:build amd64 && !purego

#include "textflag.h"

// func slideRunSSE(y *float32, n int, t0, t1, t2 *float32, d0, dm, dl float32) float32
//
// First y[i] = ((y[i] + t0[i]·d0) + t1[i]·dm) + t2[i]·dl, four at a
// time then one by one; then the magnitudes' sums a over y[:n/2] and b
// over y[n/2:2·(n/2)] in order, the odd last one into a, and a + b: as
// slideRunGo.
TEXT ·slideRunSSE(SB), NOSPLIT, $0-60
	MOVQ	y+0(FP), DI
	MOVQ	n+8(FP), CX
	MOVQ	t0+16(FP), SI
	MOVQ	t1+24(FP), R8
	MOVQ	t2+32(FP), R9
	MOVSS	d0+40(FP), X0
	SHUFPS	$0, X0, X0
	MOVSS	dm+44(FP), X1
	SHUFPS	$0, X1, X1
	MOVSS	dl+48(FP), X2
	SHUFPS	$0, X2, X2
	MOVL	$0x7fffffff, AX
	MOVL	AX, X3
	SHUFPS	$0, X3, X3 // the magnitude mask in every lane
	XORQ	BX, BX

update4:
	LEAQ	4(BX), DX
	CMPQ	DX, CX
	JGT	update1
	MOVUPS	(SI)(BX*4), X5
	MULPS	X0, X5
	MOVUPS	(DI)(BX*4), X6
	ADDPS	X5, X6
	MOVUPS	(R8)(BX*4), X5
	MULPS	X1, X5
	ADDPS	X5, X6
	MOVUPS	(R9)(BX*4), X5
	MULPS	X2, X5
	ADDPS	X5, X6
	MOVUPS	X6, (DI)(BX*4)
	MOVQ	DX, BX
	JMP	update4

update1:
	CMPQ	BX, CX
	JGE	sums
	MOVSS	(SI)(BX*4), X5
	MULSS	X0, X5
	MOVSS	(DI)(BX*4), X6
	ADDSS	X5, X6
	MOVSS	(R8)(BX*4), X5
	MULSS	X1, X5
	ADDSS	X5, X6
	MOVSS	(R9)(BX*4), X5
	MULSS	X2, X5
	ADDSS	X5, X6
	MOVSS	X6, (DI)(BX*4)
	INCQ	BX
	JMP	update1

sums:
	MOVQ	CX, DX
	SHRQ	$1, DX
	LEAQ	(DI)(DX*4), R10
	XORPS	X4, X4 // a
	XORPS	X7, X7 // b
	XORQ	BX, BX

sum1:
	CMPQ	BX, DX
	JGE	odd
	MOVSS	(DI)(BX*4), X5
	ANDPS	X3, X5
	ADDSS	X5, X4
	MOVSS	(R10)(BX*4), X6
	ANDPS	X3, X6
	ADDSS	X6, X7
	INCQ	BX
	JMP	sum1

odd:
	TESTQ	$1, CX
	JEQ	done
	MOVSS	-4(DI)(CX*4), X5
	ANDPS	X3, X5
	ADDSS	X5, X4

done:
	ADDSS	X7, X4
	MOVSS	X4, ret+56(FP)
	RET
