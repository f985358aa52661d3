package delta

import (
	"context"
	"runtime"
	"sync"
)

// parallel runs fn(0..n-1) on up to workers goroutines (0: GOMAXPROCS)
// and returns the first error; it stops starting chunks once ctx is done.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || first != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				err := ctx.Err()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// ordered runs produce(0..n-1) on up to workers goroutines (0: GOMAXPROCS)
// and hands the results, in index order, to consume on the calling
// goroutine. Producers run at most window results ahead of consume, so at
// most window results (plus one per worker) exist at once. After the first
// error nothing new starts and the error is returned; results produced but
// not consumed are handed to discard.
func ordered[T any](n, workers, window int, produce func(i int) (T, error), consume func(i int, v T) error, discard func(T)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, n))
	window = max(window, workers)
	type result struct {
		v    T
		err  error
		done bool
	}
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		slots   = make([]result, window)
		next    int   // the next index to claim
		taken   int   // results consumed
		stopped bool  // an error: claim nothing more
		first   error // the first error
		wg      sync.WaitGroup
	)
	stop := func(err error) {
		if !stopped {
			stopped, first = true, err
		}
		cond.Broadcast()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			for {
				for next < n && next >= taken+window && !stopped {
					cond.Wait()
				}
				if next >= n || stopped {
					return
				}
				i := next
				next++
				mu.Unlock()
				v, err := produce(i)
				mu.Lock()
				slots[i%window] = result{v: v, err: err, done: true}
				if err != nil {
					stop(err)
				}
				cond.Broadcast()
			}
		}()
	}
	var err error
	for i := 0; i < n && err == nil; i++ {
		mu.Lock()
		for !slots[i%window].done && !(stopped && i >= next) {
			cond.Wait()
		}
		r := slots[i%window]
		slots[i%window] = result{}
		taken = i + 1
		cond.Broadcast()
		mu.Unlock()
		switch {
		case !r.done:
			err = first // never claimed: another index failed
		case r.err != nil:
			err = r.err
		default:
			err = consume(i, r.v)
		}
	}
	mu.Lock()
	if err != nil {
		stop(err)
	}
	mu.Unlock()
	wg.Wait()
	for _, r := range slots {
		if r.done && r.err == nil {
			discard(r.v)
		}
	}
	return err
}
