package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// smallObjects returns one small object per strategy, with its reference
// and the expected reconstruction.
func smallObjects(t testing.TB) (names []Strategy, objs [][]byte, refs, wants [][]byte) {
	dc := dtypeCases[2]
	td, rd := genPair(dc, 160, 11)
	shape := []int64{8, 20}
	for _, s := range Strategies() {
		cfg := DefaultConfig()
		cfg.Strategy, cfg.AllowLossy, cfg.ChunkSize, cfg.QuantBlock = s, true, 256, 16
		tt := Tensor{DType: dc.dt, Shape: shape, Data: td}
		ref := &Tensor{DType: dc.dt, Shape: shape, Data: rd}
		if s == PerAxisScaled { // per_axis needs finite deltas
			tt.Data = bytes.Clone(rd)
			for i := 0; i+4 <= len(tt.Data); i += 4 {
				tt.Data[i] ^= byte(i)
			}
			sanitizeF32(tt.Data)
			sanitizeF32(ref.Data)
		}
		obj, err := Encode(tt, ref, cfg)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want, err := Decode(obj, ref.Data, cfg)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		names = append(names, s)
		objs = append(objs, obj)
		refs = append(refs, ref.Data)
		wants = append(wants, want)
	}
	return names, objs, refs, wants
}

// sanitizeF32 replaces non-finite float32 values by 1 in place.
func sanitizeF32(b []byte) {
	b = b[:len(b):len(b)]
	for i := 0; i+4 <= len(b); i += 4 {
		if binary.LittleEndian.Uint32(b[i:])&0x7f800000 == 0x7f800000 {
			binary.LittleEndian.PutUint32(b[i:], 0x3f800000)
		}
	}
}

func TestEveryBitFlipIsCaught(t *testing.T) {
	names, objs, refs, wants := smallObjects(t)
	for k, obj := range objs {
		t.Run(string(names[k]), func(t *testing.T) {
			bad := bytes.Clone(obj)
			for bit := 0; bit < 8*len(obj); bit++ {
				bad[bit/8] ^= 1 << (bit % 8)
				got, err := Decode(bad, refs[k], Config{})
				if err == nil && !bytes.Equal(got, wants[k]) {
					t.Fatalf("flip of bit %d decoded to wrong bytes", bit)
				}
				if err == nil {
					t.Fatalf("flip of bit %d went undetected", bit)
				}
				bad[bit/8] ^= 1 << (bit % 8)
			}
		})
	}
}

func TestTruncationIsCaught(t *testing.T) {
	names, objs, refs, _ := smallObjects(t)
	for k, obj := range objs {
		t.Run(string(names[k]), func(t *testing.T) {
			for n := 0; n < len(obj); n++ {
				_, err := Decode(obj[:n], refs[k], Config{})
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated to %d of %d bytes: %v", n, len(obj), err)
				}
			}
			// Trailing garbage is corrupt too.
			if _, err := Decode(append(bytes.Clone(obj), 0), refs[k], Config{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

func TestNewerVersion(t *testing.T) {
	_, objs, refs, _ := smallObjects(t)
	bad := bytes.Clone(objs[0])
	binary.LittleEndian.PutUint16(bad[4:], maxFormatVersion+1)
	if _, err := Decode(bad, refs[0], Config{}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("got %v", err)
	}
}

func TestHostileHeader(t *testing.T) {
	// A header claiming a huge tensor with a CRC that matches must still be
	// refused before any allocation, because the chunk table cannot fit.
	h := Header{
		DType: dtypeCases[2].dt, Shape: []int64{1 << 40}, ChunkSize: 1 << 20,
		RawSize: 4 << 40, NumChunks: 4 << 20,
	}
	obj := marshalHeader(&h, Auto.id(), 0, nil, nil)
	if _, err := Open(bytes.NewReader(obj), int64(len(obj))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
	allocs := testing.AllocsPerRun(10, func() { _, _ = Open(bytes.NewReader(obj), int64(len(obj))) })
	if allocs > 20 {
		t.Fatalf("%v allocations opening a hostile header", allocs)
	}
}

func TestLargeTensor(t *testing.T) {
	skipMatrixInShort(t)
	// More than 2^24 elements: indices and counts must not go through float32.
	n := 1<<24 + 3
	dc := dtypeCases[8] // u1
	td, rd := genPair(dc, n, 3)
	for _, s := range []Strategy{Auto, Float32Raw} {
		t.Run(string(s), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Strategy = s
			shape := []int64{int64(n)}
			obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, cfg)
			got, err := Decode(obj, rd, Config{StrictReconstruction: true})
			if err != nil || !bytes.Equal(got, td) {
				t.Fatalf("round trip of %d elements: %v", n, err)
			}
		})
	}
}

// failingReader fails every read with a non-EOF error.
type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

func TestReadErrorsAreNotCorruption(t *testing.T) {
	_, err := Open(failingReader{}, 4096)
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("an I/O error must not be reported as corruption: %v", err)
	}
}
