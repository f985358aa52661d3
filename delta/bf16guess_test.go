package delta

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"deltafs/npy"
)

// TestBF16GuessRevised: whether float32 data is coded as bf16 halves is
// guessed from its first bytes and checked chunk by chunk; a chunk of the
// tensor or of its reference that disproves the guess makes the whole
// tensor encode as float32. Either way the object decodes bit-exact, and its
// header says bf16 halves only when every element of both is.
func TestBF16GuessRevised(t *testing.T) {
	const n = 40_000 // 160 kB: past bf16GuessBytes, many chunks
	tests := []struct {
		name      string
		bigEndian bool
		withRef   bool
		full      int // an element of the tensor (-1: none) with nonzero low bits
		refFull   int // the same in the reference
		wantBF16  bool
	}{
		{"bf16 alone", false, false, -1, -1, true},
		{"bf16 with bf16 reference", false, true, -1, -1, true},
		{"last element float32", false, true, n - 1, -1, false},
		{"middle element float32", false, false, n / 2, -1, false},
		{"first element float32", false, true, 0, -1, false},
		{"reference float32 in a late chunk", false, true, -1, n - 3, false},
		{"big-endian bf16", true, true, -1, -1, true},
		{"big-endian, late element float32", true, false, 3 * n / 4, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dt := npy.DType{Kind: 'f', Size: 4, Order: '<'}
			if tt.bigEndian {
				dt.Order = '>'
			}
			r := rand.New(rand.NewPCG(7, 8))
			data := bf16Data(r, n, tt.full, tt.bigEndian)
			var ref *Tensor
			if tt.withRef || tt.refFull >= 0 {
				ref = &Tensor{DType: dt, Shape: []int64{n}, Data: bf16Data(r, n, tt.refFull, tt.bigEndian)}
			}
			for _, workers := range []int{1, 2, 4} {
				cfg := DefaultConfig()
				cfg.ChunkSize, cfg.Concurrency = 4096, workers
				obj := encodeT(t, Tensor{DType: dt, Shape: []int64{n}, Data: data}, ref, cfg)
				o := openT(t, obj)
				if o.layout.bf16 != tt.wantBF16 {
					t.Errorf("workers=%d: coded as bf16 halves: %v, want %v", workers, o.layout.bf16, tt.wantBF16)
				}
				var rd []byte
				if ref != nil {
					rd = ref.Data
				}
				got, err := o.DecodeAll(rd)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("workers=%d: decodes differently", workers)
				}
			}
		})
	}
}

// bf16Data returns n float32 weights that bf16 represents exactly, except
// element full (if >= 0), whose low bits are set.
func bf16Data(r *rand.Rand, n, full int, bigEndian bool) []byte {
	b := make([]byte, 4*n)
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	for i := range n {
		v := math.Float32bits(float32(r.NormFloat64()*0.02)) &^ 0xffff
		if i == full {
			v |= 0x1234
		}
		order.PutUint32(b[4*i:], v)
	}
	return b
}
