package store

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"deltafs/catalog"
	"deltafs/delta"
)

// objectHandle is an opened object: its catalog record, its file and its
// parsed header and chunk table. It stays open while referenced and, once
// idle, in a small LRU so repeated reads do not reopen the file.
type objectHandle struct {
	id   string
	rec  catalog.Object
	file catalog.ObjectReader
	obj  *delta.Object

	refs int           // guarded by handlePool.mu
	idle *list.Element // in handlePool.idle when refs == 0
	// detached: out of the pool (its record went stale), closed at its
	// last release; guarded by handlePool.mu.
	detached bool
}

// handlePool keeps opened objects: every handle in use, plus up to max idle
// ones (least recently used closed first).
type handlePool struct {
	mu   sync.Mutex
	max  int
	open map[string]*objectHandle
	idle *list.List // of *objectHandle, most recent at the front
}

func newHandlePool(max int) *handlePool {
	return &handlePool{max: max, open: make(map[string]*objectHandle), idle: list.New()}
}

// acquire returns the opened object id; release it when done.
func (s *Store) acquire(ctx context.Context, id string) (*objectHandle, error) {
	p := s.handles
	p.mu.Lock()
	if h, ok := p.open[id]; ok {
		p.take(h)
		p.mu.Unlock()
		return h, nil
	}
	p.mu.Unlock()

	h, err := s.openObject(ctx, id)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if other, ok := p.open[id]; ok { // opened meanwhile by another reader
		h.file.Close()
		p.take(other)
		return other, nil
	}
	p.open[id] = h
	h.refs = 1
	return h, nil
}

// take marks h in use; p.mu is held.
func (p *handlePool) take(h *objectHandle) {
	h.refs++
	if h.idle != nil {
		p.idle.Remove(h.idle)
		h.idle = nil
	}
}

// release returns a handle from acquire.
func (s *Store) release(h *objectHandle) {
	p := s.handles
	p.mu.Lock()
	defer p.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	if h.detached {
		h.file.Close()
		return
	}
	h.idle = p.idle.PushFront(h)
	for p.idle.Len() > p.max {
		old := p.idle.Remove(p.idle.Back()).(*objectHandle)
		old.idle = nil
		delete(p.open, old.id)
		old.file.Close()
	}
}

// forget closes the idle handle of id, if any (after GC deleted it).
func (p *handlePool) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.open[id]; ok && h.refs == 0 {
		p.idle.Remove(h.idle)
		h.idle = nil
		delete(p.open, id)
		h.file.Close()
	}
}

// detach takes the handles of ids out of the pool, so that the next
// acquire opens them afresh: idle ones are closed now, ones in use at
// their last release.
func (p *handlePool) detach(ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		h, ok := p.open[id]
		if !ok {
			continue
		}
		delete(p.open, id)
		if h.refs > 0 {
			h.detached = true
			continue
		}
		p.idle.Remove(h.idle)
		h.idle = nil
		h.file.Close()
	}
}

// closeAll closes every idle handle (the store is closing).
func (p *handlePool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for e := p.idle.Front(); e != nil; e = e.Next() {
		h := e.Value.(*objectHandle)
		delete(p.open, h.id)
		h.file.Close()
	}
	p.idle.Init()
}

// openObject opens object id and checks its header against its record.
// Missing or unreadable objects are ErrCorrupt: the catalog references them.
func (s *Store) openObject(ctx context.Context, id string) (*objectHandle, error) {
	rec, cached := s.records.get(id)
	if !cached {
		var err error
		if rec, err = s.objectRecord(ctx, id); err != nil {
			return nil, err
		}
	}
	f, err := s.openObjectFile(ctx, rec)
	if errors.Is(err, catalog.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return nil, corruptError(id, fmt.Errorf("object file missing: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", shortID(id), err)
	}
	obj, err := delta.Open(f, f.Size())
	if err != nil {
		f.Close()
		if errors.Is(err, delta.ErrUnsupportedVersion) {
			return nil, fmt.Errorf("object %s: %w", shortID(id), err)
		}
		return nil, corruptError(id, err)
	}
	hdr := obj.Header()
	if hdr.RawSize != rec.RawSize || hdr.HasReference != (rec.Ref != "") {
		f.Close()
		return nil, corruptError(id, fmt.Errorf("object header disagrees with its catalog record"))
	}
	if !cached {
		s.records.put(rec)
	}
	return &objectHandle{id: id, rec: rec, file: f, obj: obj}, nil
}

// objectRecord returns the catalog's record of object id; a missing one is
// ErrCorrupt: the catalog references it.
func (s *Store) objectRecord(ctx context.Context, id string) (catalog.Object, error) {
	rec, err := s.catalog.Object(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return rec, corruptError(id, fmt.Errorf("object record missing from the catalog"))
	}
	if err != nil {
		return rec, fmt.Errorf("object %s: %w", shortID(id), err)
	}
	return rec, nil
}

// openObjectFile opens the file of the object rec records; a remote object
// store is told its size (recorded in the catalog, and objects never
// change), which spares it a request.
func (s *Store) openObjectFile(ctx context.Context, rec catalog.Object) (catalog.ObjectReader, error) {
	if o, ok := s.objects.(interface {
		OpenSized(ctx context.Context, id string, size int64) (catalog.ObjectReader, error)
	}); ok && rec.StoredSize > 0 {
		return o.OpenSized(ctx, rec.ID, rec.StoredSize)
	}
	return s.objects.Open(ctx, rec.ID)
}
