// Package testfixture holds what the tests and benchmarks of several packages
// share: a synthetic base model and fine-tune written as .npy trees, a local
// tree stored through the store's API, and the plain-file baselines they are
// measured against. It imports no deltafs package but internal/synth, so the
// store's own tests can use it too.
package testfixture

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"deltafs/internal/synth"
)

// ModelPair is a synthetic base model and a fine-tune of it, written as
// trees of .npy files.
type ModelPair struct {
	BaseDir, TunedDir string
	Bytes             int64  // the fine-tune's tensor bytes
	Describe          string // the generator's settings, for benchmark logs
}

// WriteModelPair generates the base model of cfg and its fine-tune ft and
// writes them under dir, as dir/base and dir/ft.
func WriteModelPair(tb testing.TB, dir string, cfg synth.Config, ft synth.FineTuneConfig) ModelPair {
	tb.Helper()
	base, err := synth.Base(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tuned, err := synth.FineTune(base, ft)
	if err != nil {
		tb.Fatal(err)
	}
	p := ModelPair{
		BaseDir:  filepath.Join(dir, "base"),
		TunedDir: filepath.Join(dir, "ft"),
		Bytes:    synth.TotalBytes(tuned),
		Describe: synth.Describe(cfg) + "; " + ft.Describe(),
	}
	if err := synth.WriteModel(p.BaseDir, base); err != nil {
		tb.Fatal(err)
	}
	if err := synth.WriteModel(p.TunedDir, tuned); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Ingester is the part of the store's API that IngestTree uses (O is the
// store's IngestOptions, R its FileInfo); *store.Store implements it.
type Ingester[O, R any] interface {
	Mkdir(ctx context.Context, path string) error
	SetBase(ctx context.Context, model, base string) error
	Ingest(ctx context.Context, path string, src *os.File, opts O) (R, error)
}

// IngestTree stores every file of the local tree src as model (created),
// with base as its base model ("" none), file by file through Ingest with
// default options: what cp -r into a mount does.
func IngestTree[O, R any](tb testing.TB, s Ingester[O, R], src, model, base string) {
	tb.Helper()
	ctx := context.Background()
	if err := s.Mkdir(ctx, model); err != nil {
		tb.Fatalf("mkdir %s: %v", model, err)
	}
	if base != "" {
		if err := s.SetBase(ctx, model, base); err != nil {
			tb.Fatalf("set base of %s: %v", model, err)
		}
	}
	var opts O
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := model + "/" + filepath.ToSlash(rel)
		if d.IsDir() {
			return s.Mkdir(ctx, dst)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = s.Ingest(ctx, dst, f, opts)
		return err
	})
	if err != nil {
		tb.Fatalf("ingest %s: %v", src, err)
	}
}

// TreeBytes sums the sizes of the regular files under dir.
func TreeBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// CopyTree copies every file under src to dst, each fsynced: the baseline
// of a durable import (a plain copy of the same files).
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return CopyFile(p, target, true)
	})
}

// CopyFile copies the file src to a new file dst, fsynced with fsync.
func CopyFile(src, dst string, fsync bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if fsync {
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}
