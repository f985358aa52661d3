package fusefs

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
	"deltafs/internal/testenv"
	"deltafs/internal/testfixture"
	"deltafs/store"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChildMount())
	}
	code := pgtest.Run(m)
	s3test.Stop() // the remote tests' servers
	os.Exit(code)
}

// newTestLogger returns a logger whose lines are kept for assertions and
// printed when the test fails.
func newTestLogger(t testing.TB) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mount log:\n%s", buf.String())
		}
	})
	level := slog.LevelInfo
	if os.Getenv("FUSEFS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level})), buf
}

// newStore creates and opens a store in a temporary directory.
func newStore(t testing.TB, opts store.Options) (*store.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(dir); err != nil {
		t.Fatalf("init store: %v", err)
	}
	s, err := store.Open(dir, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// mountStore mounts s in a temporary directory, unmounted at cleanup.
func mountStore(t testing.TB, s Backend, opts MountOptions) *Mount {
	t.Helper()
	testenv.RequireFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return mountAt(t, s, dir, opts)
}

func mountAt(t testing.TB, s Backend, dir string, opts MountOptions) *Mount {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger, _ = newTestLogger(t)
	}
	m, err := Serve(context.Background(), dir, s, opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return m
}

// run runs a command with the working directory outside any mount and
// fails the test with its output when it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = os.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// python runs a numpy script with args.
func python(t testing.TB, script string, args ...string) string {
	t.Helper()
	py := testenv.Python(t)
	return run(t, py, append([]string{"-c", script}, args...)...)
}

// makeModelsScript writes a base model and a fine-tune of it as .npy
// files: several dtypes, a Fortran-ordered array, special float values
// (NaN payloads, -0.0, infinities, subnormals) and a non-tensor file.
const makeModelsScript = `
import numpy as np, os, sys, json
out, scale = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)
base = {
    "layers/0/wq.npy": rng.standard_normal((64 * scale, 64)).astype(np.float32),
    "layers/0/wk.npy": rng.standard_normal((32, 48 * scale)).astype(np.float16),
    "layers/1/wq.npy": rng.standard_normal((64 * scale, 64)).astype(np.float32),
    "emb.npy": rng.standard_normal(1000 * scale).astype(np.float64),
    "ids.npy": rng.integers(-2**31, 2**31 - 1, 500 * scale, dtype=np.int32),
    "fortran.npy": np.asfortranarray(rng.standard_normal((30, 20)).astype(np.float32)),
}
special = np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1.0], dtype=np.float32)
bits = special.view(np.uint32).copy()
nans = np.array([0x7fc00001, 0xffc12345, 0x7f800001], dtype=np.uint32)
base["special.npy"] = np.concatenate([bits, nans]).view(np.float32)
for model, arrays in (("base", base), ("ft", None)):
    d = os.path.join(out, model)
    for rel, a in base.items():
        if model == "ft":
            if a.dtype.kind == "f" and rel != "special.npy":
                a = (a + (rng.standard_normal(a.shape) * 1e-3).astype(a.dtype)).astype(a.dtype)
                if rel == "fortran.npy":
                    a = np.asfortranarray(a)
            elif a.dtype.kind == "i":
                a = a.copy(); a[::7] += 1
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        np.save(p, a)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model": model, "layers": 2}, f)
`

// makeModels writes the base and ft model trees under a new directory and
// returns it.
func makeModels(t testing.TB, scale int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "models")
	python(t, makeModelsScript, dir, itoa(scale))
	return dir
}

// ingestTree stores every file of the local tree src as model, with base
// as its base model ("" none), through the store's API.
func ingestTree(t testing.TB, s *store.Store, src, model, base string) {
	t.Helper()
	testfixture.IngestTree[store.IngestOptions, store.FileInfo](t, s, src, model, base)
}

// listFiles returns the regular files under dir, relative, sorted.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameFiles fails unless every file under want has an identical copy under got.
func sameFiles(t testing.TB, want, got string) {
	t.Helper()
	wf, gf := listFiles(t, want), listFiles(t, got)
	if strings.Join(wf, ",") != strings.Join(gf, ",") {
		t.Fatalf("file lists differ:\nwant %v\ngot  %v", wf, gf)
	}
	for _, f := range wf {
		a, err := os.ReadFile(filepath.Join(want, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(got, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs (%d vs %d bytes)", f, len(a), len(b))
		}
	}
}
