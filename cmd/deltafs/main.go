// Command deltafs stores neural-network weights as deltas against a base
// model and serves them back as ordinary .npy files: it creates and fills
// stores, inspects and checks them, exports files, and mounts a store with
// FUSE. Run "deltafs --help" for the commands and the exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	os.Exit(deltafsMain())
}

// deltafsMain runs deltafs with the process's arguments and streams and
// returns the exit code. The first SIGINT or SIGTERM cancels the command's
// context (it winds down cleanly); a second one ends the process at once.
func deltafsMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	env := &cliEnv{
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
	}
	return run(ctx, os.Args, env)
}
