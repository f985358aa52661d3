package catalog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestTwoHostsWriteOnePath: two handles on one store, as two hosts, each
// write the same file over and over, an entry and its parts from objects
// of their own; what is left is one writer's file whole, never a mix, and
// each handle's Changes show the other's commits.
func TestTwoHostsWriteOnePath(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		loc := bk.store(t)
		hosts := []Catalog{bk.openAt(t, loc, 0), bk.openAt(t, loc, 0)}
		build(t, hosts[0], "m/")
		start, err := hosts[1].LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const rounds = 15
		var wg sync.WaitGroup
		errs := make(chan error, 2*rounds)
		for h, c := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					name := fmt.Sprintf("host%d", h)
					errs <- c.Update(ctx, func(tx Tx) error {
						id := fakeID(fmt.Sprintf("%s-%d", name, i))
						if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob", RawSize: 1, StoredSize: 1}); err != nil {
							return err
						}
						if err := tx.PutEntry(ctx, Entry{Path: "m/f", Kind: KindBlob, Size: 1, Object: id, ContentHash: id}); err != nil {
							return err
						}
						return putParts(ctx, tx, "m/f", name+"-a", name+"-b", name+"-c")
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range hosts {
			e, err := c.Get(ctx, "m/f")
			if err != nil {
				t.Fatal(err)
			}
			var writer string
			for h := range hosts {
				if e.Object == fakeID(fmt.Sprintf("host%d-%d", h, rounds-1)) {
					writer = fmt.Sprintf("host%d", h)
				}
			}
			if writer == "" {
				t.Fatalf("the entry's object %s is no writer's last", e.Object)
			}
			parts := partNames(t, c, "m/f")
			if strings.Count(parts, writer) != 3 {
				t.Errorf("entry of %s with parts %s", writer, parts)
			}
		}
		b, err := hosts[1].Changes(ctx, start, 1000)
		if err != nil {
			t.Fatal(err)
		}
		origins := map[string]int{}
		for _, ch := range b.Changes {
			origins[ch.Origin]++
		}
		if origins[hosts[0].Origin()] != rounds || origins[hosts[1].Origin()] != rounds || b.Lost {
			t.Errorf("changes by origin %v (lost %v), want %d of each host", origins, b.Lost, rounds)
		}
	})
}
