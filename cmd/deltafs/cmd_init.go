package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func initCommand(env *cliEnv) *cli.Command {
	def := store.RemoteDefaults() // what an unset flag of a shared store means
	return &cli.Command{
		Name:      "init",
		Usage:     "create an empty store, or a local handle of a store shared by many hosts",
		ArgsUsage: "STORE",
		Description: `Creates an empty store in STORE (created if missing; an existing directory
must be empty): a SQLite catalog and object files inside it.

With --catalog and --objects, STORE becomes this host's handle of a store
kept on PostgreSQL (the catalog) and an S3 object store (the objects),
shared by every host that makes a handle of the same two: a new store when
the catalog holds none, else the existing one. STORE then keeps only the
two URLs, a disk cache of the object ranges read and the files being
written; every other command takes STORE as for a local store.
Credentials are never written into STORE: PostgreSQL's password comes
from PGPASSWORD or ~/.pgpass, S3's keys, region and endpoint from the AWS
environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ENDPOINT_URL, AWS_PROFILE and ~/.aws/), or endpoint= and region= in
the objects URL.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "catalog", Usage: "PostgreSQL `URL` of a shared store's catalog: postgres://USER@HOST:PORT/DATABASE (no password)"},
			&cli.StringFlag{Name: "objects", Usage: "`URL` of a shared store's objects: s3://BUCKET/PREFIX"},
			&cli.StringFlag{Name: "disk-cache-size", Usage: "disk for the object ranges this host fetched", DefaultText: formatSize(def.DiskCacheSize)},
			&cli.DurationFlag{Name: "request-timeout", Usage: "time limit of one request to the object store", DefaultText: time.Duration(def.RequestTimeout).String()},
			&cli.IntFlag{Name: "retries", Usage: "retries of a failed request to the object store, with backoff, before EIO", DefaultText: strconv.Itoa(def.Retries)},
			&cli.DurationFlag{Name: "catalog-retry-timeout", Usage: "how long the catalog is retried while its server cannot be reached", DefaultText: time.Duration(def.CatalogRetryTimeout).String()},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			return env.initAction(c)
		},
	}
}

func (e *cliEnv) initAction(c *cli.Context) error {
	dir := c.Args().Get(0)
	e.storeDir = dir
	remote := c.IsSet("catalog") || c.IsSet("objects")
	if !remote {
		for _, f := range []string{"disk-cache-size", "request-timeout", "retries", "catalog-retry-timeout"} {
			if c.IsSet(f) {
				return usageErrorf("--%s is for a shared store (with --catalog and --objects)", f)
			}
		}
		if err := store.Init(dir); err != nil {
			return initFailed(dir, err)
		}
		fmt.Fprintf(e.stdout, "initialized an empty deltafs store in %s\n", dir)
		return nil
	}
	if c.String("catalog") == "" || c.String("objects") == "" {
		return usageErrorf("a shared store needs both --catalog postgres://... and --objects s3://...")
	}
	cfg := store.RemoteConfig{
		Catalog: c.String("catalog"), Objects: c.String("objects"),
		RequestTimeout:      store.Duration(c.Duration("request-timeout")),
		Retries:             c.Int("retries"),
		CatalogRetryTimeout: store.Duration(c.Duration("catalog-retry-timeout")),
	}
	if v := c.String("disk-cache-size"); v != "" {
		n, err := parseSize(v)
		if err != nil || n <= 0 {
			return usageErrorf("--disk-cache-size: want a positive size such as 20GiB (%v)", err)
		}
		cfg.DiskCacheSize = n
	}
	if cfg.RequestTimeout < 0 || cfg.CatalogRetryTimeout < 0 || cfg.Retries < 0 {
		return usageErrorf("timeouts and retries must not be negative")
	}
	attached, err := store.InitRemote(c.Context, dir, cfg)
	if errors.Is(err, store.ErrRemoteConfig) || errors.Is(err, store.ErrCredentials) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return initFailed(dir, err)
	}
	if attached {
		fmt.Fprintf(e.stdout, "attached %s to the shared store in %s and %s\n", dir, cfg.Catalog, cfg.Objects)
	} else {
		fmt.Fprintf(e.stdout, "initialized an empty shared deltafs store in %s and %s; %s is this host's handle\n", cfg.Catalog, cfg.Objects, dir)
	}
	return nil
}

// initFailed explains why init could not make a store in dir.
func initFailed(dir string, err error) error {
	if errors.Is(err, store.ErrExist) || errors.Is(err, store.ErrNotEmpty) {
		return failf(exitExists, err, "cannot create a store in %s: it is not empty (%v)", dir, err)
	}
	return fmt.Errorf("cannot create a store in %s: %w", dir, err)
}
