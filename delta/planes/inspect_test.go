package planes

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"
)

// segInfo describes one stored segment, for inspection in tests.
type segInfo struct {
	plane, class int
	m            method
	raw, stored  int
	decodeTime   time.Duration
}

// inspectBlock walks a block like the decoder and reports every segment.
func inspectBlock(tb testing.TB, block []byte, n, width int, ctx []uint8, nctx int) []segInfo {
	ctx, nctx = normCtx(ctx, nctx)
	var l classLayout
	l.count(ctx, nctx, n)
	counts := l.counts
	segSize := 1 << block[2]
	d := getDecoder()
	defer putDecoder(d)
	buf := make([]byte, segSize)
	pos := headerSize
	var out []segInfo
	for k := width - 1; k >= 0; k-- {
		for c := 0; c < nctx; c++ {
			for left := counts[c]; left > 0; {
				l := min(segSize, left)
				left -= l
				t0 := time.Now()
				used, err := d.decodeSegment(buf[:l:l], block[pos:])
				dt := time.Since(t0)
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, segInfo{k, c, method(block[pos]), l, used, dt})
				pos += used
			}
		}
	}
	return out
}

// TestInspectBench prints, per bench case, which methods were chosen per
// plane and their decode times. Run with PLANES_INSPECT=1.
func TestInspectBench(t *testing.T) {
	if os.Getenv("PLANES_INSPECT") == "" {
		t.Skip("set PLANES_INSPECT=1")
	}
	for _, c := range loadBenchCases() {
		blocks := encodeChunks(t, c, DefaultLevel)
		type key struct {
			plane int
			m     method
		}
		agg := map[key][3]float64{}
		for i, blk := range blocks {
			off := i * benchChunk
			end := min(off+benchChunk, len(c.words))
			for _, s := range inspectBlock(t, blk, (end-off)/c.width, c.width, c.chunkCtx(off, end-off), c.nctx) {
				a := agg[key{s.plane, s.m}]
				a[0] += float64(s.raw)
				a[1] += float64(s.stored)
				a[2] += s.decodeTime.Seconds()
				agg[key{s.plane, s.m}] = a
			}
		}
		var keys []key
		for k := range agg {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].plane != keys[j].plane {
				return keys[i].plane > keys[j].plane
			}
			return keys[i].m < keys[j].m
		})
		fmt.Printf("%s:\n", c.name)
		for _, k := range keys {
			a := agg[k]
			fmt.Printf("  plane %d %-9s raw %9.0f stored %9.0f (%.3f) decode %6.0f MB/s\n", k.plane, k.m, a[0], a[1], a[1]/a[0], a[0]/a[2]/1e6)
		}
	}
}

// TestInspectSelfContext measures whether coding the lower planes of a
// context-free input by classes derived from the word's own top byte (which
// a decoder would know first) pays. Run with PLANES_INSPECT=1.
func TestInspectSelfContext(t *testing.T) {
	if os.Getenv("PLANES_INSPECT") == "" {
		t.Skip("set PLANES_INSPECT=1")
	}
	for _, c := range loadBenchCases() {
		if c.ctx != nil {
			continue
		}
		w := c.width
		n := len(c.words) / w
		plain, self16, self256 := 0, 0, 0
		for off := 0; off < n; off += benchChunk / w {
			m := min(benchChunk/w, n-off)
			words := c.words[off*w : (off+m)*w]
			blk, _ := Encode(nil, words, w, nil, 0, DefaultLevel)
			plain += len(blk)
			top := make([]byte, m)
			low := make([]byte, m*(w-1))
			for i := 0; i < m; i++ {
				top[i] = words[i*w+w-1]
				copy(low[i*(w-1):], words[i*w:i*w+w-1])
			}
			tb, _ := Encode(nil, top, 1, nil, 0, DefaultLevel)
			// 256 classes: the top byte itself.
			lb, _ := Encode(nil, low, w-1, top, 256, DefaultLevel)
			self256 += len(tb) + len(lb)
			// 16 classes: the 15 most frequent top bytes, the rest pooled.
			var hist [256]int
			for _, b := range top {
				hist[b]++
			}
			var rank [256]uint8
			for v := range rank {
				rank[v] = 15
			}
			for k := 0; k < 15; k++ {
				best := -1
				for v := range hist {
					if hist[v] > 0 && rank[v] == 15 && (best < 0 || hist[v] > hist[best]) {
						best = v
					}
				}
				if best < 0 {
					break
				}
				rank[best] = uint8(k)
			}
			cls := make([]uint8, m)
			for i, b := range top {
				cls[i] = rank[b]
			}
			lb16, _ := Encode(nil, low, w-1, cls, 16, DefaultLevel)
			self16 += len(tb) + len(lb16) + 15 // the rank table would be stored
		}
		fmt.Printf("%-10s plain %8d  self-ctx16 %8d (%+.2f%%)  self-ctx256 %8d (%+.2f%%)\n", c.name, plain,
			self16, 100*float64(self16-plain)/float64(plain), self256, 100*float64(self256-plain)/float64(plain))
	}
}
