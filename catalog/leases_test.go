package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// recordObject records object content (RawSize 1) with ref ("" none).
func recordObject(ctx context.Context, tx Tx, content, ref string) error {
	o := Object{ID: fakeID(content), Strategy: "blob", RawSize: 1, StoredSize: 1}
	if ref != "" {
		o.Ref, o.Strategy = fakeID(ref), "delta"
	}
	return tx.PutObject(ctx, o)
}

// TestCollectSparesLeased: what a collection removes, and what it keeps
// because it is live, leased, or referred to by a leased object.
func TestCollectSparesLeased(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		build(t, c, "m/", "m/live")
		update(t, c, func(tx Tx) error {
			for _, o := range [][2]string{{"dead", ""}, {"leased", ""}, {"base", ""}, {"delta", "base"},
				{"released", ""}, {"expired", ""}} {
				if err := recordObject(ctx, tx, o[0], o[1]); err != nil {
					return err
				}
			}
			return nil
		})
		lease := func(session string, contents ...string) {
			var ids []string
			for _, s := range contents {
				ids = append(ids, fakeID(s))
			}
			if err := c.Lease(ctx, session, ids); err != nil {
				t.Fatal(err)
			}
		}
		// A lease of a writer that died a TTL ago.
		update(t, c, func(tx Tx) error {
			st := tx.(*sqlTx)
			_, err := st.exec(ctx, `INSERT INTO leases(object, session, taken) VALUES (?, 'dead-writer', `+st.d.now+` - ?)`,
				fakeID("expired"), LeaseTTL.Nanoseconds()+1)
			return err
		})
		lease("writer", "leased", "delta", "file-leased", "released")
		update(t, c, func(tx Tx) error { return tx.Release(ctx, "writer", []string{fakeID("released")}) })

		var removed []string
		candidates := []string{fakeID("file-leased"), fakeID("file-orphan"), fakeID("m/live"), fakeID("dead")}
		err := c.Collect(ctx, "gc", candidates, func(ctx context.Context, ids []string) error {
			removed = append(removed, ids...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{fakeID("dead"), fakeID("expired"), fakeID("file-orphan"), fakeID("released")}
		slices.Sort(want)
		slices.Sort(removed)
		if !slices.Equal(removed, want) {
			t.Errorf("removed %d objects %v, want %v", len(removed), removed, want)
		}
		for _, kept := range []string{"m/live", "leased", "base", "delta"} {
			if _, err := c.Object(ctx, fakeID(kept)); err != nil {
				t.Errorf("record of %s: %v", kept, err)
			}
		}
		for _, gone := range []string{"dead", "released", "expired"} {
			if _, err := c.Object(ctx, fakeID(gone)); !errors.Is(err, ErrNotFound) {
				t.Errorf("record of %s after the collection: %v", gone, err)
			}
		}
		// Releasing every lease of the session frees the rest.
		update(t, c, func(tx Tx) error { return tx.Release(ctx, "writer", nil) })
		removed = nil
		if err := c.Collect(ctx, "gc", nil, func(ctx context.Context, ids []string) error {
			removed = append(removed, ids...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(removed) != 3 { // leased, delta, base
			t.Errorf("after the release: removed %d objects, want 3", len(removed))
		}
		for _, bad := range []func() error{
			func() error { return c.Lease(ctx, "", []string{fakeID("x")}) },
			func() error { return c.Lease(ctx, "s", []string{"not-an-id"}) },
			func() error { return c.Collect(ctx, "", nil, nil) },
		} {
			if err := bad(); !errors.Is(err, ErrInvalid) {
				t.Errorf("bad lease or collection: %v, want ErrInvalid", err)
			}
		}
	})
}

// TestLeaseWaitsForCollection: while a collection removes an object,
// leasing it waits until the removal is over; leasing another does not.
func TestLeaseWaitsForCollection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		loc := bk.store(t)
		collector, writer := bk.openAt(t, loc, 0), bk.openAt(t, loc, 0)
		update(t, collector, func(tx Tx) error { return recordObject(ctx, tx, "garbage", "") })
		removing, finish := make(chan struct{}), make(chan struct{})
		var removedAt time.Time
		done := make(chan error)
		go func() {
			done <- collector.Collect(ctx, "gc", nil, func(ctx context.Context, ids []string) error {
				close(removing)
				<-finish
				removedAt = time.Now()
				return nil
			})
		}()
		<-removing
		if err := writer.Lease(ctx, "w", []string{fakeID("other")}); err != nil {
			t.Fatalf("lease of an object not being collected: %v", err)
		}
		leased := make(chan time.Time)
		go func() {
			if err := writer.Lease(ctx, "w", []string{fakeID("garbage")}); err != nil {
				t.Error(err)
			}
			leased <- time.Now()
		}()
		select {
		case <-leased:
			t.Fatal("leased an object while it was being removed")
		case <-time.After(100 * time.Millisecond):
		}
		close(finish)
		if at := <-leased; at.Before(removedAt) {
			t.Error("the lease returned before the removal ended")
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestCollectWindow: a collection's remove must stop at half the window;
// a doom left by a collector that died stops holding leases back after the
// whole window.
func TestCollectWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		old := CollectWindow
		t.Cleanup(func() { CollectWindow = old })
		CollectWindow = time.Second
		c := bk.openTest(t)
		update(t, c, func(tx Tx) error { return recordObject(ctx, tx, "garbage", "") })
		start := time.Now()
		err := c.Collect(ctx, "gc", nil, func(ctx context.Context, ids []string) error {
			<-ctx.Done()
			return ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > CollectWindow {
			t.Errorf("remove stopped after %v with %v, want DeadlineExceeded before %v", time.Since(start), err, CollectWindow)
		}
		// A dead collector's doom: recorded, never lifted.
		update(t, c, func(tx Tx) error {
			st := tx.(*sqlTx)
			_, err := st.exec(ctx, `INSERT INTO doomed(object, session, since) VALUES (?, 'dead-gc', `+st.d.now+`)`, fakeID("x"))
			return err
		})
		start = time.Now()
		if err := c.Lease(ctx, "w", []string{fakeID("x")}); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < CollectWindow*3/4 {
			t.Errorf("leased after %v, before the dead collector's window (%v) ended", waited, CollectWindow)
		}
	})
}

// TestWritersAndCollectorRace: writers on two handles (two hosts) commit
// files whose objects they lease, upload when missing, and delete again,
// reusing a few contents so that they often write an object that is
// garbage at that moment; a collector on a third handle collects all the
// while. Every committed entry's object file must exist, at once and at
// the end.
func TestWritersAndCollectorRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		loc := bk.store(t)
		objects, err := NewDirObjects(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		writers := []Catalog{bk.openAt(t, loc, 0), bk.openAt(t, loc, 0)}
		collector := bk.openAt(t, loc, 0)
		build(t, writers[0], "m/")
		const rounds = 25
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		collections := 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				files, err := objects.List(ctx)
				if err == nil {
					err = collector.Collect(ctx, "gc", files, func(ctx context.Context, ids []string) error {
						// Between the decision and the removal writers
						// lease: widen that window, as a slow object
						// store would.
						time.Sleep(5 * time.Millisecond)
						for _, id := range ids {
							if err := objects.Delete(ctx, id); err != nil {
								return err
							}
						}
						return nil
					})
				}
				if err != nil {
					errs <- fmt.Errorf("collect: %w", err)
					return
				}
				collections++
			}
		}()
		var writersWG sync.WaitGroup
		for w, c := range writers {
			writersWG.Add(1)
			go func() {
				defer writersWG.Done()
				session := fmt.Sprintf("writer-%d", w)
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for i := range rounds {
					data := []byte(fmt.Sprintf("content %d", rng.IntN(4)))
					id := ObjectID(data)
					path := fmt.Sprintf("m/w%d-%d", w, i)
					if err := c.Lease(ctx, session, []string{id}); err != nil {
						errs <- err
						return
					}
					if ok, err := objects.Has(ctx, id); err != nil || !ok {
						if _, _, err := objects.Put(ctx, data); err != nil {
							errs <- err
							return
						}
					}
					err := c.Update(ctx, func(tx Tx) error {
						if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob", RawSize: int64(len(data)), StoredSize: int64(len(data))}); err != nil {
							return err
						}
						if err := tx.PutEntry(ctx, Entry{Path: path, Kind: KindBlob, Size: int64(len(data)), Object: id}); err != nil {
							return err
						}
						return tx.Release(ctx, session, []string{id})
					})
					if err != nil {
						errs <- err
						return
					}
					if ok, err := objects.Has(ctx, id); err != nil || !ok {
						errs <- fmt.Errorf("%s committed, its object %s is gone (%v)", path, id[:12], err)
						return
					}
					if i%2 == 0 { // make garbage for the collector
						if err := c.Update(ctx, func(tx Tx) error { return tx.Delete(ctx, path) }); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		writersWG.Wait()
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		es, err := collector.Walk(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es[1:] {
			if ok, err := objects.Has(ctx, e.Object); err != nil || !ok {
				t.Errorf("%s: object %s missing at the end (%v)", e.Path, e.Object[:12], err)
			}
		}
		if kept := len(writers) * (rounds / 2); len(es) != 1+kept || collections == 0 {
			t.Errorf("%d entries after %d collections, want %d and some", len(es)-1, collections, kept)
		}
		t.Logf("%d collections beside %d commits", collections, len(writers)*rounds)
	})
}
