package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"deltafs/catalog"
	"deltafs/delta/analysis"
	"deltafs/npy"
)

// Similarity references: a tensor whose reference is found neither by path
// nor by name (a renamed layer, a tied embedding, a reordered stack) takes
// the base's tensor of its dtype, shape and order whose sketch (its values
// at a few fixed windows, analysis.Sketch) is most similar to its own, when
// the similarity reaches similarity_threshold. A base tensor's sketch is
// computed once, from its windows alone, and kept in the catalog beside its
// object; so the search reads a few windows of each candidate the first
// time and nothing but the catalog afterwards, never a whole tensor.

// similarReference returns the base tensor (among idx's) most similar to
// the new tensor of header h whose data section (dataLen bytes) data
// reads, or nil when none reaches threshold.
func (s *Store) similarReference(ctx context.Context, h npy.Header, data io.ReaderAt, dataLen int64, idx *baseIndex, threshold float64) (*refMatch, error) {
	if data == nil || threshold > 1 || dataLen == 0 {
		return nil, nil
	}
	var cands []catalog.Entry
	for _, es := range idx.byName {
		for _, e := range es {
			if tensorMatches(e, h) && e.Object != "" {
				cands = append(cands, e)
			}
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	ranges := analysis.SketchRanges(h.DType, dataLen)
	sample, err := readRanges(data, ranges)
	if err != nil {
		return nil, fmt.Errorf("sketch: %w", err)
	}
	mine, err := analysis.NewSketch(h.DType, sample)
	if err != nil {
		return nil, nil // a dtype sketches do not cover: no similarity search
	}
	var best *refMatch
	seen := map[string]float64{}
	for _, e := range cands {
		sim, ok := seen[e.Object]
		if !ok {
			theirs, err := s.objectSketch(ctx, e.Object, h.DType, ranges)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				s.log.Warn("similarity: cannot sketch a base tensor", slog.String("path", e.Path), slog.Any("err", err))
				continue
			}
			sim = mine.Similarity(theirs)
			seen[e.Object] = sim
		}
		if sim >= threshold && (best == nil || sim > best.similarity || sim == best.similarity && e.Path < best.entry.Path) {
			best = &refMatch{entry: e, how: matchSimilarity, similarity: sim}
		}
	}
	return best, nil
}

// objectSketch returns the sketch of object id (a tensor of dtype dt whose
// sketch samples ranges): kept in the catalog, or made from the object's
// windows and then kept (unless the store is read-only).
func (s *Store) objectSketch(ctx context.Context, id string, dt npy.DType, ranges [][2]int64) (analysis.Sketch, error) {
	b, err := s.catalog.Sketch(ctx, id)
	if err == nil {
		if sk, err := analysis.ParseSketch(b); err == nil && len(sk) == sketchLen(ranges, dt) {
			return sk, nil
		}
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, err
	}
	var sample []byte
	for _, r := range ranges {
		buf := make([]byte, r[1])
		if err := s.readObject(ctx, id, r[0], buf, 0, readOptions{}); err != nil {
			return nil, err
		}
		sample = append(sample, buf...)
	}
	sk, err := analysis.NewSketch(dt, sample)
	if err != nil {
		return nil, err
	}
	if !s.opts.ReadOnly {
		err := s.update(ctx, func(tx catalog.Tx) error { return tx.PutSketch(ctx, id, sk.Bytes()) })
		if err != nil && ctx.Err() == nil {
			s.log.Debug("similarity: sketch not kept", slog.String("object", id), slog.Any("err", err))
		}
	}
	return sk, nil
}

// sketchLen is the number of values a sketch of ranges holds.
func sketchLen(ranges [][2]int64, dt npy.DType) int {
	var n int64
	for _, r := range ranges {
		n += r[1]
	}
	w := int64(dt.Size)
	if dt.Kind == 'c' {
		w /= 2
	}
	return int(n / w)
}

// readRanges reads the byte ranges of r, concatenated.
func readRanges(r io.ReaderAt, ranges [][2]int64) ([]byte, error) {
	var out []byte
	for _, rg := range ranges {
		buf := make([]byte, rg[1])
		n, err := r.ReadAt(buf, rg[0])
		if n < len(buf) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		out = append(out, buf...)
	}
	return out, nil
}
