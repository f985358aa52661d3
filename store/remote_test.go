package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
)

// remoteConfig starts (once per test process) a real PostgreSQL and a real
// S3 server, and returns the configuration of a new empty remote store on
// them, with the S3 credentials in the AWS environment as a user's would be.
func remoteConfig(t *testing.T) RemoteConfig {
	t.Helper()
	srv := s3test.Start(t)
	for k, v := range srv.Env() { // as a user's environment would hold them
		t.Setenv(k, v)
	}
	return RemoteConfig{Catalog: pgtest.URL(t), Objects: srv.URL("store")}
}

// openHandle makes a handle of cfg in a new directory, as a host would
// with deltafs init, and opens it.
func openHandle(t *testing.T, cfg RemoteConfig, wantAttached bool) *Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "handle")
	attached, err := InitRemote(context.Background(), dir, cfg)
	if err != nil {
		t.Fatalf("InitRemote: %v", err)
	}
	if attached != wantAttached {
		t.Fatalf("InitRemote attached %v, want %v", attached, wantAttached)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRemoteStoreTwoHosts: two handles of one store on PostgreSQL and S3,
// with separate caches, as two hosts: what one imports and writes, the
// other lists, reads byte-identical and verifies; gc on either keeps
// everything in use.
func TestRemoteStoreTwoHosts(t *testing.T) {
	ctx := context.Background()
	cfg := remoteConfig(t)
	a := openHandle(t, cfg, false)
	b := openHandle(t, cfg, true)

	base, ft := stFolders(t)
	if _, err := a.Import(ctx, base, "b", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Import(ctx, ft, "f", ImportOptions{Base: "b"}); err != nil {
		t.Fatal(err)
	}
	w := weights(5, 20000)
	ingestBytes(t, b, "b/w.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(w)))
	ingestBytes(t, a, "f/w.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(fineTune(6, w, 0.1))))

	fi, err := b.Stat(ctx, "f/w.npy")
	if err != nil || fi.Base != "b/w.npy" {
		t.Fatalf("the other host's file: %+v %v, want a delta against b/w.npy", fi, err)
	}
	want := exportAll(t, a, "b", "f")
	got := exportAll(t, b, "b", "f")
	for _, m := range []string{"b", "f"} {
		sameTree(t, filepath.Join(want, m), filepath.Join(got, m))
	}
	if _, err := b.GC(ctx); err != nil {
		t.Fatalf("gc: %v", err)
	}
	for _, s := range []*Store{a, b} {
		if probs, err := s.Verify(ctx, "", nil); err != nil || len(probs) > 0 {
			t.Errorf("verify after gc: %v %v", probs, err)
		}
	}
	if err := a.RemoveAll(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "f"); !errors.Is(err, ErrNotFound) {
		t.Errorf("model removed by the other host: %v, want ErrNotFound", err)
	}
	res, err := b.GC(ctx)
	if err != nil || res.ObjectsRemoved == 0 {
		t.Errorf("gc after rm: %+v %v, want objects removed", res, err)
	}
	sameTree(t, filepath.Join(want, "b"), filepath.Join(exportAll(t, a, "b"), "b"))
}

// TestRemoteCopy: local → remote → local, byte-identical; copying again
// sends nothing the destination has.
func TestRemoteCopy(t *testing.T) {
	ctx := context.Background()
	src := copySource(t)
	remote := openHandle(t, remoteConfig(t), false)
	res, err := remote.Copy(ctx, src, CopyOptions{Models: []string{"f"}})
	if err != nil || res.Objects == 0 {
		t.Fatalf("copy to the remote store: %+v %v", res, err)
	}
	res, err = remote.Copy(ctx, src, CopyOptions{Models: []string{"g"}})
	if err != nil || res.Objects != 0 || res.Present == 0 {
		t.Fatalf("copy of a model sharing every object: %+v %v, want nothing sent", res, err)
	}
	back := newStore(t, Options{})
	if _, err := back.Copy(ctx, remote, CopyOptions{}); err != nil {
		t.Fatalf("copy back: %v", err)
	}
	want := exportAll(t, src, "b", "f", "g")
	got := exportAll(t, back, "b", "f", "g")
	for _, m := range []string{"b", "f", "g"} {
		sameTree(t, filepath.Join(want, m), filepath.Join(got, m))
	}
}

// TestInitRemoteRefuses: credentials in a URL, a catalog whose objects are
// elsewhere, a URL of the wrong kind; nothing is left that looks like a
// store.
func TestInitRemoteRefuses(t *testing.T) {
	ctx := context.Background()
	cfg := remoteConfig(t)
	openHandle(t, cfg, false) // the catalog now records cfg.Objects
	for _, tc := range []struct {
		name   string
		change func(c *RemoteConfig)
		want   error
	}{
		{"password in the catalog URL", func(c *RemoteConfig) { c.Catalog = "postgres://u:secret@127.0.0.1:5432/db" }, ErrCredentials},
		{"password parameter", func(c *RemoteConfig) { c.Catalog += "&password=secret" }, ErrCredentials},
		{"not postgres", func(c *RemoteConfig) { c.Catalog = "mysql://u@h/db" }, ErrRemoteConfig},
		{"not s3", func(c *RemoteConfig) { c.Objects = "gs://bucket/x" }, ErrRemoteConfig},
		{"objects elsewhere", func(c *RemoteConfig) { c.Objects += "-other" }, ErrRemoteConfig},
		{"negative cache", func(c *RemoteConfig) { c.DiskCacheSize = -1 }, ErrRemoteConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			tc.change(&c)
			dir := filepath.Join(t.TempDir(), "handle")
			if _, err := InitRemote(ctx, dir, c); !errors.Is(err, tc.want) {
				t.Fatalf("InitRemote: %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, markerName)); err == nil {
				t.Errorf("a refused init left a store marker")
			}
		})
	}
}
