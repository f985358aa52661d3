package delta

import (
	"bytes"
	"errors"
	"fmt"
)

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
