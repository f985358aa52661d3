package store

import (
	"os"
	"testing"

	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
)

// TestMain stops the PostgreSQL and S3 servers the remote store's tests
// started, once every test is done.
func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	s3test.Stop()
	os.Exit(code)
}
