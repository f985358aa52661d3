package s3store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	lru "github.com/hashicorp/golang-lru/v2"

	"deltafs/cache/diskcache"
	"deltafs/catalog"
)

// Defaults of Options.
const (
	DefaultRetries        = 4
	DefaultRetryBackoff   = 200 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultPartSize       = 64 << 20
	DefaultUploadParallel = 4
	DefaultStaleUploadAge = 24 * time.Hour
	DefaultBlockSize      = diskcache.DefaultBlockSize
	minPartSize           = 5 << 20 // S3's smallest part but the last
	defaultRegion         = "us-east-1"
	sizeCacheEntries      = 1 << 16
)

// Sentinel errors.
var (
	// ErrUnavailable: the object store did not answer (or failed) through
	// every retry; the caller reports EIO. The next call tries again.
	ErrUnavailable = errors.New("s3store: object store unavailable")
	// ErrVerify: an upload did not check out afterwards (size or checksum
	// the server reports differ from what was sent).
	ErrVerify = errors.New("s3store: upload failed verification")
	// ErrNoBucket: the URL's bucket does not exist (Open).
	ErrNoBucket = errors.New("s3store: no such bucket")
	// ErrURL: not an s3://BUCKET/PREFIX URL.
	ErrURL = errors.New("s3store: invalid object store URL")
)

// Options configure a Store; zero values take the defaults, and the
// endpoint, region and credentials default to the AWS environment's.
type Options struct {
	// Endpoint, Region and PathStyle override the URL's query parameters
	// and the AWS environment (PathStyle forces path-style addressing).
	Endpoint  string
	Region    string
	PathStyle bool
	// AccessKeyID, SecretAccessKey and SessionToken, when AccessKeyID is
	// set, replace the AWS credential chain (tests; never stored).
	AccessKeyID, SecretAccessKey, SessionToken string

	// TempDir holds the temporary files of CreateTemp (required for
	// writing; os.TempDir() when empty).
	TempDir string
	// CacheDir holds the disk cache of fetched ranges; "" reads without one.
	CacheDir      string
	DiskCacheSize int64 // bound of the disk cache in bytes (diskcache.DefaultSize)
	BlockSize     int   // bytes per cached block and per ranged GET (diskcache.DefaultBlockSize)
	ReadParallel  int   // ranged GETs one ReadAt runs at once (diskcache.DefaultParallel)

	Retries        int           // retries of a failed request (DefaultRetries; -1: none)
	RetryBackoff   time.Duration // first wait before a retry, doubled each time (DefaultRetryBackoff)
	MaxBackoff     time.Duration // longest wait between retries (DefaultMaxBackoff)
	RequestTimeout time.Duration // one request's time limit, body included (DefaultRequestTimeout)

	PartSize       int64         // multipart part size and the largest single PUT (DefaultPartSize; at least 5 MiB)
	UploadParallel int           // parts uploaded at once (DefaultUploadParallel)
	StaleUploadAge time.Duration // RemoveTemp aborts multipart uploads older than this (DefaultStaleUploadAge)

	Logger *slog.Logger
}

// Store is the ObjectStore over one bucket and prefix.
type Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
	opts   Options
	log    *slog.Logger
	local  *catalog.DirObjects       // the temp files of CreateTemp
	cache  *diskcache.Cache          // nil: no disk cache
	sizes  *lru.Cache[string, int64] // object sizes learnt (objects never change)
}

var _ catalog.ObjectStore = (*Store)(nil)

// Location is a parsed s3:// URL.
type Location struct {
	Bucket, Prefix          string // Prefix has no leading slash and ends in "/" unless empty
	Endpoint, Region        string // from the query, "" when absent
	PathStyle, PathStyleSet bool
}

// ParseURL parses s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path-style=BOOL].
func ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Location{}, fmt.Errorf("%w: %w", ErrURL, err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return Location{}, fmt.Errorf("%w: %q: want s3://BUCKET/PREFIX", ErrURL, rawURL)
	}
	loc := Location{Bucket: u.Host}
	if p := strings.Trim(u.Path, "/"); p != "" {
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return Location{}, fmt.Errorf("%w: %q: bad prefix", ErrURL, rawURL)
			}
		}
		loc.Prefix = p + "/"
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "path-style":
		default:
			return Location{}, fmt.Errorf("%w: %q: unknown parameter %q", ErrURL, rawURL, k)
		}
	}
	loc.Endpoint, loc.Region = q.Get("endpoint"), q.Get("region")
	if v := q.Get("path-style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Location{}, fmt.Errorf("%w: %q: path-style=%q", ErrURL, rawURL, v)
		}
		loc.PathStyle, loc.PathStyleSet = b, true
	}
	return loc, nil
}

// Open returns the Store of rawURL (s3://BUCKET/PREFIX). It checks that the
// bucket answers (a transient failure retries, then wraps ErrUnavailable)
// and opens the disk cache when Options.CacheDir is set.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts = withDefaults(opts)
	if opts.Endpoint == "" {
		opts.Endpoint = loc.Endpoint
	}
	if opts.Region == "" {
		opts.Region = loc.Region
	}
	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	// The store retries itself, around whole reads (body included).
	load = append(load, config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
	// Keep a connection per parallel request (the default keeps two).
	load = append(load, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 4 * max(opts.ReadParallel, opts.UploadParallel)
	})))
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3store: AWS configuration: %w", err)
	}
	custom := opts.Endpoint != "" || cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	pathStyle := custom
	if loc.PathStyleSet {
		pathStyle = loc.PathStyle
	}
	pathStyle = pathStyle || opts.PathStyle
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = pathStyle
		// The store sends its own Content-MD5 and SHA-256 and checks
		// what it reads against the object's id.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	sizes, _ := lru.New[string, int64](sizeCacheEntries)
	s := &Store{client: client, bucket: loc.Bucket, prefix: loc.Prefix, opts: opts, log: opts.Logger, sizes: sizes}
	if s.local, err = catalog.NewDirObjects(opts.TempDir); err != nil {
		return nil, fmt.Errorf("s3store: temp directory: %w", err)
	}
	if err := s.retry(ctx, "check bucket", loc.Bucket, func(ctx context.Context) error {
		_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)})
		return err
	}); err != nil {
		if isNotFoundErr(err) {
			return nil, fmt.Errorf("%w: %s", ErrNoBucket, loc.Bucket)
		}
		return nil, fmt.Errorf("s3store: bucket %s: %w", loc.Bucket, err)
	}
	if opts.CacheDir != "" {
		c, err := diskcache.Open(opts.CacheDir, diskcache.Options{
			Size: opts.DiskCacheSize, BlockSize: opts.BlockSize, Parallel: opts.ReadParallel, Logger: opts.Logger,
		})
		switch {
		case errors.Is(err, diskcache.ErrLocked):
			s.log.Warn("s3store: the disk cache is in use by another process; reading without it", "dir", opts.CacheDir)
		case err != nil:
			return nil, fmt.Errorf("s3store: %w", err)
		default:
			s.cache = c
		}
	}
	return s, nil
}

func withDefaults(o Options) Options {
	if o.TempDir == "" {
		o.TempDir = filepath.Join(os.TempDir(), "deltafs-s3store")
	}
	if o.BlockSize <= 0 {
		o.BlockSize = diskcache.DefaultBlockSize
	}
	if o.ReadParallel <= 0 {
		o.ReadParallel = diskcache.DefaultParallel
	}
	switch {
	case o.Retries < 0:
		o.Retries = 0
	case o.Retries == 0:
		o.Retries = DefaultRetries
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	o.PartSize = max(o.PartSize, minPartSize)
	if o.UploadParallel <= 0 {
		o.UploadParallel = DefaultUploadParallel
	}
	if o.StaleUploadAge <= 0 {
		o.StaleUploadAge = DefaultStaleUploadAge
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Close releases the disk cache.
func (s *Store) Close() error {
	if s.cache != nil {
		return s.cache.Close()
	}
	return nil
}

// CacheStats returns the disk cache's counters (zero without one).
func (s *Store) CacheStats() diskcache.Stats {
	if s.cache == nil {
		return diskcache.Stats{}
	}
	return s.cache.Stats()
}

// key returns the object key of id.
func (s *Store) key(id string) string { return s.prefix + "objects/" + id }
