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

// encoded is an object ready to be written.
type encoded struct {
	data    []byte
	header  delta.Header
	usedRef bool // the object decodes against the reference
}

// clearDeltaFraction: a delta no bigger than this fraction of the raw size
// is taken without also trying a standalone encoding (a standalone encoding
// of weights rarely gets below ~2/3 of the raw size, so trying would only
// cost time).
const clearDeltaFraction = 0.5

// encodeTensor encodes t against ref (nil: none). A delta is kept only when
// it pays: the encoder did not refuse it (delta.ErrNotWorthwhile) and it is
// smaller than t encoded alone. Standalone encodings are always lossless (a
// lossy strategy names how a delta may be approximated, never a base).
// Unless the store skips it, every result is decoded and checked before it
// is returned.
func (s *Store) encodeTensor(ctx context.Context, path string, t delta.Tensor, ref *delta.Tensor, cfg delta.Config) (encoded, error) {
	rawSize := int64(len(t.Data))
	var withRef *encoded
	if ref != nil {
		obj, err := delta.Encode(t, ref, cfg)
		switch {
		case err == nil:
			e, verr := s.checkEncoded(obj, t, ref.Data, cfg.Strategy.IsLossless())
			if verr != nil {
				s.log.Error("delta encoding failed its check; storing standalone", slog.String("path", path), slog.Any("err", verr))
				break
			}
			e.usedRef = true
			if float64(len(obj)) <= clearDeltaFraction*float64(rawSize) {
				return e, nil
			}
			withRef = &e
		case errors.Is(err, delta.ErrLossyNotAllowed):
			return encoded{}, err
		case errors.Is(err, delta.ErrNotWorthwhile), errors.Is(err, delta.ErrIncompatibleReference):
		default:
			s.log.Warn("delta encoding failed; storing standalone", slog.String("path", path), slog.Any("err", err))
		}
	}
	if err := ctx.Err(); err != nil {
		return encoded{}, err
	}
	alone, err := s.encodeStandalone(path, t, cfg)
	if err != nil {
		if withRef != nil {
			return *withRef, nil
		}
		return encoded{}, err
	}
	if withRef != nil && len(withRef.data) < len(alone.data) {
		return *withRef, nil
	}
	return alone, nil
}

// encodeStandalone encodes t with no reference, losslessly: with cfg's
// strategy when it is lossless and fits t, else with Auto.
func (s *Store) encodeStandalone(path string, t delta.Tensor, cfg delta.Config) (encoded, error) {
	strategies := []delta.Strategy{cfg.Strategy}
	if cfg.Strategy == "" || !cfg.Strategy.IsLossless() {
		strategies = []delta.Strategy{delta.Auto}
	} else if cfg.Strategy != delta.Auto {
		strategies = append(strategies, delta.Auto)
	}
	var errs []error
	for _, st := range strategies {
		c := cfg
		c.Strategy = st
		obj, err := delta.Encode(t, nil, c)
		if err == nil {
			e, verr := s.checkEncoded(obj, t, nil, true)
			if verr == nil {
				return e, nil
			}
			s.log.Error("encoding failed its check", slog.String("path", path), slog.String("strategy", string(st)), slog.Any("err", verr))
			err = verr
		}
		errs = append(errs, fmt.Errorf("%s: %w", st, err))
	}
	return encoded{}, fmt.Errorf("encode: %w", errors.Join(errs...))
}

// checkEncoded parses obj and, unless the store skips write checks, decodes
// every chunk and compares it with t (lossless objects) or lets the
// decoder's own checksums vouch for it (lossy ones).
func (s *Store) checkEncoded(obj []byte, t delta.Tensor, ref []byte, lossless bool) (encoded, error) {
	o, err := delta.Open(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		return encoded{}, err
	}
	hdr := o.Header()
	if hdr.RawSize != int64(len(t.Data)) || hdr.DType != t.DType || hdr.Fortran != t.Fortran || !slices.Equal(hdr.Shape, t.Shape) {
		return encoded{}, errors.New("object header does not describe the input")
	}
	if hdr.HasReference && ref == nil {
		return encoded{}, errors.New("standalone object claims a reference")
	}
	if lossless && hdr.Lossy {
		return encoded{}, errors.New("lossless encoding produced a lossy object")
	}
	lossless = !hdr.Lossy
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
	e := encoded{data: obj, header: hdr}
	if s.opts.SkipWriteCheck {
		return e, nil
	}
	err = parallel(context.Background(), hdr.NumChunks, func(i int) error {
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
		dst := make([]byte, n)
		if err := o.DecodeChunk(i, r, dst); err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if lossless && !bytes.Equal(dst, t.Data[off:off+n]) {
			return fmt.Errorf("chunk %d does not decode to its input", i)
		}
		return nil
	})
	if err != nil {
		return encoded{}, err
	}
	return e, nil
}
