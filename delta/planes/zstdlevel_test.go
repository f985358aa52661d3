package planes

import (
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestZstdLevel: the one level map, as documented (compression_level 6,
// the default, is zstd's default speed), and its pool indexes.
func TestZstdLevel(t *testing.T) {
	want := map[int]zstd.EncoderLevel{
		1: zstd.SpeedFastest, 3: zstd.SpeedFastest,
		4: zstd.SpeedDefault, 6: zstd.SpeedDefault,
		7: zstd.SpeedBetterCompression, 8: zstd.SpeedBetterCompression,
		9: zstd.SpeedBestCompression,
	}
	for level, w := range want {
		if got := ZstdLevel(level); got != w {
			t.Errorf("ZstdLevel(%d) = %v, want %v", level, got, w)
		}
	}
	for level := 1; level <= 9; level++ {
		idx, speed := zstdSpeed(level)
		if idx < 0 || idx >= len(zstdEncoderPools) || speed != ZstdLevel(level) {
			t.Errorf("zstdSpeed(%d) = %d, %v", level, idx, speed)
		}
	}
}
