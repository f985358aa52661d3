package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"deltafs/catalog"
	"deltafs/delta"
)

// Problem is one failure found by Verify.
type Problem struct {
	Path   string
	Object string
	Err    error
}

// verifyBufferSize is how much Verify reconstructs at once.
const verifyBufferSize = 8 << 20

// Verify decodes every file under path ("" all) and checks its hash; it
// returns the problems found (none: the store is sound), at most one per
// file, with the most precise cause found (see fileProblem), and one per
// object the catalog keeps alive whose file is gone. Each object file (and
// every object it references) is also hashed against its id. The top object
// of each file is decoded afresh, never served from the cache.
func (s *Store) Verify(ctx context.Context, path string, progress Progress) ([]Problem, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, &PathError{Op: "verify", Path: path, Err: err}
	}
	if _, err := s.getEntry(ctx, p); err != nil {
		return nil, &PathError{Op: "verify", Path: p, Err: err}
	}
	entries, err := s.catalog.Walk(ctx, p)
	if err != nil {
		return nil, &PathError{Op: "verify", Path: p, Err: err}
	}
	var total, done int64
	for _, e := range entries {
		if e.Kind != catalog.KindDir {
			total += e.Size
		}
	}
	progress.report(0, total)
	var problems []Problem
	objectChecked := make(map[string]error)
	for _, e := range entries {
		if e.Kind == catalog.KindDir {
			continue
		}
		if err := ctx.Err(); err != nil {
			return problems, err
		}
		// The object file and its references, each hashed once.
		badID, badErr, err := s.checkChain(ctx, e.Object, objectChecked)
		if err != nil {
			return problems, err
		}
		if pr, ok := s.fileProblem(ctx, e, badID, badErr); ok {
			if ctx.Err() != nil {
				return problems, ctx.Err()
			}
			problems = append(problems, pr)
		}
		done += e.Size
		progress.report(done, total)
	}
	if p == "" {
		missing, err := s.missingLiveObjects(ctx, objectChecked)
		if err != nil {
			return problems, err
		}
		problems = append(problems, missing...)
	}
	return problems, nil
}

// checkChain hashes object id's file and those of its references (each once
// per Verify: checked remembers the results) and returns the first object of
// the chain whose file is damaged, with its error ("" when all are sound).
func (s *Store) checkChain(ctx context.Context, id string, checked map[string]error) (string, error, error) {
	for depth := 0; id != "" && depth <= maxReferenceDepth; depth++ {
		rec, err := s.catalog.Object(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			return "", nil, nil // verifyContent reports the missing record
		}
		if err != nil {
			return "", nil, err
		}
		oerr, seen := checked[id]
		if !seen {
			oerr = s.checkObjectFile(ctx, id)
			if oerr == nil && rec.Ref != "" {
				oerr = s.checkReferenceLink(ctx, id, rec.Ref)
			}
			checked[id] = oerr
		}
		if oerr != nil {
			return id, oerr, nil
		}
		id = rec.Ref
	}
	return "", nil, nil
}

// checkReferenceLink checks that object id was encoded against what its
// catalog reference ref reconstructs to: the reference hash in id's header
// must equal the content hash in ref's header.
func (s *Store) checkReferenceLink(ctx context.Context, id, ref string) error {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return corruptError(id, err)
	}
	defer s.release(h)
	r, err := s.acquire(ctx, ref)
	if err != nil {
		return nil // the next link of the chain reports ref's own damage
	}
	defer s.release(r)
	hdr, want := h.obj.Header(), r.obj.Header().ContentHash
	if !hdr.HasReference || hdr.ReferenceHash != want {
		return corruptError(id, fmt.Errorf("%w: encoded against %x…, its catalog reference %s holds %x…",
			delta.ErrReferenceMismatch, hdr.ReferenceHash[:8], shortID(ref), want[:8]))
	}
	return nil
}

// fileProblem decodes entry e afresh and returns its one problem, if any.
// A decode failure is the most precise cause (it names the chunk and the
// check that failed, through references too); the problem names the
// object whose file is damaged when the hash check found it. A file that decodes correctly although an
// object file of its chain fails its hash (damage in bytes no chunk check
// covers) is reported with that hash failure.
func (s *Store) fileProblem(ctx context.Context, e catalog.Entry, badID string, badErr error) (Problem, bool) {
	cerr := s.verifyContent(ctx, e)
	switch {
	case cerr != nil && badID != "":
		return Problem{Path: e.Path, Object: badID, Err: cerr}, true
	case cerr != nil:
		return Problem{Path: e.Path, Object: e.Object, Err: cerr}, true
	case badID != "":
		return Problem{Path: e.Path, Object: badID, Err: badErr}, true
	}
	return Problem{}, false
}

// verifyContent reconstructs an entry's data section afresh and checks its
// size and SHA-256 against the catalog.
func (s *Store) verifyContent(ctx context.Context, e catalog.Entry) error {
	f, err := s.openEntry(ctx, e)
	if err != nil {
		return err
	}
	if f.parts != nil {
		return s.verifyParts(ctx, e, f)
	}
	rec, err := s.catalog.Object(ctx, e.Object)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return corruptError(e.Object, errors.New("object record missing from the catalog"))
		}
		return err
	}
	dataSize := f.size - int64(len(f.header))
	if rec.RawSize != dataSize {
		return corruptError(e.Object, fmt.Errorf("object holds %d bytes, the entry needs %d", rec.RawSize, dataSize))
	}
	h := sha256.New()
	buf := make([]byte, min(verifyBufferSize, max(dataSize, 1)))
	if err := s.hashObject(ctx, h, e.Object, dataSize, buf); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.ContentHash {
		return corruptError(e.Object, fmt.Errorf("content hash %s, catalog says %.16s", got[:16], e.ContentHash))
	}
	return nil
}

// hashObject reconstructs the first size bytes of object id afresh into h,
// through buf.
func (s *Store) hashObject(ctx context.Context, h hash.Hash, id string, size int64, buf []byte) error {
	for off := int64(0); off < size; {
		n := min(int64(len(buf)), size-off)
		if err := s.readObject(ctx, id, off, buf[:n], 0, readOptions{bypassCache: true}); err != nil {
			if isIntegrityError(err) {
				return corruptError(id, err)
			}
			return err
		}
		h.Write(buf[:n])
		off += n
	}
	return nil
}

// checkObjectFile hashes object id's file and compares it with the id.
func (s *Store) checkObjectFile(ctx context.Context, id string) error {
	r, err := s.objects.Open(ctx, id)
	if err != nil {
		return corruptError(id, fmt.Errorf("object file unreadable: %w", err))
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, r.Size())); err != nil {
		return corruptError(id, fmt.Errorf("read object file: %w", err))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != id {
		return corruptError(id, fmt.Errorf("object file hashes to %s", got[:16]))
	}
	return nil
}

// missingLiveObjects reports objects the catalog keeps alive whose files are
// gone (skipping those already checked).
func (s *Store) missingLiveObjects(ctx context.Context, checked map[string]error) ([]Problem, error) {
	live, err := s.catalog.LiveObjects(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(live))
	for id := range live {
		if _, ok := checked[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var problems []Problem
	for _, id := range ids {
		ok, err := s.objects.Has(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, Problem{Object: id, Err: corruptError(id, errors.New("object file missing"))})
		}
	}
	return problems, nil
}
