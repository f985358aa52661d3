package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"deltafs/catalog"
	"deltafs/delta"
)

// buildChain makes models m0..m{n-1}, each based on the previous one, each
// holding w.npy tuned from the previous model's.
func buildChain(t *testing.T, s *Store, n int) [][]byte {
	t.Helper()
	ctx := context.Background()
	w := weights(11, 50000)
	var files [][]byte
	for i := range n {
		m := fmt.Sprintf("m%d", i)
		mustMkdir(t, s, m)
		if i > 0 {
			if err := s.SetBase(ctx, m, fmt.Sprintf("m%d", i-1)); err != nil {
				t.Fatal(err)
			}
			w = fineTune(uint64(100+i), w, 0.05)
		}
		file := makeNPY(t, "<f4", []int64{50000}, f32bytes(w))
		ingestBytes(t, s, m+"/w.npy", file)
		files = append(files, file)
	}
	return files
}

func TestChainedBases(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	files := buildChain(t, s, 4) // m3 -> m2 -> m1 -> m0: three deltas deep
	for i, want := range files {
		path := fmt.Sprintf("m%d/w.npy", i)
		fi, err := s.Stat(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		wantBase := ""
		if i > 0 {
			wantBase = fmt.Sprintf("m%d/w.npy", i-1)
		}
		if fi.Base != wantBase {
			t.Errorf("%s: Base = %q, want %q", path, fi.Base, wantBase)
		}
		if got := readFile(t, s, path); !bytes.Equal(got, want) {
			t.Errorf("%s: read back differs", path)
		}
	}
	e, _ := s.catalog.Get(ctx, "m3/w.npy")
	if d, err := s.chainDepth(ctx, e.Object); err != nil || d != 3 {
		t.Errorf("chain depth of m3 = %d, %v; want 3", d, err)
	}
	// Reading the top of the chain with a cold cache reconstructs the
	// lower links through the same cache.
	s.chunks.Purge()
	before := s.RuntimeStats().ChunksDecoded
	readFile(t, s, "m3/w.npy")
	if got := s.RuntimeStats().ChunksDecoded - before; got != 4 {
		t.Errorf("cold read of a 3-deep chain decoded %d chunks, want 4 (one per link)", got)
	}
}

func TestChainDepthLimitReanchors(t *testing.T) {
	s := newStore(t, Options{MaxChainDepth: 2})
	ctx := context.Background()
	files := buildChain(t, s, 5)
	wantDepth := []int{0, 1, 2, 0, 1} // m3's base m2 is at the limit: m3 stands alone
	for i, want := range files {
		path := fmt.Sprintf("m%d/w.npy", i)
		e, err := s.catalog.Get(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.chainDepth(ctx, e.Object)
		if err != nil {
			t.Fatal(err)
		}
		if d != wantDepth[i] {
			t.Errorf("%s: depth %d, want %d", path, d, wantDepth[i])
		}
		if got := readFile(t, s, path); !bytes.Equal(got, want) {
			t.Errorf("%s: read back differs", path)
		}
	}
}

func TestDedupStoresIdenticalTensorsOnce(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "a")
	mustMkdir(t, s, "b")
	file := makeNPY(t, "<f4", []int64{10000}, f32bytes(weights(5, 10000)))
	fa := ingestBytes(t, s, "a/x.npy", file)
	fb := ingestBytes(t, s, "b/y.npy", file)
	ea, _ := s.catalog.Get(ctx, "a/x.npy")
	eb, _ := s.catalog.Get(ctx, "b/y.npy")
	if ea.Object != eb.Object {
		t.Error("identical tensors got different objects")
	}
	if fa.ContentHash != fb.ContentHash {
		t.Error("content hashes differ")
	}
	objs, _ := s.catalog.Objects(ctx)
	if len(objs) != 1 {
		t.Errorf("%d objects recorded, want 1", len(objs))
	}
	// The same bytes as another shape are a different tensor.
	other := makeNPY(t, "<f4", []int64{100, 100}, f32bytes(weights(5, 10000)))
	ingestBytes(t, s, "b/z.npy", other)
	ez, _ := s.catalog.Get(ctx, "b/z.npy")
	if ez.Object == ea.Object {
		t.Error("a tensor of another shape reused the object")
	}
	// A blob with the same bytes as a tensor's data is not deduplicated
	// against the tensor.
	ingestBytes(t, s, "b/raw.bin", f32bytes(weights(5, 10000)))
	er, _ := s.catalog.Get(ctx, "b/raw.bin")
	if er.Kind != catalog.KindBlob || er.Object == ea.Object {
		t.Errorf("raw bytes: kind %d, object reused %v", er.Kind, er.Object == ea.Object)
	}
	if got := readFile(t, s, "b/y.npy"); !bytes.Equal(got, file) {
		t.Error("deduplicated file reads back wrong")
	}
}

func TestBaseTensorOfAnotherShapeIsStandalone(t *testing.T) {
	s := newStoreWithBase(t, Options{})
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{100, 100}, f32bytes(weights(1, 10000))))
	file := makeNPY(t, "<f4", []int64{50, 200}, f32bytes(weights(1, 10000)))
	fi := ingestBytes(t, s, "f/w.npy", file)
	if fi.Base != "" {
		t.Errorf("Base = %q, want standalone", fi.Base)
	}
	if got := readFile(t, s, "f/w.npy"); !bytes.Equal(got, file) {
		t.Error("read back differs")
	}
}

func TestFallbackReferenceByUniqueName(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "b")
	mustMkdir(t, s, "b/layers")
	mustMkdir(t, s, "f")
	if err := s.SetBase(ctx, "f", "b"); err != nil {
		t.Fatal(err)
	}
	w := weights(9, 20000)
	ingestBytes(t, s, "b/layers/wq.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(w)))
	file := makeNPY(t, "<f4", []int64{20000}, f32bytes(fineTune(10, w, 0.05)))
	fi := ingestBytes(t, s, "f/wq.npy", file) // another directory, same name
	if fi.Base != "b/layers/wq.npy" {
		t.Errorf("Base = %q, want b/layers/wq.npy", fi.Base)
	}
	// Two candidates of that name: ambiguous, so standalone.
	mustMkdir(t, s, "b/other")
	ingestBytes(t, s, "b/other/wk.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(weights(12, 20000))))
	mustMkdir(t, s, "b/more")
	ingestBytes(t, s, "b/more/wk.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(weights(13, 20000))))
	fi = ingestBytes(t, s, "f/wk.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(weights(12, 20000))))
	if fi.Base != "" {
		t.Errorf("ambiguous name: Base = %q, want standalone", fi.Base)
	}
	if got := readFile(t, s, "f/wq.npy"); !bytes.Equal(got, file) {
		t.Error("read back differs")
	}
}

func TestDedupSkipsAMissingObject(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	data := bytes.Repeat([]byte("precious "), 500)
	ingestBytes(t, s, "m/a", data)
	e, _ := s.catalog.Get(ctx, "m/a")
	if err := s.objects.Delete(ctx, e.Object); err != nil {
		t.Fatal(err)
	}
	ingestBytes(t, s, "m/b", data) // same content: must be stored anew
	s.chunks.Purge()
	if got := readFile(t, s, "m/b"); !bytes.Equal(got, data) {
		t.Error("a write deduplicated against a missing object was lost")
	}
}

// TestVerifyChecksReferenceLinks: an object's header names the hash of the
// reference it was encoded against, and verify checks it against the object
// the catalog names as its reference.
func TestVerifyChecksReferenceLinks(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	buildChain(t, s, 3)
	e1, _ := s.catalog.Get(ctx, "m1/w.npy")
	e2, _ := s.catalog.Get(ctx, "m2/w.npy")
	rec2, err := s.catalog.Object(ctx, e2.Object)
	if err != nil || rec2.Ref != e1.Object {
		t.Fatalf("m2's object ref = %q, %v; want m1's object", rec2.Ref, err)
	}
	if err := s.checkReferenceLink(ctx, e2.Object, e1.Object); err != nil {
		t.Fatalf("true reference: %v", err)
	}
	e0, _ := s.catalog.Get(ctx, "m0/w.npy")
	err = s.checkReferenceLink(ctx, e2.Object, e0.Object)
	if !errors.Is(err, delta.ErrReferenceMismatch) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong reference: err = %v, want ErrReferenceMismatch and ErrCorrupt", err)
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Fatalf("Verify of a sound store: %v, %v", problems, err)
	}
}

// A tensor of a fine-tune equal to its base's (a frozen layer) is stored
// as the base's object, although its reference is being decoded while its
// content is hashed; a failure of that speculative decode is not the
// ingest's. A changed tensor still becomes a delta.
func TestFrozenTensorDedupsAgainstItsBase(t *testing.T) {
	s := newStoreWithBase(t, Options{})
	ctx := context.Background()
	w := weights(51, 300000)
	frozen := makeNPY(t, "<f4", []int64{300000}, f32bytes(w))
	ingestBytes(t, s, "b/w.npy", frozen)
	ingestBytes(t, s, "b/v.npy", makeNPY(t, "<f4", []int64{300000}, f32bytes(weights(52, 300000))))
	fb, _ := s.catalog.Get(ctx, "b/w.npy")
	ff := ingestBytes(t, s, "f/w.npy", frozen)
	ef, _ := s.catalog.Get(ctx, "f/w.npy")
	if ef.Object != fb.Object {
		t.Errorf("frozen tensor stored as %s, want the base's %s", shortID(ef.Object), shortID(fb.Object))
	}
	if ff.Base != "" {
		t.Errorf("frozen tensor reported as a delta against %q", ff.Base)
	}
	// The base's other tensor loses its object file: decoding it as a
	// reference fails, which must not fail a tensor that deduplicates.
	ev, _ := s.catalog.Get(ctx, "b/v.npy")
	if err := os.Remove(objectFile(t, s, ev.Object)); err != nil {
		t.Fatal(err)
	}
	s.handles.forget(ev.Object)
	s.chunks.Purge()
	if _, err := tryIngest(s, "f/v.npy", frozen, IngestOptions{}); err != nil {
		t.Errorf("deduplicating tensor with a broken reference candidate: %v", err)
	}
	tuned := makeNPY(t, "<f4", []int64{300000}, f32bytes(fineTune(53, w, 0.05)))
	if fi := ingestBytes(t, s, "f/w.npy", tuned); fi.Base != "b/w.npy" {
		t.Errorf("fine-tuned tensor: base %q, want b/w.npy", fi.Base)
	}
	if got := readFile(t, s, "f/w.npy"); !bytes.Equal(got, tuned) {
		t.Error("fine-tuned tensor reads back wrong")
	}
}
