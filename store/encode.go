package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"deltafs/delta"
)

// deltaEncodeTo is the encoder; a variable so tests can watch or break it.
var deltaEncodeTo = delta.EncodeTo

// input is what an ingest encodes: a tensor (or a blob viewed as one)
// read a chunk at a time, from its file or from memory.
type input struct {
	t    delta.StreamTensor // Data reads the data section; SHA256 is set
	view []byte             // the data in memory (a mapped file, a header), or nil
	name string             // the file, for errors
	sum  sectionSum         // of the data, as hashed before encoding
}

// memInput is an input held in memory (a safetensors header), hashed here.
func memInput(b []byte, t delta.StreamTensor, name string) *input {
	sum := sha256.Sum256(b)
	t.Data, t.SHA256 = delta.BytesSource(b), &sum
	return &input{t: t, view: b, name: name, sum: sectionSum{sum: sum}}
}

// encoded is an encoded object, written in place to a temporary object
// file; keep verifies it and makes it durable under its id.
type encoded struct {
	file    *os.File // the temporary object file; nil once kept or discarded
	size    int64
	header  delta.Header
	usedRef bool // the object decodes against the reference

	// Set by keep once the object file is durable:
	id      string // the object's id (SHA-256 of its bytes)
	written int64  // bytes of object file newly written (0: it existed)
}

// discard removes the temporary file of an encoding that is not kept.
func (e *encoded) discard() {
	if e != nil && e.file != nil {
		e.file.Close()
		os.Remove(e.file.Name())
		e.file = nil
	}
}

// checkError is a verification failure of an encoding (as opposed to a
// failure to write it): the encoding is passed over for the next candidate.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }

// encodeTensor stores the input (against ref, nil: none) in the form the
// policy chooses (policy.next): it encodes the forms the policy asks for,
// in its order, each to a temporary object file, and keeps the one it
// names. Unless the store skips write checks, the object kept is verified
// exactly once, by the store (verifyEncoded: the written object is parsed
// and every chunk decoded and compared byte for byte with the input), so
// the encoder's own per-chunk self-check is switched off. An encoding that
// fails its check counts as failed, and the policy names the next. The
// encoding returned has been written durably to the object store (keep);
// it is not committed. Nothing here holds more than a few chunks of the
// tensor in memory.
func (s *Store) encodeTensor(ctx context.Context, path string, in *input, ref *delta.StreamTensor, pol policy) (encoded, error) {
	a := attempts{raw: in.t.RawSize(), hasRef: ref != nil}
	var (
		encs [numForms]*encoded
		errs []error
	)
	defer func() {
		for _, e := range encs {
			e.discard() // those not kept
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return encoded{}, err
		}
		st, ok := pol.next(a)
		if !ok {
			return encoded{}, fmt.Errorf("encode: %w", errors.Join(errs...))
		}
		tr := &a.forms[st.form]
		if !st.keep {
			e, err := s.encodeForm(ctx, path, in.t, ref, pol.encoderConfig(st.form), st.form)
			tr.done = true
			if err != nil {
				if isFatalEncodeError(ctx, err) {
					return encoded{}, err
				}
				errs = append(errs, fmt.Errorf("%s: %w", st.form, err))
				continue
			}
			tr.ok, tr.size, encs[st.form] = true, e.size, &e
			continue
		}
		var r *delta.StreamTensor
		if st.form == formDelta {
			r = ref
		}
		e := encs[st.form]
		encs[st.form] = nil
		err := s.keep(ctx, e, in, r)
		if err == nil {
			return *e, nil
		}
		if !isCheckError(err) {
			return encoded{}, err
		}
		s.log.Error("encoding failed its check", slog.String("path", path), slog.String("form", st.form.String()), slog.Any("err", err))
		tr.ok = false
		errs = append(errs, fmt.Errorf("%s: %w", st.form, err))
	}
}

// isFatalEncodeError reports whether an encoding error ends the ingest
// rather than passing to the next form: a refused lossy strategy, the
// ingest being cancelled, or a failure to read the file or the reference
// or to write the object (not the encoder's: another form would meet it
// too).
func isFatalEncodeError(ctx context.Context, err error) bool {
	var re *readError
	var we *writeError
	return errors.Is(err, delta.ErrLossyNotAllowed) || ctx.Err() != nil || errors.As(err, &re) || errors.As(err, &we)
}

// encodeForm encodes t in form f with cfg (policy.encoderConfig) to a
// temporary object file and parses the object.
func (s *Store) encodeForm(ctx context.Context, path string, t delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config, f form) (encoded, error) {
	if !s.opts.SkipWriteCheck {
		cfg.SkipEncodeCheck = true // the store verifies the object it keeps
	}
	if f == formDelta {
		e, err := s.encodeCandidate(ctx, t, ref, cfg)
		if err != nil {
			switch {
			case isCheckError(err):
				s.log.Error("delta encoding failed its check", slog.String("path", path), slog.Any("err", err))
			case !errors.Is(err, delta.ErrIncompatibleReference) && !isFatalEncodeError(ctx, err):
				s.log.Warn("delta encoding failed", slog.String("path", path), slog.Any("err", err))
			}
			return encoded{}, err
		}
		e.usedRef = true
		return e, nil
	}
	var errs []error
	for _, st := range standaloneStrategies(cfg) {
		c := cfg
		c.Strategy = st
		e, err := s.encodeCandidate(ctx, t, nil, c)
		if err == nil {
			return e, nil
		}
		if isFatalEncodeError(ctx, err) {
			return encoded{}, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", st, err))
	}
	return encoded{}, errors.Join(errs...)
}

// isCheckError reports whether err is a verification failure.
func isCheckError(err error) bool {
	var ce *checkError
	return errors.As(err, &ce)
}

// standaloneStrategies are the strategies tried, in order, to encode a
// tensor alone: cfg's, then Auto.
func standaloneStrategies(cfg delta.Config) []delta.Strategy {
	if cfg.Strategy != "" && cfg.Strategy != delta.Auto {
		return []delta.Strategy{cfg.Strategy, delta.Auto}
	}
	return []delta.Strategy{delta.Auto}
}

// readError and writeError mark failures of the file an encoding reads and
// of the object file it writes: not the encoder's, so no other candidate
// is tried.
type (
	readError  struct{ err error }
	writeError struct{ err error }
)

func (e *readError) Error() string  { return e.err.Error() }
func (e *readError) Unwrap() error  { return e.err }
func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// readerMarking and writerMarking wrap the file an encoding reads and the
// object file it writes, marking their errors.
type (
	readerMarking struct{ r io.ReaderAt }
	writerMarking struct{ w io.WriterAt }
)

func (m readerMarking) ReadAt(p []byte, off int64) (int, error) {
	n, err := m.r.ReadAt(p, off)
	if err != nil && n < len(p) {
		err = &readError{err}
	}
	return n, err
}

func (m writerMarking) WriteAt(p []byte, off int64) (int, error) {
	n, err := m.w.WriteAt(p, off)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// encodeCandidate encodes t against ref (nil: none) into a new temporary
// object file and checks that the object's header describes t. A failure
// of the check is a *checkError.
func (s *Store) encodeCandidate(ctx context.Context, t delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config) (encoded, error) {
	f, err := s.objects.CreateTemp(ctx)
	if err != nil {
		return encoded{}, &writeError{err}
	}
	e := encoded{file: f}
	tt := t
	tt.Data = readerMarking{t.Data}
	var rr *delta.StreamTensor
	if ref != nil {
		r := *ref
		r.Data = readerMarking{ref.Data}
		rr = &r
	}
	e.header, e.size, err = deltaEncodeTo(ctx, tt, rr, cfg, writerMarking{f})
	if err == nil {
		if err = f.Truncate(e.size); err != nil {
			err = &writeError{err}
		}
	}
	if err == nil {
		if err = checkHeader(f, e.size, t, ref != nil, cfg.Strategy.IsLossless()); err != nil {
			err = &checkError{err}
		}
	}
	if err != nil {
		e.discard()
		return encoded{}, err
	}
	return e, nil
}

// checkHeader parses the object written to f and checks that its header
// describes t and that its chunks tile the data exactly; it decodes
// nothing.
func checkHeader(f io.ReaderAt, size int64, t delta.StreamTensor, withRef, lossless bool) error {
	o, err := delta.Open(f, size)
	if err != nil {
		return err
	}
	hdr := o.Header()
	if hdr.RawSize != t.RawSize() || hdr.DType != t.DType || hdr.Fortran != t.Fortran || !slices.Equal(hdr.Shape, t.Shape) {
		return errors.New("object header does not describe the input")
	}
	if hdr.HasReference && !withRef {
		return errors.New("standalone object claims a reference")
	}
	if lossless && hdr.Lossy {
		return errors.New("lossless encoding produced a lossy object")
	}
	var covered int64
	for i := range hdr.NumChunks {
		off, n := o.ChunkRange(i)
		if off != covered || n <= 0 {
			return fmt.Errorf("chunk %d covers %d+%d, want it to start at %d", i, off, n, covered)
		}
		covered += n
	}
	if covered != hdr.RawSize {
		return fmt.Errorf("chunks cover %d of %d bytes", covered, hdr.RawSize)
	}
	return nil
}

// keep makes e durable in the object store and, unless the store skips
// write checks, verifies it (verifyEncoded) at the same time: verifying
// decodes on every core while the write mostly hashes and waits for the
// disk. A verification failure is a *checkError; the object file it leaves
// is committed by no one, so GC removes it (as after a crash mid-ingest).
// On success e.id and e.written are set. Either way e's temporary file is
// gone afterwards.
func (s *Store) keep(ctx context.Context, e *encoded, in *input, ref *delta.StreamTensor) error {
	// The check reads the object through a descriptor of its own: the
	// write closes and renames the temporary file.
	vf, err := os.Open(e.file.Name())
	if err != nil {
		e.discard()
		return err
	}
	defer vf.Close()
	var (
		verr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		verr = s.verifyEncoded(ctx, vf, e.size, in, ref)
	}()
	werr := s.leaseTemp(ctx, e.file)
	var (
		id      string
		size    int64
		created bool
	)
	if werr == nil {
		id, size, created, werr = s.objects.PutFile(ctx, e.file)
	} else {
		e.discard()
	}
	e.file = nil
	<-done
	if verr != nil {
		if errors.Is(verr, errSourceChanged) {
			return fmt.Errorf("%s: %w", in.name, verr)
		}
		return &checkError{verr}
	}
	if werr != nil {
		return werr
	}
	e.id = id
	if created {
		e.written = size
	}
	return nil
}

// verifyEncoded, unless the store skips write checks, decodes every chunk
// of the object written to f (size bytes) and compares it byte for byte
// with the file (lossless objects), or lets the decoder's own checksums
// vouch for it (lossy ones), a few chunks at a time. A chunk of the file
// whose CRC differs from the one taken when it was hashed means the file
// changed (errSourceChanged).
func (s *Store) verifyEncoded(ctx context.Context, f io.ReaderAt, size int64, in *input, ref *delta.StreamTensor) error {
	if s.opts.SkipWriteCheck {
		return nil
	}
	o, err := delta.Open(f, size)
	if err != nil {
		return err
	}
	hdr := o.Header()
	lossless := !hdr.Lossy
	return parallel(ctx, hdr.NumChunks, func(i int) error {
		off, n := o.ChunkRange(i)
		if off < 0 || n < 0 || off+n > hdr.RawSize {
			return fmt.Errorf("chunk %d range %d+%d outside %d bytes", i, off, n, hdr.RawSize)
		}
		var r []byte
		if o.ChunkUsesReference(i) {
			if ref == nil {
				return fmt.Errorf("chunk %d needs a reference", i)
			}
			r = s.bufs.get(n)
			defer s.bufs.put(r)
			if _, err := ref.Data.ReadAt(r, off); err != nil {
				return err
			}
		}
		dst := s.bufs.get(n)
		defer s.bufs.put(dst)
		if err := o.DecodeChunk(i, r, dst); err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if !lossless {
			return nil
		}
		want, release, err := in.chunk(off, n, s.bufs.get)
		if err != nil {
			return err
		}
		defer release(s.bufs.put)
		if err := in.sum.checkChunk(off, want); err != nil {
			return err
		}
		if !bytes.Equal(dst, want) {
			return fmt.Errorf("chunk %d does not decode to its input", i)
		}
		return nil
	})
}

// chunk returns the input's data bytes [off, off+n): in place when they
// are in memory, else read into a buffer from get; release hands that
// buffer to put.
func (in *input) chunk(off, n int64, get func(int64) []byte) ([]byte, func(put func([]byte)), error) {
	if in.view != nil {
		return in.view[off : off+n], func(func([]byte)) {}, nil
	}
	b := get(n)
	if err := readFull(in.t.Data, b, off); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", in.name, err)
	}
	return b, func(put func([]byte)) { put(b) }, nil
}
