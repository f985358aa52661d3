package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func lsCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list models, directories and files",
		ArgsUsage: "STORE [PATH]",
		Description: `Lists PATH (default: the store's models). With -l, each entry shows its
logical size (what a reader sees), its stored size (what it costs on disk),
the ratio, the strategy (lossy ones marked LOSSY) and, for models, the base.
PATH a safetensors file lists its tensors: name, dtype and shape; with -l
also sizes, ratio and strategy ("delta": encoded against the base).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "long", Aliases: []string{"l"}, Usage: "long listing: sizes, ratio, strategy"},
			&cli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "list subdirectories recursively"},
			jsonFlag(),
			bytesFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 2); err != nil {
				return err
			}
			return env.lsAction(c)
		},
	}
}

func (e *cliEnv) lsAction(c *cli.Context) error {
	st, p, fi, err := e.openReadOnlyAt(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context
	if fi.Strategy == store.PartsStrategy {
		return e.lsTensors(c, st, p)
	}
	entries := []store.FileInfo{fi}
	if fi.IsDir() {
		if entries, err = listDir(ctx, st, p, c.Bool("recursive")); err != nil {
			return err
		}
	}
	var models map[string]store.UsageStats
	if p == "" && (c.Bool("long") || c.Bool("json")) {
		if models, err = modelUsage(ctx, st); err != nil {
			return err
		}
	}

	if c.Bool("json") {
		out := make([]entryJSON, 0, len(entries))
		for _, fi := range entries {
			out = append(out, toEntryJSON(fi, usageOf(models, fi)))
		}
		return writeJSON(e.stdout, out)
	}
	// Names are relative to the listed directory; a listed file shows its path.
	name := func(fi store.FileInfo) string {
		n := fi.Path
		if p != "" && fi.Path != p {
			n = strings.TrimPrefix(n, p+"/")
		}
		if fi.IsDir() {
			n += "/"
		}
		return n
	}
	if !c.Bool("long") {
		for _, fi := range entries {
			fmt.Fprintln(e.stdout, name(fi))
		}
		return nil
	}
	sz := sizeFormatter(c.Bool("bytes"))
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "MODE\tSIZE\tSTORED\tRATIO\tSTRATEGY\tNAME")
	for _, fi := range entries {
		size, stored, ratio, strategy := "-", "-", "-", strategyLabel(fi)
		if !fi.IsDir() {
			size, stored, ratio = sz.size(fi.Size), sz.size(fi.StoredSize), formatRatio(fi.Size, fi.StoredSize)
		} else if u := usageOf(models, fi); u != nil {
			size, stored, ratio = sz.size(u.LogicalBytes), sz.size(u.StoredBytes), formatRatio(u.LogicalBytes, u.StoredBytes)
		}
		n := name(fi)
		if fi.IsDir() && fi.Base != "" {
			n += " (base: " + fi.Base + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", modeString(fi), size, stored, ratio, strategy, n)
	}
	return tw.Flush()
}

// listDir returns the entries of dir, and of its subdirectories when
// recursive, in path order.
func listDir(ctx context.Context, st *store.Store, dir string, recursive bool) ([]store.FileInfo, error) {
	children, err := st.ReadDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", displayPath(dir), err)
	}
	if !recursive {
		return children, nil
	}
	var out []store.FileInfo
	for _, fi := range children {
		out = append(out, fi)
		if fi.IsDir() {
			sub, err := listDir(ctx, st, fi.Path, true)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// modelUsage returns the usage of every model by name.
func modelUsage(ctx context.Context, st *store.Store) (map[string]store.UsageStats, error) {
	stats, err := st.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("computing usage: %w", err)
	}
	m := make(map[string]store.UsageStats, len(stats.Models))
	for _, u := range stats.Models {
		m[u.Name] = u
	}
	return m, nil
}

// usageOf returns the usage of fi when it is a model listed in models.
func usageOf(models map[string]store.UsageStats, fi store.FileInfo) *store.UsageStats {
	if u, ok := models[fi.Path]; ok && fi.IsDir() {
		return &u
	}
	return nil
}
