package fusefs

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"deltafs/internal/testenv"
	"deltafs/store"
)

// TestPrepareMountPoint looks at every kind of mount point a mount may be
// asked for, with real mounts served by a child process: a stale mount of
// a killed daemon is cleared with one log line, a live one is refused, and
// so is one whose daemon is stopped (within the probe's timeout, never
// blocking); a directory holding files gets a warning.
func TestPrepareMountPoint(t *testing.T) {
	testenv.RequireFUSE(t)
	old := probeTimeout
	probeTimeout = time.Second
	t.Cleanup(func() { probeTimeout = old })
	storeDir := filepath.Join(t.TempDir(), "store")
	mustOK(t, store.Init(storeDir))

	// served mounts storeDir at a new directory in a child process and
	// applies signal to it (nil: none).
	served := func(t *testing.T, signal syscall.Signal) string {
		mnt := filepath.Join(t.TempDir(), "mnt")
		mustOK(t, os.Mkdir(mnt, 0o755))
		child := startChildMount(t, storeDir, mnt, 0, 0)
		t.Cleanup(func() { stopChild(child, mnt) })
		if signal != 0 {
			mustOK(t, child.Process.Signal(signal))
		}
		if signal == syscall.SIGKILL {
			child.Wait()
		}
		return mnt
	}
	tests := []struct {
		name     string
		dir      func(t *testing.T) string
		wantErr  error  // nil: prepared
		wantLog  string // a line the log must hold
		maxDelay time.Duration
	}{
		{"empty directory", func(t *testing.T) string { return t.TempDir() }, nil, "", time.Second},
		{"directory holding files", func(t *testing.T) string {
			dir := t.TempDir()
			mustOK(t, os.WriteFile(filepath.Join(dir, "mine"), nil, 0o644))
			return dir
		}, nil, "the mount point is not empty", time.Second},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, fs.ErrNotExist, "", time.Second},
		{"a file", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "f")
			mustOK(t, os.WriteFile(f, nil, 0o644))
			return f
		}, syscall.ENOTDIR, "", time.Second},
		{"live mount", func(t *testing.T) string { return served(t, 0) }, ErrMountPointBusy, "", time.Second},
		{"stopped daemon", func(t *testing.T) string { return served(t, syscall.SIGSTOP) }, ErrMountPointBusy, "", 3 * time.Second},
		{"killed daemon", func(t *testing.T) string { return served(t, syscall.SIGKILL) }, nil, "cleared a stale mount", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			logger, logs := newTestLogger(t)
			start := time.Now()
			err := prepareMountPoint(dir, logger)
			if took := time.Since(start); took > tt.maxDelay {
				t.Errorf("took %v, want at most %v", took, tt.maxDelay)
			}
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("prepare %s: %v", tt.name, err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("prepare %s: %v, want %v", tt.name, err, tt.wantErr)
			}
			if tt.wantLog != "" && strings.Count(logs.String(), tt.wantLog) != 1 {
				t.Errorf("log %q, want one line with %q", logs.String(), tt.wantLog)
			}
			if tt.wantLog == "" && logs.String() != "" {
				t.Errorf("unexpected log %q", logs.String())
			}
			if tt.wantErr == nil {
				if root, err := isMountRoot(dir); err != nil || root {
					t.Errorf("after prepare, %s is a mount root (%v): the mount would stack", dir, err)
				}
			}
		})
	}
}

// stopChild ends a child mount whatever its state and removes what is
// left at mnt.
func stopChild(child *exec.Cmd, mnt string) {
	child.Process.Signal(syscall.SIGCONT)
	child.Process.Kill()
	child.Wait()
	lazyUnmount(mnt)
}
