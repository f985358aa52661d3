package catalog

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestPendingRecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		add := func(p Pending) int64 {
			var id int64
			update(t, c, func(tx Tx) error {
				var err error
				id, err = tx.AddPending(ctx, p)
				return err
			})
			return id
		}
		a := add(Pending{Session: "s-1", Stage: "a.stage", Path: "m/a.npy", Mode: 0o600, Size: 10})
		b := add(Pending{Session: "s-1", Stage: "b.stage", Path: "m/b.npy", Strategy: "sparse", AllowLossy: true, Size: 20, Holds: "e:7"})
		add(Pending{Session: "s-2", Stage: "c.stage", Path: "m/c.npy"})
		if b <= a {
			t.Errorf("ids not increasing: %d then %d", a, b)
		}
		update(t, c, func(tx Tx) error { return tx.MovePending(ctx, a, "m/a2.npy", "-") })

		tests := []struct {
			name    string
			fn      func(tx Tx) error
			wantErr error
		}{
			{"move a missing record", func(tx Tx) error { return tx.MovePending(ctx, 999, "x", "") }, ErrNotFound},
			{"delete a missing record", func(tx Tx) error { return tx.DeletePending(ctx, 999) }, ErrNotFound},
			{"add without a session", func(tx Tx) error { _, err := tx.AddPending(ctx, Pending{Stage: "x", Path: "x"}); return err }, ErrInvalid},
			{"add without a path", func(tx Tx) error { _, err := tx.AddPending(ctx, Pending{Session: "s", Stage: "x"}); return err }, ErrInvalid},
			{"add an import twice", func(tx Tx) error {
				if err := tx.AddImport(ctx, Import{Model: "m", Session: "s-1"}); err != nil {
					return err
				}
				return tx.AddImport(ctx, Import{Model: "m", Session: "s-2"})
			}, ErrExist},
			{"delete a missing import", func(tx Tx) error { return tx.DeleteImport(ctx, "nope") }, ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := c.Update(ctx, tt.fn)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			})
		}

		got, err := c.PendingOf(ctx, "s-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []Pending{
			{ID: a, Session: "s-1", Stage: "a.stage", Path: "m/a2.npy", Mode: 0o600, Size: 10, Holds: "-"},
			{ID: b, Session: "s-1", Stage: "b.stage", Path: "m/b.npy", Strategy: "sparse", AllowLossy: true, Size: 20, Holds: "e:7"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("PendingOf = %+v, want %+v", got, want)
		}
		// A pending file's owner and time come back as recorded.
		when := time.Date(2020, 2, 3, 4, 5, 6, 789, time.UTC)
		add(Pending{Session: "s-3", Stage: "d.stage", Path: "m/d.npy", Owner: &Owner{UID: 1001, GID: 1002}, MTime: when})
		if got, err := c.PendingOf(ctx, "s-3"); err != nil || len(got) != 1 || got[0].Owner == nil ||
			*got[0].Owner != (Owner{UID: 1001, GID: 1002}) || !got[0].MTime.Equal(when) {
			t.Errorf("pending with owner and time: %+v, %v", got, err)
		}
		update(t, c, func(tx Tx) error { return tx.DeletePending(ctx, a) })
		if got, _ := c.PendingOf(ctx, "s-1"); len(got) != 1 || got[0].ID != b {
			t.Errorf("after delete: %+v", got)
		}

		update(t, c, func(tx Tx) error { return tx.AddImport(ctx, Import{Model: "m", Session: "s-1"}) })
		if got, _ := c.ImportsOf(ctx, "s-1"); !slices.Equal(got, []Import{{Model: "m", Session: "s-1"}}) {
			t.Errorf("ImportsOf = %+v", got)
		}
		update(t, c, func(tx Tx) error { return tx.DeleteImport(ctx, "m") })
		if got, _ := c.ImportsOf(ctx, "s-1"); len(got) != 0 {
			t.Errorf("ImportsOf after delete = %+v", got)
		}
	})
}

// TestRenameMovesPending: pending files follow a rename of their file or of
// a directory above them; others stay.
func TestRenameMovesPending(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "m/", "m/d/", "m/d/e/", "m/f.bin", "m/dx/")
		paths := []string{"m/f.bin", "m/d/a.npy", "m/d/e/b.npy", "m/dx/c.npy", "m/d"}
		for _, p := range paths {
			update(t, c, func(tx Tx) error {
				_, err := tx.AddPending(ctx, Pending{Session: "s", Stage: "x", Path: p})
				return err
			})
		}
		update(t, c, func(tx Tx) error { return tx.Rename(ctx, "m/d", "m/g") })
		update(t, c, func(tx Tx) error { return tx.Rename(ctx, "m/f.bin", "m/h.bin") })
		got, err := c.PendingOf(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		var gotPaths []string
		for _, p := range got {
			gotPaths = append(gotPaths, p.Path)
		}
		want := []string{"m/h.bin", "m/g/a.npy", "m/g/e/b.npy", "m/dx/c.npy", "m/g"}
		if !slices.Equal(gotPaths, want) {
			t.Errorf("pending paths %v, want %v", gotPaths, want)
		}
	})
}
