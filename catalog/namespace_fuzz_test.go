package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// refNS is a deliberately simple in-memory model of the namespace rules
// (rename(2) semantics and models following top-level directories) that the
// catalog is checked against.
type refNS struct {
	kind   map[string]Kind   // path -> kind; "" is the root
	inode  map[string]uint64 // learnt from the catalog on creation
	models map[string]string // name -> base
}

func newRefNS() *refNS {
	return &refNS{kind: map[string]Kind{"": KindDir}, inode: map[string]uint64{"": 1}, models: map[string]string{}}
}

func (r *refNS) hasChildren(p string) bool {
	for q := range r.kind {
		if q != p && q != "" && IsWithin(q, p) {
			return true
		}
	}
	return false
}

func (r *refNS) checkParent(p string) error {
	parent, _ := Split(p)
	k, ok := r.kind[parent]
	if !ok {
		return ErrNotFound
	}
	if k != KindDir {
		return ErrNotDir
	}
	return nil
}

func (r *refNS) dropModel(name string) {
	delete(r.models, name)
	for m, b := range r.models {
		if b == name {
			r.models[m] = ""
		}
	}
}

func (r *refNS) put(p string, k Kind) error {
	if p == "" {
		return ErrInvalidPath
	}
	if err := r.checkParent(p); err != nil {
		return err
	}
	old, exists := r.kind[p]
	switch {
	case exists && old == KindDir && k != KindDir:
		return ErrIsDir
	case exists && old != KindDir && k == KindDir:
		return ErrExist
	}
	r.kind[p] = k
	if k == KindDir && !strings.Contains(p, "/") {
		if _, ok := r.models[p]; !ok {
			r.models[p] = ""
		}
	}
	return nil
}

func (r *refNS) delete(p string) error {
	k, ok := r.kind[p]
	switch {
	case p == "":
		return ErrInvalidPath
	case !ok:
		return ErrNotFound
	case k == KindDir && r.hasChildren(p):
		return ErrNotEmpty
	}
	delete(r.kind, p)
	delete(r.inode, p)
	if k == KindDir && !strings.Contains(p, "/") {
		r.dropModel(p)
	}
	return nil
}

func (r *refNS) rename(o, n string) error {
	if o == "" || n == "" {
		return ErrInvalidPath
	}
	k, ok := r.kind[o]
	if !ok {
		return ErrNotFound
	}
	if o == n {
		return nil
	}
	if k == KindDir && IsWithin(n, o) {
		return ErrInvalidPath
	}
	if err := r.checkParent(n); err != nil {
		return err
	}
	if dk, exists := r.kind[n]; exists {
		switch {
		case k == KindDir && dk != KindDir:
			return ErrNotDir
		case k != KindDir && dk == KindDir:
			return ErrIsDir
		}
		if err := r.delete(n); err != nil {
			return err
		}
	}
	for q := range maps.Clone(r.kind) {
		if IsWithin(q, o) {
			nq := n + q[len(o):]
			r.kind[nq], r.inode[nq] = r.kind[q], r.inode[q]
			delete(r.kind, q)
			delete(r.inode, q)
		}
	}
	oldTop, newTop := !strings.Contains(o, "/"), !strings.Contains(n, "/")
	if k == KindDir {
		switch {
		case oldTop && newTop:
			r.models[n] = r.models[o]
			delete(r.models, o)
			for m, b := range r.models {
				if b == o {
					r.models[m] = n
				}
			}
		case oldTop:
			r.dropModel(o)
		case newTop:
			r.models[n] = ""
		}
	}
	return nil
}

func (r *refNS) setModel(name, base string) error {
	if name == "" || strings.Contains(name, "/") || strings.Contains(base, "/") {
		return ErrInvalidPath
	}
	if base != "" {
		if _, ok := r.models[base]; !ok {
			return ErrNotFound
		}
		for b := base; b != ""; b = r.models[b] {
			if b == name {
				return ErrCycle
			}
		}
	}
	if k, ok := r.kind[name]; ok && k != KindDir {
		return ErrNotDir
	} else if !ok {
		r.kind[name] = KindDir
	}
	r.models[name] = base
	return nil
}

var sentinels = []error{ErrNotFound, ErrExist, ErrNotDir, ErrIsDir, ErrNotEmpty, ErrInvalidPath, ErrCycle, ErrInvalid}

func errClass(err error) string {
	if err == nil {
		return "nil"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other: " + err.Error()
}

// fuzzPath makes a path of 1-3 components from a tiny alphabet, so that ops
// collide often.
func fuzzPath(b byte) string {
	comps := []string{"a", "b", "a-b"}
	depth := 1 + int(b>>6)%3
	var parts []string
	for i := range depth {
		parts = append(parts, comps[int(b>>(2*i))%3])
	}
	return strings.Join(parts, "/")
}

func runNamespaceOps(t *testing.T, c Catalog, ops []byte) {
	ctx := context.Background()
	ref := newRefNS()
	obj := fakeID("obj")
	update(t, c, func(tx Tx) error { return tx.PutObject(ctx, Object{ID: obj, Strategy: "blob"}) })
	for i := 0; i+2 < len(ops) && i < 3*60; i += 3 {
		op, a, b := ops[i]%5, fuzzPath(ops[i+1]), fuzzPath(ops[i+2])
		var desc string
		var want error
		var do func(tx Tx) error
		switch op {
		case 0:
			desc, want = "mkdir "+a, ref.put(a, KindDir)
			do = func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: a, Kind: KindDir}) }
		case 1:
			desc, want = "put "+a, ref.put(a, KindBlob)
			do = func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: a, Kind: KindBlob, Object: obj}) }
		case 2:
			desc, want = "delete "+a, ref.delete(a)
			do = func(tx Tx) error { return tx.Delete(ctx, a) }
		case 3:
			desc, want = "rename "+a+" "+b, ref.rename(a, b)
			do = func(tx Tx) error { return tx.Rename(ctx, a, b) }
		case 4:
			name, base := ModelOf(a), ModelOf(b)
			if ops[i+2]&1 == 0 {
				base = ""
			}
			desc, want = fmt.Sprintf("setmodel %s base %q", name, base), ref.setModel(name, base)
			do = func(tx Tx) error { return tx.SetModel(ctx, Model{Name: name, Base: base}) }
		}
		got := c.Update(ctx, do)
		if errClass(got) != errClass(want) {
			t.Fatalf("op %d %s: catalog %v, reference %v", i/3, desc, got, want)
		}
		// Learn inodes of new entries; check that kept ones did not change.
		es, err := c.Walk(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		gotKinds := map[string]Kind{}
		for _, e := range es {
			gotKinds[e.Path] = e.Kind
			if ino, ok := ref.inode[e.Path]; ok && ino != e.Inode {
				t.Fatalf("op %d %s: %q inode %d, want %d", i/3, desc, e.Path, e.Inode, ino)
			}
			ref.inode[e.Path] = e.Inode
		}
		if !maps.Equal(gotKinds, ref.kind) {
			t.Fatalf("op %d %s: tree\n got %v\nwant %v", i/3, desc, gotKinds, ref.kind)
		}
		ms, _ := c.Models(ctx)
		gotModels := map[string]string{}
		for _, m := range ms {
			gotModels[m.Name] = m.Base
		}
		if !maps.Equal(gotModels, ref.models) {
			t.Fatalf("op %d %s: models\n got %v\nwant %v", i/3, desc, gotModels, ref.models)
		}
	}
	inodes := slices.Collect(maps.Values(ref.inode))
	slices.Sort(inodes)
	if len(slices.Compact(inodes)) != len(ref.inode) {
		t.Fatal("two entries share an inode")
	}
}

// namespaceSeeds are op sequences of FuzzNamespace's corpus.
var namespaceSeeds = [][]byte{
	{0, 0, 0, 0, 0x40, 0, 1, 0x81, 0, 3, 0x40, 0x41, 2, 0, 0},
	{0, 1, 0, 0, 2, 0, 4, 1, 3, 4, 2, 1, 3, 1, 2, 2, 1, 0},
	{0, 0, 0, 0, 0x44, 0, 1, 0x84, 0, 3, 0, 0x44, 3, 0x44, 0, 3, 0x84, 0x04},
	[]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox"),
}

func FuzzNamespace(f *testing.F) {
	for _, s := range namespaceSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ops []byte) { runNamespaceOps(t, openTest(t), ops) })
}

// TestNamespaceOnEveryBackend checks every backend against the reference
// namespace with the fuzz corpus and a few sequences of random operations.
func TestNamespaceOnEveryBackend(t *testing.T) {
	seqs := slices.Clone(namespaceSeeds)
	rng := rand.New(rand.NewPCG(12, 34))
	for range 3 {
		ops := make([]byte, 120)
		for i := range ops {
			ops[i] = byte(rng.UintN(256))
		}
		seqs = append(seqs, ops)
	}
	forEachBackend(t, func(t *testing.T, bk backend) {
		for i, ops := range seqs {
			t.Run(fmt.Sprint(i), func(t *testing.T) { runNamespaceOps(t, bk.openTest(t), ops) })
		}
	})
}
