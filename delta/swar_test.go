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
				if op == autoZigzag {
					// The fused forms the kernels use.
					fz, iz := fwdZigPack16(tp, rp), invZigPack16(x, rp)
					if bits == 32 {
						fz, iz = fwdZigPack32(tp, rp), invZigPack32(x, rp)
					}
					if fz != x || iz != tp {
						t.Fatalf("%d-bit fused zigzag of (%#x, %#x): fwd %#x inv %#x, want %#x %#x", bits, tp, rp, fz, iz, x, tp)
					}
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

// TestFusedZigzag16AllWords checks the fused 16-bit zigzag forms on every
// target word against special and random references, lane by lane.
func TestFusedZigzag16AllWords(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	refs := specialBits(2)
	for range 64 {
		refs = append(refs, uint64(rng.Uint32()&0xffff))
	}
	for _, r := range refs {
		rp := r * lo16 // r in every lane
		for v := uint64(0); v < 1<<16; v += 4 {
			tp := v | (v+1)<<16 | (v+2)<<32 | (v+3)<<48
			x := fwdZigPack16(tp, rp)
			for k := range uint(4) {
				if got, want := x>>(16*k)&0xffff, scalarFwd(autoZigzag, tp>>(16*k)&0xffff, r, 16); got != want {
					t.Fatalf("fwd(%#x, %#x) = %#x, want %#x", tp>>(16*k)&0xffff, r, got, want)
				}
			}
			if back := invZigPack16(x, rp); back != tp {
				t.Fatalf("inv(fwd(%#x, %#x)) = %#x", tp, rp, back)
			}
		}
	}
}
