package planes

import (
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstd encoders are pooled per speed class; EncodeAll on one encoder is not
// meant for concurrent calls with heavy state, so each goroutine takes its own.
var zstdEncoderPools [4]sync.Pool

// ZstdLevel maps the configuration's effort, 1..9 (compression_level), to
// a zstd level: the one map of every zstd frame deltafs writes. The
// default, 6, is zstd's default speed.
func ZstdLevel(level int) zstd.EncoderLevel {
	switch {
	case level <= 3:
		return zstd.SpeedFastest
	case level <= 6:
		return zstd.SpeedDefault
	case level <= 8:
		return zstd.SpeedBetterCompression
	default:
		return zstd.SpeedBestCompression
	}
}

// zstdSpeed maps a level 1..9 to a pool index and a zstd speed.
func zstdSpeed(level int) (int, zstd.EncoderLevel) {
	l := ZstdLevel(level)
	return int(l - zstd.SpeedFastest), l
}

// getZstdEncoder returns a pooled encoder for level, or nil if one cannot be
// made (the caller then skips zstd).
func getZstdEncoder(level int) (*zstd.Encoder, int) {
	idx, speed := zstdSpeed(level)
	if e, ok := zstdEncoderPools[idx].Get().(*zstd.Encoder); ok {
		return e, idx
	}
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(speed),
		zstd.WithEncoderConcurrency(1),
		zstd.WithAllLitEntropyCompression(true),
		zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(1<<maxSegLog),
		zstd.WithSingleSegment(true),
		zstd.WithLowerEncoderMem(true),
	)
	if err != nil {
		return nil, idx
	}
	return e, idx
}

func putZstdEncoder(e *zstd.Encoder, idx int) {
	if e != nil {
		zstdEncoderPools[idx].Put(e)
	}
}

var (
	zstdDecoderOnce sync.Once
	zstdDecoder     *zstd.Decoder
	zstdDecoderErr  error
)

// sharedZstdDecoder returns the package's zstd decoder: DecodeAll is safe for
// concurrent use, output is capped at the destination's capacity and memory
// at one segment.
func sharedZstdDecoder() (*zstd.Decoder, error) {
	zstdDecoderOnce.Do(func() {
		zstdDecoder, zstdDecoderErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderMaxMemory(1<<maxSegLog),
			zstd.WithDecoderMaxWindow(1<<maxSegLog),
			zstd.WithDecodeAllCapLimit(true),
			zstd.IgnoreChecksum(false),
		)
	})
	return zstdDecoder, zstdDecoderErr
}
