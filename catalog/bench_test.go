package catalog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkObjectsPut measures a durable object write (temp file, fsync,
// rename, directory fsync) beside a baseline: os.WriteFile of the same bytes
// without any fsync.
func BenchmarkObjectsPut(b *testing.B) {
	const size = 1 << 20
	ctx := context.Background()
	b.Run("baseline-writefile", func(b *testing.B) {
		dir := b.TempDir()
		data := bytes.Repeat([]byte{1}, size)
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i%64)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("put-durable", func(b *testing.B) {
		d, err := NewDirObjects(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		data := bytes.Repeat([]byte{1}, size)
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			copy(data, fmt.Sprint(i)) // a new object every time
			id, _, err := d.Put(ctx, data)
			if err != nil {
				b.Fatal(err)
			}
			d.Delete(ctx, id)
		}
	})
}

// BenchmarkCatalogGet measures a lookup in a catalog of 10,000 entries
// beside a baseline: the cheapest query through the same driver.
func BenchmarkCatalogGet(b *testing.B) {
	c := openTest(b)
	ctx := context.Background()
	const n = 10000
	update(b, c, func(tx Tx) error {
		id := fakeID("x")
		if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob"}); err != nil {
			return err
		}
		if err := tx.PutEntry(ctx, Entry{Path: "m", Kind: KindDir}); err != nil {
			return err
		}
		for i := range n {
			if err := tx.PutEntry(ctx, Entry{Path: fmt.Sprintf("m/t%05d.npy", i), Kind: KindTensor,
				Object: id, DType: "<f4", Shape: []int64{4096, 4096}}); err != nil {
				return err
			}
		}
		return nil
	})
	db := c.(*sqliteCatalog).db
	b.Run("baseline-select-1", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var x int
			for pb.Next() {
				if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&x); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("get", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := c.Get(ctx, fmt.Sprintf("m/t%05d.npy", i%n)); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	})
	b.Run("list-10000", func(b *testing.B) {
		for b.Loop() {
			if ls, err := c.List(ctx, "m"); err != nil || len(ls) != n {
				b.Fatal(len(ls), err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkCatalogUpdate measures durable commits: one entry per
// transaction (an fsync each) against 100 entries per transaction.
func BenchmarkCatalogUpdate(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("entries-per-tx=%d", batch), func(b *testing.B) {
			c := openTest(b)
			ctx := context.Background()
			id := fakeID("x")
			update(b, c, func(tx Tx) error {
				if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob"}); err != nil {
					return err
				}
				return tx.PutEntry(ctx, Entry{Path: "m", Kind: KindDir})
			})
			k := 0
			for b.Loop() {
				update(b, c, func(tx Tx) error {
					for range batch {
						k++
						if err := tx.PutEntry(ctx, Entry{Path: fmt.Sprintf("m/%d", k), Kind: KindBlob, Object: id}); err != nil {
							return err
						}
					}
					return nil
				})
			}
			b.ReportMetric(float64(k)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkBackendsListing measures what `ls -lR` of a 10 000-file model
// asks of the catalog, on PostgreSQL beside SQLite in the same run: List
// of the model's directory, Get of one entry, a listing with a Get of
// every entry (ls -lR without an attribute cache), and Walk of the model.
// Each PostgreSQL result reports its time as a multiple of SQLite's
// measured just before (x-sqlite; with -count N, of SQLite's last run);
// issue 12 asks for at most 2.
func BenchmarkBackendsListing(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	cats := map[string]Catalog{}
	for _, bk := range backends {
		c := bk.openTest(b)
		update(b, c, func(tx Tx) error {
			id := fakeID("x")
			if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob"}); err != nil {
				return err
			}
			if err := tx.PutEntry(ctx, Entry{Path: "m", Kind: KindDir}); err != nil {
				return err
			}
			for i := range n {
				if err := tx.PutEntry(ctx, Entry{Path: fmt.Sprintf("m/t%05d.npy", i), Kind: KindTensor,
					Object: id, DType: "<f4", Shape: []int64{4096, 4096}}); err != nil {
					return err
				}
			}
			return nil
		})
		cats[bk.name] = c
	}
	ops := []struct {
		name    string
		entries int // entries one op returns
		fn      func(c Catalog, i int) error
	}{
		{"list", n, func(c Catalog, _ int) error {
			ls, err := c.List(ctx, "m")
			if err == nil && len(ls) != n {
				err = fmt.Errorf("listed %d", len(ls))
			}
			return err
		}},
		{"get", 1, func(c Catalog, i int) error {
			_, err := c.Get(ctx, fmt.Sprintf("m/t%05d.npy", i*7919%n))
			return err
		}},
		{"list-and-get-each", n, func(c Catalog, _ int) error {
			ls, err := c.List(ctx, "m")
			for _, e := range ls {
				if err != nil {
					break
				}
				_, err = c.Get(ctx, e.Path)
			}
			return err
		}},
		{"walk", n + 1, func(c Catalog, _ int) error {
			es, err := c.Walk(ctx, "m")
			if err == nil && len(es) != n+1 {
				err = fmt.Errorf("walked %d", len(es))
			}
			return err
		}},
	}
	for _, op := range ops {
		var base float64 // SQLite's ns/op
		for _, bk := range backends {
			b.Run(op.name+"/"+bk.name, func(b *testing.B) {
				c := cats[bk.name]
				for i := 0; b.Loop(); i++ {
					if err := op.fn(c, i); err != nil {
						b.Fatal(err)
					}
				}
				per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(float64(op.entries)*1e9/per, "entries/s")
				if bk.name == "sqlite" {
					base = per
				} else {
					b.ReportMetric(per/base, "x-sqlite")
				}
			})
		}
	}
}
