package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/npy"
	"deltafs/safetensors"
)

func TestRunWritesModels(t *testing.T) {
	out := t.TempDir()
	var stdout strings.Builder
	err := run([]string{"-out", out, "-dtype", "f16", "-layers", "2", "-d", "32", "-vocab", "64", "-finetunes", "2", "-seed", "7"},
		&stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"base", "ft1", "ft2"} {
		for _, name := range []string{"embed_tokens.npy", "layers/1/w2.npy", "lm_head.npy", "norm.npy"} {
			b, err := os.ReadFile(filepath.Join(out, model, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			h, off, err := npy.ParseHeader(b)
			if err != nil || h.DType != npy.Float16 {
				t.Fatalf("%s/%s: %+v, %v", model, name, h, err)
			}
			if size, _ := h.DataSize(); int64(len(b)-off) != size {
				t.Fatalf("%s/%s: %d data bytes, header says %d", model, name, len(b)-off, size)
			}
		}
		if _, err := os.Stat(filepath.Join(out, "ft3")); !os.IsNotExist(err) {
			t.Fatal("a third fine-tune was written")
		}
	}
	if !strings.Contains(stdout.String(), "d=32 ffn=80 layers=2") || !strings.Contains(stdout.String(), "ft2: fine-tune") {
		t.Errorf("report:\n%s", stdout.String())
	}
	// w2 is (d, ffn) with ffn = 43/16·d rounded to 16: 80 for d=32.
	b, _ := os.ReadFile(filepath.Join(out, "base", "layers", "0", "w2.npy"))
	if h, _, _ := npy.ParseHeader(b); len(h.Shape) != 2 || h.Shape[0] != 32 || h.Shape[1] != 80 {
		t.Fatalf("w2 shape %v", h.Shape)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-out", "OUT", "-dtype", "int8"},
		{"-out", "OUT", "-d", "0"},
		{"-out", "OUT", "-finetunes", "-1"},
		{"-out", "OUT", "-frozen", "2"},
		{"-out", "OUT", "extra"},
		{"-out", "OUT", "-format", "pickle"},
	} {
		dir := t.TempDir()
		for i, a := range args {
			if a == "OUT" {
				args[i] = dir
			}
		}
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("run(%q) wrote %d entries before failing", args, len(entries))
		}
	}
}

// -format safetensors writes the same tensors as -format npy, as one
// model.safetensors (bf16 as 2-byte BF16, f16 and f32 as they are) and a
// config.json; the tensor named layers.0.wq holds the bytes of
// layers/0/wq.npy (bf16: the high halves of its float32 values).
func TestRunWritesSafetensors(t *testing.T) {
	for _, tc := range []struct {
		dtype string
		want  safetensors.DType
	}{
		{"bf16", safetensors.BF16},
		{"f16", safetensors.F16},
		{"f32", safetensors.F32},
	} {
		t.Run(tc.dtype, func(t *testing.T) {
			out := t.TempDir()
			common := []string{"-dtype", tc.dtype, "-layers", "2", "-d", "32", "-vocab", "64", "-finetunes", "1", "-seed", "3"}
			if err := run(append([]string{"-out", filepath.Join(out, "npy")}, common...), io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			if err := run(append([]string{"-out", filepath.Join(out, "st"), "-format", "safetensors"}, common...), io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			for _, model := range []string{"base", "ft1"} {
				cfg, err := os.ReadFile(filepath.Join(out, "st", model, "config.json"))
				if err != nil || !strings.Contains(string(cfg), `"num_hidden_layers": 2`) {
					t.Fatalf("%s config.json: %q, %v", model, cfg, err)
				}
				file, err := os.ReadFile(filepath.Join(out, "st", model, "model.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				h, err := safetensors.ParseHeader(file, int64(len(file)))
				if err != nil {
					t.Fatal(err)
				}
				if h.FileSize() != int64(len(file)) || len(h.Tensors) != 2*9+3 || h.Metadata["format"] != "pt" {
					t.Fatalf("%s: file size %d of %d, %d tensors, metadata %v", model, h.FileSize(), len(file), len(h.Tensors), h.Metadata)
				}
				for _, name := range []string{"layers/0/wq", "layers/1/w2", "norm", "embed_tokens"} {
					ti, ok := h.Lookup(strings.ReplaceAll(name, "/", "."))
					if !ok || ti.DType != tc.want {
						t.Fatalf("%s %s: %+v, %v", model, name, ti, ok)
					}
					got := file[h.DataStart()+ti.Begin : h.DataStart()+ti.End]
					b, err := os.ReadFile(filepath.Join(out, "npy", model, filepath.FromSlash(name)+".npy"))
					if err != nil {
						t.Fatal(err)
					}
					_, off, err := npy.ParseHeader(b)
					if err != nil {
						t.Fatal(err)
					}
					want := b[off:]
					if tc.want == safetensors.BF16 {
						want = highHalves(want)
					}
					if string(got) != string(want) {
						t.Fatalf("%s %s: the safetensors bytes differ from the .npy's", model, name)
					}
				}
			}
		})
	}
}

// highHalves returns the upper two bytes of each little-endian float32.
func highHalves(f32 []byte) []byte {
	out := make([]byte, 0, len(f32)/2)
	for i := 0; i+4 <= len(f32); i += 4 {
		out = append(out, f32[i+2], f32[i+3])
	}
	return out
}
