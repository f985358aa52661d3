package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func gcCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "delete objects nothing references",
		ArgsUsage: "STORE",
		Description: `Deletes the object files no file references, directly or as the base of
a live delta, and leftover staging files. Safe to interrupt.`,
		Flags: []cli.Flag{jsonFlag(), bytesFlag()},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			st, err := env.openStore(c.Args().Get(0), store.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.GC(c.Context)
			if errors.Is(err, store.ErrBusy) {
				return failf(exitBusy, err, "store %s is in use by another deltafs process (a mount or a running command); gc needs it alone: stop them and retry", env.storeDir)
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(env.stdout, struct {
					ObjectsRemoved int   `json:"objects_removed"`
					BytesFreed     int64 `json:"bytes_freed"`
					StagingRemoved int   `json:"staging_removed"`
				}{res.ObjectsRemoved, res.BytesFreed, res.StagingRemoved})
			}
			sz := sizeFormatter(c.Bool("bytes"))
			fmt.Fprintf(env.stdout, "removed %d unreferenced objects (%s freed) and %d staging files\n",
				res.ObjectsRemoved, sz.size(res.BytesFreed), res.StagingRemoved)
			return nil
		},
	}
}
