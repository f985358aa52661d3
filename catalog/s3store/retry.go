package s3store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"deltafs/catalog"
)

// errRange is a ranged GET that returned fewer or more bytes than asked.
var errRange = errors.New("s3store: short ranged read")

// retry runs fn, each attempt under the request timeout, until it
// succeeds, fails for good, or the retries are spent (then the error wraps
// ErrUnavailable). A missing object comes back as catalog.ErrNotFound.
func (s *Store) retry(ctx context.Context, op, key string, fn func(ctx context.Context) error) error {
	backoff := s.opts.RetryBackoff
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if isNotFound(err) {
			return fmt.Errorf("%w: %s", catalog.ErrNotFound, key)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) {
			return fmt.Errorf("s3store: %s %s: %w", op, key, err)
		}
		if attempt >= s.opts.Retries {
			s.log.Error("s3store: object store unavailable", "op", op, "key", key, "attempts", attempt+1, "err", err)
			// The cause as text only: a refused connection must not reach
			// the kernel as the file's errno (ECONNREFUSED), nor a request
			// timeout read as the caller's deadline (EINTR).
			return fmt.Errorf("%w: %s %s after %d attempts: %v", ErrUnavailable, op, key, attempt+1, err)
		}
		s.log.Debug("s3store: retrying", "op", op, "key", key, "attempt", attempt+1, "err", err)
		// Full jitter between half the backoff and the backoff.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

// isNotFound reports a missing object (or upload).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return false
}

// transient reports whether a failure may pass: network errors, timeouts,
// server errors, throttling, a body cut short, bytes damaged in transit.
// Refusals (credentials, permissions, a missing bucket, a bad request) are
// not.
func transient(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "RequestTimeout", "RequestTimeTooSkewed", "SlowDown", "Throttling", "ThrottlingException",
			"InternalError", "ServiceUnavailable", "BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch",
			"IncompleteBody", "OperationAborted":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.HTTPStatusCode() != 0 {
		code := re.HTTPStatusCode()
		return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
	}
	if errors.Is(err, ErrVerify) {
		return true
	}
	// No response at all: connection refused or reset, a timeout, a body
	// cut short (errRange, io.ErrUnexpectedEOF).
	return true
}
