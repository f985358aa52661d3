package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
)

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
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	raw, err := checkTensor(t)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		if err := checkCompatible(t, *ref); err != nil {
			return nil, err
		}
	}
	strategy := cfg.Strategy
	if !strategy.IsLossless() && !cfg.AllowLossy {
		return nil, fmt.Errorf("%w: %s (set AllowLossy)", ErrLossyNotAllowed, strategy)
	}
	if !strategy.IsLossless() && (t.DType.Kind != 'f') {
		strategy = Auto
	}
	var refData []byte
	if ref != nil {
		refData = ref.Data
	}
	// float32 data whose low halves are all zero (bf16 widened, in the
	// tensor and its reference) is coded as its upper halves. The first
	// bytes decide the guess; every chunk checks its own data as it is
	// encoded, while it is in cache, and one that disproves the guess makes
	// the tensor encode again with the float32 layout.
	bigEndian := t.DType.Order == '>'
	bf16 := strategy.IsLossless() && t.DType.Kind == 'f' && t.DType.Size == 4 && raw > 0
	if bf16 {
		n := min(raw, bf16GuessBytes)
		bf16 = isBF16Halves(t.Data[:n], bigEndian) && (ref == nil || isBF16Halves(refData[:n], bigEndian))
	}
	l := layoutFor(t.DType, bf16)

	var c codec
	switch strategy {
	case PerAxisScaled:
		tw, rw := wholeWords(t.Data, refData, l)
		p, ok := fitPerAxis(tw, rw, l, t.Shape, t.Fortran)
		if ok {
			c = p
		} else {
			strategy, c = Auto, autoCodec{}
		}
	default:
		c = newCodec(strategy, cfg)
	}

	chunk := int64(cfg.ChunkSize) / int64(t.DType.Size) * int64(t.DType.Size)
	chunk = max(chunk, int64(t.DType.Size))
	h := Header{
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
	var hashWG sync.WaitGroup
	if ref != nil {
		if ref.SHA256 != nil {
			h.ReferenceHash = *ref.SHA256
		} else {
			hashWG.Add(1)
			go func() { defer hashWG.Done(); h.ReferenceHash = sha256.Sum256(refData) }()
		}
	}
	if !h.Lossy {
		if t.SHA256 != nil {
			h.ContentHash = *t.SHA256
		} else {
			hashWG.Add(1)
			go func() { defer hashWG.Done(); h.ContentHash = sha256.Sum256(t.Data) }()
		}
	}

	var recon []byte // lossy: the reconstruction, hashed for ContentHash
	if h.Lossy {
		recon = make([]byte, raw)
	}
	table := make([]chunkEntry, h.NumChunks)
	payloads := make([][]byte, h.NumChunks)
	encodeChunks := func(l wordLayout) error {
		return parallel(ctx, h.NumChunks, cfg.Concurrency, func(i int) error {
			off, n := chunkBounds(&h, i)
			var rchunk []byte
			if ref != nil {
				rchunk = refData[off : off+n]
			}
			if l.bf16 && (!isBF16Halves(t.Data[off:off+n], bigEndian) || !isBF16Halves(rchunk, bigEndian)) {
				return errNotBF16Halves
			}
			var dst []byte
			if h.Lossy {
				dst = recon[off : off+n]
			}
			e, p, err := encodeOneChunk(c, l, t.Data[off:off+n], rchunk, off, cfg.CompressionLevel, dst, cfg.SkipEncodeCheck)
			if err != nil {
				return fmt.Errorf("delta: chunk %d: %w", i, err)
			}
			table[i], payloads[i] = e, p
			return nil
		})
	}
	err = encodeChunks(l)
	if bf16 && errors.Is(err, errNotBF16Halves) {
		bf16 = false
		err = encodeChunks(layoutFor(t.DType, false))
	}
	hashWG.Wait()
	if err != nil {
		return nil, err
	}
	if h.Lossy {
		h.ContentHash = sha256.Sum256(recon)
	}

	flags := uint8(0)
	if h.HasReference {
		flags |= flagHasReference
	}
	if h.Lossy {
		flags |= flagLossy
	}
	if h.Fortran {
		flags |= flagFortran
	}
	if bf16 {
		flags |= flagBF16Halves
	}
	params := c.params()
	hlen := int64(fixedHeaderSize + 8*len(h.Shape) + len(params) + chunkEntrySize*len(table) + 4)
	total := hlen
	for i := range table {
		table[i].offset = uint64(total)
		total += int64(len(payloads[i]))
	}
	obj := marshalHeader(&h, strategy.id(), flags, params, table)
	obj = append(make([]byte, 0, total), obj...)
	for _, p := range payloads {
		obj = append(obj, p...)
	}
	return obj, nil
}

// bf16GuessBytes is how much of a float32 tensor (and of its reference)
// decides whether its encoding starts as bf16 halves.
const bf16GuessBytes = 64 << 10

// errNotBF16Halves stops an encoding that guessed wrongly that a float32
// tensor and its reference hold only bf16 values.
var errNotBF16Halves = errors.New("delta: not bf16 halves")

// encodeOneChunk encodes one chunk's data bytes, verifies that it decodes
// (unless skipCheck, for lossless codecs) and returns its table entry
// (offset left 0) and payload. For a lossy codec recon receives the
// reconstruction.
func encodeOneChunk(c codec, l wordLayout, data, ref []byte, off int64, level int, recon []byte, skipCheck bool) (chunkEntry, []byte, error) {
	tb, tw := chunkWords(c, l, data)
	defer putBuf(tb)
	rb, rw := chunkWords(c, l, ref)
	defer putBuf(rb)
	first := off / int64(l.rawPerWord())
	payload, method, usesRef, err := c.encodeChunk(&chunkEnc{l: l, t: tw, r: rw, first: first, level: level, halves: rawHalves(c, l)})
	if err != nil {
		return chunkEntry{}, nil, err
	}
	if int64(len(payload)) > maxPayload(int64(len(data))) {
		return chunkEntry{}, nil, fmt.Errorf("payload of %d bytes exceeds the format's bound", len(payload))
	}
	e := chunkEntry{length: uint32(len(payload)), method: method, payCRC: crc32c(payload)}
	if usesRef {
		e.flags |= chunkUsesReference
	}
	if isLossless(c) && skipCheck {
		e.dataCRC = crc32c(data)
		return e, payload, nil
	}
	// Decode what was just encoded: an encoder bug becomes an error here
	// instead of an object that can never be read back.
	if recon == nil {
		bp := getBuf(len(data))
		defer putBuf(bp)
		recon = *bp
	}
	var dr []byte
	if usesRef {
		dr = rw
	}
	if err := decodeWords(c, l, payload, method, dr, first, recon); err != nil {
		return chunkEntry{}, nil, fmt.Errorf("self-check: %w", err)
	}
	if isLossless(c) {
		// One CRC pass (of the input) and a byte comparison, cheaper than a
		// CRC of each.
		if !bytes.Equal(recon, data) {
			return chunkEntry{}, nil, fmt.Errorf("self-check: reconstruction differs from the input")
		}
		e.dataCRC = crc32c(data)
		return e, payload, nil
	}
	e.dataCRC = crc32c(recon)
	return e, payload, nil
}

// isLossless reports whether a codec reproduces its input bit for bit.
func isLossless(c codec) bool {
	switch c.(type) {
	case quantCodec, sparseCodec, *perAxisCodec:
		return false
	}
	return true
}

// wholeWords returns the little-endian words of data and ref (nil stays
// nil), converting only when the data is not already native words.
func wholeWords(data, ref []byte, l wordLayout) (tw, rw []byte) {
	return wordsOf(data, l), wordsOf(ref, l)
}

// wordsOf returns the little-endian words of data-section bytes (nil stays
// nil), converting only when they are not already native words.
func wordsOf(data []byte, l wordLayout) []byte {
	if data == nil || l.native() {
		return data
	}
	w := make([]byte, len(data)/l.rawPerWord()*l.width)
	l.toWords(w, data)
	return w
}

// pooledWords is wordsOf with a pooled buffer (nil when none was needed);
// release it with putBuf.
func pooledWords(data []byte, l wordLayout) (*[]byte, []byte) {
	if data == nil || l.native() {
		return nil, data
	}
	bp := getBuf(len(data) / l.rawPerWord() * l.width)
	l.toWords(*bp, data)
	return bp, *bp
}

// rawHalves reports whether codec c takes bf16_halves data as their
// little-endian float32 bytes (auto's kernels read and write the upper
// halves in place) instead of as converted words.
func rawHalves(c codec, l wordLayout) bool {
	_, auto := c.(autoCodec)
	return auto && l.bf16 && !l.bigEndian
}

// chunkWords returns the form of a chunk's data bytes codec c takes: the
// bytes themselves when they already are its words (or rawHalves), else
// pooledWords.
func chunkWords(c codec, l wordLayout, data []byte) (*[]byte, []byte) {
	if rawHalves(c, l) {
		return nil, data
	}
	return pooledWords(data, l)
}

// decodeWords decodes one payload into the data-section bytes dst; rw is
// the reference in chunkWords form.
func decodeWords(c codec, l wordLayout, payload []byte, method uint8, rw []byte, first int64, dst []byte) error {
	halves := rawHalves(c, l)
	direct := l.native() || halves
	out := dst
	if !direct {
		bp := getBuf(len(dst) / l.rawPerWord() * l.width)
		defer putBuf(bp)
		out = *bp
	}
	if err := c.decodeChunk(&chunkDec{l: l, payload: payload, method: method, r: rw, dst: out, first: first, halves: halves}); err != nil {
		return err
	}
	if !direct {
		l.fromWords(dst, out)
	}
	return nil
}

// newCodec returns the codec of a strategy other than per_axis_scaled.
func newCodec(s Strategy, cfg Config) codec {
	switch s {
	case Float32Raw:
		return rawCodec{}
	case Compressed:
		return compressedCodec{}
	case XorFloat32:
		return xorPlanesCodec{}
	case XorBFloat16:
		return xorHalvesCodec{}
	case ExponentMantissa:
		return expMantCodec{}
	case Int8Quantized:
		return quantCodec{bits: 8, block: cfg.QuantBlock}
	case Int16Quantized:
		return quantCodec{bits: 16, block: cfg.QuantBlock}
	case Sparse:
		return sparseCodec{threshold: cfg.SparseThreshold}
	}
	return autoCodec{}
}
