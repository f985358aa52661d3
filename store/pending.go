package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"deltafs/catalog"
)

// ErrPendingGone means the pending file an Ingest was to store was
// forgotten meanwhile (DropPending: it was removed); nothing was stored.
var ErrPendingGone = errors.New("store: pending file removed before it was stored")

// ErrPendingSuperseded means the path of a pending file was given other
// content after the file was recorded (another process stored, replaced or
// removed a file there): the pending file is older and was not stored.
var ErrPendingSuperseded = errors.New("store: the pending file's path changed after it was closed; not stored over the newer file")

// holdsNothing is what a pending record says a path without an entry
// holds (see heldAt).
const holdsNothing = "-"

// heldAt describes what path holds in tx, for a pending record: its
// entry's kind, inode, object, content hash and size (what a commit or a
// removal changes; chmod, chown and utimens do not), or holdsNothing.
func heldAt(ctx context.Context, tx catalog.Tx, path string) (string, error) {
	e, err := tx.Get(ctx, path)
	if errors.Is(err, catalog.ErrNotFound) {
		return holdsNothing, nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d:%s:%s:%d", e.Kind, e.Inode, e.Object, e.ContentHash, e.Size), nil
}

// takePending forgets pending record id in tx and returns the path its
// file is to be stored at: ErrPendingGone when the record was dropped,
// ErrPendingSuperseded when the path holds something else than when the
// file was recorded (the caller drops the record, see DropPending).
func takePending(ctx context.Context, tx catalog.Tx, id int64) (string, error) {
	p, err := tx.PendingByID(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", ErrPendingGone
	} else if err != nil {
		return "", err
	}
	if p.Holds != "" {
		now, err := heldAt(ctx, tx, p.Path)
		if err != nil {
			return "", err
		}
		if now != p.Holds {
			return "", ErrPendingSuperseded
		}
	}
	if err := tx.DeletePending(ctx, id); err != nil {
		return "", err
	}
	return p.Path, nil
}

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
// forgotten in the same transaction. The record notes what path holds
// now: should another process store or remove a file there before f is
// stored, f is not stored (ErrPendingSuperseded).
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
		err = s.session.files.ensureDurableName(f.Name())
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
		holds, err := heldAt(ctx, tx, p)
		if err != nil {
			return err
		}
		rec.Holds = holds
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
			// The file there goes below: from then on the path holds
			// nothing but the pending file.
			if err := tx.MovePending(ctx, id, p, holdsNothing); err != nil {
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
