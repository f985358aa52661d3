package analysis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"deltafs/npy"
)

func TestSparseRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	patterns := map[string]func(i, e int) bool{ // reports whether element i is nonzero
		"allzero":     func(i, e int) bool { return false },
		"nozero":      func(i, e int) bool { return true },
		"alternating": func(i, e int) bool { return i%2 == 0 },
		"sparse5pct":  func(i, e int) bool { return r.IntN(20) == 0 },
		"runs":        func(i, e int) bool { return (i/37)%3 == 0 },
	}
	for _, e := range []int{1, 2, 4, 8, 16} {
		for _, n := range []int{0, 1, 7, 1000, 100000} {
			for name, nz := range patterns {
				t.Run(fmt.Sprintf("e%d/n%d/%s", e, n, name), func(t *testing.T) {
					data := make([]byte, n*e)
					for i := 0; i < n; i++ {
						if nz(i, e) {
							for k := 0; k < e; k++ {
								data[i*e+k] = byte(r.Uint32())
							}
							data[i*e] |= 1 // surely nonzero
						}
					}
					enc, err := CompressSparse(data, e)
					if err != nil {
						t.Fatal(err)
					}
					got, err := DecompressSparse(enc, len(data))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatal("round trip differs")
					}
				})
			}
		}
	}
}

// TestSparseDeltaBitExact: special values survive, and mostly equal
// tensors code to a few bytes.
func TestSparseDeltaBitExact(t *testing.T) {
	nanPayload := math.Float32frombits(0x7fc01234)
	vals := []float32{nanPayload, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, 1.5}
	ref := tensorOf(npy.Float32, false, make([]float64, 10000))
	target := ref
	target.Data = bytes.Clone(ref.Data)
	for i, v := range vals {
		binary.LittleEndian.PutUint32(target.Data[4*(i*1000+3):], math.Float32bits(v))
	}
	enc, err := SparseDelta(target, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) > 100 {
		t.Errorf("5 changed elements of 10000 coded in %d bytes", len(enc))
	}
	got, err := ApplySparseDelta(enc, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, target.Data) {
		t.Fatal("not bit-exact")
	}
	// Wrong reference size or element size is an error.
	short := ref
	short.Data = ref.Data[:400]
	if _, err := ApplySparseDelta(enc, short); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short reference: %v", err)
	}
	f16 := tensorOf(npy.Float16, false, make([]float64, 20000))
	if _, err := ApplySparseDelta(enc, f16); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong element size: %v", err)
	}
}

func TestSparseErrors(t *testing.T) {
	if _, err := CompressSparse(make([]byte, 6), 4); err == nil {
		t.Error("6 bytes as 4-byte elements accepted")
	}
	if _, err := CompressSparse(nil, 3); err == nil {
		t.Error("element size 3 accepted")
	}
	good, _ := CompressSparse([]byte{0, 0, 1, 2, 0, 0, 0, 0, 3, 0}, 2)
	// Hand-made inputs with raw planes blocks (version, mode, segLog, then
	// method 0 = raw and the bytes) so the run stream itself can lie.
	rawBlock := func(b ...byte) []byte { return append([]byte{1, 0, 17, 0}, b...) }
	handMade := func(n, k byte, runs []byte, lits []byte) []byte {
		rb := rawBlock(runs...)
		if len(runs) == 0 {
			rb = []byte{1, 0, 17}
		}
		out := []byte{1, 1, n, byte(len(runs)), k, byte(len(rb))}
		out = append(out, rb...)
		if len(lits) == 0 {
			return append(out, 1, 0, 17)
		}
		return append(out, rawBlock(lits...)...)
	}
	valid := handMade(3, 1, []byte{2, 1}, []byte{9})
	if got, err := DecompressSparse(valid, 3); err != nil || !bytes.Equal(got, []byte{0, 0, 9}) {
		t.Fatalf("hand-made valid input: %v %v", got, err)
	}
	for _, tc := range []struct {
		name string
		enc  []byte
		max  int
	}{
		{"empty", nil, 100},
		{"version", append([]byte{9}, good[1:]...), 100},
		{"elemSize", append([]byte{1, 3}, good[2:]...), 100},
		{"truncated", good[:len(good)-1], 100},
		{"trailing", append(bytes.Clone(good), 0), 100},
		{"limit", good, 9},
		{"hugeCount", []byte{1, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0}, 1 << 20},
		{"hugeRuns", []byte{1, 1, 4, 0xff, 0xff, 0x7f, 0, 0}, 100},
		{"emptyRun", handMade(2, 0, []byte{0, 0}, nil), 100},
		{"overrun", handMade(2, 0, []byte{3, 0}, nil), 100},
		{"literalsShort", handMade(3, 1, []byte{1, 2}, []byte{9}), 100},
		{"literalsLeft", handMade(3, 2, []byte{2, 1}, []byte{9, 9}), 100},
		{"runsLeft", handMade(3, 1, []byte{2, 1, 0}, []byte{9}), 100},
		{"badVarint", handMade(3, 0, []byte{0xff}, nil), 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecompressSparse(tc.enc, tc.max); !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecompressSparse(f *testing.F) {
	for _, d := range [][]byte{nil, {0, 0, 0, 0}, {1, 2, 0, 0, 3, 4}, bytes.Repeat([]byte{0, 0, 0, 9}, 50)} {
		enc, _ := CompressSparse(d, 2)
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, enc []byte) {
		const limit = 1 << 16
		out, err := DecompressSparse(enc, limit)
		if err != nil {
			return
		}
		if len(out) > limit {
			t.Fatalf("output of %d bytes beyond the limit", len(out))
		}
		// A valid input re-encodes to a form that decodes alike.
		re, err := CompressSparse(out, int(enc[1]))
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecompressSparse(re, limit)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("re-encoded form does not round-trip: %v", err)
		}
	})
}

func FuzzSparseRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 0, 2, 3}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, es uint8) {
		e := []int{1, 2, 4, 8, 16}[int(es)%5]
		data = data[:len(data)/e*e]
		enc, err := CompressSparse(data, e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecompressSparse(enc, len(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
