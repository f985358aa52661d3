package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"deltafs/catalog"
)

// Put uploads data unless the object exists with its size, and verifies
// the upload; it reports whether it uploaded.
func (s *Store) Put(ctx context.Context, data []byte) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	id := catalog.ObjectID(data)
	created, err := s.putSection(ctx, id, bytes.NewReader(data), int64(len(data)), md5.Sum(data))
	return id, created, err
}

// CreateTemp creates an empty local temporary file for PutFile.
func (s *Store) CreateTemp(ctx context.Context) (*os.File, error) {
	return s.local.CreateTemp(ctx)
}

// PutFile hashes f (from CreateTemp), uploads it unless the object exists
// with that size, verifies the upload, and removes f.
func (s *Store) PutFile(ctx context.Context, f *os.File) (id string, size int64, created bool, err error) {
	defer func() {
		os.Remove(f.Name())
		f.Close()
	}()
	sh, mh := sha256.New(), md5.New()
	size, err = io.Copy(io.MultiWriter(sh, mh), ctxReader{ctx, io.NewSectionReader(f, 0, 1<<62)})
	if err != nil {
		return "", 0, false, fmt.Errorf("s3store: write object: hash: %w", err)
	}
	id = hex.EncodeToString(sh.Sum(nil))
	created, err = s.putSection(ctx, id, f, size, [md5.Size]byte(mh.Sum(nil)))
	return id, size, created, err
}

// RemoveTemp removes the temp files of writers gone for at least age (as
// catalog.DirObjects does) and aborts this prefix's multipart uploads
// started more than max(age, Options.StaleUploadAge) ago; it returns how
// many temp files and uploads it removed.
func (s *Store) RemoveTemp(ctx context.Context, age time.Duration) (int, error) {
	n, err := s.local.RemoveTemp(ctx, age)
	if err != nil {
		return n, err
	}
	cutoff := time.Now().Add(-max(age, s.opts.StaleUploadAge))
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(s.key(""))}
	for {
		var out *s3.ListMultipartUploadsOutput
		if err := s.retry(ctx, "list uploads", s.key(""), func(ctx context.Context) (err error) {
			out, err = s.client.ListMultipartUploads(ctx, in)
			return err
		}); err != nil {
			return n, err
		}
		for _, u := range out.Uploads {
			if u.Initiated == nil || u.Initiated.After(cutoff) {
				continue
			}
			if s.abort(ctx, aws.ToString(u.Key), aws.ToString(u.UploadId)) == nil {
				n++
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// putSection uploads object id, size bytes read from r, unless it exists
// with that size, then verifies it. sum is the MD5 of the whole object.
func (s *Store) putSection(ctx context.Context, id string, r io.ReaderAt, size int64, sum [md5.Size]byte) (bool, error) {
	key := s.key(id)
	if got, err := s.head(ctx, key); err == nil && got == size {
		s.sizes.Add(id, size)
		return false, nil
	} else if err != nil && !isNotFoundErr(err) {
		return false, fmt.Errorf("s3store: write object %s: %w", id, err)
	}
	var err error
	if size <= s.opts.PartSize {
		err = s.putSingle(ctx, id, r, size, sum)
	} else {
		err = s.putMultipart(ctx, id, r, size)
	}
	if err != nil {
		return false, fmt.Errorf("s3store: write object %s: %w", id, err)
	}
	if err := s.verify(ctx, id, size); err != nil {
		return false, fmt.Errorf("s3store: write object %s: %w", id, err)
	}
	s.sizes.Add(id, size)
	return true, nil
}

func (s *Store) putSingle(ctx context.Context, id string, r io.ReaderAt, size int64, sum [md5.Size]byte) error {
	raw, _ := hex.DecodeString(id)
	key := s.key(id)
	return s.retry(ctx, "put", key, func(ctx context.Context) error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:         aws.String(s.bucket),
			Key:            aws.String(key),
			Body:           io.NewSectionReader(r, 0, size),
			ContentLength:  aws.Int64(size),
			ContentMD5:     aws.String(base64.StdEncoding.EncodeToString(sum[:])),
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(raw)),
		})
		return err
	})
}

// putMultipart uploads in parts of Options.PartSize, several at once, each
// with its Content-MD5; on failure the upload is aborted.
func (s *Store) putMultipart(ctx context.Context, id string, r io.ReaderAt, size int64) (err error) {
	key := s.key(id)
	var uploadID string
	if err := s.retry(ctx, "create upload", key, func(ctx context.Context) error {
		out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key),
		})
		if err == nil {
			uploadID = aws.ToString(out.UploadId)
		}
		return err
	}); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.abort(context.WithoutCancel(ctx), key, uploadID)
		}
	}()
	n := int((size + s.opts.PartSize - 1) / s.opts.PartSize)
	parts := make([]types.CompletedPart, n)
	work := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(n, s.opts.UploadParallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				etag, err := s.putPart(ctx, key, uploadID, r, i, size)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				parts[i] = types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(int32(i + 1))}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if first != nil {
		return first
	}
	return s.retry(ctx, "complete upload", key, func(ctx context.Context) error {
		_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		return err
	})
}

// putPart uploads part i (0-based) and returns its ETag.
func (s *Store) putPart(ctx context.Context, key, uploadID string, r io.ReaderAt, i int, size int64) (string, error) {
	off := int64(i) * s.opts.PartSize
	n := min(s.opts.PartSize, size-off)
	mh := md5.New()
	if _, err := io.Copy(mh, io.NewSectionReader(r, off, n)); err != nil {
		return "", err
	}
	sum := base64.StdEncoding.EncodeToString(mh.Sum(nil))
	var etag string
	err := s.retry(ctx, fmt.Sprintf("put part %d", i+1), key, func(ctx context.Context) error {
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
			PartNumber:    aws.Int32(int32(i + 1)),
			Body:          io.NewSectionReader(r, off, n),
			ContentLength: aws.Int64(n),
			ContentMD5:    aws.String(sum),
		})
		if err == nil {
			etag = aws.ToString(out.ETag)
		}
		return err
	})
	return etag, err
}

func (s *Store) abort(ctx context.Context, key, uploadID string) error {
	err := s.retry(ctx, "abort upload", key, func(ctx context.Context) error {
		_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		})
		return err
	})
	if err != nil && !isNotFoundErr(err) {
		s.log.Warn("s3store: cannot abort a multipart upload", "key", key, "upload", uploadID, "err", err)
		return err
	}
	return nil
}

// verify checks an uploaded object: its size, and its SHA-256 when the
// server reports a whole-object one.
func (s *Store) verify(ctx context.Context, id string, size int64) error {
	key := s.key(id)
	var out *s3.HeadObjectOutput
	if err := s.retry(ctx, "verify", key, func(ctx context.Context) (err error) {
		out, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled,
		})
		return err
	}); err != nil {
		return err
	}
	if got := aws.ToInt64(out.ContentLength); got != size {
		return fmt.Errorf("%w: the server holds %d bytes, %d were sent", ErrVerify, got, size)
	}
	if c := aws.ToString(out.ChecksumSHA256); c != "" && !strings.Contains(c, "-") &&
		out.ChecksumType != types.ChecksumTypeComposite {
		raw, _ := hex.DecodeString(id)
		if c != base64.StdEncoding.EncodeToString(raw) {
			return fmt.Errorf("%w: the server's SHA-256 differs", ErrVerify)
		}
	}
	return nil
}

// head returns the size of the object at key.
func (s *Store) head(ctx context.Context, key string) (int64, error) {
	var size int64
	err := s.retry(ctx, "head", key, func(ctx context.Context) error {
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		if err == nil {
			size = aws.ToInt64(out.ContentLength)
		}
		return err
	})
	return size, err
}

// Has reports whether object id exists.
func (s *Store) Has(ctx context.Context, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	_, err := s.head(ctx, s.key(id))
	if isNotFoundErr(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("s3store: stat object: %w", err)
	}
	return true, nil
}

// Delete removes object id; a missing object is not an error. Its cached
// blocks go too.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	key := s.key(id)
	s.sizes.Remove(id)
	size, herr := s.head(ctx, key)
	err := s.retry(ctx, "delete", key, func(ctx context.Context) error {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		return err
	})
	if err != nil && !isNotFoundErr(err) {
		return fmt.Errorf("s3store: delete object: %w", err)
	}
	if herr == nil && s.cache != nil {
		s.cache.Forget(id, size)
	}
	return nil
}

// List returns the ids of every object, sorted.
func (s *Store) List(ctx context.Context) ([]string, error) {
	dir := s.key("")
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(dir)}
	var ids []string
	for {
		var out *s3.ListObjectsV2Output
		if err := s.retry(ctx, "list", dir, func(ctx context.Context) (err error) {
			out, err = s.client.ListObjectsV2(ctx, in)
			return err
		}); err != nil {
			return nil, fmt.Errorf("s3store: list objects: %w", err)
		}
		for _, o := range out.Contents {
			if id := strings.TrimPrefix(aws.ToString(o.Key), dir); checkID(id) == nil {
				ids = append(ids, id)
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	// Keys list in byte order, which for lowercase hex is sorted already;
	// sort anyway for servers that do not.
	slices.Sort(ids)
	return ids, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
