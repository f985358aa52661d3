package delta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

var testShapes = [][]int64{{}, {0}, {1}, {3, 0, 2}, {7, 131}, {2, 3, 97}}

// testChunk is a small chunk size so that small tensors span chunks with a
// shorter last one.
const testChunk = 1000

func encodeT(t *testing.T, tt Tensor, ref *Tensor, cfg Config) []byte {
	t.Helper()
	obj, err := Encode(tt, ref, cfg)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return obj
}

func openT(t *testing.T, obj []byte) *Object {
	t.Helper()
	o, err := Open(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return o
}

func TestLosslessRoundTrip(t *testing.T) {
	for _, s := range Strategies() {
		if !s.IsLossless() {
			continue
		}
		for _, dc := range dtypeCases {
			for _, shape := range testShapes {
				for _, withRef := range []bool{false, true} {
					name := fmt.Sprintf("%s/%s/%v/ref=%v", s, dc.name, shape, withRef)
					t.Run(name, func(t *testing.T) {
						n := elems(shape)
						td, rd := genPair(dc, n, uint64(n)+7)
						tt := Tensor{DType: dc.dt, Shape: shape, Data: td}
						var ref *Tensor
						if withRef {
							ref = &Tensor{DType: dc.dt, Shape: shape, Data: rd}
						}
						cfg := DefaultConfig()
						cfg.Strategy = s
						cfg.ChunkSize = testChunk
						obj := encodeT(t, tt, ref, cfg)
						o := openT(t, obj)
						h := o.Header()
						if h.Strategy != s || h.Lossy || h.RawSize != int64(len(td)) || h.HasReference != withRef {
							t.Fatalf("header %+v", h)
						}
						var refData []byte
						if withRef {
							refData = rd
						}
						got, err := o.DecodeAll(refData)
						if err != nil {
							t.Fatalf("DecodeAll: %v", err)
						}
						if !bytes.Equal(got, td) {
							t.Fatalf("round trip differs")
						}
						for i := 0; i < h.NumChunks; i++ {
							off, cn := o.ChunkRange(i)
							var r []byte
							if o.ChunkUsesReference(i) {
								r = rd[off : off+cn]
							}
							buf := make([]byte, cn)
							if err := o.DecodeChunk(i, r, buf); err != nil {
								t.Fatalf("DecodeChunk(%d): %v", i, err)
							}
							if !bytes.Equal(buf, td[off:off+cn]) {
								t.Fatalf("chunk %d differs from the slice of DecodeAll", i)
							}
						}
					})
				}
			}
		}
	}
}

func TestWrongReference(t *testing.T) {
	dc := dtypeCases[2]
	td, rd := genPair(dc, 3000, 1)
	_, other := genPair(dc, 3000, 2)
	shape := []int64{3000}
	for _, s := range []Strategy{Auto, Float32Raw, Compressed, XorFloat32, XorBFloat16, ExponentMantissa} {
		t.Run(string(s), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Strategy = s
			cfg.ChunkSize = testChunk
			obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, cfg)
			o := openT(t, obj)
			if _, err := o.DecodeAll(other); !errors.Is(err, ErrReferenceMismatch) {
				t.Fatalf("DecodeAll with the wrong reference: %v", err)
			}
			if _, err := o.DecodeAll(nil); !errors.Is(err, ErrReferenceMismatch) {
				t.Fatalf("DecodeAll without reference: %v", err)
			}
			for i := 0; i < o.Header().NumChunks; i++ {
				if !o.ChunkUsesReference(i) {
					continue
				}
				off, n := o.ChunkRange(i)
				buf := make([]byte, n)
				err := o.DecodeChunk(i, other[off:off+n], buf)
				if !errors.Is(err, ErrReferenceMismatch) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("DecodeChunk(%d) with the wrong reference: %v", i, err)
				}
				if !bytes.Equal(buf, make([]byte, n)) {
					t.Fatalf("DecodeChunk left bytes in dst after an error")
				}
			}
		})
	}
}

func TestIncompatibleReference(t *testing.T) {
	f4 := dtypeCases[2].dt
	f8 := dtypeCases[3].dt
	data := make([]byte, 24)
	tt := Tensor{DType: f4, Shape: []int64{2, 3}, Data: data}
	cases := []struct {
		name string
		ref  Tensor
	}{
		{"dtype", Tensor{DType: f8, Shape: []int64{3}, Data: make([]byte, 24)}},
		{"shape", Tensor{DType: f4, Shape: []int64{3, 2}, Data: data}},
		{"order", Tensor{DType: f4, Shape: []int64{2, 3}, Fortran: true, Data: data}},
		{"short", Tensor{DType: f4, Shape: []int64{2, 3}, Data: data[:20]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Encode(tt, &c.ref, DefaultConfig()); !errors.Is(err, ErrIncompatibleReference) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	f4 := dtypeCases[2].dt
	cases := []struct {
		name string
		t    Tensor
		cfg  func(*Config)
		want error
	}{
		{"data too short", Tensor{DType: f4, Shape: []int64{4}, Data: make([]byte, 15)}, nil, ErrInvalidTensor},
		{"negative dim", Tensor{DType: f4, Shape: []int64{-1}}, nil, ErrInvalidTensor},
		{"overflow", Tensor{DType: f4, Shape: []int64{1 << 40, 1 << 40}}, nil, ErrInvalidTensor},
		{"bad dtype", Tensor{DType: f4.WithOrder('|'), Shape: []int64{1}, Data: make([]byte, 4)}, nil, ErrInvalidTensor},
		{"lossy refused", Tensor{DType: f4, Shape: []int64{1}, Data: make([]byte, 4)}, func(c *Config) { c.Strategy = Sparse }, ErrLossyNotAllowed},
		{"chunk size", Tensor{DType: f4, Shape: []int64{1}, Data: make([]byte, 4)}, func(c *Config) { c.ChunkSize = 0 }, ErrInvalidConfig},
		{"level", Tensor{DType: f4, Shape: []int64{1}, Data: make([]byte, 4)}, func(c *Config) { c.CompressionLevel = 12 }, ErrInvalidConfig},
		{"strategy", Tensor{DType: f4, Shape: []int64{1}, Data: make([]byte, 4)}, func(c *Config) { c.Strategy = "zip" }, ErrInvalidConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			if _, err := Encode(c.t, nil, cfg); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestEncodeIsDeterministic(t *testing.T) {
	dc := dtypeCases[1]
	td, rd := genPair(dc, 20000, 4)
	shape := []int64{20000}
	var first []byte
	for _, workers := range []int{1, 2, 4} {
		cfg := DefaultConfig()
		cfg.ChunkSize, cfg.Concurrency = 4096, workers
		cfg.SkipEncodeCheck = workers == 2 // the check must not change the bytes
		obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, cfg)
		if first == nil {
			first = obj
		} else if !bytes.Equal(obj, first) {
			t.Fatalf("%d workers produced different bytes", workers)
		}
	}
}

func TestChunksFor(t *testing.T) {
	dc := dtypeCases[2]
	td, _ := genPair(dc, 1000, 1) // 4000 bytes, chunks of 1000
	cfg := DefaultConfig()
	cfg.ChunkSize = 1000
	o := openT(t, encodeT(t, Tensor{DType: dc.dt, Shape: []int64{1000}, Data: td}, nil, cfg))
	cases := []struct{ off, n, first, last int64 }{
		{0, 1, 0, 0}, {999, 2, 0, 1}, {0, 4000, 0, 3}, {3999, 100, 3, 3}, {4000, 1, 0, -1}, {5, 0, 0, -1},
	}
	for _, c := range cases {
		f, l := o.ChunksFor(c.off, c.n)
		if int64(f) != c.first || int64(l) != c.last {
			t.Errorf("ChunksFor(%d, %d) = %d, %d; want %d, %d", c.off, c.n, f, l, c.first, c.last)
		}
	}
}

func TestContextCancel(t *testing.T) {
	dc := dtypeCases[2]
	td, _ := genPair(dc, 4000, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := DefaultConfig()
	cfg.ChunkSize = 1000
	tt := Tensor{DType: dc.dt, Shape: []int64{4000}, Data: td}
	if _, err := EncodeContext(ctx, tt, nil, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("EncodeContext: %v", err)
	}
	o := openT(t, encodeT(t, tt, nil, cfg))
	if _, err := o.DecodeAllContext(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("DecodeAllContext: %v", err)
	}
}
