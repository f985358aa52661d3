package delta

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"deltafs/npy"
)

// Compact objects (format version 2, docs/FORMAT.md §2a): a tensor of at
// most compactMaxRaw bytes that fits in one chunk is written without the
// fixed 104-byte header and chunk table of the chunked layout: a 9-byte
// head, the shape as varints, the parameters, the hashes only when there
// is a reference, the chunk's data CRC only when its payload is coded, the
// payload and one CRC32C of every byte before it. Chunked objects are still
// written as version 1: a writer puts in format_version the version a
// reader needs, so they stay byte for byte what they were.
const (
	compactVersion = 2
	// compactMaxRaw is the largest data section a compact object holds.
	compactMaxRaw = 64 << 10
	// compactMaxSize bounds a compact object's bytes (the shape varints,
	// per_axis_scaled's scales, the hashes and a payload of at most
	// maxPayload(compactMaxRaw)); a larger one is corrupt.
	compactMaxSize = 1 << 20
	// methodVerbatim is the compact method of a payload that is the data
	// section itself, in its own byte order, for every strategy.
	methodVerbatim = 7
	hashSize       = 32
	dataCRCSize    = 4
)

// The compact head (docs/FORMAT.md §2a). magic is the chunked layout's.
var (
	cmpVersion  = field{"version", 4, 1}
	cmpStrategy = field{"strategy", 5, 1}
	cmpForm     = field{"form", 6, 1}
	cmpDType    = field{"dtype_code", 7, 1}
	cmpRank     = field{"rank", 8, 1}

	compactFields = []field{hdrMagic, cmpVersion, cmpStrategy, cmpForm, cmpDType, cmpRank}
	// compactHeadSize is where the head ends and the shape starts.
	compactHeadSize = cmpRank.end()
)

// Bits of the form byte: the chunk's method in the low three bits, then
// flags.
const (
	formMethodMask   = 0x07
	formHasReference = 1 << 3
	formFortran      = 1 << 4
	formBF16Halves   = 1 << 5
	formBF16Words    = 1 << 6
	formKnown        = formMethodMask | formHasReference | formFortran | formBF16Halves | formBF16Words
)

// dtype_code: bits 0–2 log2(size), bits 3–5 the kind, bits 6–7 the order.
var (
	compactKinds  = [...]byte{'b', 'i', 'u', 'f', 'c'}
	compactOrders = [...]byte{'|', '<', '>'}
)

// compactDType packs d into a dtype_code (d is valid).
func compactDType(d npy.DType) byte {
	var k, o int
	for i, c := range compactKinds {
		if c == d.Kind {
			k = i
		}
	}
	for i, c := range compactOrders {
		if c == d.Order {
			o = i
		}
	}
	return byte(bits.TrailingZeros(uint(d.Size))) | byte(k)<<3 | byte(o)<<6
}

// parseCompactDType unpacks a dtype_code; ok=false when it names no valid
// dtype.
func parseCompactDType(c byte) (npy.DType, bool) {
	k, o := int(c>>3&7), int(c>>6)
	if k >= len(compactKinds) || o >= len(compactOrders) {
		return npy.DType{}, false
	}
	d := npy.DType{Kind: compactKinds[k], Size: 1 << (c & 7), Order: compactOrders[o]}
	return d, validDType(d)
}

// compactFits reports whether an object of header h is written compact.
func compactFits(h *Header) bool {
	return h.NumChunks <= 1 && h.RawSize <= compactMaxRaw
}

// compactUsesReference is the uses_reference bit of a compact object's
// chunk: as in the chunk table (§3), never for a verbatim payload.
func compactUsesReference(s Strategy, method uint8, hasRef bool) bool {
	switch {
	case method == methodVerbatim:
		return false
	case s == Auto:
		return method == autoXOR || method == autoDiff || method == autoZigzag || method == autoZigzagSigns
	}
	return hasRef
}

// compactParams is what marshalCompact writes besides the header.
type compactParams struct {
	strategyID uint8
	method     uint8 // methodVerbatim: payload is the data section
	bf16       bool
	bf16Words  bool
	params     []byte
	dataCRC    uint32
	payload    []byte
}

// marshalCompact writes a compact object.
func marshalCompact(h *Header, p compactParams) []byte {
	n := compactHeadSize + binary.MaxVarintLen64*len(h.Shape) + len(p.params) + 2*hashSize + dataCRCSize + len(p.payload) + headerCRCSize
	b := make([]byte, compactHeadSize, n)
	copy(hdrMagic.in(b), objectMagic[:])
	cmpVersion.put(b, compactVersion)
	cmpStrategy.put(b, uint64(p.strategyID))
	form := p.method
	if h.HasReference {
		form |= formHasReference
	}
	if h.Fortran {
		form |= formFortran
	}
	if p.bf16 {
		form |= formBF16Halves
	}
	if p.bf16Words {
		form |= formBF16Words
	}
	cmpForm.put(b, uint64(form))
	cmpDType.put(b, uint64(compactDType(h.DType)))
	cmpRank.put(b, uint64(len(h.Shape)))
	for _, d := range h.Shape {
		b = binary.AppendUvarint(b, uint64(d))
	}
	b = append(b, p.params...)
	if h.HasReference {
		b = append(b, h.ReferenceHash[:]...)
		b = append(b, h.ContentHash[:]...)
	}
	if p.method != methodVerbatim {
		b = binary.LittleEndian.AppendUint32(b, p.dataCRC)
	}
	b = append(b, p.payload...)
	return binary.LittleEndian.AppendUint32(b, crc32c(b))
}

// compactParamsLen returns the length of a strategy's parameters at the
// start of b (docs/FORMAT.md §5; per_axis_scaled's is read from its R and
// C), or an error when they cannot fit in b.
func compactParamsLen(s Strategy, b []byte, nelem int64) (int, error) {
	switch s {
	case Int8Quantized, Int16Quantized:
		return 4, nil
	case Sparse:
		return 8, nil
	case PerAxisScaled:
		if len(b) < 16 {
			return 0, fmt.Errorf("per_axis_scaled parameters truncated")
		}
		r, c := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		if r > uint64(nelem)+1 || c > uint64(nelem)+1 || 16+4*(r+c) > uint64(len(b)) {
			return 0, fmt.Errorf("per_axis_scaled with %d×%d scales does not fit", r, c)
		}
		return int(16 + 4*(r+c)), nil
	}
	return 0, nil
}

// openCompact parses and validates a compact object of size bytes, whose
// whole bytes it reads (a compact object is small), and for an object
// without a reference decodes its payload to learn its content hash.
func openCompact(r io.ReaderAt, size int64) (*Object, error) {
	if size > compactMaxSize {
		return nil, corruptf("compact object of %d bytes exceeds %d", size, compactMaxSize)
	}
	if size < int64(compactHeadSize+headerCRCSize) {
		return nil, corruptf("compact object of %d bytes is shorter than its head", size)
	}
	b := make([]byte, size)
	if err := readFull(r, b, 0); err != nil {
		return nil, err
	}
	body := b[:size-headerCRCSize]
	if got, want := crc32c(body), getU32(b[len(body):]); got != want {
		return nil, corruptf("checksum of the compact object (header and chunk 0) %08x, stored %08x", got, want)
	}
	c, err := parseCompact(body)
	if err != nil {
		return nil, err
	}
	l := layoutFor(c.hdr.DType, c.bf16)
	if c.bf16Words {
		l = l.asBF16Words()
	}
	o := &Object{r: r, size: size, hdr: c.hdr, layout: l, codec: c.codec, verbatim: c.method == methodVerbatim}
	if c.hdr.RawSize == 0 {
		if !o.verbatim {
			return nil, corruptf("empty tensor with a coded payload")
		}
		o.hdr.ContentHash = sha256.Sum256(nil)
		return o, nil
	}
	e := chunkEntry{offset: uint64(c.payloadOff), length: uint32(len(c.payload)), method: c.method, payCRC: crc32c(c.payload), dataCRC: c.dataCRC}
	if o.verbatim {
		if int64(len(c.payload)) != c.hdr.RawSize {
			return nil, corruptf("verbatim payload of %d bytes for %d raw bytes", len(c.payload), c.hdr.RawSize)
		}
		e.dataCRC = e.payCRC
	} else if int64(len(c.payload)) > maxPayload(c.hdr.RawSize) {
		return nil, corruptf("payload of %d bytes for %d raw bytes", len(c.payload), c.hdr.RawSize)
	}
	if compactUsesReference(c.hdr.Strategy, c.method, c.hdr.HasReference) {
		e.flags = chunkUsesReference
	}
	o.table = []chunkEntry{e}
	if c.hdr.HasReference {
		return o, nil
	}
	// No reference: the content hash is the decoded data's.
	if o.verbatim {
		o.hdr.ContentHash = sha256.Sum256(c.payload)
		return o, nil
	}
	bp := getBuf(int(c.hdr.RawSize))
	defer putBuf(bp)
	if err := o.DecodeChunk(0, nil, *bp); err != nil {
		return nil, err
	}
	o.hdr.ContentHash = sha256.Sum256(*bp)
	return o, nil
}

// parsedCompact is a compact object's body decoded.
type parsedCompact struct {
	hdr        Header
	codec      codec
	method     uint8
	bf16       bool
	bf16Words  bool
	dataCRC    uint32
	payloadOff int
	payload    []byte
}

// parseCompact decodes and validates a compact object's body (its bytes
// but the trailing CRC, which the caller checked).
func parseCompact(b []byte) (parsedCompact, error) {
	var p parsedCompact
	if v := cmpVersion.get(b); v != compactVersion {
		return p, corruptf("compact layout with version %d", v)
	}
	h := &p.hdr
	h.FormatVersion = compactVersion
	id := uint8(cmpStrategy.get(b))
	s, ok := strategyFromID(id)
	if !ok {
		return p, corruptf("unknown strategy id %d", id)
	}
	h.Strategy, h.Lossy = s, !s.IsLossless()
	form := uint8(cmpForm.get(b))
	if form&^formKnown != 0 {
		return p, corruptf("unknown form bits %#x", form)
	}
	p.method = form & formMethodMask
	h.HasReference = form&formHasReference != 0
	h.Fortran = form&formFortran != 0
	p.bf16 = form&formBF16Halves != 0
	p.bf16Words = form&formBF16Words != 0
	if h.DType, ok = parseCompactDType(uint8(cmpDType.get(b))); !ok {
		return p, corruptf("invalid dtype code %#x", cmpDType.get(b))
	}
	if p.bf16 && (h.DType.Kind != 'f' || h.DType.Size != 4 || h.Lossy || p.method == methodVerbatim) {
		return p, corruptf("bf16 halves flag on %s data with method %d", dtypeString(h.DType), p.method)
	}
	if p.bf16Words && (s != Auto || !canBeBF16Words(h.DType) || p.method == methodVerbatim) {
		return p, corruptf("bf16 words flag on %s data with %s, method %d", dtypeString(h.DType), s, p.method)
	}
	ndim := int(cmpRank.get(b))
	if ndim > maxNDim {
		return p, corruptf("ndim %d exceeds %d", ndim, maxNDim)
	}
	pos := compactHeadSize
	h.Shape = make([]int64, ndim)
	for i := range h.Shape {
		d, n := binary.Uvarint(b[pos:])
		if n <= 0 || d > maxDim {
			return p, corruptf("dimension %d unreadable", i)
		}
		h.Shape[i] = int64(d)
		pos += n
	}
	raw, ok := dataSize(h.Shape, h.DType.Size)
	if !ok || raw > compactMaxRaw {
		return p, corruptf("shape %v of %d-byte elements too large for a compact object", h.Shape, h.DType.Size)
	}
	h.RawSize = raw
	h.ChunkSize = max(raw, int64(h.DType.Size))
	h.NumChunks = int(numChunks(raw, h.ChunkSize))
	nelem := raw / int64(h.DType.Size)
	plen, err := compactParamsLen(s, b[pos:], nelem)
	if err != nil {
		return p, corruptf("%v", err)
	}
	if plen > len(b)-pos {
		return p, corruptf("parameters run past the object")
	}
	if p.codec, err = codecFromParams(s, b[pos:pos+plen], nelem, h.DType); err != nil {
		return p, corruptf("%v", err)
	}
	pos += plen
	if h.HasReference {
		if len(b)-pos < 2*hashSize {
			return p, corruptf("hashes run past the object")
		}
		copy(h.ReferenceHash[:], b[pos:])
		copy(h.ContentHash[:], b[pos+hashSize:])
		pos += 2 * hashSize
	}
	if p.method != methodVerbatim {
		uses := compactUsesReference(s, p.method, h.HasReference)
		if uses && !h.HasReference {
			return p, corruptf("method %d uses a reference the object does not have", p.method)
		}
		if err := checkMethod(s, p.method, uses, h.HasReference); err != nil {
			return p, corruptf("%v", err)
		}
		if len(b)-pos < dataCRCSize {
			return p, corruptf("data checksum runs past the object")
		}
		p.dataCRC = getU32(b[pos:])
		pos += dataCRCSize
	}
	p.payloadOff, p.payload = pos, b[pos:]
	return p, nil
}

// encodeCompact encodes the tensor, which compactFits, as a compact object
// and writes it at offset 0. hashes waits for the hashes startHashes
// began.
func (e *streamEnc) encodeCompact(hashes func() error) (int64, error) {
	h := &e.h
	data, release, err := readRange(e.t.Data, 0, h.RawSize)
	if err != nil {
		return 0, err
	}
	defer release()
	p := compactParams{strategyID: h.Strategy.id(), method: methodVerbatim, params: e.params, payload: data}
	var recon []byte
	if h.RawSize > 0 {
		r, err := e.encodeChunk(e.layout(), 0)
		if e.bf16 && errors.Is(err, errNotBF16Halves) {
			e.bf16 = false
			r, err = e.encodeChunk(e.layout(), 0)
		}
		if err != nil {
			hashes()
			return 0, err
		}
		if r.recon != nil {
			defer putBuf(r.recon)
		}
		// A coded payload carries a 4-byte data CRC: it must beat the data
		// section by more than that.
		if int64(len(r.payload))+dataCRCSize < h.RawSize {
			p.method, p.bf16, p.bf16Words, p.dataCRC, p.payload = r.entry.method, e.bf16, e.bf16Words, r.entry.dataCRC, r.payload
			if r.recon != nil {
				recon = *r.recon
			}
		}
	}
	if err := hashes(); err != nil {
		return 0, err
	}
	if h.Lossy {
		// The content hash is the reconstruction's: the data itself when
		// stored verbatim.
		if recon == nil {
			recon = data
		}
		h.ContentHash = sha256.Sum256(recon)
	}
	h.FormatVersion = compactVersion
	h.ChunkSize = max(h.RawSize, int64(h.DType.Size))
	obj := marshalCompact(h, p)
	if _, err := e.w.WriteAt(obj, 0); err != nil {
		return 0, fmt.Errorf("delta: write object: %w", err)
	}
	return int64(len(obj)), nil
}
