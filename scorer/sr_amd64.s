//go:build amd64 && !purego

#include "textflag.h"

// func slideRunSSE(y *float32, n int, t0, t1, t2 *float32, d0, dm, dl float32) float32
//
// y[i] = ((y[i] + t0[i]·d0) + t1[i]·dm) + t2[i]·dl and the magnitudes'
// sums in four lanes, four points at a time, then the rest one by one
// into lane 0; then (lane 0 + lane 2) + (lane 1 + lane 3): as
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
	XORPS	X4, X4     // the lanes' sums
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
	ANDPS	X3, X6
	ADDPS	X6, X4
	MOVQ	DX, BX
	JMP	update4

update1:
	CMPQ	BX, CX
	JGE	done
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
	ANDPS	X3, X6
	ADDSS	X6, X4
	INCQ	BX
	JMP	update1

done:
	MOVAPS	X4, X5
	MOVHLPS	X4, X5     // lanes 2, 3 down
	ADDPS	X5, X4     // lane 0 + lane 2, lane 1 + lane 3
	MOVAPS	X4, X5
	SHUFPS	$0x55, X5, X5
	ADDSS	X5, X4
	MOVSS	X4, ret+56(FP)
	RET
