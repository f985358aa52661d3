package store

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	"deltafs/catalog"
	"deltafs/npy"
)

// baseIndex lists a base model's tensors by file name, for the fallback
// match of DESIGN.md §2 (a unique same-name, same-shape tensor). Import
// builds one per import; a lone Ingest walks the base when it needs to.
type baseIndex struct {
	model  string
	byName map[string][]catalog.Entry

	namesMu sync.Mutex // the files of an import ingest in parallel
	names   *nameIndex // by tensor name, built on first use
}

// buildBaseIndex walks model and indexes its tensors by file name.
func (s *Store) buildBaseIndex(ctx context.Context, model string) (*baseIndex, error) {
	entries, err := s.catalog.Walk(ctx, model)
	if err != nil {
		return nil, err
	}
	idx := &baseIndex{model: model, byName: make(map[string][]catalog.Entry)}
	for _, e := range entries {
		if e.Kind == catalog.KindTensor {
			name := baseName(e.Path)
			idx.byName[name] = append(idx.byName[name], e)
		}
	}
	return idx, nil
}

// How a reference was found (catalog.Object.RefMatch).
const (
	matchPath       = "path"
	matchName       = "name"
	matchSimilarity = "similarity"
)

// refMatch is the reference chosen for a tensor and how it was found.
type refMatch struct {
	entry      catalog.Entry
	how        string  // matchPath, matchName or matchSimilarity
	similarity float64 // matchSimilarity: the sketches' similarity
}

// findReference returns the tensor a new tensor at path (header h; data
// reads its dataLen data bytes) should be encoded against, or nil for none:
// the model's base's tensor at the same relative path when dtype, shape and
// order match; else the base's only tensor of the same file name, dtype,
// shape and order; else the base's most similar tensor of that dtype, shape
// and order when it is similar enough (similarReference). A temporary name
// of a copy tool (see finalName) is matched by the name it will be renamed
// to.
func (s *Store) findReference(ctx context.Context, path string, h npy.Header, data io.ReaderAt, dataLen int64, idx *baseIndex, pol policy) (*refMatch, error) {
	model, rel := splitModel(path)
	if rel == "" {
		return nil, nil
	}
	m, err := s.catalog.Model(ctx, model)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.Base == "" || m.Base == model {
		return nil, nil
	}
	// A copy tool's temporary name (rsync's ".NAME.XXXXXX") stands for the
	// name the file is about to be renamed to: look that up first.
	rels := []string{rel}
	if final, ok := finalPath(rel); ok {
		rels = []string{final, rel}
	}
	for _, r := range rels {
		cand, err := s.catalog.Get(ctx, joinPath(m.Base, r))
		switch {
		case err == nil && tensorMatches(cand, h):
			return &refMatch{entry: cand, how: matchPath}, nil
		case err != nil && !errors.Is(err, catalog.ErrNotFound) && !errors.Is(err, catalog.ErrNotDir):
			return nil, err
		}
	}
	if idx == nil || idx.model != m.Base {
		if idx, err = s.buildBaseIndex(ctx, m.Base); err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, nil
			}
			return nil, err
		}
	}
	name, _ := finalName(baseName(path))
	var (
		found     *refMatch
		ambiguous bool // more than one candidate by file name
	)
	for _, e := range idx.byName[name] {
		if tensorMatches(e, h) {
			if found != nil {
				found, ambiguous = nil, true
				break
			}
			found = &refMatch{entry: e, how: matchName}
		}
	}
	if found == nil && !ambiguous && !h.Fortran {
		// The same tensor by name in the base's safetensors files.
		names, err := s.tensorNameIndex(ctx, model, idx)
		if err != nil {
			return nil, err
		}
		final, _ := finalPath(rel)
		if e := names.lookup(path, npyTensorKey(final), h.DType.Descr(), "", h.DType, h.Shape); e != nil {
			found = &refMatch{entry: *e, how: matchName}
		}
	}
	if found != nil {
		return found, nil
	}
	return s.similarReference(ctx, h, data, dataLen, idx, pol.SimilarityThreshold)
}

// tensorMatches reports whether e is a tensor of h's dtype, shape and order.
func tensorMatches(e catalog.Entry, h npy.Header) bool {
	return e.Kind == catalog.KindTensor && e.DType == h.DType.Descr() &&
		e.Fortran == h.Fortran && slices.Equal(e.Shape, h.Shape)
}

// chainDepth is how many references reconstructing object id goes
// through: 0 for an object that decodes alone.
func (s *Store) chainDepth(ctx context.Context, id string) (int, error) {
	depth := 0
	for {
		rec, err := s.catalog.Object(ctx, id)
		if err != nil {
			return 0, err
		}
		if rec.Ref == "" {
			return depth, nil
		}
		depth++
		if depth > maxReferenceDepth {
			return 0, corruptError(id, errors.New("reference chain loops"))
		}
		id = rec.Ref
	}
}
