package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"deltafs/catalog"
	"deltafs/npy"
	"deltafs/safetensors"
)

// Export formats besides the files as they were imported.
const (
	FormatNPY         = "npy"         // one .npy per tensor of each safetensors file
	FormatSafetensors = "safetensors" // the .npy files of a directory as one model.safetensors
)

// ErrUnsupportedFormat means a tensor cannot be written in the asked format
// (a Fortran-ordered or big-endian .npy as safetensors, say).
var ErrUnsupportedFormat = errors.New("cannot be written in that format")

// ExportFormat is Export writing another view of the files: FormatNPY
// writes each safetensors file as one .npy per tensor (named by the tensor
// name with "." read as "/": model.layers.0.q_proj.weight becomes
// model/layers/0/q_proj/weight.npy beside where the file was; bf16 as the
// exact float32 upcast, the 8-bit floats as uint8, each said in a warning)
// and leaves out sharded-model indexes; FormatSafetensors writes the .npy
// files of path (a directory) as one model.safetensors at dest, tensors
// named by the same rule, in name order. Other files are written as they
// are. dest must not exist. It returns the warnings.
func (s *Store) ExportFormat(ctx context.Context, path, dest, format string, progress Progress) ([]string, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, &PathError{Op: "export", Path: path, Err: err}
	}
	root, err := s.getEntry(ctx, p)
	if err != nil {
		return nil, &PathError{Op: "export", Path: p, Err: err}
	}
	entries := []catalog.Entry{root}
	if root.Kind == catalog.KindDir {
		if entries, err = s.catalog.Walk(ctx, p); err != nil {
			return nil, &PathError{Op: "export", Path: p, Err: err}
		}
	}
	rel := func(e catalog.Entry) string {
		if root.Kind != catalog.KindDir {
			return baseName(e.Path)
		}
		return strings.TrimPrefix(strings.TrimPrefix(e.Path, p), "/")
	}
	x := &formatExport{s: s, dest: dest, seen: make(map[string]bool), warned: make(map[string]bool)}
	switch format {
	case FormatNPY:
		err = x.npy(ctx, entries, rel)
	case FormatSafetensors:
		err = x.safetensors(ctx, entries, rel)
	default:
		err = fmt.Errorf("format %q: %w (want %s or %s)", format, ErrUnsupportedFormat, FormatNPY, FormatSafetensors)
	}
	return x.warnings, err
}

// formatExport is one ExportFormat in progress.
type formatExport struct {
	s        *Store
	dest     string
	seen     map[string]bool // targets written, relative to dest
	warned   map[string]bool
	warnings []string
}

func (x *formatExport) warn(msg string) {
	if !x.warned[msg] {
		x.warned[msg] = true
		x.warnings = append(x.warnings, msg)
	}
}

// target claims rel inside dest and creates its directory.
func (x *formatExport) target(rel string) (string, error) {
	if x.seen[rel] || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("export %s: %w: two tensors or files would be written there", rel, ErrExist)
	}
	x.seen[rel] = true
	t := filepath.Join(x.dest, filepath.FromSlash(rel))
	return t, os.MkdirAll(filepath.Dir(t), 0o755)
}

// copyAsIs exports a file as it is.
func (x *formatExport) copyAsIs(ctx context.Context, e catalog.Entry, rel string) error {
	t, err := x.target(rel)
	if err != nil {
		return err
	}
	return x.s.exportFile(ctx, e, t, func(int64) {})
}

// npy writes each safetensors file's tensors as .npy files.
func (x *formatExport) npy(ctx context.Context, entries []catalog.Entry, rel func(catalog.Entry) string) error {
	for _, e := range entries {
		if e.Kind == catalog.KindDir {
			continue
		}
		r := rel(e)
		if strings.HasSuffix(r, safetensors.IndexSuffix) {
			x.warn(r + ": a sharded model's index, left out (the tensors are .npy files now)")
			continue
		}
		parts, err := x.s.catalog.Parts(ctx, e.Path)
		if err != nil {
			return err
		}
		if e.Kind != catalog.KindBlob || len(e.Header) == 0 || len(parts) == 0 {
			if err := x.copyAsIs(ctx, e, r); err != nil {
				return err
			}
			continue
		}
		f, err := x.s.openEntry(ctx, e)
		if err != nil {
			return &PathError{Op: "export", Path: e.Path, Err: err}
		}
		for _, pt := range parts {
			name := joinPath(parentOf(r), strings.ReplaceAll(pt.Name, ".", "/")+".npy")
			if err := x.npyTensor(ctx, f, pt, name); err != nil {
				return fmt.Errorf("export %s tensor %q: %w", e.Path, pt.Name, err)
			}
		}
	}
	return nil
}

// npyTensor writes one part of f as an .npy file at rel.
func (x *formatExport) npyTensor(ctx context.Context, f *File, pt catalog.Part, rel string) error {
	d := safetensors.DType(pt.DType)
	dt, ok := stObjectDTypes[d]
	if !ok {
		return fmt.Errorf("dtype %s: %w", d, ErrUnsupportedFormat)
	}
	widen := d == safetensors.BF16
	switch {
	case widen:
		dt = npy.Float32
		x.warn("BF16 tensors are written as float32 .npy files (the exact upcast: numpy has no bfloat16)")
	case d == safetensors.F8E4M3 || d == safetensors.F8E5M2:
		x.warn(string(d) + " tensors are written as uint8 .npy files (their raw bytes: numpy has no 8-bit float)")
	}
	hdr, err := npy.FormatHeader(npy.Header{DType: dt, Shape: pt.Shape})
	if err != nil {
		return err
	}
	t, err := x.target(rel)
	if err != nil {
		return err
	}
	return writeAtomically(t, func(w *bufio.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		return readRange(ctx, f, pt.Offset, pt.Size, func(b []byte) error {
			if !widen {
				_, err := w.Write(b)
				return err
			}
			wide := make([]byte, 2*len(b))
			for i := 0; i+1 < len(b); i += 2 {
				wide[2*i+2], wide[2*i+3] = b[i], b[i+1]
			}
			_, err := w.Write(wide)
			return err
		})
	})
}

// stDTypeOfNPY is the safetensors dtype of an .npy descr (little-endian or
// one-byte types only).
var stDTypeOfNPY = map[string]safetensors.DType{
	"|b1": safetensors.Bool, "|u1": safetensors.U8, "|i1": safetensors.I8,
	"<i2": safetensors.I16, "<u2": safetensors.U16, "<f2": safetensors.F16,
	"<i4": safetensors.I32, "<u4": safetensors.U32, "<f4": safetensors.F32,
	"<i8": safetensors.I64, "<u8": safetensors.U64, "<f8": safetensors.F64,
}

// safetensors writes the .npy files among entries as one model.safetensors.
func (x *formatExport) safetensors(ctx context.Context, entries []catalog.Entry, rel func(catalog.Entry) string) error {
	type tensor struct {
		spec safetensors.Spec
		e    catalog.Entry
	}
	var tensors []tensor
	for _, e := range entries {
		switch {
		case e.Kind == catalog.KindDir:
		case e.Kind == catalog.KindTensor && strings.HasSuffix(rel(e), ".npy"):
			d, ok := stDTypeOfNPY[e.DType]
			if !ok || e.Fortran {
				return fmt.Errorf("export %s (dtype %s, fortran_order %v): %w: safetensors holds little-endian C-order tensors of its 15 dtypes", e.Path, e.DType, e.Fortran, ErrUnsupportedFormat)
			}
			tensors = append(tensors, tensor{safetensors.Spec{Name: npyTensorKey(rel(e)), DType: d, Shape: e.Shape}, e})
		default:
			if err := x.copyAsIs(ctx, e, rel(e)); err != nil {
				return err
			}
		}
	}
	if len(tensors) == 0 {
		return nil
	}
	slices.SortFunc(tensors, func(a, b tensor) int { return strings.Compare(a.spec.Name, b.spec.Name) })
	specs := make([]safetensors.Spec, len(tensors))
	for i, t := range tensors {
		specs[i] = t.spec
	}
	h, err := safetensors.Layout(map[string]string{"format": "pt"}, specs)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	t, err := x.target("model.safetensors")
	if err != nil {
		return err
	}
	return writeAtomically(t, func(w *bufio.Writer) error {
		if _, err := w.Write(h.Raw); err != nil {
			return err
		}
		for _, t := range tensors {
			f, err := x.s.openEntry(ctx, t.e)
			if err != nil {
				return &PathError{Op: "export", Path: t.e.Path, Err: err}
			}
			hlen := int64(len(f.header))
			sum := sha256.New()
			err = readRange(ctx, f, hlen, f.size-hlen, func(b []byte) error {
				sum.Write(b)
				_, err := w.Write(b)
				return err
			})
			if err != nil {
				return err
			}
			if got := hex.EncodeToString(sum.Sum(nil)); got != t.e.ContentHash {
				return corruptError(t.e.Object, fmt.Errorf("%s: content hash %.16s, catalog says %.16s", t.e.Path, got, t.e.ContentHash))
			}
		}
		return nil
	})
}

// readRange hands the bytes [off, off+n) of f to consume piece by piece.
func readRange(ctx context.Context, f *File, off, n int64, consume func([]byte) error) error {
	buf := make([]byte, min(exportBufferSize, max(n, 1)))
	for done := int64(0); done < n; {
		k := min(int64(len(buf)), n-done)
		if _, err := f.ReadAtContext(ctx, buf[:k], off+done); err != nil {
			return err
		}
		if err := consume(buf[:k]); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// writeAtomically writes target through fill via a temporary file renamed
// into place once complete and synced.
func writeAtomically(target string, fill func(*bufio.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".deltafs-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := fill(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(fileMode); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}
