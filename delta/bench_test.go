package delta

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"deltafs/internal/synth"
)

// Benchmarks over the synthetic generator (internal/synth). Run per core:
//
//	GOMAXPROCS=1 go test -run '^$' -bench . -benchtime 3x ./delta/
//
// Every case reports "ratio" (raw/stored) and MB/s (raw bytes); the
// baseline is klauspost zstd at SpeedDefault (zstd -3) of the raw bytes,
// measured in the same run. Lossy ones also report "maxerr" (max |t'−t|).

const benchTensorBytes = 16 << 20

type benchCase struct {
	bf16     bool
	name     string
	t        Tensor
	ref      *Tensor
	refBytes []byte
}

func benchCases(b *testing.B) []benchCase {
	b.Helper()
	var out []benchCase
	ft := synth.DefaultFineTune(7)
	for _, p := range []synth.Precision{synth.BFloat16, synth.Float16, synth.Float32} {
		base, tuned, err := synth.PairOfSize(benchTensorBytes, p, 1, ft)
		if err != nil {
			b.Fatal(err)
		}
		bt := Tensor{DType: base.DType, Shape: base.Shape, Data: base.Data}
		tt := Tensor{DType: tuned.DType, Shape: tuned.Shape, Data: tuned.Data}
		out = append(out,
			benchCase{bf16: p == synth.BFloat16, name: string(p) + "/finetune", t: tt, ref: &bt, refBytes: bt.Data},
			benchCase{bf16: p == synth.BFloat16, name: string(p) + "/base-alone", t: bt})
	}
	return out
}

func BenchmarkCodecs(b *testing.B) {
	cases := benchCases(b)
	b.Logf("generator: %d-byte (rows, 4096) matrices, base std 0.02; %s", benchTensorBytes, synth.DefaultFineTune(7).Describe())
	for _, c := range cases {
		raw := int64(len(c.t.Data))
		b.Run(c.name+"/zstd-3/encode", func(b *testing.B) {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true))
			var out []byte
			loop(b, raw, func() { out = enc.EncodeAll(c.t.Data, out[:0]) })
			reportRatio(b, c, raw, len(out))
		})
		b.Run(c.name+"/zstd-3/decode", func(b *testing.B) {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true))
			comp := enc.EncodeAll(c.t.Data, nil)
			dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
			out := make([]byte, 0, raw)
			loop(b, raw, func() { out, _ = dec.DecodeAll(comp, out[:0]) })
			reportRatio(b, c, raw, len(comp))
		})
		for _, s := range append(Strategies(), "auto-nocheck", "auto-hashed") {
			cfg := DefaultConfig()
			cfg.Strategy, cfg.AllowLossy, cfg.Concurrency = s, true, 1
			t, ref := c.t, c.ref
			switch s {
			case "auto-nocheck":
				cfg.Strategy, cfg.SkipEncodeCheck = Auto, true
			case "auto-hashed":
				// The caller knows both SHA-256 (a content-addressed store
				// does): the encoder skips hashing, self-check on.
				cfg.Strategy = Auto
				th := sha256.Sum256(t.Data)
				t.SHA256 = &th
				if ref != nil {
					rc := *ref
					rh := sha256.Sum256(rc.Data)
					rc.SHA256 = &rh
					ref = &rc
				}
			}
			var obj []byte
			b.Run(c.name+"/"+string(s)+"/encode", func(b *testing.B) {
				loop(b, raw, func() {
					var err error
					if obj, err = Encode(t, ref, cfg); err != nil {
						b.Fatal(err)
					}
				})
				reportRatio(b, c, raw, len(obj))
			})
			if obj == nil || strings.HasPrefix(string(s), "auto-") {
				continue
			}
			b.Run(c.name+"/"+string(s)+"/decode", func(b *testing.B) {
				o, err := Open(bytes.NewReader(obj), int64(len(obj)))
				if err != nil {
					b.Fatal(err)
				}
				out := make([]byte, raw)
				loop(b, raw, func() {
					for i := 0; i < o.hdr.NumChunks; i++ {
						off, n := o.ChunkRange(i)
						var r []byte
						if o.ChunkUsesReference(i) {
							r = c.refBytes[off : off+n]
						}
						if err := o.DecodeChunk(i, r, out[off:off+n]); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.ReportMetric(float64(raw)/float64(len(obj)), "ratio")
				if !s.IsLossless() {
					b.ReportMetric(maxAbsErr(c.t, out), "maxerr")
				} else if !bytes.Equal(out, c.t.Data) {
					b.Fatal("lossless decode differs")
				}
			})
		}
	}
}

// BenchmarkDecodeAll measures the whole-tensor path users of DecodeAll get:
// reference SHA-256 check, chunk decode, content SHA-256 check.
func BenchmarkDecodeAll(b *testing.B) {
	for _, c := range benchCases(b) {
		cfg := DefaultConfig()
		cfg.Concurrency = 1
		obj, err := Encode(c.t, c.ref, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/auto", func(b *testing.B) {
			loop(b, int64(len(c.t.Data)), func() {
				if _, err := Decode(obj, c.refBytes, Config{Concurrency: 1, StrictReconstruction: true}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkModel encodes a whole synthetic model fine-tune (frozen and
// retrained tensors included) with auto and reports the overall ratio.
func BenchmarkModel(b *testing.B) {
	for _, p := range []synth.Precision{synth.BFloat16, synth.Float16, synth.Float32} {
		mc := synth.DefaultConfig()
		mc.Precision = p
		base, err := synth.Base(mc)
		if err != nil {
			b.Fatal(err)
		}
		tuned, err := synth.FineTune(base, synth.DefaultFineTune(3))
		if err != nil {
			b.Fatal(err)
		}
		for _, withRef := range []bool{true, false} {
			name := string(p) + "/finetune"
			if !withRef {
				name = string(p) + "/base-alone"
			}
			b.Run(name, func(b *testing.B) {
				b.Logf("%s; %s", synth.Describe(mc), synth.DefaultFineTune(3).Describe())
				cfg := DefaultConfig()
				cfg.Concurrency = 1
				var raw, stored int64
				for b.Loop() {
					raw, stored = 0, 0
					for i := range tuned {
						t := Tensor{DType: tuned[i].DType, Shape: tuned[i].Shape, Data: tuned[i].Data}
						var ref *Tensor
						if withRef {
							ref = &Tensor{DType: base[i].DType, Shape: base[i].Shape, Data: base[i].Data}
						} else {
							t.Data = base[i].Data
						}
						obj, err := Encode(t, ref, cfg)
						if err != nil {
							b.Fatal(err)
						}
						raw += int64(len(t.Data))
						stored += int64(len(obj))
					}
				}
				b.SetBytes(raw)
				reportRatio(b, benchCase{bf16: p == synth.BFloat16}, raw, int(stored))
			})
		}
	}
}

// maxAbsErr returns max |got − want| over float elements.
func maxAbsErr(want Tensor, got []byte) float64 {
	l := layoutFor(want.DType, false)
	w, n := l.width, len(want.Data)/l.width
	worst := 0.0
	for i := 0; i < n; i++ {
		e := math.Abs(floatAt(got, w, i) - floatAt(want.Data, w, i))
		if e > worst || math.IsNaN(e) {
			worst = e
		}
	}
	return worst
}

// reportRatio reports raw/stored, and for bfloat16 data (stored as float32
// .npy) also the ratio against the bf16 bytes ("ratio_bf16").
func reportRatio(b *testing.B, c benchCase, raw int64, stored int) {
	b.ReportMetric(float64(raw)/float64(stored), "ratio")
	if c.bf16 {
		b.ReportMetric(float64(raw)/2/float64(stored), "ratio_bf16")
	}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs fn b.N times and reports, beside the wall-clock MB/s, the MB/s
// per CPU second ("cpuMB/s"): on a shared machine the wall clock counts
// time the process waited for a core, CPU time does not.
func loop(b *testing.B, bytes int64, fn func()) {
	b.SetBytes(bytes)
	runs := 0
	start := cpuTime()
	for b.Loop() {
		fn()
		runs++
	}
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(runs)/cpu.Seconds()/1e6, "cpuMB/s")
	}
}

// BenchmarkChunkSize compares auto's ratio and speed across chunk sizes
// (DESIGN.md §3: 256 KiB – 4 MiB).
func BenchmarkChunkSize(b *testing.B) {
	for _, c := range benchCases(b) {
		if c.ref == nil {
			continue
		}
		for _, cs := range []int{256 << 10, 1 << 20, 4 << 20} {
			cfg := DefaultConfig()
			cfg.Concurrency, cfg.ChunkSize = 1, cs
			raw := int64(len(c.t.Data))
			var obj []byte
			b.Run(fmt.Sprintf("%s/%dKiB/encode", c.name, cs>>10), func(b *testing.B) {
				loop(b, raw, func() {
					var err error
					if obj, err = Encode(c.t, c.ref, cfg); err != nil {
						b.Fatal(err)
					}
				})
				reportRatio(b, c, raw, len(obj))
			})
			b.Run(fmt.Sprintf("%s/%dKiB/decode", c.name, cs>>10), func(b *testing.B) {
				o, err := Open(bytes.NewReader(obj), int64(len(obj)))
				if err != nil {
					b.Fatal(err)
				}
				out := make([]byte, raw)
				loop(b, raw, func() {
					for i := 0; i < o.hdr.NumChunks; i++ {
						off, n := o.ChunkRange(i)
						if err := o.DecodeChunk(i, c.refBytes[off:off+n], out[off:off+n]); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}
