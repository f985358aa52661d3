package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
// chunk at a time. The entry's ContentHash is the data section's, as for
// .npy files.
func (s *Store) ingestSafetensors(ctx context.Context, p string, in *sourceFile, h *safetensors.Header, pol policy, opts IngestOptions, idx *baseIndex) (ingestResult, error) {
	var (
		res  ingestResult
		recs []catalog.Object
	)
	start := h.DataStart()
	// The data section's hash (the entry's); each tensor is hashed, and
	// checked against its own pass, below.
	sum, err := in.sum(ctx, start, opts.Content, 0)
	if err != nil {
		return res, err
	}
	he, err := s.encodeTensor(ctx, p, memInput(h.Raw, blobTensor(nil, int64(len(h.Raw))), in.f.Name()), nil, pol.forBlob())
	if err != nil {
		return res, fmt.Errorf("header: %w", err)
	}
	recs = append(recs, objectRecord(&he, catalog.KindBlob, nil))
	res.newBytes += he.written

	var cands *nameIndex
	if model, rel := splitModel(p); rel != "" {
		if cands, err = s.tensorNameIndex(ctx, model, idx); err != nil {
			return res, err
		}
	}
	var parts []catalog.Part
	for _, ti := range h.ByOffset() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t := delta.StreamTensor{DType: stObjectDTypes[ti.DType], Shape: slices.Clone(ti.Shape)}
		tsum, err := in.hashSection(ctx, start+ti.Begin, ti.Size(), chunkBytes(pol.cfg, t.DType.Size))
		if err != nil {
			return res, err
		}
		label := p + ":" + ti.Name
		refEntry := cands.lookup(p, ti.Name, stNumpyDescr(ti.DType), string(ti.DType), t.DType, ti.Shape)
		var ref *delta.StreamTensor
		if refEntry != nil {
			if ref, err = s.openReference(ctx, refEntry, t.DType, t.Shape, false); err != nil {
				return res, err
			}
		}
		e, err := s.encodeTensor(ctx, label, in.input(start+ti.Begin, ti.Size(), t, tsum), ref, pol)
		if err != nil {
			return res, fmt.Errorf("tensor %q: %w", ti.Name, err)
		}
		var used *refMatch
		if e.usedRef {
			used = &refMatch{entry: *refEntry, how: matchName}
		}
		recs = append(recs, objectRecord(&e, catalog.KindTensor, used))
		res.newBytes += e.written
		parts = append(parts, catalog.Part{Name: ti.Name, DType: string(ti.DType), Shape: t.Shape,
			Offset: start + ti.Begin, Size: ti.Size(), Object: e.id, ContentHash: hex.EncodeToString(tsum.sum[:])})
	}
	if err := in.checkUnchanged(); err != nil {
		return res, err
	}
	entry := catalog.Entry{Path: p, Kind: catalog.KindBlob, Mode: opts.Mode, MTime: time.Now(), Size: in.size,
		Object: he.id, ContentHash: hex.EncodeToString(sum.sum[:]), Header: slices.Clone(h.Raw)}
	committed, err := s.commitEntry(ctx, entry, commitSet{newObjects: recs, parts: parts, keepMode: opts.Mode == 0, pending: opts.Pending})
	if err != nil {
		return res, err
	}
	res.info, err = s.fileInfo(ctx, committed)
	res.tensors = len(parts)
	return res, err
}

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
	i := sort.Search(len(f.parts), func(i int) bool { return f.parts[i].off+f.parts[i].size > off })
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
