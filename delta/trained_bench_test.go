package delta

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"deltafs/npy"
	"deltafs/safetensors"
)

// BenchmarkTrainedWeights measures auto on real trained weights: the small
// transformer and full fine-tune that scripts/train_tiny.py trains on CPU
// (set DELTAFS_TRAINED to its output directory). Per tensor of the
// fine-tune, beside two baselines computed in the same run with the zstd
// command at level 19:
//   - x_vs_xor_planes: XOR with the base tensor of the same name, byte
//     planes, zstd -19 (the ZipLLM/BitX recipe), over auto against the base;
//   - x_vs_grouped: the base alone as byte-grouped zstd -19 (ZipNN's
//     recipe), over auto on the base alone;
//   - decode_GB/s: auto's decode of the fine-tune chunk by chunk
//     (DecodeChunk, the mount's path; opening the object and the
//     whole-tensor SHA-256 checks not counted), wall time, one goroutine;
//   - m4_x_vs_xor_planes and m4_decode_GB/s: the same with the sign flips
//     off (auto's method zigzag where it now picks zigzag_signs), and
//     signed_tensors: the tensors with a chunk of zigzag_signs.
//
// Sizes count every tensor, the smallest included.
func BenchmarkTrainedWeights(b *testing.B) {
	dir := os.Getenv("DELTAFS_TRAINED")
	if dir == "" {
		b.Skip("set DELTAFS_TRAINED to the output of scripts/train_tiny.py")
	}
	if _, err := exec.LookPath("zstd"); err != nil {
		b.Skip("the zstd command is needed for the baselines")
	}
	for _, prec := range []string{"bf16", "fp16"} {
		b.Run(prec, func(b *testing.B) {
			base := readTrained(b, filepath.Join(dir, prec, "base", "model.safetensors"))
			ft := readTrained(b, filepath.Join(dir, prec, "ft", "model.safetensors"))
			cfg := DefaultConfig()
			cfg.Concurrency = 1
			var raw, auto, autoM4, xorPlanes, baseAuto, grouped, decodeBytes, signed int64
			var decodeTime, decodeTimeM4 time.Duration
			for name, t := range ft {
				r, ok := base[name]
				if !ok {
					b.Fatalf("tensor %s not in the base", name)
				}
				obj, err := Encode(t, &r, cfg)
				if err != nil {
					b.Fatal(err)
				}
				alone, err := Encode(r, nil, cfg)
				if err != nil {
					b.Fatal(err)
				}
				autoSignFlips = false
				objM4, err := Encode(t, &r, cfg)
				autoSignFlips = true
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(obj, objM4) {
					signed++
				}
				got, dt, err := decodeChunks(obj, r.Data)
				decodeTime += dt
				if err != nil || !bytes.Equal(got, t.Data) {
					b.Fatalf("%s: decode: %v", name, err)
				}
				got, dt, err = decodeChunks(objM4, r.Data)
				decodeTimeM4 += dt
				if err != nil || !bytes.Equal(got, t.Data) {
					b.Fatalf("%s: decode without sign flips: %v", name, err)
				}
				autoM4 += int64(len(objM4))
				raw += int64(len(t.Data))
				decodeBytes += int64(len(t.Data))
				auto += int64(len(obj))
				baseAuto += int64(len(alone))
				xorPlanes += zstd19(b, bytePlanes(xorBytes(t.Data, r.Data), t.DType.Size))
				grouped += zstd19(b, bytePlanes(r.Data, r.DType.Size))
			}
			b.SetBytes(raw)
			b.ReportMetric(float64(xorPlanes)/float64(auto), "x_vs_xor_planes")
			b.ReportMetric(float64(grouped)/float64(baseAuto), "x_vs_grouped")
			b.ReportMetric(float64(raw)/float64(auto), "ft_ratio")
			b.ReportMetric(float64(raw)/float64(baseAuto), "base_ratio")
			b.ReportMetric(float64(decodeBytes)/decodeTime.Seconds()/1e9, "decode_GB/s")
			b.ReportMetric(float64(xorPlanes)/float64(autoM4), "m4_x_vs_xor_planes")
			b.ReportMetric(float64(decodeBytes)/decodeTimeM4.Seconds()/1e9, "m4_decode_GB/s")
			b.ReportMetric(float64(signed), "signed_tensors")
			b.ReportMetric(float64(auto), "auto_bytes")
			b.ReportMetric(float64(xorPlanes), "xor_planes_bytes")
		})
	}
}

// readTrained reads a safetensors file's tensors by name, as the store
// encodes them (bf16 as 16-bit words).
func readTrained(b *testing.B, path string) map[string]Tensor {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Skipf("trained model missing: %v", err)
	}
	h, err := safetensors.ParseHeader(data, int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	dtypes := map[safetensors.DType]npy.DType{safetensors.BF16: npy.Uint16, safetensors.F16: npy.Float16, safetensors.F32: npy.Float32, safetensors.I64: npy.Int64}
	out := make(map[string]Tensor)
	for _, ti := range h.Tensors {
		dt, ok := dtypes[ti.DType]
		if !ok {
			b.Fatalf("%s: dtype %s", ti.Name, ti.DType)
		}
		out[ti.Name] = Tensor{DType: dt, Shape: ti.Shape, Data: data[h.DataStart()+ti.Begin : h.DataStart()+ti.End]}
	}
	return out
}

// xorBytes is t XOR r, byte by byte (the same as word by word).
func xorBytes(t, r []byte) []byte {
	out := make([]byte, len(t))
	for i := range t {
		out[i] = t[i] ^ r[i]
	}
	return out
}

// bytePlanes groups byte k of every w-byte word together, k = 0..w-1.
func bytePlanes(data []byte, w int) []byte {
	out := make([]byte, 0, len(data))
	for k := range w {
		for i := k; i < len(data); i += w {
			out = append(out, data[i])
		}
	}
	return out
}

// zstd19 returns the size of data compressed by the zstd command at -19.
func zstd19(b *testing.B, data []byte) int64 {
	cmd := exec.Command("zstd", "-19", "-q", "-c", "--no-check")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("zstd: %v", err)
	}
	return int64(len(out))
}

// decodeChunks opens obj and decodes its chunks in order against ref,
// returning the data and the time spent in DecodeChunk.
func decodeChunks(obj, ref []byte) ([]byte, time.Duration, error) {
	o, err := Open(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		return nil, 0, err
	}
	out := make([]byte, o.hdr.RawSize)
	start := time.Now()
	for i := range o.hdr.NumChunks {
		off, n := o.ChunkRange(i)
		var r []byte
		if o.ChunkUsesReference(i) {
			r = ref[off : off+n]
		}
		if err := o.DecodeChunk(i, r, out[off:off+n]); err != nil {
			return nil, 0, err
		}
	}
	return out, time.Since(start), nil
}
