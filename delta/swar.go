package delta

// The auto transforms on packs: a uint64 holding four 16-bit or two 32-bit
// words, each transformed on its own (SIMD within a register), so the
// kernels transform four or two words with one sequence of operations.
// Every function here equals the per-word definition of docs/FORMAT.md §4
// applied to each lane; swar_test.go checks that against the scalar forms.

const (
	lo16 = 0x0001_0001_0001_0001 // lowest bit of each 16-bit lane
	hi16 = 0x8000_8000_8000_8000 // top bit of each 16-bit lane
	lo32 = 0x0000_0001_0000_0001
	hi32 = 0x8000_0000_8000_0000
)

// add16 and sub16 add and subtract per 16-bit lane, modulo 2^16.
func addPack16(a, b uint64) uint64 { return ((a &^ hi16) + (b &^ hi16)) ^ ((a ^ b) & hi16) }
func subPack16(a, b uint64) uint64 { return ((a | hi16) - (b &^ hi16)) ^ ((a ^ ^b) & hi16) }

// ord16 is the order-preserving map of float16/bfloat16 bit patterns per
// lane: v ⊕ (sign ? 0xffff : 0x8000); unord16 is its inverse.
func ordPack16(v uint64) uint64   { return v ^ ((v>>15)&lo16*0x7fff | hi16) }
func unordPack16(y uint64) uint64 { return y ^ ((^y>>15)&lo16*0x7fff | hi16) }

// zig16 maps each lane's two's-complement difference d to (d << 1) ⊕
// (d >> 15, arithmetic); unzig16 is its inverse.
func zigPack16(d uint64) uint64   { return (d<<1)&^lo16 ^ (d>>15)&lo16*0xffff }
func unzigPack16(z uint64) uint64 { return (z>>1)&^hi16 ^ z&lo16*0xffff }

// fwd16 transforms the four words of t against those of r by auto method op.
func fwd16(op uint8, t, r uint64) uint64 {
	switch op {
	case autoXOR:
		return t ^ r
	case autoDiff:
		return subPack16(ordPack16(t), ordPack16(r))
	}
	return zigPack16(subPack16(ordPack16(t), ordPack16(r)))
}

// inv16 is the inverse of fwd16.
func inv16(op uint8, x, r uint64) uint64 {
	switch op {
	case autoXOR:
		return x ^ r
	case autoDiff:
		return unordPack16(addPack16(x, ordPack16(r)))
	}
	return unordPack16(addPack16(unzigPack16(x), ordPack16(r)))
}

// invZigPack16 is inv16(autoZigzag, z, r) in 18 operations instead of 25:
// the zigzag inverse, the add of ord(r) and unord fused. Per lane, with d
// = unzig(z) and ord(r) split into their low 15 bits and top bit, the low
// bits add without carrying into the next lane; the sum's top bit is the
// carry ⊕ both top bits, and unord's xor with 0x8000 folds into it.
func invZigPack16(z, r uint64) uint64 {
	m := z & lo16 // lanes where d is negative (its top bit)
	m15 := m << 15
	d7 := (z>>1)&^hi16 ^ (m15 - m) // low 15 bits of d
	rh := r & hi16
	r7 := r&^hi16 ^ (rh - rh>>15) // low 15 bits of ord(r); its top bit is r's, flipped
	u := (d7 + r7) ^ m15 ^ rh     // the sum, top bits flipped
	uh := u & hi16
	return u ^ (uh - uh>>15)
}

// fwdZigPack16 is fwd16(autoZigzag, t, r) in 20 operations instead of 26:
// ord of both, their difference and the zigzag fused. The low 15 bits of
// each lane subtract with the lane's top bit set as a borrow guard; the
// difference's top bit is then the guard's complement ⊕ both top bits.
func fwdZigPack16(t, r uint64) uint64 {
	th, rh := t&hi16, r&hi16
	t7 := (t | hi16) ^ (th - th>>15) // low 15 bits of ord(t), guard bit set
	r7 := (r ^ (rh - rh>>15)) &^ hi16
	x := t7 - r7              // no borrow leaves a lane
	dh := hi16 &^ (x ^ t ^ r) // top bits of the difference
	return (x&^hi16)<<1 ^ (dh<<1 - dh>>15)
}

// fwdZigPack32 is fwdZigPack16 for two 32-bit lanes.
func fwdZigPack32(t, r uint64) uint64 {
	th, rh := t&hi32, r&hi32
	t31 := (t | hi32) ^ (th - th>>31)
	r31 := (r ^ (rh - rh>>31)) &^ hi32
	x := t31 - r31
	dh := hi32 &^ (x ^ t ^ r)
	return (x&^hi32)<<1 ^ (dh<<1 - dh>>31)
}

// invZigPack32 is invZigPack16 for two 32-bit lanes.
func invZigPack32(z, r uint64) uint64 {
	m := z & lo32
	m31 := m << 31
	d31 := (z>>1)&^hi32 ^ (m31 - m)
	rh := r & hi32
	r31 := r&^hi32 ^ (rh - rh>>31)
	u := (d31 + r31) ^ m31 ^ rh
	uh := u & hi32
	return u ^ (uh - uh>>31)
}

func addPack32(a, b uint64) uint64 { return ((a &^ hi32) + (b &^ hi32)) ^ ((a ^ b) & hi32) }
func subPack32(a, b uint64) uint64 { return ((a | hi32) - (b &^ hi32)) ^ ((a ^ ^b) & hi32) }

func ordPack32(v uint64) uint64   { return v ^ ((v>>31)&lo32*0x7fff_ffff | hi32) }
func unordPack32(y uint64) uint64 { return y ^ ((^y>>31)&lo32*0x7fff_ffff | hi32) }
func zigPack32(d uint64) uint64   { return (d<<1)&^lo32 ^ (d>>31)&lo32*0xffff_ffff }
func unzigPack32(z uint64) uint64 { return (z>>1)&^hi32 ^ z&lo32*0xffff_ffff }

// fwd32 and inv32 are fwd16 and inv16 for two 32-bit words.
func fwd32(op uint8, t, r uint64) uint64 {
	switch op {
	case autoXOR:
		return t ^ r
	case autoDiff:
		return subPack32(ordPack32(t), ordPack32(r))
	}
	return zigPack32(subPack32(ordPack32(t), ordPack32(r)))
}

func inv32(op uint8, x, r uint64) uint64 {
	switch op {
	case autoXOR:
		return x ^ r
	case autoDiff:
		return unordPack32(addPack32(x, ordPack32(r)))
	}
	return unordPack32(addPack32(unzigPack32(x), ordPack32(r)))
}

// fwd64 and inv64 transform one 64-bit word.
func fwd64(op uint8, t, r uint64) uint64 {
	switch op {
	case autoXOR:
		return t ^ r
	case autoDiff:
		return ordF64(t) - ordF64(r)
	}
	return zig64(ordF64(t) - ordF64(r))
}

func inv64(op uint8, x, r uint64) uint64 {
	switch op {
	case autoXOR:
		return x ^ r
	case autoDiff:
		return unordF64(x + ordF64(r))
	}
	return unordF64(unzig64(x) + ordF64(r))
}
