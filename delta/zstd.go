package delta

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"deltafs/delta/planes"
)

// zstd frames inside payloads (docs/FORMAT.md §4 "zframe"): shared,
// concurrency-safe encoders per effort level and one decoder that never
// decodes past the capacity it is given.

var (
	zencMu sync.Mutex
	zencs  = map[zstd.EncoderLevel]*zstd.Encoder{}

	zdecOnce sync.Once
	zdec     *zstd.Decoder
)

func zencoder(level int) *zstd.Encoder {
	l := planes.ZstdLevel(level)
	zencMu.Lock()
	defer zencMu.Unlock()
	e := zencs[l]
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithAllLitEntropyCompression(true),
			zstd.WithZeroFrames(true), zstd.WithSingleSegment(true), zstd.WithEncoderCRC(false),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
		if err != nil {
			panic("delta: zstd encoder options: " + err.Error())
		}
		zencs[l] = e
	}
	return e
}

func zdecoder() *zstd.Decoder {
	zdecOnce.Do(func() {
		var err error
		zdec, err = zstd.NewReader(nil, zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(2*MaxChunkSize+payloadSlack))
		if err != nil {
			panic("delta: zstd decoder options: " + err.Error())
		}
	})
	return zdec
}

// zcompress appends one zstd frame of src to dst.
func zcompress(dst, src []byte, level int) []byte {
	return zencoder(level).EncodeAll(src, dst)
}

// zdecompressExact decodes frame into dst, which must come out exactly
// full.
func zdecompressExact(dst, frame []byte) error {
	out, err := zdecoder().DecodeAll(frame, dst[:0:len(dst)])
	if err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	if len(out) != len(dst) || (len(dst) > 0 && &out[0] != &dst[0]) {
		return fmt.Errorf("zstd frame decoded to %d bytes, expected %d", len(out), len(dst))
	}
	return nil
}

// zdecompressBounded decodes frame into a new buffer of at most limit
// bytes.
func zdecompressBounded(frame []byte, limit int) ([]byte, error) {
	out, err := zdecoder().DecodeAll(frame, make([]byte, 0, limit))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return out, nil
}

// appendSection appends u32 len + zstd frame of src.
func appendSection(dst, src []byte, level int) []byte {
	p := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = zcompress(dst, src, level)
	binary.LittleEndian.PutUint32(dst[p:], uint32(len(dst)-p-4))
	return dst
}

// nextSection splits a (u32 len, frame) pair off b.
func nextSection(b []byte) (frame, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("section length truncated")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("section of %d bytes exceeds the %d left", n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}
