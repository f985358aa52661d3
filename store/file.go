package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"deltafs/catalog"
)

// File is an open file for reading: its bytes are reconstructed lazily.
// Safe for concurrent use.
type File struct {
	s      *Store
	path   string
	object string
	header []byte // served from memory before the data section
	size   int64  // len(header) + data bytes
	pf     prefetcher
	// parts: a file stored in parts (safetensors): the ranges of the file
	// and their objects, the first being object (the header); nil else.
	parts []filePart
}

var _ io.ReaderAt = (*File)(nil)

// Open opens a file for reading.
func (s *Store) Open(ctx context.Context, path string) (*File, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, &PathError{Op: "open", Path: path, Err: err}
	}
	e, err := s.getEntry(ctx, p)
	if err != nil {
		return nil, &PathError{Op: "open", Path: p, Err: err}
	}
	f, err := s.openEntry(ctx, e)
	if err != nil {
		return nil, &PathError{Op: "open", Path: p, Err: err}
	}
	return f, nil
}

// openEntry opens a file entry for reading.
func (s *Store) openEntry(ctx context.Context, e catalog.Entry) (*File, error) {
	f := &File{s: s, path: e.Path, object: e.Object, size: e.Size}
	switch e.Kind {
	case catalog.KindDir:
		return nil, ErrIsDir
	case catalog.KindTensor:
		h, err := tensorHeader(e)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		f.header = h
	case catalog.KindBlob:
		if err := s.loadParts(ctx, f, e); err != nil {
			return nil, err
		}
	}
	if f.size < int64(len(f.header)) {
		return nil, fmt.Errorf("%w: catalog size %d is below the header's %d bytes", ErrCorrupt, f.size, len(f.header))
	}
	return f, nil
}

// Size is the file's logical size.
func (f *File) Size() int64 { return f.size }

// Path is the file's path in the store.
func (f *File) Path() string { return f.path }

// ReadAtContext reads len(p) bytes at off, decoding only the chunks covered.
// It returns io.EOF with n < len(p) at the end of the file.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &PathError{Op: "read", Path: f.path, Err: errors.New("negative offset")}
	}
	if off >= f.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := p
	if rest := f.size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	n := 0
	hlen := int64(len(f.header))
	if off < hlen {
		n = copy(want, f.header[off:])
	}
	if f.parts != nil {
		if err := f.readFileParts(ctx, want, off, n); err != nil {
			return 0, err
		}
		n = len(want)
	}
	if n < len(want) {
		dataOff := off + int64(n) - hlen
		if err := f.s.readData(ctx, f.object, dataOff, want[n:]); err != nil {
			return 0, f.readError(err)
		}
		f.noteRead(dataOff, dataOff+int64(len(want)-n))
		n = len(want)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readFileParts fills want, read at off, past its first n bytes (the
// header's) from f's parts, and notes the read for the read-ahead. A read
// of the header only starts none: the read of the data after it continues
// it.
func (f *File) readFileParts(ctx context.Context, want []byte, off int64, n int) error {
	end := off + int64(len(want))
	if n == len(want) {
		f.pf.lastEnd.Store(end)
		return nil
	}
	if err := f.readParts(ctx, want[n:], off+int64(n)); err != nil {
		return f.readError(err)
	}
	f.noteRead(off, end)
	return nil
}

// readError wraps a reconstruction failure with the path and records it;
// integrity failures are logged.
func (f *File) readError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &PathError{Op: "read", Path: f.path, Err: err}
	}
	if isIntegrityError(err) {
		err = corruptError(f.object, err)
	}
	perr := &PathError{Op: "read", Path: f.path, Err: err}
	f.s.noteError(perr)
	if errors.Is(err, ErrCorrupt) {
		f.s.log.Error("corrupt data: refusing to serve it", slog.String("path", f.path),
			slog.String("object", f.object), slog.Any("err", err))
	}
	return perr
}

// ReadAt implements io.ReaderAt with a background context.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// Close releases the file.
func (f *File) Close() error { return nil }
