package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"deltafs/internal/durable"
)

// The layout of a store directory:
//
//	deltafs-store   marker: "deltafs-store <format version>\n"
//	catalog.db      the SQLite catalog
//	objects/        content-addressed object files
//	staging/        spool files of writes in progress
const (
	markerName     = "deltafs-store"
	catalogName    = "catalog.db"
	objectsDirName = "objects"
	stagingDirName = "staging"

	// storeFormatVersion is the version of the layout above.
	storeFormatVersion = 1
)

// Init creates an empty store in dir (created if missing, must be empty).
func Init(dir string) error {
	if err := prepareInit(dir); err != nil {
		return err
	}
	// The marker goes first: Open creates whatever else is missing, so a
	// crash during Init leaves a store that opens.
	if err := writeMarker(dir); err != nil {
		return err
	}
	s, err := Open(dir, Options{})
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	return s.Close()
}

// prepareInit creates dir for a new store, or checks that it is empty.
func prepareInit(dir string) error {
	if err := checkMarker(dir); err == nil {
		return fmt.Errorf("init %s: %w: already a deltafs store", dir, ErrExist)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	names, err := readDirNames(dir)
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("init %s: %w: directory is not empty and not a deltafs store", dir, ErrNotEmpty)
	}
	return nil
}

// writeMarker writes the file that makes dir a store.
func writeMarker(dir string) error {
	marker := fmt.Sprintf("%s %d\n", markerName, storeFormatVersion)
	if err := writeFileAtomic(filepath.Join(dir, markerName), []byte(marker)); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	return nil
}

// checkMarker verifies that dir holds a store of a format this code reads.
func checkMarker(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, markerName))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("%s: %w: %w", dir, ErrNotStore, serr)
		}
		return fmt.Errorf("%s: %w (no %s file; create one with `deltafs init`)", dir, ErrNotStore, markerName)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", dir, ErrNotStore, err)
	}
	return parseMarker(dir, b)
}

// parseMarker checks the content of a store's marker file.
func parseMarker(dir string, b []byte) error {
	fields := strings.Fields(string(b))
	if len(fields) != 2 || fields[0] != markerName {
		return fmt.Errorf("%s: %w (unreadable %s file)", dir, ErrNotStore, markerName)
	}
	v, err := strconv.Atoi(fields[1])
	if err != nil || v < 1 {
		return fmt.Errorf("%s: %w (bad format version %q)", dir, ErrNotStore, fields[1])
	}
	if v > storeFormatVersion {
		return fmt.Errorf("%s: %w: store format %d, this deltafs reads up to %d", dir, ErrNewerSchema, v, storeFormatVersion)
	}
	return nil
}

// readDirNames lists the names in dir.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// writeFileAtomic writes data to name via a temp file, fsync and rename,
// then fsyncs the directory.
func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// lockShared opens name and takes a shared flock on it, held while the
// store is open; GC upgrades it to exclusive.
func lockShared(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock store: %w", err)
	}
	return f, nil
}

// flock applies how to f, retrying on EINTR; a held conflicting lock is
// ErrBusy.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return ErrBusy
		default:
			return err
		}
	}
}
