package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

// cliEnv is what commands share: the output streams and the store path
// named on the command line (for hints in error messages).
type cliEnv struct {
	stdout, stderr io.Writer
	stdoutTTY      bool // progress bars are drawn only on a terminal
	storeDir       string
}

const appDescription = `deltafs keeps many fine-tunes of a model for little more than the price of
their base: every tensor (.npy) is stored as a delta against the tensor at
the same path in its model's base, and comes back byte-identical.

Paths inside a store are MODEL/dir/file.npy; "" or "/" is the whole store.

Lossy strategies change the values: they are used only when named with
--strategy AND --allow-lossy is given; ls and info mark such files LOSSY.
They are: %s.

Sizes are printed in binary units (KiB, MiB, GiB) and accepted as 4096,
512MiB, 1GiB, 1.5G or 2GB (SI).`

// newApp builds the command-line application.
func newApp(env *cliEnv) *cli.App {
	app := &cli.App{
		Name:            "deltafs",
		Usage:           "store model weights as deltas against a base model, serve them as .npy files",
		Description:     fmt.Sprintf(appDescription, strings.Join(lossyStrategies(), ", ")),
		Writer:          env.stdout,
		ErrWriter:       env.stderr,
		HideHelpCommand: true,
		// -lR is -l -R, as ls takes it.
		UseShortOptionHandling: true,
		CustomAppHelpTemplate:  cli.AppHelpTemplate + "\n" + exitCodeHelp(),
		ExitErrHandler:         func(*cli.Context, error) {},
		Commands: []*cli.Command{
			initCommand(env),
			importCommand(env),
			lsCommand(env),
			infoCommand(env),
			exportCommand(env),
			verifyCommand(env),
			rmCommand(env),
			gcCommand(env),
			statsCommand(env),
			mountCommand(env),
			configCommand(env),
			analyzeCommand(env),
			copyCommand(env),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("unknown command %q (run: deltafs --help)", c.Args().First())
			}
			_ = cli.ShowAppHelp(c)
			return usageErrorf("no command given")
		},
		OnUsageError: onUsageError,
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		// No "help" subcommand (alias "h"): a store or a path named "h" or
		// "help" is an argument like any other; --help stays.
		cmd.HideHelpCommand = true
	}
	return app
}

// onUsageError turns a flag-parsing error into a usage error.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return usageErrorf("%v (run: deltafs %s --help)", err, c.Command.Name)
}

// run runs deltafs with args (args[0] is the program name) and returns the
// exit code; errors are printed on one line on stderr.
func run(ctx context.Context, args []string, env *cliEnv) int {
	app := newApp(env)
	args = permuteArgs(app, args)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", errInterrupted, err)
	}
	prefix := "deltafs"
	if name := commandName(app, args); name != "" {
		prefix += " " + name
	}
	fmt.Fprintf(env.stderr, "%s: %s\n", prefix, userMessage(err, env.storeDir))
	return exitCodeFor(err)
}

// commandName is the subcommand args name, or "".
func commandName(app *cli.App, args []string) string {
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if cmd := app.Command(a); cmd != nil {
			return cmd.Name
		}
		return ""
	}
	return ""
}

// checkArgs validates the number of positional arguments.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		return usageErrorf("expected arguments %s, got %d (run: deltafs %s --help)", c.Command.ArgsUsage, n, c.Command.Name)
	}
	return nil
}

// strategyFlags are the flags choosing an encoding.
func strategyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "strategy", Usage: "encoding `STRATEGY`: " + strategyNames() + " (default: the store's, auto)"},
		&cli.BoolFlag{Name: "allow-lossy", Usage: "accept a lossy --strategy (files then come back approximately, not byte-identical)"},
	}
}

// strategyNames lists the strategies for help texts.
func strategyNames() string {
	var names []string
	for _, s := range store.Strategies() {
		n := string(s)
		if !s.IsLossless() {
			n += " (lossy)"
		}
		names = append(names, n)
	}
	names = append(names, store.StrategyQuantized+" (lossy: int8 or int16 by quantization_bits)")
	return strings.Join(names, ", ")
}

// lossyStrategies names the lossy strategies.
func lossyStrategies() []string {
	var names []string
	for _, s := range store.Strategies() {
		if !s.IsLossless() {
			names = append(names, string(s))
		}
	}
	return names
}

// parseStrategy validates --strategy and --allow-lossy: a lossy strategy must
// be named explicitly and opted into.
func parseStrategy(c *cli.Context) (store.Strategy, bool, error) {
	name := c.String("strategy")
	allow := c.Bool("allow-lossy")
	if name == "" {
		return "", allow, nil
	}
	if name == store.StrategyQuantized {
		if !allow {
			return "", false, usageErrorf("strategy %s is lossy: files would come back approximately, not byte-identical; add --allow-lossy to accept that", name)
		}
		return store.Strategy(name), allow, nil
	}
	s, err := store.ParseStrategy(name)
	if err != nil {
		return "", false, usageErrorf("unknown strategy %q (choose one of: %s)", name, strategyNames())
	}
	if !s.IsLossless() && !allow {
		return "", false, usageErrorf("strategy %s is lossy: files would come back approximately, not byte-identical; add --allow-lossy to accept that", s)
	}
	return s, allow, nil
}

// jsonFlag is the --json flag of commands whose output is a table.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}
}

// bytesFlag prints exact byte counts instead of human sizes.
func bytesFlag() cli.Flag {
	return &cli.BoolFlag{Name: "bytes", Aliases: []string{"b"}, Usage: "print sizes in bytes, not KiB/MiB/GiB"}
}

// noProgressFlag disables the progress bar.
func noProgressFlag() cli.Flag {
	return &cli.BoolFlag{Name: "no-progress", Usage: "never draw a progress bar"}
}
