package store

import (
	"context"
	"errors"
	"os"
	"testing"
)

// Verify reports one problem per damaged file, naming the object whose
// file is damaged, with the decode failure as the cause.
func TestVerifyReportsOneProblemPerFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		victim    string                   // whose object is damaged
		damage    func(*testing.T, string) // of the object file
		wantPaths []string
	}{
		{"delta payload", "f/w.npy", func(t *testing.T, name string) { flipByte(t, name, -100) }, []string{"f/w.npy"}},
		{"base payload", "b/w.npy", func(t *testing.T, name string) { flipByte(t, name, -100) }, []string{"b/w.npy", "f/w.npy"}},
		{"base missing", "b/w.npy", func(t *testing.T, name string) { os.Remove(name) }, []string{"b/w.npy", "f/w.npy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStoreWithBase(t, Options{})
			ctx := context.Background()
			w := weights(61, 60000)
			ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{60000}, f32bytes(w)))
			if fi := ingestBytes(t, s, "f/w.npy", makeNPY(t, "<f4", []int64{60000}, f32bytes(fineTune(62, w, 0.1)))); fi.Base == "" {
				t.Fatal("fine-tune stored standalone")
			}
			ingestBytes(t, s, "f/ok.txt", []byte("sound"))
			e, _ := s.catalog.Get(ctx, tc.victim)
			tc.damage(t, objectFile(t, s, e.Object))
			s.chunks.Purge()
			s.handles.closeAll()

			problems, err := s.Verify(ctx, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, p := range problems {
				paths = append(paths, p.Path)
				if p.Object != e.Object || !errors.Is(p.Err, ErrCorrupt) {
					t.Errorf("%s: object %s, err %v; want object %s, ErrCorrupt", p.Path, p.Object, p.Err, e.Object)
				}
				t.Logf("%s: %v", p.Path, p.Err)
			}
			if len(paths) != len(tc.wantPaths) || (len(paths) > 0 && paths[0] != tc.wantPaths[0]) || (len(paths) > 1 && paths[1] != tc.wantPaths[1]) {
				t.Errorf("problems for %v, want one each for %v", paths, tc.wantPaths)
			}
		})
	}
}
