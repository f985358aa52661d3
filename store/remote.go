package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"deltafs/cache/diskcache"
	"deltafs/catalog"
	"deltafs/catalog/s3store"
)

// A remote store keeps its catalog on PostgreSQL and its objects on an S3
// object store; its directory is a local handle of it, one per host:
//
//	deltafs-store   marker, as for a local store
//	remote.json     where the catalog and the objects are (RemoteConfig)
//	cache/          the disk cache of object ranges read
//	records.log     the catalog records of the objects read (records.go)
//	tmp/            objects being written, before their upload
//	staging/        spool files of writes in progress
//
// Credentials are never written there: PostgreSQL's come from PGPASSWORD
// or ~/.pgpass, S3's from the AWS environment (variables, shared files).
const (
	remoteConfigName = "remote.json"
	cacheDirName     = "cache"
	tmpDirName       = "tmp"

	// remoteObjectsKey is the store-wide catalog setting naming the object
	// store that holds the catalog's objects: a handle whose objects URL
	// differs is refused, so that no host records objects where the others
	// cannot find them.
	remoteObjectsKey = reservedSettingPrefix + "objects"
)

// reservedSettingPrefix starts the store-wide catalog settings that are
// not encoding settings (see remoteObjectsKey).
const reservedSettingPrefix = "store."

// RemoteConfig says where a remote store's catalog and objects are.
type RemoteConfig struct {
	// Catalog is the PostgreSQL URL (postgres://USER@HOST:PORT/DB?...),
	// without a password.
	Catalog string `json:"catalog"`
	// Objects is s3://BUCKET/PREFIX; the endpoint and region come from
	// the AWS environment or the URL's endpoint= and region= parameters.
	Objects string `json:"objects"`
	// DiskCacheSize bounds the disk cache of object ranges (0: the
	// default, s3store's diskcache.DefaultSize); Options.DiskCacheSize
	// overrides it.
	DiskCacheSize int64 `json:"disk_cache_size,omitempty"`
	// RequestTimeout bounds one request to the object store, Retries the
	// retries of a failed one; CatalogRetryTimeout is how long the catalog
	// is retried while its server cannot be reached. Zero: the defaults.
	RequestTimeout      Duration `json:"request_timeout,omitempty"`
	Retries             int      `json:"retries,omitempty"`
	CatalogRetryTimeout Duration `json:"catalog_retry_timeout,omitempty"`
}

// RemoteDefaults is what the zero fields of a RemoteConfig stand for.
func RemoteDefaults() RemoteConfig {
	return RemoteConfig{
		DiskCacheSize:       diskcache.DefaultSize,
		RequestTimeout:      Duration(s3store.DefaultRequestTimeout),
		Retries:             s3store.DefaultRetries,
		CatalogRetryTimeout: Duration(catalog.DefaultRetryTimeout),
	}
}

// Duration is a time.Duration kept as text ("30s") in JSON.
type Duration time.Duration

// MarshalJSON writes d as Go duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads Go duration text.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ErrRemoteConfig is a remote store's configuration that cannot work: a
// URL of the wrong kind, a negative bound, or objects kept elsewhere than
// the catalog says.
var ErrRemoteConfig = errors.New("store: invalid remote store configuration")

// ErrCredentials refuses a remote store URL that holds a password or keys:
// a store directory never holds credentials.
var ErrCredentials = errors.New("store: credentials in a store URL")

// validate checks the URLs of c.
func (c RemoteConfig) validate() error {
	u, err := url.Parse(c.Catalog)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("%w: catalog %q: want postgres://USER@HOST:PORT/DATABASE", ErrRemoteConfig, c.Catalog)
	}
	if _, ok := u.User.Password(); ok || u.Query().Has("password") {
		return fmt.Errorf("%w: the catalog URL holds a password; give it in PGPASSWORD or ~/.pgpass instead", ErrCredentials)
	}
	if _, err := s3store.ParseURL(c.Objects); err != nil {
		return fmt.Errorf("%w: objects %q: %w", ErrRemoteConfig, c.Objects, err)
	}
	o, _ := url.Parse(c.Objects)
	if o.User != nil || o.Query().Has("secret_key") || o.Query().Has("access_key") {
		return fmt.Errorf("%w: the objects URL holds credentials; give them in the AWS environment instead", ErrCredentials)
	}
	if c.DiskCacheSize < 0 || c.Retries < 0 || c.RequestTimeout < 0 || c.CatalogRetryTimeout < 0 {
		return fmt.Errorf("%w: negative size, timeout or retries", ErrRemoteConfig)
	}
	return nil
}

// readRemoteConfig reads dir's remote.json; ok is false for a local store.
func readRemoteConfig(dir string) (cfg RemoteConfig, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, remoteConfigName))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, false, nil
	}
	if err != nil {
		return cfg, false, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, false, fmt.Errorf("%s: %w", remoteConfigName, err)
	}
	if err := cfg.validate(); err != nil {
		return cfg, false, fmt.Errorf("%s: %w", remoteConfigName, err)
	}
	return cfg, true, nil
}

// InitRemote makes dir (created if missing, must be empty) a local handle
// of the remote store cfg names. When the catalog holds no store yet, one
// is created there; otherwise the handle attaches to it (attached true).
// A catalog whose objects are recorded elsewhere than cfg.Objects is
// refused.
func InitRemote(ctx context.Context, dir string, cfg RemoteConfig) (attached bool, err error) {
	if err := cfg.validate(); err != nil {
		return false, fmt.Errorf("init %s: %w", dir, err)
	}
	if err := prepareInit(dir); err != nil {
		return false, err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return false, err
	}
	// The config goes before the marker: a crash leaves a directory that
	// is not a store yet, and init can be run again.
	if err := writeFileAtomic(filepath.Join(dir, remoteConfigName), append(b, '\n')); err != nil {
		return false, fmt.Errorf("init %s: %w", dir, err)
	}
	if err := writeMarker(dir); err != nil {
		return false, err
	}
	s, err := Open(dir, Options{})
	if err != nil {
		os.Remove(filepath.Join(dir, markerName)) // not a store: init may be run again
		return false, fmt.Errorf("init %s: %w", dir, err)
	}
	defer s.Close()
	where, err := objectsLocation(cfg.Objects)
	if err != nil {
		return false, fmt.Errorf("init %s: %w", dir, err)
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		kv, err := tx.Settings(ctx, "")
		if err != nil {
			return err
		}
		switch have := kv[remoteObjectsKey]; have {
		case where:
			attached = true
			return nil
		case "":
			attached = false
			return tx.SetSetting(ctx, "", remoteObjectsKey, where)
		default:
			return fmt.Errorf("%w: this catalog's objects are in %s, not %s", ErrRemoteConfig, have, where)
		}
	})
	if err != nil {
		s.Close()
		os.Remove(filepath.Join(dir, markerName))
		return false, fmt.Errorf("init %s: %w", dir, err)
	}
	return attached, nil
}

// objectsLocation is the bucket and prefix of an objects URL, without the
// parameters (endpoint, region) that may differ from host to host.
func objectsLocation(objects string) (string, error) {
	loc, err := s3store.ParseURL(objects)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRemoteConfig, err)
	}
	return "s3://" + loc.Bucket + "/" + strings.TrimSuffix(loc.Prefix, "/"), nil
}

// openRemote opens the catalog and the object store of a remote store's
// handle in s.dir.
func (s *Store) openRemote(ctx context.Context, cfg RemoteConfig) error {
	cat, err := catalog.OpenPostgres(ctx, cfg.Catalog, catalog.PostgresOptions{
		Logger: s.log, RetryTimeout: time.Duration(cfg.CatalogRetryTimeout),
	})
	if err != nil {
		return fmt.Errorf("open store %s: catalog: %w", s.dir, err)
	}
	size := cfg.DiskCacheSize
	if s.opts.DiskCacheSize > 0 {
		size = s.opts.DiskCacheSize
	}
	objs, err := s3store.Open(ctx, cfg.Objects, s3store.Options{
		TempDir:        filepath.Join(s.dir, tmpDirName),
		CacheDir:       filepath.Join(s.dir, cacheDirName),
		DiskCacheSize:  size,
		Retries:        cfg.Retries,
		RequestTimeout: time.Duration(cfg.RequestTimeout),
		Logger:         s.log,
	})
	if err != nil {
		cat.Close()
		return fmt.Errorf("open store %s: objects: %w", s.dir, err)
	}
	s.catalog, s.objects = cat, objs
	s.records = openRecordCache(filepath.Join(s.dir, recordsName), s.log)
	return nil
}

// On a shared store a collection (gc) of another host may run while this
// one writes. So that it never removes an object a commit of this host is
// about to name, the object is leased before it is uploaded (or found
// already there) and the lease is released by the commit's transaction;
// a commit still checks inside its transaction that its objects are there
// (errObjectGone), for a lease that expired. A local store needs none of
// this: its gc takes the store for itself.

// leaseTemp leases the object being written to f, named by the SHA-256 of
// its bytes, on a shared store.
func (s *Store) leaseTemp(ctx context.Context, f *os.File) error {
	if !s.remote {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return fmt.Errorf("lease object: %w", err)
	}
	return s.lease(ctx, []string{hex.EncodeToString(h.Sum(nil))})
}

// lease leases ids for this process's session on a shared store.
func (s *Store) lease(ctx context.Context, ids []string) error {
	if !s.remote || len(ids) == 0 {
		return nil
	}
	if err := s.catalog.Lease(ctx, s.session.name, ids); err != nil {
		return fmt.Errorf("lease objects: %w", err)
	}
	return nil
}

// releaseLeases releases, in the transaction that records them, the
// leases of objects on a shared store.
func (s *Store) releaseLeases(ctx context.Context, tx catalog.Tx, objs []catalog.Object) error {
	if !s.remote || len(objs) == 0 {
		return nil
	}
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	return tx.Release(ctx, s.session.name, ids)
}
