package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"deltafs/catalog"
	"deltafs/npy"
)

// FileInfo describes one path, answered from the catalog alone.
type FileInfo struct {
	Path        string
	Name        string
	Kind        catalog.Kind
	Inode       uint64
	Mode        uint32
	UID, GID    uint32 // owner
	MTime       time.Time
	Size        int64  // logical bytes
	StoredSize  int64  // bytes of the object file(s) this entry owns
	ContentHash string // hex SHA-256
	DType       string // tensor only
	Shape       []int64
	Strategy    string
	Lossy       bool
	Base        string // path of the reference tensor, "" if standalone
	// BaseMatch says how Base was chosen: "path", "name" or "similarity"
	// ("" for files stored before it was recorded).
	BaseMatch      string
	BaseSimilarity float64 // BaseMatch "similarity": how similar it was
	Model          string  // top-level directory
	Object         string  // id (hex SHA-256) of the object holding the content; "" for directories
}

// IsDir reports whether the entry is a directory.
func (fi FileInfo) IsDir() bool { return fi.Kind == catalog.KindDir }

// blobStrategy is the catalog strategy name of opaque files.
const blobStrategy = "blob"

// Default permission bits of new entries.
const (
	dirMode  = 0o755
	fileMode = 0o644
)

// Stat describes path ("" is the root).
func (s *Store) Stat(ctx context.Context, path string) (FileInfo, error) {
	p, err := cleanPath(path)
	if err != nil {
		return FileInfo{}, &PathError{Op: "stat", Path: path, Err: err}
	}
	e, err := s.getEntry(ctx, p)
	if err != nil {
		return FileInfo{}, &PathError{Op: "stat", Path: p, Err: err}
	}
	fi, err := s.fileInfo(ctx, e)
	if err != nil {
		return FileInfo{}, &PathError{Op: "stat", Path: p, Err: err}
	}
	return fi, nil
}

// ReadDir lists dir, sorted by name.
func (s *Store) ReadDir(ctx context.Context, dir string) ([]FileInfo, error) {
	p, err := cleanPath(dir)
	if err != nil {
		return nil, &PathError{Op: "readdir", Path: dir, Err: err}
	}
	if p != "" {
		e, err := s.catalog.Get(ctx, p)
		if err != nil {
			return nil, &PathError{Op: "readdir", Path: p, Err: err}
		}
		if e.Kind != catalog.KindDir {
			return nil, &PathError{Op: "readdir", Path: p, Err: ErrNotDir}
		}
	}
	entries, err := s.catalog.List(ctx, p)
	if err != nil {
		return nil, &PathError{Op: "readdir", Path: p, Err: err}
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := s.fileInfo(ctx, e)
		if err != nil {
			return nil, &PathError{Op: "readdir", Path: e.Path, Err: err}
		}
		out = append(out, fi)
	}
	return out, nil
}

// getEntry returns the catalog entry of a clean path; the root always
// exists.
func (s *Store) getEntry(ctx context.Context, p string) (catalog.Entry, error) {
	e, err := s.catalog.Get(ctx, p)
	if p == "" && errors.Is(err, catalog.ErrNotFound) {
		return catalog.Entry{Path: "", Kind: catalog.KindDir, Inode: 1, Mode: dirMode}, nil
	}
	return e, err
}

// fileInfo describes a catalog entry.
func (s *Store) fileInfo(ctx context.Context, e catalog.Entry) (FileInfo, error) {
	model := modelOf(e.Path, e.Kind == catalog.KindDir)
	fi := FileInfo{
		Path:        e.Path,
		Name:        baseName(e.Path),
		Kind:        e.Kind,
		Inode:       e.Inode,
		Mode:        e.Mode,
		MTime:       e.MTime,
		Size:        e.Size,
		ContentHash: e.ContentHash,
		DType:       e.DType,
		Shape:       e.Shape,
		Model:       model,
		Object:      e.Object,
	}
	o := s.ownerOf(e)
	fi.UID, fi.GID = o.UID, o.GID
	// Mode 0 is a real mode (chmod 000): every entry gets its mode when
	// created (fileMode, dirMode or the one asked for).
	if e.Kind == catalog.KindDir {
		fi.Size = 0
		if isTopLevel(e.Path) {
			m, err := s.catalog.Model(ctx, e.Path)
			if err == nil {
				fi.Base = m.Base
			} else if !errors.Is(err, catalog.ErrNotFound) {
				return FileInfo{}, err
			}
		}
		return fi, nil
	}
	rec, err := s.catalog.Object(ctx, e.Object)
	if errors.Is(err, catalog.ErrNotFound) {
		// Reported as it is; reads fail with ErrCorrupt and Verify names it.
		fi.Strategy = "missing"
		return fi, nil
	}
	if err != nil {
		return FileInfo{}, err
	}
	fi.StoredSize = rec.StoredSize
	fi.Strategy = rec.Strategy
	fi.Lossy = rec.Lossy
	if e.Kind == catalog.KindBlob && len(e.Header) > 0 {
		// stored in parts: its object is the header, its tensors add theirs
		if err := s.addPartsInfo(ctx, &fi); err != nil {
			return FileInfo{}, err
		}
	}
	if rec.Ref != "" {
		fi.Base = s.referencePath(ctx, e.Path, rec)
		fi.BaseMatch, fi.BaseSimilarity = rec.RefMatch, rec.RefSimilarity
	}
	return fi, nil
}

// referencePath finds the path of a tensor whose object is rec.Ref: first
// the same relative path in the model's base (the usual case), else any
// tensor of the base of the same name, else any entry holding the
// reference's content. When no entry holds it any more
// (the base file was removed; its object lives on for this delta) it
// returns "object:" and the reference's id.
func (s *Store) referencePath(ctx context.Context, path string, rec catalog.Object) string {
	model, rel := splitModel(path)
	if m, err := s.catalog.Model(ctx, model); err == nil && m.Base != "" && rel != "" {
		cand := joinPath(m.Base, rel)
		if e, err := s.catalog.Get(ctx, cand); err == nil && e.Object == rec.Ref {
			return cand
		}
	}
	// A tensor of the base found by name (a safetensors file's tensor is
	// FILE:NAME), before any other file of the same content.
	if ni, err := s.tensorNameIndex(ctx, model, nil); err == nil && ni != nil {
		var found []string
		for _, cands := range ni.byName {
			for _, c := range cands {
				if c.entry.Object == rec.Ref {
					found = append(found, c.entry.Path)
				}
			}
		}
		if len(found) > 0 {
			return slices.Min(found) // the same answer every time
		}
	}
	if h, err := s.acquire(ctx, rec.ID); err == nil {
		refHash := h.obj.Header().ReferenceHash
		s.release(h)
		if entries, err := s.catalog.FindContent(ctx, hex.EncodeToString(refHash[:])); err == nil {
			for _, e := range entries {
				if e.Object == rec.Ref {
					return e.Path
				}
			}
		}
	}
	return "object:" + rec.Ref
}

// tensorHeader returns the .npy header bytes served for a tensor entry: the
// original bytes when they were not canonical, else the canonical header.
func tensorHeader(e catalog.Entry) ([]byte, error) {
	if len(e.Header) > 0 {
		return e.Header, nil
	}
	dt, err := npy.ParseDescr(e.DType)
	if err != nil {
		return nil, fmt.Errorf("%s: catalog dtype: %w", e.Path, err)
	}
	return npy.FormatHeader(npy.Header{DType: dt, Fortran: e.Fortran, Shape: e.Shape})
}
