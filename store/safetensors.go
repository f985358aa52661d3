package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"deltafs/catalog"
	"deltafs/delta"
	"deltafs/npy"
	"deltafs/safetensors"
)

// A safetensors file is stored tensor by tensor (DESIGN.md §8a): its entry
// is a blob of the file's header bytes, exactly as they were, and each
// tensor is a part (catalog.Part) with an object of its own, encoded
// against the base's tensor of the same name. Reads put the file back
// together: the header from its blob, then each range from the tensors it
// covers.

// stObjectDTypes is the dtype each safetensors dtype's object is encoded
// as: the same element for numpy's types, raw 16-bit words for bf16 (2
// bytes a value, never widened) and bytes for the 8-bit floats.
var stObjectDTypes = map[safetensors.DType]npy.DType{
	safetensors.Bool: npy.Bool, safetensors.U8: npy.Uint8, safetensors.I8: npy.Int8,
	safetensors.I16: npy.Int16, safetensors.U16: npy.Uint16, safetensors.F16: npy.Float16,
	safetensors.BF16: npy.Uint16, safetensors.I32: npy.Int32, safetensors.U32: npy.Uint32,
	safetensors.F32: npy.Float32, safetensors.F64: npy.Float64, safetensors.I64: npy.Int64,
	safetensors.U64: npy.Uint64, safetensors.F8E4M3: npy.Uint8, safetensors.F8E5M2: npy.Uint8,
}

// stNumpyDescr returns the .npy dtype that holds the same values as a
// safetensors dtype, or "" when numpy has none (BF16, the 8-bit floats):
// only tensors of such dtypes are references across the two formats.
func stNumpyDescr(d safetensors.DType) string {
	switch d {
	case safetensors.BF16, safetensors.F8E4M3, safetensors.F8E5M2:
		return ""
	}
	return stObjectDTypes[d].Descr()
}

// isSafetensorsName reports whether the file at p is named as a
// safetensors file (a copy tool's temporary name counts by its final name).
func isSafetensorsName(p string) bool {
	name, _ := finalName(baseName(p))
	return strings.HasSuffix(strings.ToLower(name), ".safetensors")
}

// checkTensorNames refuses tensor names that cannot be told apart from the
// catalog's own bookkeeping: empty names and names with NUL bytes.
func checkTensorNames(h *safetensors.Header) error {
	for _, t := range h.Tensors {
		if t.Name == "" || strings.ContainsRune(t.Name, 0) {
			return fmt.Errorf("%w: tensor name %q is not supported", safetensors.ErrMalformed, t.Name)
		}
	}
	return nil
}

// readSafetensors reads and parses the header of a file as a safetensors
// file's; it reads no tensor data.
func readSafetensors(in *sourceFile) (*safetensors.Header, error) {
	h, err := safetensors.ReadHeader(in.section(0, in.size), in.size)
	if err == nil {
		err = checkTensorNames(h)
	}
	return h, err
}

// ingestSafetensors stores the safetensors file in (header h) at p: a blob
// of its header and an object per tensor, each read, hashed and encoded a
// chunk at a time (encodeTensors). The entry's ContentHash is the data
// section's, as for .npy files.
func (s *Store) ingestSafetensors(ctx context.Context, p string, in *sourceFile, h *safetensors.Header, pol policy, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	var res ingestResult
	he, err := s.encodeTensor(ctx, p, memInput(h.Raw, blobTensor(nil, int64(len(h.Raw))), in.f.Name()), nil, pol.forBlob())
	if err != nil {
		return res, fmt.Errorf("header: %w", err)
	}
	var cands *nameIndex
	if model, rel := splitModel(p); rel != "" {
		if cands, err = s.tensorNameIndex(ctx, model, idx); err != nil {
			return res, err
		}
	}
	st, err := s.encodeTensors(ctx, p, in, h, cands, pol, opts.Content)
	if err != nil {
		return res, err
	}
	if err := in.checkUnchanged(); err != nil {
		return res, err
	}
	recs := append([]catalog.Object{objectRecord(&he, catalog.KindBlob, nil)}, st.recs...)
	res.newBytes = he.written + st.newBytes
	entry := catalog.Entry{Path: p, Kind: catalog.KindBlob, Mode: opts.Mode, MTime: time.Now(), Size: in.size,
		Object: he.id, ContentHash: hex.EncodeToString(st.sum[:]), Header: slices.Clone(h.Raw)}
	committed, err := s.commitEntry(ctx, entry, commitSet{newObjects: recs, parts: st.parts, keepMode: opts.Mode == 0, pending: opts.Pending})
	if err != nil {
		return res, err
	}
	res.info, err = s.fileInfo(ctx, committed)
	res.tensors = len(st.parts)
	return res, err
}

// stEncoded is what encoding the tensors of a safetensors file gave, in
// file order.
type stEncoded struct {
	recs     []catalog.Object
	parts    []catalog.Part
	newBytes int64
	sum      [32]byte // the data section's SHA-256
}

// encodeTensors encodes the tensors of the safetensors file in (header h)
// at p, each against its base tensor in cands. One goroutine reads and
// hashes the tensors in offset order, feeding the data section's hash in
// the same pass (the tensors tile the data section: the parser checks it),
// unless given covers it; the tensors it has hashed are encoded in
// parallel, by as many workers as the file has large-ingest slots (the one
// its ingest holds and those free now), so the store encodes no more at
// once than for as many .npy files. The hashing runs at most one tensor
// ahead of the workers. Objects are kept, not committed.
func (s *Store) encodeTensors(ctx context.Context, p string, in *sourceFile, h *safetensors.Header, cands *nameIndex, pol policy, given *ContentSum) (stEncoded, error) {
	tensors := h.ByOffset()
	out := stEncoded{recs: make([]catalog.Object, len(tensors)), parts: make([]catalog.Part, len(tensors))}
	written := make([]int64, len(tensors))
	workers, releaseSlots := s.freeIngestSlots(in.size)
	defer releaseSlots()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hs := newSTHasher(len(tensors), workers+1)
	go hs.run(ctx, in, h, tensors, pol, given)
	err := parallelN(ctx, len(tensors), workers, func(i int) error {
		sum, err := hs.wait(ctx, i)
		if err != nil {
			return err
		}
		defer hs.done()
		rec, part, n, err := s.encodeSTTensor(ctx, p, in, h.DataStart(), tensors[i], sum, cands, pol)
		out.recs[i], out.parts[i], written[i] = rec, part, n
		return err
	})
	cancel()
	<-hs.finished
	if err == nil {
		err = hs.err
	}
	if err != nil {
		return stEncoded{}, err
	}
	for _, n := range written {
		out.newBytes += n
	}
	out.sum = hs.sum
	return out, nil
}

// encodeSTTensor encodes the tensor ti of the file in (data section at
// start), hashed as sum, against its base tensor in cands, and returns its
// object record, its part and the object bytes written.
func (s *Store) encodeSTTensor(ctx context.Context, p string, in *sourceFile, start int64, ti safetensors.TensorInfo, sum sectionSum, cands *nameIndex, pol policy) (catalog.Object, catalog.Part, int64, error) {
	t := delta.StreamTensor{DType: stObjectDTypes[ti.DType], Shape: slices.Clone(ti.Shape)}
	refEntry := cands.lookup(p, ti.Name, stNumpyDescr(ti.DType), string(ti.DType), t.DType, ti.Shape)
	var ref *delta.StreamTensor
	if refEntry != nil {
		var err error
		if ref, err = s.openReference(ctx, refEntry, t.DType, t.Shape, false); err != nil {
			return catalog.Object{}, catalog.Part{}, 0, err
		}
	}
	e, err := s.encodeTensor(ctx, p+":"+ti.Name, in.input(start+ti.Begin, ti.Size(), t, sum), ref, pol)
	if err != nil {
		return catalog.Object{}, catalog.Part{}, 0, fmt.Errorf("tensor %q: %w", ti.Name, err)
	}
	var used *refMatch
	if e.usedRef {
		used = &refMatch{entry: *refEntry, how: matchName}
	}
	part := catalog.Part{Name: ti.Name, DType: string(ti.DType), Shape: t.Shape,
		Offset: start + ti.Begin, Size: ti.Size(), Object: e.id, ContentHash: hex.EncodeToString(sum.sum[:])}
	return objectRecord(&e, catalog.KindTensor, used), part, e.written, nil
}

// freeIngestSlots returns how many tensors of a file of size bytes may be
// encoded at once: one, plus the large-ingest slots free now when the file
// is large (its ingest holds one slot already; waiting for more could
// deadlock two such files). The caller calls release once done.
func (s *Store) freeIngestSlots(size int64) (n int, release func()) {
	n = 1
	for size >= largeIngestSize && n < maxLargeIngests {
		select {
		case s.largeIngests <- struct{}{}:
			n++
			continue
		default:
		}
		break
	}
	return n, func() {
		for range n - 1 {
			<-s.largeIngests
		}
	}
}

// stHasher hashes the tensors of a safetensors file in offset order, and
// the data section in the same pass, for the workers encoding them.
type stHasher struct {
	sums     []sectionSum
	ready    []chan struct{} // ready[i] is closed once sums[i] is set
	ahead    chan struct{}   // a token per tensor hashed and not yet encoded
	failed   chan struct{}   // closed when hashing failed (err set)
	finished chan struct{}   // closed when run returns
	err      error
	sum      [32]byte // the data section's, once finished without err
}

// newSTHasher prepares the hashing of n tensors, at most ahead of them
// hashed and not yet encoded.
func newSTHasher(n, ahead int) *stHasher {
	hs := &stHasher{sums: make([]sectionSum, n), ready: make([]chan struct{}, n),
		ahead: make(chan struct{}, ahead), failed: make(chan struct{}), finished: make(chan struct{})}
	for i := range hs.ready {
		hs.ready[i] = make(chan struct{})
	}
	return hs
}

// run hashes the tensors (in offset order, starting at h's data section)
// and, unless given covers it, the data section with them.
func (hs *stHasher) run(ctx context.Context, in *sourceFile, h *safetensors.Header, tensors []safetensors.TensorInfo, pol policy, given *ContentSum) {
	defer close(hs.finished)
	start := h.DataStart()
	var whole hash.Hash
	if given.covers(start, in.size) {
		hs.sum = given.Sum
	} else {
		whole = sha256.New()
	}
	for i, ti := range tensors {
		select {
		case hs.ahead <- struct{}{}:
		case <-ctx.Done():
			hs.fail(ctx.Err())
			return
		}
		var also io.Writer
		if whole != nil {
			also = whole
		}
		sum, err := in.hashSectionTo(ctx, start+ti.Begin, ti.Size(), chunkBytes(pol.cfg, stObjectDTypes[ti.DType].Size), also)
		if err != nil {
			hs.fail(err)
			return
		}
		hs.sums[i] = sum
		close(hs.ready[i])
	}
	if whole != nil {
		whole.Sum(hs.sum[:0])
	}
}

// fail records the error that stopped the hashing.
func (hs *stHasher) fail(err error) {
	hs.err = err
	close(hs.failed)
}

// wait returns the hash of tensor i once it is ready.
func (hs *stHasher) wait(ctx context.Context, i int) (sectionSum, error) {
	select {
	case <-hs.ready[i]:
		return hs.sums[i], nil
	case <-hs.failed:
		return sectionSum{}, hs.err
	case <-ctx.Done():
		return sectionSum{}, ctx.Err()
	}
}

// done lets the hashing run one tensor further ahead once a tensor is
// encoded.
func (hs *stHasher) done() { <-hs.ahead }

// tensorKey is the name by which tensors match across files and formats
// (DESIGN.md §8a): a safetensors tensor's own name; for an .npy file its
// path inside the model without ".npy", with "/" read as ".", so that
// "layers/0/wq.npy" is the tensor "layers.0.wq".
func npyTensorKey(rel string) string {
	rel = strings.TrimSuffix(rel, ".npy")
	return strings.ReplaceAll(rel, "/", ".")
}

// nameCandidate is one tensor of a base model, by tensor name.
type nameCandidate struct {
	file   string // the file holding it, relative to the model
	dtype  string // safetensors dtype name, or .npy descr
	st     bool   // a safetensors part (dtype is a safetensors name)
	object npy.DType
	shape  []int64
	entry  catalog.Entry // Object and Path for openReference
}

// nameIndex is a base model's tensors by tensor name.
type nameIndex struct {
	byName map[string][]nameCandidate
}

// tensorNameIndex indexes the tensors of model's base by tensor name (nil
// when model has no base).
func (s *Store) tensorNameIndex(ctx context.Context, model string, idx *baseIndex) (*nameIndex, error) {
	m, err := s.catalog.Model(ctx, model)
	if errors.Is(err, catalog.ErrNotFound) || (err == nil && (m.Base == "" || m.Base == model)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if idx != nil && idx.model == m.Base {
		// One build per import, whichever of its files asks first.
		idx.namesMu.Lock()
		defer idx.namesMu.Unlock()
		if idx.names != nil {
			return idx.names, nil
		}
	}
	entries, err := s.catalog.Walk(ctx, m.Base)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	ni := &nameIndex{byName: make(map[string][]nameCandidate)}
	for _, e := range entries {
		_, rel := splitModel(e.Path)
		switch e.Kind {
		case catalog.KindTensor:
			if e.Fortran || !strings.HasSuffix(rel, ".npy") {
				continue
			}
			dt, err := npy.ParseDescr(e.DType)
			if err != nil {
				continue
			}
			key := npyTensorKey(rel)
			ni.byName[key] = append(ni.byName[key], nameCandidate{file: rel, dtype: e.DType, object: dt, shape: e.Shape, entry: e})
		case catalog.KindBlob:
			if !isSafetensorsName(e.Path) {
				continue
			}
			parts, err := s.catalog.Parts(ctx, e.Path)
			if err != nil {
				return nil, err
			}
			for _, p := range parts {
				d := safetensors.DType(p.DType)
				ref := catalog.Entry{Path: e.Path + ":" + p.Name, Kind: catalog.KindTensor, Object: p.Object}
				ni.byName[p.Name] = append(ni.byName[p.Name], nameCandidate{file: rel, dtype: p.DType, st: true, object: stObjectDTypes[d], shape: p.Shape, entry: ref})
			}
		}
	}
	if idx != nil && idx.model == m.Base {
		idx.names = ni
	}
	return ni, nil
}

// pathOf names the base tensor called name whose object is id (FILE:NAME
// for a safetensors file's tensor), or "object:" and id when the base has
// none (it was removed; the object lives on for the deltas made from it).
func (ni *nameIndex) pathOf(name, id string) string {
	if ni != nil {
		for _, c := range ni.byName[name] {
			if c.entry.Object == id {
				return c.entry.Path
			}
		}
	}
	return "object:" + id
}

// lookup returns the reference of the tensor name of a file at p: a base
// tensor of that name whose values are of the same type (stDType for
// safetensors parts, npyDescr for .npy files; "" matches no .npy) and
// whose shape is the same. Among several, the one in the file of the same
// relative path wins; otherwise it must be the only one.
func (ni *nameIndex) lookup(p, name, npyDescr, stDType string, object npy.DType, shape []int64) *catalog.Entry {
	if ni == nil {
		return nil
	}
	_, rel := splitModel(p)
	if final, ok := finalPath(rel); ok {
		rel = final
	}
	var found []nameCandidate
	for _, c := range ni.byName[name] {
		var same bool
		if c.st {
			same = c.dtype == stDType || npyDescr != "" && stNumpyDescr(safetensors.DType(c.dtype)) == npyDescr
		} else {
			same = npyDescr != "" && c.dtype == npyDescr
		}
		if same && c.object == object && slices.Equal(c.shape, shape) {
			if c.file == rel {
				return &c.entry
			}
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		return nil
	}
	return &found[0].entry
}

// filePart is one object-backed range of a file stored in parts.
type filePart struct {
	off, size int64
	object    string
}

// partAt is the index of the first of parts (sorted by offset) that ends
// past off: the part holding off, or len(parts) when none does.
func partAt(parts []filePart, off int64) int {
	return sort.Search(len(parts), func(i int) bool { return parts[i].off+parts[i].size > off })
}

// loadParts gives f, the file of blob entry e, its parts when it is stored
// in parts. The header is then served from the entry (e.Header; the
// entry's object holds the same bytes, for Verify and deduplication).
func (s *Store) loadParts(ctx context.Context, f *File, e catalog.Entry) error {
	parts, err := s.catalog.Parts(ctx, f.path)
	if err != nil || len(parts) == 0 {
		return err
	}
	f.header = e.Header
	f.parts = make([]filePart, 0, len(parts))
	end := int64(len(e.Header))
	for _, p := range parts {
		if p.Offset != end {
			return fmt.Errorf("%w: tensor %q at %d, the file's parts end at %d", ErrCorrupt, p.Name, p.Offset, end)
		}
		if p.Size > 0 {
			f.parts = append(f.parts, filePart{off: p.Offset, size: p.Size, object: p.Object})
		}
		end += p.Size
	}
	if end != f.size {
		return fmt.Errorf("%w: the file's parts end at %d, its size is %d", ErrCorrupt, end, f.size)
	}
	return nil
}

// readParts fills dst from off of a file stored in parts, decoding only the
// chunks of the parts the range covers.
func (f *File) readParts(ctx context.Context, dst []byte, off int64) error {
	i := partAt(f.parts, off)
	for len(dst) > 0 && i < len(f.parts) {
		p := f.parts[i]
		in := off - p.off
		n := min(int64(len(dst)), p.size-in)
		if err := f.s.readData(ctx, p.object, in, dst[:n]); err != nil {
			return err
		}
		dst, off, i = dst[n:], off+n, i+1
	}
	if len(dst) > 0 {
		return fmt.Errorf("%w: read past the file's parts", ErrCorrupt)
	}
	return nil
}

// addPartsInfo adds the parts of a file stored in parts to fi: their
// stored bytes, and the strategy "safetensors".
func (s *Store) addPartsInfo(ctx context.Context, fi *FileInfo) error {
	parts, err := s.catalog.Parts(ctx, fi.Path)
	if err != nil {
		return err
	}
	for _, p := range parts {
		rec, err := s.catalog.Object(ctx, p.Object)
		if err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				continue // reads fail with ErrCorrupt and Verify names it
			}
			return err
		}
		fi.StoredSize += rec.StoredSize
	}
	fi.Strategy = partsStrategy
	return nil
}

// partsStrategy is what FileInfo.Strategy says of a file stored in parts.
const partsStrategy = PartsStrategy

// PartsStrategy is the FileInfo.Strategy of a file stored tensor by tensor
// (a safetensors file); Tensors lists its tensors.
const PartsStrategy = "safetensors"

// TensorInfo describes one tensor of a file stored tensor by tensor.
type TensorInfo struct {
	Name       string
	DType      string // as the file names it, e.g. "BF16"
	Shape      []int64
	Offset     int64 // where its data start in the file
	Size       int64 // bytes of data
	StoredSize int64 // bytes of its object
	Strategy   string
	Delta      bool // encoded against a tensor of the base
}

// Tensors lists the tensors of the file at path in file order; none for a
// file stored whole.
func (s *Store) Tensors(ctx context.Context, path string) ([]TensorInfo, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, &PathError{Op: "tensors", Path: path, Err: err}
	}
	if _, err := s.getEntry(ctx, p); err != nil {
		return nil, &PathError{Op: "tensors", Path: p, Err: err}
	}
	parts, err := s.catalog.Parts(ctx, p)
	if err != nil {
		return nil, &PathError{Op: "tensors", Path: p, Err: err}
	}
	out := make([]TensorInfo, 0, len(parts))
	for _, pt := range parts {
		ti := TensorInfo{Name: pt.Name, DType: pt.DType, Shape: pt.Shape, Offset: pt.Offset, Size: pt.Size, Strategy: "missing"}
		if rec, err := s.catalog.Object(ctx, pt.Object); err == nil {
			ti.StoredSize, ti.Strategy, ti.Delta = rec.StoredSize, rec.Strategy, rec.Ref != ""
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return nil, &PathError{Op: "tensors", Path: p, Err: err}
		}
		out = append(out, ti)
	}
	return out, nil
}

// verifyParts checks that the entry's header object holds its header and
// reconstructs every part of f afresh, checking the data section's SHA-256
// against the catalog.
func (s *Store) verifyParts(ctx context.Context, e catalog.Entry, f *File) error {
	hdr := make([]byte, len(f.header))
	if err := s.readObject(ctx, e.Object, 0, hdr, 0, readOptions{bypassCache: true}); err != nil || !bytes.Equal(hdr, f.header) {
		if err == nil {
			err = errors.New("the header object differs from the catalog's header")
		}
		return corruptError(e.Object, err)
	}
	h := sha256.New()
	buf := make([]byte, verifyBufferSize)
	for _, p := range f.parts {
		if err := s.hashObject(ctx, h, p.object, p.size, buf); err != nil {
			return err
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.ContentHash {
		return corruptError(e.Object, fmt.Errorf("content hash %s, catalog says %.16s", got[:16], e.ContentHash))
	}
	return nil
}

// checkSafetensorsInput checks, before anything is imported, every
// safetensors file and sharded-model index among items: a malformed header
// (safetensors.ErrMalformed and the others), an index naming a missing
// shard or a tensor in two shards fail the import. A file of a dtype this
// build does not know is let through: Ingest keeps it as a blob, with a
// warning.
func checkSafetensorsInput(items []importItem) error {
	headers := make(map[string]*safetensors.Header)
	unknown := make(map[string]bool)
	byRel := make(map[string]importItem)
	for _, it := range items {
		if it.dir {
			continue
		}
		byRel[it.rel] = it
		if !isSafetensorsName(it.rel) {
			continue
		}
		h, err := readItemHeader(it)
		switch {
		case errors.Is(err, safetensors.ErrUnknownDType):
			unknown[it.rel] = true
		case err != nil:
			return fmt.Errorf("%s: %w", it.label, err)
		default:
			headers[it.rel] = h
		}
	}
	for _, it := range items {
		if it.dir || !strings.HasSuffix(it.rel, safetensors.IndexSuffix) {
			continue
		}
		if err := checkIndexItem(it, byRel, headers, unknown); err != nil {
			return fmt.Errorf("%s: %w", it.label, err)
		}
	}
	return nil
}

// readItemHeader reads and checks the header of a safetensors import item.
func readItemHeader(it importItem) (*safetensors.Header, error) {
	f, cleanup, err := it.open()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := safetensors.ReadHeader(f, st.Size())
	if err == nil {
		err = checkTensorNames(h)
	}
	return h, err
}

// maxIndexSize bounds the index JSON read into memory.
const maxIndexSize = 64 << 20

// checkIndexItem checks a sharded model's index against the shards beside it.
func checkIndexItem(it importItem, byRel map[string]importItem, headers map[string]*safetensors.Header, unknown map[string]bool) error {
	f, cleanup, err := it.open()
	if err != nil {
		return err
	}
	defer cleanup()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > maxIndexSize {
		return fmt.Errorf("%w: index of %d bytes (at most %d)", safetensors.ErrMalformed, st.Size(), maxIndexSize)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return err
	}
	ix, err := safetensors.ParseIndex(b)
	if err != nil {
		return err
	}
	dir := parentOf(it.rel)
	for _, name := range ix.Shards() {
		rel := joinPath(dir, name)
		if _, ok := byRel[rel]; !ok {
			return fmt.Errorf("%w: the index names %q, which is not there", safetensors.ErrMissingShard, name)
		}
		if unknown[rel] {
			return nil // a shard kept as a blob: its tensors cannot be checked
		}
	}
	// Every safetensors file beside the index is a shard of the model: no
	// tensor may be in two of them.
	shards := make(map[string]*safetensors.Header)
	for rel, h := range headers {
		if parentOf(rel) == dir {
			shards[baseName(rel)] = h
		}
	}
	return ix.Check(shards)
}

// addPartsUsage adds the objects of e's parts, when it is stored in parts,
// to each usage group (each object once per group).
func (s *Store) addPartsUsage(ctx context.Context, e catalog.Entry, byID map[string]catalog.Object, groups ...*usageGroup) error {
	if !isParted(e) {
		return nil
	}
	parts, err := s.catalog.Parts(ctx, e.Path)
	if err != nil {
		return err
	}
	for _, p := range parts {
		rec, ok := byID[p.Object]
		if !ok {
			continue
		}
		for _, g := range groups {
			if !g.objects[rec.ID] {
				g.objects[rec.ID] = true
				g.StoredBytes += rec.StoredSize
			}
		}
	}
	return nil
}

// isParted reports whether the entry is a file stored tensor by tensor.
func isParted(e catalog.Entry) bool { return e.Kind == catalog.KindBlob && len(e.Header) > 0 }
