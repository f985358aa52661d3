package planes

import "encoding/binary"

// transposeSplit writes byte k of word i of src to pl[k*n+i].
func transposeSplit(pl, src []byte, n, width int) {
	switch width {
	case 1:
		copy(pl[:n], src[:n])
	case 2:
		split2(pl[:n], pl[n:2*n], src[:2*n])
	case 4:
		split4(pl[:4*n], src[:4*n], n)
	default:
		for i := 0; i < n; i++ {
			w := src[i*width : i*width+width]
			for k, b := range w {
				pl[k*n+i] = b
			}
		}
	}
}

// transposeMerge is the inverse of transposeSplit.
func transposeMerge(dst, pl []byte, n, width int) {
	switch width {
	case 1:
		copy(dst[:n], pl[:n])
	case 2:
		merge2(dst[:2*n], pl[:n], pl[n:2*n])
	case 4:
		merge4(dst[:4*n], pl[:4*n], n)
	default:
		for i := 0; i < n; i++ {
			w := dst[i*width : i*width+width]
			for k := range w {
				w[k] = pl[k*n+i]
			}
		}
	}
}

// split2 de-interleaves 16-bit words: the SIMD kernel takes the leading
// whole blocks where there is one, split2Go the rest.
func split2(p0, p1, src []byte) {
	i := split2Fast(p0, p1, src)
	split2Go(p0[i:], p1[i:], src[2*i:])
}

// split2Go de-interleaves 16-bit words, eight at a time.
func split2Go(p0, p1, src []byte) {
	n := len(p0)
	i := 0
	for ; i+8 <= n; i += 8 {
		a := binary.LittleEndian.Uint64(src[2*i:])
		b := binary.LittleEndian.Uint64(src[2*i+8:])
		binary.LittleEndian.PutUint64(p0[i:], evenBytes(a)|evenBytes(b)<<32)
		binary.LittleEndian.PutUint64(p1[i:], evenBytes(a>>8)|evenBytes(b>>8)<<32)
	}
	for ; i < n; i++ {
		p0[i] = src[2*i]
		p1[i] = src[2*i+1]
	}
}

// evenBytes packs bytes 0, 2, 4, 6 of x into the low 32 bits.
func evenBytes(x uint64) uint64 {
	x &= 0x00ff00ff00ff00ff
	x = (x | x>>8) & 0x0000ffff0000ffff
	x = (x | x>>16) & 0x00000000ffffffff
	return x
}

// spreadBytes is the inverse of evenBytes: the low 4 bytes of x go to bytes
// 0, 2, 4, 6.
func spreadBytes(x uint64) uint64 {
	x &= 0xffffffff
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	return x
}

// merge2 interleaves two planes into 16-bit words: the SIMD kernel takes
// the leading whole blocks where there is one, merge2Go the rest.
func merge2(dst, p0, p1 []byte) {
	i := merge2Fast(dst, p0, p1)
	merge2Go(dst[2*i:], p0[i:], p1[i:])
}

// merge2Go interleaves two planes into 16-bit words, eight at a time.
func merge2Go(dst, p0, p1 []byte) {
	n := len(p0)
	i := 0
	for ; i+8 <= n; i += 8 {
		a := binary.LittleEndian.Uint64(p0[i:])
		b := binary.LittleEndian.Uint64(p1[i:])
		binary.LittleEndian.PutUint64(dst[2*i:], spreadBytes(a)|spreadBytes(b)<<8)
		binary.LittleEndian.PutUint64(dst[2*i+8:], spreadBytes(a>>32)|spreadBytes(b>>32)<<8)
	}
	for ; i < n; i++ {
		dst[2*i] = p0[i]
		dst[2*i+1] = p1[i]
	}
}

// split4 de-interleaves n 32-bit words into the four planes of pl (plane k
// at pl[k*n:(k+1)*n]): the SIMD kernel takes the leading whole blocks where
// there is one, the loop the rest.
func split4(pl, src []byte, n int) {
	k := split4Fast(pl, src, n)
	p0, p1, p2, p3 := pl[k:n], pl[n+k:2*n], pl[2*n+k:3*n], pl[3*n+k:4*n]
	src = src[4*k : 4*n]
	for i := range p0 {
		w := binary.LittleEndian.Uint32(src[4*i:])
		p0[i] = byte(w)
		p1[i] = byte(w >> 8)
		p2[i] = byte(w >> 16)
		p3[i] = byte(w >> 24)
	}
}

// merge4 interleaves the four planes of pl (plane k at pl[k*n:(k+1)*n])
// into n 32-bit words: the SIMD kernel takes the leading whole blocks where
// there is one, the loop the rest.
func merge4(dst, pl []byte, n int) {
	k := merge4Fast(dst, pl, n)
	p0, p1, p2, p3 := pl[k:n], pl[n+k:2*n], pl[2*n+k:3*n], pl[3*n+k:4*n]
	dst = dst[4*k : 4*n]
	for i := range p0 {
		w := uint32(p0[i]) | uint32(p1[i])<<8 | uint32(p2[i])<<16 | uint32(p3[i])<<24
		binary.LittleEndian.PutUint32(dst[4*i:], w)
	}
}
