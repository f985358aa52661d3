package delta

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"

	"deltafs/npy"
)

// The limits of an object (docs/FORMAT.md §2, §6).
const (
	// formatVersion is the version a chunked object is written with: what
	// every object had before version 2 added the compact layout
	// (compact.go). A reader needs no more to read one.
	formatVersion = 1
	// maxFormatVersion is the newest version this build reads.
	maxFormatVersion = compactVersion
	maxNDim          = 64
	maxRawSize       = 1 << 62
	maxDim           = 1 << 62
	payloadSlack     = 65536
)

// field is one fixed-width field of the object format: its name in
// docs/FORMAT.md, its offset inside its structure and its size. Every
// field of the format is named here once; a test checks the document's
// tables against these.
type field struct {
	name      string
	off, size int
}

// The fixed header (docs/FORMAT.md §2).
var (
	hdrMagic         = field{"magic", 0, 4}
	hdrFormatVersion = field{"format_version", 4, 2}
	hdrStrategyID    = field{"strategy_id", 6, 1}
	hdrFlags         = field{"flags", 7, 1}
	hdrDTypeKind     = field{"dtype_kind", 8, 1}
	hdrDTypeSize     = field{"dtype_size", 9, 1}
	hdrDTypeOrder    = field{"dtype_order", 10, 1}
	hdrNDim          = field{"ndim", 11, 1}
	hdrParamsLen     = field{"params_len", 12, 4}
	hdrChunkSize     = field{"chunk_size", 16, 8}
	hdrRawSize       = field{"raw_size", 24, 8}
	hdrNumChunks     = field{"num_chunks", 32, 8}
	hdrReferenceHash = field{"reference_hash", 40, 32}
	hdrContentHash   = field{"content_hash", 72, 32}

	fixedHeaderFields = []field{hdrMagic, hdrFormatVersion, hdrStrategyID, hdrFlags,
		hdrDTypeKind, hdrDTypeSize, hdrDTypeOrder, hdrNDim, hdrParamsLen, hdrChunkSize,
		hdrRawSize, hdrNumChunks, hdrReferenceHash, hdrContentHash}
	// fixedHeaderSize is where the fixed header ends and the shape starts.
	fixedHeaderSize = hdrContentHash.end()
)

// A chunk table entry (docs/FORMAT.md §3).
var (
	entPayloadOffset = field{"payload_offset", 0, 8}
	entPayloadLength = field{"payload_length", 8, 4}
	entMethod        = field{"method", 12, 1}
	entChunkFlags    = field{"chunk_flags", 13, 1}
	entReserved      = field{"reserved", 14, 2}
	entPayloadCRC    = field{"payload_crc", 16, 4}
	entDataCRC       = field{"data_crc", 20, 4}

	chunkEntryFields = []field{entPayloadOffset, entPayloadLength, entMethod, entChunkFlags,
		entReserved, entPayloadCRC, entDataCRC}
	chunkEntrySize = entDataCRC.end()
)

// The variable parts of the header (docs/FORMAT.md §1): 8 bytes a
// dimension, then the parameters, the chunk table and the header's CRC32C.
const (
	shapeDimSize  = 8
	headerCRCSize = 4
)

// end is the offset just past f.
func (f field) end() int { return f.off + f.size }

// in returns f's bytes in b.
func (f field) in(b []byte) []byte { return b[f.off:f.end()] }

// get reads the little-endian unsigned integer f holds in b.
func (f field) get(b []byte) uint64 {
	switch f.size {
	case 1:
		return uint64(b[f.off])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b[f.off:]))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b[f.off:]))
	}
	return binary.LittleEndian.Uint64(b[f.off:])
}

// put writes v as f's little-endian unsigned integer in b.
func (f field) put(b []byte, v uint64) {
	switch f.size {
	case 1:
		b[f.off] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b[f.off:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b[f.off:], uint32(v))
	default:
		binary.LittleEndian.PutUint64(b[f.off:], v)
	}
}

// headerSize is the size of an object's header, payload_start: the fixed
// header, ndim dimensions, paramsLen bytes of parameters, nchunks table
// entries and the header CRC.
func headerSize(ndim int, paramsLen, nchunks int64) int64 {
	return int64(fixedHeaderSize) + shapeDimSize*int64(ndim) + paramsLen + int64(chunkEntrySize)*nchunks + headerCRCSize
}

var objectMagic = [4]byte{'D', 'L', 'T', 'O'}

// Header flag bits.
const (
	flagHasReference = 1 << 0
	flagLossy        = 1 << 1
	flagFortran      = 1 << 2
	flagBF16Halves   = 1 << 3
	flagBF16Words    = 1 << 4 // format version 2
	flagsKnown       = flagHasReference | flagLossy | flagFortran | flagBF16Halves | flagBF16Words
)

// Chunk flag bits.
const (
	chunkUsesReference = 1 << 0
	chunkFlagsKnown    = chunkUsesReference
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// chunkEntry is one row of the chunk table.
type chunkEntry struct {
	offset  uint64
	length  uint32
	method  uint8
	flags   uint8
	payCRC  uint32
	dataCRC uint32
}

// maxPayload is the largest payload allowed for a chunk of raw bytes.
func maxPayload(raw int64) int64 { return 2*raw + payloadSlack }

// corruptf wraps ErrCorrupt with detail.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// validDType reports whether d is a dtype objects can hold.
func validDType(d npy.DType) bool {
	switch d.Kind {
	case 'b':
		if d.Size != 1 {
			return false
		}
	case 'i', 'u':
		if d.Size != 1 && d.Size != 2 && d.Size != 4 && d.Size != 8 {
			return false
		}
	case 'f':
		if d.Size != 2 && d.Size != 4 && d.Size != 8 {
			return false
		}
	case 'c':
		if d.Size != 8 && d.Size != 16 {
			return false
		}
	default:
		return false
	}
	switch d.Order {
	case '<', '>':
		return true
	case '|':
		return d.Size == 1
	}
	return false
}

// dataSize returns product(shape)×size, or ok=false on overflow or bad dims.
func dataSize(shape []int64, size int) (int64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 || d > maxDim {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > maxRawSize {
			return 0, false
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, uint64(size))
	if hi != 0 || lo > maxRawSize {
		return 0, false
	}
	return int64(lo), true
}

// numChunks returns ceil(raw/chunk).
func numChunks(raw, chunk int64) int64 {
	if raw == 0 {
		return 0
	}
	return (raw-1)/chunk + 1
}

// marshalHeader writes the fixed header, shape, params and chunk table
// followed by the header CRC.
func marshalHeader(h *Header, strategyID uint8, flags uint8, params []byte, table []chunkEntry) []byte {
	b := make([]byte, headerSize(len(h.Shape), int64(len(params)), int64(len(table))))
	copy(hdrMagic.in(b), objectMagic[:])
	hdrFormatVersion.put(b, uint64(h.FormatVersion))
	hdrStrategyID.put(b, uint64(strategyID))
	hdrFlags.put(b, uint64(flags))
	hdrDTypeKind.put(b, uint64(h.DType.Kind))
	hdrDTypeSize.put(b, uint64(h.DType.Size))
	hdrDTypeOrder.put(b, uint64(h.DType.Order))
	hdrNDim.put(b, uint64(len(h.Shape)))
	hdrParamsLen.put(b, uint64(len(params)))
	hdrChunkSize.put(b, uint64(h.ChunkSize))
	hdrRawSize.put(b, uint64(h.RawSize))
	hdrNumChunks.put(b, uint64(h.NumChunks))
	copy(hdrReferenceHash.in(b), h.ReferenceHash[:])
	copy(hdrContentHash.in(b), h.ContentHash[:])
	p := fixedHeaderSize
	for _, d := range h.Shape {
		binary.LittleEndian.PutUint64(b[p:], uint64(d))
		p += shapeDimSize
	}
	p += copy(b[p:], params)
	for _, e := range table {
		row := b[p : p+chunkEntrySize]
		entPayloadOffset.put(row, e.offset)
		entPayloadLength.put(row, uint64(e.length))
		entMethod.put(row, uint64(e.method))
		entChunkFlags.put(row, uint64(e.flags))
		entPayloadCRC.put(row, uint64(e.payCRC))
		entDataCRC.put(row, uint64(e.dataCRC))
		p += chunkEntrySize
	}
	binary.LittleEndian.PutUint32(b[p:], crc32c(b[:p]))
	return b
}

// headerLen returns the bytes before the payloads, given the fixed header
// fields; ok=false when it overflows or exceeds limit.
func headerLen(ndim int, paramsLen uint32, nchunks int64, limit int64) (int64, bool) {
	if nchunks < 0 || nchunks > limit/int64(chunkEntrySize) {
		return 0, false
	}
	n := headerSize(ndim, int64(paramsLen), nchunks)
	if n > limit {
		return 0, false
	}
	return n, true
}

// parsedFixed is the fixed header decoded but not yet cross-checked.
type parsedFixed struct {
	hdr        Header
	strategyID uint8
	flags      uint8
	paramsLen  uint32
}

// parseFixed decodes and validates the fixed header.
func parseFixed(b []byte) (parsedFixed, error) {
	var p parsedFixed
	if len(b) < fixedHeaderSize {
		return p, corruptf("object of %d bytes is shorter than the %d-byte header", len(b), fixedHeaderSize)
	}
	if [4]byte(hdrMagic.in(b)) != objectMagic {
		return p, corruptf("bad magic %q", hdrMagic.in(b))
	}
	v := uint16(hdrFormatVersion.get(b))
	if v > maxFormatVersion {
		return p, fmt.Errorf("%w: version %d, this build reads up to %d", ErrUnsupportedVersion, v, maxFormatVersion)
	}
	if v == 0 {
		return p, corruptf("format version 0")
	}
	h := &p.hdr
	h.FormatVersion = v
	p.strategyID = uint8(hdrStrategyID.get(b))
	s, ok := strategyFromID(p.strategyID)
	if !ok {
		return p, corruptf("unknown strategy id %d", p.strategyID)
	}
	h.Strategy = s
	p.flags = uint8(hdrFlags.get(b))
	if p.flags&^flagsKnown != 0 {
		return p, corruptf("unknown header flags %#x", p.flags)
	}
	h.Lossy = p.flags&flagLossy != 0
	if h.Lossy == s.IsLossless() {
		return p, corruptf("lossy flag disagrees with strategy %s", s)
	}
	h.HasReference = p.flags&flagHasReference != 0
	h.Fortran = p.flags&flagFortran != 0
	h.DType = npy.DType{Kind: byte(hdrDTypeKind.get(b)), Size: int(hdrDTypeSize.get(b)), Order: byte(hdrDTypeOrder.get(b))}
	if !validDType(h.DType) {
		return p, corruptf("invalid dtype kind=%q size=%d order=%q", h.DType.Kind, h.DType.Size, h.DType.Order)
	}
	if p.flags&flagBF16Halves != 0 && (h.DType.Kind != 'f' || h.DType.Size != 4 || h.Lossy) {
		return p, corruptf("bf16 halves flag on %s data", dtypeString(h.DType))
	}
	if p.flags&flagBF16Words != 0 && (v < 2 || s != Auto || !canBeBF16Words(h.DType)) {
		return p, corruptf("bf16 words flag on %s data with %s, version %d", dtypeString(h.DType), s, v)
	}
	ndim := int(hdrNDim.get(b))
	if ndim > maxNDim {
		return p, corruptf("ndim %d exceeds %d", ndim, maxNDim)
	}
	h.Shape = make([]int64, ndim)
	p.paramsLen = uint32(hdrParamsLen.get(b))
	cs := hdrChunkSize.get(b)
	raw := hdrRawSize.get(b)
	nc := hdrNumChunks.get(b)
	if cs < uint64(h.DType.Size) || cs > MaxChunkSize || cs%uint64(h.DType.Size) != 0 {
		return p, corruptf("chunk size %d invalid for %d-byte elements", cs, h.DType.Size)
	}
	if raw > maxRawSize {
		return p, corruptf("raw size %d exceeds limit", raw)
	}
	h.ChunkSize, h.RawSize = int64(cs), int64(raw)
	if want := numChunks(h.RawSize, h.ChunkSize); nc != uint64(want) {
		return p, corruptf("%d chunks declared, %d expected", nc, want)
	}
	h.NumChunks = int(nc)
	copy(h.ReferenceHash[:], hdrReferenceHash.in(b))
	copy(h.ContentHash[:], hdrContentHash.in(b))
	if !h.HasReference && h.ReferenceHash != ([32]byte{}) {
		return p, corruptf("reference hash without reference")
	}
	return p, nil
}

// parseShape reads ndim dimensions and checks them against the raw size.
func parseShape(b []byte, h *Header) error {
	for i := range h.Shape {
		d := binary.LittleEndian.Uint64(b[shapeDimSize*i:])
		if d > maxDim {
			return corruptf("dimension %d is %d", i, d)
		}
		h.Shape[i] = int64(d)
	}
	n, ok := dataSize(h.Shape, h.DType.Size)
	if !ok || n != h.RawSize {
		return corruptf("shape %v with %d-byte elements does not give raw size %d", h.Shape, h.DType.Size, h.RawSize)
	}
	return nil
}

// parseTable decodes and validates the chunk table; payloadStart is where
// chunk 0 must start and size is the object's size.
func parseTable(b []byte, h *Header, s Strategy, payloadStart, size int64) ([]chunkEntry, error) {
	t := make([]chunkEntry, h.NumChunks)
	next := uint64(payloadStart)
	for i := range t {
		e := b[i*chunkEntrySize:]
		c := chunkEntry{
			offset:  entPayloadOffset.get(e),
			length:  uint32(entPayloadLength.get(e)),
			method:  uint8(entMethod.get(e)),
			flags:   uint8(entChunkFlags.get(e)),
			payCRC:  uint32(entPayloadCRC.get(e)),
			dataCRC: uint32(entDataCRC.get(e)),
		}
		if entReserved.get(e) != 0 {
			return nil, corruptf("chunk %d: reserved field set", i)
		}
		if c.offset != next {
			return nil, corruptf("chunk %d: payload offset %d, expected %d", i, c.offset, next)
		}
		_, raw := chunkBounds(h, i)
		if int64(c.length) > maxPayload(raw) {
			return nil, corruptf("chunk %d: payload of %d bytes for %d raw bytes", i, c.length, raw)
		}
		next += uint64(c.length)
		if next > uint64(size) {
			return nil, corruptf("chunk %d: payload ends at %d past the object's %d bytes", i, next, size)
		}
		if c.flags&^chunkFlagsKnown != 0 {
			return nil, corruptf("chunk %d: unknown flags %#x", i, c.flags)
		}
		uses := c.flags&chunkUsesReference != 0
		if uses && !h.HasReference {
			return nil, corruptf("chunk %d uses a reference the object does not have", i)
		}
		if err := checkMethod(s, c.method, uses, h.HasReference); err != nil {
			return nil, corruptf("chunk %d: %v", i, err)
		}
		if s == Auto && c.method == autoZigzagSigns && h.FormatVersion < 2 {
			return nil, corruptf("chunk %d: method %d in a version %d object", i, c.method, h.FormatVersion)
		}
		t[i] = c
	}
	if next != uint64(size) {
		return nil, corruptf("payloads end at %d, object has %d bytes", next, size)
	}
	return t, nil
}

// checkMethod validates a chunk's method and uses_reference bit.
func checkMethod(s Strategy, method uint8, uses, hasRef bool) error {
	if s == Auto {
		switch method {
		case autoXOR, autoDiff, autoZigzag, autoZigzagSigns:
			if !uses {
				return fmt.Errorf("method %d needs the reference", method)
			}
		case autoAlone, autoStored:
			if uses {
				return fmt.Errorf("method %d does not use the reference", method)
			}
		default:
			return fmt.Errorf("unknown auto method %d", method)
		}
		return nil
	}
	if method != 0 {
		return fmt.Errorf("unknown method %d for %s", method, s)
	}
	if uses != hasRef {
		return fmt.Errorf("uses_reference must equal has_reference for %s", s)
	}
	return nil
}

// chunkBounds returns the raw byte range of chunk i.
func chunkBounds(h *Header, i int) (off, n int64) {
	off = int64(i) * h.ChunkSize
	n = min(h.ChunkSize, h.RawSize-off)
	return off, n
}

// float64 helpers for parameters.
func putF64(b []byte, v float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(v)) }
func getF64(b []byte) float64    { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
func putF32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }
func getF32(b []byte) float32    { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

func getU32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
