package catalog

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCancelWhileWaitingForTheLock: a writer queued behind another process
// returns promptly when its context ends, without waiting the busy timeout.
func TestCancelWhileWaitingForTheLock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		loc := bk.store(t)
		holder := bk.openAt(t, loc, 0)
		waiter := bk.openAt(t, loc, 0) // default 30 s busy timeout
		locked, release := make(chan struct{}), make(chan struct{})
		done := make(chan error)
		go func() {
			done <- holder.Update(context.Background(), func(tx Tx) error {
				tx.PutEntry(context.Background(), Entry{Path: "held", Kind: KindDir})
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := waiter.Update(ctx, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "w", Kind: KindDir}) })
		elapsed := time.Since(start)
		close(release)
		if err == nil {
			t.Fatal("Update succeeded while the lock was held")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Update = %v, want context.DeadlineExceeded in the chain", err)
		}
		if elapsed > 5*time.Second {
			t.Fatalf("cancelled Update returned after %v", elapsed)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		t.Logf("returned after %v: %v", elapsed, err)
	})
}
