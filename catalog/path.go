package catalog

import (
	"fmt"
	"strings"
)

// Limits on paths, as Linux sets them (NAME_MAX, PATH_MAX less the NUL).
const (
	MaxNameLen = 255
	MaxPathLen = 4095
)

// ValidatePath reports whether p is a clean catalog path: slash-separated
// components, no leading or trailing slash, no empty, "." or ".." component,
// no NUL byte, components of at most MaxNameLen bytes and at most MaxPathLen
// bytes in all. "" (the root) is valid. The error wraps ErrInvalidPath.
func ValidatePath(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path of %d bytes is longer than %d", ErrInvalidPath, len(p), MaxPathLen)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidPath, p)
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q is absolute", ErrInvalidPath, p)
	}
	for c := range strings.SplitSeq(p, "/") {
		switch c {
		case "":
			return fmt.Errorf("%w: %q has an empty component", ErrInvalidPath, p)
		case ".", "..":
			return fmt.Errorf("%w: %q has a %q component", ErrInvalidPath, p, c)
		}
		if len(c) > MaxNameLen {
			return fmt.Errorf("%w: a component of %d bytes is longer than %d", ErrInvalidPath, len(c), MaxNameLen)
		}
	}
	return nil
}

// Split returns the parent directory and the last component of a valid
// path; the root's parent is "" and its name "".
func Split(p string) (parent, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// Join joins a directory and a name ("" is the root).
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// ModelOf returns the top-level component of p (its model), "" for the root.
func ModelOf(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}

// IsWithin reports whether p is dir or lies under it.
func IsWithin(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

// subtreeUpper is the exclusive upper bound of the paths strictly under dir
// in byte order: they all lie in [dir+"/", dir+"0") since '0' follows '/'.
func subtreeUpper(dir string) string { return dir + "0" }
