package planes

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// decoder holds reusable per-goroutine state.
type decoder struct {
	pl     []byte
	layout classLayout
	huff   *huff0.Scratch
	fse    fse.Scratch
	gaps   []byte // sparse scratch
	vals   []byte
}

var decoderPool = sync.Pool{New: func() any { return &decoder{} }}

func getDecoder() *decoder { return decoderPool.Get().(*decoder) }

func putDecoder(d *decoder) {
	if cap(d.pl) > 64<<20 {
		d.pl = nil
	}
	decoderPool.Put(d)
}

func (d *decoder) buf(n int) []byte {
	if cap(d.pl) < n {
		d.pl = make([]byte, n)
	}
	d.pl = d.pl[:n]
	return d.pl
}

func (d *decoder) decode(dst, block []byte, n, width int, ctx []uint8, nctx int) error {
	segLog, err := checkHeader(block, n)
	if err != nil || n == 0 {
		return err
	}
	l := &d.layout
	if bad := l.count(ctx, nctx, n); bad >= 0 {
		return fmt.Errorf("%w: context class %d not below nctx %d", ErrInvalidArgument, bad, nctx)
	}
	direct := ctx == nil && width == 1
	var pl []byte
	if direct {
		pl = dst
	} else {
		pl = d.buf(n * width)
	}
	if err := d.streams(pl, block, n, width, l.counts[:nctx], segLog); err != nil {
		return err
	}
	if !direct {
		l.merge(dst, pl, n, width, ctx, nctx)
	}
	return nil
}

// checkHeader validates a block's header for n words and returns its
// segLog; an empty block must be exactly the header.
func checkHeader(block []byte, n int) (uint8, error) {
	if len(block) < headerSize {
		return 0, corruptf("block of %d bytes is shorter than its %d-byte header", len(block), headerSize)
	}
	if v := block[0]; v != formatVersion {
		return 0, corruptf("format version %d, want %d", v, formatVersion)
	}
	if m := block[1]; m != modePlain {
		return 0, corruptf("unknown mode %d", m)
	}
	segLog := block[2]
	if segLog < minSegLog || segLog > maxSegLog {
		return 0, corruptf("segment size 2^%d outside 2^%d..2^%d", segLog, minSegLog, maxSegLog)
	}
	if n == 0 && len(block) != headerSize {
		return 0, corruptf("%d trailing bytes after an empty block", len(block)-headerSize)
	}
	return segLog, nil
}

// streams decodes every segment of block into the class-sorted planes pl
// (plane k at pl[k*n:(k+1)*n], class c's stream of counts[c] bytes after
// those of the classes before it).
func (d *decoder) streams(pl, block []byte, n, width int, counts []int, segLog uint8) error {
	segSize := 1 << segLog
	pos := headerSize
	for k := width - 1; k >= 0; k-- {
		plane := pl[k*n : (k+1)*n]
		for c, cnt := range counts {
			stream := plane[:cnt]
			plane = plane[cnt:]
			for len(stream) > 0 {
				seg := stream[:min(segSize, len(stream)):min(segSize, len(stream))]
				stream = stream[len(seg):]
				used, err := d.decodeSegment(seg, block[pos:])
				if err != nil {
					return corruptf("plane %d class %d at block offset %d: %w", k, c, pos, err)
				}
				pos += used
			}
		}
	}
	if pos != len(block) {
		return corruptf("%d trailing bytes", len(block)-pos)
	}
	return nil
}

// segError is a detail wrapped into ErrCorrupt by decode.
type segError string

func (e segError) Error() string { return string(e) }

// decodeSegment fills seg (its exact length known) from the start of in and
// returns how many bytes of in it consumed.
func (d *decoder) decodeSegment(seg, in []byte) (int, error) {
	if len(in) < 1 {
		return 0, segError("truncated before segment method")
	}
	m := method(in[0])
	in = in[1:]
	switch m {
	case methodRaw:
		if len(in) < len(seg) {
			return 0, segError("truncated raw segment")
		}
		copy(seg, in[:len(seg)])
		return 1 + len(seg), nil
	case methodConst:
		if len(in) < 1 {
			return 0, segError("truncated constant segment")
		}
		fill(seg, in[0])
		return 2, nil
	case methodHuff1X, methodHuff4X, methodFSE, methodZstd, methodSparse:
	default:
		return 0, segError("unknown method " + m.String())
	}
	plen, vlen := binary.Uvarint(in)
	if vlen <= 0 {
		return 0, segError("bad payload length")
	}
	in = in[vlen:]
	if plen > uint64(len(in)) {
		return 0, segError("payload length beyond the block")
	}
	payload := in[:plen]
	used := 1 + vlen + int(plen)
	var err error
	switch m {
	case methodHuff1X, methodHuff4X:
		err = d.huffman(seg, payload, m == methodHuff4X)
	case methodFSE:
		err = d.fseDecode(seg, payload)
	case methodZstd:
		err = zstdDecode(seg, payload)
	case methodSparse:
		err = d.decodeSparse(seg, payload)
	}
	if err != nil {
		return 0, err
	}
	return used, nil
}

func (d *decoder) huffman(seg, payload []byte, four bool) error {
	s, rest, err := huff0.ReadTable(payload, d.huff)
	if err != nil {
		return err
	}
	d.huff = s
	s.MaxDecodedSize = len(seg)
	dec := s.Decoder()
	var out []byte
	if four {
		out, err = dec.Decompress4X(seg[:0], rest)
	} else {
		out, err = dec.Decompress1X(seg[:0], rest)
	}
	if err != nil {
		return err
	}
	return placeOutput(seg, out, "huff0")
}

func (d *decoder) fseDecode(seg, payload []byte) error {
	d.fse.DecompressLimit = len(seg)
	out, err := fse.Decompress(payload, &d.fse)
	if err != nil {
		return err
	}
	if len(out) != len(seg) {
		return segError("fse segment decodes to the wrong length")
	}
	copy(seg, out)
	return nil
}

func zstdDecode(seg, payload []byte) error {
	var h zstd.Header
	if err := h.Decode(payload); err != nil {
		return err
	}
	if h.HasFCS && h.FrameContentSize != uint64(len(seg)) {
		return segError("zstd frame size differs from the segment's")
	}
	z, err := sharedZstdDecoder()
	if err != nil {
		return err
	}
	out, err := z.DecodeAll(payload, seg[:0])
	if err != nil {
		return err
	}
	return placeOutput(seg, out, "zstd")
}

// fill sets every byte of b to v: a clear for zero, otherwise one store
// and copies that double the filled prefix, which run at memmove speed (a
// byte loop with a non-zero value is not turned into a memset).
func fill(b []byte, v byte) {
	if v == 0 {
		clear(b)
		return
	}
	if len(b) == 0 {
		return
	}
	b[0] = v
	for i := 1; i < len(b); i *= 2 {
		copy(b[i:], b[:i])
	}
}

// placeOutput checks a decoder's output has the segment's length and lies in
// seg (decoders write in place when the capacity suffices).
func placeOutput(seg, out []byte, coder string) error {
	if len(out) != len(seg) {
		return segError(coder + " segment decodes to the wrong length")
	}
	if len(out) > 0 && &out[0] != &seg[0] {
		copy(seg, out)
	}
	return nil
}
