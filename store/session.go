package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"deltafs/internal/durable"
)

// A session is one writable open of the store by one process. It owns a
// directory staging/s-ID where that process spools the files being
// written, and a lock file staging/s-ID.lock that it holds flock-ed
// exclusively while the store is open. The kernel drops the lock when the
// process dies, however it dies, so any process can tell a dead session
// from a live one by trying the lock: a session whose lock is free is dead,
// and what it left (staging files, pending write-back files, a half-done
// import) is recovered or removed by the process that took the lock.
// Nothing of a session whose lock is held is ever touched.
const (
	sessionPrefix  = "s-"
	sessionLockExt = ".lock"
)

// session is this process's own session.
type session struct {
	name  string      // "s-" and 16 hex digits
	dir   string      // its staging directory
	lock  *os.File    // its lock file, flock-ed exclusively
	files *stageFiles // creates its staging files
}

// newSession creates and locks a new session in the staging directory.
func newSession(staging string) (*session, error) {
	for range 8 {
		name := sessionPrefix + randomHex(8)
		lock, err := createLocked(filepath.Join(staging, name+sessionLockExt))
		if errors.Is(err, os.ErrExist) || errors.Is(err, errLockLost) {
			continue // a name taken, or the lock file taken for dead: retry
		}
		if err != nil {
			return nil, fmt.Errorf("session: %w", err)
		}
		dir := filepath.Join(staging, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			lock.Close()
			return nil, fmt.Errorf("session: %w", err)
		}
		// The directory must survive a crash: pending files live in it.
		if err := durable.SyncDir(staging); err != nil {
			lock.Close()
			return nil, fmt.Errorf("session: %w", err)
		}
		return &session{name: name, dir: dir, lock: lock, files: newStageFiles(dir)}, nil
	}
	return nil, errors.New("session: no free session name")
}

// errLockLost means a lock file was removed (by a process taking it for
// dead) between its creation and its locking.
var errLockLost = errors.New("session lock file removed while being locked")

// createLocked creates name exclusively and flocks it. Another process may
// take the fresh, not yet locked file for the lock of a dead session and
// remove it: then errLockLost.
func createLocked(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, ErrBusy) {
			return nil, errLockLost
		}
		return nil, err
	}
	if !stillLinked(f, name) {
		f.Close()
		return nil, errLockLost
	}
	return f, nil
}

// stillLinked reports whether name is the file f has open.
func stillLinked(f *os.File, name string) bool {
	fst, err1 := f.Stat()
	nst, err2 := os.Stat(name)
	return err1 == nil && err2 == nil && os.SameFile(fst, nst)
}

// lockDead takes the lock file name when its session is dead: it returns
// the file locked, or nil when the session is alive (or the lock file went
// away meanwhile).
func lockDead(name string) (*os.File, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, ErrBusy) {
			return nil, nil
		}
		return nil, err
	}
	if !stillLinked(f, name) { // another process cleaned it up first
		f.Close()
		return nil, nil
	}
	return f, nil
}

// sessionOfLock returns the session name of a lock file name, or "".
func sessionOfLock(file string) string {
	name, ok := strings.CutSuffix(file, sessionLockExt)
	if !ok || !strings.HasPrefix(name, sessionPrefix) {
		return ""
	}
	return name
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// close removes the session's directory when remove is set (nothing left
// in it is needed) and releases the lock; a kept directory is recovered by
// the next process to open the store.
func (ss *session) close(remove bool) error {
	var errs []error
	if ss.files != nil { // nil for a dead session being recovered
		errs = append(errs, ss.files.close())
	}
	if remove {
		if err := os.RemoveAll(ss.dir); err != nil {
			errs = append(errs, err)
		} else if err := os.Remove(ss.lock.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, ss.lock.Close())
	return errors.Join(errs...)
}
