package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"deltafs/fusefs"
	"deltafs/store"
)

func mountCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "serve the store as a filesystem at DIR (foreground)",
		ArgsUsage: "STORE DIR",
		Description: `Mounts STORE at DIR with FUSE and serves it in the foreground: every model
is a folder of ordinary files; files written into it are encoded against
their model's base when closed. Prints a ready line once the mount answers.
SIGINT or SIGTERM (Ctrl-C) unmounts cleanly, detaching lazily while files
are still open; a second one exits at once. umount DIR works too.
Only the mounting user reaches the mount unless --allow-other is given;
the kernel checks every access against the files' modes and owners.
With --writeback, close() returns once the file is fsynced and recorded as
pending, and files are encoded in the background (still durable: after a
crash the next mount or command stores them); unmounting stores what is
left. Logs go to stderr.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "base", Usage: "base `MODEL` of new top-level folders (must exist)"},
			&cli.StringFlag{Name: "cache-size", Value: "1GiB", Usage: "memory for decoded chunks, e.g. 256MiB, 4GiB; the daemon's Go memory limit is this plus 40MiB (resident memory stays within this plus 64MiB) unless GOMEMLIMIT is set"},
			&cli.StringFlag{Name: "disk-cache-size", Usage: "remote store: disk for the object ranges fetched, kept across mounts (default: the store handle's, see deltafs init --disk-cache-size)"},
			&cli.BoolFlag{Name: "read-only", Usage: "refuse writes (EROFS)"},
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users reach the mount (their access follows the files' modes and owners)"},
			&cli.BoolFlag{Name: "writeback", Usage: "close() returns once a written file is fsynced and recorded; it is encoded in the background"},
			&cli.BoolFlag{Name: "debug", Usage: "debug logging, every FUSE request included"},
		}, append(strategyFlags(), settingsFlags()...)...),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 2, 2); err != nil {
				return err
			}
			return env.mountAction(c)
		},
	}
}

func (e *cliEnv) mountAction(c *cli.Context) error {
	dir, mnt, base := c.Args().Get(0), c.Args().Get(1), c.String("base")
	cacheSize, err := parseSize(c.String("cache-size"))
	if err != nil {
		return usageErrorf("--cache-size: %v", err)
	}
	var diskCache int64
	if v := c.String("disk-cache-size"); v != "" {
		if diskCache, err = parseSize(v); err != nil || diskCache <= 0 {
			return usageErrorf("--disk-cache-size: want a positive size such as 20GiB (%v)", err)
		}
	}
	if base != "" {
		if err := checkModelName("--base", base); err != nil {
			return err
		}
	}
	strategy, allowLossy, err := parseStrategy(c)
	if err != nil {
		return err
	}
	over, err := settingsOverrides(c)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.Bool("debug") {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	cfg := store.DefaultEncoderConfig()
	if strategy != "" {
		cfg.Strategy = strategy
	}
	cfg.AllowLossy = allowLossy
	st, err := e.openStore(dir, store.Options{
		CacheSize: cacheSize, Logger: logger, Delta: cfg, Settings: over,
		ReadOnly: c.Bool("read-only"), DefaultBase: base, DiskCacheSize: diskCache,
	})
	if errors.Is(err, store.ErrNoBase) {
		return failf(exitNotFound, err, "base model %q does not exist in store %s (list the models with: deltafs ls %s)", base, dir, dir)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context
	// Keep the daemon's memory near the cache size: the Go heap otherwise
	// grows to twice its live size between collections.
	memLimit := applyMountMemoryLimit(cacheSize, os.LookupEnv)

	m, err := fusefs.Serve(context.WithoutCancel(ctx), mnt, st, fusefs.MountOptions{
		ReadOnly: c.Bool("read-only"), Debug: c.Bool("debug"), Logger: logger,
		AllowOther: c.Bool("allow-other"), Writeback: c.Bool("writeback"),
	})
	if err != nil {
		return mountPointError(dir, mnt, err)
	}
	fmt.Fprintf(e.stdout, "deltafs: serving %s at %s (press Ctrl-C to unmount)\n", dir, mnt)
	logger.Info("mounted", "store", dir, "mountpoint", mnt, "cache_size", cacheSize, "memory_limit", memLimit, "read_only", c.Bool("read-only"), "writeback", c.Bool("writeback"), "base", base)

	unmounted := make(chan struct{})
	go func() {
		m.Wait()
		close(unmounted)
	}()
	select {
	case <-unmounted:
		logger.Info("unmounted from outside", "mountpoint", mnt)
		return nil
	case <-ctx.Done():
	}
	logger.Info("unmounting", "mountpoint", mnt)
	if err := m.Unmount(); err != nil {
		return fmt.Errorf("unmounting %s: %w", mnt, err)
	}
	<-unmounted
	logger.Info("unmounted", "mountpoint", mnt)
	return nil
}

// mountPointError explains why the mount at mnt failed: a missing mount
// point, or one that already has a live mount (a stale one left by a crash
// is cleared by fusefs.Serve and never gets here).
func mountPointError(dir, mnt string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return failf(exitNotFound, err, "mount point %s is not an existing directory (create it with: mkdir %s)", mnt, mnt)
	case errors.Is(err, fusefs.ErrMountPointBusy):
		return failf(exitBusy, err, "mount point %s already has a live mount (unmount it first: umount %s)", mnt, mnt)
	}
	return fmt.Errorf("mounting %s at %s: %w", dir, mnt, err)
}
