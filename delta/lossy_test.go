package delta

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
)

// floatCases are the dtypes the lossy strategies apply to.
var floatCases = []dtypeCase{dtypeCases[0], dtypeCases[1], dtypeCases[2], dtypeCases[3], dtypeCases[15], dtypeCases[17]}

// roundingSlack bounds half an ulp of v in a float of width w.
func roundingSlack(v float64, w int) float64 {
	p, tiny := 52, math.Ldexp(1, -1074)
	switch w {
	case 2:
		p, tiny = 10, math.Ldexp(1, -24)
	case 4:
		p, tiny = 23, math.Ldexp(1, -149)
	}
	return math.Abs(v)*math.Ldexp(1, -p) + tiny
}

// lossyCase encodes with a lossy strategy and returns target, reference and
// reconstruction words (little-endian) plus the layout.
func lossyCase(t *testing.T, s Strategy, dc dtypeCase, shape []int64, withRef bool, cfgf func(*Config)) (tw, rw, got []byte, l wordLayout, h Header) {
	t.Helper()
	n := elems(shape)
	td, rd := genPair(dc, n, uint64(n)*3+1)
	tt := Tensor{DType: dc.dt, Shape: shape, Data: td}
	var ref *Tensor
	var refData []byte
	if withRef {
		ref = &Tensor{DType: dc.dt, Shape: shape, Data: rd}
		refData = rd
	}
	cfg := DefaultConfig()
	cfg.Strategy, cfg.AllowLossy, cfg.ChunkSize, cfg.QuantBlock = s, true, testChunk, 50
	if cfgf != nil {
		cfgf(&cfg)
	}
	obj := encodeT(t, tt, ref, cfg)
	o := openT(t, obj)
	h = o.Header()
	out, err := o.DecodeAll(refData)
	if err != nil {
		t.Fatalf("DecodeAll: %v", err)
	}
	l = layoutFor(dc.dt, false)
	tw, got = wordsOf(td, l), wordsOf(out, l)
	if withRef {
		rw = wordsOf(rd, l)
	}
	return tw, rw, got, l, h
}

func TestQuantizedBound(t *testing.T) {
	for _, s := range []Strategy{Int8Quantized, Int16Quantized} {
		for _, dc := range floatCases {
			for _, shape := range testShapes {
				for _, withRef := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/%v/ref=%v", s, dc.name, shape, withRef), func(t *testing.T) {
						tw, rw, got, l, h := lossyCase(t, s, dc, shape, withRef, nil)
						if h.Strategy != s || !h.Lossy {
							t.Fatalf("header %+v", h)
						}
						bitsN := 8
						if s == Int16Quantized {
							bitsN = 16
						}
						w := l.width
						perChunk := testChunk / w
						n := len(tw) / w
						for c0 := 0; c0 < n; c0 += perChunk {
							cend := min(n, c0+perChunk)
							for b0 := c0; b0 < cend; b0 += 50 {
								bend := min(cend, b0+50)
								lo, hi, exact := math.Inf(1), math.Inf(-1), false
								for i := b0; i < bend; i++ {
									tv, rv := floatAt(tw, w, i), refFloatAt(rw, w, i)
									d := tv - rv
									if !finite(tv) || !finite(rv) || !finite(d) {
										exact = true
									}
									lo, hi = math.Min(lo, d), math.Max(hi, d)
								}
								scale := (hi - lo) / float64(uint64(1)<<bitsN-1)
								for i := b0; i < bend; i++ {
									if exact || !finite(scale) {
										if getWord(got, w, i) != getWord(tw, w, i) {
											t.Fatalf("element %d of an exact block differs", i)
										}
										continue
									}
									gv, tv := floatAt(got, w, i), floatAt(tw, w, i)
									err := math.Abs(gv - tv)
									if err > scale/2*(1+1e-12)+roundingSlack(gv, w) {
										t.Fatalf("element %d: error %g exceeds scale/2 = %g", i, err, scale/2)
									}
								}
							}
						}
					})
				}
			}
		}
	}
}

func TestSparseBound(t *testing.T) {
	for _, dc := range floatCases {
		for _, withRef := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ref=%v", dc.name, withRef), func(t *testing.T) {
				thr := 0.0004
				tw, rw, got, l, _ := lossyCase(t, Sparse, dc, []int64{13, 77}, withRef, func(c *Config) { c.SparseThreshold = thr })
				w := l.width
				dropped, kept := 0, 0
				for i := 0; i < len(tw)/w; i++ {
					d := floatAt(tw, w, i) - refFloatAt(rw, w, i)
					var want uint64
					if math.Abs(d) < thr {
						dropped++
						if rw != nil {
							want = getWord(rw, w, i)
						}
					} else {
						kept++
						want = getWord(tw, w, i)
					}
					if g := getWord(got, w, i); g != want {
						t.Fatalf("element %d (delta %g): got %#x want %#x", i, d, g, want)
					}
				}
				if withRef && (dropped == 0 || kept == 0) {
					t.Fatalf("test data should both drop and keep (dropped %d kept %d)", dropped, kept)
				}
			})
		}
	}
}

func TestPerAxisExact(t *testing.T) {
	// delta = sign × a_i × b_j with powers of two a_i and b_j ∈ {0.5, 1.5}:
	// the fitted scales are exact, so the reconstruction is bit-exact.
	for _, fortran := range []bool{false, true} {
		for _, w := range []int{2, 4, 8} {
			t.Run(fmt.Sprintf("f%d/fortran=%v", w, fortran), func(t *testing.T) {
				dc := dtypeCase{dt: dtypeCases[2].dt}
				dc.dt.Size = w
				rows, cols := 37, 64
				shape := []int64{int64(rows), int64(cols)}
				if fortran {
					shape = []int64{int64(cols), int64(rows)}
				}
				n := rows * cols
				ref, tgt := make([]byte, n*w), make([]byte, n*w)
				for g := 0; g < n; g++ {
					i, j := g/cols, g%cols
					a := math.Ldexp(1, -3-i%5)
					b := 0.5
					if j%2 == 1 {
						b = 1.5
					}
					d := a * b
					if (g*7919)%3 == 0 {
						d = -d
					}
					rv := float64(int(g%11)-5) / 4
					putFloat(ref, w, g, rv)
					putFloat(tgt, w, g, rv+d)
				}
				cfg := DefaultConfig()
				cfg.Strategy, cfg.AllowLossy, cfg.ChunkSize = PerAxisScaled, true, 1000
				obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Fortran: fortran, Data: tgt},
					&Tensor{DType: dc.dt, Shape: shape, Fortran: fortran, Data: ref}, cfg)
				got, err := Decode(obj, ref, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tgt) {
					t.Fatalf("per_axis_scaled is not exact on a sign·row·column delta")
				}
				if h := openT(t, obj).Header(); h.Strategy != PerAxisScaled {
					t.Fatalf("strategy %s", h.Strategy)
				}
			})
		}
	}
}

func TestPerAxisGeneral(t *testing.T) {
	for _, dc := range floatCases {
		t.Run(dc.name, func(t *testing.T) {
			// genPair mixes in infinities and NaNs: per_axis falls back to auto.
			_, _, got, _, h := lossyCase(t, PerAxisScaled, dc, []int64{9, 40}, true, nil)
			if h.Strategy != Auto || h.Lossy || len(got) == 0 {
				t.Fatalf("non-finite deltas should fall back to lossless auto, got %+v", h)
			}
		})
	}
}

func TestLossyFallbacks(t *testing.T) {
	for _, dc := range []dtypeCase{dtypeCases[4], dtypeCases[11], dtypeCases[12], dtypeCases[13]} {
		for _, s := range []Strategy{Int8Quantized, Int16Quantized, Sparse, PerAxisScaled} {
			t.Run(dc.name+"/"+string(s), func(t *testing.T) {
				td, rd := genPair(dc, 300, 5)
				tt := Tensor{DType: dc.dt, Shape: []int64{300}, Data: td}
				ref := &Tensor{DType: dc.dt, Shape: []int64{300}, Data: rd}
				cfg := DefaultConfig()
				cfg.Strategy = s
				if _, err := Encode(tt, ref, cfg); !errors.Is(err, ErrLossyNotAllowed) {
					t.Fatalf("without AllowLossy: %v", err)
				}
				cfg.AllowLossy = true
				obj := encodeT(t, tt, ref, cfg)
				if h := openT(t, obj).Header(); h.Strategy != Auto || h.Lossy {
					t.Fatalf("%s data should be stored losslessly, header %+v", dc.name, h)
				}
				got, err := Decode(obj, rd, cfg)
				if err != nil || !bytes.Equal(got, td) {
					t.Fatalf("round trip: %v", err)
				}
			})
		}
	}
}
