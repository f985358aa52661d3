package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"deltafs/catalog"
)

// exportBufferSize is how much Export reads at once; several chunks, so
// they decode in parallel.
const exportBufferSize = 8 << 20

// Export writes path (a file, or a directory recursively) to dest on the
// local filesystem, byte-identical to what was ingested (lossless entries).
// Files and directories get their modification times back.
// A file export to an existing directory lands inside it. Every file is
// written to a temporary name and renamed into place only once complete
// and its content hash checked, so a failure never leaves a wrong file.
func (s *Store) Export(ctx context.Context, path, dest string, progress Progress) error {
	p, err := cleanPath(path)
	if err != nil {
		return &PathError{Op: "export", Path: path, Err: err}
	}
	e, err := s.getEntry(ctx, p)
	if err != nil {
		return &PathError{Op: "export", Path: p, Err: err}
	}
	if e.Kind != catalog.KindDir {
		target := dest
		if st, err := os.Stat(dest); err == nil && st.IsDir() {
			target = filepath.Join(dest, baseName(p))
		}
		progress.report(0, e.Size)
		return s.exportFile(ctx, e, target, func(n int64) { progress.report(n, e.Size) })
	}
	entries, err := s.catalog.Walk(ctx, p)
	if err != nil {
		return &PathError{Op: "export", Path: p, Err: err}
	}
	var total, done int64
	for _, e := range entries {
		if e.Kind != catalog.KindDir {
			total += e.Size
		}
	}
	progress.report(0, total)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("export %s: %w", p, err)
	}
	for _, e := range entries {
		rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, p), "/")
		if e.Path == p {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return &PathError{Op: "export", Path: e.Path, Err: ErrInvalidPath}
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if e.Kind == catalog.KindDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("export %s: %w", e.Path, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("export %s: %w", e.Path, err)
		}
		before := done
		if err := s.exportFile(ctx, e, target, func(n int64) { progress.report(before+n, total) }); err != nil {
			return err
		}
		done += e.Size
	}
	// Directory times last, children before parents: writing into a
	// directory changes its time.
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.Kind == catalog.KindDir && !e.MTime.IsZero() {
			rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, p), "/")
			_ = os.Chtimes(filepath.Join(dest, filepath.FromSlash(rel)), e.MTime, e.MTime)
		}
	}
	return nil
}

// exportFile writes one file entry to target via a temporary file.
func (s *Store) exportFile(ctx context.Context, e catalog.Entry, target string, progress func(int64)) (err error) {
	f, err := s.openEntry(ctx, e)
	if err != nil {
		return &PathError{Op: "export", Path: e.Path, Err: err}
	}
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".deltafs-*")
	if err != nil {
		return fmt.Errorf("export %s: %w", e.Path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	hlen := int64(len(f.header))
	err = readAhead(ctx, f, func(off int64, chunk []byte) error {
		if off < hlen { // hash the data section only (the whole file for a blob)
			h.Write(chunk[min(hlen-off, int64(len(chunk))):])
		} else {
			h.Write(chunk)
		}
		if _, err := tmp.Write(chunk); err != nil {
			return fmt.Errorf("export %s: %w", e.Path, err)
		}
		progress(off + int64(len(chunk)))
		return nil
	})
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.ContentHash {
		err := corruptError(e.Object, fmt.Errorf("content hash %s, catalog says %s", got[:16], e.ContentHash))
		s.log.Error("corrupt data: export refused", "path", e.Path, "object", e.Object, "err", err)
		return &PathError{Op: "export", Path: e.Path, Err: err}
	}
	mode := fs.FileMode(e.Mode & 0o777)
	if mode == 0 {
		mode = fileMode
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("export %s: %w", e.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export %s: %w", e.Path, err)
	}
	if !e.MTime.IsZero() {
		_ = os.Chtimes(tmp.Name(), e.MTime, e.MTime)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("export %s: %w", e.Path, err)
	}
	return nil
}

// errShortRead means a file ended before its catalog size.
var errShortRead = errors.New("file ended before its recorded size")

// readAhead reads f from start to end in exportBufferSize pieces and hands
// each to consume in order, reconstructing the next piece while consume
// handles the current one.
func readAhead(ctx context.Context, f *File, consume func(off int64, p []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type piece struct {
		off int64
		buf []byte
		err error
	}
	bufSize := min(exportBufferSize, max(f.Size(), 1))
	free := make(chan []byte, 2)
	free <- make([]byte, bufSize)
	free <- make([]byte, bufSize)
	full := make(chan piece, 1)
	go func() {
		defer close(full)
		for off := int64(0); off < f.Size(); {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			n, err := f.ReadAtContext(ctx, buf, off)
			if err == io.EOF && n > 0 {
				err = nil
			}
			if n == 0 && err == nil {
				err = &PathError{Op: "export", Path: f.path, Err: errShortRead}
			} else if errors.Is(err, io.EOF) {
				err = &PathError{Op: "export", Path: f.path, Err: errShortRead}
			}
			select {
			case full <- piece{off, buf[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			off += int64(n)
		}
	}()
	for p := range full {
		if p.err != nil {
			return p.err
		}
		if err := consume(p.off, p.buf); err != nil {
			return err
		}
		free <- p.buf[:cap(p.buf)]
	}
	return ctx.Err()
}
