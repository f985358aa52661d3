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

// clearDeltaFraction: a delta no bigger than this fraction of the raw size
// is taken without also trying a standalone encoding (a standalone encoding
// of weights rarely gets below ~2/3 of the raw size, so trying would only
// cost time).
const clearDeltaFraction = 0.5

// encodeTensor encodes t against ref (nil: none). A delta is kept only when
// it pays: the encoder did not refuse it (delta.ErrNotWorthwhile) and it is
// smaller than t encoded alone. Standalone encodings are always lossless (a
// lossy strategy names how a delta may be approximated, never a base).
//
// Unless the store skips write checks, the object kept is verified exactly
// once, by the store (verifyEncoded: the serialized object is parsed and
// every chunk decoded and compared byte for byte with the input), so the
// encoder's own per-chunk self-check, which compares only CRCs of chunks it
// decodes from memory, is switched off. Only the encoding kept is verified;
// when it fails, the other candidate is tried. The encoding returned has
// been written durably to the object store (keep); it is not committed.
func (s *Store) encodeTensor(ctx context.Context, path string, t delta.Tensor, ref *delta.Tensor, cfg delta.Config) (encoded, error) {
	if !s.opts.SkipWriteCheck {
		cfg.SkipEncodeCheck = true
	}
	rawSize := int64(len(t.Data))
	var withRef *encoded
	if ref != nil {
		obj, err := deltaEncode(ctx, t, ref, cfg)
		switch {
		case err == nil:
			e, perr := parseEncoded(obj, t, true, cfg.Strategy.IsLossless())
			if perr != nil {
				s.log.Error("delta encoding failed its check; storing standalone", slog.String("path", path), slog.Any("err", perr))
				break
			}
			e.usedRef = true
			withRef = &e
		case errors.Is(err, delta.ErrLossyNotAllowed):
			return encoded{}, err
		case errors.Is(err, delta.ErrNotWorthwhile), errors.Is(err, delta.ErrIncompatibleReference):
		default:
			if cerr := ctx.Err(); cerr != nil {
				return encoded{}, cerr
			}
			s.log.Warn("delta encoding failed; storing standalone", slog.String("path", path), slog.Any("err", err))
		}
	}
	if withRef != nil && float64(len(withRef.data)) <= clearDeltaFraction*float64(rawSize) {
		err := s.keep(ctx, withRef, t, ref.Data)
		if err == nil {
			return *withRef, nil
		}
		if !isCheckError(err) {
			return encoded{}, err
		}
		s.log.Error("delta encoding failed its check; storing standalone", slog.String("path", path), slog.Any("err", err))
		withRef = nil
	}
	if err := ctx.Err(); err != nil {
		return encoded{}, err
	}
	if withRef == nil {
		return s.encodeStandalone(ctx, path, t, cfg, true)
	}
	// A delta that is not clearly small: keep the smaller of it and t alone,
	// verifying only the one kept.
	alone, err := s.encodeStandalone(ctx, path, t, cfg, false)
	if err == nil && len(alone.data) <= len(withRef.data) {
		kerr := s.keep(ctx, &alone, t, nil)
		if kerr == nil {
			return alone, nil
		}
		if !isCheckError(kerr) {
			return encoded{}, kerr
		}
		s.log.Error("encoding failed its check", slog.String("path", path), slog.Any("err", kerr))
	}
	kerr := s.keep(ctx, withRef, t, ref.Data)
	if kerr == nil {
		return *withRef, nil
	}
	if !isCheckError(kerr) {
		return encoded{}, kerr
	}
	s.log.Error("delta encoding failed its check; storing standalone", slog.String("path", path), slog.Any("err", kerr))
	return s.encodeStandalone(ctx, path, t, cfg, true)
}

// isCheckError reports whether err is a verification failure.
func isCheckError(err error) bool {
	var ce *checkError
	return errors.As(err, &ce)
}

// standaloneStrategies are the strategies tried, in order, to encode a
// tensor alone: cfg's when it is lossless, then Auto.
func standaloneStrategies(cfg delta.Config) []delta.Strategy {
	switch {
	case cfg.Strategy == "" || !cfg.Strategy.IsLossless():
		return []delta.Strategy{delta.Auto}
	case cfg.Strategy != delta.Auto:
		return []delta.Strategy{cfg.Strategy, delta.Auto}
	}
	return []delta.Strategy{delta.Auto}
}

// encodeStandalone encodes t with no reference, losslessly: with cfg's
// strategy when it is lossless and fits t, else with Auto. With keepIt, the
// result is checked (unless the store skips write checks) and written
// (keep), and a strategy whose object fails the check is passed over for
// the next; without, the object is only parsed, and the caller keeps it if
// it wants it.
func (s *Store) encodeStandalone(ctx context.Context, path string, t delta.Tensor, cfg delta.Config, keepIt bool) (encoded, error) {
	if !s.opts.SkipWriteCheck {
		cfg.SkipEncodeCheck = true // the store verifies the object it keeps
	}
	var errs []error
	for _, st := range standaloneStrategies(cfg) {
		c := cfg
		c.Strategy = st
		obj, err := deltaEncode(context.Background(), t, nil, c)
		if err == nil {
			var e encoded
			if e, err = parseEncoded(obj, t, false, true); err == nil {
				if !keepIt {
					return e, nil
				}
				if err = s.keep(ctx, &e, t, nil); err == nil {
					return e, nil
				}
				if !isCheckError(err) {
					return encoded{}, err
				}
				s.log.Error("encoding failed its check", slog.String("path", path), slog.String("strategy", string(st)), slog.Any("err", err))
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", st, err))
	}
	return encoded{}, fmt.Errorf("encode: %w", errors.Join(errs...))
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
