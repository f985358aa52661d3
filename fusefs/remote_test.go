package fusefs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
	"deltafs/store"
)

// remoteConfig starts (once per test process) a real PostgreSQL and a real
// S3 server and returns the configuration of a new empty shared store on
// them, the S3 credentials in the AWS environment as a user's would be.
func remoteConfig(t testing.TB) store.RemoteConfig {
	t.Helper()
	srv := s3test.Start(t)
	for k, v := range srv.Env() { // as a user's environment would hold them
		t.Setenv(k, v)
	}
	return store.RemoteConfig{Catalog: pgtest.URL(t), Objects: srv.URL("store")}
}

// openHandle makes a new handle of cfg, as a host's deltafs init would, and
// opens it.
func openHandle(t testing.TB, cfg store.RemoteConfig) *store.Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "handle")
	if _, err := store.InitRemote(context.Background(), dir, cfg); err != nil {
		t.Fatalf("init handle: %v", err)
	}
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("open handle: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// twoRemoteMounts mounts two handles of one shared store, with separate
// caches, as two hosts would.
func twoRemoteMounts(t testing.TB) (a, b string) {
	t.Helper()
	cfg := remoteConfig(t)
	ma := mountStore(t, openHandle(t, cfg), MountOptions{})
	mb := mountStore(t, openHandle(t, cfg), MountOptions{})
	return ma.Dir(), mb.Dir()
}

// TestRemoteChangeVisibility: on a store shared through PostgreSQL and S3,
// what one host's mount writes, the other's shows within a second (p99).
func TestRemoteChangeVisibility(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 40
	}
	a, b := twoRemoteMounts(t)
	took := visibility(t, a, b, "v", n)
	p50, p99 := percentile(took, 50), percentile(took, 99)
	t.Logf("%d changes between two hosts: p50 %v, p99 %v, max %v", n, p50, p99, took[len(took)-1])
	if p99 >= visibleWithin {
		t.Errorf("p99 %v, want under %v", p99, visibleWithin)
	}
}

// BenchmarkRemoteChangeVisibility is BenchmarkChangeVisibility between two
// hosts' mounts of a shared store (PostgreSQL catalog, S3 objects).
func BenchmarkRemoteChangeVisibility(b *testing.B) {
	const n = 200
	var other []time.Duration
	for range b.N {
		a, reader := twoRemoteMounts(b)
		other = append(other, visibility(b, a, reader, "other", n)...)
	}
	slices.Sort(other)
	p99 := percentile(other, 99)
	b.ReportMetric(ms(percentile(other, 50)), "other-p50-ms")
	b.ReportMetric(ms(p99), "other-p99-ms")
	b.ReportMetric(p99.Seconds()/visibleWithin.Seconds(), "p99-vs-promise")
}

// BenchmarkListing runs `ls -lR` on a fresh mount of a model of
// DELTAFS_BENCH_FILES files (default 10 000, in directories of 100) kept
// by a shared store (PostgreSQL catalog), beside the same on a local store
// (SQLite catalog) in the same run; the goal: within 2×.
func BenchmarkListing(b *testing.B) {
	ctx := context.Background()
	files := envMB("DELTAFS_BENCH_FILES", 10000)
	src := b.TempDir()
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.txt", i))
		mustOK(b, os.MkdirAll(filepath.Dir(p), 0o755))
		mustOK(b, os.WriteFile(p, fmt.Appendf(nil, "file %d\n", i), 0o644))
	}
	local, _ := newStore(b, store.Options{})
	if _, err := local.Import(ctx, src, "m", store.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	remote := openHandle(b, remoteConfig(b))
	if _, err := remote.Copy(ctx, local, store.CopyOptions{}); err != nil {
		b.Fatal(err)
	}
	lsR := func(s *store.Store) time.Duration {
		m := mountStore(b, s, MountOptions{})
		start := time.Now()
		out, err := exec.Command("ls", "-lR", m.Dir()).Output()
		took := time.Since(start)
		if err != nil || int64(len(out)) < files*10 {
			b.Fatalf("ls -lR: %v (%d bytes)", err, len(out))
		}
		mustOK(b, m.Unmount())
		return took
	}
	var sqlite, pg time.Duration
	b.ResetTimer()
	for range b.N {
		sqlite += lsR(local)
		pg += lsR(remote)
	}
	b.ReportMetric(ms(sqlite)/float64(b.N), "sqlite-ms")
	b.ReportMetric(ms(pg)/float64(b.N), "postgres-ms")
	b.ReportMetric(pg.Seconds()/sqlite.Seconds(), "postgres/sqlite")
}
