package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"deltafs/internal/testenv"
)

// The memory bounds the README promises, measured on the deltafs binary:
// storing a tensor of 8× the cache size, through a mount and through
// `deltafs import`, keeps the process's anonymous memory within the cache
// size + writeSlack, whatever the file's size (issue 10 item 3); eight
// readers of a tensor 8× the cache size keep the daemon within the cache
// size + readSlack. Anonymous memory (RssAnon) is what the process itself
// allocates; a mapped staging file's pages are the page cache's
// (RssFile) and the kernel may drop them at any time.
const (
	memCache   = 16 << 20
	writeSlack = 128 << 20
	readSlack  = 64 << 20
	memReaders = 8
)

// TestMemoryBounds runs the binary on a tensor 8× the cache (or of
// DELTAFS_MEM_TENSOR_MB) and fails when its peak RssAnon breaks a bound; it
// logs every figure. Under the race detector it builds the binary without
// it.
func TestMemoryBounds(t *testing.T) {
	py := testenv.Python(t)
	bin := deltafsBinary(t)
	dir := t.TempDir()
	size := int64(8 * memCache)
	if mb, err := strconv.ParseInt(os.Getenv("DELTAFS_MEM_TENSOR_MB"), 10, 64); err == nil && mb > 0 {
		size = mb << 20 // the bounds do not depend on it
	}
	src := writeModels(t, py, dir, size)
	st := filepath.Join(dir, "s")
	runBin(t, bin, "init", st)
	runBin(t, bin, "import", st, filepath.Join(src, "base"), "--as", "base")

	t.Run("import", func(t *testing.T) {
		cmd := exec.Command(bin, "import", st, filepath.Join(src, "ft"), "--as", "ft", "--base", "base")
		peak := watchMemory(t, cmd, func() {})
		reportMemory(t, "deltafs import of a fine-tune", size, peak, memCache+writeSlack)
		checkDelta(t, bin, st, "ft/weight.npy")
	})
	t.Run("import safetensors", func(t *testing.T) {
		runBin(t, bin, "import", st, filepath.Join(src, "stbase"), "--as", "stbase")
		cmd := exec.Command(bin, "import", st, filepath.Join(src, "stft"), "--as", "stft", "--base", "stbase")
		peak := watchMemory(t, cmd, func() {})
		reportMemory(t, "deltafs import of a fine-tune's model.safetensors", size, peak, memCache+writeSlack)
		if out := runBin(t, bin, "info", st, "stft/model.safetensors"); !strings.Contains(out, "delta") {
			t.Errorf("stft/model.safetensors was not stored as deltas:\n%s", out)
		}
	})
	t.Run("mount", func(t *testing.T) {
		testenv.RequireFUSE(t)
		mnt := filepath.Join(dir, "mnt")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		daemon := startMount(t, bin, st, mnt)
		pid := daemon.Process.Pid
		t.Run("write", func(t *testing.T) {
			peak := watchPID(t, pid, func() { copyIn(t, src, mnt, "ft2") })
			reportMemory(t, "cp of a fine-tune into a mount (daemon)", size, peak, memCache+writeSlack)
			checkDelta(t, bin, st, "ft2/weight.npy")
		})
		t.Run("readers", func(t *testing.T) {
			peak := watchPID(t, pid, func() { readAll(t, mnt) })
			reportMemory(t, fmt.Sprintf("%d readers through a mount (daemon)", memReaders), size, peak, memCache+readSlack)
			// Nothing is mapped while only reading: all of the resident
			// memory counts.
			if peak.hwm > memCache+readSlack {
				t.Errorf("readers: VmHWM %.1f MiB exceeds the bound of %d MiB", float64(peak.hwm)/(1<<20), (memCache+readSlack)>>20)
			}
		})
		t.Run("write beside readers", func(t *testing.T) {
			peak := watchPID(t, pid, func() {
				done := make(chan struct{})
				go func() { defer close(done); readAll(t, mnt) }()
				copyIn(t, src, mnt, "ft3")
				<-done
			})
			reportMemory(t, fmt.Sprintf("cp of a fine-tune into a mount beside %d readers (daemon)", memReaders), size, peak, memCache+writeSlack)
			checkDelta(t, bin, st, "ft3/weight.npy")
		})
		daemon.Process.Signal(syscall.SIGINT)
		daemon.Wait()
	})
	runBin(t, bin, "verify", st)
}

// copyIn copies src's fine-tune model into the mount as model (cp, as a
// user would), which stores it against the mount's default base.
func copyIn(t *testing.T, src, mnt, model string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(mnt, model), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("cp", filepath.Join(src, model, "weight.npy"), filepath.Join(mnt, model, "weight.npy")).CombinedOutput()
	if err != nil {
		t.Fatalf("cp into the mount: %v\n%s", err, out)
	}
}

// readAll reads the base and the imported fine-tune through the mount with
// memReaders readers at once.
func readAll(t *testing.T, mnt string) {
	var wg sync.WaitGroup
	for i := range memReaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := []string{"ft", "base"}[i%2]
			if err := readThrough(filepath.Join(mnt, model, "weight.npy")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// readThrough reads a file to its end, 1 MiB at a time.
func readThrough(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	return err
}

// checkDelta fails unless path was stored as a delta against the base (a
// write that found its content stored already would measure nothing).
func checkDelta(t *testing.T, bin, st, path string) {
	t.Helper()
	if out := runBin(t, bin, "info", st, path); !strings.Contains(out, "delta against it") {
		t.Errorf("%s was not stored as a delta:\n%s", path, out)
	}
}

// memPeak is the peak memory of a process, in bytes.
type memPeak struct {
	anon int64 // RssAnon, sampled
	hwm  int64 // VmHWM (resident, anonymous and file-backed), last seen
}

// reportMemory logs a figure and fails when the peak RssAnon exceeds limit.
func reportMemory(t *testing.T, what string, size int64, p memPeak, limit int64) {
	t.Helper()
	t.Logf("%s, %d MiB tensor, --cache-size %d MiB: peak RssAnon %.1f MiB (bound %d MiB), VmHWM %.1f MiB",
		what, size>>20, memCache>>20, float64(p.anon)/(1<<20), limit>>20, float64(p.hwm)/(1<<20))
	if p.anon > limit {
		t.Errorf("%s: peak RssAnon %.1f MiB exceeds the bound of %d MiB", what, float64(p.anon)/(1<<20), limit>>20)
	}
}

// watchMemory runs cmd to its end, sampling its memory, and returns the
// peak. do runs once it has started.
func watchMemory(t *testing.T, cmd *exec.Cmd, do func()) memPeak {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	peak := sampleMemory(ctx, cmd.Process.Pid)
	do()
	err := cmd.Wait()
	stop()
	p := <-peak
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.String())
	}
	return p
}

// watchPID samples the memory of the running process pid while do runs,
// its VmHWM reset first.
func watchPID(t *testing.T, pid int, do func()) memPeak {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak resident memory: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	peak := sampleMemory(ctx, pid)
	do()
	stop()
	return <-peak
}

// sampleMemory samples /proc/PID/status every millisecond until ctx is done
// or the process is gone, then sends the peak.
func sampleMemory(ctx context.Context, pid int) <-chan memPeak {
	ch := make(chan memPeak, 1)
	go func() {
		var p memPeak
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err == nil {
				p.anon = max(p.anon, statusField(data, "RssAnon"))
				p.hwm = max(p.hwm, statusField(data, "VmHWM"))
			}
			select {
			case <-ctx.Done():
				ch <- p
				return
			case <-tick.C:
			}
		}
	}()
	return ch
}

// statusField returns a "kB" field of /proc/PID/status in bytes.
func statusField(data []byte, name string) int64 {
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v << 10
			}
		}
	}
	return 0
}

// deltafsBinary returns a deltafs binary without the race detector: this
// test binary, which runs as the deltafs command under that name (see
// TestMain), or, when it is built with the race detector, one go build
// makes.
func deltafsBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "deltafs")
	if raceEnabled {
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		return bin
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runBin runs the binary to its end and returns its output.
func runBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("deltafs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeModels writes a bf16 base tensor of size bytes (float32 .npy of
// N(0, 0.02) values rounded to bf16) and three fine-tunes of it (the base
// plus noise at 2 % of its scale, each with its own seed) as
// DIR/src/MODEL/weight.npy, MODEL base, ft, ft2 and ft3, the base and ft
// as DIR/src/stMODEL/model.safetensors too (bf16, 8 tensors, size/2
// bytes), and returns DIR/src. numpy writes them: fast also when this test
// runs under the race detector.
func writeModels(t *testing.T, py, dir string, size int64) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	const script = `
import json, os, struct, sys
import numpy as np
src, n = sys.argv[1], int(sys.argv[2]) // 4
def bf16(a):
    return (a.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
base = np.random.default_rng(1).standard_normal(n, dtype=np.float32) * np.float32(0.02)
models = {"base": bf16(base)}
for i, name in enumerate(["ft", "ft2", "ft3"]):
    noise = np.random.default_rng(2 + i).standard_normal(n, dtype=np.float32) * np.float32(0.0004)
    models[name] = bf16(base + noise)
for name, a in models.items():
    os.makedirs(os.path.join(src, name), exist_ok=True)
    np.save(os.path.join(src, name, "weight.npy"), a.reshape(-1, 4096))
# The base and the first fine-tune as one model.safetensors each: the same
# values in bf16 (the upper halves), in 8 tensors.
for name in ["base", "ft"]:
    words = (models[name].view(np.uint32) >> np.uint32(16)).astype("<u2").reshape(8, -1, 4096)
    meta, off = {}, 0
    for i, w in enumerate(words):
        meta["layers.%d.weight" % i] = {"dtype": "BF16", "shape": list(w.shape), "data_offsets": [off, off + w.nbytes]}
        off += w.nbytes
    head = json.dumps(meta).encode()
    head += b" " * (-len(head) % 8)
    os.makedirs(os.path.join(src, "st" + name), exist_ok=True)
    with open(os.path.join(src, "st" + name, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for w in words:
            f.write(w.tobytes())
`
	if out, err := exec.Command(py, "-c", script, src, strconv.FormatInt(size, 10)).CombinedOutput(); err != nil {
		t.Fatalf("generate the tensors: %v\n%s", err, out)
	}
	return src
}

// startMount starts `deltafs mount` of st at mnt with the test's cache
// size and the base model as the default base, and returns once it
// serves; the test's cleanup stops it.
func startMount(t *testing.T, bin, st, mnt string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "mount", st, mnt, "--base", "base", "--cache-size", strconv.Itoa(memCache>>20)+"MiB")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "deltafs: serving") {
		t.Fatalf("mount did not get ready: %q %v", line, err)
	}
	return cmd
}
