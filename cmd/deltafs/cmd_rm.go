package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func rmCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove files, directories or whole models",
		ArgsUsage: "STORE PATH...",
		Description: `Removes each PATH. A directory or a model needs -r. The space is
reclaimed by deltafs gc (objects still used as the base of another model's
deltas are kept).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "recursive", Aliases: []string{"r"}, Usage: "remove directories and models with everything under them"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 2, -1); err != nil {
				return err
			}
			return env.rmAction(c)
		},
	}
}

func (e *cliEnv) rmAction(c *cli.Context) error {
	args := c.Args().Slice()
	paths := make([]string, 0, len(args)-1)
	for _, a := range args[1:] {
		p, err := storePath(a)
		if err != nil {
			return err
		}
		if p == "" {
			return usageErrorf("refusing to remove the whole store; remove its models one by one")
		}
		paths = append(paths, p)
	}
	st, err := e.openStore(args[0], store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	for _, p := range paths {
		fi, err := e.statPath(c.Context, st, p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if !c.Bool("recursive") {
				return usageErrorf("%s is a %s; use rm -r to remove it with everything under it", p, kindName(fi))
			}
			err = st.RemoveAll(c.Context, p)
		} else {
			err = st.Remove(c.Context, p)
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return nil
}
