package delta

// codec is one strategy's chunk coder. Implementations hold the strategy's
// object-wide parameters and are safe for concurrent use.
type codec interface {
	// encodeChunk appends the payload of one chunk to e.out and returns it
	// with the chunk's method and whether it uses the reference.
	encodeChunk(e *chunkEnc) (payload []byte, method uint8, usesRef bool, err error)
	// decodeChunk reconstructs one chunk's words into d.dst.
	decodeChunk(d *chunkDec) error
	// params returns the strategy parameters stored in the header.
	params() []byte
}

// chunkEnc is the input of one chunk's encoding.
type chunkEnc struct {
	l     wordLayout
	t     []byte // target words, little-endian
	r     []byte // reference words, or nil for none
	first int64  // index of the chunk's first word in the tensor
	level int
	// halves: t and r are bf16_halves data as little-endian float32 bytes
	// (see rawHalves), not words.
	halves bool
	// sgn, when set, is the word mask of method zigzag_signs: the coded
	// differences of its words are negated (signflip.go).
	sgn []byte
}

// chunkDec is the input of one chunk's decoding.
type chunkDec struct {
	l       wordLayout
	payload []byte
	method  uint8
	r       []byte // reference words, or nil when the chunk does not use it
	dst     []byte // output words, little-endian
	first   int64
	// halves: r and dst are bf16_halves data as little-endian float32
	// bytes (see rawHalves), not words.
	halves bool
}

// words returns the number of words of a chunk.
func (d *chunkDec) words() int {
	if d.halves {
		return len(d.dst) / 4
	}
	return len(d.dst) / d.l.width
}
