package planes

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The word-at-a-time helpers must behave exactly as the byte loops they
// replace: the encoder's bytes depend on them.

func TestFill(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 8, 31, 32, 33, 255, 4096, 1<<maxSegLog - 1, 1 << maxSegLog} {
		for _, v := range []byte{0, 1, 0x80, 0xff} {
			buf := make([]byte, n+16)
			for i := range buf {
				buf[i] = 0xA5 ^ byte(i)
			}
			fill(buf[8:8+n], v)
			for i, b := range buf {
				want := 0xA5 ^ byte(i)
				if i >= 8 && i < 8+n {
					want = v
				}
				if b != want {
					t.Fatalf("fill(%d bytes, %#x): byte %d of the buffer is %#x, want %#x", n, v, i-8, b, want)
				}
			}
		}
	}
}

// sparseSplitRef is the byte-at-a-time definition of the sparse split.
func sparseSplitRef(seg []byte, v byte) (gaps, vals []byte) {
	run := 0
	for _, b := range seg {
		if b == v {
			run++
			continue
		}
		for ; run >= 255; run -= 255 {
			gaps = append(gaps, 255)
		}
		gaps = append(gaps, byte(run))
		vals = append(vals, b)
		run = 0
	}
	return gaps, vals
}

func TestSparseSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	type sample struct {
		name string
		seg  []byte
	}
	var samples []sample
	// Exceptions after runs of exactly 254, 255, 256 and 510 fill bytes,
	// and at the first and last positions.
	for _, run := range []int{0, 1, 31, 32, 254, 255, 256, 510, 1000} {
		seg := make([]byte, run+1+run+1)
		seg[run], seg[len(seg)-1] = 9, 7
		samples = append(samples, sample{fmt.Sprintf("runs%d", run), seg})
	}
	for _, n := range []int{1, 31, 32, 33, 63, 64, 65, 1000, 70000} {
		for _, every := range []int{0, 1, 2, 7, 50, 1000} {
			seg := make([]byte, n)
			for i := range seg {
				seg[i] = 3
				if every > 0 && r.IntN(every) == 0 {
					seg[i] = byte(r.Uint32()) // may equal the fill byte
				}
			}
			samples = append(samples, sample{fmt.Sprintf("n%d/every%d", n, every), seg})
		}
	}
	var e encoder
	for _, s := range samples {
		for _, v := range []byte{0, 3, 9} {
			wantGaps, wantVals := sparseSplitRef(s.seg, v)
			e.sparseSplit(s.seg, v)
			if !bytes.Equal(e.gaps, wantGaps) || !bytes.Equal(e.vals, wantVals) {
				t.Errorf("%s, fill %d: %d gaps, %d exceptions; want %d, %d", s.name, v, len(e.gaps), len(e.vals), len(wantGaps), len(wantVals))
			}
		}
	}
}

// TestConstSegment checks the shortcut for constant segments: constant
// segments are stored as const, segments differing in one byte are not, and
// both decode back.
func TestConstSegment(t *testing.T) {
	mk := func(n int, v byte, at int, x byte) []byte {
		b := bytes.Repeat([]byte{v}, n)
		if at >= 0 {
			b[at] = x
		}
		return b
	}
	for _, tc := range []struct {
		name string
		seg  []byte
		want bool
	}{
		{"one byte", []byte{42}, true},
		{"zeros", make([]byte, 5000), true},
		{"full segment", mk(1<<defaultSegLog, 0xfe, -1, 0), true},
		{"first differs", mk(5000, 7, 0, 8), false},
		{"last differs", mk(5000, 7, 4999, 8), false},
		{"middle differs", mk(1<<defaultSegLog, 0, 1<<16, 1), false},
		{"two bytes", []byte{1, 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := getEncoder()
			defer putEncoder(e)
			out := e.encodeSegment(nil, tc.seg, DefaultLevel)
			if got := method(out[0]) == methodConst; got != tc.want {
				t.Fatalf("stored as %v (%d bytes); const wanted: %v", method(out[0]), len(out), tc.want)
			}
			if tc.want && !bytes.Equal(out, []byte{byte(methodConst), tc.seg[0]}) {
				t.Fatalf("const segment stored as %x", out)
			}
			d := getDecoder()
			defer putDecoder(d)
			got := bytes.Repeat([]byte{0xA5}, len(tc.seg))
			used, err := d.decodeSegment(got, out)
			if err != nil || used != len(out) || !bytes.Equal(got, tc.seg) {
				t.Fatalf("decode: %v, used %d of %d bytes, equal %v", err, used, len(out), bytes.Equal(got, tc.seg))
			}
		})
	}
}

// TestEntropyPays checks the fast entropy test against the exact formula on
// histograms that walk across its limit in small steps, and
// fastShannonBytes against shannonBytes.
func TestEntropyPays(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	near := 0
	for _, n := range []int{300, 4096, 5000, 70000, 1 << maxSegLog} {
		// Start from a near-uniform histogram (entropy coding does not
		// pay) and move counts to symbol 0 a few at a time until it has
		// paid for a while.
		var s segStats
		for i := range n {
			s.hist[(i+r.IntN(4))%256]++
		}
		step := max(1, n/50000)
		paid := 0
		for moves := 0; paid < 100; moves++ {
			if moves > n {
				t.Fatalf("n %d: entropy coding never pays", n)
			}
			for range step {
				if b := 1 + r.IntN(255); s.hist[b] > 0 {
					s.hist[b]--
					s.hist[0]++
				}
			}
			exact := s.shannonBytes(n)
			if d := s.fastShannonBytes(n) - exact; d > 1e-6 || d < -1e-6 {
				t.Fatalf("n %d: fastShannonBytes differs from shannonBytes by %g", n, d)
			}
			want := exact+64 < float64(n)*0.97
			if got := s.entropyPays(n); got != want {
				t.Fatalf("n %d after %d moves: entropyPays %v, exact formula %v", n, moves, got, want)
			}
			if d := exact + 64 - float64(n)*0.97; d > -1 && d < 1 {
				near++
			}
			if want {
				paid++
			}
		}
	}
	// The walks must pass through the band where entropyPays falls back to
	// the exact formula.
	if near == 0 {
		t.Fatal("no histogram within a byte of the limit")
	}
	t.Logf("%d histograms within a byte of the limit", near)
}
