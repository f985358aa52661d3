package store

import (
	"strings"
)

// cleanPath validates a virtual path and returns it in catalog form:
// slash-separated, no leading or trailing slash, "" for the root. Empty
// components, ".", ".." and NUL bytes are refused, so no path escapes.
func cleanPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, c := range strings.Split(p, "/") {
		if !validName(c) {
			return "", ErrInvalidPath
		}
	}
	return p, nil
}

// validName reports whether c can be one component of a virtual path.
func validName(c string) bool {
	return c != "" && c != "." && c != ".." && len(c) <= 255 &&
		!strings.ContainsAny(c, "/\x00")
}

// splitModel splits a clean path into its model (top-level directory) and
// the path relative to it.
func splitModel(p string) (model, rel string) {
	model, rel, _ = strings.Cut(p, "/")
	return model, rel
}

// modelOf returns the model a clean path belongs to: its top-level
// directory, or "" for the root and for files at the top level.
func modelOf(p string, isDir bool) string {
	model, rel := splitModel(p)
	if rel == "" && !isDir {
		return ""
	}
	return model
}

// parentOf returns the parent of a clean path ("" for a top-level name).
func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// baseName returns the last component of a clean path.
func baseName(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// joinPath joins clean paths.
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	if name == "" {
		return dir
	}
	return dir + "/" + name
}

// isTopLevel reports whether a clean, non-root path names a model.
func isTopLevel(p string) bool { return p != "" && !strings.Contains(p, "/") }
