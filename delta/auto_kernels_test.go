package delta

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"deltafs/npy"
)

// Differential tests of the AVX-512 gather kernels (auto_kernels_amd64.s)
// against the pure-Go loops: the same planes, reference, base and cursors
// must give the same words and the same cursors, also when the class
// counts do not match the reference and the cursors run into the slack.

// kernelCase is a word shape the zigzag gather kernels handle.
type kernelCase struct {
	name string
	l    wordLayout
	s    kernelShape
}

func zigKernelCases() []kernelCase {
	f2 := layoutFor(npy.DType{Kind: 'f', Size: 2, Order: '<'}, false)
	bf := layoutFor(npy.DType{Kind: 'f', Size: 4, Order: '<'}, true)
	f4 := layoutFor(npy.DType{Kind: 'f', Size: 4, Order: '<'}, false)
	return []kernelCase{
		{"f16", f2, kernelShape{w: 2}},
		{"bf16-words", bf, kernelShape{w: 2}},
		{"bf16-halves", bf, kernelShape{w: 2, halves: true}},
		{"f32", f4, kernelShape{w: 4}},
	}
}

// refKinds name the ways kernelRef draws reference exponents.
var refKinds = []string{"random", "spread", "single", "special", "narrow"}

// kernelRef returns n raw reference words of kind.
func kernelRef(kc kernelCase, kind string, n int, rng *rand.Rand) []byte {
	l, rw := kc.l, kc.s.raw()
	at := uint(l.mantBits)
	if kc.s.halves {
		at += 16
	}
	maxE := uint64(1)<<l.expBits - 1 // inf/NaN
	single := rng.Uint64N(maxE + 1)
	out := make([]byte, n*rw)
	for i := range n {
		v := rng.Uint64() & (uint64(1)<<(8*rw) - 1)
		var e uint64
		switch kind {
		case "random":
			putWord(out, rw, i, v)
			continue
		case "spread": // every class and class 0
			e = maxE - 1 - rng.Uint64N(min(maxE, 20))
		case "single":
			e = single
		case "special": // ±0, subnormals, ±inf, NaN, the largest finite
			mantMask := (uint64(1)<<l.mantBits - 1) << (at - uint(l.mantBits))
			switch rng.IntN(5) {
			case 0:
				if rng.IntN(2) == 0 {
					v &^= mantMask // ±0, else a subnormal
				}
			case 1, 2:
				e = maxE
				if rng.IntN(2) == 0 {
					v &^= mantMask // ±inf, else NaN
				}
			default:
				e = maxE - 1
			}
		default: // "narrow": a few exponents around a fine-tune's
			e = maxE/2 - 6 + rng.Uint64N(4)
		}
		putWord(out, rw, i, v&^(maxE<<at)|e<<at)
	}
	return out
}

// mergeBoth runs mergePlanes (method zigzag) with the AVX-512 kernels and
// with the pure-Go loops on copies of p and returns both plans and outputs.
func mergeBoth(p *classPlan, pl, r []byte, s kernelShape) (fast, slow *classPlan, df, ds []byte) {
	defer func(v bool) { useAVX512 = v }(useAVX512)
	fast, slow = new(classPlan), new(classPlan)
	*fast, *slow = *p, *p
	df, ds = make([]byte, len(r)), make([]byte, len(r))
	useAVX512 = true
	fast.mergePlanes(df, pl, r, s, autoZigzag, nil)
	useAVX512 = false
	slow.mergePlanes(ds, pl, r, s, autoZigzag, nil)
	return fast, slow, df, ds
}

// checkMerge compares the two paths on one input; wrong permutes the class
// counts so they no longer match the reference.
func checkMerge(t *testing.T, kc kernelCase, r, pl []byte, base uint16, wrong bool, rng *rand.Rand) {
	t.Helper()
	p := new(classPlan)
	p.histogram(r, kc.l, kc.s)
	p.setBase(base)
	if wrong {
		rng.Shuffle(autoNCtx, func(i, j int) { p.counts[i], p.counts[j] = p.counts[j], p.counts[i] })
		p.setCursors()
	}
	fast, slow, df, ds := mergeBoth(p, pl, r, kc.s)
	if !bytes.Equal(df, ds) {
		i := 0
		for df[i] == ds[i] {
			i++
		}
		t.Fatalf("words differ from byte %d of %d: avx512 % x, go % x", i, len(df), df[i:min(i+8, len(df))], ds[i:min(i+8, len(ds))])
	}
	if fast.cur != slow.cur {
		t.Fatalf("cursors differ: avx512 %v, go %v", fast.cur[:autoNCtx], slow.cur[:autoNCtx])
	}
	if fast.cursorsAtEnd() != slow.cursorsAtEnd() {
		t.Fatal("the count check differs")
	}
	if !wrong && !fast.cursorsAtEnd() {
		t.Fatal("cursors off their ends with matching counts")
	}
}

// kernelTestLengths are the word counts the kernel tests try: every one up
// to 300, then a few large ones with tails.
func kernelTestLengths() []int {
	lengths := make([]int, 0, 304)
	for n := range 301 {
		lengths = append(lengths, n)
	}
	return append(lengths, 4096+37, 20000+3, 1<<16)
}

// skipMatrixInShort skips an exhaustive matrix of single-goroutine code
// under -short: `make test` runs it in full without the race detector, then
// the package again under -race -short, where such a matrix takes minutes
// and has no goroutines for the detector to watch.
func skipMatrixInShort(t testing.TB) {
	if testing.Short() {
		t.Skip("single-goroutine matrix: runs in full without -short")
	}
}

func requireAVX512(t testing.TB) {
	if !useAVX512 {
		t.Skip("no AVX-512 kernels on this CPU or GOARCH")
	}
}

func TestAVX512GatherMatchesGo(t *testing.T) {
	requireAVX512(t)
	skipMatrixInShort(t)
	lengths := kernelTestLengths()
	for _, kc := range zigKernelCases() {
		for _, kind := range refKinds {
			t.Run(kc.name+"/"+kind, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(len(kind)), uint64(kc.s.raw())))
				for _, n := range lengths {
					r := kernelRef(kc, kind, n, rng)
					pl := make([]byte, (kc.s.w+1)*n)
					for i := range pl {
						pl[i] = byte(rng.Uint32())
					}
					p := new(classPlan)
					p.histogram(r, kc.l, kc.s)
					for _, base := range []uint16{p.base(), 0, uint16(rng.IntN(300)), 65535} {
						for _, wrong := range []bool{false, true} {
							t.Run(fmt.Sprintf("n%d/b%d/wrong=%v", n, base, wrong), func(t *testing.T) {
								checkMerge(t, kc, r, pl, base, wrong, rng)
							})
						}
					}
				}
			})
		}
	}
}

// FuzzAVX512Gather compares the two gather paths on arbitrary references,
// planes, bases and (shuffled) class counts, and the two scatter paths on
// the same references.
func FuzzAVX512Gather(f *testing.F) {
	f.Add(uint8(0), uint16(3), uint64(1), false, bytes.Repeat([]byte{0x3c, 0x00, 0x7f, 0xff}, 100))
	f.Add(uint8(1), uint16(120), uint64(2), true, bytes.Repeat([]byte{0x80, 0x3f, 0x01}, 300))
	f.Add(uint8(2), uint16(0), uint64(3), false, bytes.Repeat([]byte{0xff}, 1030))
	f.Add(uint8(3), uint16(65535), uint64(4), true, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, which uint8, base uint16, seed uint64, wrong bool, data []byte) {
		requireAVX512(t)
		cases := zigKernelCases()
		kc := cases[int(which)%len(cases)]
		n := len(data) / kc.s.raw()
		r := data[:n*kc.s.raw()]
		rng := rand.New(rand.NewPCG(seed, 7))
		pl := make([]byte, (kc.s.w+1)*n)
		for i := range pl {
			pl[i] = byte(rng.Uint32())
		}
		checkMerge(t, kc, r, pl, base, wrong, rng)
		// The scatter kernels on the same reference, a random target.
		tw := make([]byte, len(r))
		for i := range tw {
			tw[i] = byte(rng.Uint32())
		}
		p := new(classPlan)
		p.histogram(r, kc.l, kc.s)
		p.setBase(base)
		fast, slow, pf, ps := splitBoth(p, tw, r, kc.s)
		if !bytes.Equal(pf, ps) || fast.cur != slow.cur {
			t.Fatal("the scatters differ")
		}
	})
}

// splitBoth runs splitPlanes (method zigzag) with the AVX-512 kernels and
// with the pure-Go loops on copies of p and returns both plans and planes.
func splitBoth(p *classPlan, t, r []byte, s kernelShape) (fast, slow *classPlan, pf, ps []byte) {
	defer func(v bool) { useAVX512 = v }(useAVX512)
	fast, slow = new(classPlan), new(classPlan)
	*fast, *slow = *p, *p
	pf, ps = make([]byte, s.w*p.n), make([]byte, s.w*p.n)
	useAVX512 = true
	fast.splitPlanes(pf, t, r, s, autoZigzag, nil)
	useAVX512 = false
	slow.splitPlanes(ps, t, r, s, autoZigzag, nil)
	return fast, slow, pf, ps
}

func TestAVX512ScatterMatchesGo(t *testing.T) {
	requireAVX512(t)
	skipMatrixInShort(t)
	lengths := kernelTestLengths()
	for _, kc := range zigKernelCases() {
		for _, kind := range refKinds {
			t.Run(kc.name+"/"+kind, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(len(kind))+9, uint64(kc.s.raw())))
				for _, n := range lengths {
					r := kernelRef(kc, kind, n, rng)
					tw := kernelRef(kc, refKinds[rng.IntN(len(refKinds))], n, rng)
					p := new(classPlan)
					p.histogram(r, kc.l, kc.s)
					for _, base := range []uint16{p.base(), 0, uint16(rng.IntN(300)), 65535} {
						p.setBase(base)
						fast, slow, pf, ps := splitBoth(p, tw, r, kc.s)
						if !bytes.Equal(pf, ps) {
							t.Fatalf("n%d b%d: planes differ", n, base)
						}
						if fast.cur != slow.cur {
							t.Fatalf("n%d b%d: cursors differ: avx512 %v, go %v", n, base, fast.cur[:autoNCtx], slow.cur[:autoNCtx])
						}
					}
				}
			})
		}
	}
}

// TestAVX512ScatterStopsAtClassEnd gives the scatter kernels class counts
// that do not match the reference: they must stop before a class runs past
// its end and write nothing outside the planes.
func TestAVX512ScatterStopsAtClassEnd(t *testing.T) {
	requireAVX512(t)
	for _, kc := range zigKernelCases() {
		rng := rand.New(rand.NewPCG(5, uint64(kc.s.raw())))
		for _, n := range []int{64, 65, 300, 4099} {
			r := kernelRef(kc, "spread", n, rng)
			tw := kernelRef(kc, "random", n, rng)
			p := new(classPlan)
			p.histogram(r, kc.l, kc.s)
			p.setBase(p.base())
			// All words in the wrong class: every class range is empty but the last.
			clear(p.counts[:])
			p.counts[autoNCtx-1] = n
			p.setCursors()
			const canary = 0xa5
			buf := bytes.Repeat([]byte{canary}, (kc.s.w+1)*n)
			pl := buf[:kc.s.w*n]
			done := p.scatterZigFast(pl, tw, r, kc.s, nil)
			if full := n / avxBlock * avxBlock * kc.s.raw(); done >= full {
				t.Fatalf("%s n%d: the kernel did all %d bytes with wrong counts", kc.name, n, done)
			}
			for i, v := range buf[kc.s.w*n:] {
				if v != canary {
					t.Fatalf("%s n%d: byte %d past the planes written", kc.name, n, i)
				}
			}
		}
	}
}
