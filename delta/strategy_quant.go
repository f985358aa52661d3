package delta

import (
	"encoding/binary"
	"fmt"
	"math"
)

// int8_quantized and int16_quantized (docs/FORMAT.md §4.2): per block of
// elements an affine map of the delta range onto the full 2^B levels, with
// round-to-nearest; blocks holding non-finite values are stored exactly.

const (
	quantModeQuantized = 0
	quantModeExact     = 1
	quantBlockHeader   = 17 // u8 mode, f64 offset, f64 scale
	maxQuantBlock      = 1 << 20
)

type quantCodec struct {
	bits  int // 8 or 16
	block int // elements per scale block
}

func (q quantCodec) params() []byte {
	p := make([]byte, 4)
	binary.LittleEndian.PutUint32(p, uint32(q.block))
	return p
}

// parseQuantParams validates int8/int16 parameters.
func parseQuantParams(p []byte, bits int) (quantCodec, error) {
	if len(p) != 4 {
		return quantCodec{}, fmt.Errorf("quantization params of %d bytes", len(p))
	}
	b := binary.LittleEndian.Uint32(p)
	if b < 1 || b > maxQuantBlock {
		return quantCodec{}, fmt.Errorf("quantization block of %d elements", b)
	}
	return quantCodec{bits: bits, block: int(b)}, nil
}

func (q quantCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	w, n := e.l.width, len(e.t)/e.l.width
	levels := float64(uint64(1)<<q.bits - 1)
	qb := q.bits / 8
	raw := make([]byte, 0, n*max(w, qb)+(n/q.block+1)*quantBlockHeader)
	deltas := make([]float64, min(n, q.block))
	for start := 0; start < n; start += q.block {
		end := min(n, start+q.block)
		lo, hi := math.Inf(1), math.Inf(-1)
		exact := false
		for i := start; i < end; i++ {
			tv, rv := floatAt(e.t, w, i), refFloatAt(e.r, w, i)
			d := tv - rv
			if !finite(tv) || !finite(rv) || !finite(d) {
				exact = true
				break
			}
			deltas[i-start] = d
			lo, hi = math.Min(lo, d), math.Max(hi, d)
		}
		scale := (hi - lo) / levels
		if exact || !finite(scale) {
			raw = append(raw, quantModeExact)
			p := len(raw)
			raw = append(raw, make([]byte, (end-start)*w)...)
			var rb []byte
			if e.r != nil {
				rb = e.r[start*w : end*w]
			}
			xorWords(raw[p:], e.t[start*w:end*w], rb)
			continue
		}
		var hdr [quantBlockHeader]byte
		hdr[0] = quantModeQuantized
		putF64(hdr[1:], lo)
		putF64(hdr[9:], scale)
		raw = append(raw, hdr[:]...)
		for _, d := range deltas[:end-start] {
			var v uint64
			if scale > 0 {
				v = uint64(math.Min(levels, math.Max(0, math.Floor((d-lo)/scale+0.5))))
			}
			if qb == 1 {
				raw = append(raw, byte(v))
			} else {
				raw = binary.LittleEndian.AppendUint16(raw, uint16(v))
			}
		}
	}
	return zcompress(nil, raw, e.level), 0, e.r != nil, nil
}

func (q quantCodec) decodeChunk(d *chunkDec) error {
	w, n := d.l.width, d.words()
	qb := q.bits / 8
	nblocks := (n + q.block - 1) / q.block
	raw, err := zdecompressBounded(d.payload, n*max(w, qb)+nblocks*quantBlockHeader)
	if err != nil {
		return err
	}
	for start := 0; start < n; start += q.block {
		end := min(n, start+q.block)
		if len(raw) < 1 {
			return fmt.Errorf("block at element %d missing", start)
		}
		mode := raw[0]
		raw = raw[1:]
		switch mode {
		case quantModeExact:
			need := (end - start) * w
			if len(raw) < need {
				return fmt.Errorf("exact block at element %d truncated", start)
			}
			var rb []byte
			if d.r != nil {
				rb = d.r[start*w : end*w]
			}
			xorWords(d.dst[start*w:end*w], raw[:need], rb)
			raw = raw[need:]
		case quantModeQuantized:
			need := 16 + (end-start)*qb
			if len(raw) < need {
				return fmt.Errorf("quantized block at element %d truncated", start)
			}
			lo, scale := getF64(raw), getF64(raw[8:])
			if !finite(lo) || !finite(scale) || scale < 0 {
				return fmt.Errorf("block at element %d: offset %g scale %g", start, lo, scale)
			}
			vals := raw[16:need]
			for i := start; i < end; i++ {
				var v float64
				if qb == 1 {
					v = float64(vals[i-start])
				} else {
					v = float64(binary.LittleEndian.Uint16(vals[2*(i-start):]))
				}
				delta := lo + float64(v*scale)
				putFloat(d.dst, w, i, refFloatAt(d.r, w, i)+delta)
			}
			raw = raw[need:]
		default:
			return fmt.Errorf("block at element %d: unknown mode %d", start, mode)
		}
	}
	if len(raw) != 0 {
		return fmt.Errorf("%d trailing bytes", len(raw))
	}
	return nil
}
