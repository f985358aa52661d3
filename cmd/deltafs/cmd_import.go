package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func importCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import a directory (.npy, .safetensors, any files), an .npz or a .safetensors file as a new model",
		ArgsUsage: "STORE SRC",
		Description: `Imports SRC as the new model named by --as. SRC is a directory (every file
under it is imported: .npy files as tensors, anything else, malformed .npy
files included, as opaque blobs, with a warning), an .npz archive or a
.safetensors file. Safetensors files (sharded with their index or not) are
stored tensor by tensor; a malformed one fails the import.
Symbolic links to files are followed; links to directories are followed
with --follow-symlinks and skipped with a warning otherwise, and a link
that dangles or loops is skipped with a warning.
With --base, each tensor is stored as a delta against the base model's
tensor at the same path when dtype and shape match, standalone otherwise.
The stored size in the summary is what "deltafs stats" shows for the model:
files identical to ones already in the store share their objects and count
in it too; the summary then says how much was written now.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "as", Usage: "name of the new `MODEL` (required)"},
			&cli.StringFlag{Name: "base", Usage: "base `MODEL` to encode against (must exist)"},
			jsonFlag(),
			bytesFlag(),
			noProgressFlag(),
			&cli.BoolFlag{Name: "follow-symlinks", Usage: "follow symbolic links to directories (links to files are always followed)"},
		}, append(strategyFlags(), settingsFlags()...)...),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 2, 2); err != nil {
				return err
			}
			return env.importAction(c)
		},
	}
}

// importSummary is the JSON form of an import's result.
type importSummary struct {
	Model        string   `json:"model"`
	Base         string   `json:"base,omitempty"`
	Strategy     string   `json:"strategy,omitempty"`
	Files        int      `json:"files"`
	Tensors      int      `json:"tensors"`
	Blobs        int      `json:"blobs"`
	LogicalBytes int64    `json:"logical_bytes"`
	StoredBytes  int64    `json:"stored_bytes"` // the model's objects, each once: what stats shows
	NewBytes     int64    `json:"new_bytes"`    // object files this import wrote
	Ratio        float64  `json:"ratio"`
	Warnings     []string `json:"warnings"`
}

func (e *cliEnv) importAction(c *cli.Context) error {
	dir, src, model, base := c.Args().Get(0), c.Args().Get(1), c.String("as"), c.String("base")
	if err := checkModelName("--as", model); err != nil {
		return err
	}
	if base != "" {
		if err := checkModelName("--base", base); err != nil {
			return err
		}
	}
	strategy, allowLossy, err := parseStrategy(c)
	if err != nil {
		return err
	}
	over, err := settingsOverrides(c)
	if err != nil {
		return err
	}
	if _, err := os.Stat(src); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return failf(exitNotFound, err, "import source %s does not exist", src)
		}
		return fmt.Errorf("cannot read import source: %w", err)
	}
	st, err := e.openStore(dir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	progress, clearBar := e.progress(c, "importing "+model)
	res, err := st.Import(c.Context, src, model, store.ImportOptions{
		Base: base, Strategy: strategy, AllowLossy: allowLossy, Settings: over, Progress: progress,
		FollowSymlinks: c.Bool("follow-symlinks"),
	})
	clearBar()
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "deltafs import: warning: %s\n", w)
	}
	if err != nil {
		return e.importError(c.Context, st, err, src, model, base)
	}

	sum := importSummary{
		Model: model, Base: base, Strategy: string(strategy),
		Files: res.Files, Tensors: res.Tensors, Blobs: res.Blobs,
		LogicalBytes: res.LogicalBytes, StoredBytes: res.StoredBytes, NewBytes: res.NewBytes,
		Warnings: res.Warnings,
	}
	if sum.Warnings == nil {
		sum.Warnings = []string{}
	}
	if res.StoredBytes > 0 {
		sum.Ratio = float64(res.LogicalBytes) / float64(res.StoredBytes)
	}
	if c.Bool("json") {
		return writeJSON(e.stdout, sum)
	}
	sz := sizeFormatter(c.Bool("bytes"))
	against := ""
	if base != "" {
		against = " against base " + base
	}
	fmt.Fprintf(e.stdout, "imported %s%s: %d files (%d tensors, %d blobs), %s logical, %s stored (%s)",
		model, against, res.Files, res.Tensors, res.Blobs,
		sz.size(res.LogicalBytes), sz.size(res.StoredBytes), formatRatio(res.LogicalBytes, res.StoredBytes))
	// Stored bytes count objects shared with files already in the store
	// (identical tensors), as stats does; say how much was new.
	if shared := res.StoredBytes - res.NewBytes; shared > 0 {
		fmt.Fprintf(e.stdout, ", of which %s written now and %s shared with identical files already stored",
			sz.size(res.NewBytes), sz.size(shared))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// importError explains a failed import. When the failure left part of the
// new model behind (disk full, interrupted), that part is removed so no
// half-imported model stays in the store.
func (e *cliEnv) importError(ctx context.Context, st *store.Store, err error, src, model, base string) error {
	switch {
	case errors.Is(err, store.ErrExist):
		return failf(exitExists, err, "model %q already exists in store %s (choose another name with --as, or remove it first: deltafs rm -r %s %s)", model, e.storeDir, e.storeDir, model)
	case errors.Is(err, store.ErrNoBase):
		return failf(exitNotFound, err, "base model %q does not exist in store %s (list the models with: deltafs ls %s)", base, e.storeDir, e.storeDir)
	case errors.Is(err, store.ErrInvalidPath):
		return failf(exitUsage, err, "cannot import %s: %v", src, err)
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, context.Canceled) {
		// The model did not exist before (Import refuses existing names),
		// so whatever is there now is this import's partial work.
		bg := context.WithoutCancel(ctx)
		if _, statErr := st.Stat(bg, model); statErr == nil {
			if rmErr := st.RemoveAll(bg, model); rmErr != nil {
				return fmt.Errorf("model %s: %w; removing the partial model failed too (%v), remove it with: deltafs rm -r %s %s", model, err, rmErr, e.storeDir, model)
			}
			return fmt.Errorf("model %s: %w; the partial model was removed", model, err)
		}
	}
	return fmt.Errorf("model %s: %w", model, err)
}
