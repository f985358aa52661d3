package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func exportCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a file or a whole model to the local filesystem",
		ArgsUsage: "STORE PATH DEST",
		Description: `Writes PATH (a file, a directory or a model) to DEST, byte-identical to
what was imported. As with cp -r, when DEST is an existing directory the
result goes inside it; an existing file is never overwritten. The result
appears only once complete: on any error (corrupt data included) nothing
is left at the destination.

--format npy writes each safetensors file as one .npy per tensor, named by
the tensor name with "." read as "/" (bf16 as the exact float32 upcast);
--format safetensors writes the .npy files of a directory as one
model.safetensors, tensors named by their paths with "/" read as ".".
Other files are written as they are.`,
		Flags: []cli.Flag{noProgressFlag(),
			&cli.StringFlag{Name: "format", Usage: "write another view: `npy` (a .npy per safetensors tensor) or safetensors (the .npy files as one file)"}},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 3, 3); err != nil {
				return err
			}
			return env.exportAction(c)
		},
	}
}

func (e *cliEnv) exportAction(c *cli.Context) error {
	p, err := storePath(c.Args().Get(1))
	if err != nil {
		return err
	}
	dest := c.Args().Get(2)
	st, err := e.openStore(c.Args().Get(0), store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := e.statPath(c.Context, st, p); err != nil {
		return err
	}

	target, err := exportTarget(p, dest)
	if err != nil {
		return err
	}
	tmp, err := tempSibling(target)
	if err != nil {
		return err
	}
	progress, clearBar := e.progress(c, "exporting "+displayPath(p))
	if format := c.String("format"); format != "" {
		var warnings []string
		warnings, err = st.ExportFormat(c.Context, p, tmp, format, progress)
		for _, w := range warnings {
			fmt.Fprintf(e.stderr, "deltafs export: warning: %s\n", w)
		}
	} else {
		err = st.Export(c.Context, p, tmp, progress)
	}
	clearBar()
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("exporting %s to %s failed, nothing was written: %w", displayPath(p), target, err)
	}
	return nil
}

// exportTarget resolves DEST as cp -r does: inside it when it is an existing
// directory, else DEST itself; the result must not exist yet.
func exportTarget(p, dest string) (string, error) {
	target := dest
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		if p == "" {
			return "", failf(exitExists, nil, "%s already exists; export the whole store to a new directory", dest)
		}
		target = filepath.Join(dest, path.Base(p))
	}
	if _, err := os.Lstat(target); err == nil {
		return "", failf(exitExists, nil, "%s already exists; remove it or choose another destination", target)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("cannot export to %s: %w", target, err)
	}
	parent := filepath.Dir(target)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return "", failf(exitNotFound, err, "cannot export to %s: directory %s does not exist", target, parent)
	}
	return target, nil
}

// tempSibling returns an unused hidden name next to target, where the export
// is written before it is renamed into place.
func tempSibling(target string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".deltafs-export-"+hex.EncodeToString(b[:])), nil
}
