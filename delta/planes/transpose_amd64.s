//go:build amd64 && !purego

#include "textflag.h"

// AVX2 plane transposition kernels; see transpose_amd64.go. Each step takes
// 32 bytes of every plane. Loads and stores are unaligned.

// Per 128-bit lane: the even bytes, then the odd bytes.
DATA split2Mask<>+0(SB)/8, $0x0e0c0a0806040200
DATA split2Mask<>+8(SB)/8, $0x0f0d0b0907050301
DATA split2Mask<>+16(SB)/8, $0x0e0c0a0806040200
DATA split2Mask<>+24(SB)/8, $0x0f0d0b0907050301
GLOBL split2Mask<>(SB), RODATA|NOPTR, $32

// Per 128-bit lane: bytes 0, 4, 8, 12, then 1, 5, 9, 13, and so on.
DATA split4Mask<>+0(SB)/8, $0x0d0905010c080400
DATA split4Mask<>+8(SB)/8, $0x0f0b07030e0a0602
DATA split4Mask<>+16(SB)/8, $0x0d0905010c080400
DATA split4Mask<>+24(SB)/8, $0x0f0b07030e0a0602
GLOBL split4Mask<>(SB), RODATA|NOPTR, $32

// Dwords 0, 4, 1, 5, 2, 6, 3, 7.
DATA split4Perm<>+0(SB)/8, $0x0000000400000000
DATA split4Perm<>+8(SB)/8, $0x0000000500000001
DATA split4Perm<>+16(SB)/8, $0x0000000600000002
DATA split4Perm<>+24(SB)/8, $0x0000000700000003
GLOBL split4Perm<>(SB), RODATA|NOPTR, $32

// func merge2AVX2(dst, p0, p1 []byte)
TEXT ·merge2AVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ p0_base+24(FP), SI
	MOVQ p0_len+32(FP), CX
	MOVQ p1_base+48(FP), DX
	SHRQ $5, CX
	JZ   m2done

m2loop:
	// Quadwords 0, 2, 1, 3: the in-lane unpacks then give bytes 0…15
	// and 16…31 in order.
	VPERMQ     $0xd8, (SI), Y0
	VPERMQ     $0xd8, (DX), Y1
	VPUNPCKLBW Y1, Y0, Y2
	VPUNPCKHBW Y1, Y0, Y3
	VMOVDQU    Y2, (DI)
	VMOVDQU    Y3, 32(DI)
	ADDQ       $32, SI
	ADDQ       $32, DX
	ADDQ       $64, DI
	DECQ       CX
	JNZ        m2loop
	VZEROUPPER

m2done:
	RET

// func split2AVX2(p0, p1, src []byte)
TEXT ·split2AVX2(SB), NOSPLIT, $0-72
	MOVQ p0_base+0(FP), DI
	MOVQ p0_len+8(FP), CX
	MOVQ p1_base+24(FP), DX
	MOVQ src_base+48(FP), SI
	SHRQ $5, CX
	JZ   s2done
	VMOVDQU split2Mask<>(SB), Y7

s2loop:
	VMOVDQU     (SI), Y0
	VMOVDQU     32(SI), Y1
	VPSHUFB     Y7, Y0, Y0  // even 0…7, odd 0…7 | even 8…15, odd 8…15
	VPSHUFB     Y7, Y1, Y1  // likewise for bytes 16…31
	VPUNPCKLQDQ Y1, Y0, Y2  // even 0…7, 16…23 | 8…15, 24…31
	VPUNPCKHQDQ Y1, Y0, Y3
	VPERMQ      $0xd8, Y2, Y2
	VPERMQ      $0xd8, Y3, Y3
	VMOVDQU     Y2, (DI)
	VMOVDQU     Y3, (DX)
	ADDQ        $64, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	DECQ        CX
	JNZ         s2loop
	VZEROUPPER

s2done:
	RET

// func merge4AVX2(dst []byte, pl *byte, n int)
TEXT ·merge4AVX2(SB), NOSPLIT, $0-40
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ pl+24(FP), SI
	MOVQ n+32(FP), BX
	LEAQ (SI)(BX*1), R8
	LEAQ (SI)(BX*2), R9
	LEAQ (R8)(BX*2), R10
	SHRQ $7, CX
	JZ   m4done

m4loop:
	VMOVDQU    (SI), Y0
	VMOVDQU    (R8), Y1
	VMOVDQU    (R9), Y2
	VMOVDQU    (R10), Y3
	VPUNPCKLBW Y1, Y0, Y4         // planes 0, 1: words 0…7 | 16…23
	VPUNPCKHBW Y1, Y0, Y5         // 8…15 | 24…31
	VPUNPCKLBW Y3, Y2, Y6         // planes 2, 3
	VPUNPCKHBW Y3, Y2, Y7
	VPUNPCKLWD Y6, Y4, Y0         // dwords 0…3 | 16…19
	VPUNPCKHWD Y6, Y4, Y1         // 4…7 | 20…23
	VPUNPCKLWD Y7, Y5, Y2         // 8…11 | 24…27
	VPUNPCKHWD Y7, Y5, Y3         // 12…15 | 28…31
	VPERM2I128 $0x20, Y1, Y0, Y4  // 0…7
	VPERM2I128 $0x20, Y3, Y2, Y5  // 8…15
	VPERM2I128 $0x31, Y1, Y0, Y6  // 16…23
	VPERM2I128 $0x31, Y3, Y2, Y7  // 24…31
	VMOVDQU    Y4, (DI)
	VMOVDQU    Y5, 32(DI)
	VMOVDQU    Y6, 64(DI)
	VMOVDQU    Y7, 96(DI)
	ADDQ       $32, SI
	ADDQ       $32, R8
	ADDQ       $32, R9
	ADDQ       $32, R10
	ADDQ       $128, DI
	DECQ       CX
	JNZ        m4loop
	VZEROUPPER

m4done:
	RET

// func split4AVX2(pl *byte, n int, src []byte)
TEXT ·split4AVX2(SB), NOSPLIT, $0-40
	MOVQ pl+0(FP), DI
	MOVQ n+8(FP), BX
	MOVQ src_base+16(FP), SI
	MOVQ src_len+24(FP), CX
	LEAQ (DI)(BX*1), R8
	LEAQ (DI)(BX*2), R9
	LEAQ (R8)(BX*2), R10
	SHRQ $7, CX
	JZ   s4done
	VMOVDQU split4Mask<>(SB), Y14
	VMOVDQU split4Perm<>(SB), Y15

s4loop:
	VMOVDQU     (SI), Y0
	VMOVDQU     32(SI), Y1
	VMOVDQU     64(SI), Y2
	VMOVDQU     96(SI), Y3
	VPSHUFB     Y14, Y0, Y0
	VPSHUFB     Y14, Y1, Y1
	VPSHUFB     Y14, Y2, Y2
	VPSHUFB     Y14, Y3, Y3
	VPERMD      Y0, Y15, Y0     // byte 0, 1, 2, 3 of words 0…7, a quadword each
	VPERMD      Y1, Y15, Y1     // words 8…15
	VPERMD      Y2, Y15, Y2     // words 16…23
	VPERMD      Y3, Y15, Y3     // words 24…31
	VPUNPCKLQDQ Y1, Y0, Y4      // byte 0 of words 0…15 | byte 2
	VPUNPCKHQDQ Y1, Y0, Y5      // byte 1 | byte 3
	VPUNPCKLQDQ Y3, Y2, Y6      // words 16…31
	VPUNPCKHQDQ Y3, Y2, Y7
	VPERM2I128  $0x20, Y6, Y4, Y0
	VPERM2I128  $0x20, Y7, Y5, Y1
	VPERM2I128  $0x31, Y6, Y4, Y2
	VPERM2I128  $0x31, Y7, Y5, Y3
	VMOVDQU     Y0, (DI)
	VMOVDQU     Y1, (R8)
	VMOVDQU     Y2, (R9)
	VMOVDQU     Y3, (R10)
	ADDQ        $128, SI
	ADDQ        $32, DI
	ADDQ        $32, R8
	ADDQ        $32, R9
	ADDQ        $32, R10
	DECQ        CX
	JNZ         s4loop
	VZEROUPPER

s4done:
	RET
