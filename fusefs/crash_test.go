package fusefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"deltafs/internal/testenv"
	"deltafs/store"
)

// npyFloat32 returns a .npy file of n float32 values derived from seed.
func npyFloat32(seed, n int) []byte {
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }", n)
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	for i := range n {
		binary.Write(&b, binary.LittleEndian, float32(seed)+float32(i%1000)*1e-3)
	}
	return b.Bytes()
}

// TestCrashDuringWrites kills the mounting process with SIGKILL in the
// middle of a stream of writes; after mounting again every file whose
// close() returned 0 is intact, no partial file is visible and the store
// verifies.
func TestCrashDuringWrites(t *testing.T) {
	testenv.RequireFUSE(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(storeDir); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}

	child := startChildMount(t, storeDir, mnt, 0, 0)
	killed := false
	t.Cleanup(func() {
		if !killed {
			child.Process.Kill()
			child.Wait()
		}
		if _, err := os.Stat(mnt); err != nil {
			lazyUnmount(mnt) // still the dead mount: the test failed early
		}
	})
	if err := os.Mkdir(filepath.Join(mnt, "m"), 0o755); err != nil {
		t.Fatal(err)
	}

	const n = 64 << 10 // values per file: 256 KiB
	var closedOK []int
	var attempted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			attempted.Store(int64(i + 1))
			if err := os.WriteFile(filepath.Join(mnt, "m", fmt.Sprintf("f%04d.npy", i)), npyFloat32(i, n), 0o644); err != nil {
				return
			}
			closedOK = append(closedOK, i)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for attempted.Load() < 12 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	killed = true
	<-done
	if len(closedOK) < 5 {
		t.Fatalf("only %d files written before the kill", len(closedOK))
	}

	s, err := store.Open(storeDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := mountAt(t, s, mnt, MountOptions{}) // clears the stale mount
	visible := listFiles(t, filepath.Join(m.Dir(), "m"))
	if len(visible) < len(closedOK) || len(visible) > len(closedOK)+1 {
		t.Errorf("%d files visible, %d closed without error", len(visible), len(closedOK))
	}
	for _, name := range visible {
		var i int
		if _, err := fmt.Sscanf(name, "f%04d.npy", &i); err != nil {
			t.Errorf("unexpected file %q", name)
			continue
		}
		got, err := os.ReadFile(filepath.Join(m.Dir(), "m", name))
		if err != nil || !bytes.Equal(got, npyFloat32(i, n)) {
			t.Errorf("%s: partial or wrong content (%d bytes, %v)", name, len(got), err)
		}
	}
	problems, err := s.Verify(context.Background(), "", nil)
	if err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
	t.Logf("%d files closed without error before the kill, %d visible after", len(closedOK), len(visible))
}
