//go:build !amd64 || purego

package planes

// useAVX2 is false where the AVX2 kernels do not exist.
var useAVX2 = false

// merge2Fast does nothing without the AVX2 kernels.
func merge2Fast(dst, p0, p1 []byte) int { return 0 }

// split2Fast does nothing without the AVX2 kernels.
func split2Fast(p0, p1, src []byte) int { return 0 }

// merge4Fast does nothing without the AVX2 kernels.
func merge4Fast(dst, pl []byte, n int) int { return 0 }

// split4Fast does nothing without the AVX2 kernels.
func split4Fast(pl, src []byte, n int) int { return 0 }
