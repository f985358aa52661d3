package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"deltafs/delta"
)

// deltaEncode is the encoder; a variable so tests can watch or break it.
var deltaEncode = delta.EncodeContext

// encoded is an encoded object; keep verifies it and writes its file.
type encoded struct {
	data    []byte
	header  delta.Header
	usedRef bool // the object decodes against the reference

	// Set by keep once the object file is durable:
	id      string // the object's id (SHA-256 of data)
	written int64  // bytes of object file newly written (0: it existed)
}

// checkError is a verification failure of an encoding (as opposed to a
// failure to write it): the encoding is passed over for the next candidate.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }

// encodeTensor stores t (against ref, nil: none) in the form the policy
// chooses (policy.next): it encodes the forms the policy asks for, in its
// order, and keeps the one it names. Unless the store skips write checks,
// the object kept is verified exactly once, by the store (verifyEncoded:
// the serialized object is parsed and every chunk decoded and compared
// byte for byte with the input), so the encoder's own per-chunk
// self-check, which compares only CRCs of chunks it decodes from memory,
// is switched off. An encoding that fails its check counts as failed, and
// the policy names the next. The encoding returned has been written
// durably to the object store (keep); it is not committed.
func (s *Store) encodeTensor(ctx context.Context, path string, t delta.Tensor, ref *delta.Tensor, pol policy) (encoded, error) {
	a := attempts{raw: int64(len(t.Data)), hasRef: ref != nil}
	var (
		encs [numForms]*encoded
		errs []error
	)
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
			e, err := s.encodeForm(ctx, path, t, ref, pol.encoderConfig(st.form), st.form)
			tr.done = true
			if err != nil {
				if isFatalEncodeError(ctx, err) {
					return encoded{}, err
				}
				errs = append(errs, fmt.Errorf("%s: %w", st.form, err))
				continue
			}
			tr.ok, tr.size, encs[st.form] = true, int64(len(e.data)), &e
			continue
		}
		var refData []byte
		if st.form == formDelta {
			refData = ref.Data
		}
		err := s.keep(ctx, encs[st.form], t, refData)
		if err == nil {
			return *encs[st.form], nil
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
// rather than passing to the next form: a refused lossy strategy, or the
// ingest being cancelled.
func isFatalEncodeError(ctx context.Context, err error) bool {
	return errors.Is(err, delta.ErrLossyNotAllowed) || ctx.Err() != nil
}

// encodeForm encodes t in form f with cfg (policy.encoderConfig) and
// parses the object; it writes nothing.
func (s *Store) encodeForm(ctx context.Context, path string, t delta.Tensor, ref *delta.Tensor, cfg delta.Config, f form) (encoded, error) {
	if !s.opts.SkipWriteCheck {
		cfg.SkipEncodeCheck = true // the store verifies the object it keeps
	}
	if f == formDelta {
		obj, err := deltaEncode(ctx, t, ref, cfg)
		if err != nil {
			if !errors.Is(err, delta.ErrIncompatibleReference) && !isFatalEncodeError(ctx, err) {
				s.log.Warn("delta encoding failed", slog.String("path", path), slog.Any("err", err))
			}
			return encoded{}, err
		}
		e, err := parseEncoded(obj, t, true, cfg.Strategy.IsLossless())
		if err != nil {
			s.log.Error("delta encoding failed its check", slog.String("path", path), slog.Any("err", err))
			return encoded{}, err
		}
		e.usedRef = true
		return e, nil
	}
	var errs []error
	for _, st := range standaloneStrategies(cfg) {
		c := cfg
		c.Strategy = st
		obj, err := deltaEncode(ctx, t, nil, c)
		if err == nil {
			var e encoded
			if e, err = parseEncoded(obj, t, false, true); err == nil {
				return e, nil
			}
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

// parseEncoded parses obj and checks that its header describes t and that
// its chunks tile the data exactly; it decodes nothing.
func parseEncoded(obj []byte, t delta.Tensor, withRef, lossless bool) (encoded, error) {
	o, err := delta.Open(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		return encoded{}, err
	}
	hdr := o.Header()
	if hdr.RawSize != int64(len(t.Data)) || hdr.DType != t.DType || hdr.Fortran != t.Fortran || !slices.Equal(hdr.Shape, t.Shape) {
		return encoded{}, errors.New("object header does not describe the input")
	}
	if hdr.HasReference && !withRef {
		return encoded{}, errors.New("standalone object claims a reference")
	}
	if lossless && hdr.Lossy {
		return encoded{}, errors.New("lossless encoding produced a lossy object")
	}
	var covered int64
	for i := range hdr.NumChunks {
		off, n := o.ChunkRange(i)
		if off != covered || n <= 0 {
			return encoded{}, fmt.Errorf("chunk %d covers %d+%d, want it to start at %d", i, off, n, covered)
		}
		covered += n
	}
	if covered != hdr.RawSize {
		return encoded{}, fmt.Errorf("chunks cover %d of %d bytes", covered, hdr.RawSize)
	}
	return encoded{data: obj, header: hdr}, nil
}

// keep makes e durable in the object store and, unless the store skips
// write checks, verifies it (verifyEncoded) at the same time: verifying
// decodes on every core while the write mostly waits for the disk. A
// verification failure is a *checkError; the object file it leaves is
// committed by no one, so GC removes it (as after a crash mid-ingest). On
// success e.id and e.written are set.
func (s *Store) keep(ctx context.Context, e *encoded, t delta.Tensor, ref []byte) error {
	var (
		werr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		e.id, e.written, werr = s.putObject(ctx, e.data)
	}()
	verr := s.verifyEncoded(e, t, ref)
	<-done
	if verr != nil {
		e.id, e.written = "", 0
		return &checkError{verr}
	}
	return werr
}

// putObject stores object bytes durably and returns their id and the bytes
// newly written (0 when the object file already existed).
func (s *Store) putObject(ctx context.Context, data []byte) (string, int64, error) {
	id, created, err := s.objects.Put(ctx, data)
	if err != nil || !created {
		return id, 0, err
	}
	return id, int64(len(data)), nil
}

// verifyEncoded, unless the store skips write checks, decodes every chunk
// of the serialized object e and compares it byte for byte with t (lossless
// objects), or lets the decoder's own checksums vouch for it (lossy ones).
// ref is the reference's data (nil for a standalone object).
func (s *Store) verifyEncoded(e *encoded, t delta.Tensor, ref []byte) error {
	if s.opts.SkipWriteCheck {
		return nil
	}
	o, err := delta.Open(bytes.NewReader(e.data), int64(len(e.data)))
	if err != nil {
		return err
	}
	hdr := o.Header()
	lossless := !hdr.Lossy
	return parallel(context.Background(), hdr.NumChunks, func(i int) error {
		off, n := o.ChunkRange(i)
		if off < 0 || n < 0 || off+n > hdr.RawSize {
			return fmt.Errorf("chunk %d range %d+%d outside %d bytes", i, off, n, hdr.RawSize)
		}
		var r []byte
		if o.ChunkUsesReference(i) {
			if ref == nil {
				return fmt.Errorf("chunk %d needs a reference", i)
			}
			r = ref[off : off+n]
		}
		dst := s.bufs.get(n)
		defer s.bufs.put(dst)
		if err := o.DecodeChunk(i, r, dst); err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if lossless && !bytes.Equal(dst, t.Data[off:off+n]) {
			return fmt.Errorf("chunk %d does not decode to its input", i)
		}
		return nil
	})
}
