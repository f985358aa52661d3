package planes

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/huff0"
)

// encoder holds reusable per-goroutine state.
type encoder struct {
	pl     []byte
	layout classLayout
	stats  segStats
	huff   huff0.Scratch
	fse    fse.Scratch
	zbuf   []byte
	segLog uint8

	// sparse method scratch
	gaps, vals, sbuf []byte
	nestedStats      segStats
	nestedHuff       huff0.Scratch
}

var encoderPool = sync.Pool{New: func() any { return &encoder{} }}

func getEncoder() *encoder { return encoderPool.Get().(*encoder) }

func putEncoder(e *encoder) {
	if cap(e.pl) > 64<<20 {
		e.pl = nil // do not pin huge buffers
	}
	encoderPool.Put(e)
}

// buf returns e.pl resized to n bytes.
func (e *encoder) buf(n int) []byte {
	if cap(e.pl) < n {
		e.pl = make([]byte, n)
	}
	e.pl = e.pl[:n]
	return e.pl
}

func (e *encoder) encode(dst, src []byte, n, width int, ctx []uint8, nctx, level int) ([]byte, error) {
	l := &e.layout
	if n > 0 {
		if bad := l.count(ctx, nctx, n); bad >= 0 {
			return dst, fmt.Errorf("%w: context class %d not below nctx %d", ErrInvalidArgument, bad, nctx)
		}
	}
	pl := e.buf(n * width)
	if n > 0 {
		l.split(pl, src, n, width, ctx, nctx)
	}
	return e.streams(dst, pl, n, width, l.counts[:nctx], level), nil
}

// streams appends the block header and every segment of the class-sorted
// planes pl (the layout decoder.streams reads) to dst.
func (e *encoder) streams(dst, pl []byte, n, width int, counts []int, level int) []byte {
	segLog := e.segLog
	if segLog == 0 {
		segLog = defaultSegLog
	}
	dst = append(dst, formatVersion, modePlain, segLog)
	if n == 0 {
		return dst
	}
	segSize := 1 << segLog
	for k := width - 1; k >= 0; k-- {
		plane := pl[k*n : (k+1)*n]
		for _, cnt := range counts {
			stream := plane[:cnt]
			plane = plane[cnt:]
			for len(stream) > 0 {
				seg := stream[:min(segSize, len(stream))]
				stream = stream[len(seg):]
				dst = e.encodeSegment(dst, seg, level)
			}
		}
	}
	return dst
}

// candidate is one coded form of a segment.
type candidate struct {
	m       method
	payload []byte
}

// size is the candidate's total stored size, method byte and length included.
func (c candidate) size() int {
	return 1 + uvarintLen(uint64(len(c.payload))) + len(c.payload)
}

// encodeSegment appends the smallest coding of seg (non-empty) that the
// level allows.
func (e *encoder) encodeSegment(dst, seg []byte, level int) []byte {
	// A constant segment (common in the high planes) is found by comparing
	// it with itself shifted by one byte, at memequal speed; a segment that
	// is not constant usually fails within a few bytes.
	if bytes.Equal(seg[1:], seg[:len(seg)-1]) {
		return append(dst, byte(methodConst), seg[0])
	}
	st := &e.stats
	st.measure(seg)
	n := len(seg)
	rawSize := 1 + n
	best := candidate{m: methodRaw}
	bestSize := rawSize
	consider := func(c candidate) {
		if s := c.size(); s < bestSize {
			best, bestSize = c, s
		}
	}

	excess := st.excessRepeats(n)
	// A huff0 table costs up to ~130 bytes; below ~3% gain coding does not pay.
	entropyPays := st.entropyPays(n)
	if entropyPays {
		// When one byte dominates, huff0 wastes up to a bit per symbol; the
		// sparse method (fast to decode) and FSE (fractional bits, but slow
		// to decode, so only at high levels) do better.
		skewed := st.maxCount*10 >= n*8
		if skewed {
			if p := e.sparseCode(seg, st.mode()); p != nil {
				consider(candidate{methodSparse, p})
			}
		}
		// huff0 spends at least a bit per symbol: skip it when that floor
		// already loses.
		if !skewed || bestSize > n/8 {
			if p, m := e.huffman(seg); p != nil {
				consider(candidate{m, p})
			}
		}
		// FSE decodes at about a third of huff0's speed: below level 7 it
		// is used only where it saves much (a skewed high plane huff0 codes
		// at well over its entropy), which keeps it to a small part of the
		// bytes. Its output is about the Shannon bound plus a small table.
		if st.maxCount*2 > n && (level >= 7 || fsePays(float64(bestSize)-st.shannonBytes(n)-64, n)) {
			if p := e.fseCode(seg); p != nil {
				if c := (candidate{methodFSE, p}); level >= 7 || fsePays(float64(bestSize-c.size()), n) {
					consider(c)
				}
			}
		}
	}
	tryZstd := level >= 8 ||
		(level >= 2 && excess > 0.05) ||
		(excess > 0.2)
	if tryZstd {
		if p := e.zstdCode(seg, level); p != nil {
			consider(candidate{methodZstd, p})
		}
	}
	if best.m == methodRaw {
		dst = append(dst, byte(methodRaw))
		return append(dst, seg...)
	}
	dst = append(dst, byte(best.m))
	dst = binary.AppendUvarint(dst, uint64(len(best.payload)))
	return append(dst, best.payload...)
}

// fseMinSaving is the least saving, in bits per byte of a segment, for
// which the encoder picks FSE below level 7.
const fseMinSaving = 0.3

// fsePays reports whether saving bytes on an n-byte segment are enough for
// FSE below level 7.
func fsePays(saving float64, n int) bool {
	return saving*8 >= fseMinSaving*float64(n)
}

// huffman codes seg with huff0, four streams when long enough.
func (e *encoder) huffman(seg []byte) ([]byte, method) {
	return huffmanWith(&e.huff, seg)
}

// huffmanWith codes seg with huff0 using scratch s; the result aliases s.Out.
func huffmanWith(s *huff0.Scratch, seg []byte) ([]byte, method) {
	s.Reuse = huff0.ReusePolicyNone
	var out []byte
	var err error
	m := methodHuff1X
	if len(seg) >= 4096 {
		m = methodHuff4X
		out, _, err = huff0.Compress4X(seg, s)
	} else {
		out, _, err = huff0.Compress1X(seg, s)
	}
	if err != nil {
		return nil, 0
	}
	return out, m
}

// fseCode codes seg with FSE.
func (e *encoder) fseCode(seg []byte) []byte {
	out, err := fse.Compress(seg, &e.fse)
	if err != nil {
		return nil
	}
	return out
}

// zstdCode codes seg as one zstd frame.
func (e *encoder) zstdCode(seg []byte, level int) []byte {
	z, idx := getZstdEncoder(level)
	if z == nil {
		return nil
	}
	e.zbuf = z.EncodeAll(seg, e.zbuf[:0])
	putZstdEncoder(z, idx)
	return e.zbuf
}

// uvarintLen is the length of the uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
