// Package s3store is a catalog.ObjectStore on any S3-compatible object
// store (AWS S3, SeaweedFS, MinIO, ...), read through a per-host disk cache
// (cache/diskcache).
//
// # Where objects go
//
// Open takes s3://BUCKET/PREFIX: object id lives at key
// PREFIX/objects/<id> (objects/<id> with no prefix), a plain object whose
// bytes hash (SHA-256) to id. Objects are immutable, so no host's cached
// bytes ever go stale. Query parameters of the URL may carry endpoint=,
// region= and path-style=true|false; Options override them.
//
// # Configuration
//
// The endpoint, region and credentials come from the standard AWS
// environment and files, as every AWS tool reads them: AWS_ENDPOINT_URL_S3
// or AWS_ENDPOINT_URL, AWS_REGION (or AWS_DEFAULT_REGION),
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE
// with ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE,
// AWS_SHARED_CREDENTIALS_FILE), and the rest of the SDK's chain. With an
// endpoint of its own (not AWS) the store addresses buckets path-style
// (http://host/BUCKET/KEY) unless told otherwise; without a region it uses
// us-east-1, which S3-compatible servers accept.
//
// # Writing
//
// CreateTemp makes a local temporary file (in Options.TempDir, flock-ed as
// catalog.DirObjects does, so RemoveTemp of any process spares a live
// writer's); PutFile hashes it, skips the upload when the object exists
// with that size, else uploads it — in one PUT up to Options.PartSize,
// else as a multipart upload of PartSize parts, Options.UploadParallel at
// once — and verifies before returning: every request carries a
// Content-MD5 that the server checks, a single PUT also the object's
// x-amz-checksum-sha256, and a HEAD afterwards must report the object's
// size (and its SHA-256 when the server keeps one). A failed multipart
// upload is aborted; RemoveTemp also aborts this prefix's uploads older
// than Options.StaleUploadAge (a writer on another host may still be in
// the middle of a younger one).
//
// # Reading
//
// Open does a HEAD (catalog.ErrNotFound for a missing object), unless the
// Store learnt the object's size already (it wrote or opened it: objects
// never change); OpenSized does none (the catalog knows the size). Either
// returns a reader whose ReadAt does ranged GETs through the disk cache
// when there is one (Options.CacheDir): blocks of Options.BlockSize, each
// fetched once, several at once for a read that spans them. When the cache
// directory is in use by another process the store reads without it and
// logs why.
//
// # Faults
//
// Every request has a timeout (Options.RequestTimeout); a transient failure
// (a network error, a timeout, a 5xx, throttling, a checksum mismatch in
// transit) is retried Options.Retries times with exponential backoff from
// Options.RetryBackoff up to Options.MaxBackoff, with jitter. After that the
// error wraps ErrUnavailable, which the store reports as EIO with a log
// line; the next read tries again, so reads succeed once the server is back
// without reopening anything. Missing objects are catalog.ErrNotFound;
// anything the server refuses for good (credentials, permissions, a missing
// bucket) comes back at once, unwrapped.
package s3store
