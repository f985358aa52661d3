// Package testenv finds what tests need from the machine (a Python with
// numpy, a usable /dev/fuse) and decides whether a missing piece skips the
// test or fails it: under CI (CI=true) or with DELTAFS_REQUIRE_FUSE=1 a
// missing piece is a failure, never a silent skip.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

var (
	pyOnce sync.Once
	pyPath string
)

// strict reports whether missing test dependencies must fail the test.
func strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv("DELTAFS_REQUIRE_FUSE") == "1"
}

// Python returns a python3 that can import numpy. It prefers
// $DELTAFS_PYTHON, then the system interpreter (where Debian's python3-numpy
// installs), then python3 on PATH. Without one the test is skipped, or
// failed under CI.
func Python(t testing.TB) string {
	t.Helper()
	pyOnce.Do(func() {
		candidates := []string{os.Getenv("DELTAFS_PYTHON"), "/usr/bin/python3", "python3"}
		for _, c := range candidates {
			if c == "" {
				continue
			}
			if exec.Command(c, "-c", "import numpy").Run() == nil {
				pyPath = c
				return
			}
		}
	})
	if pyPath == "" {
		if strict() {
			t.Fatal("no python3 with numpy found (install python3-numpy)")
		}
		t.Skip("no python3 with numpy found (install python3-numpy)")
	}
	return pyPath
}

// PythonTorch returns a python3 (the one Python returns) that can also
// import torch. Without torch the test is skipped, or failed under CI.
func PythonTorch(t testing.TB) string {
	t.Helper()
	py := Python(t)
	if out, err := exec.Command(py, "-c", "import torch").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import torch (install python3-torch): %v: %s", py, err, out)
		if strict() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// RequireFUSE skips the test when /dev/fuse is missing or the test is not
// running as root; with DELTAFS_REQUIRE_FUSE=1 it fails instead.
func RequireFUSE(t testing.TB) {
	t.Helper()
	reason := ""
	if _, err := os.Stat("/dev/fuse"); err != nil {
		reason = "/dev/fuse is missing"
	} else if os.Geteuid() != 0 {
		reason = "FUSE tests mount with DirectMount and need root"
	}
	if reason == "" {
		return
	}
	if os.Getenv("DELTAFS_REQUIRE_FUSE") == "1" {
		t.Fatalf("FUSE required (DELTAFS_REQUIRE_FUSE=1) but %s", reason)
	}
	t.Skip(reason)
}

// Tmpfs mounts a tmpfs of the given size ("512k", "3m") on a new temporary
// directory, unmounted when the test ends, and returns the directory: a
// small disk that fills up. It needs root; without root, or when the mount
// fails, the test is skipped.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// SharedFixture returns the path of a file of the project's shared fixtures
// (see SharedFixturePath). When the file is missing the test is skipped, or
// failed under CI or with DELTAFS_REQUIRE_FUSE=1.
func SharedFixture(t testing.TB, rel string) string {
	t.Helper()
	path, err := SharedFixturePath(rel)
	if err != nil {
		if strict() {
			t.Fatalf("shared fixture missing (CI or DELTAFS_REQUIRE_FUSE=1): %v", err)
		}
		t.Skipf("shared fixture missing: %v", err)
	}
	return path
}

// SharedFixturePath returns the path of a file of the project's shared
// fixtures, kept outside the repository in shared/fixtures beside the clone
// (CI clones the repository with shared/ beside it), or an error when it
// is not there. $DELTAFS_SHARED names another shared directory.
func SharedFixturePath(rel string) (string, error) {
	shared := os.Getenv("DELTAFS_SHARED")
	if shared == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		shared = filepath.Join(root, "..", "shared")
	}
	path := filepath.Join(shared, "fixtures", filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return path, nil
}

// repoRoot returns the directory holding go.mod, above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Missing reports a missing prerequisite of the test: a skip, or a failure
// under CI (CI=true) or with DELTAFS_REQUIRE_FUSE=1. Harnesses of real
// servers (PostgreSQL, an S3 server) use it so that CI never passes by
// skipping them.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if strict() {
		t.Fatalf("prerequisite missing (CI or DELTAFS_REQUIRE_FUSE=1): %s", msg)
	}
	t.Skip(msg)
}

// RepoRoot returns the repository's root directory (the one holding go.mod
// above the working directory).
func RepoRoot() (string, error) { return repoRoot() }
