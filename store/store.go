package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"deltafs/cache"
	"deltafs/catalog"
	"deltafs/delta"
	"deltafs/internal/fault"
)

// Sentinel errors; callers (the mount's errno mapping, the CLI's exit codes)
// branch on them with errors.Is.
var (
	ErrNotStore    = errors.New("store: not a deltafs store")
	ErrNotFound    = catalog.ErrNotFound
	ErrExist       = catalog.ErrExist
	ErrNotDir      = catalog.ErrNotDir
	ErrIsDir       = catalog.ErrIsDir
	ErrNotEmpty    = catalog.ErrNotEmpty
	ErrInvalidPath = catalog.ErrInvalidPath
	ErrNewerSchema = catalog.ErrNewerSchema
	ErrReadOnly    = errors.New("store: read-only")
	// ErrCorrupt means stored data failed an integrity check; every such
	// error of the layers below (an object file's checksum, a decode, a
	// reconstruction hash) matches it too.
	ErrCorrupt = fault.Corrupt
	ErrNoBase  = errors.New("store: base model does not exist")
	// ErrBaseCycle means a SetBase would make a model its own ancestor.
	ErrBaseCycle = catalog.ErrCycle
	// ErrBusy means another process holds the store in a way that excludes
	// the operation (GC needs the store to itself), or the catalog stayed
	// locked by another writer past its timeout.
	ErrBusy = fault.Busy
	// ErrLossyNotAllowed means a lossy strategy was asked for without
	// AllowLossy.
	ErrLossyNotAllowed = delta.ErrLossyNotAllowed
)

// Default option values.
const (
	DefaultCacheSize     = 1 << 30
	DefaultMaxChainDepth = 8
	// maxOpenObjects bounds the opened object files kept for reuse.
	maxOpenObjects = 128
)

// Options configure an open store.
type Options struct {
	CacheSize     int64        // bytes of reconstructed chunks kept; default 1 GiB
	Logger        *slog.Logger // nil: silent
	Delta         delta.Config // encoder settings; zero value: delta.DefaultConfig()
	ReadOnly      bool
	DefaultBase   string // base model for new top-level directories ("" none)
	MaxChainDepth int    // default 8
	// SkipWriteCheck skips decoding each new object before it is committed
	// (by default every encoded object is decoded and compared with its
	// input, so a codec fault can never lose what a user wrote).
	SkipWriteCheck bool
	// Settings override the settings kept in the catalog for everything
	// this open store ingests (a mount's command line).
	Settings Overrides
	// DiskCacheSize bounds the disk cache of a remote store's object
	// ranges (0: its handle's configuration, or the default); unused by
	// a local store.
	DiskCacheSize int64
}

// Store is an open store. Safe for concurrent use.
type Store struct {
	dir     string
	opts    Options
	cfg     delta.Config
	log     *slog.Logger
	catalog catalog.Catalog
	objects catalog.ObjectStore
	chunks  *cache.Cache[chunkKey]
	handles *handlePool
	lock    *os.File // the marker file, flock-ed shared while open
	session *session // this open's staging directory and its lock (nil: read-only)
	// prefetchSem bounds background read-aheads (nil: none).
	prefetchSem chan struct{}
	staging     string
	self        Owner // this process's user and group: see processOwner
	closeMu     sync.Once
	closeErr    error

	// updateMu serialises this process's catalog transactions: SQLite
	// admits one writer, and a second one would poll-sleep for its turn.
	updateMu sync.Mutex

	// gcMu orders GC (writer) against ingests and mutations (readers) of
	// this process: GC must not delete an object an ingest just wrote.
	gcMu sync.RWMutex

	// stagingGrace is how old a staging file must be before GC removes it.
	stagingGrace time.Duration
	// gcInterrupt, when set (tests), is called between GC's steps; a
	// non-nil error stops GC there as a crash would.
	gcInterrupt func(step string) error

	bytesDecoded   atomic.Int64
	chunksDecoded  atomic.Int64
	decodeNanos    atomic.Int64
	pendingEncodes atomic.Int64  // ingests running or waiting for a slot
	largeIngests   chan struct{} // slots of ingests of large files
	bufs           chunkBufs     // decoded-chunk buffers for reuse
	lastError      atomic.Pointer[string]

	recoveryMu sync.Mutex
	recovery   Recovery // what Open finished for dead processes

	// remote: the catalog and objects are shared by other hosts (see
	// remote.go), which no local lock excludes.
	remote bool
	// records caches the records of the objects a remote store's host
	// opened (records.go); nil for a local store.
	records *recordCache

	backlogMu sync.Mutex
	backlog   map[int64]int64 // this process's pending write-back files: id → bytes
}

// Open opens the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if err := checkMarker(dir); err != nil {
		return nil, err
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.MaxChainDepth <= 0 {
		opts.MaxChainDepth = DefaultMaxChainDepth
	}
	cfg := opts.Delta
	if cfg == (delta.Config{}) {
		cfg = delta.DefaultConfig()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		dir:          dir,
		opts:         opts,
		cfg:          cfg,
		log:          logger,
		staging:      filepath.Join(dir, stagingDirName),
		stagingGrace: time.Minute,
		backlog:      make(map[int64]int64),
		self:         processOwner(),
	}
	lock, err := lockShared(filepath.Join(dir, markerName))
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.openParts(); err != nil {
		s.Close()
		return nil, err
	}
	if !opts.ReadOnly {
		if s.session, err = newSession(s.staging); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	// Finish what crashed processes left behind. A read-only open does it
	// too when it can write the directory: a file a write-back mount
	// acknowledged must be there for the next command, whatever it is.
	if !opts.ReadOnly || s.canWrite() {
		if _, err := s.recoverDead(context.Background()); err != nil {
			logger.Warn("could not finish the work of a process that is gone; retried at the next open", "err", err)
		}
	}
	if opts.DefaultBase != "" && !opts.ReadOnly {
		if _, err := s.catalog.Model(context.Background(), opts.DefaultBase); err != nil {
			s.Close()
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, fmt.Errorf("default base %q: %w", opts.DefaultBase, ErrNoBase)
			}
			return nil, fmt.Errorf("default base %q: %w", opts.DefaultBase, err)
		}
	}
	return s, nil
}

// openParts opens the catalog, the object store, the cache and the staging
// directory of an open store.
func (s *Store) openParts() error {
	remote, isRemote, err := readRemoteConfig(s.dir)
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	if !s.opts.ReadOnly {
		subs := []string{objectsDirName, stagingDirName}
		if isRemote {
			subs = []string{tmpDirName, cacheDirName, stagingDirName}
		}
		for _, sub := range subs {
			if err := os.MkdirAll(filepath.Join(s.dir, sub), 0o755); err != nil {
				return fmt.Errorf("open store %s: %w", s.dir, err)
			}
		}
	}
	if isRemote {
		if err := s.openRemote(context.Background(), remote); err != nil {
			return err
		}
		s.remote = true
	} else if err := s.openLocal(); err != nil {
		return err
	}
	s.chunks = cache.New[chunkKey](s.opts.CacheSize)
	s.chunks.OnFree(s.bufs.put)
	s.handles = newHandlePool(maxOpenObjects)
	s.prefetchSem = make(chan struct{}, maxPrefetches)
	s.largeIngests = make(chan struct{}, maxLargeIngests)
	return nil
}

// openLocal opens the SQLite catalog and the object directory of a local
// store.
func (s *Store) openLocal() error {
	cat, err := catalog.OpenSQLite(filepath.Join(s.dir, catalogName))
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	objs, err := catalog.NewDirObjects(filepath.Join(s.dir, objectsDirName))
	if err != nil {
		cat.Close()
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	s.catalog, s.objects = cat, objs
	return nil
}

// Close releases the store.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		var errs []error
		if s.session != nil {
			// Files still pending are stored now; what cannot be is kept
			// for the next open.
			done, err := s.finishSession(context.Background(), s.session)
			if err != nil {
				s.log.Error("pending files not stored; kept for the next open", "err", err)
			}
			errs = append(errs, s.session.close(done))
		}
		if s.prefetchSem != nil { // wait for read-aheads to finish
			for range cap(s.prefetchSem) {
				s.prefetchSem <- struct{}{}
			}
		}
		if s.handles != nil {
			s.handles.closeAll()
		}
		errs = append(errs, s.records.close())
		if s.catalog != nil {
			errs = append(errs, s.catalog.Close())
		}
		if c, ok := s.objects.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
		if s.lock != nil {
			errs = append(errs, s.lock.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// StagingDir is a directory on the store's disk for spooling new files:
// this open's own (see session), removed with what is left in it when the
// store is closed or, after a crash, by the next process to open the store.
func (s *Store) StagingDir() string {
	if s.session != nil {
		return s.session.dir
	}
	return s.staging
}

// CreateStagingFile creates an empty file in StagingDir to spool a new
// file in. With durableName (for a file to be recorded with
// RecordPending), it comes when it can from a few made ahead of time whose
// names are durable already, so that RecordPending needs no fsync of the
// directory.
func (s *Store) CreateStagingFile(durableName bool) (*os.File, error) {
	if s.session == nil {
		return os.CreateTemp(s.staging, "spool-*")
	}
	if durableName {
		return s.session.files.take()
	}
	return s.session.files.create()
}

// RuntimeStats are live counters of an open store.
type RuntimeStats struct {
	CacheHits, CacheMisses, CacheEvictions uint64
	CacheBytes, CacheMaxBytes              int64
	BytesDecoded                           int64
	ChunksDecoded                          int64
	DecodeNanos                            int64 // total time spent decoding chunks
	PendingEncodes                         int64
	// WritebackFiles and WritebackBytes are the backlog of files closed
	// through a write-back mount and not yet stored (RecordPending).
	WritebackFiles, WritebackBytes int64
	LastError                      string
}

// RuntimeStats returns a snapshot of the live counters.
func (s *Store) RuntimeStats() RuntimeStats {
	cs := s.chunks.Stats()
	rs := RuntimeStats{
		CacheHits:      cs.Hits,
		CacheMisses:    cs.Misses,
		CacheEvictions: cs.Evictions,
		CacheBytes:     cs.Bytes,
		CacheMaxBytes:  cs.MaxBytes,
		BytesDecoded:   s.bytesDecoded.Load(),
		ChunksDecoded:  s.chunksDecoded.Load(),
		DecodeNanos:    s.decodeNanos.Load(),
		PendingEncodes: s.pendingEncodes.Load(),
	}
	rs.WritebackFiles, rs.WritebackBytes = s.backlogStats()
	if p := s.lastError.Load(); p != nil {
		rs.LastError = *p
	}
	return rs
}

// noteError records err as the last error the store met.
func (s *Store) noteError(err error) {
	msg := err.Error()
	s.lastError.Store(&msg)
}

// update runs fn in one catalog transaction, one at a time in this process.
func (s *Store) update(ctx context.Context, fn func(tx catalog.Tx) error) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	return s.catalog.Update(ctx, fn)
}

// checkWritable returns ErrReadOnly for a read-only store.
func (s *Store) checkWritable(op, path string) error {
	if s.opts.ReadOnly {
		return &PathError{Op: op, Path: path, Err: ErrReadOnly}
	}
	return nil
}
