package analysis

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"deltafs/delta"
	"deltafs/npy"
)

// Adaptive quantization format (version 1):
//
//	byte     version (1)
//	3 bytes  dtype: kind 'f' or 'c', item size, byte order ('<', '>' or '|')
//	byte     bits B (8 or 16)
//	uvarint  N, the number of values (a complex element is two values)
//	8 bytes  center, float64 little-endian
//	8 bytes  scale, float64 little-endian (finite, >= 0)
//	uvarint  K, the number of outliers
//	N·B/8    codes, little-endian two's complement; the code −2^(B−1) marks
//	         an outlier
//	K·W      the outliers' value words verbatim (W = item size, or half of
//	         it for complex), in order of appearance
//
// Value i decodes to round_dtype(center + code_i·scale), outliers to their
// stored bits.

const quantVersion = 1

// QuantConfig tunes AdaptiveQuantize. The zero value uses the defaults.
type QuantConfig struct {
	Bits   int     // 8 or 16 (default 8)
	Sigmas float64 // half-width of the quantized range in standard deviations (default 3)
}

// QuantInfo describes a quantization.
type QuantInfo struct {
	Center   float64 // mean of the finite values
	Scale    float64 // step between codes
	MaxError float64 // bound on |decoded − original| for non-outliers: Scale/2
	Outliers int     // values kept exactly
	Values   int
	Size     int // encoded bytes
}

// AdaptiveQuantize quantizes a float tensor (typically a delta) to B-bit
// codes over the range center ± Sigmas·σ, rounding to nearest (centre and σ
// after one round of sigma clipping), and keeps
// every other value exactly: those outside the range, NaNs, infinities, and
// any value whose reconstruction in the tensor's dtype would miss it by more
// than Scale/2.
//
// Error bound: every value decodes either bit-exactly (outliers) or to
// within Scale/2 = Sigmas·σ / (2·(2^(B−1)−1)) of the original, as checked
// element by element by the encoder in float64 arithmetic (exact for
// float16, bfloat16 and float32 data).
func AdaptiveQuantize(t delta.Tensor, cfg QuantConfig) ([]byte, QuantInfo, error) {
	var info QuantInfo
	if cfg.Bits == 0 {
		cfg.Bits = 8
	}
	if cfg.Bits != 8 && cfg.Bits != 16 {
		return nil, info, fmt.Errorf("analysis: quantization bits %d, want 8 or 16", cfg.Bits)
	}
	if cfg.Sigmas == 0 {
		cfg.Sigmas = 3
	}
	if !(cfg.Sigmas > 0) || math.IsInf(cfg.Sigmas, 0) {
		return nil, info, fmt.Errorf("analysis: sigmas %v must be positive", cfg.Sigmas)
	}
	v, err := newView(t)
	if err != nil {
		return nil, info, err
	}
	if v.kind != 'f' {
		return nil, info, fmt.Errorf("%w: adaptive quantization needs floats, got %s", ErrUnsupported, dtypeName(t.DType))
	}
	n := v.len()
	// Mean and σ of the finite values, then once more over those within
	// Sigmas·σ of the mean (sigma clipping), so a few huge outliers neither
	// shift the centre nor inflate the scale; they are kept exactly instead.
	mean, std := meanStd(v, math.Inf(-1), math.Inf(1))
	if std > 0 {
		mean, std = meanStd(v, mean-cfg.Sigmas*std, mean+cfg.Sigmas*std)
	}
	qmax := int64(1)<<(cfg.Bits-1) - 1
	scale := cfg.Sigmas * std / float64(qmax)
	if math.IsInf(scale, 0) || math.IsNaN(scale) {
		scale = 0
	}
	info = QuantInfo{Center: mean, Scale: scale, MaxError: scale / 2, Values: n}

	cb := cfg.Bits / 8
	out := []byte{quantVersion, t.DType.Kind, byte(t.DType.Size), t.DType.Order, byte(cfg.Bits)}
	out = binary.AppendUvarint(out, uint64(n))
	out = binary.LittleEndian.AppendUint64(out, math.Float64bits(mean))
	out = binary.LittleEndian.AppendUint64(out, math.Float64bits(scale))
	codes := make([]byte, n*cb)
	var outliers []byte
	k := 0
	marker := -(qmax + 1)
	for i := 0; i < n; i++ {
		x := v.value(i)
		code, ok := quantizeOne(x, mean, scale, qmax, v.width)
		if !ok {
			code = marker
			outliers = append(outliers, v.data[i*v.width:(i+1)*v.width]...)
			k++
		}
		if cb == 1 {
			codes[i] = byte(int8(code))
		} else {
			binary.LittleEndian.PutUint16(codes[2*i:], uint16(int16(code)))
		}
	}
	out = binary.AppendUvarint(out, uint64(k))
	out = append(out, codes...)
	out = append(out, outliers...)
	info.Outliers = k
	info.Size = len(out)
	return out, info, nil
}

// meanStd returns the mean and population standard deviation of the
// finite values in [lo, hi] (Welford's method).
func meanStd(v elemView, lo, hi float64) (mean, std float64) {
	var m2 float64
	k := 0
	for i := 0; i < v.len(); i++ {
		x := v.value(i)
		if math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi {
			continue
		}
		k++
		d := x - mean
		mean += d / float64(k)
		m2 += d * (x - mean)
	}
	if k == 0 {
		return 0, 0
	}
	return mean, math.Sqrt(m2 / float64(k))
}

// quantizeOne returns x's code, or false when x must be kept exactly. The
// nearest code is tried first, then its neighbour on the side of x: the
// dtype's rounding of the reconstruction may push the nearest one past the
// bound while the neighbour stays within it.
func quantizeOne(x, center, scale float64, qmax int64, width int) (int64, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	if scale == 0 {
		return 0, wordValue(floatWord(center, width), width, 'f') == x
	}
	q := (x - center) / scale
	c := math.Round(q)
	if !(math.Abs(c) <= float64(qmax)) {
		return 0, false
	}
	code := int64(c)
	alt := code + 1
	if q < c {
		alt = code - 1
	}
	for _, k := range [2]int64{code, alt} {
		if k < -qmax || k > qmax {
			continue
		}
		y := wordValue(floatWord(dequantOne(center, scale, k), width), width, 'f')
		if math.Abs(y-x) <= scale/2 {
			return k, true
		}
	}
	return 0, false
}

// dequantOne is the decoder's arithmetic; the explicit conversion forbids
// fusing the multiply-add, so every platform rounds alike.
func dequantOne(center, scale float64, code int64) float64 {
	return center + float64(float64(code)*scale)
}

// Dequantize decodes AdaptiveQuantize's output into data of the original
// dtype (returned too). The output may not exceed maxSize bytes; malformed
// input yields an error wrapping ErrCorrupt.
func Dequantize(enc []byte, maxSize int) ([]byte, npy.DType, error) {
	var dt npy.DType
	if len(enc) < 6 {
		return nil, dt, fmt.Errorf("%w: quantized input of %d bytes", ErrCorrupt, len(enc))
	}
	if enc[0] != quantVersion {
		return nil, dt, fmt.Errorf("%w: quantization version %d", ErrCorrupt, enc[0])
	}
	dt = npy.DType{Kind: enc[1], Size: int(enc[2]), Order: enc[3]}
	width := dt.Size
	switch {
	case dt.Kind == 'f' && (dt.Size == 2 || dt.Size == 4 || dt.Size == 8):
	case dt.Kind == 'c' && (dt.Size == 8 || dt.Size == 16):
		width = dt.Size / 2
	default:
		return nil, dt, fmt.Errorf("%w: dtype %c%d", ErrCorrupt, dt.Kind, dt.Size)
	}
	if dt.Order != '<' && dt.Order != '>' && dt.Order != '|' {
		return nil, dt, fmt.Errorf("%w: byte order %q", ErrCorrupt, dt.Order)
	}
	b := int(enc[4])
	if b != 8 && b != 16 {
		return nil, dt, fmt.Errorf("%w: %d-bit codes", ErrCorrupt, b)
	}
	p := 5
	n, err := readUvarint(enc, &p)
	if err != nil {
		return nil, dt, err
	}
	hi, size := bits.Mul64(n, uint64(width))
	if hi != 0 || size > uint64(maxSize) {
		return nil, dt, fmt.Errorf("%w: %d values exceed the %d-byte limit", ErrCorrupt, n, maxSize)
	}
	if len(enc)-p < 16 {
		return nil, dt, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	center := math.Float64frombits(binary.LittleEndian.Uint64(enc[p:]))
	scale := math.Float64frombits(binary.LittleEndian.Uint64(enc[p+8:]))
	p += 16
	if math.IsNaN(center) || math.IsInf(center, 0) || !(scale >= 0) || math.IsInf(scale, 0) {
		return nil, dt, fmt.Errorf("%w: center %v, scale %v", ErrCorrupt, center, scale)
	}
	k, err := readUvarint(enc, &p)
	if err != nil {
		return nil, dt, err
	}
	cb := uint64(b / 8)
	if k > n || n*cb > uint64(len(enc)-p) {
		return nil, dt, fmt.Errorf("%w: codes truncated", ErrCorrupt)
	}
	codes := enc[p : p+int(n*cb)]
	rest := enc[p+int(n*cb):]
	if uint64(len(rest)) != k*uint64(width) {
		return nil, dt, fmt.Errorf("%w: %d outlier bytes for %d outliers", ErrCorrupt, len(rest), k)
	}
	v := elemView{width: width, big: dt.Order == '>' && width > 1, kind: 'f'}
	out := make([]byte, size)
	marker := -(int64(1) << (b - 1))
	used := 0
	for i := 0; i < int(n); i++ {
		var code int64
		if cb == 1 {
			code = int64(int8(codes[i]))
		} else {
			code = int64(int16(binary.LittleEndian.Uint16(codes[2*i:])))
		}
		if code == marker {
			if used >= int(k) {
				return nil, dt, fmt.Errorf("%w: more outlier codes than outliers", ErrCorrupt)
			}
			copy(out[i*width:(i+1)*width], rest[used*width:])
			used++
			continue
		}
		v.putWord(out, i, floatWord(dequantOne(center, scale, code), width))
	}
	if used != int(k) {
		return nil, dt, fmt.Errorf("%w: %d outliers stored, %d used", ErrCorrupt, k, used)
	}
	return out, dt, nil
}
