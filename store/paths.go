package store

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// maxNameLen is the longest name of one path component, in bytes, as Linux
// sets it (NAME_MAX).
const maxNameLen = 255

// cleanPath validates a virtual path and returns it in catalog form:
// slash-separated, no leading or trailing slash, "" for the root. Empty
// components, ".", "..", NUL bytes and names longer than maxNameLen bytes
// are refused (an error wrapping ErrInvalidPath that says why), so no path
// escapes.
func cleanPath(p string) (string, error) { return checkPath(p, false) }

// cleanNewPath is cleanPath for a path that an operation creates: its names may
// not hold control characters either (a tab or a newline breaks every
// listing and table). Existing entries stay reachable by cleanPath.
func cleanNewPath(p string) (string, error) { return checkPath(p, true) }

func checkPath(p string, creating bool) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for c := range strings.SplitSeq(p, "/") {
		if why := nameProblem(c, creating); why != "" {
			return "", fmt.Errorf("%w: %s", ErrInvalidPath, why)
		}
	}
	return p, nil
}

// validName reports whether c can be one component of a virtual path.
func validName(c string) bool { return nameProblem(c, false) == "" }

// nameProblem says what is wrong with c as one component of a path ("" if
// nothing is); with creating, control characters are refused too.
func nameProblem(c string, creating bool) string {
	switch {
	case c == "":
		return "empty name (two slashes in a row)"
	case c == "." || c == "..":
		return fmt.Sprintf("a name may not be %q", c)
	case len(c) > maxNameLen:
		return fmt.Sprintf("a name of %d bytes is longer than the %d bytes a name may have", len(c), maxNameLen)
	case strings.IndexByte(c, 0) >= 0:
		return fmt.Sprintf("name %q contains a NUL byte", c)
	}
	if creating {
		for _, r := range c {
			if unicode.IsControl(r) {
				return fmt.Sprintf("name %q contains the control character %s (tabs, newlines and other control characters are refused)", c, strconv.QuoteRune(r))
			}
		}
	}
	return ""
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

// CheckNewName reports why name cannot name a new file or directory (an
// error wrapping ErrInvalidPath that says why), or nil: what Ingest, Mkdir,
// Rename and Import refuse, for callers that learn a name before they store
// anything under it (the mount's create).
func CheckNewName(name string) error {
	if why := nameProblem(name, true); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalidPath, why)
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("%w: name %q contains \"/\"", ErrInvalidPath, name)
	}
	return nil
}
