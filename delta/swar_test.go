package delta

import (
	"math/rand/v2"
	"testing"
)

// laneOps is the scalar model of one W-bit word: the definitions of
// docs/FORMAT.md §4.
func scalarFwd(op uint8, t, r uint64, bits uint) uint64 {
	sign := uint64(1) << (bits - 1)
	mask := sign<<1 - 1
	switch op {
	case autoXOR:
		return t ^ r
	case autoDiff:
		return (ord64(t, sign, true) - ord64(r, sign, true)) & mask
	}
	d := (ord64(t, sign, true) - ord64(r, sign, true)) & mask
	s := int64(d<<(64-bits)) >> (64 - bits)
	return (uint64(s)<<1 ^ uint64(s>>63)) & mask
}

// TestPackTransforms checks the SWAR transforms lane by lane against the
// scalar definitions, special values included, and that inv undoes fwd.
func TestPackTransforms(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []uint{16, 32} {
		lanesN := 64 / int(bits)
		mask := uint64(1)<<bits - 1
		sp := specialBits(int(bits / 8))
		pick := func() uint64 {
			switch rng.IntN(3) {
			case 0:
				return sp[rng.IntN(len(sp))]
			case 1:
				return rng.Uint64() & mask
			}
			return uint64(rng.IntN(5)) // tiny values: zero and subnormals
		}
		for range 20000 {
			var tp, rp uint64
			tl, rl := make([]uint64, lanesN), make([]uint64, lanesN)
			for k := range lanesN {
				tl[k], rl[k] = pick(), pick()
				if rng.IntN(4) == 0 {
					tl[k] = rl[k]
				}
				tp |= tl[k] << (uint(k) * bits)
				rp |= rl[k] << (uint(k) * bits)
			}
			for _, op := range []uint8{autoXOR, autoDiff, autoZigzag} {
				var x, back uint64
				if bits == 16 {
					x, back = fwd16(op, tp, rp), inv16(op, fwd16(op, tp, rp), rp)
				} else {
					x, back = fwd32(op, tp, rp), inv32(op, fwd32(op, tp, rp), rp)
				}
				if back != tp {
					t.Fatalf("%d-bit op %d: inv(fwd(%#x, %#x)) = %#x", bits, op, tp, rp, back)
				}
				for k := range lanesN {
					got := x >> (uint(k) * bits) & mask
					if want := scalarFwd(op, tl[k], rl[k], bits); got != want {
						t.Fatalf("%d-bit op %d lane %d: %#x, want %#x (t %#x r %#x)", bits, op, k, got, want, tl[k], rl[k])
					}
				}
			}
		}
	}
	for _, v := range append(specialBits(8), 0, 1, 1<<63, ^uint64(0)) {
		for _, r := range specialBits(8) {
			for _, op := range []uint8{autoXOR, autoDiff, autoZigzag} {
				if got, want := fwd64(op, v, r), scalarFwd(op, v, r, 64); got != want {
					t.Fatalf("64-bit op %d: %#x, want %#x", op, got, want)
				}
				if back := inv64(op, fwd64(op, v, r), r); back != v {
					t.Fatalf("64-bit op %d: round trip %#x → %#x", op, v, back)
				}
			}
		}
	}
}
