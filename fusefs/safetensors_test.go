package fusefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"deltafs/internal/testenv"
	"deltafs/safetensors"
	"deltafs/store"
)

// stFile returns a safetensors file of bf16 and f32 tensors; ft perturbs
// the values as a fine-tune does.
func stFile(t testing.TB, seed uint64, ft bool) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var tensors []safetensors.Tensor
	for _, name := range []string{"model.layers.0.q_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.embed_tokens.weight"} {
		n := 256 * 512
		data := make([]byte, 2*n)
		for i := range n {
			v := float32(r.NormFloat64() * 0.02)
			if ft && i%2 == 0 {
				v *= 1.01
			}
			binary.LittleEndian.PutUint16(data[2*i:], uint16(math.Float32bits(v)>>16))
		}
		tensors = append(tensors, safetensors.Tensor{Spec: safetensors.Spec{Name: name, DType: safetensors.BF16, Shape: []int64{256, 512}}, Data: data})
	}
	norm := make([]byte, 4*512)
	for i := range 512 {
		binary.LittleEndian.PutUint32(norm[4*i:], math.Float32bits(1+float32(i)/1000))
	}
	tensors = append(tensors, safetensors.Tensor{Spec: safetensors.Spec{Name: "model.norm.weight", DType: safetensors.F32, Shape: []int64{512}}, Data: norm})
	var buf bytes.Buffer
	if _, err := safetensors.Write(&buf, map[string]string{"format": "pt"}, tensors); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSafetensorsMount: a safetensors file copied into the mount is split
// into tensors against the base's, and reads back byte-identical through
// read, mmap and numpy's memmap, also after a remount; a malformed one is
// kept whole.
func TestSafetensorsMount(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, store.Options{})
	src := t.TempDir()
	base, ft := stFile(t, 1, false), stFile(t, 1, true)
	if err := os.MkdirAll(filepath.Join(src, "base"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "base", "model.safetensors"), base, 0o644)
	os.WriteFile(filepath.Join(src, "ft.safetensors"), ft, 0o644)
	os.WriteFile(filepath.Join(src, "bad.safetensors"), ft[:len(ft)-3], 0o644)
	if _, err := s.Import(ctx, filepath.Join(src, "base"), "base", store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir(ctx, "ft"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBase(ctx, "ft", "base"); err != nil {
		t.Fatal(err)
	}
	m := mountStore(t, s, MountOptions{})
	target := filepath.Join(m.Dir(), "ft", "model.safetensors")
	run(t, "cp", filepath.Join(src, "ft.safetensors"), target)
	run(t, "cp", filepath.Join(src, "bad.safetensors"), filepath.Join(m.Dir(), "ft", "bad.safetensors"))

	tensors, err := s.Tensors(ctx, "ft/model.safetensors")
	if err != nil || len(tensors) != 4 {
		t.Fatalf("tensors: %v, %v", tensors, err)
	}
	for _, ti := range tensors[:3] {
		if !ti.Delta {
			t.Errorf("tensor %s not stored against the base", ti.Name)
		}
	}
	if fi, err := s.Stat(ctx, "ft/bad.safetensors"); err != nil || fi.Kind != store.KindBlob || fi.Strategy == store.PartsStrategy {
		t.Fatalf("malformed file: %+v, %v", fi, err)
	}
	check := func(dir string) {
		t.Helper()
		for name, want := range map[string][]byte{"ft/model.safetensors": ft, "ft/bad.safetensors": ft[:len(ft)-3], "base/model.safetensors": base} {
			p := filepath.Join(dir, name)
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: read back differs (%v)", name, err)
			}
			st, err := os.Stat(p)
			if err != nil || st.Size() != int64(len(want)) {
				t.Fatalf("%s: size %v, %v", name, st, err)
			}
		}
		// mmap, then read one tensor in the middle
		f, err := os.Open(filepath.Join(dir, "ft/model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		mm, err := syscall.Mmap(int(f.Fd()), 0, len(ft), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Munmap(mm)
		h, _ := safetensors.ParseHeader(ft, int64(len(ft)))
		ti, _ := h.Lookup("model.layers.0.mlp.up_proj.weight")
		lo, hi := h.DataStart()+ti.Begin, h.DataStart()+ti.End
		if !bytes.Equal(mm[lo:hi], ft[lo:hi]) {
			t.Fatal("mmap of a tensor in the middle differs")
		}
	}
	check(m.Dir())
	// numpy's memmap and Python's mmap see the exact bytes.
	out := python(t, `
import mmap, sys, json, struct
import numpy as np
p = sys.argv[1]
with open(p, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
b, e = h["model.norm.weight"]["data_offsets"]
a = np.memmap(p, dtype="<f4", mode="r", offset=8 + n + b, shape=((e - b) // 4,))
assert bytes(mm[8 + n + b:8 + n + e]) == a.tobytes()
print(float(a[0]), float(a[511]))
`, target)
	last := strconv.FormatFloat(float64(1+float32(511)/1000), 'g', -1, 64)
	if out != "1.0 "+last+"\n" {
		t.Fatalf("numpy read %q", out)
	}
	// torch.frombuffer over an mmap of the mounted file reads a bf16 tensor
	// in the middle bit for bit.
	torchOut := run(t, testenv.PythonTorch(t), "-c", `
import mmap, sys, json, struct
import torch
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
b, e = h["model.layers.0.mlp.up_proj.weight"]["data_offsets"]
t = torch.frombuffer(bytearray(mm[8 + n + b:8 + n + e]), dtype=torch.bfloat16).reshape(256, 512)
print("bits", t.view(torch.int16).numpy().tobytes().hex())
`, target)
	{
		h, _ := safetensors.ParseHeader(ft, int64(len(ft)))
		ti, _ := h.Lookup("model.layers.0.mlp.up_proj.weight")
		want := hex.EncodeToString(ft[h.DataStart()+ti.Begin : h.DataStart()+ti.End])
		if !strings.Contains(torchOut, "bits "+want+"\n") {
			t.Fatal("torch.frombuffer of a tensor of the mounted file differs from the original bytes")
		}
	}
	// After a remount, the same bytes.
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	m2 := mountAt(t, s, m.Dir(), MountOptions{})
	check(m2.Dir())
}
