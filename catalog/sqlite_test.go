package catalog

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"deltafs/internal/testenv"
)

func TestReopenKeepsData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		loc := bk.store(t)
		c, err := bk.open(loc, 0)
		if err != nil {
			t.Fatal(err)
		}
		build(t, c, "m/", "m/f")
		want := paths(t, c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		c, err = bk.open(loc, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := paths(t, c); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("after reopen %v, want %v", got, want)
		}
		// The inode counter survives too: a new entry gets a fresh inode.
		build(t, c, "m/g")
		f, _ := c.Get(context.Background(), "m/f")
		g, _ := c.Get(context.Background(), "m/g")
		if g.Inode <= f.Inode {
			t.Fatalf("inode after reopen %d, not above %d", g.Inode, f.Inode)
		}
	})
}

func TestPragmas(t *testing.T) {
	file := filepath.Join(t.TempDir(), "catalog.db")
	c, err := OpenSQLite(file)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	db := c.(*sqliteCatalog).db
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1",
		"user_version": fmt.Sprint(schemaVersion), "application_id": fmt.Sprint(applicationID),
	} {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "catalog.db")
	c, err := OpenSQLite(file)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	rawExec(t, file, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1))
	_, err = OpenSQLite(file)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("open newer catalog: %v, want ErrNewerSchema", err)
	}
	for _, s := range []string{fmt.Sprint(schemaVersion + 1), "upgrade deltafs"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	t.Logf("message: %v", err)
}

func TestNotACatalog(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte(strings.Repeat("this is not a database\n", 500)), 0o644)
	other := filepath.Join(dir, "other.db")
	rawExec(t, other, "CREATE TABLE t(x)")
	for _, file := range []string{garbage, other} {
		_, err := OpenSQLite(file)
		if !errors.Is(err, ErrNotCatalog) {
			t.Errorf("open %s: %v, want ErrNotCatalog", filepath.Base(file), err)
		}
	}
	if b, _ := os.ReadFile(garbage); !strings.HasPrefix(string(b), "this is not") {
		t.Error("opening a non-catalog modified it")
	}
}

// rawExec runs one statement on file with the driver directly.
func rawExec(t *testing.T, file, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

// TestTwoHandlesWriteConcurrently simulates two processes importing into
// one store at once: every write of both lands, none is lost or corrupt.
func TestTwoHandlesWriteConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		loc := bk.store(t)
		const writers, each = 4, 25
		var handles []Catalog
		for range 2 {
			c := bk.openAt(t, loc, 0)
			handles = append(handles, c)
		}
		build(t, handles[0], "m/")
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 2*writers*each)
		for h, c := range handles {
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						p := fmt.Sprintf("m/h%d-w%d-%d", h, w, i)
						id := fakeID(p)
						errs <- c.Update(ctx, func(tx Tx) error {
							if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob"}); err != nil {
								return err
							}
							return tx.PutEntry(ctx, Entry{Path: p, Kind: KindBlob, Object: id})
						})
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range handles {
			ls, err := c.List(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != 2*writers*each {
				t.Fatalf("%d entries, want %d", len(ls), 2*writers*each)
			}
			seen := map[uint64]bool{}
			for _, e := range ls {
				if seen[e.Inode] {
					t.Fatalf("inode %d given twice", e.Inode)
				}
				seen[e.Inode] = true
			}
		}
		if sc, ok := handles[0].(*sqliteCatalog); ok {
			var check string
			if err := sc.db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				t.Fatalf("integrity_check = %q, %v", check, err)
			}
		}
	})
}

// TestLongWaitIsBusy holds the write lock in one handle; a writer on another
// handle waits its busy timeout, then fails with ErrBusy; once the lock is
// released it succeeds.
func TestLongWaitIsBusy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		loc := bk.store(t)
		holder := bk.openAt(t, loc, 0)
		waiter := bk.openAt(t, loc, 300*time.Millisecond)
		ctx := context.Background()
		locked, release := make(chan struct{}), make(chan struct{})
		held := make(chan error)
		go func() {
			held <- holder.Update(ctx, func(tx Tx) error {
				if err := tx.PutEntry(ctx, Entry{Path: "held", Kind: KindDir}); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		start := time.Now()
		err := waiter.Update(ctx, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "w", Kind: KindDir}) })
		waited := time.Since(start)
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("blocked writer: %v, want ErrBusy", err)
		}
		if waited < 250*time.Millisecond {
			t.Fatalf("gave up after %v, before the busy timeout", waited)
		}
		// Readers are not blocked by the writer (WAL), and do not see its writes.
		if _, err := waiter.Get(ctx, "held"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("reader during a write: %v", err)
		}
		close(release)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		if err := waiter.Update(ctx, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "w", Kind: KindDir}) }); err != nil {
			t.Fatalf("after release: %v", err)
		}
	})
}

// TestCommittedSurvivesKill commits in a child process that is then killed
// with SIGKILL before it can close anything; the commit must be there.
func TestCommittedSurvivesKill(t *testing.T) {
	if file := os.Getenv("DELTAFS_CATALOG_KILL_CHILD"); file != "" {
		killChild(file)
		return
	}
	file := filepath.Join(t.TempDir(), "catalog.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommittedSurvivesKill$")
	cmd.Env = append(os.Environ(), "DELTAFS_CATALOG_KILL_CHILD="+file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	committed := false
	for sc.Scan() {
		if sc.Text() == "committed" {
			committed = true
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !committed {
		t.Fatal("child did not commit")
	}
	c, err := OpenSQLite(file)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ls, err := c.List(context.Background(), "m")
	if err != nil || len(ls) != 100 {
		t.Fatalf("after kill: %d entries, %v; want 100", len(ls), err)
	}
	if _, err := c.Get(context.Background(), "m/uncommitted"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted entry visible: %v", err)
	}
}

// killChild commits 100 entries, reports it, then holds an open transaction
// with more writes until it is killed.
func killChild(file string) {
	c, err := OpenSQLite(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	for i := range 100 {
		err := c.Update(ctx, func(tx Tx) error {
			if i == 0 {
				if err := tx.PutEntry(ctx, Entry{Path: "m", Kind: KindDir}); err != nil {
					return err
				}
			}
			return tx.PutEntry(ctx, Entry{Path: fmt.Sprintf("m/%d", i), Kind: KindDir})
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Println("committed")
	c.Update(ctx, func(tx Tx) error {
		tx.PutEntry(ctx, Entry{Path: "m/uncommitted", Kind: KindDir})
		time.Sleep(time.Hour) // killed here
		return nil
	})
}

// TestManyConcurrentUpdates runs more concurrent transactions than the
// connection pool holds on a fresh catalog (nothing prepared yet): none may
// wait for a second connection while holding the write lock.
func TestManyConcurrentUpdates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "m/")
		const n = 40
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.Update(ctx, func(tx Tx) error {
					if _, err := tx.List(ctx, "m"); err != nil {
						return err
					}
					return tx.PutEntry(ctx, Entry{Path: fmt.Sprintf("m/%d", i), Kind: KindDir})
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if ls, _ := c.List(ctx, "m"); len(ls) != n {
			t.Fatalf("%d entries, want %d", len(ls), n)
		}
		if d := time.Since(start); d > time.Minute { // a hang detector, generous for loaded machines
			t.Fatalf("took %v", d)
		}
	})
}

// TestMigrationsApplyInOrder opens a catalog, then reopens it with a build
// that knows one more migration: the migration runs once, data is kept.
func TestMigrationsApplyInOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		loc := bk.store(t)
		c := bk.openAt(t, loc, 0)
		build(t, c, "m/", "m/f")
		c.Close()

		saved, savedVersion := *bk.migrations, *bk.version
		t.Cleanup(func() { *bk.migrations, *bk.version = saved, savedVersion })
		*bk.migrations = append(slices.Clone(saved), `ALTER TABLE entries ADD COLUMN note TEXT; UPDATE entries SET note = 'migrated';`)
		*bk.version = len(*bk.migrations)
		for range 2 { // the second open must not run the migration again
			c := bk.openAt(t, loc, 0)
			var notes int
			bk.db(c).QueryRow("SELECT count(*) FROM entries WHERE note = 'migrated'").Scan(&notes)
			if version := bk.recorded(t, c); version != len(saved)+1 || notes != 3 {
				t.Fatalf("after migration: version %d, %d migrated rows; want %d, 3", version, notes, len(saved)+1)
			}
			if _, err := c.Get(context.Background(), "m/f"); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		// The older build now refuses the catalog.
		*bk.migrations, *bk.version = saved, savedVersion
		if _, err := bk.open(loc, 0); !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("older build opened a newer catalog: %v", err)
		}
	})
}

// TestUpdateRetriesBusy: a busy failure inside fn rolls back and runs fn
// again; once the busy timeout has passed the failure is ErrBusy.
func TestUpdateRetriesBusy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openAt(t, bk.store(t), 200*time.Millisecond)
		ctx := context.Background()
		calls := 0
		err := c.Update(ctx, func(tx Tx) error {
			calls++
			if err := tx.PutEntry(ctx, Entry{Path: "d", Kind: KindDir}); err != nil {
				return err // the second call must not see the first call's write
			}
			if calls < 3 {
				return fmt.Errorf("simulated: %w", ErrBusy)
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("Update = %v after %d calls, want success after 3", err, calls)
		}
		start := time.Now()
		err = c.Update(ctx, func(tx Tx) error { return fmt.Errorf("simulated: %w", ErrBusy) })
		if !errors.Is(err, ErrBusy) || time.Since(start) < 150*time.Millisecond {
			t.Fatalf("always-busy Update = %v after %v", err, time.Since(start))
		}
	})
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindDir: "dir", KindTensor: "tensor", KindBlob: "blob", 9: "Kind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
}

// TestNestedUpdateFailsInsteadOfHanging: an Update called from inside
// another one's fn (a misuse) fails with ErrBusy after the busy timeout.
func TestNestedUpdateFailsInsteadOfHanging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openAt(t, bk.store(t), 200*time.Millisecond)
		ctx := context.Background()
		var inner error
		outer := c.Update(ctx, func(tx Tx) error {
			inner = c.Update(ctx, func(Tx) error { return nil })
			return nil
		})
		if outer != nil || !errors.Is(inner, ErrBusy) {
			t.Fatalf("outer %v, inner %v; want nil and ErrBusy", outer, inner)
		}
	})
}

// TestReadOnlyUseWritesNothing opens an up-to-date catalog, reads it and
// closes it: the database file must be byte-identical afterwards, so
// read-only commands (ls, info, stats) neither write nor fsync.
func TestReadOnlyUseWritesNothing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "catalog.db")
	c, err := OpenSQLite(file)
	if err != nil {
		t.Fatal(err)
	}
	build(t, c, "m/", "m/f")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err = OpenSQLite(file)
	if err != nil {
		t.Fatal(err)
	}
	paths(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("opening, reading and closing an up-to-date catalog changed its file")
	}
}

// TestFullDiskIsENOSPC fills a small tmpfs under the catalog (needs root;
// skipped otherwise): a commit that finds no space fails with an error that
// is syscall.ENOSPC, whatever SQLite calls it, and loses nothing committed
// before; once space is back, commits work again.
func TestFullDiskIsENOSPC(t *testing.T) {
	mnt := testenv.Tmpfs(t, "512k")
	c, err := OpenSQLite(filepath.Join(mnt, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	update(t, c, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "m", Kind: KindDir, Mode: 0o755}) })
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
	var full error
	for i := 0; i < 64 && full == nil; i++ {
		full = c.Update(ctx, func(tx Tx) error {
			id := fakeID(fmt.Sprint(i))
			if err := tx.PutObject(ctx, Object{ID: id, Strategy: "auto", RawSize: 1, StoredSize: 1}); err != nil {
				return err
			}
			return tx.PutEntry(ctx, Entry{Path: fmt.Sprintf("m/f%d", i), Kind: KindBlob, Mode: 0o644,
				Object: id, Header: bytes.Repeat([]byte{byte(i)}, 32<<10)})
		})
	}
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("commit on a full disk: %v, want ENOSPC", full)
	}
	if _, err := c.Get(ctx, "m"); err != nil {
		t.Fatalf("after a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	update(t, c, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "m/after", Kind: KindDir, Mode: 0o755}) })
}
