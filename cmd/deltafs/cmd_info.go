package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"deltafs/npy"
	"deltafs/store"
)

func infoCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "show everything about a file, directory or model",
		ArgsUsage: "STORE PATH",
		Description: `Shows the kind, dtype, shape, sizes (logical and stored), ratio, strategy
(LOSSY marked), the base tensor it is a delta against, its SHA-256 and the
id of the object file holding it.`,
		Flags: []cli.Flag{jsonFlag(), bytesFlag()},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 2, 2); err != nil {
				return err
			}
			return env.infoAction(c)
		},
	}
}

func (e *cliEnv) infoAction(c *cli.Context) error {
	st, _, fi, err := e.openReadOnlyAt(c)
	if err != nil {
		return err
	}
	defer st.Close()
	var usage *store.UsageStats
	if fi.IsDir() && kindName(fi) == "model" {
		models, err := modelUsage(c.Context, st)
		if err != nil {
			return err
		}
		usage = usageOf(models, fi)
	}
	var (
		header    npy.Header
		headerLen int
		headerErr error
	)
	if fi.Kind == store.KindTensor {
		header, headerLen, headerErr = tensorHeader(c.Context, st, fi.Path)
	}
	if c.Bool("json") {
		out := struct {
			entryJSON
			Order string `json:"order,omitempty"` // "C" or "F", as numpy's order argument
		}{entryJSON: toEntryJSON(fi, usage)}
		if fi.Kind == store.KindTensor && headerErr == nil {
			out.Order = map[bool]string{false: "C", true: "F"}[header.Fortran]
		}
		return writeJSON(e.stdout, out)
	}

	sz := sizeFormatter(c.Bool("bytes"))
	tw := newTable(e.stdout)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("path", displayPath(fi.Path))
	row("kind", kindName(fi))
	if fi.Model != "" && fi.Model != fi.Path {
		row("model", fi.Model)
	}
	if fi.IsDir() {
		if usage != nil && fi.Base == "" {
			row("base model", "none")
		} else if fi.Base != "" {
			row("base model", fi.Base)
		}
		if usage != nil {
			row("files", fmt.Sprint(usage.Files))
			row("logical size", sizeDetail(sz, usage.LogicalBytes))
			row("stored size", sizeDetail(sz, usage.StoredBytes))
			row("ratio", formatRatio(usage.LogicalBytes, usage.StoredBytes))
		}
	} else {
		if fi.Kind == store.KindTensor {
			row("dtype", fi.DType)
			row("shape", shapeString(fi.Shape))
			if headerErr != nil {
				row("order", "unknown ("+oneLine(headerErr.Error())+")")
			} else {
				row("order", orderName(header.Fortran))
				row("npy header", fmt.Sprintf("version %d.%d, %d bytes", header.Major, header.Minor, headerLen))
			}
		}
		row("logical size", sizeDetail(sz, fi.Size))
		row("stored size", sizeDetail(sz, fi.StoredSize))
		row("ratio", formatRatio(fi.Size, fi.StoredSize))
		if fi.Lossy {
			row("strategy", fi.Strategy+" (LOSSY: values are approximate, not the original bytes)")
		} else {
			row("strategy", fi.Strategy+" (lossless)")
		}
		if fi.Base != "" {
			row("base", fi.Base+" (delta against it)")
		} else {
			row("base", "none (stored standalone)")
		}
		row("sha256", fi.ContentHash)
		row("object", fi.Object)
	}
	row("mode", modeString(fi))
	row("inode", fmt.Sprint(fi.Inode))
	row("modified", fi.MTime.UTC().Format("2006-01-02 15:04:05 UTC"))
	return tw.Flush()
}

// sizeDetail prints a size both ways, e.g. "1.5 MiB (1572864 bytes)".
func sizeDetail(sz sizeFormatter, n int64) string {
	if sz {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%s (%d bytes)", formatSize(n), n)
}

// tensorHeader parses the .npy header of the tensor file at p; the store
// serves header bytes from its catalog, so nothing is decoded.
func tensorHeader(ctx context.Context, st *store.Store, p string) (npy.Header, int, error) {
	f, err := st.Open(ctx, p)
	if err != nil {
		return npy.Header{}, 0, err
	}
	defer f.Close()
	h, raw, err := npy.ReadHeader(io.NewSectionReader(f, 0, f.Size()))
	return h, len(raw), err
}

// orderName names a memory order as numpy's flags do.
func orderName(fortran bool) string {
	if fortran {
		return "Fortran (column-major)"
	}
	return "C (row-major)"
}
