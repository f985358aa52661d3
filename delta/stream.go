package delta

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"deltafs/npy"
)

// StreamTensor is a tensor whose data section is read by byte range, a
// chunk at a time, instead of being held in memory.
type StreamTensor struct {
	DType   npy.DType
	Shape   []int64
	Fortran bool
	// Data yields the data section: ReadAt(p, off) fills p with the bytes
	// [off, off+len(p)). A short read is an error. BytesSource serves an
	// in-memory data section without copying.
	Data io.ReaderAt
	// SHA256, if non-nil, is the SHA-256 of the data section as the caller
	// already computed it; the encoder trusts it instead of reading the data
	// once more to hash it. A wrong value makes every whole-tensor decode of
	// the object fail.
	SHA256 *[32]byte
}

// RawSize returns the bytes of the data section its shape and dtype
// describe (-1 when they overflow).
func (t StreamTensor) RawSize() int64 {
	n, ok := dataSize(t.Shape, t.DType.Size)
	if !ok {
		return -1
	}
	return n
}

// slicer is a source that can lend its bytes without a copy.
type slicer interface {
	slice(off, n int64) ([]byte, bool)
}

// bytesSource is an in-memory data section.
type bytesSource []byte

// BytesSource returns data as a StreamTensor source whose chunks the
// encoder reads in place, without copying them.
func BytesSource(data []byte) io.ReaderAt { return bytesSource(data) }

func (b bytesSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (b bytesSource) slice(off, n int64) ([]byte, bool) {
	if off < 0 || n < 0 || off+n > int64(len(b)) {
		return nil, false
	}
	return b[off : off+n : off+n], true
}

// streamTensor views an in-memory tensor as a StreamTensor.
func streamTensor(t Tensor) StreamTensor {
	return StreamTensor{DType: t.DType, Shape: t.Shape, Fortran: t.Fortran, Data: bytesSource(t.Data), SHA256: t.SHA256}
}

// memWriter collects an object in memory. It keeps the slices written to
// it instead of copying them, which EncodeTo allows (it never reuses a
// buffer it wrote), and assembles the object once its size is known, so
// the object is allocated once, at its size, and copied once.
type memWriter struct{ parts []memPart }

type memPart struct {
	off int64
	b   []byte
}

func (m *memWriter) WriteAt(p []byte, off int64) (int, error) {
	m.parts = append(m.parts, memPart{off, p})
	return len(p), nil
}

// bytes returns the first size bytes written, later writes winning.
func (m *memWriter) bytes(size int64) []byte {
	out := make([]byte, size)
	for _, p := range m.parts {
		if p.off < size {
			copy(out[p.off:], p.b)
		}
	}
	return out
}

// Encode encodes t against ref (nil: no reference) and returns the object
// bytes. A ref of another dtype, shape or order yields ErrIncompatibleReference.
// A lossy strategy needs cfg.AllowLossy (else ErrLossyNotAllowed); asked of a
// non-float tensor it encodes with Auto instead (the header says so).
func Encode(t Tensor, ref *Tensor, cfg Config) ([]byte, error) {
	return EncodeContext(context.Background(), t, ref, cfg)
}

// EncodeContext is Encode that stops between chunks once ctx is done,
// returning ctx's error.
func EncodeContext(ctx context.Context, t Tensor, ref *Tensor, cfg Config) ([]byte, error) {
	if _, err := checkTensor(t); err != nil {
		return nil, err
	}
	var sref *StreamTensor
	if ref != nil {
		if err := checkCompatible(t, *ref); err != nil {
			return nil, err
		}
		r := streamTensor(*ref)
		sref = &r
	}
	var w memWriter
	_, size, err := EncodeTo(ctx, streamTensor(t), sref, cfg, &w)
	if err != nil {
		return nil, err
	}
	return w.bytes(size), nil
}

// EncodeTo encodes t against ref (nil: no reference) into w, a chunk at a
// time, and returns the object's header and size: the object is the first
// size bytes of w, byte for byte what Encode returns for the same tensor.
// Every buffer written to w is a new one, never reused. Payloads are
// written first, at their final offsets, then the header and
// chunk table at offset 0; after a bf16 guess proves wrong the payloads are
// written again, so w may hold stale bytes past size (truncate it).
//
// Memory stays O(chunk size × Concurrency) whatever the tensor's size
// (per_axis_scaled also holds its row and column scales, as its header
// does). Each source is read once to encode, once more to hash it when its
// SHA256 is not given, and per_axis_scaled reads both once more to fit its
// scales. Errors are those of Encode, or a source's read error.
func EncodeTo(ctx context.Context, t StreamTensor, ref *StreamTensor, cfg Config, w io.WriterAt) (Header, int64, error) {
	if err := cfg.validate(); err != nil {
		return Header{}, 0, err
	}
	raw, err := checkStreamTensor(t)
	if err != nil {
		return Header{}, 0, err
	}
	if ref != nil {
		if err := checkStreamCompatible(t, *ref); err != nil {
			return Header{}, 0, err
		}
	}
	strategy := cfg.Strategy
	if !strategy.IsLossless() && !cfg.AllowLossy {
		return Header{}, 0, fmt.Errorf("%w: %s (set AllowLossy)", ErrLossyNotAllowed, strategy)
	}
	if !strategy.IsLossless() && (t.DType.Kind != 'f') {
		strategy = Auto
	}
	e := &streamEnc{ctx: ctx, t: t, ref: ref, cfg: cfg, w: w}
	if e.bf16, err = e.guessBF16(strategy, raw); err != nil {
		return Header{}, 0, err
	}
	if e.bf16Words, err = e.guessBF16Words(strategy, raw); err != nil {
		return Header{}, 0, err
	}
	switch strategy {
	case PerAxisScaled:
		p, ok, err := e.fitPerAxis(raw)
		if err != nil {
			return Header{}, 0, err
		}
		if ok {
			e.c = p
		} else {
			strategy, e.c = Auto, autoCodec{}
		}
	default:
		e.c = newCodec(strategy, cfg)
	}
	if ac, ok := e.c.(autoCodec); ok {
		ac.cols = rowWords(t.Shape, t.Fortran)
		e.c = ac
	}
	chunk := int64(cfg.ChunkSize) / int64(t.DType.Size) * int64(t.DType.Size)
	chunk = max(chunk, int64(t.DType.Size))
	e.h = Header{
		FormatVersion: formatVersion,
		Strategy:      strategy,
		Lossy:         !strategy.IsLossless(),
		DType:         t.DType,
		Shape:         append([]int64(nil), t.Shape...),
		Fortran:       t.Fortran,
		ChunkSize:     chunk,
		RawSize:       raw,
		NumChunks:     int(numChunks(raw, chunk)),
		HasReference:  ref != nil,
	}
	if e.bf16Words {
		e.h.FormatVersion = 2
	}
	hashes := e.startHashes()
	e.params = e.c.params()
	if compactFits(&e.h) {
		size, err := e.encodeCompact(hashes)
		if err != nil {
			return Header{}, 0, err
		}
		return e.h, size, nil
	}
	e.hlen = headerSize(len(e.h.Shape), int64(len(e.params)), int64(e.h.NumChunks))
	size, err := e.encodeChunks()
	if e.bf16 && errors.Is(err, errNotBF16Halves) {
		e.bf16 = false
		size, err = e.encodeChunks()
	}
	herr := hashes()
	if err == nil {
		err = herr
	}
	if err != nil {
		return Header{}, 0, err
	}
	if e.usesSigns() {
		e.h.FormatVersion = 2
	}
	if _, err := w.WriteAt(marshalHeader(&e.h, strategy.id(), e.flags(), e.params, e.table), 0); err != nil {
		return Header{}, 0, fmt.Errorf("delta: write header: %w", err)
	}
	return e.h, size, nil
}

// checkStreamTensor validates a tensor's description and returns its data
// size.
func checkStreamTensor(t StreamTensor) (int64, error) {
	if t.Data == nil {
		return 0, fmt.Errorf("%w: no data source", ErrInvalidTensor)
	}
	return checkTensorMeta(t.DType, t.Shape)
}

// checkStreamCompatible reports whether ref can serve as t's reference.
func checkStreamCompatible(t, ref StreamTensor) error {
	if _, err := checkStreamTensor(ref); err != nil {
		return fmt.Errorf("%w: %w", ErrIncompatibleReference, err)
	}
	return checkCompatibleMeta(t.DType, t.Shape, t.Fortran, ref.DType, ref.Shape, ref.Fortran)
}

// streamEnc is one EncodeTo call.
type streamEnc struct {
	ctx  context.Context
	t    StreamTensor
	ref  *StreamTensor
	cfg  Config
	w    io.WriterAt
	c    codec
	bf16 bool
	// bf16Words: u2 data coded as bfloat16 words (guessBF16Words).
	bf16Words bool
	h         Header
	params    []byte
	hlen      int64
	table     []chunkEntry
}

// flags returns the header's flag byte.
func (e *streamEnc) flags() uint8 {
	flags := uint8(0)
	if e.h.HasReference {
		flags |= flagHasReference
	}
	if e.h.Lossy {
		flags |= flagLossy
	}
	if e.h.Fortran {
		flags |= flagFortran
	}
	if e.bf16 {
		flags |= flagBF16Halves
	}
	if e.bf16Words {
		flags |= flagBF16Words
	}
	return flags
}

// layout returns the word layout the chunks are coded with.
func (e *streamEnc) layout() wordLayout {
	l := layoutFor(e.t.DType, e.bf16)
	if e.bf16Words {
		l = l.asBF16Words()
	}
	return l
}

// guessBF16 decides from the first bytes whether float32 data (and its
// reference) is coded as bf16 halves. Every chunk checks its own data as
// it is encoded, while it is in cache, and one that disproves the guess
// makes the tensor encode again with the float32 layout.
func (e *streamEnc) guessBF16(s Strategy, raw int64) (bool, error) {
	if !s.IsLossless() || e.t.DType.Kind != 'f' || e.t.DType.Size != 4 || raw == 0 {
		return false, nil
	}
	n := min(raw, bf16GuessBytes)
	bigEndian := e.t.DType.Order == '>'
	for _, src := range e.sources() {
		b, release, err := readRange(src, 0, n)
		if err != nil {
			return false, err
		}
		ok := isBF16Halves(b, bigEndian)
		release()
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// sources returns the tensor's source and, if any, the reference's.
func (e *streamEnc) sources() []io.ReaderAt {
	if e.ref == nil {
		return []io.ReaderAt{e.t.Data}
	}
	return []io.ReaderAt{e.t.Data, e.ref.Data}
}

// fitPerAxis reads the tensor and its reference once to fit the scales of
// per_axis_scaled.
func (e *streamEnc) fitPerAxis(raw int64) (*perAxisCodec, bool, error) {
	l := layoutFor(e.t.DType, false)
	fit := newPerAxisFit(l, e.t.Shape, e.t.Fortran, raw/int64(e.t.DType.Size))
	const piece = 1 << 20
	step := piece / int64(l.rawPerWord()) * int64(l.rawPerWord())
	for off := int64(0); off < raw && fit.ok; off += step {
		if err := e.ctx.Err(); err != nil {
			return nil, false, err
		}
		n := min(step, raw-off)
		tb, trel, err := readRange(e.t.Data, off, n)
		if err != nil {
			return nil, false, err
		}
		var rb []byte
		rrel := func() {}
		if e.ref != nil {
			if rb, rrel, err = readRange(e.ref.Data, off, n); err != nil {
				trel()
				return nil, false, err
			}
		}
		tw, rw := wordsOf(tb, l), wordsOf(rb, l)
		fit.add(tw, rw)
		trel()
		rrel()
	}
	p, ok := fit.codec()
	return p, ok, nil
}

// startHashes hashes, in the background, what the header needs and the
// caller did not hand in; the function returned waits for them.
func (e *streamEnc) startHashes() func() error {
	var (
		wg         sync.WaitGroup
		terr, rerr error
	)
	if e.ref != nil {
		if e.ref.SHA256 != nil {
			e.h.ReferenceHash = *e.ref.SHA256
		} else {
			wg.Add(1)
			go func() { defer wg.Done(); e.h.ReferenceHash, rerr = hashSource(e.ctx, e.ref.Data, e.h.RawSize) }()
		}
	}
	if !e.h.Lossy { // a lossy object's hash is of its reconstruction
		if e.t.SHA256 != nil {
			e.h.ContentHash = *e.t.SHA256
		} else {
			wg.Add(1)
			go func() { defer wg.Done(); e.h.ContentHash, terr = hashSource(e.ctx, e.t.Data, e.h.RawSize) }()
		}
	}
	return func() error {
		wg.Wait()
		return errors.Join(terr, rerr)
	}
}

// hashPiece is how much hashSource reads at once.
const hashPiece = 1 << 20

// hashSource returns the SHA-256 of the first n bytes of src.
func hashSource(ctx context.Context, src io.ReaderAt, n int64) ([32]byte, error) {
	if s, ok := src.(slicer); ok {
		if b, ok := s.slice(0, n); ok {
			return sha256.Sum256(b), nil
		}
	}
	h := sha256.New()
	for off := int64(0); off < n; off += hashPiece {
		if err := ctx.Err(); err != nil {
			return [32]byte{}, err
		}
		b, release, err := readRange(src, off, min(hashPiece, n-off))
		if err != nil {
			return [32]byte{}, err
		}
		h.Write(b)
		release()
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// readRange returns the bytes [off, off+n) of src, lent in place when src
// can, else read into a pooled buffer; release gives the buffer back.
func readRange(src io.ReaderAt, off, n int64) (b []byte, release func(), err error) {
	if s, ok := src.(slicer); ok {
		if b, ok := s.slice(off, n); ok {
			return b, func() {}, nil
		}
	}
	bp := getBuf(int(n))
	got, err := src.ReadAt(*bp, off)
	if got == int(n) {
		return *bp, func() { putBuf(bp) }, nil
	}
	putBuf(bp)
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, nil, fmt.Errorf("delta: read %d bytes at %d: %w", n, off, err)
}

// chunkResult is one encoded chunk waiting to be written in order.
type chunkResult struct {
	entry   chunkEntry
	payload []byte
	recon   *[]byte // lossy: the chunk's reconstruction, hashed in order
}

// encodeChunks encodes every chunk, on Concurrency goroutines, and writes
// the payloads in order from hlen on, at most two chunks per goroutine
// ahead of the writer, so memory stays bounded whatever the tensor's size.
// It fills e.table (and, for a lossy strategy, the content hash) and
// returns the object's size.
func (e *streamEnc) encodeChunks() (int64, error) {
	n := e.h.NumChunks
	e.table = make([]chunkEntry, n)
	l := e.layout()
	workers := e.cfg.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sha := sha256.New()
	pos := e.hlen
	err := ordered(n, workers, 2*workers,
		func(i int) (chunkResult, error) { return e.encodeChunk(l, i) },
		func(i int, r chunkResult) error {
			defer putBuf(r.recon)
			if _, err := e.w.WriteAt(r.payload, pos); err != nil {
				return fmt.Errorf("delta: write chunk %d: %w", i, err)
			}
			r.entry.offset = uint64(pos)
			e.table[i] = r.entry
			pos += int64(len(r.payload))
			if r.recon != nil {
				sha.Write(*r.recon)
			}
			return nil
		},
		func(r chunkResult) { putBuf(r.recon) })
	if err != nil {
		return 0, err
	}
	if e.h.Lossy {
		sha.Sum(e.h.ContentHash[:0])
	}
	return pos, nil
}

// usesSigns reports whether a chunk of the table uses method
// zigzag_signs, which needs format version 2.
func (e *streamEnc) usesSigns() bool {
	for _, c := range e.table {
		if e.h.Strategy == Auto && c.method == autoZigzagSigns {
			return true
		}
	}
	return false
}

// encodeChunk reads and encodes chunk i with layout l.
func (e *streamEnc) encodeChunk(l wordLayout, i int) (chunkResult, error) {
	if err := e.ctx.Err(); err != nil {
		return chunkResult{}, err
	}
	off, n := chunkBounds(&e.h, i)
	data, trel, err := readRange(e.t.Data, off, n)
	if err != nil {
		return chunkResult{}, err
	}
	defer trel()
	var rchunk []byte
	if e.ref != nil {
		var rrel func()
		if rchunk, rrel, err = readRange(e.ref.Data, off, n); err != nil {
			return chunkResult{}, err
		}
		defer rrel()
	}
	bigEndian := e.t.DType.Order == '>'
	if l.bf16 && (!isBF16Halves(data, bigEndian) || !isBF16Halves(rchunk, bigEndian)) {
		return chunkResult{}, errNotBF16Halves
	}
	var recon *[]byte
	var dst []byte
	if e.h.Lossy {
		recon = getBuf(int(n))
		dst = *recon
	}
	entry, payload, err := encodeOneChunk(e.c, l, data, rchunk, off, e.cfg.CompressionLevel, dst, e.cfg.SkipEncodeCheck)
	if err != nil {
		putBuf(recon)
		return chunkResult{}, fmt.Errorf("delta: chunk %d: %w", i, err)
	}
	return chunkResult{entry: entry, payload: payload, recon: recon}, nil
}
