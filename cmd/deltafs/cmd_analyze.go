package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func analyzeCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "analyze",
		Usage:     "measure how a tensor (a file, a directory, a model) would store: delta statistics and every strategy's size",
		ArgsUsage: "STORE PATH | FILE",
		Description: `For each tensor under PATH in STORE (or the .npy FILE, or every .npy file
under a directory, outside any store): the statistics of its delta against
its reference (sparsity, byte-plane entropy, range, spread), the stored
size every strategy would give (measured by encoding a sample of up to
--sample-size and extrapolating; lossy ones marked, with their largest
error and signal-to-noise ratio), the recommendation, and what the store's
policy (auto) chose for it or, outside a store, would choose.

The reference is, in a store, the tensor the file is stored against, or
else the one an import would pick (same path in the base, same name, most
similar); outside a store, --against. --against PATH compares with PATH
instead (a directory pairs files by relative path). The settings flags
apply as they would to an import.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "against", Usage: "compare with `PATH` (a file, or a directory paired by relative path)"},
			&cli.BoolFlag{Name: "allow-lossy", Usage: "let a lossy strategy be recommended"},
			&cli.StringFlag{Name: "sample-size", Value: "4MiB", Usage: "bytes of each tensor encoded per strategy"},
			jsonFlag(),
			bytesFlag(),
			noProgressFlag(),
		}, settingsFlags()...),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 2); err != nil {
				return err
			}
			return env.analyzeAction(c)
		},
	}
}

func (e *cliEnv) analyzeAction(c *cli.Context) error {
	sample, err := parseSize(c.String("sample-size"))
	if err != nil || sample <= 0 || sample > 1<<30 {
		return usageErrorf("--sample-size %q: want a size from 1 byte to 1GiB", c.String("sample-size"))
	}
	over, err := settingsOverrides(c)
	if err != nil {
		return err
	}
	progress, clearBar := e.progress(c, "analyzing")
	opts := store.AnalyzeOptions{
		Against: c.String("against"), AllowLossy: c.Bool("allow-lossy"), SampleBytes: int(sample),
		Settings: over, Progress: progress,
	}
	var res []store.TensorAnalysis
	if c.NArg() == 1 {
		res, err = store.AnalyzeFiles(c.Context, c.Args().Get(0), opts)
	} else {
		var p string
		if p, err = storePath(c.Args().Get(1)); err != nil {
			return err
		}
		if opts.Against != "" {
			if opts.Against, err = storePath(opts.Against); err != nil {
				return err
			}
		}
		var st *store.Store
		if st, err = e.openStore(c.Args().Get(0), store.Options{}); err != nil {
			return err
		}
		defer st.Close()
		res, err = st.Analyze(c.Context, p, opts)
	}
	clearBar()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := make([]analysisJSON, len(res))
		for i, ta := range res {
			out[i] = toAnalysisJSON(ta)
		}
		return writeJSON(e.stdout, out)
	}
	sz := sizeFormatter(c.Bool("bytes"))
	for i, ta := range res {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := printAnalysis(e.stdout, sz, ta); err != nil {
			return err
		}
	}
	return nil
}

// printAnalysis prints one tensor's analysis as a few lines and a table.
func printAnalysis(w io.Writer, sz sizeFormatter, ta store.TensorAnalysis) error {
	if ta.Skipped != "" {
		_, err := fmt.Fprintf(w, "%s: skipped: %s\n", displayPath(ta.Path), ta.Skipped)
		return err
	}
	fmt.Fprintf(w, "%s: %s %s, %s\n", displayPath(ta.Path), ta.DType, shapeString(ta.Shape), sz.size(ta.RawSize))
	fmt.Fprintf(w, "  reference: %s\n", referenceDetail(ta))
	if s := ta.Stats; s != nil {
		fmt.Fprintf(w, "  delta: %.1f%% unchanged, %.1f%% within %g; range [%.4g, %.4g], mean %.4g, std %.4g\n",
			100*s.EqualFraction, 100*s.NearFraction, s.Threshold, s.Min, s.Max, s.Mean, s.Std)
		fmt.Fprintf(w, "  byte-plane entropy, bits/byte (XOR): %s; bound %.3gx\n", entropies(s.XORPlaneEntropy), s.XORBoundRatio)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "  strategy\tstored\tratio\tfidelity\n")
	for _, c := range ta.Estimates {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Strategy, sz.size(c.EstimatedSize), ratioText(c.Ratio), fidelity(c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ta.Recommended != "" {
		fmt.Fprintf(w, "  recommended: %s (%s)\n", ta.Recommended, ta.Reason)
	}
	verb := "stores"
	if ta.Auto.Estimated {
		verb = "would store"
	}
	_, err := fmt.Fprintf(w, "  auto %s: %s, %s, %s\n", verb, ta.Auto.Form, ta.Auto.Strategy, sz.size(ta.Auto.StoredSize))
	return err
}

// referenceDetail says what a tensor was compared with.
func referenceDetail(ta store.TensorAnalysis) string {
	switch {
	case ta.Reference == "":
		return "none (statistics of the tensor alone)"
	case ta.ReferenceBy == "against":
		return displayPath(ta.Reference) + " (given with --against)"
	case ta.ReferenceBy == "similarity":
		return fmt.Sprintf("%s (by similarity %.4f)", displayPath(ta.Reference), ta.Similarity)
	case ta.ReferenceBy != "":
		return fmt.Sprintf("%s (by %s)", displayPath(ta.Reference), ta.ReferenceBy)
	}
	return displayPath(ta.Reference)
}

// entropies prints byte-plane entropies, least significant plane first.
func entropies(e []float64) string {
	parts := make([]string, len(e))
	for i, x := range e {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

func ratioText(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// fidelity says whether a strategy is exact, and how far off it is if not.
func fidelity(c store.StrategyEstimate) string {
	switch {
	case c.Err != nil:
		return "failed: " + oneLine(c.Err.Error())
	case c.Lossless:
		return "lossless"
	case c.MaxAbsError == 0:
		return "LOSSY strategy, exact here (the encoder fell back to " + string(c.Applied) + ")"
	}
	return fmt.Sprintf("LOSSY: max error %.3g, SNR %s", c.MaxAbsError, snrText(c.SNR))
}

func snrText(snr float64) string {
	if math.IsInf(snr, 1) {
		return "exact"
	}
	return fmt.Sprintf("%.1f dB", snr)
}

// analysisJSON is one tensor's analysis in JSON output.
type analysisJSON struct {
	Path        string          `json:"path"`
	Skipped     string          `json:"skipped,omitempty"`
	DType       string          `json:"dtype,omitempty"`
	Shape       []int64         `json:"shape,omitempty"`
	RawSize     int64           `json:"raw_size"`
	Reference   string          `json:"reference,omitempty"`
	ReferenceBy string          `json:"reference_by,omitempty"`
	Similarity  float64         `json:"similarity,omitempty"`
	Stats       *deltaStatsJSON `json:"stats,omitempty"`
	Estimates   []estimateJSON  `json:"estimates"`
	Recommended string          `json:"recommended,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Auto        *autoJSON       `json:"auto,omitempty"`
}

type deltaStatsJSON struct {
	Elements         int       `json:"elements"`
	EqualFraction    float64   `json:"equal_fraction"`
	NearFraction     float64   `json:"near_fraction"`
	Threshold        float64   `json:"threshold"`
	Min              float64   `json:"min"`
	Max              float64   `json:"max"`
	Mean             float64   `json:"mean"`
	Std              float64   `json:"std"`
	Range            float64   `json:"range"`
	XORPlaneEntropy  []float64 `json:"xor_plane_entropy"`
	DiffPlaneEntropy []float64 `json:"diff_plane_entropy"`
}

type estimateJSON struct {
	Strategy    string   `json:"strategy"`
	Lossless    bool     `json:"lossless"`
	StoredSize  int64    `json:"stored_size"`
	Ratio       float64  `json:"ratio"`
	MaxAbsError float64  `json:"max_abs_error"`
	SNR         *float64 `json:"snr_db,omitempty"` // lossy and inexact only
	Eligible    bool     `json:"eligible"`
	Error       string   `json:"error,omitempty"`
}

type autoJSON struct {
	Form       string `json:"form"`
	Strategy   string `json:"strategy"`
	StoredSize int64  `json:"stored_size"`
	Estimated  bool   `json:"estimated"`
}

func toAnalysisJSON(ta store.TensorAnalysis) analysisJSON {
	out := analysisJSON{Path: ta.Path, Skipped: ta.Skipped, DType: ta.DType, Shape: ta.Shape, RawSize: ta.RawSize,
		Reference: ta.Reference, ReferenceBy: ta.ReferenceBy, Similarity: ta.Similarity,
		Recommended: string(ta.Recommended), Reason: ta.Reason, Estimates: []estimateJSON{}}
	if s := ta.Stats; s != nil {
		out.Stats = &deltaStatsJSON{Elements: s.Elements, EqualFraction: finite(s.EqualFraction), NearFraction: finite(s.NearFraction),
			Threshold: s.Threshold, Min: finite(s.Min), Max: finite(s.Max), Mean: finite(s.Mean), Std: finite(s.Std), Range: finite(s.Range),
			XORPlaneEntropy: s.XORPlaneEntropy, DiffPlaneEntropy: s.DiffPlaneEntropy}
	}
	for _, c := range ta.Estimates {
		e := estimateJSON{Strategy: string(c.Strategy), Lossless: c.Lossless, StoredSize: c.EstimatedSize,
			Ratio: finite(c.Ratio), MaxAbsError: finite(c.MaxAbsError), Eligible: c.Eligible}
		if c.Err != nil {
			e.Error = c.Err.Error()
		}
		if !c.Lossless && c.Err == nil && !math.IsInf(c.SNR, 0) {
			snr := c.SNR
			e.SNR = &snr
		}
		out.Estimates = append(out.Estimates, e)
	}
	if ta.Auto.Form != "" {
		out.Auto = &autoJSON{Form: ta.Auto.Form, Strategy: ta.Auto.Strategy, StoredSize: ta.Auto.StoredSize, Estimated: ta.Auto.Estimated}
	}
	return out
}

// finite is x, or 0 when JSON cannot carry it (NaN, infinities).
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
