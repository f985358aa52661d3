package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

// tensorJSON is the JSON form of one tensor of a safetensors file (ls).
type tensorJSON struct {
	Name       string  `json:"name"`
	DType      string  `json:"dtype"`
	Shape      []int64 `json:"shape"`
	Offset     int64   `json:"offset"`
	Size       int64   `json:"size"`
	StoredSize int64   `json:"stored_size"`
	Ratio      float64 `json:"ratio"`
	Strategy   string  `json:"strategy"`
	Delta      bool    `json:"delta"`
}

// lsTensors lists the tensors of a file stored tensor by tensor.
func (e *cliEnv) lsTensors(c *cli.Context, st *store.Store, p string) error {
	tensors, err := st.Tensors(c.Context, p)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := make([]tensorJSON, 0, len(tensors))
		for _, t := range tensors {
			ratio := 0.0
			if t.StoredSize > 0 {
				ratio = float64(t.Size) / float64(t.StoredSize)
			}
			out = append(out, tensorJSON{t.Name, t.DType, t.Shape, t.Offset, t.Size, t.StoredSize, ratio, t.Strategy, t.Delta})
		}
		return writeJSON(e.stdout, out)
	}
	if !c.Bool("long") {
		for _, t := range tensors {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", t.Name, t.DType, shapeString(t.Shape))
		}
		return nil
	}
	sz := sizeFormatter(c.Bool("bytes"))
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "DTYPE\tSHAPE\tSIZE\tSTORED\tRATIO\tSTRATEGY\tNAME")
	for _, t := range tensors {
		strategy := t.Strategy
		if t.Delta {
			strategy += " (delta)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.DType, shapeString(t.Shape), sz.size(t.Size), sz.size(t.StoredSize),
			formatRatio(t.Size, t.StoredSize), strategy, t.Name)
	}
	return tw.Flush()
}
