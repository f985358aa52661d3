package delta

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/internal/testenv"
	"deltafs/npy"
)

// Golden objects of format versions 1 and 2 (testdata/objects): they must decode to
// the committed expected tensors forever. DELTAFS_WRITE_GOLDEN=1 writes the
// golden objects that do not exist yet; existing ones are never rewritten.

const goldenDir = "../testdata/objects"

type goldenCase struct {
	name     string
	strategy Strategy
	dc       dtypeCase
	withRef  bool
	finite   bool // per_axis_scaled needs finite deltas
	// autoMethod, when non-zero, is 1 + an auto method at least one chunk
	// must use (the object exists to pin that method's payload).
	autoMethod uint8
}

var goldenCases = []goldenCase{
	{"auto_bf16", Auto, dtypeCases[1], true, false, 0},
	{"auto_alone_f8", Auto, dtypeCases[3], false, false, 0},
	{"auto_c8", Auto, dtypeCases[13], true, false, 0},
	{"float32_raw_be_f4", Float32Raw, dtypeCases[15], true, false, 0},
	{"compressed_i4", Compressed, dtypeCases[6], true, false, 0},
	{"xor_float32_f4", XorFloat32, dtypeCases[2], true, false, 0},
	{"xor_bfloat16_bf16", XorBFloat16, dtypeCases[1], true, false, 0},
	{"exponent_mantissa_f2", ExponentMantissa, dtypeCases[0], true, false, 0},
	{"int8_quantized_f4", Int8Quantized, dtypeCases[2], true, false, 0},
	{"int16_quantized_f2", Int16Quantized, dtypeCases[0], true, false, 0},
	{"sparse_f4", Sparse, dtypeCases[2], true, false, 0},
	{"per_axis_scaled_f4", PerAxisScaled, dtypeCases[2], true, true, 0},
	{"auto_zigzag_bf16", Auto, dtypeCases[1], true, false, 1 + autoZigzag},
	{"auto_zigzag_f2", Auto, dtypeCases[0], true, false, 1 + autoZigzag},
	// Format version 2: compact objects.
	{"compact_verbatim_u1", Auto, dtypeCases[8], false, false, 1 + methodVerbatim},
	{"compact_auto_bf16", Auto, dtypeCases[1], true, false, 1 + autoZigzag},
	{"compact_alone_f2", Auto, dtypeCases[0], false, false, 1 + autoAlone},
	{"compact_sparse_f4", Sparse, dtypeCases[2], true, false, 0},
	{"compact_per_axis_scaled_f4", PerAxisScaled, dtypeCases[2], true, true, 0},
	{"compact_empty_i8", Auto, dtypeCases[7], true, false, 0},
	// bf16 words (u2 data coded as bfloat16), format version 2: chunked and
	// compact.
	{"bf16words_u2", Auto, dtypeCases[20], true, false, 1 + autoZigzag},
	{"compact_bf16words_u2", Auto, dtypeCases[20], true, false, 1 + autoZigzag},
	// Method zigzag_signs (format version 2): differences with a rank-1
	// sign pattern, chunked (the second chunk starts mid-row) and compact.
	{"signs_f2", Auto, dtypeCases[0], true, false, 1 + autoZigzagSigns},
	{"compact_signs_bf16words_u2", Auto, dtypeCases[20], true, false, 1 + autoZigzagSigns},
}

// compact reports whether the case is a compact object (format version 2).
func (g goldenCase) compact() bool { return strings.HasPrefix(g.name, "compact_") }

// shape and chunkSize are the golden tensor's shape and the chunk size it
// was encoded with: several chunks for the chunked layout, one for compact.
func (g goldenCase) shape() []int64 {
	switch {
	case strings.Contains(g.name, "_empty_"):
		return []int64{0, 3}
	case strings.Contains(g.name, "signs"):
		return []int64{100, 96}
	case strings.Contains(g.name, "bf16words"):
		return []int64{128, 128}
	case g.compact():
		return []int64{8, 32}
	}
	return []int64{6, 50}
}

func (g goldenCase) chunkSize() int {
	switch {
	case g.compact():
		return DefaultChunkSize
	case strings.Contains(g.name, "signs"):
		return 10000
	case strings.Contains(g.name, "bf16words"):
		return 16 << 10
	}
	return 512
}

func (g goldenCase) version() uint16 {
	if g.compact() || strings.Contains(g.name, "bf16words") || strings.Contains(g.name, "signs") {
		return 2
	}
	return formatVersion
}

// writeNPY writes data as an .npy file with our canonical header.
func writeNPY(t *testing.T, path string, dt npy.DType, shape []int64, data []byte) {
	t.Helper()
	h, err := npy.FormatHeader(npy.Header{DType: dt, Shape: shape})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readNPY returns an .npy file's header and data section.
func readNPY(t *testing.T, path string) (npy.Header, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, off, err := npy.ParseHeader(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h, b[off:]
}

func TestWriteGolden(t *testing.T) {
	if os.Getenv("DELTAFS_WRITE_GOLDEN") != "1" {
		t.Skip("set DELTAFS_WRITE_GOLDEN=1 to rewrite the golden objects")
	}
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenCases {
		if _, err := os.Stat(filepath.Join(goldenDir, g.name+".dlto")); err == nil {
			continue // released: never rewrite
		}
		shape := g.shape()
		td, rd := genPair(g.dc, elems(shape), uint64(len(g.name)))
		if strings.Contains(g.name, "signs") {
			td, rd = genSignPair(g.dc, int(shape[0]), int(shape[1]), 0.8, uint64(len(g.name)))
		}
		if g.finite {
			sanitizeF32(td)
			sanitizeF32(rd)
		}
		cfg := DefaultConfig()
		cfg.Strategy, cfg.AllowLossy, cfg.ChunkSize, cfg.QuantBlock = g.strategy, true, g.chunkSize(), 64
		tt := Tensor{DType: g.dc.dt, Shape: shape, Data: td}
		var ref *Tensor
		if g.withRef {
			ref = &Tensor{DType: g.dc.dt, Shape: shape, Data: rd}
			writeNPY(t, filepath.Join(goldenDir, g.name+".ref.npy"), g.dc.dt, shape, rd)
		}
		obj := encodeT(t, tt, ref, cfg)
		want, err := Decode(obj, rdIf(g.withRef, rd), Config{StrictReconstruction: true})
		if err != nil {
			t.Fatal(err)
		}
		writeNPY(t, filepath.Join(goldenDir, g.name+".want.npy"), g.dc.dt, shape, want)
		if err := os.WriteFile(filepath.Join(goldenDir, g.name+".dlto"), obj, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func rdIf(ok bool, b []byte) []byte {
	if ok {
		return b
	}
	return nil
}

func TestGoldenObjects(t *testing.T) {
	for _, g := range goldenCases {
		t.Run(g.name, func(t *testing.T) {
			obj, err := os.ReadFile(filepath.Join(goldenDir, g.name+".dlto"))
			if err != nil {
				t.Fatal(err)
			}
			wh, want := readNPY(t, filepath.Join(goldenDir, g.name+".want.npy"))
			var ref []byte
			if g.withRef {
				_, ref = readNPY(t, filepath.Join(goldenDir, g.name+".ref.npy"))
			}
			o := openT(t, obj)
			h := o.Header()
			if h.FormatVersion != g.version() || h.Strategy != g.strategy || h.DType != wh.DType {
				t.Fatalf("header %+v", h)
			}
			got, err := o.DecodeAll(ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("golden object no longer decodes to its expected tensor")
			}
			if strings.Contains(g.name, "bf16words") && !o.layout.float {
				t.Fatal("the words are not viewed as bfloat16")
			}
			if g.autoMethod != 0 {
				found := false
				for i := 0; i < h.NumChunks; i++ {
					found = found || o.ChunkMethod(i) == g.autoMethod-1
				}
				if !found {
					t.Fatalf("no chunk uses auto method %d", g.autoMethod-1)
				}
			}
			if g.strategy.IsLossless() {
				// The lossless ones must also still be bit-exact re-encodings.
				cfg := DefaultConfig()
				cfg.Strategy, cfg.ChunkSize = g.strategy, int(h.ChunkSize)
				var rt *Tensor
				if g.withRef {
					rt = &Tensor{DType: h.DType, Shape: h.Shape, Data: ref}
				}
				if _, err := Encode(Tensor{DType: h.DType, Shape: h.Shape, Data: got}, rt, cfg); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestGoldenTensorsLoadInNumpy checks that numpy reads the expected tensors
// to exactly the bytes whose SHA-256 the objects carry.
func TestGoldenTensorsLoadInNumpy(t *testing.T) {
	py := testenv.Python(t)
	script := `
import sys, hashlib, numpy as np
for p in sys.argv[1:]:
    a = np.load(p)
    print(hashlib.sha256(a.tobytes(order="A")).hexdigest())
`
	var paths []string
	for _, g := range goldenCases {
		paths = append(paths, filepath.Join(goldenDir, g.name+".want.npy"))
	}
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(goldenCases) {
		t.Fatalf("python printed %d hashes", len(lines))
	}
	for i, g := range goldenCases {
		obj, err := os.ReadFile(filepath.Join(goldenDir, g.name+".dlto"))
		if err != nil {
			t.Fatal(err)
		}
		h := openT(t, obj).Header()
		if lines[i] != hex.EncodeToString(h.ContentHash[:]) {
			t.Errorf("%s: numpy's bytes hash to %s, the object's content hash is %x", g.name, lines[i], h.ContentHash)
		}
	}
}
