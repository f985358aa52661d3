package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"deltafs/catalog"
	"deltafs/delta"
)

// Recovery is what opening the store finished for processes that are gone.
type Recovery struct {
	Sessions     int // staging directories of dead processes removed
	StoredFiles  int // pending write-back files stored
	DroppedFiles int // pending files whose directory was gone
	// SupersededFiles counts pending files not stored because another
	// process stored or removed a file at their path after they were
	// closed.
	SupersededFiles int
	RemovedModels   []string // models of imports that did not finish
	Objects         int      // unreferenced objects deleted
	ObjectBytes     int64
}

// Recovered reports what Open finished for processes that are gone.
func (s *Store) Recovered() Recovery {
	s.recoveryMu.Lock()
	defer s.recoveryMu.Unlock()
	r := s.recovery
	r.RemovedModels = slices.Clone(r.RemovedModels)
	return r
}

// noteRecovery adds to the recovery report.
func (s *Store) noteRecovery(fn func(r *Recovery)) {
	s.recoveryMu.Lock()
	fn(&s.recovery)
	s.recoveryMu.Unlock()
}

// recoverDead finishes what dead sessions left (see session): their pending
// write-back files are encoded and committed, their imports in progress
// undone, their staging files removed, and the objects they wrote but did
// not commit deleted. Staging files of the layout before sessions (loose in
// the staging directory) are removed once older than the grace period. It
// returns how many sessions and loose files it removed; a session it could
// not finish stays for the next try.
func (s *Store) recoverDead(ctx context.Context) (int, error) {
	ents, err := os.ReadDir(s.staging)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	names := make(map[string]bool, len(ents))
	for _, d := range ents {
		names[d.Name()] = true
	}
	removed, dead := 0, false
	var errs []error
	cutoff := time.Now().Add(-s.stagingGrace)
	for _, d := range ents {
		name := d.Name()
		if sess := sessionOfLock(name); sess != "" {
			if s.session != nil && sess == s.session.name {
				continue
			}
			ok, found, err := s.recoverSession(ctx, sess)
			if err != nil {
				errs = append(errs, err)
			}
			if found {
				dead = true
			}
			if ok {
				removed++
			}
			continue
		}
		if strings.HasPrefix(name, sessionPrefix) && names[name+sessionLockExt] {
			continue // a session's directory: handled with its lock file
		}
		// A loose file of the older layout, or a session directory whose
		// lock file is gone (its removal was interrupted).
		info, err := d.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.staging, name)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if dead {
		// A dead process may have written objects it never committed.
		if _, _, err := s.sweepObjects(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// recoverSession takes the lock of session name when the session is dead
// and finishes it: found reports a dead session, ok that it was finished
// and removed.
func (s *Store) recoverSession(ctx context.Context, name string) (ok, found bool, err error) {
	lockName := filepath.Join(s.staging, name+sessionLockExt)
	lock, err := lockDead(lockName)
	if err != nil || lock == nil {
		return false, false, err
	}
	dead := &session{name: name, dir: filepath.Join(s.staging, name), lock: lock}
	done, err := s.finishSession(ctx, dead)
	if err != nil {
		err = fmt.Errorf("recover session %s: %w", name, err)
	}
	if cerr := dead.close(done); cerr != nil {
		err = errors.Join(err, fmt.Errorf("remove session %s: %w", name, cerr))
	}
	if done {
		s.log.Info("cleared the staging files of a process that is gone", slog.String("session", name))
		s.noteRecovery(func(r *Recovery) { r.Sessions++ })
	}
	return done && err == nil, true, err
}

// finishSession undoes the imports in progress of ss and stores its
// pending write-back files, oldest first. done reports that nothing of ss
// is needed any more.
func (s *Store) finishSession(ctx context.Context, ss *session) (done bool, err error) {
	imports, err := s.catalog.ImportsOf(ctx, ss.name)
	if err != nil {
		return false, err
	}
	for _, im := range imports {
		if err := s.undoImport(ctx, im.Model); err != nil {
			return false, err
		}
		s.log.Warn("removed the model of an import that did not finish", slog.String("model", im.Model))
		s.noteRecovery(func(r *Recovery) { r.RemovedModels = append(r.RemovedModels, im.Model) })
	}
	if len(imports) > 0 {
		if _, _, err := s.sweepObjects(ctx); err != nil {
			return false, err
		}
	}
	pending, err := s.catalog.PendingOf(ctx, ss.name)
	if err != nil {
		return false, err
	}
	if len(pending) > 0 {
		s.log.Info("storing pending write-back files", slog.Int("files", len(pending)), slog.String("session", ss.name))
	}
	for _, p := range pending {
		if err := s.storePending(ctx, ss, p); err != nil {
			return false, err
		}
	}
	// Leases of a writer that is gone would keep its objects from a
	// collection until they expire.
	if s.remote {
		if err := s.update(ctx, func(tx catalog.Tx) error { return tx.Release(ctx, ss.name, nil) }); err != nil {
			return false, fmt.Errorf("release leases: %w", err)
		}
	}
	return true, nil
}

// storePending stores the pending file p of session ss at its path. A
// file whose place is gone (its directory was removed) is dropped with a
// warning; any other failure keeps it for a later try.
func (s *Store) storePending(ctx context.Context, ss *session, p catalog.Pending) error {
	f, err := os.Open(filepath.Join(ss.dir, p.Stage))
	if errors.Is(err, fs.ErrNotExist) {
		s.log.Error("the staging file of a pending file is missing; the file is lost",
			slog.String("path", p.Path), slog.String("stage", p.Stage))
		return s.DropPending(ctx, p.ID)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	opts := IngestOptions{Mode: p.Mode, Strategy: delta.Strategy(p.Strategy), AllowLossy: p.AllowLossy, Pending: p.ID,
		Owner: p.Owner, MTime: p.MTime}
	_, err = s.ingestChecked(ctx, p.Path, f, opts, nil)
	switch {
	case err == nil:
		s.log.Info("stored a file closed before a crash", slog.String("path", p.Path), slog.Int64("bytes", p.Size))
		s.noteRecovery(func(r *Recovery) { r.StoredFiles++ })
		return nil
	case errors.Is(err, ErrPendingGone):
		return nil
	case errors.Is(err, ErrPendingSuperseded):
		s.log.Warn("a file closed before a crash was not stored: its path was given newer content meanwhile",
			slog.String("path", p.Path))
		s.noteRecovery(func(r *Recovery) { r.SupersededFiles++ })
		return s.DropPending(ctx, p.ID)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNotDir), errors.Is(err, ErrIsDir), errors.Is(err, ErrInvalidPath):
		s.log.Warn("a pending file's directory is gone; dropped", slog.String("path", p.Path), slog.Any("err", err))
		s.noteRecovery(func(r *Recovery) { r.DroppedFiles++ })
		return s.DropPending(ctx, p.ID)
	}
	return err
}

// undoImport removes the model of an import that did not finish, and the
// record of the import.
func (s *Store) undoImport(ctx context.Context, model string) error {
	return s.update(ctx, func(tx catalog.Tx) error {
		if err := removeAllTx(ctx, tx, model); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		return tx.DeleteImport(ctx, model)
	})
}

// sweepObjects deletes the objects no entry references: dead records and
// their files, and files without a record (written by a process that died
// before its commit). Unlike GC it runs while other processes use the
// store: it decides and deletes inside one catalog write transaction, and
// every commit checks inside its own transaction that the objects it
// records or uses are still there (errObjectGone), so a commit never names
// an object swept before it, and a sweep never sees an object committed
// after it decided.
func (s *Store) sweepObjects(ctx context.Context) (removed int, freed int64, err error) {
	if s.remote {
		// Other hosts' writers lease what they upload: the catalog decides.
		if removed, freed, err = s.collectShared(ctx); err != nil {
			return removed, freed, fmt.Errorf("sweep: %w", err)
		}
		return removed, freed, nil
	}
	files, err := s.objects.List(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("sweep: %w", err)
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		removed, freed = 0, 0
		live, err := tx.LiveObjects(ctx)
		if err != nil {
			return err
		}
		records, err := tx.Objects(ctx)
		if err != nil {
			return err
		}
		recorded := make(map[string]bool, len(records))
		var doomed []string
		for _, o := range records {
			recorded[o.ID] = true
			if !live[o.ID] {
				if err := tx.DeleteObject(ctx, o.ID); err != nil {
					return fmt.Errorf("object %s: %w", shortID(o.ID), err)
				}
				doomed = append(doomed, o.ID)
			}
		}
		for _, id := range files {
			if !recorded[id] && !live[id] {
				doomed = append(doomed, id)
			}
		}
		// Deleted before the transaction commits, while it holds the
		// catalog's write lock: no commit can slip in between.
		for _, id := range doomed {
			size, err := s.deleteObject(ctx, id)
			if err != nil {
				return err
			}
			removed++
			freed += size
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sweep: %w", err)
	}
	// Any age: a writer holds an flock on its temp file.
	if err := s.removeObjectTemps(ctx, 0); err != nil {
		return removed, freed, fmt.Errorf("sweep: %w", err)
	}
	if removed > 0 {
		s.log.Info("deleted objects nothing references", slog.Int("objects", removed), slog.Int64("bytes", freed))
		s.noteRecovery(func(r *Recovery) { r.Objects += removed; r.ObjectBytes += freed })
	}
	return removed, freed, nil
}

// canWrite reports whether the store's directory can be written (a
// read-only open still finishes what a dead process left, when it can).
func (s *Store) canWrite() bool {
	const wOK = 2 // access(2)'s W_OK
	return syscall.Access(s.dir, wOK) == nil && syscall.Access(s.staging, wOK) == nil
}
