package store

import (
	"bytes"
	"context"
	"testing"
)

func TestFinalName(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{".wq.npy.Ab12Cd", "wq.npy", true},
		{".a.b.c.zzzzzz", "a.b.c", true},
		{".x.000000", "x", true},
		{"wq.npy", "wq.npy", false},
		{".wq.npy", ".wq.npy", false},
		{".wq.npy.Ab12C", ".wq.npy.Ab12C", false},   // five random characters
		{".wq.npy.Ab12C_", ".wq.npy.Ab12C_", false}, // not a letter or digit
		{"..Ab12Cd", "..Ab12Cd", false},             // no final name
		{"...Ab12Cd", "...Ab12Cd", false},           // "." is no final name
		{".wq.npyxAb12Cd", ".wq.npyxAb12Cd", false}, // no dot before the suffix
	}
	for _, tt := range tests {
		got, ok := finalName(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("finalName(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// An rsync temporary name is encoded against the base tensor of the name it
// will be renamed to, even when that file name is ambiguous in the base.
func TestRsyncTempNameFindsItsReference(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	for _, d := range []string{"b", "b/l0", "b/l1", "f", "f/l0"} {
		mustMkdir(t, s, d)
	}
	if err := s.SetBase(ctx, "f", "b"); err != nil {
		t.Fatal(err)
	}
	w := weights(21, 20000)
	ingestBytes(t, s, "b/l0/wq.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(w)))
	ingestBytes(t, s, "b/l1/wq.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(weights(22, 20000))))
	file := makeNPY(t, "<f4", []int64{20000}, f32bytes(fineTune(23, w, 0.05)))
	fi := ingestBytes(t, s, "f/l0/.wq.npy.Ab12Cd", file)
	if fi.Base != "b/l0/wq.npy" {
		t.Fatalf("Base = %q, want b/l0/wq.npy", fi.Base)
	}
	if err := s.Rename(ctx, "f/l0/.wq.npy.Ab12Cd", "f/l0/wq.npy"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, s, "f/l0/wq.npy"); !bytes.Equal(got, file) {
		t.Error("read back differs")
	}
}

func FuzzFinalName(f *testing.F) {
	for _, s := range []string{".wq.npy.Ab12Cd", "wq.npy", ".x.000000", "..Ab12Cd", "", ".", ".a.b.c.zzzzzz", ".é.abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		final, ok := finalName(name)
		if !ok {
			if final != name {
				t.Fatalf("finalName(%q) = %q, false: want the name unchanged", name, final)
			}
			return
		}
		if !validName(final) || len(name) != len(final)+2+rsyncTempSuffixLen ||
			name[0] != '.' || name[1:1+len(final)] != final || name[1+len(final)] != '.' {
			t.Fatalf("finalName(%q) = %q: not the name inside .NAME.XXXXXX", name, final)
		}
	})
}
