package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

// openStore opens the store in dir, turning the ways it can fail into
// messages that say what to do.
func (e *cliEnv) openStore(dir string, opts store.Options) (*store.Store, error) {
	e.storeDir = dir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, failf(exitNotStore, store.ErrNotStore, "%s does not exist (create a store with: deltafs init %s)", dir, dir)
	case err != nil:
		return nil, fmt.Errorf("cannot open store %s: %w", dir, err)
	case !fi.IsDir():
		return nil, failf(exitNotStore, store.ErrNotStore, "%s is a file, not a deltafs store", dir)
	}
	st, err := store.Open(dir, opts)
	switch {
	case err == nil:
		reportRecovery(e.stderr, st.Recovered())
		return st, nil
	case errors.Is(err, store.ErrNewerSchema):
		return nil, failf(exitNotStore, err, "store %s was written by a newer version of deltafs (%v); upgrade deltafs to use it", dir, err)
	case errors.Is(err, store.ErrNotStore):
		return nil, failf(exitNotStore, err, "%s is not a deltafs store (create one with: deltafs init %s)", dir, dir)
	}
	return nil, fmt.Errorf("cannot open store %s: %w", dir, err)
}

// storePath turns a path given on the command line into a store path:
// slash-separated, relative to the store root ("" is the root). A path that
// would leave the store is refused.
func storePath(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", usageErrorf("invalid path %q: contains a NUL byte", p)
	}
	trimmed := strings.Trim(p, "/")
	for _, part := range strings.Split(trimmed, "/") {
		if part == ".." {
			return "", usageErrorf("invalid path %q: \"..\" would leave the store", p)
		}
	}
	clean := path.Clean(trimmed)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// checkModelName validates a model name: one path component, not "." or "..".
func checkModelName(flag, name string) error {
	if name == "" {
		return usageErrorf("%s needs a model name", flag)
	}
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || strings.TrimSpace(name) != name {
		return usageErrorf("invalid model name %q for %s: a model name is one path component (no \"/\", not \".\" or \"..\", no surrounding spaces)", name, flag)
	}
	return nil
}

// statPath stats p, with a not-found message naming the store.
func (e *cliEnv) statPath(ctx context.Context, st *store.Store, p string) (store.FileInfo, error) {
	fi, err := st.Stat(ctx, p)
	if errors.Is(err, store.ErrNotFound) {
		return fi, failf(exitNotFound, err, "%s: no such file or model in store %s (list it with: deltafs ls %s)", displayPath(p), e.storeDir, e.storeDir)
	}
	if err != nil {
		return fi, fmt.Errorf("%s: %w", displayPath(p), err)
	}
	return fi, nil
}

// displayPath shows the root as "/".
func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// openReadOnlyAt opens the store named by the first argument read-only and
// describes the path named by the second ("" when absent: the root). The
// caller closes the store.
func (e *cliEnv) openReadOnlyAt(c *cli.Context) (*store.Store, string, store.FileInfo, error) {
	p, err := storePath(c.Args().Get(1))
	if err != nil {
		return nil, "", store.FileInfo{}, err
	}
	st, err := e.openStore(c.Args().Get(0), store.Options{ReadOnly: true})
	if err != nil {
		return nil, "", store.FileInfo{}, err
	}
	fi, err := e.statPath(c.Context, st, p)
	if err != nil {
		st.Close()
		return nil, "", store.FileInfo{}, err
	}
	return st, p, fi, nil
}
