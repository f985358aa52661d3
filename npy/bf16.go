package npy

import "encoding/binary"

// IsBF16Representable reports whether little-endian float32 data holds only
// values that bfloat16 represents exactly: the low 16 bits of every element
// are zero, so the float32 is a bfloat16 widened. It returns false when the
// length is not a multiple of 4 and true for empty data. It reads 32 bytes
// per step and stops at the first 4 KiB block that disproves it.
func IsBF16Representable(f32le []byte) bool {
	if len(f32le)%4 != 0 {
		return false
	}
	// In a little-endian uint64 of two float32s the low halves are bits
	// 0-15 and 32-47.
	const lowHalves = 0x0000ffff0000ffff
	b := f32le
	for len(b) >= 32 {
		block := min(len(b), 4096) &^ 31
		var acc uint64
		for i := 0; i < block; i += 32 {
			acc |= binary.LittleEndian.Uint64(b[i:]) |
				binary.LittleEndian.Uint64(b[i+8:]) |
				binary.LittleEndian.Uint64(b[i+16:]) |
				binary.LittleEndian.Uint64(b[i+24:])
		}
		if acc&lowHalves != 0 {
			return false
		}
		b = b[block:]
	}
	for i := 0; i+4 <= len(b); i += 4 {
		if b[i] != 0 || b[i+1] != 0 {
			return false
		}
	}
	return true
}
