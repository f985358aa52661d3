package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"deltafs/catalog"
	"deltafs/catalog/objecttest"
	"deltafs/catalog/s3store"
	"deltafs/internal/s3test"
)

// chunkRanges cuts size bytes into ranges of chunk sizes, as an object's
// chunk table does (compressed chunks of 1 MiB of tensor bytes: a few
// hundred KiB to a little over 1 MiB each).
func chunkRanges(seed uint64, size int64) [][2]int64 {
	rnd := rand.New(rand.NewPCG(seed, 5))
	var rs [][2]int64
	for off := int64(0); off < size; {
		n := min(int64(200<<10+rnd.IntN(1<<20)), size-off)
		rs = append(rs, [2]int64{off, n})
		off += n
	}
	return rs
}

// TestFetchedBytes: reading chunk-sized ranges fetches at most 1.1x the
// bytes read (proxy-counted, HTTP included), for whole objects in any
// order, and for a run of chunks inside one when blocks are small beside
// the run (a partial read fetches up to a block beyond each end).
func TestFetchedBytes(t *testing.T) {
	srv := s3test.Start(t)
	p := s3test.NewProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	ctx := context.Background()
	data := objecttest.Data(40, 40<<20+1234)
	put := openStore(t, ctx, srv.URL("fetch"), options(t, srv, false))
	id, _, err := put.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	all := chunkRanges(41, int64(len(data)))
	shuffled := append([][2]int64(nil), all...)
	rand.New(rand.NewPCG(42, 0)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	mid := all[len(all)/4 : 3*len(all)/4]
	tests := []struct {
		name      string
		blockSize int
		ranges    [][2]int64
	}{
		{"whole object in order", 0, all},
		{"whole object shuffled", 0, shuffled},
		{"whole object, 256 KiB blocks", 256 << 10, shuffled},
		// Partial objects: up to a block is fetched beyond each end.
		{"middle half, 1 MiB blocks", 1 << 20, mid},
		{"middle half, 256 KiB blocks", 256 << 10, mid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options(t, p.Server(srv), true)
			o.BlockSize = tc.blockSize
			s := openStore(t, ctx, srv.URL("fetch"), o)
			r, err := s.Open(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			p.ResetBytes()
			var read int64
			for _, rg := range tc.ranges {
				buf := make([]byte, rg[1])
				if _, err := r.ReadAt(buf, rg[0]); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf, data[rg[0]:rg[0]+rg[1]]) {
					t.Fatalf("range %v: wrong bytes", rg)
				}
				read += rg[1]
			}
			_, down := p.Bytes()
			ratio := float64(down) / float64(read)
			t.Logf("%d ranges, %d bytes read, %d fetched: %.3fx", len(tc.ranges), read, down, ratio)
			if ratio > 1.1 {
				t.Fatalf("fetched %.3fx the bytes read, want at most 1.1x", ratio)
			}
			// Read again: all from the disk cache.
			p.ResetBytes()
			for _, rg := range tc.ranges {
				r.ReadAt(make([]byte, rg[1]), rg[0])
			}
			if _, down := p.Bytes(); down != 0 {
				t.Fatalf("second read fetched %d bytes", down)
			}
		})
	}
}

// BenchmarkRangedRead reads an object's chunk-sized ranges through a proxy
// capped at 100 MB/s, cold (empty disk cache) and warm (the disk cache
// holds it, nothing in memory), per cache block size, beside fetching the object raw in one GET
// through the same cap in the same run: raw-time/time is the speed-up
// over the raw fetch.
func BenchmarkRangedRead(b *testing.B) {
	const rate = 100_000_000
	srv := s3test.Start(b)
	p := s3test.NewProxy(b, strings.TrimPrefix(srv.Endpoint, "http://"))
	ctx := context.Background()
	data := objecttest.Data(50, 64<<20)
	put := openStore(b, ctx, srv.URL("bench"), options(b, srv, false))
	id, _, err := put.Put(ctx, data)
	if err != nil {
		b.Fatal(err)
	}
	ranges := chunkRanges(51, int64(len(data)))
	p.SetRate(rate)
	raw := openStore(b, ctx, srv.URL("bench"), options(b, p.Server(srv), false))
	rawRead := func() float64 { // one ranged GET of the whole object
		r, err := raw.Open(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := r.ReadAt(make([]byte, len(data)), 0); err != nil {
			b.Fatal(err)
		}
		return time.Since(start).Seconds()
	}
	readRanges := func(s *s3store.Store) {
		r, err := s.Open(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		// Ranges in order, up to 8 at once, as the store's read-ahead asks.
		sem := make(chan struct{}, 8)
		errs := make(chan error, len(ranges))
		for _, rg := range ranges {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				buf := make([]byte, rg[1])
				_, err := r.ReadAt(buf, rg[0])
				errs <- err
			}()
		}
		for range ranges {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	type benchCase struct {
		mode  string
		block int
	}
	var cases []benchCase
	for _, mode := range []string{"cold", "warm"} {
		for _, block := range []int{256 << 10, 1 << 20, 4 << 20} {
			cases = append(cases, benchCase{mode, block})
		}
	}
	for _, bc := range cases {
		mode := bc.mode
		b.Run(fmt.Sprintf("%s/block=%dKiB", mode, bc.block>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var rawSec, sec float64
			for range b.N {
				b.StopTimer()
				rawSec += rawRead()
				o := options(b, p.Server(srv), true)
				o.BlockSize = bc.block
				s := openStore(b, ctx, srv.URL("bench"), o)
				if mode == "warm" {
					readRanges(s)
				}
				p.ResetBytes()
				b.StartTimer()
				start := time.Now()
				readRanges(s)
				sec += time.Since(start).Seconds()
				b.StopTimer()
				_, down := p.Bytes()
				b.ReportMetric(float64(down)/float64(len(data)), "fetched/read")
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(rawSec/sec, "raw-time/time")
			b.ReportMetric(float64(len(data))*float64(b.N)/rawSec/1e6, "raw-MB/s")
		})
	}
}

var _ catalog.ObjectStore = (*s3store.Store)(nil)
