package fusefs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"deltafs/store"
)

// childEnv, set to "STORE_DIR:MOUNT_DIR", makes the test binary serve that
// store at that mount point instead of running tests (see TestMain).
const childEnv = "DELTAFS_FUSEFS_TEST_CHILD"

// childCacheEnv sets the cache size of the child's store (bytes).
const childCacheEnv = "DELTAFS_FUSEFS_TEST_CHILD_CACHE"

// childMemLimitEnv sets the Go memory limit of the child (bytes).
const childMemLimitEnv = "DELTAFS_FUSEFS_TEST_CHILD_MEMLIMIT"

// childWritebackEnv, set to "slow", mounts with write-back and makes every
// ingest of the child wait a while first, so that files stay pending.
const childWritebackEnv = "DELTAFS_FUSEFS_TEST_CHILD_WRITEBACK"

// slowStore delays every ingest.
type slowStore struct{ *store.Store }

func (s slowStore) Ingest(ctx context.Context, path string, src *os.File, opts store.IngestOptions) (store.FileInfo, error) {
	time.Sleep(300 * time.Millisecond)
	return s.Store.Ingest(ctx, path, src, opts)
}

// startChildMount starts the test binary serving storeDir at mnt in a child
// process and returns once the mount answers.
func startChildMount(t testing.TB, storeDir, mnt string, cache, memLimit int64) *exec.Cmd {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	child.Env = append(os.Environ(), childEnv+"="+storeDir+":"+mnt,
		childCacheEnv+"="+strconv.FormatInt(cache, 10), childMemLimitEnv+"="+strconv.FormatInt(memLimit, 10))
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child did not get ready: %q %v", line, err)
	}
	return child
}

// runChildMount is the child side of TestCrashDuringWrites.
func runChildMount() int {
	storeDir, mnt, ok := strings.Cut(os.Getenv(childEnv), ":")
	if !ok {
		fmt.Fprintln(os.Stderr, "bad", childEnv)
		return 2
	}
	cache, _ := strconv.ParseInt(os.Getenv(childCacheEnv), 10, 64)
	if limit, _ := strconv.ParseInt(os.Getenv(childMemLimitEnv), 10, 64); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	s, err := store.Open(storeDir, store.Options{CacheSize: cache})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open store:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var backend Backend = s
	var mopts MountOptions
	if os.Getenv(childWritebackEnv) == "slow" {
		backend, mopts.Writeback = slowStore{s}, true
	}
	m, err := Serve(ctx, mnt, backend, mopts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	fmt.Println("ready")
	m.Wait()
	s.Close()
	return 0
}
