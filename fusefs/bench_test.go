package fusefs

// Benchmarks of the mount, each beside a baseline measured in the same run.
// Sizes come from the environment so that `make bench` can use large ones:
//
//	DELTAFS_BENCH_TENSOR_MB  cold/warm read tensor (default 256)
//	DELTAFS_BENCH_TTFB_MB    time-to-first-byte tensor (default 1024)
//	DELTAFS_BENCH_ST_MB      time-to-first-byte model.safetensors, bf16 data (default 1024)
//	DELTAFS_BENCH_CACHE_MB   cache of the memory benchmark; the model read is 4× (default 64)
//	DELTAFS_BENCH_LAYERS     layers of the model copied with cp (default 2)
//
// Cold reads drop the page cache (root only; skipped otherwise).

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"deltafs/internal/synth"
	"deltafs/internal/testenv"
	"deltafs/internal/testfixture"
	"deltafs/store"
)

func envMB(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

// benchPair stores a base tensor and a fine-tune of it (size bytes, synth
// bf16-as-f32) as base/weight.npy and ft/weight.npy in a new store, and
// writes the fine-tune's raw .npy into rawDir. It returns the store
// directory.
func benchPair(b *testing.B, size int64, rawDir string) string {
	b.Helper()
	base, tuned, err := synth.PairOfSize(size, synth.BFloat16, 1, synth.DefaultFineTune(2))
	if err != nil {
		b.Fatal(err)
	}
	s, dir := newStore(b, store.Options{})
	ctx := context.Background()
	for _, m := range []struct {
		model, base string
		t           synth.Tensor
	}{{"base", "", base}, {"ft", "base", tuned}} {
		if err := s.Mkdir(ctx, m.model); err != nil {
			b.Fatal(err)
		}
		if m.base != "" {
			if err := s.SetBase(ctx, m.model, m.base); err != nil {
				b.Fatal(err)
			}
		}
		data, err := m.t.NPY()
		if err != nil {
			b.Fatal(err)
		}
		local := filepath.Join(b.TempDir(), "w.npy")
		if err := os.WriteFile(local, data, 0o644); err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(local)
		fi, err := s.Ingest(ctx, m.model+"/weight.npy", f, store.IngestOptions{})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if m.model == "ft" {
			b.Logf("ft/weight.npy: %d bytes logical, %d stored (%s, base %q)", fi.Size, fi.StoredSize, fi.Strategy, fi.Base)
			if err := os.WriteFile(filepath.Join(rawDir, "weight.npy"), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	s.Close()
	return dir
}

// mountLoopback mounts a plain pass-through of dir (go-fuse's loopback),
// set up like deltafs. With kernelPassthrough the kernel reads the backing
// files itself (FUSE passthrough, which go-fuse's loopback uses when it
// can): no read reaches the daemon and the page cache holds large folios,
// which no file system serving its own bytes can do. Without, the daemon
// serves every read, as deltafs must.
func mountLoopback(b *testing.B, dir string, readAheadKB int, kernelPassthrough bool) string {
	b.Helper()
	root, err := fs.NewLoopbackRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	mnt := filepath.Join(b.TempDir(), "loop")
	os.Mkdir(mnt, 0o755)
	entry, attr := fileTimeout, fileTimeout
	var disabled uint64
	if !kernelPassthrough {
		disabled = fuse.CAP_PASSTHROUGH
	}
	server, err := fs.Mount(mnt, root, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, MaxWrite: maxWrite, MaxReadAhead: maxWrite,
			FsName: "loopback", Name: "loopback", AllowOther: true, Logger: log.New(io.Discard, "", 0),
			DisabledCapabilities: disabled},
		EntryTimeout: &entry, AttrTimeout: &attr,
		Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		b.Fatal(err)
	}
	if readAheadKB > 0 {
		setReadAhead(mnt, readAheadKB)
	}
	b.Cleanup(func() { server.Unmount() })
	return mnt
}

// dropCaches empties the kernel page cache, or skips the benchmark.
func dropCaches(b *testing.B) {
	b.Helper()
	exec.Command("sync").Run()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		b.Skipf("cannot drop the page cache: %v", err)
	}
}

// readAll reads path sequentially with 1 MiB reads and returns the bytes
// read and the time taken.
func readAll(b *testing.B, path string) (int64, time.Duration) {
	n, wall, _ := readAllCPU(b, path)
	return n, wall
}

// readAllCPU is readAll that also returns the CPU time the reading thread
// spent (the kernel's copies from the page cache; not the daemon's work).
func readAllCPU(b *testing.B, path string) (n int64, wall, cpu time.Duration) {
	b.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU(b)
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// A plain loop: io.Copy to io.Discard would use Discard's ReadFrom and
	// its 8 KiB buffer instead of this one.
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, time.Since(start), threadCPU(b) - cpu0
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// threadCPU is the CPU time (user and system) of the calling OS thread.
func threadCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// BenchmarkColdRead reads a delta-encoded tensor through a freshly opened
// store and mount with an empty page cache, against the same raw .npy
// through a pass-through FUSE mount whose daemon serves the reads
// (speed-vs-loopback, the baseline) and one where the kernel reads
// the backing file itself (speed-vs-passthrough), for the default
// read-ahead and for 1 MiB of bdi read-ahead.
func BenchmarkColdRead(b *testing.B) {
	testenv.RequireFUSE(b)
	size := envMB("DELTAFS_BENCH_TENSOR_MB", 256) << 20
	rawDir := b.TempDir()
	storeDir := benchPair(b, size, rawDir)
	for _, c := range []struct {
		ra       int
		prefetch bool
	}{{-1, false}, {-1, true}, {1024, false}, {1024, true}} {
		ra := c.ra
		b.Run(fmt.Sprintf("bdi-readahead=%dKiB/prefetch=%v", max(ra, 128), c.prefetch), func(b *testing.B) {
			prefetchEnabled = c.prefetch
			defer func() { prefetchEnabled = true }()
			loop := mountLoopback(b, rawDir, ra, false)
			loopPT := mountLoopback(b, rawDir, ra, true)
			var deltaTotal, rawTotal, rawPTTotal, storeTotal time.Duration
			var n int64
			for range b.N {
				b.StopTimer()
				s, err := store.Open(storeDir, store.Options{})
				if err != nil {
					b.Fatal(err)
				}
				m, err := Serve(context.Background(), mkMnt(b), s, MountOptions{ReadAheadKB: ra})
				if err != nil {
					b.Fatal(err)
				}
				dropCaches(b)
				b.StartTimer()
				k, d := readAll(b, filepath.Join(m.Dir(), "ft", "weight.npy"))
				b.StopTimer()
				m.Unmount()
				s.Close()
				dropCaches(b)
				storeTotal += readStoreDirect(b, storeDir, "ft/weight.npy")
				dropCaches(b)
				_, r := readAll(b, filepath.Join(loop, "weight.npy"))
				dropCaches(b)
				_, rpt := readAll(b, filepath.Join(loopPT, "weight.npy"))
				b.StartTimer()
				n, deltaTotal, rawTotal, rawPTTotal = k, deltaTotal+d, rawTotal+r, rawPTTotal+rpt
			}
			b.SetBytes(n)
			b.ReportMetric(mbps(n*int64(b.N), storeTotal), "store-direct-MiB/s")
			b.ReportMetric(mbps(n*int64(b.N), deltaTotal), "deltafs-MiB/s")
			b.ReportMetric(mbps(n*int64(b.N), rawTotal), "loopback-MiB/s")
			b.ReportMetric(rawTotal.Seconds()/deltaTotal.Seconds(), "speed-vs-loopback")
			b.ReportMetric(mbps(n*int64(b.N), rawPTTotal), "loopback-passthrough-MiB/s")
			b.ReportMetric(rawPTTotal.Seconds()/deltaTotal.Seconds(), "speed-vs-passthrough")
		})
	}
}

// readStoreDirect reads path sequentially through the store's API, without
// FUSE, on a fresh cache: the decode cost alone.
func readStoreDirect(b *testing.B, storeDir, path string) time.Duration {
	return readStoreReaders(b, storeDir, path, 1)
}

func mkMnt(b *testing.B) string {
	dir := filepath.Join(b.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkWarmRead reads a tensor already in the page cache through the
// mount, against reading the raw file from the page cache, and against a
// copy of the raw file cached in 4 KiB pages as FUSE caches its files
// (Linux 6.18's FUSE uses no large folios; see BENCHMARKS.md). The three
// reads take turns going first.
func BenchmarkWarmRead(b *testing.B) {
	testenv.RequireFUSE(b)
	size := envMB("DELTAFS_BENCH_TENSOR_MB", 256) << 20
	rawDir := b.TempDir()
	storeDir := benchPair(b, size, rawDir)
	s, err := store.Open(storeDir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := mountStore(b, s, MountOptions{})
	raw := filepath.Join(rawDir, "weight.npy")
	small := filepath.Join(rawDir, "small-pages.npy")
	if err := testfixture.CopyFile(raw, small, false); err != nil {
		b.Fatal(err)
	}
	if err := cacheInSmallPages(small); err != nil {
		b.Fatal(err)
	}
	files := []struct {
		name, path string
		wall, cpu  time.Duration
	}{
		{name: "deltafs", path: filepath.Join(m.Dir(), "ft", "weight.npy")},
		{name: "raw", path: raw},
		{name: "raw-4k", path: small},
	}
	for _, f := range files {
		readAll(b, f.path)
		l, err := pageCacheLayout(f.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %v", f.name, l)
	}
	var n int64
	b.ResetTimer()
	for i := range b.N {
		for j := range files {
			f := &files[(i+j)%len(files)]
			if f.name != "deltafs" {
				b.StopTimer()
			}
			k, wall, cpu := readAllCPU(b, f.path)
			if f.name != "deltafs" {
				b.StartTimer()
			}
			n, f.wall, f.cpu = k, f.wall+wall, f.cpu+cpu
		}
	}
	b.SetBytes(n)
	for _, f := range files {
		b.ReportMetric(mbps(n*int64(b.N), f.wall), f.name+"-MiB/s")
		b.ReportMetric(mbps(n*int64(b.N), f.cpu), f.name+"-cpuMiB/s")
	}
	b.ReportMetric(files[1].wall.Seconds()/files[0].wall.Seconds(), "speed-vs-raw")
	b.ReportMetric(files[1].cpu.Seconds()/files[0].cpu.Seconds(), "cpu-speed-vs-raw")
	b.ReportMetric(files[2].cpu.Seconds()/files[0].cpu.Seconds(), "cpu-speed-vs-raw-4k")
}

// BenchmarkTimeToFirstByte opens a large delta-encoded tensor on a fresh
// store and mount and reads its first 4 KiB (header and first values),
// against the same read of the raw file with an empty page cache.
func BenchmarkTimeToFirstByte(b *testing.B) {
	testenv.RequireFUSE(b)
	size := envMB("DELTAFS_BENCH_TTFB_MB", 1024) << 20
	rawDir := b.TempDir()
	storeDir := benchPair(b, size, rawDir)
	var openTotal time.Duration
	first := func(path string) time.Duration {
		start := time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		openTotal += time.Since(start)
		buf := make([]byte, 4096)
		if _, err := io.ReadFull(f, buf); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		f.Close()
		return d
	}
	var deltaTotal, rawTotal time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		mnt, unmount := coldMount(b, storeDir)
		b.StartTimer()
		d := first(filepath.Join(mnt, "ft", "weight.npy"))
		b.StopTimer()
		unmount()
		deltaOpen := openTotal
		dropCaches(b)
		rawTotal += first(filepath.Join(rawDir, "weight.npy"))
		openTotal = deltaOpen
		deltaTotal += d
		b.StartTimer()
	}
	b.ReportMetric(float64(deltaTotal.Microseconds())/1e3/float64(b.N), "deltafs-ms")
	b.ReportMetric(float64(openTotal.Microseconds())/1e3/float64(b.N), "deltafs-open-ms")
	b.ReportMetric(float64(rawTotal.Microseconds())/1e3/float64(b.N), "raw-ms")
}

// coldMount opens the store at storeDir, mounts it (a fresh daemon) and
// drops the page cache; it returns the mount point and what unmounts it and
// closes the store.
func coldMount(b *testing.B, storeDir string) (string, func()) {
	b.Helper()
	s, err := store.Open(storeDir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := Serve(context.Background(), mkMnt(b), s, MountOptions{})
	if err != nil {
		s.Close()
		b.Fatal(err)
	}
	dropCaches(b)
	return m.Dir(), func() {
		m.Unmount()
		s.Close()
	}
}

// procStatus returns a field of /proc/PID/status in KiB.
func procStatus(pid int, field string) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}

// BenchmarkResidentMemory serves the store from a child process (the
// daemon alone) with a cache of DELTAFS_BENCH_CACHE_MB, reads a model four
// times the cache size through it, and reports the daemon's peak resident
// memory (VmHWM) against the limit cache + 64 MiB; without and with a Go
// memory limit of cache + 48 MiB in the daemon.
func BenchmarkResidentMemory(b *testing.B) {
	testenv.RequireFUSE(b)
	cache := envMB("DELTAFS_BENCH_CACHE_MB", 64) << 20
	rawDir := b.TempDir()
	storeDir := benchPair(b, 2*cache, rawDir) // base + ft: 4× the cache
	for _, memLimit := range []int64{0, cache + 48<<20} {
		b.Run(fmt.Sprintf("gomemlimit=%dMiB", memLimit>>20), func(b *testing.B) {
			var peak, idle int64
			for range b.N {
				b.StopTimer()
				mnt := mkMnt(b)
				child := startChildMount(b, storeDir, mnt, cache, memLimit)
				dropCaches(b)
				idle = procStatus(child.Process.Pid, "VmRSS")
				b.StartTimer()
				for _, model := range []string{"base", "ft"} {
					k, _ := readAll(b, filepath.Join(mnt, model, "weight.npy"))
					b.SetBytes(2 * k)
				}
				b.StopTimer()
				peak = max(peak, procStatus(child.Process.Pid, "VmHWM"))
				child.Process.Signal(syscall.SIGTERM)
				child.Wait()
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(idle)/1024, "idle-RSS-MiB")
			b.ReportMetric(float64(cache>>20+64), "limit-MiB")
			b.ReportMetric(float64(4*cache>>20), "read-MiB")
		})
	}
}

// copyInBench is a fine-tuned model to copy into a mount, and a way to
// make a fresh store holding its base.
type copyInBench struct {
	src   string // holds base/ and ft/
	bytes int64  // of the fine-tune
}

// newCopyInBench writes the synthetic base and fine-tune.
func newCopyInBench(b *testing.B) copyInBench {
	cfg := synth.DefaultConfig()
	cfg.Dim, cfg.FFN, cfg.Vocab = 1024, 2752, 8192
	cfg.Layers = int(envMB("DELTAFS_BENCH_LAYERS", 2))
	src := b.TempDir()
	pair := testfixture.WriteModelPair(b, src, cfg, synth.DefaultFineTune(5))
	b.Logf("%s", synth.Describe(cfg))
	return copyInBench{src: src, bytes: pair.Bytes}
}

// storeWithBase is a fresh store holding only the base: a store that
// holds the fine-tune already would find each file's content stored and
// skip encoding it.
func (c copyInBench) storeWithBase(b *testing.B) *store.Store {
	s, _ := newStore(b, store.Options{})
	ingestTree(b, s, filepath.Join(c.src, "base"), "base", "")
	return s
}

// copyIn copies the fine-tune with cp -r into a fresh store mounted with
// opts, and returns how long cp took and how long until every file was
// stored (the same without write-back).
func (c copyInBench) copyIn(b *testing.B, name string, opts MountOptions) (cp, stored time.Duration) {
	s := c.storeWithBase(b)
	defer s.Close()
	m := mountStore(b, s, opts)
	if err := os.Mkdir(filepath.Join(m.Dir(), name), 0o755); err != nil {
		b.Fatal(err)
	}
	run(b, "setfattr", "-n", xattrBase, "-v", "base", filepath.Join(m.Dir(), name))
	before, err := s.Stats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	dropCaches(b)
	start := time.Now()
	run(b, "cp", "-r", filepath.Join(c.src, "ft")+"/.", filepath.Join(m.Dir(), name))
	cp = time.Since(start)
	for rs := s.RuntimeStats(); rs.WritebackFiles > 0 || rs.PendingEncodes > 0; rs = s.RuntimeStats() {
		time.Sleep(time.Millisecond)
	}
	stored = time.Since(start)
	after, err := s.Stats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if after.Objects == before.Objects {
		b.Fatal("the copy stored no new object: it measured deduplication, not encoding")
	}
	if err := m.Unmount(); err != nil {
		b.Fatal(err)
	}
	return cp, stored
}

// copyPlain copies the fine-tune with cp -r into a plain directory and
// returns how long cp took, and cp and sync together.
func (c copyInBench) copyPlain(b *testing.B, dst string) (cp, synced time.Duration) {
	dropCaches(b)
	start := time.Now()
	run(b, "cp", "-r", filepath.Join(c.src, "ft"), dst)
	cp = time.Since(start)
	// The mount's files are durable when cp ends; the plain copy's only
	// after a sync.
	run(b, "sync", "-f", dst)
	return cp, time.Since(start)
}

// BenchmarkCopyIn copies a fine-tuned model into the mount with cp -r
// (encoding against its base on close) against cp -r to a plain directory
// on the same disk.
func BenchmarkCopyIn(b *testing.B) {
	testenv.RequireFUSE(b)
	c := newCopyInBench(b)
	plain := b.TempDir()
	var mountTotal, plainTotal, plainSyncTotal, ingestTotal time.Duration
	b.SetBytes(c.bytes)
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("ft%d", i)
		b.StopTimer()
		cp, _ := c.copyIn(b, name, MountOptions{})
		mountTotal += cp
		cp, synced := c.copyPlain(b, filepath.Join(plain, name))
		plainTotal += cp
		plainSyncTotal += synced
		// The same files through the store's API, without FUSE.
		s2 := c.storeWithBase(b)
		dropCaches(b)
		start := time.Now()
		ingestTree(b, s2, filepath.Join(c.src, "ft"), name, "base")
		ingestTotal += time.Since(start)
		s2.Close()
		b.StartTimer()
	}
	b.StopTimer()
	total := c.bytes * int64(b.N)
	b.ReportMetric(mbps(total, mountTotal), "mount-MiB/s")
	b.ReportMetric(mbps(total, plainTotal), "plain-MiB/s")
	b.ReportMetric(plainTotal.Seconds()/mountTotal.Seconds(), "speed-vs-plain")
	b.ReportMetric(plainSyncTotal.Seconds()/mountTotal.Seconds(), "speed-vs-plain+sync")
	b.ReportMetric(mbps(total, ingestTotal), "store-ingest-MiB/s")
}

// BenchmarkCopyInWriteback copies a fine-tuned model with cp -r into a
// --writeback mount, beside cp -r + sync into a plain directory and cp -r
// into a mount without write-back, in the same run. stored-vs-plain+sync
// counts until the background encoding has stored every file.
func BenchmarkCopyInWriteback(b *testing.B) {
	testenv.RequireFUSE(b)
	c := newCopyInBench(b)
	plain := b.TempDir()
	var wbCp, wbStored, syncCp, plainSync time.Duration
	b.SetBytes(c.bytes)
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("ft%d", i)
		b.StopTimer()
		_, synced := c.copyPlain(b, filepath.Join(plain, name))
		plainSync += synced
		cp, stored := c.copyIn(b, name, MountOptions{Writeback: true})
		wbCp += cp
		wbStored += stored
		cp, _ = c.copyIn(b, name, MountOptions{})
		syncCp += cp
		b.StartTimer()
	}
	b.StopTimer()
	total := c.bytes * int64(b.N)
	// The timer was stopped for every copy: ns/op and MB/s are those of
	// the write-back copy, the figure this benchmark is about.
	b.ReportMetric(float64(wbCp.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(total)/1e6/wbCp.Seconds(), "MB/s")
	b.ReportMetric(mbps(total, wbCp), "writeback-MiB/s")
	b.ReportMetric(mbps(total, plainSync), "plain+sync-MiB/s")
	b.ReportMetric(plainSync.Seconds()/wbCp.Seconds(), "writeback-vs-plain+sync")
	b.ReportMetric(plainSync.Seconds()/wbStored.Seconds(), "stored-vs-plain+sync")
	b.ReportMetric(plainSync.Seconds()/syncCp.Seconds(), "no-writeback-vs-plain+sync")
}
