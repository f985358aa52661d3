package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"deltafs/catalog"
)

// GCResult summarises a garbage collection.
type GCResult struct {
	ObjectsRemoved int
	BytesFreed     int64
	StagingRemoved int // leftover staging files cleared
}

// GC removes objects nothing references (directly or as a base of a live
// delta). Interrupted at any point it leaves a valid store.
//
// Order: (1) the records of dead objects leave the catalog in one
// transaction; (2) object files that are neither live nor recorded are
// deleted. The catalog therefore never records an object whose file is
// gone; a crash between the steps leaves unrecorded files, which the next
// GC's step 2 removes. GC needs the store to itself: it takes the store's
// lock exclusively (ErrBusy while another process has the store open) and
// excludes this process's ingests, so no object written but not yet
// committed can be taken for garbage.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	var res GCResult
	if err := s.checkWritable("gc", ""); err != nil {
		return res, err
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if s.remote {
		return s.gcShared(ctx)
	}
	if err := flock(s.lock, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return res, fmt.Errorf("gc: %w (stop mounts and other deltafs commands on this store first)", err)
	}
	defer flock(s.lock, syscall.LOCK_SH)

	// Step 1: decide and delete the dead records in one snapshot.
	var live map[string]bool
	err := s.update(ctx, func(tx catalog.Tx) error {
		var err error
		if live, err = tx.LiveObjects(ctx); err != nil {
			return err
		}
		records, err := tx.Objects(ctx)
		if err != nil {
			return err
		}
		for _, o := range records {
			if live[o.ID] {
				continue
			}
			if err := tx.DeleteObject(ctx, o.ID); err != nil {
				return fmt.Errorf("object %s: %w", shortID(o.ID), err)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	if err := s.gcStep("records-deleted"); err != nil {
		return res, err
	}

	// Step 2: delete the files no record names (this GC's dead objects,
	// and those of a GC interrupted before).
	records, err := s.catalog.Objects(ctx)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	recorded := make(map[string]bool, len(records))
	for _, o := range records {
		recorded[o.ID] = true
	}
	files, err := s.objects.List(ctx)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	for _, id := range files {
		if live[id] || recorded[id] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		size, err := s.deleteObject(ctx, id)
		if err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		res.ObjectsRemoved++
		res.BytesFreed += size
		if err := s.gcStep("object-deleted"); err != nil {
			return res, err
		}
	}
	return s.gcTemporaries(ctx, res)
}

// gcTemporaries ends GC: the object store's temporary files and the
// staging files older than the grace go.
func (s *Store) gcTemporaries(ctx context.Context, res GCResult) (GCResult, error) {
	if err := s.removeObjectTemps(ctx, s.stagingGrace); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	n, err := s.clearStaging(ctx)
	res.StagingRemoved = n
	if err != nil {
		return res, fmt.Errorf("gc: staging: %w", err)
	}
	return res, nil
}

// deleteObject deletes the file of object id (already gone: no error) and
// returns its size.
func (s *Store) deleteObject(ctx context.Context, id string) (int64, error) {
	var size int64
	if r, err := s.objects.Open(ctx, id); err == nil {
		size = r.Size()
		r.Close()
	}
	s.handles.forget(id)
	s.records.forget(id)
	if err := s.objects.Delete(ctx, id); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, catalog.ErrNotFound) {
		return 0, fmt.Errorf("delete object %s: %w", shortID(id), err)
	}
	return size, nil
}

// gcShared is GC on a store other hosts use while it runs: no lock of
// this host keeps them out, so the catalog decides (Collect): an object
// leased by a writer of any host, or used by a leased one, is never
// garbage, and leasing an object being removed waits until it is gone.
// Then it clears this host's temporary and staging files.
func (s *Store) gcShared(ctx context.Context) (GCResult, error) {
	var res GCResult
	var err error
	res.ObjectsRemoved, res.BytesFreed, err = s.collectShared(ctx)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return s.gcTemporaries(ctx, res)
}

// collectShared removes the objects of a shared store that nothing uses
// nor a writer leased (catalog.Collect) and returns how many and their
// bytes.
func (s *Store) collectShared(ctx context.Context) (removed int, freed int64, err error) {
	if s.session == nil {
		return 0, 0, nil // a read-only open leaves the collecting to writers
	}
	files, err := s.objects.List(ctx)
	if err != nil {
		return 0, 0, err
	}
	err = s.catalog.Collect(ctx, s.session.name, files, func(ctx context.Context, ids []string) error {
		for _, id := range ids {
			size, err := s.deleteObject(ctx, id)
			if err != nil {
				return err
			}
			removed++
			freed += size
		}
		return nil
	})
	return removed, freed, err
}

// gcStep lets a test interrupt GC after a step, as a crash would.
func (s *Store) gcStep(step string) error {
	if s.gcInterrupt == nil {
		return nil
	}
	return s.gcInterrupt(step)
}

// clearStaging finishes and removes the sessions of dead processes (see
// recoverDead) and removes the files of this process's own staging
// directory older than the grace period that are not pending: with the
// store held exclusively no other process spools, and the grace spares
// files this process is still writing.
func (s *Store) clearStaging(ctx context.Context) (int, error) {
	removed, err := s.recoverDead(ctx)
	if s.session == nil {
		return removed, err
	}
	errs := []error{err}
	pending, perr := s.catalog.PendingOf(ctx, s.session.name)
	if perr != nil {
		return removed, errors.Join(err, perr)
	}
	keep := make(map[string]bool, len(pending))
	for _, p := range pending {
		keep[p.Stage] = true
	}
	ents, err := os.ReadDir(s.session.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return removed, errors.Join(append(errs, err)...)
	}
	cutoff := time.Now().Add(-s.stagingGrace)
	for _, d := range ents {
		info, err := d.Info()
		if err != nil || keep[d.Name()] || info.ModTime().After(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.session.dir, d.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// removeObjectTemps removes the object store's temporary files (objects
// being written) older than age, when it keeps any.
func (s *Store) removeObjectTemps(ctx context.Context, age time.Duration) error {
	tc, ok := s.objects.(interface {
		RemoveTemp(context.Context, time.Duration) (int, error)
	})
	if !ok {
		return nil
	}
	if _, err := tc.RemoveTemp(ctx, age); err != nil {
		return fmt.Errorf("object temp files: %w", err)
	}
	return nil
}
