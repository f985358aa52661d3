package store

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"deltafs/catalog"
	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
)

// remoteBenchRate is the S3 link's cap of BenchmarkRemoteColdLoad
// (DELTAFS_BENCH_S3_MBPS, default 100 MB/s).
func remoteBenchRate() int64 {
	if v, err := strconv.ParseInt(os.Getenv("DELTAFS_BENCH_S3_MBPS"), 10, 64); err == nil && v > 0 {
		return v * 1e6
	}
	return 100e6
}

// loadReaders is how many files a loader reads at once.
const loadReaders = 8

// BenchmarkRemoteColdLoad loads a fine-tune (DELTAFS_BENCH_MODEL_MB of
// bf16 weights as .npy, default 256 here) from a store on real PostgreSQL
// and S3 servers, through an S3 link capped at 100 MB/s, by a host whose
// caches are cold: every file read whole, 8 at a time, as a loader does.
// Beside it, in the same run and through the same cap: the model's raw
// files fetched from the same S3 server (the baseline), the second load of
// the same host (disk cache warm, memory cache cold) and a cold load of
// the same model from a local store (page cache dropped, when root).
//
// Reported: speed-up (raw fetch time / deltafs time), the model's
// raw-to-stored ratio and their quotient (the goal: ≥ 0.8, the
// byte savings turned into time), bytes fetched from S3 per stored byte
// the load needed (fine-tune objects and their references; goal ≤ 1.1),
// and the warm load's speed relative to the local store's cold load
// (goal ≥ 0.8).
func BenchmarkRemoteColdLoad(b *testing.B) {
	ctx := context.Background()
	target := int64(256) << 20
	if os.Getenv("DELTAFS_BENCH_MODEL_MB") != "" {
		target = benchModelMB() << 20
	}
	m := loadBenchModelOf(b, target)
	srv := s3test.Start(b)
	for k, v := range srv.Env() { // as a user's environment would hold them
		b.Setenv(k, v)
	}
	cfg := RemoteConfig{Catalog: pgtest.URL(b), Objects: srv.URL("store")}

	// The writing host stores base and fine-tune, uncapped.
	writer := benchHandle(b, cfg)
	if _, err := writer.Import(ctx, m.baseDir, "base", ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := writer.Import(ctx, m.tunedDir, "ft", ImportOptions{Base: "base"}); err != nil {
		b.Fatal(err)
	}
	files, logical := storeModelFiles(b, writer, "ft")
	needed := neededStoredBytes(b, writer, files)
	rawKeys := uploadRaw(b, srv, m.tunedDir)
	local := newStore(b, Options{})
	if _, err := local.Import(ctx, m.baseDir, "base", ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := local.Import(ctx, m.tunedDir, "ft", ImportOptions{Base: "base"}); err != nil {
		b.Fatal(err)
	}

	proxy := s3test.NewProxy(b, strings.TrimPrefix(srv.Endpoint, "http://"))
	proxy.SetRate(remoteBenchRate())
	capped := cfg
	capped.Objects = srv.URL("store") + "?endpoint=" + proxy.Endpoint()
	client := proxy.Server(srv).Client()

	var cold, warm, raw, localCold time.Duration
	var fetched int64
	b.SetBytes(logical)
	b.ResetTimer()
	for range b.N {
		host := benchHandleDir(b, capped)
		s, err := Open(host, Options{})
		if err != nil {
			b.Fatal(err)
		}
		proxy.ResetBytes()
		cold += wallTime(func() { loadAll(b, s, files) })
		_, down := proxy.Bytes()
		fetched += down
		s.Close()
		if s, err = Open(host, Options{}); err != nil { // memory cache cold, disk cache warm
			b.Fatal(err)
		}
		warm += wallTime(func() { loadAll(b, s, files) })
		s.Close()
		raw += wallTime(func() { fetchAll(b, client, srv.Bucket, rawKeys) })
		if dropPageCache() == nil {
			local.chunks.Purge()
			local.handles.closeAll()
			localCold += wallTime(func() { loadAll(b, local, files) })
		}
	}
	b.StopTimer()
	n := float64(b.N)
	ratio := float64(logical) / float64(needed)
	speedup := raw.Seconds() / cold.Seconds()
	b.ReportMetric(float64(logical)/1e6/(cold.Seconds()/n), "deltafs-MB/s")
	b.ReportMetric(float64(logical)/1e6/(raw.Seconds()/n), "raw-MB/s")
	b.ReportMetric(speedup, "speedup")
	b.ReportMetric(ratio, "raw/stored")
	b.ReportMetric(speedup/ratio, "speedup/ratio")
	b.ReportMetric(float64(fetched)/n/float64(needed), "fetched/stored")
	b.ReportMetric(float64(logical)/1e6/(warm.Seconds()/n), "warm-MB/s")
	if localCold > 0 {
		b.ReportMetric(localCold.Seconds()/warm.Seconds(), "warm/local-cold")
	}
	b.Logf("%s: %d files, %d bytes, %d stored bytes needed (fine-tune and references), S3 link %d MB/s",
		m.describe, len(files), logical, needed, remoteBenchRate()/1e6)
}

// benchHandle makes a new handle of cfg and opens it.
func benchHandle(b *testing.B, cfg RemoteConfig) *Store {
	b.Helper()
	s, err := Open(benchHandleDir(b, cfg), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchHandleDir makes a new handle of cfg and returns its directory.
func benchHandleDir(b *testing.B, cfg RemoteConfig) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "handle")
	if _, err := InitRemote(context.Background(), dir, cfg); err != nil {
		b.Fatal(err)
	}
	return dir
}

// storeModelFiles lists the files of model and their logical bytes.
func storeModelFiles(b *testing.B, s *Store, model string) ([]string, int64) {
	b.Helper()
	entries, err := s.catalog.Walk(context.Background(), model)
	if err != nil {
		b.Fatal(err)
	}
	var files []string
	var total int64
	for _, e := range entries {
		if e.Kind != catalog.KindDir {
			files = append(files, e.Path)
			total += e.Size
		}
	}
	return files, total
}

// neededStoredBytes sums the stored bytes of the objects reading files
// takes: theirs and, transitively, their references', each once.
func neededStoredBytes(b *testing.B, s *Store, files []string) int64 {
	b.Helper()
	ctx := context.Background()
	seen := make(map[string]bool)
	var total int64
	var add func(id string)
	add = func(id string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		rec, err := s.catalog.Object(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		total += rec.StoredSize
		add(rec.Ref)
	}
	for _, p := range files {
		e, err := s.catalog.Get(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		add(e.Object)
	}
	return total
}

// loadAll reads every file whole, loadReaders at a time.
func loadAll(b *testing.B, s *Store, files []string) {
	b.Helper()
	ctx := context.Background()
	err := parallelN(ctx, len(files), loadReaders, func(i int) error {
		f, err := s.Open(ctx, files[i])
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, io.NewSectionReader(f, 0, f.Size()))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// uploadRaw puts the files under dir into the server's bucket, under raw/,
// and returns their keys.
func uploadRaw(b *testing.B, srv s3test.Server, dir string) []string {
	b.Helper()
	c := srv.Client()
	var keys []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := "raw/" + filepath.ToSlash(rel)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, _ := f.Stat()
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(srv.Bucket), Key: aws.String(key), Body: f, ContentLength: aws.Int64(st.Size()),
		})
		keys = append(keys, key)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

// fetchAll GETs every key whole, loadReaders at a time.
func fetchAll(b *testing.B, c *s3.Client, bucket string, keys []string) {
	b.Helper()
	err := parallelN(context.Background(), len(keys), loadReaders, func(i int) error {
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[i])})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		_, err = io.Copy(io.Discard, out.Body)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// dropPageCache empties the kernel's page cache (root only).
func dropPageCache() error {
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
}

// wallTime is how long work takes by the clock: a link's speed is wall
// time, whatever the CPU does meanwhile.
func wallTime(work func()) time.Duration {
	start := time.Now()
	work()
	return time.Since(start)
}
