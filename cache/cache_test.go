package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// valueFor is the deterministic value of key k with size n, so that a wrong
// value served for a key is detectable.
func valueFor(k, n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(k*31 + i)
	}
	return v
}

func loader(k, n int, calls *atomic.Int64) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		if calls != nil {
			calls.Add(1)
		}
		return valueFor(k, n), nil
	}
}

// checkInvariants fails the test if the byte bound or the byte count is wrong.
func checkInvariants[K comparable](t testing.TB, c *Cache[K]) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum int64
	for _, e := range c.lru.Values() {
		sum += int64(len(e.val))
	}
	if sum != c.stats.Bytes {
		t.Fatalf("Bytes = %d, sum of held values = %d", c.stats.Bytes, sum)
	}
	if c.stats.Bytes > c.stats.MaxBytes {
		t.Fatalf("Bytes = %d exceeds MaxBytes = %d", c.stats.Bytes, c.stats.MaxBytes)
	}
}

func TestSequences(t *testing.T) {
	type op struct {
		key, size int
		wantLoad  bool // whether this Get must call load
	}
	tests := []struct {
		name          string
		max           int64
		ops           []op
		wantEvictions uint64
		wantEntries   int
	}{
		{"hit after miss", 100, []op{{1, 10, true}, {1, 10, false}}, 0, 1},
		{"lru order keeps recent", 30, []op{
			{1, 10, true}, {2, 10, true}, {3, 10, true},
			{1, 10, false}, // 1 is now the most recent
			{4, 10, true},  // evicts 2
			{1, 10, false}, {3, 10, false}, {2, 10, true},
		}, 2, 3},
		{"too large is not kept", 10, []op{{1, 11, true}, {1, 11, true}}, 0, 0},
		{"exactly the bound is kept", 10, []op{{1, 10, true}, {1, 10, false}}, 0, 1},
		{"big value evicts several", 30, []op{
			{1, 10, true}, {2, 10, true}, {3, 10, true}, {4, 25, true}, {1, 10, true},
		}, 4, 1},
		{"zero bound keeps nothing", 0, []op{{1, 1, true}, {1, 1, true}, {2, 0, true}, {2, 0, false}}, 0, 1},
		{"empty values are cached", 5, []op{{1, 0, true}, {1, 0, false}}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[int](tt.max)
			var hits, misses uint64
			for i, o := range tt.ops {
				var calls atomic.Int64
				v, err := c.Get(context.Background(), o.key, loader(o.key, o.size, &calls))
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				if !bytes.Equal(v, valueFor(o.key, o.size)) {
					t.Fatalf("op %d: wrong value for key %d", i, o.key)
				}
				if got := calls.Load() == 1; got != o.wantLoad {
					t.Fatalf("op %d (key %d): loaded = %v, want %v", i, o.key, got, o.wantLoad)
				}
				if o.wantLoad {
					misses++
				} else {
					hits++
				}
				checkInvariants(t, c)
			}
			s := c.Stats()
			if s.Hits != hits || s.Misses != misses || s.Evictions != tt.wantEvictions || s.Entries != tt.wantEntries {
				t.Fatalf("stats = %+v, want hits %d misses %d evictions %d entries %d",
					s, hits, misses, tt.wantEvictions, tt.wantEntries)
			}
		})
	}
}

func TestConcurrentCallersShareOneLoad(t *testing.T) {
	c := New[string](1 << 20)
	release := make(chan struct{})
	var calls atomic.Int64
	load := func(context.Context) ([]byte, error) {
		calls.Add(1)
		<-release
		return []byte("value"), nil
	}
	const n = 32
	var wg sync.WaitGroup
	results := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Get(context.Background(), "k", load)
		}()
	}
	waitFor(t, func() bool { s := c.Stats(); return s.Misses+s.Shared == n })
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("load called %d times, want 1", got)
	}
	for i := range n {
		if errs[i] != nil || string(results[i]) != "value" {
			t.Fatalf("caller %d: %q, %v", i, results[i], errs[i])
		}
	}
	if s := c.Stats(); s.Misses != 1 || s.Shared != n-1 {
		t.Fatalf("stats = %+v, want 1 miss and %d shared", s, n-1)
	}
}

func TestCancelledCallerReturnsAtOnceLoadContinues(t *testing.T) {
	c := New[int](1 << 20)
	release := make(chan struct{})
	loadCtxErr := make(chan error, 1)
	load := func(ctx context.Context) ([]byte, error) {
		<-release
		loadCtxErr <- ctx.Err()
		return []byte("done"), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiterDone := make(chan error, 1)
	go func() { // a second caller that is not cancelled
		v, err := c.Get(context.Background(), 7, load)
		if err == nil && string(v) != "done" {
			err = fmt.Errorf("wrong value %q", v)
		}
		waiterDone <- err
	}()
	got := make(chan error, 1)
	go func() { _, err := c.Get(ctx, 7, load); got <- err }()
	waitFor(t, func() bool { s := c.Stats(); return s.Misses+s.Shared == 2 })
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled caller did not return while the load was blocked")
	}
	close(release)
	if err := <-loadCtxErr; err != nil {
		t.Fatalf("load's context was cancelled with the caller's: %v", err)
	}
	if err := <-waiterDone; err != nil {
		t.Fatalf("other waiter: %v", err)
	}
	v, err := c.Get(context.Background(), 7, func(context.Context) ([]byte, error) {
		t.Error("value was not cached after a cancelled caller")
		return nil, nil
	})
	if err != nil || string(v) != "done" {
		t.Fatalf("after: %q, %v", v, err)
	}
}

func TestAlreadyCancelledContext(t *testing.T) {
	c := New[int](100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Get(ctx, 1, func(context.Context) ([]byte, error) {
		t.Error("load called for a cancelled context")
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestFailedLoadIsNotCached(t *testing.T) {
	c := New[int](100)
	boom := errors.New("boom")
	release := make(chan struct{})
	var calls atomic.Int64
	failing := func(context.Context) ([]byte, error) {
		calls.Add(1)
		<-release
		return nil, boom
	}
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { _, err := c.Get(context.Background(), 1, failing); errs <- err }()
	}
	waitFor(t, func() bool { s := c.Stats(); return s.Misses+s.Shared == n })
	close(release)
	for range n {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("waiter got %v, want boom", err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("failing load called %d times, want 1", calls.Load())
	}
	v, err := c.Get(context.Background(), 1, loader(1, 4, &calls))
	if err != nil || !bytes.Equal(v, valueFor(1, 4)) || calls.Load() != 2 {
		t.Fatalf("retry: %v, %v, calls %d", v, err, calls.Load())
	}
	if s := c.Stats(); s.LoadErrors != 1 || s.Entries != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestPanickingLoadReleasesWaiters(t *testing.T) {
	c := New[int](100)
	_, err := c.Get(context.Background(), 1, func(context.Context) ([]byte, error) { panic("bad decoder") })
	if err == nil {
		t.Fatal("no error from a panicking load")
	}
	if s := c.Stats(); s.LoadErrors != 1 || s.Entries != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestRemove(t *testing.T) {
	c := New[int](100)
	var calls atomic.Int64
	c.Get(context.Background(), 1, loader(1, 10, &calls))
	c.Remove(1)
	checkInvariants(t, c)
	c.Get(context.Background(), 1, loader(1, 10, &calls))
	if calls.Load() != 2 {
		t.Fatalf("value survived Remove")
	}

	// Remove during a load: the waiter gets the value, the cache forgets it.
	release := make(chan struct{})
	done := make(chan []byte)
	go func() {
		v, _ := c.Get(context.Background(), 2, func(context.Context) ([]byte, error) { <-release; return []byte("x"), nil })
		done <- v
	}()
	waitFor(t, func() bool { return c.Stats().Misses == 3 })
	c.Remove(2)
	close(release)
	if v := <-done; string(v) != "x" {
		t.Fatalf("waiter got %q", v)
	}
	c.Get(context.Background(), 2, loader(2, 1, &calls))
	if calls.Load() != 3 {
		t.Fatal("a value loaded across Remove was kept")
	}
	c.Purge()
	if s := c.Stats(); s.Entries != 0 || s.Bytes != 0 {
		t.Fatalf("after Purge: %+v", s)
	}
}

func TestPeek(t *testing.T) {
	c := New[int](20)
	ctx := context.Background()
	if _, _, ok := c.Peek(1); ok {
		t.Fatal("Peek found a key never loaded")
	}
	c.Get(ctx, 1, loader(1, 10, nil))
	c.Get(ctx, 2, loader(2, 10, nil))
	before := c.Stats()
	v, release, ok := c.Peek(1)
	if !ok || !bytes.Equal(v, valueFor(1, 10)) {
		t.Fatalf("Peek(1) = %v, %v", v, ok)
	}
	release()
	if after := c.Stats(); after != before {
		t.Fatalf("Peek changed the stats: %+v, then %+v", before, after)
	}
	// Peek must not make 1 recent: adding 3 evicts 1, the oldest.
	c.Get(ctx, 3, loader(3, 10, nil))
	if _, _, ok := c.Peek(1); ok {
		t.Fatal("Peek refreshed the recency of key 1")
	}
	if _, _, ok := c.Peek(2); !ok {
		t.Fatal("key 2 was evicted instead of key 1")
	}
	// A load in progress is not waited for.
	release2 := make(chan struct{})
	go c.Get(ctx, 4, func(context.Context) ([]byte, error) { <-release2; return []byte("x"), nil })
	waitFor(t, func() bool { return c.Stats().Misses == 4 })
	if _, _, ok := c.Peek(4); ok {
		t.Fatal("Peek returned a value still loading")
	}
	close(release2)
	waitFor(t, func() bool { _, _, ok := c.Peek(4); return ok })
}

// freed records what a cache hands back for reuse.
type freed struct {
	mu   sync.Mutex
	vals [][]byte
}

func (f *freed) free(v []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vals = append(f.vals, v)
}

// has reports whether v (the same array) was handed back, and how often.
func (f *freed) count(v []byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.vals {
		if len(w) > 0 && len(v) > 0 && &w[0] == &v[0] {
			n++
		}
	}
	return n
}

// TestHoldsDelayReuse: a value the cache drops is handed back for reuse
// once, and only when no caller holds it.
func TestHoldsDelayReuse(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		drop func(c *Cache[int]) // drops key 1 while it is held
	}{
		{"evicted", func(c *Cache[int]) { c.Get(ctx, 2, loader(2, 10, nil)) }},
		{"removed", func(c *Cache[int]) { c.Remove(1) }},
		{"purged", func(c *Cache[int]) { c.Purge() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[int](10)
			var f freed
			c.OnFree(f.free)
			v, rel1, err := c.Acquire(ctx, 1, loader(1, 10, nil))
			if err != nil {
				t.Fatal(err)
			}
			v2, rel2, _ := c.Acquire(ctx, 1, loader(1, 10, nil)) // a hit: a second hold
			_, rel3, ok := c.Peek(1)                             // a third
			if !ok || &v2[0] != &v[0] {
				t.Fatal("the holds are not on the same value")
			}
			tt.drop(c)
			rel1()
			rel1() // a second call of the same release does not count
			rel2()
			if f.count(v) != 0 {
				t.Fatal("a value still held was handed back")
			}
			rel3()
			if f.count(v) != 1 {
				t.Fatalf("the dropped value was handed back %d times, want once", f.count(v))
			}
			checkInvariants(t, c)
		})
	}
}

func TestNotHeldValuesAreFreedAtOnce(t *testing.T) {
	ctx := context.Background()
	c := New[int](10)
	var f freed
	c.OnFree(f.free)
	v, rel, _ := c.Acquire(ctx, 1, loader(1, 10, nil))
	rel()
	c.Get(ctx, 2, loader(2, 10, nil)) // evicts 1, which no one holds
	if f.count(v) != 1 {
		t.Fatal("an evicted value no one held was not handed back")
	}
	// A value too large to keep is handed back when its holder releases it.
	big, relBig, _ := c.Acquire(ctx, 3, loader(3, 11, nil))
	if f.count(big) != 0 {
		t.Fatal("a held value too large to keep was handed back")
	}
	relBig()
	if f.count(big) != 1 {
		t.Fatal("a released value too large to keep was not handed back")
	}
	// Get's values are never handed back.
	g, _ := c.Get(ctx, 4, loader(4, 10, nil))
	c.Purge()
	if f.count(g) != 0 {
		t.Fatal("a value returned by Get was handed back")
	}
}

// TestSharedLoadHolds: every caller waiting for one load holds the result;
// a caller that gives up lets go of its hold whether the load finished or
// not.
func TestSharedLoadHolds(t *testing.T) {
	c := New[int](100)
	var f freed
	c.OnFree(f.free)
	gate := make(chan struct{})
	val := []byte("shared")
	load := func(context.Context) ([]byte, error) { <-gate; return val, nil }
	type result struct {
		release func()
		err     error
	}
	results := make(chan result, 3)
	for range 3 {
		go func() {
			_, rel, err := c.Acquire(context.Background(), 1, load)
			results <- result{rel, err}
		}()
	}
	// A fourth caller gives up before the load ends.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() { _, _, err := c.Acquire(ctx, 1, load); gaveUp <- err }()
	waitFor(t, func() bool { s := c.Stats(); return s.Misses+s.Shared == 4 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(gate)
	var rels []func()
	for range 3 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		rels = append(rels, r.release)
	}
	c.Remove(1)
	for i, rel := range rels {
		if f.count(val) != 0 {
			t.Fatalf("handed back with %d of 3 holds still out", 3-i)
		}
		rel()
	}
	if f.count(val) != 1 {
		t.Fatalf("handed back %d times, want once", f.count(val))
	}
}

// TestStress runs many goroutines over many keys with a cache small enough
// to evict constantly, checking values and the byte bound after every call.
// TestStress runs many goroutines over many keys with a cache small enough
// to evict constantly, checking values and the byte bound after every call;
// in the reuse mode, values are acquired and released, and every value
// handed back is poisoned and reused by later loads, so a value handed
// back while still held would be seen changing under its holder.
func TestStress(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) { stress(t, reuse) })
	}
}

func stress(t *testing.T, reuse bool) {
	const (
		goroutines = 16
		keys       = 200
		opsEach    = 1500
	)
	c := New[int](2000)
	var (
		poolMu sync.Mutex
		pool   = map[int][][]byte{} // handed-back values by length
	)
	if reuse {
		c.OnFree(func(v []byte) {
			for i := range v {
				v[i] = 0xEE
			}
			poolMu.Lock()
			pool[len(v)] = append(pool[len(v)], v)
			poolMu.Unlock()
		})
	}
	newValue := func(k, size int) []byte {
		poolMu.Lock()
		defer poolMu.Unlock()
		if free := pool[size]; len(free) > 0 {
			v := free[len(free)-1]
			pool[size] = free[:len(free)-1]
			copy(v, valueFor(k, size))
			return v
		}
		return valueFor(k, size)
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range opsEach {
				k := rng.IntN(keys)
				size := 1 + k*3 // 1..598 bytes
				ctx := context.Background()
				var cancel context.CancelFunc = func() {}
				if rng.IntN(20) == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(50))*time.Microsecond)
				}
				load := func(context.Context) ([]byte, error) {
					if k%34 == 0 { // some keys always fail to load
						return nil, errors.New("flaky")
					}
					return newValue(k, size), nil
				}
				var (
					v       []byte
					release = func() {}
					err     error
				)
				switch {
				case !reuse:
					v, err = c.Get(ctx, k, load)
				case rng.IntN(4) == 0:
					var ok bool
					if v, release, ok = c.Peek(k); !ok {
						release = func() {}
						err = errors.New("flaky") // nothing to check
					}
				default:
					v, release, err = c.Acquire(ctx, k, load)
				}
				cancel()
				if err == nil && reuse {
					runtime.Gosched() // let others evict and reuse meanwhile
				}
				switch {
				case err != nil && (errors.Is(err, context.DeadlineExceeded) || err.Error() == "flaky"):
				case err != nil:
					t.Errorf("key %d: %v", k, err)
					failed.Store(true)
				case !bytes.Equal(v, valueFor(k, size)):
					t.Errorf("key %d: wrong value", k)
					failed.Store(true)
				}
				if err == nil {
					release()
				}
				if s := c.Stats(); s.Bytes > s.MaxBytes || s.Bytes < 0 {
					t.Errorf("byte bound broken: %+v", s)
					failed.Store(true)
				}
				if failed.Load() {
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.inflight) == 0 })
	checkInvariants(t, c)
	s := c.Stats()
	if s.Evictions == 0 || s.Hits == 0 || s.LoadErrors == 0 {
		t.Fatalf("stress did not exercise eviction, hits and errors: %+v", s)
	}
	if reuse {
		reused := 0
		for _, e := range c.lru.Values() {
			if e.holds != 0 {
				t.Errorf("a cached value is still held %d times with every caller done", e.holds)
			}
		}
		poolMu.Lock()
		for _, free := range pool {
			reused += len(free)
		}
		poolMu.Unlock()
		if reused == 0 {
			t.Error("nothing was handed back for reuse")
		}
	}
	t.Logf("stats: %+v", s)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for condition")
		}
		time.Sleep(time.Millisecond)
	}
}
