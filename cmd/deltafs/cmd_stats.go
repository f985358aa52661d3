package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func statsCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "show logical and stored bytes per model, per strategy and in total",
		ArgsUsage: "STORE",
		Flags:     []cli.Flag{jsonFlag(), bytesFlag()},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			st, err := env.openStore(c.Args().Get(0), store.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer st.Close()
			stats, err := st.Stats(c.Context)
			if err != nil {
				return fmt.Errorf("computing statistics: %w", err)
			}
			if c.Bool("json") {
				return writeJSON(env.stdout, toStatsJSON(stats))
			}
			return printStats(env, stats, sizeFormatter(c.Bool("bytes")))
		},
	}
}

// usageJSON is one row of stats --json.
type usageJSON struct {
	Name         string  `json:"name"`
	Files        int     `json:"files"`
	LogicalBytes int64   `json:"logical_bytes"`
	StoredBytes  int64   `json:"stored_bytes"`
	Ratio        float64 `json:"ratio"`
}

// statsJSON is the output of stats --json.
type statsJSON struct {
	Total       usageJSON   `json:"total"`
	Models      []usageJSON `json:"models"`
	Strategies  []usageJSON `json:"strategies"`
	Objects     int         `json:"objects"`
	ObjectBytes int64       `json:"object_bytes"`
}

func toUsageJSON(u store.UsageStats) usageJSON {
	return usageJSON{Name: u.Name, Files: u.Files, LogicalBytes: u.LogicalBytes, StoredBytes: u.StoredBytes, Ratio: u.Ratio()}
}

func toStatsJSON(s store.Stats) statsJSON {
	out := statsJSON{
		Total:  toUsageJSON(s.Total),
		Models: []usageJSON{}, Strategies: []usageJSON{},
		Objects: s.Objects, ObjectBytes: s.ObjectBytes,
	}
	out.Total.Name = "total"
	for _, u := range s.Models {
		out.Models = append(out.Models, toUsageJSON(u))
	}
	for _, u := range s.Strategies {
		out.Strategies = append(out.Strategies, toUsageJSON(u))
	}
	return out
}

func printStats(env *cliEnv, s store.Stats, sz sizeFormatter) error {
	tw := newTable(env.stdout)
	section := func(title string, rows []store.UsageStats) {
		fmt.Fprintf(tw, "%s\tFILES\tLOGICAL\tSTORED\tRATIO\n", title)
		for _, u := range rows {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", u.Name, u.Files, sz.size(u.LogicalBytes), sz.size(u.StoredBytes), formatRatio(u.LogicalBytes, u.StoredBytes))
		}
	}
	section("MODEL", s.Models)
	fmt.Fprintln(tw, "\t\t\t\t")
	section("STRATEGY", s.Strategies)
	fmt.Fprintln(tw, "\t\t\t\t")
	total := s.Total
	total.Name = "TOTAL"
	fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", total.Name, total.Files, sz.size(total.LogicalBytes), sz.size(total.StoredBytes), formatRatio(total.LogicalBytes, total.StoredBytes))
	if err := tw.Flush(); err != nil {
		return err
	}
	saved := total.LogicalBytes - total.StoredBytes
	pct := 0.0
	if total.LogicalBytes > 0 {
		pct = 100 * float64(saved) / float64(total.LogicalBytes)
	}
	fmt.Fprintf(env.stdout, "\nsaved %s (%.1f%% of the logical size); %d object files use %s on disk\n",
		sz.size(saved), pct, s.Objects, sz.size(s.ObjectBytes))
	return nil
}
