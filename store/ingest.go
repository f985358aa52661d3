package store

import (
	"bytes"
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
	// Ingest may then map the file instead of reading it into memory,
	// which saves a copy and a buffer of the file's size. A file truncated
	// while mapped would crash the process: never set it for files others
	// can change.
	Stable bool
	// Pending, when not 0, is the RecordPending id of the file: its record
	// is forgotten in the transaction that commits the file.
	Pending int64
	// Settings override the settings of the file's model for this ingest.
	Settings Overrides
}

// Ingests of files of largeIngestSize bytes or more run at most
// maxLargeIngests at a time; the others wait for a slot. Each holds its
// reference and its encoding in memory and encodes on every core, so more
// at once would only add memory (and contention), not speed; two let one
// encode while the other hashes, writes or commits. Smaller files do not
// wait.
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

	// A tensor's reference is found and decoded while the file is read (and
	// hashed), from its header alone; the work is dropped if the file turns
	// out to be something else.
	early := s.startReferenceFromHeader(ctx, p, src, idx, pol)
	if early != nil {
		defer early.cancelAndWait()
	}
	staged, err := readStaged(src, opts.Content, opts.Stable)
	if err != nil {
		return ingestResult{}, err
	}
	defer staged.release()
	data := staged.data
	pf := classify(p, data)
	if isSafetensorsName(p) {
		h, err := parseSafetensors(data)
		if err == nil {
			return s.ingestSafetensors(ctx, p, data, h, staged.sum(h.DataStart()), pol, opts, idx)
		}
		pf.warning = fmt.Sprintf("not a valid safetensors file (%v), stored as a blob", err)
	}
	if pf.warning != "" {
		s.log.Warn("stored as an opaque blob", slog.String("path", p), slog.String("reason", pf.warning))
	}
	prep := early
	if !early.matches(pf) {
		if early != nil {
			early.cancel()
		}
		prep = nil
	}
	var (
		entry catalog.Entry
		rec   catalog.Object
		enc   *encoded
		refm  *refMatch // the reference the new object decodes against
	)
	entry = catalog.Entry{Path: p, Mode: opts.Mode, MTime: opts.MTime, Size: int64(len(data)), Owner: opts.Owner}
	if entry.MTime.IsZero() {
		entry.MTime = time.Now()
	}
	if pf.tensor != nil {
		entry.Kind = catalog.KindTensor
		entry.DType = pf.header.DType.Descr()
		entry.Shape = pf.header.Shape
		entry.Fortran = pf.header.Fortran
		if !pf.canonical {
			entry.Header = slices.Clone(pf.rawHeader)
		}
		// Not started from the header (longer than peekHeaderSize, or the
		// file changed meanwhile): start it now, while the content is still
		// being hashed. Either way the work is lost only when the content
		// turns out to be stored already, and then it is cancelled.
		if prep == nil && !staged.given.covers(int64(pf.dataOff), entry.Size) {
			prep = s.startReference(ctx, p, pf.header, bytes.NewReader(pf.tensor.Data), len(pf.tensor.Data), idx, pol)
			defer prep.cancelAndWait()
		}
		sum := staged.sum(int64(pf.dataOff))
		entry.ContentHash = hex.EncodeToString(sum[:])
		rec, err = s.dedup(ctx, entry)
		if err != nil {
			return ingestResult{}, err
		}
		if rec.ID != "" && prep != nil {
			prep.cancel() // stored already: the reference is not needed
		}
		if rec.ID == "" {
			if prep == nil {
				prep = s.startReference(ctx, p, pf.header, bytes.NewReader(pf.tensor.Data), len(pf.tensor.Data), idx, pol)
			}
			e, ref, err := s.encodeFile(ctx, p, pf, pol, sum, prep)
			if err != nil {
				return ingestResult{}, err
			}
			enc, refm = &e, ref
			entry.ContentHash = hex.EncodeToString(e.header.ContentHash[:])
		}
	} else {
		entry.Kind = catalog.KindBlob
		sum := staged.sum(0)
		entry.ContentHash = hex.EncodeToString(sum[:])
		rec, err = s.dedup(ctx, entry)
		if err != nil {
			return ingestResult{}, err
		}
		if rec.ID == "" {
			bt := blobTensor(data)
			bt.SHA256 = &sum
			e, err := s.encodeTensor(ctx, p, bt, nil, pol.forBlob())
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
		// A missing object file must not swallow a new write.
		if ok, err := s.objects.Has(ctx, rec.ID); err != nil || !ok {
			continue
		}
		return rec, nil
	}
	return catalog.Object{}, nil
}

// refPrep is the reference of a tensor being ingested, found and decoded
// in the background.
type refPrep struct {
	header  npy.Header // of the tensor
	dataLen int
	cancel  context.CancelFunc
	done    chan struct{}
	match   *refMatch // nil: none, or its chain is too deep
	ref     *delta.Tensor
	err     error
}

// startReference starts finding and decoding the reference of a tensor
// with header h and dataLen data bytes at path p (see findReference), when
// it has one whose chain is not too deep.
// data reads the tensor's data section (for a similarity search).
func (s *Store) startReference(ctx context.Context, p string, h npy.Header, data io.ReaderAt, dataLen int, idx *baseIndex, pol policy) *refPrep {
	ctx, cancel := context.WithCancel(ctx)
	r := &refPrep{header: h, dataLen: dataLen, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer cancel()
		r.match, r.ref, r.err = s.loadReference(ctx, p, h, data, dataLen, idx, pol)
	}()
	return r
}

// peekHeaderSize is how much of a staged file startReferenceFromHeader
// reads to find an .npy header (longer headers are not looked for early).
const peekHeaderSize = 4096

// startReferenceFromHeader starts the reference of the staged file f when
// its first bytes are an .npy header whose data section fills the rest of
// the file; nil otherwise.
func (s *Store) startReferenceFromHeader(ctx context.Context, p string, f *os.File, idx *baseIndex, pol policy) *refPrep {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	buf := make([]byte, min(st.Size(), peekHeaderSize))
	n, _ := f.ReadAt(buf, 0)
	h, dataOff, err := npy.ParseHeader(buf[:n])
	if err != nil {
		return nil
	}
	size, err := h.DataSize()
	if err != nil || size != st.Size()-int64(dataOff) || int64(int(size)) != size {
		return nil
	}
	return s.startReference(ctx, p, h, io.NewSectionReader(f, int64(dataOff), size), int(size), idx, pol)
}

// matches reports whether r was started for the tensor pf.
func (r *refPrep) matches(pf parsedFile) bool {
	return r != nil && pf.tensor != nil && r.dataLen == len(pf.tensor.Data) &&
		r.header.DType == pf.header.DType && r.header.Fortran == pf.header.Fortran &&
		slices.Equal(r.header.Shape, pf.header.Shape)
}

// wait waits for the reference and returns it.
func (r *refPrep) wait() (*refMatch, *delta.Tensor, error) {
	<-r.done
	return r.match, r.ref, r.err
}

// cancelAndWait stops the work if it is still running and waits for it.
func (r *refPrep) cancelAndWait() {
	r.cancel()
	<-r.done
}

// loadReference finds the reference of a tensor (header h, dataLen data
// bytes) at path p and decodes it; nil when it has none or its chain is too
// deep.
func (s *Store) loadReference(ctx context.Context, p string, h npy.Header, data io.ReaderAt, dataLen int, idx *baseIndex, pol policy) (*refMatch, *delta.Tensor, error) {
	match, err := s.findReference(ctx, p, h, data, int64(dataLen), idx, pol)
	if err != nil || match == nil {
		return nil, nil, err
	}
	refEntry := &match.entry
	ref, err := s.decodeReference(ctx, refEntry, h.DType, h.Shape, h.Fortran, dataLen)
	if err != nil || ref == nil {
		return nil, nil, err
	}
	return match, ref, nil
}

// encodeFile encodes a tensor against its reference (prep), if it has one,
// and keeps the object. It returns the object and the reference it decodes
// against (nil when it decodes alone).
func (s *Store) encodeFile(ctx context.Context, p string, pf parsedFile, pol policy, sum [32]byte, prep *refPrep) (encoded, *refMatch, error) {
	match, ref, err := prep.wait()
	if err != nil {
		return encoded{}, nil, err
	}
	t := *pf.tensor
	t.SHA256 = &sum // already hashed: the encoder need not hash it again
	e, err := s.encodeTensor(ctx, p, t, ref, pol)
	if err != nil {
		return encoded{}, nil, err
	}
	if !e.header.Lossy && e.header.ContentHash != sum {
		return encoded{}, nil, errors.New("encoder reported the wrong content hash")
	}
	if e.usedRef {
		return e, match, nil
	}
	return e, nil, nil
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
		StoredSize: int64(len(enc.data)),
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
		if c.used != "" {
			if _, err := tx.Object(ctx, c.used); errors.Is(err, catalog.ErrNotFound) {
				return fmt.Errorf("object %s: %w", shortID(c.used), errObjectGone)
			} else if err != nil {
				return err
			}
		}
		if c.pending != 0 {
			if err := tx.DeletePending(ctx, c.pending); err != nil && !errors.Is(err, catalog.ErrNotFound) {
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
	if err == nil && c.pending != 0 {
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

// stagedPiece is how much readStaged reads at once; the hash follows
// piece by piece.
const stagedPiece = 4 << 20

// mapStagedMin is the size from which a stable staged file is mapped
// rather than read.
const mapStagedMin = 1 << 20

// stagedData is a staged file read (or mapped) into memory, with the
// SHA-256 of its content computed in the background as the pieces arrive.
type stagedData struct {
	data     []byte
	mapped   bool          // data is a mapping of the file (release unmaps it)
	given    *ContentSum   // the caller's hash of the content, if it covers the file
	done     chan struct{} // closed once computed is set (nil: nothing computed)
	computed ContentSum
}

// readStaged reads the whole staged file, whatever its file offset, or,
// when the caller vouches that it is stable, maps it. Unless given covers
// the whole file, a ContentHasher hashes it behind the reads. The caller
// must release the result once no slice of its data is in use.
func readStaged(f *os.File, given *ContentSum, stable bool) (*stagedData, error) {
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
	sd := &stagedData{}
	if stable && size >= mapStagedMin {
		if m, err := mapFile(f, size); err == nil {
			sd.data, sd.mapped = m, true
		}
	}
	if !sd.mapped {
		sd.data = make([]byte, size)
	}
	var pieces chan int64
	if given != nil && given.Size == size {
		sd.given = given
	} else {
		pieces = make(chan int64, size/stagedPiece+1)
		sd.done = make(chan struct{})
		go func() {
			defer close(sd.done)
			var h ContentHasher
			for off := range pieces {
				h.Write(sd.data[off:min(off+stagedPiece, size)])
			}
			sd.computed = h.Sum()
		}()
	}
	var rerr error
	for off := int64(0); off < size; off += stagedPiece {
		buf := sd.data[off:min(off+stagedPiece, size)]
		if n, err := sd.fill(f, buf, off); err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
			rerr = fmt.Errorf("read %s: %w", f.Name(), err)
			break
		}
		if pieces != nil {
			pieces <- off
		}
	}
	if pieces != nil {
		close(pieces)
	}
	if rerr == nil {
		// A file that grew meanwhile would be stored short: refuse.
		if st2, err := f.Stat(); err == nil && st2.Size() != size {
			rerr = fmt.Errorf("%s changed size while being stored", f.Name())
		}
	}
	if rerr != nil {
		sd.release()
		return nil, rerr
	}
	return sd, nil
}

// fill reads the piece buf of the file at off; a mapped file is there
// already.
func (sd *stagedData) fill(f *os.File, buf []byte, off int64) (int, error) {
	if sd.mapped {
		return len(buf), nil
	}
	return f.ReadAt(buf, off)
}

// release waits for the background hash and unmaps a mapped file; data
// must not be used afterwards.
func (sd *stagedData) release() {
	sd.wait()
	if sd.mapped {
		unmapFile(sd.data)
		sd.data, sd.mapped = nil, false
	}
}

// wait waits for the background hash, if any.
func (sd *stagedData) wait() {
	if sd.done != nil {
		<-sd.done
	}
}

// sum returns the SHA-256 of the data from off on: the caller's or the
// background one when it covers exactly that range, else computed now.
func (sd *stagedData) sum(off int64) [32]byte {
	size := int64(len(sd.data))
	if sd.given.covers(off, size) {
		return sd.given.Sum
	}
	sd.wait()
	if sd.done != nil && sd.computed.covers(off, size) {
		return sd.computed.Sum
	}
	return sha256.Sum256(sd.data[off:])
}
