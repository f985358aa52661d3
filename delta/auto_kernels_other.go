//go:build !amd64 || purego

package delta

// useAVX512 is false where the AVX-512 kernels do not exist.
var useAVX512 = false

// gatherZigFast does nothing without the AVX-512 kernels.
func (p *classPlan) gatherZigFast(dst, pl, r []byte, s kernelShape, sgn []byte) int { return 0 }

// scatterZigFast does nothing without the AVX-512 kernels.
func (p *classPlan) scatterZigFast(pl, t, r []byte, s kernelShape, sgn []byte) int { return 0 }
