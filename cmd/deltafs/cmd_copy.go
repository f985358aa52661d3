package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func copyCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy models from one store to another, sending only the objects the destination lacks",
		ArgsUsage: "SRC DST [MODEL...]",
		Description: `Copies each MODEL (every model of SRC when none is named) from store SRC to
store DST, byte-identical: files, modes, owners, times, settings and the
base. A model whose base DST lacks brings its base along. Only the objects
DST does not hold are transferred, each checked against its name; a model
DST already has is refused (exit 5) before anything is sent. Either store
may be local or remote (see deltafs init --catalog).`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 2, -1); err != nil {
				return err
			}
			return env.copyAction(c)
		},
	}
}

func (e *cliEnv) copyAction(c *cli.Context) error {
	args := c.Args().Slice()
	models := make([]string, 0, len(args)-2)
	for _, a := range args[2:] {
		p, err := storePath(a)
		if err != nil {
			return err
		}
		if p == "" || strings.Contains(p, "/") {
			return usageErrorf("%q is not a model name (a model is a top-level directory of the store)", a)
		}
		models = append(models, p)
	}
	src, err := e.openStore(args[0], store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := e.openStore(args[1], store.Options{})
	if err != nil {
		return err
	}
	defer dst.Close()
	progress, clearBar := e.progress(c, "copying")
	res, err := dst.Copy(c.Context, src, store.CopyOptions{Models: models, Progress: progress})
	clearBar()
	if err != nil {
		return fmt.Errorf("copying from %s to %s: %w", args[0], args[1], err)
	}
	fmt.Fprintf(e.stdout, "copied %s: %d objects, %s sent; %d objects already in %s\n",
		strings.Join(res.Models, ", "), res.Objects, formatSize(res.Bytes), res.Present, args[1])
	if len(res.Pulled) > 0 {
		fmt.Fprintf(e.stdout, "brought along as bases: %s\n", strings.Join(res.Pulled, ", "))
	}
	return nil
}
