package delta

import (
	"encoding/binary"
	"fmt"
	"math"
)

// sparse (docs/FORMAT.md §4.3): elements whose |delta| is below the
// threshold are dropped (reconstructed as the reference), the others kept
// exactly as XOR words with varint index gaps.

type sparseCodec struct {
	threshold float64
}

func (s sparseCodec) params() []byte {
	p := make([]byte, 8)
	putF64(p, s.threshold)
	return p
}

func parseSparseParams(p []byte) (sparseCodec, error) {
	if len(p) != 8 {
		return sparseCodec{}, fmt.Errorf("sparse params of %d bytes", len(p))
	}
	t := getF64(p)
	if !finite(t) || t < 0 {
		return sparseCodec{}, fmt.Errorf("sparse threshold %g", t)
	}
	return sparseCodec{threshold: t}, nil
}

func (s sparseCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	w, n := e.l.width, len(e.t)/e.l.width
	var kept []int
	for i := 0; i < n; i++ {
		d := floatAt(e.t, w, i) - refFloatAt(e.r, w, i)
		if !(math.Abs(d) < s.threshold) {
			kept = append(kept, i)
		}
	}
	raw := binary.AppendUvarint(nil, uint64(len(kept)))
	prev := -1
	for _, i := range kept {
		raw = binary.AppendUvarint(raw, uint64(i-prev-1))
		prev = i
	}
	vals := make([]byte, len(kept)*w)
	for j, i := range kept {
		v := getWord(e.t, w, i)
		if e.r != nil {
			v ^= getWord(e.r, w, i)
		}
		putWord(vals, w, j, v)
	}
	p := len(raw)
	raw = append(raw, vals...)
	toPlanes(raw[p:], vals, w)
	return zcompress(nil, raw, e.level), 0, e.r != nil, nil
}

func (s sparseCodec) decodeChunk(d *chunkDec) error {
	w, n := d.l.width, d.words()
	raw, err := zdecompressBounded(d.payload, n*(binary.MaxVarintLen64+w)+binary.MaxVarintLen64)
	if err != nil {
		return err
	}
	count, k := binary.Uvarint(raw)
	if k <= 0 || count > uint64(n) {
		return fmt.Errorf("kept count invalid")
	}
	raw = raw[k:]
	idx := make([]int, count)
	next := uint64(0)
	for j := range idx {
		gap, k := binary.Uvarint(raw)
		if k <= 0 || gap >= uint64(n)-next {
			return fmt.Errorf("index %d invalid", j)
		}
		raw = raw[k:]
		idx[j] = int(next + gap)
		next += gap + 1
	}
	if uint64(len(raw)) != count*uint64(w) {
		return fmt.Errorf("%d value bytes for %d kept elements", len(raw), count)
	}
	vals := make([]byte, len(raw))
	fromPlanes(vals, raw, w)
	if d.r != nil {
		copy(d.dst, d.r)
	} else {
		clear(d.dst)
	}
	for j, i := range idx {
		v := getWord(vals, w, j)
		if d.r != nil {
			v ^= getWord(d.r, w, i)
		}
		putWord(d.dst, w, i, v)
	}
	return nil
}
