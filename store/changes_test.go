package store

import (
	"context"
	"slices"
	"testing"
)

func TestChangesSinceSeesOtherOpensOnly(t *testing.T) {
	ctx := context.Background()
	a := newStore(t, Options{})
	b, err := Open(a.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustMkdir(t, a, "m")
	ingestBytes(t, a, "m/f.bin", []byte("first"))

	seqA, err := a.ChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seqB, err := b.ChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if seqA != seqB || seqA == 0 {
		t.Fatalf("change seq: a %d, b %d; want the same, non-zero", seqA, seqB)
	}

	steps := []struct {
		name string
		fn   func() error
		want []string
	}{
		{"overwrite", func() error { _, err := tryIngest(a, "m/f.bin", []byte("other"), IngestOptions{}); return err }, []string{"m/f.bin"}},
		{"rename", func() error { return a.Rename(ctx, "m/f.bin", "m/g.bin") }, []string{"m/f.bin", "m/g.bin"}},
		{"chmod", func() error { return a.Chmod(ctx, "m/g.bin", 0o600) }, []string{"m/g.bin"}},
		{"unlink", func() error { return a.Remove(ctx, "m/g.bin") }, []string{"m/g.bin"}},
		{"rmdir", func() error { return a.Remove(ctx, "m") }, []string{"m"}},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := b.ChangesSince(ctx, seqB)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lost || got.More || !slices.Equal(slices.Sorted(slices.Values(got.Paths)), st.want) {
			t.Errorf("%s: b sees %+v, want paths %q", st.name, got, st.want)
		}
		own, err := a.ChangesSince(ctx, seqA)
		if err != nil {
			t.Fatal(err)
		}
		if len(own.Paths) != 0 || own.Next != got.Next {
			t.Errorf("%s: a sees its own changes %+v (next %d, b's %d)", st.name, own.Paths, own.Next, got.Next)
		}
		seqA, seqB = own.Next, got.Next
	}
	idle, err := b.ChangesSince(ctx, seqB)
	if err != nil {
		t.Fatal(err)
	}
	if len(idle.Paths) != 0 || idle.Next != seqB {
		t.Errorf("idle: %+v, want nothing after %d", idle, seqB)
	}
}
