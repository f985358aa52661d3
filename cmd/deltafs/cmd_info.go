package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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
	var settings []store.SettingValue
	if fi.Model != "" {
		if settings, err = st.Settings(c.Context, fi.Model, nil); err != nil {
			return err
		}
	}
	var h tensorHead
	if fi.Kind == store.KindTensor {
		h.header, h.length, h.err = tensorHeader(c.Context, st, fi.Path)
	}
	if c.Bool("json") {
		return e.infoJSON(fi, usage, h, settings)
	}
	tw := newTable(e.stdout)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("path", displayPath(fi.Path))
	row("kind", kindName(fi))
	if fi.Model != "" && fi.Model != fi.Path {
		row("model", fi.Model)
	}
	sz := sizeFormatter(c.Bool("bytes"))
	if fi.IsDir() {
		dirRows(row, sz, fi, usage)
	} else {
		fileRows(row, sz, fi, h)
	}
	row("mode", modeString(fi))
	row("inode", fmt.Sprint(fi.Inode))
	row("modified", fi.MTime.UTC().Format("2006-01-02 15:04:05 UTC"))
	settingRows(row, settings, usage != nil)
	return tw.Flush()
}

// tensorHead is a tensor file's parsed .npy header, or why it is not.
type tensorHead struct {
	header npy.Header
	length int
	err    error
}

// infoJSON prints info's JSON form.
func (e *cliEnv) infoJSON(fi store.FileInfo, usage *store.UsageStats, h tensorHead, settings []store.SettingValue) error {
	out := struct {
		entryJSON
		Order          string        `json:"order,omitempty"`      // "C" or "F", as numpy's order argument
		BaseMatch      string        `json:"base_match,omitempty"` // how base was chosen: path, name or similarity
		BaseSimilarity float64       `json:"base_similarity,omitempty"`
		Settings       []settingJSON `json:"settings,omitempty"` // the settings of the model, each with its source
	}{entryJSON: toEntryJSON(fi, usage), BaseMatch: fi.BaseMatch, BaseSimilarity: fi.BaseSimilarity}
	if fi.Kind == store.KindTensor && h.err == nil {
		out.Order = map[bool]string{false: "C", true: "F"}[h.header.Fortran]
	}
	if settings != nil {
		out.Settings = toSettingsJSON(settings)
	}
	return writeJSON(e.stdout, out)
}

// dirRows are info's lines about a directory or a model.
func dirRows(row func(k, v string), sz sizeFormatter, fi store.FileInfo, usage *store.UsageStats) {
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
}

// fileRows are info's lines about a file.
func fileRows(row func(k, v string), sz sizeFormatter, fi store.FileInfo, h tensorHead) {
	if fi.Kind == store.KindTensor {
		row("dtype", fi.DType)
		row("shape", shapeString(fi.Shape))
		if h.err != nil {
			row("order", "unknown ("+oneLine(h.err.Error())+")")
		} else {
			row("order", orderName(h.header.Fortran))
			row("npy header", fmt.Sprintf("version %d.%d, %d bytes", h.header.Major, h.header.Minor, h.length))
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
	row("base", baseDetail(fi))
	row("sha256", fi.ContentHash)
	row("object", fi.Object)
}

// baseDetail says what a file is a delta against, and how it was chosen.
func baseDetail(fi store.FileInfo) string {
	switch {
	case fi.Base == "":
		return "none (stored standalone)"
	case fi.BaseMatch == "name":
		return fi.Base + " (delta against it; found by file name)"
	case fi.BaseMatch == "similarity":
		return fmt.Sprintf("%s (delta against it; found by similarity %.4f)", fi.Base, fi.BaseSimilarity)
	}
	return fi.Base + " (delta against it)"
}

// settingRows are info's lines about the settings of the model: all of
// them for a model, those not at their default for a file.
func settingRows(row func(k, v string), settings []store.SettingValue, all bool) {
	var set []string
	for _, v := range settings {
		switch {
		case all:
			row("setting "+v.Name, fmt.Sprintf("%s (%s)", v.Value, v.Source))
		case v.Source != store.FromDefault:
			set = append(set, fmt.Sprintf("%s=%s (%s)", v.Name, v.Value, v.Source))
		}
	}
	if all {
		return
	}
	switch {
	case len(set) > 0:
		row("settings", strings.Join(set, ", "))
	case settings != nil:
		row("settings", "defaults (see deltafs config)")
	}
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
