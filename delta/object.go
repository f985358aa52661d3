package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"deltafs/npy"
)

// Header is the decoded fixed part of an object.
type Header struct {
	FormatVersion uint16
	Strategy      Strategy
	Lossy         bool
	DType         npy.DType
	Shape         []int64
	Fortran       bool
	ChunkSize     int64 // raw bytes per chunk (last chunk may be shorter)
	RawSize       int64 // reconstructed data bytes
	NumChunks     int
	HasReference  bool     // false: the object decodes on its own
	ReferenceHash [32]byte // SHA-256 of the reference data section
	ContentHash   [32]byte // SHA-256 of the reconstructed data section
}

// Object is a parsed object: header and chunk table validated, payloads read
// lazily through the io.ReaderAt it was opened on. Safe for concurrent use.
type Object struct {
	r      io.ReaderAt
	size   int64
	hdr    Header
	table  []chunkEntry
	layout wordLayout
	codec  codec
	// verbatim: a compact object whose payload is the data section itself.
	verbatim bool
}

// Open parses and validates an object's header and chunk table. Every size
// is checked before anything is allocated; a malformed object is
// ErrCorrupt, a newer format ErrUnsupportedVersion.
func Open(r io.ReaderAt, size int64) (*Object, error) {
	if size < int64(cmpVersion.end()) {
		return nil, corruptf("object of %d bytes is too short", size)
	}
	var start [6]byte
	if err := readFull(r, start[:min(len(start), int(size))], 0); err != nil {
		return nil, err
	}
	if [4]byte(hdrMagic.in(start[:])) != objectMagic {
		return nil, corruptf("bad magic %q", hdrMagic.in(start[:]))
	}
	// Byte 5 is the high byte of the chunked layout's u16 format_version
	// (0) and the strategy id (never 0) of the compact layout.
	switch v := cmpVersion.get(start[:]); {
	case v == compactVersion && cmpStrategy.get(start[:]) != 0:
		return openCompact(r, size)
	case v > maxFormatVersion:
		return nil, fmt.Errorf("%w: version %d, this build reads up to %d", ErrUnsupportedVersion, v, maxFormatVersion)
	}
	if size < int64(fixedHeaderSize) {
		return nil, corruptf("object of %d bytes is shorter than the %d-byte header", size, fixedHeaderSize)
	}
	fixed := make([]byte, fixedHeaderSize)
	if err := readFull(r, fixed, 0); err != nil {
		return nil, err
	}
	p, err := parseFixed(fixed)
	if err != nil {
		return nil, err
	}
	h := p.hdr
	hlen, ok := headerLen(len(h.Shape), p.paramsLen, int64(h.NumChunks), size)
	if !ok {
		return nil, corruptf("header with %d params bytes and %d chunks does not fit in %d bytes", p.paramsLen, h.NumChunks, size)
	}
	b := make([]byte, hlen)
	copy(b, fixed)
	if err := readFull(r, b[fixedHeaderSize:], int64(fixedHeaderSize)); err != nil {
		return nil, err
	}
	if got, want := crc32c(b[:hlen-headerCRCSize]), getU32(b[hlen-headerCRCSize:]); got != want {
		return nil, corruptf("header checksum %08x, stored %08x", got, want)
	}
	pos := int64(fixedHeaderSize)
	if err := parseShape(b[pos:], &h); err != nil {
		return nil, err
	}
	pos += shapeDimSize * int64(len(h.Shape))
	params := b[pos : pos+int64(p.paramsLen)]
	pos += int64(p.paramsLen)
	c, err := codecFromParams(h.Strategy, params, h.RawSize/int64(h.DType.Size), h.DType)
	if err != nil {
		return nil, corruptf("%v", err)
	}
	table, err := parseTable(b[pos:hlen-headerCRCSize], &h, h.Strategy, hlen, size)
	if err != nil {
		return nil, err
	}
	l := layoutFor(h.DType, p.flags&flagBF16Halves != 0)
	if p.flags&flagBF16Words != 0 {
		l = l.asBF16Words()
	}
	return &Object{r: r, size: size, hdr: h, table: table, layout: l, codec: c}, nil
}

// codecFromParams validates a strategy's parameters and builds its codec.
func codecFromParams(s Strategy, params []byte, nelem int64, d npy.DType) (codec, error) {
	if !s.IsLossless() && d.Kind != 'f' {
		return nil, fmt.Errorf("lossy strategy %s on %s data", s, dtypeString(d))
	}
	switch s {
	case Int8Quantized:
		return parseQuantParams(params, 8)
	case Int16Quantized:
		return parseQuantParams(params, 16)
	case Sparse:
		return parseSparseParams(params)
	case PerAxisScaled:
		return parsePerAxisParams(params, nelem)
	}
	if len(params) != 0 {
		return nil, fmt.Errorf("%d parameter bytes for %s", len(params), s)
	}
	return newCodec(s, Config{}), nil
}

// readFull reads len(b) bytes at off; a short object is corrupt.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf("object truncated at %d bytes", off+int64(n))
	}
	return fmt.Errorf("delta: reading object: %w", err)
}

// Header returns the object's header.
func (o *Object) Header() Header {
	h := o.hdr
	h.Shape = append([]int64(nil), h.Shape...)
	return h
}

// StoredSize returns the object's size in bytes.
func (o *Object) StoredSize() int64 { return o.size }

// ChunkRange returns the byte range [off, off+n) of the reconstructed data
// that chunk i covers.
func (o *Object) ChunkRange(i int) (off, n int64) {
	if i < 0 || i >= o.hdr.NumChunks {
		return 0, 0
	}
	return chunkBounds(&o.hdr, i)
}

// ChunkUsesReference reports whether chunk i needs the reference's bytes of
// the same range to decode.
func (o *Object) ChunkUsesReference(i int) bool {
	return i >= 0 && i < len(o.table) && o.table[i].flags&chunkUsesReference != 0
}

// ChunkMethod returns chunk i's method byte (for auto: 0 XOR, 1 ordered
// difference, 2 alone, 3 stored, 4 zigzag difference; docs/FORMAT.md §4;
// 7 for the verbatim payload of a compact object, §2a).
func (o *Object) ChunkMethod(i int) uint8 {
	if i < 0 || i >= len(o.table) {
		return 0
	}
	return o.table[i].method
}

// ChunksFor returns the chunk indices [first, last] covering the data bytes
// [off, off+n); n ≤ 0 or an empty tensor gives first > last.
func (o *Object) ChunksFor(off, n int64) (first, last int) {
	if n <= 0 || off < 0 || off >= o.hdr.RawSize || o.hdr.NumChunks == 0 {
		return 0, -1
	}
	end := min(o.hdr.RawSize, off+n) - 1
	return int(off / o.hdr.ChunkSize), int(end / o.hdr.ChunkSize)
}

var payloadPool = sync.Pool{New: func() any { return new([]byte) }}

// DecodeChunk reconstructs chunk i into dst (len n from ChunkRange). ref holds
// the reference data bytes of the same range, or nil when the chunk does not
// use the reference. Payload and output checksums are verified: a mismatch is
// ErrCorrupt, never wrong bytes.
func (o *Object) DecodeChunk(i int, ref, dst []byte) error {
	if i < 0 || i >= o.hdr.NumChunks {
		return fmt.Errorf("delta: chunk %d out of range 0..%d", i, o.hdr.NumChunks-1)
	}
	off, n := chunkBounds(&o.hdr, i)
	if int64(len(dst)) != n {
		return fmt.Errorf("delta: chunk %d needs a %d-byte buffer, got %d", i, n, len(dst))
	}
	e := o.table[i]
	uses := e.flags&chunkUsesReference != 0
	if uses && int64(len(ref)) != n {
		return fmt.Errorf("%w: chunk %d needs %d reference bytes, got %d", ErrReferenceMismatch, i, n, len(ref))
	}
	bp := payloadPool.Get().(*[]byte)
	defer payloadPool.Put(bp)
	if cap(*bp) < int(e.length) {
		*bp = make([]byte, e.length)
	}
	payload := (*bp)[:e.length]
	if err := readFull(o.r, payload, int64(e.offset)); err != nil {
		return fmt.Errorf("chunk %d: %w", i, err)
	}
	if got := crc32c(payload); got != e.payCRC {
		return corruptf("chunk %d: payload checksum %08x, stored %08x", i, got, e.payCRC)
	}
	if o.verbatim {
		copy(dst, payload)
		return nil
	}
	var rw []byte
	if uses {
		var rb *[]byte
		rb, rw = chunkWords(o.codec, o.layout, ref)
		defer putBuf(rb)
	}
	first := off / int64(o.layout.rawPerWord())
	if err := decodeWords(o.codec, o.layout, payload, e.method, rw, first, dst); err != nil {
		clear(dst)
		if uses {
			// The payload is intact, so the reference is the likely culprit.
			return fmt.Errorf("%w: %w: chunk %d: %v (is the reference the one encoded against?)", ErrCorrupt, ErrReferenceMismatch, i, err)
		}
		return corruptf("chunk %d: %v", i, err)
	}
	if got := crc32c(dst); got != e.dataCRC {
		clear(dst)
		if uses {
			return fmt.Errorf("%w: %w: chunk %d: decoded data checksum mismatch (the reference is not the one encoded against)", ErrCorrupt, ErrReferenceMismatch, i)
		}
		return corruptf("chunk %d: decoded data checksum %08x, stored %08x", i, got, e.dataCRC)
	}
	return nil
}

// DecodeAll reconstructs the whole data section (chunks in parallel) and
// verifies its SHA-256 against ContentHash. With a reference it first checks
// the reference's SHA-256 (ErrReferenceMismatch). It allocates
// Header().RawSize bytes: callers facing untrusted objects check that first.
func (o *Object) DecodeAll(ref []byte) ([]byte, error) {
	return o.decodeAll(context.Background(), ref, 0, true)
}

// DecodeAllContext is DecodeAll that stops between chunks once ctx is done.
func (o *Object) DecodeAllContext(ctx context.Context, ref []byte) ([]byte, error) {
	return o.decodeAll(ctx, ref, 0, true)
}

func (o *Object) decodeAll(ctx context.Context, ref []byte, workers int, verify bool) ([]byte, error) {
	h := &o.hdr
	if h.HasReference {
		if int64(len(ref)) != h.RawSize {
			return nil, fmt.Errorf("%w: reference of %d bytes, expected %d", ErrReferenceMismatch, len(ref), h.RawSize)
		}
		if sha256.Sum256(ref) != h.ReferenceHash {
			return nil, fmt.Errorf("%w: reference SHA-256 differs", ErrReferenceMismatch)
		}
	}
	out := make([]byte, h.RawSize)
	err := parallel(ctx, h.NumChunks, workers, func(i int) error {
		off, n := chunkBounds(h, i)
		var r []byte
		if o.ChunkUsesReference(i) {
			r = ref[off : off+n]
		}
		return o.DecodeChunk(i, r, out[off:off+n])
	})
	if err != nil {
		return nil, err
	}
	if verify && sha256.Sum256(out) != h.ContentHash {
		return nil, fmt.Errorf("%w: %w: content SHA-256 differs", ErrReconstruction, ErrCorrupt)
	}
	return out, nil
}

// Decode opens the object in obj and reconstructs its data section against
// ref (nil for an object without reference), using cfg.Concurrency
// goroutines. The reference's SHA-256 and every chunk checksum are always
// verified; with cfg.StrictReconstruction the content SHA-256 is verified
// too (ErrReconstruction on mismatch).
func Decode(obj []byte, ref []byte, cfg Config) ([]byte, error) {
	o, err := Open(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		return nil, err
	}
	return o.decodeAll(context.Background(), ref, cfg.Concurrency, cfg.StrictReconstruction)
}
