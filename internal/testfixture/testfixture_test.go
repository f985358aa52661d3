package testfixture

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"deltafs/internal/synth"
)

// The pair is written as two trees of the same files; CopyTree copies a
// tree byte for byte and TreeBytes counts it.
func TestWriteModelPairAndCopy(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Dim, cfg.FFN, cfg.Vocab, cfg.Layers = 32, 64, 128, 1
	dir := t.TempDir()
	p := WriteModelPair(t, dir, cfg, synth.DefaultFineTune(1))
	if p.Bytes <= 0 || TreeBytes(p.TunedDir) < p.Bytes {
		t.Fatalf("fine-tune of %d tensor bytes, tree of %d bytes", p.Bytes, TreeBytes(p.TunedDir))
	}
	if TreeBytes(p.BaseDir) != TreeBytes(p.TunedDir) {
		t.Errorf("base tree %d bytes, fine-tune tree %d", TreeBytes(p.BaseDir), TreeBytes(p.TunedDir))
	}
	dst := filepath.Join(dir, "copy")
	if err := CopyTree(p.TunedDir, dst); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.Walk(p.TunedDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(p.TunedDir, path)
		a, _ := os.ReadFile(path)
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s not copied exactly: %v", rel, err)
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}
