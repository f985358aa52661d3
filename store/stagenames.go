package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"deltafs/internal/durable"
)

// Staging files of a session are numbered as they are created, so that
// RecordPending can tell whether a file's name is durable already: every
// file created before an fsync of the session's directory began is named
// durably once it returns. A write-back close() then needs no fsync of the
// directory of its own when its staging file came from a small pool of
// files created, and named durably, ahead of time in the background.
const (
	stagePrefix = "stage-"
	// stagePoolSize is how many empty staging files with durable names
	// are kept ready; each refill creates what is missing and fsyncs the
	// directory once.
	stagePoolSize = 8
)

// stageFiles creates the staging files of one session and keeps the pool.
type stageFiles struct {
	dir string
	// syncDir fsyncs a directory (durable.SyncDir; tests count calls).
	syncDir func(dir string) error

	mu      sync.Mutex // orders creates against the numbers they get
	created uint64     // number of the latest file created, under mu
	// durable: every file numbered up to it has a durable name.
	durable atomic.Uint64

	startOnce sync.Once
	pool      chan *os.File // empty files with durable names
	refill    chan struct{} // asks the refiller to top the pool up
	stop      chan struct{} // closed by close
	done      chan struct{} // closed when the refiller returns
}

func newStageFiles(dir string) *stageFiles {
	return &stageFiles{
		dir: dir, syncDir: durable.SyncDir,
		pool: make(chan *os.File, stagePoolSize), refill: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// create makes a new empty staging file; its name is durable only after
// the next fsync of the directory that begins once it returns.
func (sf *stageFiles) create() (*os.File, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	n := sf.created + 1
	f, err := os.OpenFile(filepath.Join(sf.dir, stagePrefix+strconv.FormatUint(n, 10)+"-"+randomHex(4)),
		os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	sf.created = n
	return f, nil
}

// sync fsyncs the directory: the names of every file created so far are
// durable once it returns.
func (sf *stageFiles) sync() error {
	sf.mu.Lock()
	upTo := sf.created
	sf.mu.Unlock()
	if err := sf.syncDir(sf.dir); err != nil {
		return err
	}
	for {
		d := sf.durable.Load()
		if d >= upTo || sf.durable.CompareAndSwap(d, upTo) {
			return nil
		}
	}
}

// number is the creation number of a staging file named name, or 0 when
// create did not make it.
func stageNumber(name string) uint64 {
	rest, ok := strings.CutPrefix(filepath.Base(name), stagePrefix)
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "-")
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// ensureDurableName makes the name of staging file name durable: at once
// when it is already, else with an fsync of the directory.
func (sf *stageFiles) ensureDurableName(name string) error {
	if n := stageNumber(name); n != 0 && n <= sf.durable.Load() {
		return nil
	}
	return sf.sync()
}

// take returns an empty staging file, from the pool when it has one (its
// name durable already), else a new one, and has the pool topped up. A
// pooled file removed meanwhile (GC removes idle staging files) is not
// handed out.
func (sf *stageFiles) take() (*os.File, error) {
	sf.startOnce.Do(func() { go sf.refiller() })
	defer sf.askRefill()
	for {
		select {
		case f := <-sf.pool:
			if stillLinked(f, f.Name()) {
				return f, nil
			}
			f.Close()
		default:
			return sf.create()
		}
	}
}

func (sf *stageFiles) askRefill() {
	select {
	case sf.refill <- struct{}{}:
	default:
	}
}

// refiller tops the pool up whenever asked, until close.
func (sf *stageFiles) refiller() {
	defer close(sf.done)
	sf.askRefill()
	for {
		select {
		case <-sf.stop:
			return
		case <-sf.refill:
		}
		// A failure leaves the pool short: take creates files itself.
		_ = sf.topUp()
	}
}

// topUp creates the files the pool lacks, makes their names durable with
// one fsync of the directory, and adds them to the pool.
func (sf *stageFiles) topUp() error {
	var files []*os.File
	for range cap(sf.pool) - len(sf.pool) {
		f, err := sf.create()
		if err != nil {
			break
		}
		files = append(files, f)
	}
	err := sf.sync()
	for _, f := range files {
		if err != nil {
			discardFile(f)
			continue
		}
		select {
		case sf.pool <- f:
		default: // filled meanwhile? only this goroutine fills it
			discardFile(f)
		}
	}
	return err
}

// close stops the refiller and removes the files of the pool.
func (sf *stageFiles) close() error {
	close(sf.stop)
	started := true
	sf.startOnce.Do(func() { started = false })
	if started {
		<-sf.done
	}
	var errs []error
	for {
		select {
		case f := <-sf.pool:
			errs = append(errs, discardFile(f))
		default:
			return errors.Join(errs...)
		}
	}
}

// discardFile closes and removes f.
func discardFile(f *os.File) error {
	err := f.Close()
	if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("staging file: %w", err)
	}
	return nil
}
