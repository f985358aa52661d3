package analysis

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"

	"deltafs/npy"
)

// smallModelTensors returns the small tensors of a synthetic model: layer
// norm weights near 1, biases near 0 and small embeddings-like rows, as
// bfloat16-in-float32 and float16 data — many small, similar tensors.
func smallModelTensors(seed uint64, count int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var out [][]byte
	for i := 0; i < count; i++ {
		n := 256 + r.IntN(256)
		vals := make([]float64, n)
		var dt npy.DType
		bf16 := false
		switch i % 3 {
		case 0: // norm weight
			for j := range vals {
				vals[j] = 1 + r.NormFloat64()*0.02
			}
			dt, bf16 = npy.Float32, true
		case 1: // bias
			for j := range vals {
				vals[j] = r.NormFloat64() * 0.01
			}
			dt = npy.Float16
		default: // sparse-ish bias: many exact zeros
			for j := range vals {
				if r.IntN(4) == 0 {
					vals[j] = r.NormFloat64() * 0.05
				}
			}
			dt, bf16 = npy.Float32, true
		}
		out = append(out, tensorOf(dt, bf16, vals).Data)
	}
	return out
}

// TestDictionaryBeatsPlain: on small similar tensors of one model, a
// dictionary trained on some of them compresses the others smaller than
// zstd without one (same level, entropy-coded literals), and round-trips.
func TestDictionaryBeatsPlain(t *testing.T) {
	train := smallModelTensors(1, 300)
	test := smallModelTensors(2, 100)
	d, err := TrainDictionary(train, DictConfig{Size: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithAllLitEntropyCompression(true), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	raw, withDict, without := 0, 0, 0
	for _, s := range test {
		enc, err := CompressWithDictionary(d, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecompressWithDictionary(d, enc, len(s))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, s) {
			t.Fatal("dictionary round trip differs")
		}
		raw += len(s)
		withDict += len(enc)
		without += len(plain.EncodeAll(s, nil))
	}
	t.Logf("%d small tensors, %d bytes: zstd %d (%.2f×), with a %d-byte dictionary %d (%.2f×)",
		len(test), raw, without, float64(raw)/float64(without), len(d.Bytes()), withDict, float64(raw)/float64(withDict))
	if withDict >= without {
		t.Errorf("dictionary did not help: %d >= %d bytes", withDict, without)
	}
	// Reloading the stored dictionary decodes the same frames.
	d2, err := LoadDictionary(d.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := CompressWithDictionary(d, test[0])
	if got, err := DecompressWithDictionary(d2, enc, len(test[0])); err != nil || !bytes.Equal(got, test[0]) {
		t.Fatalf("reloaded dictionary: %v", err)
	}
}

func TestDictionaryErrors(t *testing.T) {
	train := smallModelTensors(3, 50)
	d, err := TrainDictionary(train, DictConfig{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	other, err := TrainDictionary(smallModelTensors(4, 50), DictConfig{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := CompressWithDictionary(d, train[0])
	if _, err := DecompressWithDictionary(other, enc, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong dictionary: %v", err)
	}
	if _, err := DecompressWithDictionary(d, enc, len(train[0])-1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("size limit: %v", err)
	}
	if _, err := DecompressWithDictionary(d, enc[:len(enc)-2], 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := LoadDictionary([]byte("not a dictionary")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadDictionary: %v", err)
	}
	for _, tc := range []struct {
		name    string
		samples [][]byte
		cfg     DictConfig
	}{
		{"one sample", train[:1], DictConfig{}},
		{"tiny samples", [][]byte{{1}, {2}}, DictConfig{}},
		{"size", train, DictConfig{Size: 10}},
		{"segment", train, DictConfig{SegmentSize: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := TrainDictionary(tc.samples, tc.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func FuzzDecompressWithDictionary(f *testing.F) {
	train := smallModelTensors(5, 40)
	d, err := TrainDictionary(train, DictConfig{Size: 2048})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range train[:4] {
		enc, _ := CompressWithDictionary(d, s)
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, enc []byte) {
		const limit = 1 << 16
		out, err := DecompressWithDictionary(d, enc, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("output of %d bytes beyond the limit", len(out))
		}
	})
}

func FuzzLoadDictionary(f *testing.F) {
	d, err := TrainDictionary(smallModelTensors(6, 20), DictConfig{Size: 1024})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(d.Bytes())
	f.Add([]byte{0x37, 0xa4, 0x30, 0xec, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := LoadDictionary(raw)
		if err != nil {
			return
		}
		enc, err := CompressWithDictionary(d, []byte("some bytes to compress, some bytes"))
		if err != nil {
			return
		}
		if _, err := DecompressWithDictionary(d, enc, 1<<10); err != nil {
			t.Fatalf("a loaded dictionary cannot decode its own frame: %v", err)
		}
	})
}
