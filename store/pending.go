package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"deltafs/catalog"
	"deltafs/internal/durable"
)

// ErrPendingGone means the pending file an Ingest was to store was
// forgotten meanwhile (DropPending: it was removed); nothing was stored.
var ErrPendingGone = errors.New("store: pending file removed before it was stored")

// ErrNotStaged means a file handed to RecordPending is not in the store's
// staging directory (StagingDir), where recovery looks for it.
var ErrNotStaged = errors.New("store: not a file of this store's staging directory")

// RecordPending makes the staged file f durable as the future content of
// path without encoding it yet (write-back): f is fsynced and recorded as
// pending in the catalog. The caller encodes it later with Ingest and
// opts.Pending set to the returned id, which forgets the record in the
// commit's transaction. If this process dies first, the next process to
// open the store stores it (at the path it has then, see MovePending). f
// must be a file of StagingDir and must not change while pending.
// replaces, when not 0, is an older pending record of the same file,
// forgotten in the same transaction.
func (s *Store) RecordPending(ctx context.Context, path string, f *os.File, opts IngestOptions, replaces int64) (int64, error) {
	p, err := cleanPath(path)
	if err == nil && p == "" {
		err = ErrIsDir
	}
	if err == nil {
		err = s.checkWritable("record pending", p)
	}
	if err == nil && (s.session == nil || filepath.Dir(f.Name()) != s.session.dir) {
		err = fmt.Errorf("%w: %s", ErrNotStaged, f.Name())
	}
	if err != nil {
		return 0, &PathError{Op: "record pending", Path: path, Err: err}
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = durable.SyncDir(s.session.dir)
	}
	if err != nil {
		return 0, &PathError{Op: "record pending", Path: p, Err: err}
	}
	rec := catalog.Pending{
		Session: s.session.name, Stage: filepath.Base(f.Name()), Path: p, Mode: opts.Mode,
		Strategy: string(opts.Strategy), AllowLossy: opts.AllowLossy, Size: st.Size(),
		Owner: opts.Owner, MTime: opts.MTime,
	}
	var id int64
	err = s.update(ctx, func(tx catalog.Tx) error {
		if replaces != 0 {
			if err := tx.DeletePending(ctx, replaces); err != nil && !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
		}
		var err error
		id, err = tx.AddPending(ctx, rec)
		return err
	})
	if err != nil {
		return 0, &PathError{Op: "record pending", Path: p, Err: err}
	}
	s.backlogMu.Lock()
	delete(s.backlog, replaces)
	s.backlog[id] = rec.Size
	s.backlogMu.Unlock()
	return id, nil
}

// MovePending records that pending file id is now to be stored at path,
// and removes the file at path, as rename(2) replaces it, in the same
// transaction. ErrNotFound when the pending file was stored (or dropped)
// meanwhile.
func (s *Store) MovePending(ctx context.Context, id int64, path string) error {
	p, err := cleanPath(path)
	if err == nil && p == "" {
		err = ErrIsDir
	}
	if err == nil {
		err = s.update(ctx, func(tx catalog.Tx) error {
			if err := tx.MovePending(ctx, id, p); err != nil {
				return err
			}
			e, err := tx.Get(ctx, p)
			switch {
			case errors.Is(err, catalog.ErrNotFound):
				return nil
			case err != nil:
				return err
			case e.Kind == catalog.KindDir:
				return ErrIsDir
			}
			return tx.Delete(ctx, p)
		})
	}
	if err != nil {
		return &PathError{Op: "move pending", Path: path, Err: err}
	}
	return nil
}

// DropPending forgets pending file id (its file was removed before it was
// stored); a record already gone is not an error.
func (s *Store) DropPending(ctx context.Context, id int64) error {
	err := s.update(ctx, func(tx catalog.Tx) error { return tx.DeletePending(ctx, id) })
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("drop pending %d: %w", id, err)
	}
	s.forgetBacklog(id)
	return nil
}

// forgetBacklog takes pending file id off the backlog.
func (s *Store) forgetBacklog(id int64) {
	s.backlogMu.Lock()
	delete(s.backlog, id)
	s.backlogMu.Unlock()
}

// backlogStats returns the number and bytes of this process's pending
// files.
func (s *Store) backlogStats() (files, bytes int64) {
	s.backlogMu.Lock()
	defer s.backlogMu.Unlock()
	for _, n := range s.backlog {
		files++
		bytes += n
	}
	return files, bytes
}
