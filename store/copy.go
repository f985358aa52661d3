package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"deltafs/catalog"
)

// CopyOptions configure Copy.
type CopyOptions struct {
	// Models to copy; none copies every model of the source.
	Models   []string
	Progress Progress // bytes transferred of the bytes to transfer
}

// CopyResult summarises a copy.
type CopyResult struct {
	// Models are the models copied, in the order they were committed:
	// bases the destination lacked come before the models built on them.
	Models []string
	// Pulled are the models of Models copied only because a model asked
	// for is built on them.
	Pulled []string
	// Objects and Bytes are what was transferred; Present counts the
	// objects the destination already held (nothing sent for them).
	Objects int
	Bytes   int64
	Present int
}

// copyWorkers bounds the objects transferred at once (a remote object
// store's latency is hidden by several transfers in flight).
const copyWorkers = 4

// Copy copies models from src into s, byte-identical: their files, modes,
// owners, times, settings and bases, and the objects they need (references
// included). Only objects s lacks are transferred; each is checked against
// its name (the SHA-256 of its bytes) on the way. A model whose base s
// lacks brings its base along. Each model is committed in one transaction
// once its objects are all in s: a copy that fails leaves no model half
// copied (objects already transferred are swept or reused by the next copy).
// A model that s already holds is refused (ErrExist) before anything moves.
func (s *Store) Copy(ctx context.Context, src *Store, opts CopyOptions) (CopyResult, error) {
	var res CopyResult
	if err := s.checkWritable("copy", ""); err != nil {
		return res, err
	}
	order, pulled, err := s.copyPlan(ctx, src, opts.Models)
	if err != nil {
		return res, err
	}
	res.Pulled = pulled
	plans := make([]modelCopy, 0, len(order))
	for _, m := range order {
		mc, err := src.modelCopy(ctx, m)
		if err != nil {
			return res, &PathError{Op: "copy", Path: m, Err: err}
		}
		plans = append(plans, mc)
	}
	missing, present, total, err := s.missingObjects(ctx, plans)
	if err != nil {
		return res, err
	}
	res.Present = present
	ids := make([]string, len(missing))
	for i, o := range missing {
		ids[i] = o.ID
	}
	if err := s.lease(ctx, ids); err != nil {
		return res, fmt.Errorf("copy: %w", err)
	}
	var (
		mu   sync.Mutex // reports in order, one at a time
		done int64
	)
	opts.Progress.report(0, total)
	err = parallelN(ctx, len(missing), copyWorkers, func(i int) error {
		n, err := s.copyObject(ctx, src, missing[i])
		mu.Lock()
		done += n
		opts.Progress.report(done, total)
		mu.Unlock()
		return err
	})
	if err != nil {
		return res, fmt.Errorf("copy: %w", err)
	}
	res.Objects, res.Bytes = len(missing), done
	for _, mc := range plans {
		if err := s.commitCopy(ctx, src, mc); err != nil {
			return res, &PathError{Op: "copy", Path: mc.model.Name, Err: err}
		}
		res.Models = append(res.Models, mc.model.Name)
	}
	return res, nil
}

// copyPlan returns the models to copy in commit order (every base before
// the models built on it) and those of them pulled in as bases. It refuses
// models s already holds and names src lacks.
func (s *Store) copyPlan(ctx context.Context, src *Store, asked []string) (order, pulled []string, err error) {
	if len(asked) == 0 {
		all, err := src.catalog.Models(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("copy: %w", err)
		}
		for _, m := range all {
			asked = append(asked, m.Name)
		}
	}
	seen := make(map[string]bool)
	var visit func(name string, wanted bool) error
	visit = func(name string, wanted bool) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		m, err := src.catalog.Model(ctx, name)
		if errors.Is(err, catalog.ErrNotFound) {
			return &PathError{Op: "copy", Path: name, Err: fmt.Errorf("no such model in %s: %w", src.Dir(), ErrNotFound)}
		} else if err != nil {
			return &PathError{Op: "copy", Path: name, Err: err}
		}
		if _, err := s.catalog.Model(ctx, name); err == nil {
			if !wanted {
				return nil // the base is already there: the copy builds on it
			}
			return &PathError{Op: "copy", Path: name, Err: fmt.Errorf("the destination has a model of that name: %w", ErrExist)}
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return &PathError{Op: "copy", Path: name, Err: err}
		}
		if m.Base != "" {
			if err := visit(m.Base, slices.Contains(asked, m.Base)); err != nil {
				return err
			}
		}
		order = append(order, name)
		if !wanted {
			pulled = append(pulled, name)
		}
		return nil
	}
	for _, name := range asked {
		p, err := cleanPath(name)
		if err == nil && !isTopLevel(p) {
			err = fmt.Errorf("%w: a model name is one path component", ErrInvalidPath)
		}
		if err != nil {
			return nil, nil, &PathError{Op: "copy", Path: name, Err: err}
		}
		if err := visit(p, true); err != nil {
			return nil, nil, err
		}
	}
	return order, pulled, nil
}

// modelCopy is what one model brings: its record, entries (parents before
// children), the parts of its files stored tensor by tensor, its settings,
// and the records of every object it needs, references before the objects
// that use them.
type modelCopy struct {
	model    catalog.Model
	entries  []catalog.Entry
	parts    map[string][]catalog.Part
	settings map[string]string
	objects  []catalog.Object
}

// modelCopy reads what copying model m takes from s.
func (s *Store) modelCopy(ctx context.Context, m string) (modelCopy, error) {
	mc := modelCopy{parts: make(map[string][]catalog.Part)}
	var err error
	if mc.model, err = s.catalog.Model(ctx, m); err != nil {
		return mc, err
	}
	if mc.entries, err = s.catalog.Walk(ctx, m); err != nil {
		return mc, err
	}
	if mc.settings, err = s.catalog.Settings(ctx, m); err != nil {
		return mc, err
	}
	seen := make(map[string]bool)
	// need records id and, before it, the chain of objects it is decoded
	// against.
	var need func(id string) error
	need = func(id string) error {
		if id == "" || seen[id] {
			return nil
		}
		seen[id] = true
		rec, err := s.catalog.Object(ctx, id)
		if err != nil {
			return fmt.Errorf("object %s: %w", shortID(id), err)
		}
		if err := need(rec.Ref); err != nil {
			return err
		}
		mc.objects = append(mc.objects, rec)
		return nil
	}
	for _, e := range mc.entries {
		if e.Kind == catalog.KindDir {
			continue
		}
		if err := need(e.Object); err != nil {
			return mc, err
		}
		parts, err := s.catalog.Parts(ctx, e.Path)
		if err != nil {
			return mc, err
		}
		if len(parts) > 0 {
			mc.parts[e.Path] = parts
		}
		for _, p := range parts {
			if err := need(p.Object); err != nil {
				return mc, err
			}
		}
	}
	return mc, nil
}

// missingObjects returns the objects of plans that s must receive (each
// once), how many it already holds, and the bytes to transfer.
func (s *Store) missingObjects(ctx context.Context, plans []modelCopy) (missing []catalog.Object, present int, bytes int64, err error) {
	seen := make(map[string]bool)
	for _, mc := range plans {
		for _, o := range mc.objects {
			if seen[o.ID] {
				continue
			}
			seen[o.ID] = true
			ok, err := s.objects.Has(ctx, o.ID)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("copy: object %s: %w", shortID(o.ID), err)
			}
			if ok {
				present++
				continue
			}
			missing = append(missing, o)
			bytes += o.StoredSize
		}
	}
	return missing, present, bytes, nil
}

// copyObject transfers object o from src into s and returns the bytes
// sent. Bytes that do not hash to the object's name are an integrity error
// of the source, and nothing is kept of them.
func (s *Store) copyObject(ctx context.Context, src *Store, o catalog.Object) (int64, error) {
	r, err := src.objects.Open(ctx, o.ID)
	if err != nil {
		return 0, fmt.Errorf("object %s: %w", shortID(o.ID), err)
	}
	defer r.Close()
	f, err := s.objects.CreateTemp(ctx)
	if err != nil {
		return 0, fmt.Errorf("object %s: %w", shortID(o.ID), err)
	}
	n, err := io.Copy(f, io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		(&encoded{file: f}).discard()
		return n, fmt.Errorf("object %s: %w", shortID(o.ID), err)
	}
	id, _, _, err := s.objects.PutFile(ctx, f)
	if err != nil {
		return n, fmt.Errorf("object %s: %w", shortID(o.ID), err)
	}
	if id != o.ID {
		// The copy is named by its bytes: drop it, unless a model of s
		// already uses an object of that name.
		if err := s.dropStray(ctx, id); err != nil {
			s.log.Warn("could not delete the copy of a corrupt object; gc deletes it", "object", shortID(id), "err", err)
		}
		return n, corruptError(o.ID, fmt.Errorf("its bytes hash to %s in %s", shortID(id), src.Dir()))
	}
	return n, nil
}

// dropStray deletes object id unless the catalog records it.
func (s *Store) dropStray(ctx context.Context, id string) error {
	return s.update(ctx, func(tx catalog.Tx) error {
		if _, err := tx.Object(ctx, id); err == nil {
			return nil
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		return s.objects.Delete(ctx, id)
	})
}

// commitCopy records in s, in one transaction, the objects, entries, parts,
// settings and base of one model copied from src.
func (s *Store) commitCopy(ctx context.Context, src *Store, mc modelCopy) error {
	sketches := make(map[string][]byte)
	for _, o := range mc.objects {
		if sk, err := src.catalog.Sketch(ctx, o.ID); err == nil {
			sketches[o.ID] = sk
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("object %s: %w", shortID(o.ID), err)
		}
	}
	return s.update(ctx, func(tx catalog.Tx) error {
		if _, err := tx.Model(ctx, mc.model.Name); err == nil {
			return fmt.Errorf("the destination has a model of that name: %w", ErrExist)
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		for _, o := range mc.objects {
			if _, err := tx.Object(ctx, o.ID); err == nil {
				continue
			} else if !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			if err := s.recordObject(ctx, tx, o); err != nil {
				return err
			}
			if sk, ok := sketches[o.ID]; ok {
				if err := tx.PutSketch(ctx, o.ID, sk); err != nil {
					return err
				}
			}
		}
		for _, e := range mc.entries {
			e.Inode = 0 // the destination numbers its own
			if err := tx.PutEntry(ctx, e); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
			if parts, ok := mc.parts[e.Path]; ok {
				if err := tx.SetParts(ctx, e.Path, parts); err != nil {
					return fmt.Errorf("%s: %w", e.Path, err)
				}
			}
		}
		if mc.model.Base != "" {
			if err := tx.SetModel(ctx, mc.model); err != nil {
				return err
			}
		}
		for k, v := range mc.settings {
			if err := tx.SetSetting(ctx, mc.model.Name, k, v); err != nil {
				return err
			}
		}
		return s.releaseLeases(ctx, tx, mc.objects)
	})
}
