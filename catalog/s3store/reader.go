package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"deltafs/catalog"
)

// Open returns a reader of object id (catalog.ErrNotFound when missing).
// It asks the server for the object's size (a HEAD) unless this Store
// learnt it already: objects never change.
func (s *Store) Open(ctx context.Context, id string) (catalog.ObjectReader, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	size, ok := s.sizes.Get(id)
	if !ok {
		var err error
		size, err = s.head(ctx, s.key(id))
		if err != nil {
			if isNotFoundErr(err) {
				return nil, fmt.Errorf("%w: object %s", catalog.ErrNotFound, id)
			}
			return nil, fmt.Errorf("s3store: open object: %w", err)
		}
		s.sizes.Add(id, size)
	}
	return s.OpenSized(ctx, id, size)
}

// OpenSized returns a reader of object id, size bytes long, without asking
// the server: for a caller that knows the size (the catalog records it).
// A wrong size shows at the first read past the object's end (an error).
func (s *Store) OpenSized(ctx context.Context, id string, size int64) (catalog.ObjectReader, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: object %s: size %d", catalog.ErrInvalid, id, size)
	}
	return &reader{s: s, id: id, size: size, ctx: context.WithoutCancel(ctx)}, nil
}

// reader reads one object with ranged GETs, through the disk cache when
// the store has one; safe for concurrent use.
type reader struct {
	s    *Store
	id   string
	size int64
	ctx  context.Context // Open's values, not its cancellation
}

func (r *reader) Size() int64  { return r.size }
func (r *reader) Close() error { return nil }

// ReadAt reads len(p) bytes at off (io.ReaderAt's contract). A failure
// after the retries wraps ErrUnavailable; catalog.ErrNotFound when the
// object went away.
func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3store: read object %s: negative offset %d", r.id, off)
	}
	if r.s.cache != nil {
		return r.s.cache.ReadAt(r.ctx, r.id, r.size, p, off, r.fetch)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-off))
	if err := r.fetch(r.ctx, off, p[:n]); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fetch fills p with the object's bytes at off by one ranged GET, retried.
func (r *reader) fetch(ctx context.Context, off int64, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	key := r.s.key(r.id)
	rng := fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)
	return r.s.retry(ctx, "get", key, func(ctx context.Context) error {
		out, err := r.s.client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(r.s.bucket), Key: aws.String(key), Range: aws.String(rng),
		})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		if cl := aws.ToInt64(out.ContentLength); cl != int64(len(p)) {
			return fmt.Errorf("%w: %s of %s answered %d bytes", errRange, rng, key, cl)
		}
		if _, err := io.ReadFull(out.Body, p); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("%w: %s of %s: %w", errRange, rng, key, err)
		}
		return nil
	})
}

// checkID accepts object ids: 64 lowercase hex digits.
func checkID(id string) error {
	if len(id) != 64 {
		return fmt.Errorf("%w: object id %q is not 64 lowercase hex digits", catalog.ErrInvalid, id)
	}
	for i := range len(id) {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%w: object id %q is not 64 lowercase hex digits", catalog.ErrInvalid, id)
		}
	}
	return nil
}

func isNotFoundErr(err error) bool { return errors.Is(err, catalog.ErrNotFound) }
