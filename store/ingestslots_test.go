package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"deltafs/delta"
)

// TestLargeIngestsTakeTurns: at most maxLargeIngests ingests of large files
// encode at once, the others wait for a slot (counted as pending), small
// files do not wait, and every file is stored.
func TestLargeIngestsTakeTurns(t *testing.T) {
	s := newStore(t, Options{})
	mustMkdir(t, s, "m")
	const large = 6
	n := largeIngestSize/4 + 1000 // float32 elements: just above the threshold
	var (
		running, peak atomic.Int64
		release       = make(chan struct{})
		smallDone     = make(chan struct{})
	)
	orig := deltaEncodeTo
	t.Cleanup(func() { deltaEncodeTo = orig })
	deltaEncodeTo = func(ctx context.Context, tensor delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config, w io.WriterAt) (delta.Header, int64, error) {
		if tensor.RawSize() >= largeIngestSize {
			now := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			<-release
		}
		return orig(ctx, tensor, ref, cfg, w)
	}
	files := make([][]byte, large)
	var wg sync.WaitGroup
	errs := make([]error, large)
	for i := range large {
		files[i] = makeNPY(t, "<f4", []int64{int64(n)}, f32bytes(weights(uint64(40+i), n)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tryIngest(s, fmt.Sprintf("m/w%d.npy", i), files[i], IngestOptions{})
		}()
	}
	waitUntil(t, func() bool { return running.Load() == maxLargeIngests && s.pendingEncodes.Load() == large })
	// A small file is stored while the large ones wait.
	go func() {
		defer close(smallDone)
		ingestBytes(t, s, "m/small.npy", makeNPY(t, "<f4", []int64{100}, f32bytes(weights(1, 100))))
	}()
	select {
	case <-smallDone:
	case <-time.After(10 * time.Second):
		t.Fatal("a small file waited for the large ones")
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if got := readFile(t, s, fmt.Sprintf("m/w%d.npy", i)); !bytes.Equal(got, files[i]) {
			t.Fatalf("file %d reads back wrong", i)
		}
	}
	if p := peak.Load(); p != maxLargeIngests {
		t.Errorf("%d large ingests encoded at once, want %d", p, maxLargeIngests)
	}
	if p := s.pendingEncodes.Load(); p != 0 {
		t.Errorf("%d ingests still pending", p)
	}
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
