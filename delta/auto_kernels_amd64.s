//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 zigzag gather and scatter kernels; see auto_kernels_amd64.go.
//
// Registers of every kernel: DI the words (d or t), SI the reference, CX the
// bytes left, R8 plane 0, R9 plane 1 (32-bit kernels: the plane stride),
// R10 the cursors, R13 the avxTables; Z31 ctx_base − 1, Z30 15, Z29 zero,
// Z28 one, Z27 the sign bit, in every 16-bit (32-bit) lane; X15 the shift
// from a word to its exponent.

// Offsets in avxTables (checked by TestAVXTableOffsets).
#define T_EVEN 1024
#define T_ILVA 1088
#define T_ILVB 1152
#define T_UPPER 1216
#define T_SPRA 1280
#define T_SPRB 1344
#define T_EVERY4 1408
#define T_DWA 1472
#define T_DWB 1536
#define T_ODD 1600
#define T_B01 1664
#define T_B23 1728

// INV16 sets out to the zigzag inverse of the 16-bit lanes of z added to
// ord(r), mapped back by unord (docs/FORMAT.md §4); it clobbers r and t.
// Z27 holds 0x8000 in every lane.
#define INV16(z, r, out, t) \
	UNZIG16(z, out, t) \
	ADDORD16(r, out, t)

// INV16S is INV16 with the differences of the lanes in mask k negated
// (method zigzag_signs); Z29 holds zero.
#define INV16S(z, r, out, t, k) \
	UNZIG16(z, out, t)        \
	VPSUBW out, Z29, k, out   \ // d = −d in the flipped lanes
	ADDORD16(r, out, t)

// UNZIG16 sets out to the differences d = unzig(z); it clobbers t.
#define UNZIG16(z, out, t) \
	VPSRLW $1, z, out  \
	VPSLLW $15, z, t   \
	VPSRAW $15, t, t   \
	VPXORD t, out, out

// ADDORD16 sets out to unord(out + ord(r)); it clobbers r and t.
#define ADDORD16(r, out, t) \
	VPSRAW     $15, r, t        \
	VPTERNLOGD $0x1e, Z27, t, r \ // ord(r) = r ^ (sign | 0x8000)
	VPADDW     r, out, out      \
	VPSRAW     $15, out, t      \
	VPTERNLOGD $0x4b, Z27, t, out  // unord(u) = u ^ (^sign | 0x8000)

// INV32 is INV16 on 32-bit lanes; Z27 holds 0x80000000 in every lane.
#define INV32(z, r, out, t) \
	VPSRLD     $1, z, out        \
	VPSLLD     $31, z, t         \
	VPSRAD     $31, t, t         \
	VPXORD     t, out, out       \
	VPSRAD     $31, r, t         \
	VPTERNLOGD $0x1e, Z27, t, r  \
	VPADDD     r, out, out       \
	VPSRAD     $31, out, t       \
	VPTERNLOGD $0x4b, Z27, t, out

// CLASSES16 sets Z2 and Z3 to the classes of the 16-bit words in Z0 and
// Z1 (one per lane), BX to the set of classes present and Z6 to the
// classes as 64 bytes.
#define CLASSES16 \
	VPSLLW        $1, Z0, Z2    \
	VPSLLW        $1, Z1, Z3    \
	VPSRLW        X15, Z2, Z2   \ // exponent
	VPSRLW        X15, Z3, Z3   \
	VPSUBW        Z31, Z2, Z2   \ // e − (base − 1), clamped to 0…15
	VPSUBW        Z31, Z3, Z3   \
	VPMAXSW       Z29, Z2, Z2   \
	VPMAXSW       Z29, Z3, Z3   \
	VPMINSW       Z30, Z2, Z2   \
	VPMINSW       Z30, Z3, Z3   \
	VPSLLVW       Z2, Z28, Z4   \ // 1 << class, or-reduced
	VPSLLVW       Z3, Z28, Z5   \
	VPORD         Z5, Z4, Z4    \
	VEXTRACTI64X4 $1, Z4, Y5    \
	VPOR          Y5, Y4, Y4    \
	VEXTRACTI128  $1, Y4, X5    \
	VPOR          X5, X4, X4    \
	VPSHUFD       $0x4e, X4, X5 \
	VPOR          X5, X4, X4    \
	VPSHUFD       $0xb1, X4, X5 \
	VPOR          X5, X4, X4    \
	VPSRLD        $16, X4, X5   \
	VPOR          X5, X4, X4    \
	VMOVD         X4, BX        \
	ANDL          $0xffff, BX   \
	VMOVDQU64     T_EVEN(R13), Z6 \
	VPERMI2B      Z3, Z2, Z6

// EXPAND2 expands, for every class in BX, the class's next bytes of the
// planes at R8 and R9 into the lanes of Z7 and Z8 whose class (Z6) it is,
// and advances the class's cursor (R10). It clobbers AX, BX, DX, R11, R12.
#define EXPAND2(label) \
	VPXORD    Z7, Z7, Z7          \
	VPXORD    Z8, Z8, Z8          \
label:                            \
	TZCNTL    BX, DX              \
	MOVQ      DX, AX              \
	SHLQ      $6, AX              \
	VPCMPEQB  (R13)(AX*1), Z6, K1 \
	KMOVQ     K1, R11             \
	POPCNTQ   R11, R11            \
	MOVL      (R10)(DX*4), R12    \
	VPEXPANDB (R8)(R12*1), K1, Z7 \
	VPEXPANDB (R9)(R12*1), K1, Z8 \
	ADDL      R11, R12            \
	MOVL      R12, (R10)(DX*4)    \
	BLSRL     BX, BX              \
	JNZ       label

// SETUP16 loads the arguments and constants of the 16-bit kernels.
#define SETUP16 \
	MOVQ         d_base+0(FP), DI  \
	MOVQ         d_len+8(FP), CX   \
	MOVQ         r_base+24(FP), SI \
	MOVQ         p0+48(FP), R8     \
	MOVQ         p1+56(FP), R9     \
	MOVQ         cur+64(FP), R10   \
	MOVQ         mant+72(FP), AX   \
	INCQ         AX                \
	MOVQ         AX, X15           \
	MOVQ         bm1+80(FP), AX    \
	VPBROADCASTW AX, Z31           \
	MOVQ         tab+88(FP), R13   \
	MOVL         $15, AX           \
	VPBROADCASTW AX, Z30           \
	VPXORD       Z29, Z29, Z29     \
	MOVL         $1, AX            \
	VPBROADCASTW AX, Z28           \
	MOVL         $0x8000, AX       \
	VPBROADCASTW AX, Z27

// CLASS32 sets c to the classes of the 32-bit words in r (one per lane).
#define CLASS32(r, c) \
	VPSLLD  $1, r, c  \
	VPSRLD  X15, c, c \
	VPSUBD  Z31, c, c \
	VPMAXSD Z29, c, c \
	VPMINSD Z30, c, c

// Scatter kernels (encode, method zigzag): the inverse of the gathers. The
// transformed words are split into byte planes, and for each class present
// the class's lanes are compressed and stored with a mask of as many bytes
// at the class's cursor. The cursors and their ends are an avxCursors at
// R10 (cur at 0, end at 64); a block whose class would run past its end
// stops the kernel before it stores anything of that class, and the kernel
// returns the bytes of t done (whole blocks).

// FWD16 sets out to zig(ord(t) − ord(r)) per 16-bit lane; it clobbers t, r
// and tmp.
#define FWD16(t, r, out, tmp) \
	ORDDIFF16(t, r, tmp) \
	ZIG16(t, out, tmp)

// FWD16S is FWD16 with the differences of the lanes in mask k negated
// before the zigzag (method zigzag_signs); Z29 holds zero.
#define FWD16S(t, r, out, tmp, k) \
	ORDDIFF16(t, r, tmp)    \
	VPSUBW t, Z29, k, t     \
	ZIG16(t, out, tmp)

// ORDDIFF16 sets t to ord(t) − ord(r); it clobbers r and tmp.
#define ORDDIFF16(t, r, tmp) \
	VPSRAW     $15, t, tmp        \
	VPTERNLOGD $0x1e, Z27, tmp, t \
	VPSRAW     $15, r, tmp        \
	VPTERNLOGD $0x1e, Z27, tmp, r \
	VPSUBW     r, t, t

// ZIG16 sets out to the zigzag of the differences d; it clobbers tmp.
#define ZIG16(d, out, tmp) \
	VPSLLW $1, d, out    \
	VPSRAW $15, d, tmp   \
	VPXORD tmp, out, out

// FWD32 is FWD16 on 32-bit lanes.
#define FWD32(t, r, out, tmp) \
	VPSRAD     $31, t, tmp       \
	VPTERNLOGD $0x1e, Z27, tmp, t \
	VPSRAD     $31, r, tmp       \
	VPTERNLOGD $0x1e, Z27, tmp, r \
	VPSUBD     r, t, t           \
	VPSLLD     $1, t, out        \
	VPSRAD     $31, t, tmp       \
	VPXORD     tmp, out, out

// COMPRESS2 stores, for every class in BX, the lanes of Z7 and Z8 whose
// class (Z6) it is at the class's cursor in the planes at R8 and R9. It
// jumps to fail when a class would run past its end.
#define COMPRESS2(label, fail) \
label:                              \
	TZCNTL      BX, DX              \
	MOVQ        DX, AX              \
	SHLQ        $6, AX              \
	VPCMPEQB    (R13)(AX*1), Z6, K1 \
	KMOVQ       K1, R11             \
	POPCNTQ     R11, R11            \
	MOVL        (R10)(DX*4), R12    \
	LEAL        (R12)(R11*1), AX    \
	CMPL        AX, 64(R10)(DX*4)   \
	JA          fail                \
	MOVL        AX, (R10)(DX*4)     \
	MOVQ        $-1, AX             \
	BZHIQ       R11, AX, AX         \
	KMOVQ       AX, K2              \
	VPCOMPRESSB Z7, K1, Z9          \
	VPCOMPRESSB Z8, K1, Z11         \
	VMOVDQU8    Z9, K2, (R8)(R12*1) \
	VMOVDQU8    Z11, K2, (R9)(R12*1) \
	BLSRL       BX, BX              \
	JNZ         label

// SETUPS16 loads the arguments and constants of the 16-bit scatters.
#define SETUPS16 \
	MOVQ         t_base+0(FP), DI  \
	MOVQ         t_len+8(FP), CX   \
	MOVQ         r_base+24(FP), SI \
	MOVQ         p0+48(FP), R8     \
	MOVQ         p1+56(FP), R9     \
	MOVQ         cur+64(FP), R10   \
	MOVQ         mant+72(FP), AX   \
	INCQ         AX                \
	MOVQ         AX, X15           \
	MOVQ         bm1+80(FP), AX    \
	VPBROADCASTW AX, Z31           \
	MOVQ         tab+88(FP), R13   \
	MOVL         $15, AX           \
	VPBROADCASTW AX, Z30           \
	VPXORD       Z29, Z29, Z29     \
	MOVL         $1, AX            \
	VPBROADCASTW AX, Z28           \
	MOVL         $0x8000, AX       \
	VPBROADCASTW AX, Z27

// func gatherZig16AVX512(d, r []byte, p0, p1 *byte, cur *[256]uint32, mant uint64, bm1 int64, tab *avxTables, sgn *byte, sgnStep int)
//
// Blocks of 128 words here: two halves of 64 share one pass over the
// classes present (fewer loop exits, the branch that mispredicts). R14
// walks the sign mask: 16 bytes (a bit per word) a block, sgnStep bytes
// on (0: the same 16 zero bytes for method zigzag).
TEXT ·gatherZig16AVX512(SB), NOSPLIT, $0-112
	SETUP16
	MOVQ  sgn+96(FP), R14
	TESTQ CX, CX
	JZ    done16

loop16:
	VMOVDQU64     (SI), Z0
	VMOVDQU64     64(SI), Z1
	VMOVDQU64     128(SI), Z16
	VMOVDQU64     192(SI), Z17
	CLASSES16
	MOVL          BX, DI
	VPSLLW        $1, Z16, Z18
	VPSLLW        $1, Z17, Z19
	VPSRLW        X15, Z18, Z18
	VPSRLW        X15, Z19, Z19
	VPSUBW        Z31, Z18, Z18
	VPSUBW        Z31, Z19, Z19
	VPMAXSW       Z29, Z18, Z18
	VPMAXSW       Z29, Z19, Z19
	VPMINSW       Z30, Z18, Z18
	VPMINSW       Z30, Z19, Z19
	VPSLLVW       Z18, Z28, Z4
	VPSLLVW       Z19, Z28, Z5
	VPORD         Z5, Z4, Z4
	VEXTRACTI64X4 $1, Z4, Y5
	VPOR          Y5, Y4, Y4
	VEXTRACTI128  $1, Y4, X5
	VPOR          X5, X4, X4
	VPSHUFD       $0x4e, X4, X5
	VPOR          X5, X4, X4
	VPSHUFD       $0xb1, X4, X5
	VPOR          X5, X4, X4
	VPSRLD        $16, X4, X5
	VPOR          X5, X4, X4
	VMOVD         X4, BX
	ORL           DI, BX
	ANDL          $0xffff, BX
	VMOVDQU64     T_EVEN(R13), Z20
	VPERMI2B      Z19, Z18, Z20
	VPXORD        Z7, Z7, Z7
	VPXORD        Z8, Z8, Z8
	VPXORD        Z21, Z21, Z21
	VPXORD        Z22, Z22, Z22

class16:
	TZCNTL    BX, DX
	MOVQ      DX, AX
	SHLQ      $6, AX
	VMOVDQU64 (R13)(AX*1), Z9
	VPCMPEQB  Z9, Z6, K1
	VPCMPEQB  Z9, Z20, K2
	KMOVQ     K1, R11
	POPCNTQ   R11, R11
	MOVL      (R10)(DX*4), R12
	VPEXPANDB (R8)(R12*1), K1, Z7
	VPEXPANDB (R9)(R12*1), K1, Z8
	ADDQ      R11, R12
	KMOVQ     K2, R11
	POPCNTQ   R11, R11
	VPEXPANDB (R8)(R12*1), K2, Z21
	VPEXPANDB (R9)(R12*1), K2, Z22
	ADDL      R11, R12
	MOVL      R12, (R10)(DX*4)
	BLSRL     BX, BX
	JNZ       class16

	MOVQ      d_base+0(FP), DI
	MOVQ      d_len+8(FP), AX
	ADDQ      AX, DI
	SUBQ      CX, DI
	VMOVDQU64 T_ILVA(R13), Z10
	VPERMI2B  Z8, Z7, Z10
	VMOVDQU64 T_ILVB(R13), Z11
	VPERMI2B  Z8, Z7, Z11
	VMOVDQU64 T_ILVA(R13), Z23
	VPERMI2B  Z22, Z21, Z23
	VMOVDQU64 T_ILVB(R13), Z24
	VPERMI2B  Z22, Z21, Z24
	KMOVD     (R14), K3
	KMOVD     4(R14), K4
	KMOVD     8(R14), K5
	KMOVD     12(R14), K6
	ADDQ      sgnStep+104(FP), R14
	INV16S(Z10, Z0, Z12, Z14, K3)
	INV16S(Z11, Z1, Z13, Z14, K4)
	INV16S(Z23, Z16, Z25, Z14, K5)
	INV16S(Z24, Z17, Z26, Z14, K6)
	VMOVDQU64 Z12, (DI)
	VMOVDQU64 Z13, 64(DI)
	VMOVDQU64 Z25, 128(DI)
	VMOVDQU64 Z26, 192(DI)
	ADDQ      $256, SI
	SUBQ      $256, CX
	JNZ       loop16

done16:
	VZEROUPPER
	RET

// func gatherZigHalvesAVX512(d, r []byte, p0, p1 *byte, cur *[256]uint32, mant uint64, bm1 int64, tab *avxTables)
TEXT ·gatherZigHalvesAVX512(SB), NOSPLIT, $0-96
	SETUP16
	TESTQ CX, CX
	JZ    doneH

loopH:
	VMOVDQU64 (SI), Z2
	VMOVDQU64 64(SI), Z3
	VMOVDQU64 128(SI), Z4
	VMOVDQU64 192(SI), Z5
	VMOVDQU64 T_UPPER(R13), Z0 // the words: upper halves of the float32
	VPERMI2B  Z3, Z2, Z0
	VMOVDQU64 T_UPPER(R13), Z1
	VPERMI2B  Z5, Z4, Z1
	CLASSES16
	EXPAND2(classH)
	VMOVDQU64 T_ILVA(R13), Z10
	VPERMI2B  Z8, Z7, Z10
	VMOVDQU64 T_ILVB(R13), Z11
	VPERMI2B  Z8, Z7, Z11
	INV16(Z10, Z0, Z12, Z14)
	INV16(Z11, Z1, Z13, Z14)
	VMOVDQU64 T_SPRA(R13), Z2 // back into the upper halves, lower halves zero
	VPERMI2B  Z29, Z12, Z2
	VMOVDQU64 T_SPRB(R13), Z3
	VPERMI2B  Z29, Z12, Z3
	VMOVDQU64 T_SPRA(R13), Z4
	VPERMI2B  Z29, Z13, Z4
	VMOVDQU64 T_SPRB(R13), Z5
	VPERMI2B  Z29, Z13, Z5
	VMOVDQU64 Z2, (DI)
	VMOVDQU64 Z3, 64(DI)
	VMOVDQU64 Z4, 128(DI)
	VMOVDQU64 Z5, 192(DI)
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $256, CX
	JNZ       loopH

doneH:
	VZEROUPPER
	RET

// func gatherZig32AVX512(d, r []byte, p0 *byte, stride int, cur *[256]uint32, mant uint64, bm1 int64, tab *avxTables)
TEXT ·gatherZig32AVX512(SB), NOSPLIT, $0-96
	MOVQ         d_base+0(FP), DI
	MOVQ         d_len+8(FP), CX
	MOVQ         r_base+24(FP), SI
	MOVQ         p0+48(FP), R8
	MOVQ         stride+56(FP), R9
	MOVQ         cur+64(FP), R10
	MOVQ         mant+72(FP), AX
	INCQ         AX
	MOVQ         AX, X15
	MOVQ         bm1+80(FP), AX
	VPBROADCASTD AX, Z31
	MOVQ         tab+88(FP), R13
	MOVL         $15, AX
	VPBROADCASTD AX, Z30
	VPXORD       Z29, Z29, Z29
	MOVL         $1, AX
	VPBROADCASTD AX, Z28
	MOVL         $0x80000000, AX
	VPBROADCASTD AX, Z27
	TESTQ        CX, CX
	JZ           done32

loop32:
	VMOVDQU64     (SI), Z0
	VMOVDQU64     64(SI), Z1
	VMOVDQU64     128(SI), Z2
	VMOVDQU64     192(SI), Z3
	CLASS32(Z0, Z4)
	CLASS32(Z1, Z5)
	CLASS32(Z2, Z6)
	CLASS32(Z3, Z7)
	VPSLLVD       Z4, Z28, Z9 // BX = the classes present
	VPSLLVD       Z5, Z28, Z10
	VPSLLVD       Z6, Z28, Z11
	VPSLLVD       Z7, Z28, Z12
	VPORD         Z10, Z9, Z9
	VPORD         Z12, Z11, Z11
	VPORD         Z11, Z9, Z9
	VEXTRACTI64X4 $1, Z9, Y10
	VPOR          Y10, Y9, Y9
	VEXTRACTI128  $1, Y9, X10
	VPOR          X10, X9, X9
	VPSHUFD       $0x4e, X9, X10
	VPOR          X10, X9, X9
	VPSHUFD       $0xb1, X9, X10
	VPOR          X10, X9, X9
	VMOVD         X9, BX
	VMOVDQU64     T_EVERY4(R13), Z8 // Z8 = the classes as bytes
	VPERMI2B      Z5, Z4, Z8
	VMOVDQU64     T_EVERY4(R13), Z9
	VPERMI2B      Z7, Z6, Z9
	VINSERTI64X4  $1, Y9, Z8, Z8
	VPXORD        Z4, Z4, Z4
	VPXORD        Z5, Z5, Z5
	VPXORD        Z6, Z6, Z6
	VPXORD        Z7, Z7, Z7

class32:
	TZCNTL    BX, DX
	MOVQ      DX, AX
	SHLQ      $6, AX
	VPCMPEQB  (R13)(AX*1), Z8, K1
	KMOVQ     K1, R11
	POPCNTQ   R11, R11
	MOVL      (R10)(DX*4), AX
	LEAQ      (R8)(AX*1), R12
	ADDL      R11, AX
	MOVL      AX, (R10)(DX*4)
	VPEXPANDB (R12), K1, Z4
	VPEXPANDB (R12)(R9*1), K1, Z5
	VPEXPANDB (R12)(R9*2), K1, Z6
	LEAQ      (R12)(R9*2), R12
	VPEXPANDB (R12)(R9*1), K1, Z7
	BLSRL     BX, BX
	JNZ       class32

	VMOVDQU64 T_ILVA(R13), Z9 // 16-bit pairs of planes 0, 1 and 2, 3
	VPERMI2B  Z5, Z4, Z9
	VMOVDQU64 T_ILVB(R13), Z10
	VPERMI2B  Z5, Z4, Z10
	VMOVDQU64 T_ILVA(R13), Z11
	VPERMI2B  Z7, Z6, Z11
	VMOVDQU64 T_ILVB(R13), Z12
	VPERMI2B  Z7, Z6, Z12
	VMOVDQU64 T_DWA(R13), Z4 // the words
	VPERMI2B  Z11, Z9, Z4
	VMOVDQU64 T_DWB(R13), Z5
	VPERMI2B  Z11, Z9, Z5
	VMOVDQU64 T_DWA(R13), Z6
	VPERMI2B  Z12, Z10, Z6
	VMOVDQU64 T_DWB(R13), Z7
	VPERMI2B  Z12, Z10, Z7
	INV32(Z4, Z0, Z9, Z14)
	INV32(Z5, Z1, Z10, Z14)
	INV32(Z6, Z2, Z11, Z14)
	INV32(Z7, Z3, Z12, Z14)
	VMOVDQU64 Z9, (DI)
	VMOVDQU64 Z10, 64(DI)
	VMOVDQU64 Z11, 128(DI)
	VMOVDQU64 Z12, 192(DI)
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $256, CX
	JNZ       loop32

done32:
	VZEROUPPER
	RET

// func scatterZig16AVX512(t, r []byte, p0, p1 *byte, cur *avxCursors, mant uint64, bm1 int64, tab *avxTables, sgn *byte, sgnStep int) (done int)
//
// R14 walks the sign mask as in gatherZig16AVX512: 8 bytes a 64-word block.
TEXT ·scatterZig16AVX512(SB), NOSPLIT, $0-120
	SETUPS16
	MOVQ CX, done+112(FP)
	MOVQ sgn+96(FP), R14
	TESTQ CX, CX
	JZ    doneS16

loopS16:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 (DI), Z16
	VMOVDQU64 64(DI), Z17
	CLASSES16
	KMOVD     (R14), K3
	KMOVD     4(R14), K4
	FWD16S(Z16, Z0, Z10, Z14, K3)
	FWD16S(Z17, Z1, Z11, Z14, K4)
	VMOVDQU64 T_EVEN(R13), Z7 // low bytes
	VPERMI2B  Z11, Z10, Z7
	VMOVDQU64 T_ODD(R13), Z8  // high bytes
	VPERMI2B  Z11, Z10, Z8
	COMPRESS2(classS16, failS16)
	ADDQ      sgnStep+104(FP), R14
	ADDQ      $128, SI
	ADDQ      $128, DI
	SUBQ      $128, CX
	JNZ       loopS16

doneS16:
	VZEROUPPER
	RET

failS16:
	SUBQ CX, done+112(FP)
	VZEROUPPER
	RET

// func scatterZigHalvesAVX512(t, r []byte, p0, p1 *byte, cur *avxCursors, mant uint64, bm1 int64, tab *avxTables) (done int)
TEXT ·scatterZigHalvesAVX512(SB), NOSPLIT, $0-104
	SETUPS16
	MOVQ CX, done+96(FP)
	TESTQ CX, CX
	JZ    doneSH

loopSH:
	VMOVDQU64 (SI), Z2
	VMOVDQU64 64(SI), Z3
	VMOVDQU64 128(SI), Z4
	VMOVDQU64 192(SI), Z5
	VMOVDQU64 T_UPPER(R13), Z0
	VPERMI2B  Z3, Z2, Z0
	VMOVDQU64 T_UPPER(R13), Z1
	VPERMI2B  Z5, Z4, Z1
	VMOVDQU64 (DI), Z2
	VMOVDQU64 64(DI), Z3
	VMOVDQU64 128(DI), Z4
	VMOVDQU64 192(DI), Z5
	VMOVDQU64 T_UPPER(R13), Z16
	VPERMI2B  Z3, Z2, Z16
	VMOVDQU64 T_UPPER(R13), Z17
	VPERMI2B  Z5, Z4, Z17
	CLASSES16
	FWD16(Z16, Z0, Z10, Z14)
	FWD16(Z17, Z1, Z11, Z14)
	VMOVDQU64 T_EVEN(R13), Z7
	VPERMI2B  Z11, Z10, Z7
	VMOVDQU64 T_ODD(R13), Z8
	VPERMI2B  Z11, Z10, Z8
	COMPRESS2(classSH, failSH)
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $256, CX
	JNZ       loopSH

doneSH:
	VZEROUPPER
	RET

failSH:
	SUBQ CX, done+96(FP)
	VZEROUPPER
	RET

// func scatterZig32AVX512(t, r []byte, p0 *byte, stride int, cur *avxCursors, mant uint64, bm1 int64, tab *avxTables) (done int)
TEXT ·scatterZig32AVX512(SB), NOSPLIT, $0-104
	MOVQ         t_base+0(FP), DI
	MOVQ         t_len+8(FP), CX
	MOVQ         r_base+24(FP), SI
	MOVQ         p0+48(FP), R8
	MOVQ         stride+56(FP), R9
	MOVQ         cur+64(FP), R10
	MOVQ         mant+72(FP), AX
	INCQ         AX
	MOVQ         AX, X15
	MOVQ         bm1+80(FP), AX
	VPBROADCASTD AX, Z31
	MOVQ         tab+88(FP), R13
	MOVL         $15, AX
	VPBROADCASTD AX, Z30
	VPXORD       Z29, Z29, Z29
	MOVL         $1, AX
	VPBROADCASTD AX, Z28
	MOVL         $0x80000000, AX
	VPBROADCASTD AX, Z27
	MOVQ         CX, done+96(FP)
	TESTQ        CX, CX
	JZ           doneS32

loopS32:
	VMOVDQU64     (SI), Z0
	VMOVDQU64     64(SI), Z1
	VMOVDQU64     128(SI), Z2
	VMOVDQU64     192(SI), Z3
	VMOVDQU64     (DI), Z16
	VMOVDQU64     64(DI), Z17
	VMOVDQU64     128(DI), Z18
	VMOVDQU64     192(DI), Z19
	CLASS32(Z0, Z4)
	CLASS32(Z1, Z5)
	CLASS32(Z2, Z6)
	CLASS32(Z3, Z7)
	VPSLLVD       Z4, Z28, Z9
	VPSLLVD       Z5, Z28, Z10
	VPSLLVD       Z6, Z28, Z11
	VPSLLVD       Z7, Z28, Z12
	VPORD         Z10, Z9, Z9
	VPORD         Z12, Z11, Z11
	VPORD         Z11, Z9, Z9
	VEXTRACTI64X4 $1, Z9, Y10
	VPOR          Y10, Y9, Y9
	VEXTRACTI128  $1, Y9, X10
	VPOR          X10, X9, X9
	VPSHUFD       $0x4e, X9, X10
	VPOR          X10, X9, X9
	VPSHUFD       $0xb1, X9, X10
	VPOR          X10, X9, X9
	VMOVD         X9, BX
	VMOVDQU64     T_EVERY4(R13), Z8
	VPERMI2B      Z5, Z4, Z8
	VMOVDQU64     T_EVERY4(R13), Z9
	VPERMI2B      Z7, Z6, Z9
	VINSERTI64X4  $1, Y9, Z8, Z8
	FWD32(Z16, Z0, Z20, Z14)
	FWD32(Z17, Z1, Z21, Z14)
	FWD32(Z18, Z2, Z22, Z14)
	FWD32(Z19, Z3, Z23, Z14)
	VMOVDQU64     T_B01(R13), Z0 // planes 0, 1 of words 0…31
	VPERMI2B      Z21, Z20, Z0
	VMOVDQU64     T_B23(R13), Z1 // planes 2, 3
	VPERMI2B      Z21, Z20, Z1
	VMOVDQU64     T_B01(R13), Z2 // words 32…63
	VPERMI2B      Z23, Z22, Z2
	VMOVDQU64     T_B23(R13), Z3
	VPERMI2B      Z23, Z22, Z3
	VSHUFI64X2    $0x44, Z2, Z0, Z4 // plane 0
	VSHUFI64X2    $0xee, Z2, Z0, Z5 // plane 1
	VSHUFI64X2    $0x44, Z3, Z1, Z6 // plane 2
	VSHUFI64X2    $0xee, Z3, Z1, Z7 // plane 3

classS32:
	TZCNTL      BX, DX
	MOVQ        DX, AX
	SHLQ        $6, AX
	VPCMPEQB    (R13)(AX*1), Z8, K1
	KMOVQ       K1, R11
	POPCNTQ     R11, R11
	MOVL        (R10)(DX*4), R12
	LEAL        (R12)(R11*1), AX
	CMPL        AX, 64(R10)(DX*4)
	JA          failS32
	MOVL        AX, (R10)(DX*4)
	MOVQ        $-1, AX
	BZHIQ       R11, AX, AX
	KMOVQ       AX, K2
	ADDQ        R8, R12
	VPCOMPRESSB Z4, K1, Z9
	VPCOMPRESSB Z5, K1, Z10
	VPCOMPRESSB Z6, K1, Z11
	VPCOMPRESSB Z7, K1, Z12
	VMOVDQU8    Z9, K2, (R12)
	VMOVDQU8    Z10, K2, (R12)(R9*1)
	VMOVDQU8    Z11, K2, (R12)(R9*2)
	LEAQ        (R12)(R9*2), R12
	VMOVDQU8    Z12, K2, (R12)(R9*1)
	BLSRL       BX, BX
	JNZ         classS32

	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $256, CX
	JNZ  loopS32

doneS32:
	VZEROUPPER
	RET

failS32:
	SUBQ CX, done+96(FP)
	VZEROUPPER
	RET
