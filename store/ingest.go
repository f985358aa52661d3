package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"deltafs/catalog"
	"deltafs/delta"
)

// IngestOptions override the store's encoder settings for one file.
type IngestOptions struct {
	Strategy   delta.Strategy // "" keeps the store's
	AllowLossy bool
	// Mode is the file's permission bits (07777 at most). 0 keeps the mode
	// of the file being replaced, or gives a new file 0644.
	Mode uint32
}

// ingestResult is what one ingest did.
type ingestResult struct {
	info     FileInfo
	warning  string // the file looked like an .npy but was stored as a blob
	newBytes int64  // bytes of object files written (0 when deduplicated)
}

// Ingest stores the contents of src (a staged file) at path, replacing any
// file there atomically: a valid .npy is encoded against the model's base,
// anything else stored as an opaque blob. When Ingest returns nil the data
// and the catalog entry are durable.
func (s *Store) Ingest(ctx context.Context, path string, src *os.File, opts IngestOptions) (FileInfo, error) {
	res, err := s.ingest(ctx, path, src, opts, nil)
	return res.info, err
}

// ingest is Ingest, with an optional index of the base model's tensors.
func (s *Store) ingest(ctx context.Context, path string, src *os.File, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	p, err := cleanPath(path)
	if err == nil && p == "" {
		err = ErrIsDir
	}
	if err != nil {
		return ingestResult{}, &PathError{Op: "ingest", Path: path, Err: err}
	}
	if err := s.checkWritable("ingest", p); err != nil {
		return ingestResult{}, err
	}
	s.pendingEncodes.Add(1)
	defer s.pendingEncodes.Add(-1)
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	res, err := s.ingestLocked(ctx, p, src, opts, idx)
	if err != nil {
		err = &PathError{Op: "ingest", Path: p, Err: err}
		s.noteError(err)
		return ingestResult{}, err
	}
	return res, nil
}

// ingestLocked does the work of ingest; the caller holds gcMu for reading.
func (s *Store) ingestLocked(ctx context.Context, p string, src *os.File, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	cfg := s.cfg
	if opts.Strategy != "" {
		cfg.Strategy = opts.Strategy
	}
	if cfg.Strategy == "" {
		cfg.Strategy = delta.Auto
	}
	if _, err := delta.ParseStrategy(string(cfg.Strategy)); err != nil {
		return ingestResult{}, err
	}
	if opts.Mode&^permBits != 0 {
		return ingestResult{}, ErrInvalidMode
	}
	cfg.AllowLossy = cfg.AllowLossy || opts.AllowLossy
	if !cfg.Strategy.IsLossless() && !cfg.AllowLossy {
		return ingestResult{}, fmt.Errorf("strategy %s: %w", cfg.Strategy, delta.ErrLossyNotAllowed)
	}
	// The target must not be a directory, and its parent must be one.
	if e, err := s.catalog.Get(ctx, p); err == nil && e.Kind == catalog.KindDir {
		return ingestResult{}, ErrIsDir
	}

	data, err := readStaged(src)
	if err != nil {
		return ingestResult{}, err
	}
	pf := classify(p, data)
	if pf.warning != "" {
		s.log.Warn("stored as an opaque blob", slog.String("path", p), slog.String("reason", pf.warning))
	}
	var (
		entry catalog.Entry
		rec   catalog.Object
		enc   *encoded
		refID string // the object the new object decodes against
	)
	entry = catalog.Entry{Path: p, Mode: opts.Mode, MTime: time.Now()}
	if pf.tensor != nil {
		entry.Kind = catalog.KindTensor
		entry.DType = pf.header.DType.Descr()
		entry.Shape = pf.header.Shape
		entry.Fortran = pf.header.Fortran
		if !pf.canonical {
			entry.Header = slices.Clone(pf.rawHeader)
		}
		entry.Size = int64(len(data))
		sum := sha256.Sum256(pf.tensor.Data)
		entry.ContentHash = hex.EncodeToString(sum[:])
		rec, err = s.dedup(ctx, entry)
		if err != nil {
			return ingestResult{}, err
		}
		if rec.ID == "" {
			e, ref, err := s.encodeFile(ctx, p, pf, cfg, sum, idx)
			if err != nil {
				return ingestResult{}, err
			}
			enc, refID = &e, ref
			entry.ContentHash = hex.EncodeToString(e.header.ContentHash[:])
		}
	} else {
		entry.Kind = catalog.KindBlob
		entry.Size = int64(len(data))
		sum := sha256.Sum256(data)
		entry.ContentHash = hex.EncodeToString(sum[:])
		rec, err = s.dedup(ctx, entry)
		if err != nil {
			return ingestResult{}, err
		}
		if rec.ID == "" {
			c := s.cfg
			c.Strategy = delta.Compressed
			c.AllowLossy = false
			bt := blobTensor(data)
			bt.SHA256 = &sum
			e, err := s.encodeStandalone(p, bt, c, true)
			if err != nil {
				return ingestResult{}, err
			}
			if e.header.ContentHash != sum {
				return ingestResult{}, errors.New("encoder reported the wrong content hash")
			}
			enc = &e
		}
	}
	res := ingestResult{warning: pf.warning}
	if enc != nil {
		rec, res.newBytes, err = s.writeObject(ctx, enc, entry.Kind, refID)
		if err != nil {
			return ingestResult{}, err
		}
	}
	entry.Object = rec.ID
	committed, err := s.commit(ctx, entry, rec, enc != nil, opts.Mode == 0)
	if err != nil {
		return ingestResult{}, err
	}
	res.info, err = s.fileInfo(ctx, committed)
	return res, err
}

// dedup returns the object of an existing entry with the same content
// (same kind, and for tensors the same dtype, shape and order), or a zero
// record when there is none.
func (s *Store) dedup(ctx context.Context, e catalog.Entry) (catalog.Object, error) {
	same, err := s.catalog.FindContent(ctx, e.ContentHash)
	if err != nil {
		return catalog.Object{}, err
	}
	for _, o := range same {
		if o.Kind != e.Kind || o.Object == "" || o.DType != e.DType || o.Fortran != e.Fortran || !slices.Equal(o.Shape, e.Shape) {
			continue
		}
		rec, err := s.catalog.Object(ctx, o.Object)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return catalog.Object{}, err
		}
		// A missing object file must not swallow a new write.
		if ok, err := s.objects.Has(ctx, rec.ID); err != nil || !ok {
			continue
		}
		return rec, nil
	}
	return catalog.Object{}, nil
}

// encodeFile encodes a tensor against its reference, if it has one whose
// chain is not too deep. It returns the object and the reference's object
// id ("" when it decodes alone).
func (s *Store) encodeFile(ctx context.Context, p string, pf parsedFile, cfg delta.Config, sum [32]byte, idx *baseIndex) (encoded, string, error) {
	refEntry, err := s.findReference(ctx, p, pf.header, idx)
	if err != nil {
		return encoded{}, "", err
	}
	var ref *delta.Tensor
	if refEntry != nil {
		depth, err := s.chainDepth(ctx, refEntry.Object)
		if err != nil {
			return encoded{}, "", fmt.Errorf("reference %s: %w", refEntry.Path, err)
		}
		if depth < s.opts.MaxChainDepth {
			refData := make([]byte, len(pf.tensor.Data))
			if err := s.readObject(ctx, refEntry.Object, 0, refData, 0, readOptions{}); err != nil {
				return encoded{}, "", fmt.Errorf("reference %s: %w", refEntry.Path, err)
			}
			refSum, err := s.objectContentHash(ctx, refEntry.Object)
			if err != nil {
				return encoded{}, "", fmt.Errorf("reference %s: %w", refEntry.Path, err)
			}
			ref = &delta.Tensor{DType: pf.tensor.DType, Shape: pf.tensor.Shape, Fortran: pf.tensor.Fortran, Data: refData, SHA256: &refSum}
		}
	}
	t := *pf.tensor
	t.SHA256 = &sum // already hashed: the encoder need not hash it again
	e, err := s.encodeTensor(ctx, p, t, ref, cfg)
	if err != nil {
		return encoded{}, "", err
	}
	if !e.header.Lossy && e.header.ContentHash != sum {
		return encoded{}, "", errors.New("encoder reported the wrong content hash")
	}
	if e.usedRef {
		return e, refEntry.Object, nil
	}
	return e, "", nil
}

// objectContentHash returns the SHA-256 of what object id reconstructs to,
// as its header states, so the encoder need not hash a reference it was
// handed. The reconstruction was checked chunk by chunk as it was read, and a
// wrong hash could only make the new object refuse to decode, never serve
// wrong bytes.
func (s *Store) objectContentHash(ctx context.Context, id string) ([32]byte, error) {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return [32]byte{}, err
	}
	defer s.release(h)
	return h.obj.Header().ContentHash, nil
}

// writeObject stores an encoded object durably and returns its record and
// the bytes newly written (0 when the object file already existed).
func (s *Store) writeObject(ctx context.Context, enc *encoded, kind catalog.Kind, ref string) (catalog.Object, int64, error) {
	sum := sha256.Sum256(enc.data)
	id := hex.EncodeToString(sum[:])
	had, err := s.objects.Has(ctx, id)
	if err != nil {
		return catalog.Object{}, 0, err
	}
	var written int64
	if !had {
		got, err := s.objects.Put(ctx, enc.data)
		if err != nil {
			return catalog.Object{}, 0, err
		}
		if got != id {
			return catalog.Object{}, 0, fmt.Errorf("object store named the object %s, want %s", shortID(got), shortID(id))
		}
		written = int64(len(enc.data))
	}
	strategy := string(enc.header.Strategy)
	if kind == catalog.KindBlob {
		strategy = blobStrategy
	}
	return catalog.Object{
		ID:         id,
		Ref:        ref,
		Strategy:   strategy,
		Lossy:      enc.header.Lossy,
		RawSize:    enc.header.RawSize,
		StoredSize: int64(len(enc.data)),
	}, written, nil
}

// commit records the object (when new) and the entry in one transaction,
// replacing any file at the entry's path, and returns the stored entry.
// With keepMode the entry takes the mode of the file it replaces (0644 for
// a new file).
func (s *Store) commit(ctx context.Context, e catalog.Entry, rec catalog.Object, newObject, keepMode bool) (catalog.Entry, error) {
	if keepMode {
		e.Mode = fileMode
	}
	var out catalog.Entry
	err := s.update(ctx, func(tx catalog.Tx) error {
		if old, err := tx.Get(ctx, e.Path); err == nil {
			if old.Kind == catalog.KindDir {
				return ErrIsDir
			}
			if keepMode {
				e.Mode = old.Mode
			}
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		if rec.Ref != "" {
			if _, err := tx.Object(ctx, rec.Ref); err != nil {
				return fmt.Errorf("reference object %s: %w", shortID(rec.Ref), err)
			}
		}
		if newObject {
			if err := tx.PutObject(ctx, rec); err != nil {
				return err
			}
		}
		if err := tx.PutEntry(ctx, e); err != nil {
			return err
		}
		var err error
		out, err = tx.Get(ctx, e.Path)
		return err
	})
	return out, err
}

// readStaged reads the whole staged file, whatever its file offset.
func readStaged(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", f.Name())
	}
	size := st.Size()
	if size < 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("%s: size %d out of range", f.Name(), size)
	}
	data := make([]byte, size)
	n, err := f.ReadAt(data, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(data)) {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	// A file that grew meanwhile would be stored short: refuse.
	if st2, err := f.Stat(); err == nil && st2.Size() != size {
		return nil, fmt.Errorf("%s changed size while being stored", f.Name())
	}
	return data, nil
}
