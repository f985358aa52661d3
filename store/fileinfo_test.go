package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// FileInfo.Object names the object holding a file's content: the hex
// SHA-256 of the object's bytes, shared by identical files, "" for
// directories.
func TestFileInfoObject(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	file := makeNPY(t, "<f4", []int64{5000}, f32bytes(weights(51, 5000)))
	a := ingestBytes(t, s, "m/a.npy", file)
	b := ingestBytes(t, s, "m/b.npy", file)
	c := ingestBytes(t, s, "m/c.txt", []byte("blob"))
	if len(a.Object) != 64 || a.Object != b.Object {
		t.Errorf("identical tensors: objects %q and %q, want one 64-digit id", a.Object, b.Object)
	}
	if c.Object == "" || c.Object == a.Object {
		t.Errorf("blob object %q", c.Object)
	}
	for _, fi := range []FileInfo{a, c} {
		r, err := s.objects.Open(ctx, fi.Object)
		if err != nil {
			t.Fatalf("%s: object %s: %v", fi.Path, fi.Object, err)
		}
		data := make([]byte, r.Size())
		_, err = r.ReadAt(data, 0)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != fi.Object {
			t.Errorf("%s: object id %s is not the SHA-256 of its bytes", fi.Path, fi.Object)
		}
	}
	if st, err := s.Stat(ctx, "m/a.npy"); err != nil || st.Object != a.Object {
		t.Errorf("Stat: object %q, %v; want %q", st.Object, err, a.Object)
	}
	if d, err := s.Stat(ctx, "m"); err != nil || d.Object != "" {
		t.Errorf("directory: object %q, %v; want none", d.Object, err)
	}
}
