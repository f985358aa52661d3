package store

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"deltafs/catalog"
	"deltafs/delta"
)

// ImportOptions configure Import.
type ImportOptions struct {
	Base       string         // base model ("" none); must exist (ErrNoBase)
	Strategy   delta.Strategy // "" keeps the store's
	AllowLossy bool           // required for a lossy Strategy
	Settings   Overrides      // over the store's settings and the model's
	Progress   Progress
	// FollowSymlinks follows symbolic links to directories (links to files
	// are always followed); without it they are skipped with a warning.
	FollowSymlinks bool
}

// ImportResult summarises an import.
type ImportResult struct {
	Files, Tensors, Blobs int
	LogicalBytes          int64
	// StoredBytes are the stored bytes of the imported files' objects,
	// each object counted once: what Stats reports for the model. Objects
	// shared with files already in the store (identical tensors, found by
	// deduplication) count here although nothing new was written for them.
	StoredBytes int64
	// NewBytes are the bytes of object files this import wrote: StoredBytes
	// less the objects that already existed.
	NewBytes int64
	Warnings []string // e.g. "a/b.npy: malformed .npy header, stored as a blob"
}

// importItem is one directory or file to import, at rel inside the model.
type importItem struct {
	rel   string
	dir   bool
	size  int64
	mode  uint32                           // permission bits to give the file (0: the store's default)
	owner *Owner                           // the source's owner (nil: unknown)
	mtime time.Time                        // the source's modification time (zero: unknown)
	open  func() (*os.File, func(), error) // opens the file to ingest and its cleanup
	label string                           // where it came from, for messages
}

// Import imports src (a directory of files, recursively, or an .npz) as the
// new model named model. A model of that name must not exist (ErrExist).
// Files of a directory keep their permission bits (setuid, setgid and
// sticky included; a file with none gets 0644, as do .npz members) and
// modification times (.npz members their zip times). Files and directories
// belong to the importing user; when that is root, to the source's owner.
// An import that fails removes the partly imported model again.
func (s *Store) Import(ctx context.Context, src, model string, opts ImportOptions) (ImportResult, error) {
	m, err := cleanNewPath(model)
	if err == nil && !isTopLevel(m) {
		err = fmt.Errorf("%w: a model name is one path component", ErrInvalidPath)
	}
	if err != nil {
		return ImportResult{}, &PathError{Op: "import", Path: model, Err: err}
	}
	if err := s.checkWritable("import", m); err != nil {
		return ImportResult{}, err
	}
	base, err := cleanPath(opts.Base)
	if err == nil && base != "" && !isTopLevel(base) {
		err = ErrInvalidPath
	}
	if err == nil && base == m {
		err = ErrBaseCycle
	}
	if err != nil {
		return ImportResult{}, &PathError{Op: "import", Path: m, Err: fmt.Errorf("base %q: %w", opts.Base, err)}
	}
	if _, err := s.policyFor(ctx, m, string(opts.Strategy), opts.AllowLossy, opts.Settings); err != nil {
		return ImportResult{}, &PathError{Op: "import", Path: m, Err: err}
	}
	items, skipped, closeSrc, err := s.planImport(src, opts.FollowSymlinks)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import %s: %w", src, err)
	}
	defer closeSrc()
	if err := checkSafetensorsInput(items); err != nil {
		return ImportResult{}, fmt.Errorf("import %s: %w", src, err)
	}
	var dirOpts MkdirOptions
	if st, err := os.Stat(src); err == nil {
		owner, mtime := sourceAttr(st)
		dirOpts = MkdirOptions{Owner: s.importOwner(owner), MTime: mtime}
	}
	modelDir := s.dirEntry(m, dirOpts)

	err = s.update(ctx, func(tx catalog.Tx) error {
		if _, err := tx.Model(ctx, m); err == nil {
			return fmt.Errorf("model %q: %w", m, ErrExist)
		}
		if base != "" {
			if _, err := tx.Model(ctx, base); errors.Is(err, catalog.ErrNotFound) {
				return fmt.Errorf("%q: %w", base, ErrNoBase)
			} else if err != nil {
				return err
			}
		}
		if err := mkdirTx(ctx, tx, modelDir, base); errors.Is(err, ErrExist) {
			return fmt.Errorf("%q: %w", m, ErrExist)
		} else if err != nil {
			return err
		}
		// Recorded with the model: if this process dies before the end,
		// the next one to open the store removes the model again.
		return tx.AddImport(ctx, catalog.Import{Model: m, Session: s.session.name})
	})
	if err != nil {
		return ImportResult{}, &PathError{Op: "import", Path: m, Err: err}
	}
	res, err := s.importItems(ctx, m, base, items, opts)
	res.Warnings = append(skipped, res.Warnings...)
	if err != nil {
		// Leave nothing half-imported behind: neither the model nor the
		// objects written for it.
		ctx := context.WithoutCancel(ctx)
		if rerr := s.undoImport(ctx, m); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the partial model: %w", rerr))
		} else if _, _, serr := s.sweepObjects(ctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("deleting the objects of the partial model: %w", serr))
		}
		return res, err
	}
	if err := s.update(ctx, func(tx catalog.Tx) error { return tx.DeleteImport(ctx, m) }); err != nil {
		return res, &PathError{Op: "import", Path: m, Err: err}
	}
	return res, nil
}

// importItems ingests the planned items into model m.
func (s *Store) importItems(ctx context.Context, m, base string, items []importItem, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	var idx *baseIndex
	if base != "" {
		var err error
		if idx, err = s.buildBaseIndex(ctx, base); err != nil {
			return res, fmt.Errorf("import: index base %s: %w", base, err)
		}
	}
	var total int64
	for _, it := range items {
		total += it.size
	}
	opts.Progress.report(0, total)
	// Directories first, in order; then the files, a few at a time so one
	// file's fsyncs overlap another's encoding.
	var files []importItem
	for _, it := range items {
		if !it.dir {
			files = append(files, it)
			continue
		}
		p := joinPath(m, it.rel)
		if err := s.mkdirAll(ctx, parentOf(p)); err != nil {
			return res, fmt.Errorf("import %s: %w", it.label, err)
		}
		err := s.MkdirWith(ctx, p, MkdirOptions{Owner: s.importOwner(it.owner), MTime: it.mtime})
		if err != nil && !errors.Is(err, ErrExist) {
			return res, fmt.Errorf("import %s: %w", it.label, err)
		}
	}
	iopts := IngestOptions{Strategy: opts.Strategy, AllowLossy: opts.AllowLossy, Settings: opts.Settings}
	results := make([]ingestResult, len(files))
	var (
		mu   sync.Mutex
		done int64
	)
	err := parallelN(ctx, len(files), importWorkers, func(i int) error {
		it := files[i]
		p := joinPath(m, it.rel)
		if err := s.mkdirAll(ctx, parentOf(p)); err != nil {
			return fmt.Errorf("import %s: %w", it.label, err)
		}
		f, cleanup, err := it.open()
		if err != nil {
			return fmt.Errorf("import %s: %w", it.label, err)
		}
		fopts := iopts
		fopts.Mode, fopts.Owner, fopts.MTime = it.mode, s.importOwner(it.owner), it.mtime
		r, err := s.ingest(ctx, p, f, fopts, idx)
		cleanup()
		if err != nil {
			return fmt.Errorf("import %s: %w", it.label, err)
		}
		results[i] = r
		mu.Lock()
		done += it.size
		opts.Progress.report(done, total)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}
	// Each object counts once, also when two workers both wrote it.
	written := make(map[string]int64, len(results))
	for i, r := range results {
		res.Files++
		if id := r.info.Object; id != "" {
			if _, seen := written[id]; !seen {
				res.StoredBytes += r.info.StoredSize
			}
			written[id] = max(written[id], r.newBytes)
		}
		if r.tensors > 0 {
			res.Tensors += r.tensors
		} else if r.info.Kind == catalog.KindTensor {
			res.Tensors++
		} else {
			res.Blobs++
		}
		res.LogicalBytes += r.info.Size
		if r.warning != "" {
			res.Warnings = append(res.Warnings, files[i].rel+": "+r.warning)
		}
	}
	for _, n := range written {
		res.NewBytes += n
	}
	return res, nil
}

// importWorkers is how many files Import ingests at once: enough to overlap
// one file's disk syncs with another's encoding (each encode is itself
// parallel).
const importWorkers = 2

// mkdirAll creates p and its missing parents.
func (s *Store) mkdirAll(ctx context.Context, p string) error {
	if p == "" {
		return nil
	}
	if e, err := s.catalog.Get(ctx, p); err == nil {
		if e.Kind != catalog.KindDir {
			return &PathError{Op: "mkdir", Path: p, Err: ErrNotDir}
		}
		return nil
	}
	if err := s.mkdirAll(ctx, parentOf(p)); err != nil {
		return err
	}
	if err := s.Mkdir(ctx, p); err != nil && !errors.Is(err, ErrExist) {
		return err
	}
	return nil
}

// planImport lists what importing src means: a directory tree, or the
// members of an .npz (zip) file.
func (s *Store) planImport(src string, follow bool) (items []importItem, warnings []string, closeSrc func(), err error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("import source: %w", err)
	}
	if st.IsDir() {
		items, warnings, err := planDir(src, follow)
		return items, warnings, func() {}, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, nil, errors.New("import source is neither a directory nor an .npz file")
	}
	if isSafetensorsName(src) {
		return []importItem{fileItem(src, filepath.Base(src), st)}, nil, func() {}, nil
	}
	zr, err := zip.OpenReader(src)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("import source is neither a directory nor a readable .npz (zip) file: %w", err)
	}
	items, err = s.planNPZ(&zr.Reader)
	if err != nil {
		zr.Close()
		return nil, nil, nil, err
	}
	owner, _ := sourceAttr(st)
	for i := range items {
		items[i].owner = owner
	}
	return items, nil, func() { zr.Close() }, nil
}

// planDir lists a directory tree, in lexical order. Symbolic links to files
// are followed. A link to a directory is followed with follow and skipped
// with a warning otherwise; a link that dangles or loops is skipped with a
// warning; special files are refused.
func planDir(root string, follow bool) ([]importItem, []string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, nil, err
	}
	p := &dirPlan{follow: follow, within: map[fileID]bool{idOf(st): true}}
	if err := p.walk(root, ""); err != nil {
		return nil, nil, err
	}
	return p.items, p.warnings, nil
}

// dirPlan is the state of planDir's walk.
type dirPlan struct {
	follow   bool
	within   map[fileID]bool // the directories being walked, root first
	items    []importItem
	warnings []string
}

// fileID identifies a file by device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: st.Ino}
	}
	return fileID{}
}

// walk lists the directory dir, at rel inside the model, and below it.
func (p *dirPlan) walk(dir, rel string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		path := filepath.Join(dir, d.Name())
		r, err := cleanNewPath(joinPath(rel, d.Name()))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		st, err := os.Stat(path) // follows a symbolic link
		if err != nil {
			if d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			p.skipLink(path, err)
			continue
		}
		if st.IsDir() {
			if err := p.dir(path, r, st, d.Type()&fs.ModeSymlink != 0); err != nil {
				return err
			}
			continue
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file (special files are not imported)", path)
		}
		p.items = append(p.items, fileItem(path, r, st))
	}
	return nil
}

// dir lists the directory at path (reached through a symbolic link when
// link) and below it.
func (p *dirPlan) dir(path, rel string, st fs.FileInfo, link bool) error {
	id := idOf(st)
	switch {
	case link && !p.follow:
		p.warnings = append(p.warnings, fmt.Sprintf("%s: symbolic link to a directory, skipped (import with --follow-symlinks to follow it)", path))
		return nil
	case p.within[id]:
		p.warnings = append(p.warnings, fmt.Sprintf("%s: symbolic link to a directory that contains it (a loop), skipped", path))
		return nil
	}
	it := importItem{rel: rel, dir: true, label: path}
	it.owner, it.mtime = sourceAttr(st)
	p.items = append(p.items, it)
	p.within[id] = true
	defer delete(p.within, id)
	return p.walk(path, rel)
}

// skipLink records a symbolic link that cannot be followed.
func (p *dirPlan) skipLink(path string, err error) {
	var why string
	switch target, _ := os.Readlink(path); {
	case errors.Is(err, syscall.ELOOP):
		why = "loops"
	case errors.Is(err, fs.ErrNotExist):
		why = fmt.Sprintf("points to %s, which does not exist", target)
	default:
		why = fmt.Sprintf("cannot be followed: %v", err)
	}
	p.warnings = append(p.warnings, fmt.Sprintf("%s: symbolic link that %s, skipped", path, why))
}

// hasDotComponent reports whether the slash-separated name has a "." or
// ".." component.
func hasDotComponent(name string) bool {
	for c := range strings.SplitSeq(name, "/") {
		if c == "." || c == ".." {
			return true
		}
	}
	return false
}

// fileItem is the import item of the file at path, to be stored at rel.
func fileItem(path, rel string, st fs.FileInfo) importItem {
	owner, mtime := sourceAttr(st)
	return importItem{rel: rel, size: st.Size(), mode: unixPerm(st.Mode()), owner: owner, mtime: mtime, label: path, open: func() (*os.File, func(), error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}}
}

// unixPerm returns the permission, setuid, setgid and sticky bits of m as
// Unix mode bits.
func unixPerm(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// planNPZ lists the members of an .npz. Member names are cleaned so that
// nothing lands outside the model: absolute names and names with "." or
// ".." components are refused, as are duplicates.
func (s *Store) planNPZ(zr *zip.Reader) ([]importItem, error) {
	var items []importItem
	seen := make(map[string]bool)
	for _, zf := range zr.File {
		name := zf.Name
		if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || filepath.IsAbs(name) {
			return nil, fmt.Errorf("npz member %q: %w: absolute or non-portable name", name, ErrInvalidPath)
		}
		isDir := strings.HasSuffix(name, "/")
		rel, err := cleanNewPath(name)
		if err != nil && !hasDotComponent(name) {
			return nil, fmt.Errorf("npz member %q: %w", name, err)
		}
		if err != nil || rel == "" {
			return nil, fmt.Errorf("npz member %q: %w: it would escape the model", name, ErrInvalidPath)
		}
		if seen[rel] {
			return nil, fmt.Errorf("npz member %q appears twice", name)
		}
		seen[rel] = true
		if isDir || zf.FileInfo().IsDir() {
			items = append(items, importItem{rel: rel, dir: true, label: name})
			continue
		}
		items = append(items, importItem{rel: rel, size: int64(zf.UncompressedSize64), mtime: zf.Modified, label: "npz member " + name,
			open: func() (*os.File, func(), error) { return s.extractMember(zf) }})
	}
	return items, nil
}

// extractMember copies one zip member to a staging file (checked by the
// zip reader's CRC-32 and size) and returns it, opened, with its cleanup.
func (s *Store) extractMember(zf *zip.File) (*os.File, func(), error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(s.StagingDir(), "import-*")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if _, err := io.Copy(tmp, rc); err != nil {
		cleanup()
		return nil, nil, err
	}
	return tmp, cleanup, nil
}

// sourceAttr is the owner (nil when the system does not say) and the
// modification time of an imported file or directory.
func sourceAttr(st fs.FileInfo) (*Owner, time.Time) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, st.ModTime()
	}
	return &Owner{UID: sys.Uid, GID: sys.Gid}, st.ModTime()
}

// importOwner is who owns an imported entry whose source belongs to src:
// the importing user, or, when that is root, the source's owner (as cp -p
// and tar do). nil means the importing user.
func (s *Store) importOwner(src *Owner) *Owner {
	if s.self.UID == 0 && src != nil {
		return src
	}
	return nil
}
