package planes

import (
	"fmt"
	"os"
	"testing"
)

// TestInspectSegLog measures the effect of the segment size on the coded
// size of the bench cases. Run with PLANES_INSPECT=1.
func TestInspectSegLog(t *testing.T) {
	if os.Getenv("PLANES_INSPECT") == "" {
		t.Skip("set PLANES_INSPECT=1")
	}
	for _, c := range loadBenchCases() {
		line := c.name
		for _, sl := range []uint8{12, 14, 15, 16, 17} {
			total := 0
			for off := 0; off < len(c.words); off += benchChunk {
				end := min(off+benchChunk, len(c.words))
				e := getEncoder()
				e.segLog = sl
				_, nctx := normCtx(c.ctx, c.nctx)
				blk, err := e.encode(nil, c.words[off:end], (end-off)/c.width, c.width, c.chunkCtx(off, end-off), nctx, DefaultLevel)
				e.segLog = 0
				putEncoder(e)
				if err != nil {
					t.Fatal(err)
				}
				total += len(blk)
			}
			line += fmt.Sprintf("  2^%d: %.4f", sl, float64(len(c.words))/float64(total))
		}
		fmt.Println(line)
	}
}
