package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/catalog"
	"deltafs/delta"
	"deltafs/internal/testenv"
	"deltafs/npy"
)

// specialBits are float bit patterns a lossless store must keep exactly:
// NaNs with payloads, -0, infinities, subnormals.
var specialBits = map[int][]uint64{
	2: {0x7e01, 0xfc01, 0x8000, 0x7c00, 0xfc00, 0x0001, 0x83ff},
	4: {0x7fc00001, 0xff800123, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff},
	8: {0x7ff8000000000001, 0xfff0000000000abc, 0x8000000000000000, 0x7ff0000000000000, 0x0000000000000001},
}

// tensorPair returns base and fine-tuned data sections for dtype dt with n
// elements: random-ish values, a few of them special for floats, the
// fine-tune flipping low bits of one element in eight.
func tensorPair(dt npy.DType, n int, seed uint64) (base, tuned []byte) {
	base = randomBytes(seed, n*dt.Size)
	if dt.Kind == 'b' {
		for i := range base {
			base[i] &= 1
		}
	}
	if dt.Kind == 'f' || dt.Kind == 'c' {
		part := dt.Size
		if dt.Kind == 'c' {
			part = dt.Size / 2
		}
		for i, bits := range specialBits[part] {
			off := (i * 7 % n) * dt.Size
			var b [8]byte
			if dt.Order == '>' {
				binary.BigEndian.PutUint64(b[:], bits<<(64-8*part))
			} else {
				binary.LittleEndian.PutUint64(b[:], bits)
			}
			copy(base[off:off+part], b[:part])
		}
	}
	tuned = bytes.Clone(base)
	for i := 0; i < n; i += 8 {
		lo := i * dt.Size // lowest-order byte of the element
		if dt.Order == '>' {
			lo += dt.Size - 1
		}
		if dt.Kind == 'b' {
			tuned[lo] ^= 1
		} else {
			tuned[lo] ^= 0x05
		}
	}
	return base, tuned
}

var allDescrs = []string{"<f2", "<f4", "<f8", ">f4", ">f8", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", ">i8", "<u8", "|b1", "<c8", "<c16"}

func losslessStrategies() []delta.Strategy {
	var out []delta.Strategy
	for _, s := range delta.Strategies() {
		if s.IsLossless() {
			out = append(out, s)
		}
	}
	return out
}

// TestRoundTripEveryDTypeAndStrategy ingests a base tensor and a fine-tune
// of it for every dtype and lossless strategy and reads both back
// byte-identical (the fine-tune through its reference).
func TestRoundTripEveryDTypeAndStrategy(t *testing.T) {
	cfg := delta.DefaultConfig()
	cfg.ChunkSize = 4096 // several chunks per tensor
	s := newStore(t, Options{Delta: cfg})
	ctx := context.Background()
	mustMkdir(t, s, "base")
	mustMkdir(t, s, "ft")
	if err := s.SetBase(ctx, "ft", "base"); err != nil {
		t.Fatal(err)
	}
	deltas := 0
	for di, descr := range allDescrs {
		dt, err := npy.ParseDescr(descr)
		if err != nil {
			t.Fatal(err)
		}
		shape := []int64{37, 41}
		base, tuned := tensorPair(dt, 37*41, uint64(di))
		name := strings.NewReplacer("<", "le", ">", "be", "|", "na").Replace(descr)
		baseFile := makeNPY(t, descr, shape, base)
		ingestBytes(t, s, "base/"+name+".npy", baseFile)
		for _, st := range losslessStrategies() {
			t.Run(descr+"/"+string(st), func(t *testing.T) {
				path := "ft/" + name + "_" + string(st) + ".npy"
				// Same relative path as the base is what finds the
				// reference; put the tuned tensor there, then move it.
				ftFile := makeNPY(t, descr, shape, tuned)
				tmp := "ft/" + name + ".npy"
				fi, err := tryIngest(s, tmp, ftFile, IngestOptions{Strategy: st})
				if err != nil {
					t.Fatalf("ingest: %v", err)
				}
				if err := s.Rename(ctx, tmp, path); err != nil {
					t.Fatal(err)
				}
				if fi.Lossy {
					t.Errorf("lossless strategy %s stored lossy", st)
				}
				if fi.Base != "" {
					deltas++
					if fi.Base != "base/"+name+".npy" {
						t.Errorf("Base = %q", fi.Base)
					}
				}
				if got := readFile(t, s, path); !bytes.Equal(got, ftFile) {
					t.Fatalf("fine-tune read back differs (strategy stored %s)", fi.Strategy)
				}
				if got := readFile(t, s, "base/"+name+".npy"); !bytes.Equal(got, baseFile) {
					t.Fatal("base read back differs")
				}
			})
		}
	}
	if deltas == 0 {
		t.Error("no fine-tune was stored as a delta")
	}
	t.Logf("%d of %d fine-tunes stored as deltas", deltas, len(allDescrs)*len(losslessStrategies()))
}

// TestNonCanonicalHeadersComeBackIdentical stores .npy files whose headers
// numpy wrote in other forms (format 2.0, 3.0, extra padding and spaces)
// and reads them back byte for byte.
func TestNonCanonicalHeadersComeBackIdentical(t *testing.T) {
	py := testenv.Python(t)
	dir := t.TempDir()
	script := `
import numpy as np, sys, os
d = sys.argv[1]
a = (np.arange(3000, dtype=np.float32) * 0.001).reshape(30, 100)
np.save(os.path.join(d, "canonical.npy"), a)
with open(os.path.join(d, "v2.npy"), "wb") as f:
    np.lib.format.write_array(f, a, version=(2, 0))
with open(os.path.join(d, "v3.npy"), "wb") as f:
    np.lib.format.write_array(f, a, version=(3, 0))
np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(a))
np.save(os.path.join(d, "scalar.npy"), np.float64(-0.0))
np.save(os.path.join(d, "empty.npy"), np.zeros((0, 5), dtype=np.int16))
# A hand-padded v1 header: numpy reads it, deltafs must keep its bytes.
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (30, 100),   }"
hdr = hdr + " " * (128 - 10 - len(hdr) - 1) + "\n"
with open(os.path.join(d, "spaces.npy"), "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + a.tobytes())
assert np.array_equal(np.load(os.path.join(d, "spaces.npy")), a)
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	s := newStore(t, Options{})
	mustMkdir(t, s, "m")
	for _, name := range []string{"canonical", "v2", "v3", "fortran", "scalar", "empty", "spaces"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, name+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			fi := ingestBytes(t, s, "m/"+name+".npy", want)
			if fi.Kind != catalog.KindTensor {
				t.Fatalf("stored as kind %d, want a tensor", fi.Kind)
			}
			if fi.Size != int64(len(want)) {
				t.Errorf("Size = %d, want %d", fi.Size, len(want))
			}
			if got := readFile(t, s, "m/"+name+".npy"); !bytes.Equal(got, want) {
				t.Errorf("read back differs from numpy's file")
			}
		})
	}
}

// TestReadBoundaries reads at the edges of header, chunks and file.
func TestReadBoundaries(t *testing.T) {
	cfg := delta.DefaultConfig()
	cfg.ChunkSize = 1000 // rounded down to 250 float32s
	s := newStore(t, Options{Delta: cfg})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	file := makeNPY(t, "<f4", []int64{2601}, f32bytes(weights(7, 2601))) // 10.4 chunks
	ingestBytes(t, s, "m/w.npy", file)
	f, err := s.Open(ctx, "m/w.npy")
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(file))
	if f.Size() != size {
		t.Fatalf("Size = %d, want %d", f.Size(), size)
	}
	hlen := int64(128)
	tests := []struct {
		name    string
		off, n  int64
		wantN   int64
		wantEOF bool
	}{
		{"zero length", 0, 0, 0, false},
		{"zero length at end", size, 0, 0, false},
		{"first byte", 0, 1, 1, false},
		{"header only", 0, hlen, hlen, false},
		{"header and data", hlen - 3, 10, 10, false},
		{"first chunk exactly", hlen, 1000, 1000, false},
		{"chunk edge", hlen + 999, 2, 2, false},
		{"across three chunks", hlen + 500, 2000, 2000, false},
		{"last chunk", hlen + 10000, 404, 404, false},
		{"whole file", 0, size, size, false},
		{"past end", size - 5, 10, 5, true},
		{"at end", size, 10, 0, true},
		{"beyond end", size + 100, 10, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, tt.n)
			n, err := f.ReadAtContext(ctx, buf, tt.off)
			if int64(n) != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if tt.wantEOF != (err == io.EOF) || (err != nil && err != io.EOF) {
				t.Errorf("err = %v, want EOF %v", err, tt.wantEOF)
			}
			if tt.off < size && !bytes.Equal(buf[:n], file[tt.off:tt.off+int64(n)]) {
				t.Errorf("bytes differ")
			}
		})
	}
	if _, err := f.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
	// A cancelled context stops a read that needs decoding.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s.chunks.Purge()
	if _, err := f.ReadAtContext(cctx, make([]byte, 10), hlen); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: err = %v", err)
	}
}

// TestSpecialFloatsBitExact checks NaN payloads, -0, infinities and
// subnormals survive a delta round trip in every float width.
func TestSpecialFloatsBitExact(t *testing.T) {
	s := newStoreWithBase(t, Options{})
	n := 4096
	w := weights(3, n)
	tuned := fineTune(4, w, 0.05)
	tuned[0] = float32(math.Copysign(0, -1))
	tuned[1] = math.Float32frombits(0x7fc0beef)
	tuned[2] = float32(math.Inf(-1))
	tuned[3] = math.Float32frombits(3)
	baseFile := makeNPY(t, "<f4", []int64{int64(n)}, f32bytes(w))
	ftFile := makeNPY(t, "<f4", []int64{int64(n)}, f32bytes(tuned))
	ingestBytes(t, s, "b/x.npy", baseFile)
	fi := ingestBytes(t, s, "f/x.npy", ftFile)
	if fi.Base != "b/x.npy" {
		t.Errorf("Base = %q, want b/x.npy", fi.Base)
	}
	if got := readFile(t, s, "f/x.npy"); !bytes.Equal(got, ftFile) {
		t.Fatal("special values not bit-exact")
	}
}
