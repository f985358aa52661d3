package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Rename moves the file or directory subtree at oldPath to newPath as
// rename(2) does, keeping inodes: a file replaces a file, a directory
// replaces an empty directory (ErrNotEmpty otherwise); a file cannot replace
// a directory (ErrIsDir) nor a directory a file (ErrNotDir); a directory
// cannot move under itself and the root cannot move (ErrInvalidPath).
// Renaming a path to itself does nothing.
//
// Models follow their top-level directory: renaming a model renames it, and
// the models based on it follow the new name (the base is the same data);
// moving a model's directory below the top level deletes the model (its
// dependents lose their base), and moving a directory to the top level makes
// it a model without a base. A replaced model is deleted likewise.
func (t *sqlTx) Rename(ctx context.Context, oldPath, newPath string) error {
	if err := ValidatePath(oldPath); err != nil {
		return err
	}
	if err := ValidatePath(newPath); err != nil {
		return err
	}
	if oldPath == "" || newPath == "" {
		return fmt.Errorf("%w: the root cannot be renamed or replaced", ErrInvalidPath)
	}
	src, err := t.Get(ctx, oldPath)
	if err != nil {
		return err
	}
	if oldPath == newPath {
		return nil
	}
	if src.Kind == KindDir && IsWithin(newPath, oldPath) {
		return fmt.Errorf("%w: cannot move %q under itself (%q)", ErrInvalidPath, oldPath, newPath)
	}
	newParent, newName := Split(newPath)
	p, err := t.Get(ctx, newParent)
	if err != nil {
		return fmt.Errorf("rename to %q: parent: %w", newPath, err)
	}
	if p.Kind != KindDir {
		return fmt.Errorf("rename to %q: %w: parent %q", newPath, ErrNotDir, newParent)
	}

	dst, err := t.Get(ctx, newPath)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	case src.Kind == KindDir && dst.Kind != KindDir:
		return fmt.Errorf("%w: cannot replace file %q by directory %q", ErrNotDir, newPath, oldPath)
	case src.Kind != KindDir && dst.Kind == KindDir:
		return fmt.Errorf("%w: cannot replace directory %q by file %q", ErrIsDir, newPath, oldPath)
	default:
		// Delete checks that a replaced directory is empty and drops a
		// replaced model.
		if err := t.Delete(ctx, newPath); err != nil {
			return fmt.Errorf("rename %q to %q: %w", oldPath, newPath, err)
		}
	}

	oldTop, newTop := !strings.Contains(oldPath, "/"), newParent == ""
	_, err = t.exec(ctx, `UPDATE entries SET path = ?, parent = ?, name = ? WHERE path = ?`,
		newPath, newParent, newName, oldPath)
	if err != nil {
		return mapErr(fmt.Sprintf("rename %q to %q", oldPath, newPath), err)
	}
	if src.Kind == KindDir {
		// Descendants: replace the old prefix of path and parent. The ranges
		// cannot collide: newPath is neither oldPath's descendant (checked)
		// nor its ancestor (an ancestor is a non-empty directory). The
		// suffix is cut in bytes, as len() counts.
		_, err = t.exec(ctx, `UPDATE entries
			SET path = ?1 || `+t.d.suffixOf("path")+`,
				parent = ?1 || `+t.d.suffixOf("parent")+`
			WHERE path >= ?2 AND path < ?4`,
			newPath, oldPath+"/", len(oldPath)+1, subtreeUpper(oldPath))
		if err != nil {
			return mapErr(fmt.Sprintf("rename children of %q to %q", oldPath, newPath), err)
		}
	}
	if err := t.renamePending(ctx, oldPath, newPath, src.Kind == KindDir); err != nil {
		return err
	}
	if src.Kind != KindDir {
		return nil
	}
	switch {
	case oldTop && newTop:
		_, err = t.exec(ctx, `UPDATE models SET name = ? WHERE name = ?`, newPath, oldPath)
	case oldTop:
		_, err = t.exec(ctx, `DELETE FROM models WHERE name = ?`, oldPath)
	case newTop:
		_, err = t.exec(ctx, `INSERT INTO models(name) VALUES (?) ON CONFLICT DO NOTHING`, newPath)
	}
	return mapErr(fmt.Sprintf("rename model %q to %q", oldPath, newPath), err)
}
