package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/npy"
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
