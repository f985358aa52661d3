package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"

	"deltafs/delta"
	"deltafs/npy"
)

// Benchmarks of the utilities, each beside zstd SpeedDefault (≈ zstd -3,
// literals entropy-coded) of the same bytes as the baseline.

func zstd3(b *testing.B, data []byte) int {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithAllLitEntropyCompression(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	return len(enc.EncodeAll(data, nil))
}

// sparseXOR returns the XOR delta of a bf16-in-float32 tensor of which
// frozenFrac of the elements are unchanged.
func sparseXOR(n int, frozenFrac float64) []byte {
	base, tune := finetuneValues(n/1024, 1024, 4)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range tune {
		if r.Float64() < frozenFrac {
			tune[i] = base[i]
		}
	}
	bt, tt := tensorOf(npy.Float32, true, base), tensorOf(npy.Float32, true, tune)
	x := make([]byte, len(bt.Data))
	for i := range x {
		x[i] = bt.Data[i] ^ tt.Data[i]
	}
	return x
}

func BenchmarkCompressSparse(b *testing.B) {
	x := sparseXOR(1<<20, 0.95)
	enc, _ := CompressSparse(x, 4)
	b.Run("rle", func(b *testing.B) {
		b.SetBytes(int64(len(x)))
		for b.Loop() {
			if _, err := CompressSparse(x, 4); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(x))/float64(len(enc)), "ratio")
	})
	b.Run("rle-decode", func(b *testing.B) {
		b.SetBytes(int64(len(x)))
		for b.Loop() {
			if _, err := DecompressSparse(enc, len(x)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(x))/float64(len(enc)), "ratio")
	})
	b.Run("baseline-zstd3", func(b *testing.B) {
		b.SetBytes(int64(len(x)))
		var n int
		for b.Loop() {
			n = zstd3(b, x)
		}
		b.ReportMetric(float64(len(x))/float64(n), "ratio")
	})
}

func BenchmarkAdaptiveQuantize(b *testing.B) {
	base, tune := finetuneValues(1024, 1024, 5)
	d := make([]float64, len(base))
	for i := range d {
		d[i] = tune[i] - base[i]
	}
	t := tensorOf(npy.Float32, false, d)
	for _, bits := range []int{8, 16} {
		b.Run(map[int]string{8: "int8", 16: "int16"}[bits], func(b *testing.B) {
			b.SetBytes(int64(len(t.Data)))
			var info QuantInfo
			for b.Loop() {
				var err error
				if _, info, err = AdaptiveQuantize(t, QuantConfig{Bits: bits}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(t.Data))/float64(info.Size), "ratio")
			b.ReportMetric(info.MaxError/rmsOf(d), "maxerr/rms")
		})
	}
	b.Run("baseline-zstd3", func(b *testing.B) {
		b.SetBytes(int64(len(t.Data)))
		var n int
		for b.Loop() {
			n = zstd3(b, t.Data)
		}
		b.ReportMetric(float64(len(t.Data))/float64(n), "ratio")
	})
}

func rmsOf(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s / float64(len(v)))
}

func BenchmarkDictionary(b *testing.B) {
	train := smallModelTensors(1, 300)
	test := smallModelTensors(2, 100)
	d, err := TrainDictionary(train, DictConfig{Size: 16 << 10})
	if err != nil {
		b.Fatal(err)
	}
	raw := 0
	for _, s := range test {
		raw += len(s)
	}
	b.Run("with-dictionary", func(b *testing.B) {
		b.SetBytes(int64(raw))
		coded := 0
		for b.Loop() {
			coded = 0
			for _, s := range test {
				enc, err := CompressWithDictionary(d, s)
				if err != nil {
					b.Fatal(err)
				}
				coded += len(enc)
			}
		}
		b.ReportMetric(float64(raw)/float64(coded), "ratio")
	})
	b.Run("baseline-zstd3", func(b *testing.B) {
		b.SetBytes(int64(raw))
		coded := 0
		for b.Loop() {
			coded = 0
			for _, s := range test {
				coded += zstd3(b, s)
			}
		}
		b.ReportMetric(float64(raw)/float64(coded), "ratio")
	})
}

func BenchmarkDeltaStatistics(b *testing.B) {
	base, tune := finetuneValues(1024, 1024, 6)
	t, r := tensorOf(npy.Float32, true, tune), tensorOf(npy.Float32, true, base)
	b.SetBytes(int64(len(t.Data)))
	for b.Loop() {
		if _, err := DeltaStatistics(t, &r, StatsConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecommend(b *testing.B) {
	base, tune := finetuneValues(1024, 1024, 7)
	t, r := tensorOf(npy.Float32, true, tune), tensorOf(npy.Float32, true, base)
	t.Shape, r.Shape = []int64{1024, 1024}, []int64{1024, 1024}
	b.SetBytes(int64(len(t.Data)))
	var rec *Recommendation
	for b.Loop() {
		var err error
		if rec, err = Recommend(t, &r, RecommendConfig{SampleBytes: 1 << 20}); err != nil {
			b.Fatal(err)
		}
	}
	if rec.Best != delta.Auto {
		b.Logf("best %s", rec.Best)
	}
	b.ReportMetric(rec.Candidates[0].Ratio, "best-ratio")
}
