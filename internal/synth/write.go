package synth

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteModel writes each tensor as an .npy file (numpy's header, then the
// data) under dir, in subdirectories by name: "layers/0/wq" becomes
// dir/layers/0/wq.npy. Names must be local slash-separated paths.
func WriteModel(dir string, ts []Tensor) error {
	for _, t := range ts {
		rel := filepath.FromSlash(t.Path())
		if t.Name == "" || !filepath.IsLocal(rel) {
			return fmt.Errorf("synth: tensor name %q is not a local path", t.Name)
		}
		file, err := t.NPY()
		if err != nil {
			return fmt.Errorf("synth: tensor %s: %w", t.Name, err)
		}
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		if err := os.WriteFile(path, file, 0o644); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	return nil
}
