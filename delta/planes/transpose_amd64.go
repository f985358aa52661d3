//go:build amd64 && !purego

package planes

import "golang.org/x/sys/cpu"

// AVX2 kernels for the context-free plane transposition
// (transpose_amd64.s). Each takes whole blocks of 32 words. The assembly
// has no bounds checks, so the Go wrappers below check every length first
// and leave short arguments to the pure-Go loops of transpose.go (which
// then behave as they always did); those loops also do the words after the
// last whole block.

// useAVX2 selects the AVX2 kernels; tests switch it off to run the
// pure-Go loops on the same inputs.
var useAVX2 = cpu.X86.HasAVX2

// merge2AVX2 interleaves len(p0)/32 blocks of p0 and p1 into dst.
//
//go:noescape
func merge2AVX2(dst, p0, p1 []byte)

// split2AVX2 de-interleaves len(p0)/32 blocks of src into p0 and p1.
//
//go:noescape
func split2AVX2(p0, p1, src []byte)

// merge4AVX2 interleaves len(dst)/128 blocks of the planes pl, pl+n,
// pl+2n and pl+3n into dst.
//
//go:noescape
func merge4AVX2(dst []byte, pl *byte, n int)

// split4AVX2 de-interleaves len(src)/128 blocks of src into the planes
// pl, pl+n, pl+2n and pl+3n.
//
//go:noescape
func split4AVX2(pl *byte, n int, src []byte)

// merge2Fast interleaves the leading whole blocks of p0 and p1 into dst
// when the AVX2 kernels are enabled, and returns the words done.
func merge2Fast(dst, p0, p1 []byte) int {
	k := len(p0) &^ 31
	if !useAVX2 || k == 0 || len(p1) < k || len(dst) < 2*k {
		return 0
	}
	merge2AVX2(dst[:2*k], p0[:k], p1[:k])
	return k
}

// split2Fast is the inverse of merge2Fast.
func split2Fast(p0, p1, src []byte) int {
	k := len(p0) &^ 31
	if !useAVX2 || k == 0 || len(p1) < k || len(src) < 2*k {
		return 0
	}
	split2AVX2(p0[:k], p1[:k], src[:2*k])
	return k
}

// merge4Fast interleaves the leading whole blocks of the four planes of
// pl (plane j at pl[j*n:(j+1)*n]) into dst when the AVX2 kernels are
// enabled, and returns the words done.
func merge4Fast(dst, pl []byte, n int) int {
	k := n &^ 31
	// The kernel reads pl[j*n : j*n+k] for j < 4.
	if !useAVX2 || k <= 0 || len(pl)/4 < n || len(dst)/4 < k {
		return 0
	}
	merge4AVX2(dst[:4*k], &pl[0], n)
	return k
}

// split4Fast is the inverse of merge4Fast.
func split4Fast(pl, src []byte, n int) int {
	k := n &^ 31
	// The kernel writes pl[j*n : j*n+k] for j < 4.
	if !useAVX2 || k <= 0 || len(pl)/4 < n || len(src)/4 < k {
		return 0
	}
	split4AVX2(&pl[0], n, src[:4*k])
	return k
}
