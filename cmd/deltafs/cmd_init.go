package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func initCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create an empty store",
		ArgsUsage: "STORE",
		Description: `Creates an empty store in STORE (created if missing; an existing directory
must be empty).`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			dir := c.Args().Get(0)
			env.storeDir = dir
			if err := store.Init(dir); err != nil {
				if errors.Is(err, store.ErrExist) || errors.Is(err, store.ErrNotEmpty) {
					return failf(exitExists, err, "cannot create a store in %s: it is not empty (%v)", dir, err)
				}
				return fmt.Errorf("cannot create a store in %s: %w", dir, err)
			}
			fmt.Fprintf(env.stdout, "initialized an empty deltafs store in %s\n", dir)
			return nil
		},
	}
}
