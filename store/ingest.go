package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"deltafs/catalog"
	"deltafs/delta"
	"deltafs/npy"
)

// IngestOptions override the store's encoder settings for one file.
type IngestOptions struct {
	Strategy   delta.Strategy // "" keeps the store's
	AllowLossy bool
	// Mode is the file's permission bits (07777 at most). 0 keeps the mode
	// of the file being replaced, or gives a new file 0644.
	Mode uint32
	// Owner owns a new file (nil: the user running this process); a file
	// replaced keeps its owner, as one written over in place does.
	Owner *Owner
	// MTime is the file's modification time (zero: now).
	MTime time.Time
	// Content, if set, is the hash of the file's content that a
	// ContentHasher computed while every byte of it, in order, was written:
	// Ingest uses it instead of hashing the content again when it covers the
	// bytes Ingest would hash. The caller vouches for it: a hash of other
	// bytes would be recorded as the file's.
	Content *ContentSum
	// Stable promises that src is neither written nor truncated until
	// Ingest returns (a filesystem's own staging file, under its lock).
	// Ingest may then map the file instead of reading it range by range,
	// which saves a copy of every chunk, and need not check that it did not
	// change. A file truncated while mapped would crash the process: never
	// set it for files others can change.
	Stable bool
	// Pending, when not 0, is the RecordPending id of the file: its record
	// is forgotten in the transaction that commits the file.
	Pending int64
	// Settings override the settings of the file's model for this ingest.
	Settings Overrides
}

// Ingests of files of largeIngestSize bytes or more run at most
// maxLargeIngests at a time; the others wait for a slot. Each encodes on
// every core, so more at once would only add contention (and the few
// chunks each has in flight), not speed; two let one encode while the
// other hashes, writes or commits. Smaller files do not wait.
const (
	maxLargeIngests = 2
	largeIngestSize = 4 << 20
)

// ingestResult is what one ingest did.
type ingestResult struct {
	info     FileInfo
	warning  string // the file looked like an .npy but was stored as a blob
	newBytes int64  // bytes of object files written (0 when deduplicated)
	tensors  int    // tensors of a file stored in parts (safetensors)
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
	p, err := cleanNewPath(path)
	if err == nil && p == "" {
		err = ErrIsDir
	}
	if err != nil {
		return ingestResult{}, &PathError{Op: "ingest", Path: path, Err: err}
	}
	if err := s.checkWritable("ingest", p); err != nil {
		return ingestResult{}, err
	}
	return s.ingestChecked(ctx, p, src, opts, idx)
}

// ingestChecked is ingest of the clean path p once the caller has checked
// that it may write.
func (s *Store) ingestChecked(ctx context.Context, p string, src *os.File, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	s.pendingEncodes.Add(1)
	defer s.pendingEncodes.Add(-1)
	if st, err := src.Stat(); err == nil && st.Size() >= largeIngestSize {
		select {
		case s.largeIngests <- struct{}{}:
			defer func() { <-s.largeIngests }()
		case <-ctx.Done():
			return ingestResult{}, &PathError{Op: "ingest", Path: p, Err: ctx.Err()}
		}
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	res, err := s.ingestLocked(ctx, p, src, opts, idx)
	for try := 1; errors.Is(err, errObjectGone) && try < maxObjectGoneRetries; try++ {
		// Another process swept an object this ingest meant to use.
		res, err = s.ingestLocked(ctx, p, src, opts, idx)
	}
	if err != nil {
		err = &PathError{Op: "ingest", Path: p, Err: err}
		s.noteError(err)
		return ingestResult{}, err
	}
	return res, nil
}

// ingestLocked does the work of ingest; the caller holds gcMu for reading.
// The file is read a range at a time (or mapped, when stable) and never
// held in memory whole: the hash, the encoding and the write check each
// pass over it chunk by chunk.
func (s *Store) ingestLocked(ctx context.Context, p string, src *os.File, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	if opts.Mode&^permBits != 0 {
		return ingestResult{}, ErrInvalidMode
	}
	pol, err := s.policyFor(ctx, p, string(opts.Strategy), opts.AllowLossy, opts.Settings)
	if err != nil {
		return ingestResult{}, err
	}
	// The target must not be a directory, and its parent must be one.
	if e, err := s.catalog.Get(ctx, p); err == nil && e.Kind == catalog.KindDir {
		return ingestResult{}, ErrIsDir
	}
	in, err := openSource(src, opts.Stable)
	if err != nil {
		return ingestResult{}, err
	}
	defer in.close()
	head, err := in.head()
	if err != nil {
		return ingestResult{}, err
	}
	pf := classify(p, head, in.size)
	if isSafetensorsName(p) {
		h, err := readSafetensors(in)
		if err == nil {
			return s.ingestSafetensors(ctx, p, in, h, pol, opts, idx)
		}
		pf.warning = fmt.Sprintf("not a valid safetensors file (%v), stored as a blob", err)
	}
	if pf.warning != "" {
		s.log.Warn("stored as an opaque blob", slog.String("path", p), slog.String("reason", pf.warning))
	}
	return s.ingestFile(ctx, p, in, pf, pol, opts, idx)
}

// ingestFile stores one .npy tensor or blob read from in: it hashes the
// content, reuses an object holding the same content or encodes a new one,
// and commits the entry.
func (s *Store) ingestFile(ctx context.Context, p string, in *sourceFile, pf parsedFile, pol policy, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	entry, t, dataOff := fileEntry(p, opts, in.size, pf)
	sum, err := in.sum(ctx, dataOff, opts.Content, chunkBytes(pol.cfg, t.DType.Size))
	if err != nil {
		return ingestResult{}, err
	}
	entry.ContentHash = hex.EncodeToString(sum.sum[:])
	rec, err := s.dedup(ctx, entry)
	if err != nil {
		return ingestResult{}, err
	}
	var (
		enc  *encoded
		refm *refMatch // the reference the new object decodes against
	)
	if rec.ID == "" {
		it := in.input(dataOff, in.size-dataOff, t, sum)
		var e encoded
		if pf.tensor {
			e, refm, err = s.encodeFile(ctx, p, it, pf.header, pol, idx)
		} else {
			e, err = s.encodeBlob(ctx, p, it, pol)
		}
		if err != nil {
			return ingestResult{}, err
		}
		enc = &e
		entry.ContentHash = hex.EncodeToString(e.header.ContentHash[:])
	}
	// A file that grew or shrank meanwhile would be stored short: refuse.
	if err := in.checkUnchanged(); err != nil {
		return ingestResult{}, err
	}
	res := ingestResult{warning: pf.warning}
	if enc != nil {
		rec, res.newBytes = objectRecord(enc, entry.Kind, refm), enc.written
	}
	entry.Object = rec.ID
	committed, err := s.commit(ctx, entry, rec, enc != nil, opts.Mode == 0, opts.Pending)
	if err != nil {
		return ingestResult{}, err
	}
	res.info, err = s.fileInfo(ctx, committed)
	return res, err
}

// fileEntry is the catalog entry of a file of size bytes classified as pf
// (its content hash and object still to come), the tensor its object
// encodes (a blob is a tensor of bytes) and where that tensor's data starts.
func fileEntry(p string, opts IngestOptions, size int64, pf parsedFile) (catalog.Entry, delta.StreamTensor, int64) {
	entry := catalog.Entry{Path: p, Mode: opts.Mode, MTime: opts.MTime, Size: size, Owner: opts.Owner, Kind: catalog.KindBlob}
	if entry.MTime.IsZero() {
		entry.MTime = time.Now()
	}
	if !pf.tensor {
		return entry, blobTensor(nil, size), 0
	}
	entry.Kind = catalog.KindTensor
	entry.DType = pf.header.DType.Descr()
	entry.Shape = pf.header.Shape
	entry.Fortran = pf.header.Fortran
	if !pf.canonical {
		entry.Header = slices.Clone(pf.rawHeader)
	}
	t := delta.StreamTensor{DType: pf.header.DType, Shape: pf.header.Shape, Fortran: pf.header.Fortran}
	return entry, t, int64(pf.dataOff)
}

// chunkBytes is the chunk size of the objects cfg encodes for elements of
// elemSize bytes (delta.EncodeTo's rule).
func chunkBytes(cfg delta.Config, elemSize int) int64 {
	return max(int64(cfg.ChunkSize)/int64(elemSize)*int64(elemSize), int64(elemSize))
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
		// A file stored in parts (its object holds its header only) is no
		// copy of a blob of the same content.
		if e.Kind == catalog.KindBlob && (rec.RawSize != o.Size || len(o.Header) > 0) {
			continue
		}
		// Leased before it is checked: on a shared store a collection
		// running meanwhile must not remove what this commit will use.
		if err := s.lease(ctx, []string{rec.ID}); err != nil {
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

// loadReference finds the reference of a tensor (header h; in reads its
// data section) at path p and returns it as a source the encoder reads
// chunk by chunk, decoded as it goes; nil when it has none or its chain is
// too deep.
func (s *Store) loadReference(ctx context.Context, p string, h npy.Header, in *input, idx *baseIndex, pol policy) (*refMatch, *delta.StreamTensor, error) {
	match, err := s.findReference(ctx, p, h, in.t.Data, in.t.RawSize(), idx, pol)
	if err != nil || match == nil {
		return nil, nil, err
	}
	ref, err := s.openReference(ctx, &match.entry, h.DType, h.Shape, h.Fortran)
	if err != nil || ref == nil {
		return nil, nil, err
	}
	return match, ref, nil
}

// openReference returns the reference entry ref as the reference of a
// tensor of the given object dtype, shape and order: a source the encoder
// reads chunk by chunk; nil when its chain is too deep to add another
// link.
func (s *Store) openReference(ctx context.Context, ref *catalog.Entry, dt npy.DType, shape []int64, fortran bool) (*delta.StreamTensor, error) {
	depth, err := s.chainDepth(ctx, ref.Object)
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w", ref.Path, err)
	}
	if depth >= s.opts.MaxChainDepth {
		return nil, nil
	}
	refSum, err := s.objectContentHash(ctx, ref.Object)
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w", ref.Path, err)
	}
	return &delta.StreamTensor{DType: dt, Shape: shape, Fortran: fortran,
		Data: objectSource{ctx: ctx, s: s, id: ref.Object, path: ref.Path}, SHA256: &refSum}, nil
}

// objectSource reads the reconstructed bytes of an object, decoding the
// chunks a read covers (straight into the caller's buffer, without filling
// the cache: an ingest reads its reference once to encode and once to
// check, and readers need the cache more).
type objectSource struct {
	ctx  context.Context
	s    *Store
	id   string
	path string // for errors
}

func (o objectSource) ReadAt(p []byte, off int64) (int, error) {
	if err := o.s.readObject(o.ctx, o.id, off, p, 0, readOptions{direct: true}); err != nil {
		return 0, fmt.Errorf("reference %s: %w", o.path, err)
	}
	return len(p), nil
}

// encodeFile encodes a tensor against its reference, if it has one, and
// keeps the object. It returns the object and the reference it decodes
// against (nil when it decodes alone).
func (s *Store) encodeFile(ctx context.Context, p string, in *input, h npy.Header, pol policy, idx *baseIndex) (encoded, *refMatch, error) {
	match, ref, err := s.loadReference(ctx, p, h, in, idx, pol)
	if err != nil {
		return encoded{}, nil, err
	}
	e, err := s.encodeTensor(ctx, p, in, ref, pol)
	if err != nil {
		return encoded{}, nil, err
	}
	if !e.header.Lossy && e.header.ContentHash != *in.t.SHA256 {
		return encoded{}, nil, errors.New("encoder reported the wrong content hash")
	}
	if e.usedRef {
		return e, match, nil
	}
	return e, nil, nil
}

// encodeBlob encodes a file that is not a tensor, compressed alone (or
// verbatim), and keeps the object.
func (s *Store) encodeBlob(ctx context.Context, p string, in *input, pol policy) (encoded, error) {
	e, err := s.encodeTensor(ctx, p, in, nil, pol.forBlob())
	if err != nil {
		return encoded{}, err
	}
	if e.header.ContentHash != *in.t.SHA256 {
		return encoded{}, errors.New("encoder reported the wrong content hash")
	}
	return e, nil
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

// objectRecord is the catalog record of a kept object; ref is the
// reference it decodes against (nil: none).
func objectRecord(enc *encoded, kind catalog.Kind, ref *refMatch) catalog.Object {
	strategy := string(enc.header.Strategy)
	if kind == catalog.KindBlob {
		strategy = blobStrategy
	}
	o := catalog.Object{
		ID:         enc.id,
		Strategy:   strategy,
		Lossy:      enc.header.Lossy,
		RawSize:    enc.header.RawSize,
		StoredSize: enc.size,
	}
	if ref != nil {
		o.Ref, o.RefMatch, o.RefSimilarity = ref.entry.Object, ref.how, ref.similarity
	}
	return o
}

// commit records the object (when new) and the entry in one transaction,
// replacing any file at the entry's path (and its parts), and returns the
// stored entry. With keepMode the entry takes the mode of the file it
// replaces (0644 for a new file). A replaced file keeps its owner; a new
// one without an owner belongs to this process's user.
// pending, when not 0, is a pending record forgotten in the transaction.
// The objects it records or uses must still exist inside the transaction
// (a sweep of another process may have deleted them): else errObjectGone.
func (s *Store) commit(ctx context.Context, e catalog.Entry, rec catalog.Object, newObject, keepMode bool, pending int64) (catalog.Entry, error) {
	c := commitSet{keepMode: keepMode, pending: pending}
	if newObject {
		c.newObjects = []catalog.Object{rec}
	} else {
		c.used = rec.ID
	}
	return s.commitEntry(ctx, e, c)
}

// commitSet is what commitEntry records besides the entry.
type commitSet struct {
	newObjects []catalog.Object // objects written for the entry
	used       string           // an existing object the entry uses ("" none)
	parts      []catalog.Part   // the entry's parts (nil: stored whole)
	keepMode   bool
	pending    int64
}

// commitEntry is commit of an entry with any number of new objects and
// parts (a safetensors file: its header blob and a tensor per part).
func (s *Store) commitEntry(ctx context.Context, e catalog.Entry, c commitSet) (catalog.Entry, error) {
	if c.keepMode {
		e.Mode = fileMode
	}
	owner := e.Owner
	if owner == nil {
		self := s.self
		owner = &self
	}
	var out catalog.Entry
	err := s.update(ctx, func(tx catalog.Tx) error {
		if c.pending != 0 {
			// A pending file is stored where it is now (renames move it),
			// or not at all once it was removed or its path was given
			// newer content.
			path, err := takePending(ctx, tx, c.pending)
			if err != nil {
				return err
			}
			e.Path = path
		}
		if old, err := tx.Get(ctx, e.Path); err == nil {
			if old.Kind == catalog.KindDir {
				return ErrIsDir
			}
			if c.keepMode {
				e.Mode = old.Mode
			}
			e.Owner = nil // PutEntry keeps the old one
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return err
		} else {
			e.Owner = owner
		}
		for _, rec := range c.newObjects {
			if err := s.recordObject(ctx, tx, rec); err != nil {
				return err
			}
		}
		leased := c.newObjects
		if c.used != "" {
			leased = append(slices.Clip(leased), catalog.Object{ID: c.used})
		}
		if err := s.releaseLeases(ctx, tx, leased); err != nil {
			return err
		}
		if c.used != "" {
			if _, err := tx.Object(ctx, c.used); errors.Is(err, catalog.ErrNotFound) {
				return fmt.Errorf("object %s: %w", shortID(c.used), errObjectGone)
			} else if err != nil {
				return err
			}
		}
		if err := tx.PutEntry(ctx, e); err != nil {
			return err
		}
		if err := tx.SetParts(ctx, e.Path, c.parts); err != nil {
			return err
		}
		var err error
		out, err = tx.Get(ctx, e.Path)
		return err
	})
	if c.pending != 0 && (err == nil || errors.Is(err, ErrPendingGone)) {
		s.forgetBacklog(c.pending)
	}
	return out, err
}

// recordObject records a new object in tx once its reference is recorded
// and its file is there.
func (s *Store) recordObject(ctx context.Context, tx catalog.Tx, rec catalog.Object) error {
	if rec.Ref != "" {
		if _, err := tx.Object(ctx, rec.Ref); errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("reference object %s: %w", shortID(rec.Ref), errObjectGone)
		} else if err != nil {
			return fmt.Errorf("reference object %s: %w", shortID(rec.Ref), err)
		}
	}
	if ok, err := s.objects.Has(ctx, rec.ID); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("object %s: %w", shortID(rec.ID), errObjectGone)
	}
	return tx.PutObject(ctx, rec)
}

// errObjectGone means an object a commit was to record or use was deleted
// meanwhile by another process's sweep (see sweepObjects); the ingest is
// done again.
var errObjectGone = errors.New("object deleted by a concurrent sweep")

// maxObjectGoneRetries bounds the ingests of one file that meet
// errObjectGone.
const maxObjectGoneRetries = 3
