package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"deltafs/catalog/objecttest"
	"deltafs/catalog/s3store"
	"deltafs/internal/s3test"
)

// proxied opens a store on a fresh bucket reached through a proxy, with
// quick retries.
func proxied(t *testing.T, cache bool) (*s3store.Store, *s3test.Proxy, s3test.Server) {
	t.Helper()
	srv := s3test.Start(t)
	p := s3test.NewProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	o := options(t, p.Server(srv), cache)
	o.Retries = 3
	o.RetryBackoff = 20 * time.Millisecond
	o.MaxBackoff = 100 * time.Millisecond
	o.RequestTimeout = 2 * time.Second
	return openStore(t, context.Background(), srv.URL("faults"), o), p, srv
}

// checkUnavailable: an ErrUnavailable error must not read as the caller's
// own deadline or cancellation (a mount maps those to EINTR) nor carry a
// network errno (passed through as if from the local disk): it is EIO.
func checkUnavailable(t *testing.T, err error) {
	t.Helper()
	var errno syscall.Errno
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &errno) {
		t.Fatalf("ErrUnavailable error %v reads as a deadline, a cancellation or an errno", err)
	}
}

// TestUnreachableThenBack: with the server cut off, reads of uncached
// ranges fail after the bounded retries with ErrUnavailable (cached ranges
// still read); once it is back the same reader reads again.
func TestUnreachableThenBack(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(map[bool]string{true: "disk cache", false: "no cache"}[cache], func(t *testing.T) {
			s, p, _ := proxied(t, cache)
			ctx := context.Background()
			data := objecttest.Data(30, 3*s3store.DefaultBlockSize)
			id, r := objecttest.PutOpen(t, s, data)
			head := make([]byte, 1000)
			if _, err := r.ReadAt(head, 0); err != nil {
				t.Fatal(err)
			}

			p.Cut()
			start := time.Now()
			buf := make([]byte, 1<<20)
			at := int64(2 * s3store.DefaultBlockSize) // a block not read yet
			_, err := r.ReadAt(buf, at)
			if !errors.Is(err, s3store.ErrUnavailable) {
				t.Fatalf("ReadAt with the server cut off = %v, want ErrUnavailable", err)
			}
			checkUnavailable(t, err)
			// 3 retries, backoff at most 20+40+80 ms: well under the
			// request timeout, since refused connections fail at once.
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("the failed read took %v", d)
			}
			if cache {
				if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, data[:1000]) {
					t.Fatalf("a cached range while cut off: %v", err)
				}
			}
			if _, err := s.Has(ctx, id); !errors.Is(err, s3store.ErrUnavailable) {
				t.Fatalf("Has while cut off = %v, want ErrUnavailable", err)
			}
			if _, _, err := s.Put(ctx, []byte("while cut")); !errors.Is(err, s3store.ErrUnavailable) {
				t.Fatalf("Put while cut off = %v, want ErrUnavailable", err)
			}

			if err := p.Restore(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.ReadAt(buf, at); err != nil || !bytes.Equal(buf, data[at:at+int64(len(buf))]) {
				t.Fatalf("ReadAt after the server came back: %v", err)
			}
		})
	}
}

// TestCutDuringReads: readers busy on a slow link when it is cut get
// ErrUnavailable or the right bytes, never wrong ones; after the restore
// every read succeeds.
func TestCutDuringReads(t *testing.T) {
	s, p, _ := proxied(t, true)
	data := objecttest.Data(31, 8<<20)
	_, r := objecttest.PutOpen(t, s, data)
	p.SetRate(4 << 20) // 2 s for the object
	read := func(seed uint64) error {
		rnd := rand.New(rand.NewPCG(seed, 3))
		for range 6 {
			off := rnd.Int64N(int64(len(data)))
			buf := make([]byte, 512<<10)
			n, err := r.ReadAt(buf, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
				return errors.New("wrong bytes")
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- read(uint64(g))
		}()
	}
	time.Sleep(300 * time.Millisecond)
	p.Cut()
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, s3store.ErrUnavailable):
			failed++
		default:
			t.Fatalf("a read during the cut: %v", err)
		}
	}
	if failed == 0 {
		t.Fatal("no read failed while the server was cut off")
	}
	p.SetRate(0)
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	for g := range 4 {
		if err := read(uint64(g)); err != nil {
			t.Fatalf("after the restore: %v", err)
		}
	}
}

// TestRequestTimeout: a link too slow for the request timeout fails with
// ErrUnavailable after the retries, in bounded time.
func TestRequestTimeout(t *testing.T) {
	s, p, _ := proxied(t, false)
	data := objecttest.Data(32, 2<<20)
	id, r := objecttest.PutOpen(t, s, data)
	p.SetRate(64 << 10) // 32 s for the object; the timeout is 2 s
	start := time.Now()
	_, err := r.ReadAt(make([]byte, len(data)), 0)
	if !errors.Is(err, s3store.ErrUnavailable) {
		t.Fatalf("ReadAt over a too slow link = %v, want ErrUnavailable", err)
	}
	checkUnavailable(t, err)
	// 4 attempts of 2 s and backoffs of at most 100 ms each.
	if d := time.Since(start); d < 8*time.Second || d > 20*time.Second {
		t.Fatalf("4 attempts of 2 s took %v", d)
	}
	p.SetRate(0)
	if got := objecttest.ReadAll(t, s, id); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
}

// TestDamagedUpload: bytes damaged on the way up are refused by the
// server (Content-MD5, SHA-256); the upload is retried and the object
// stored intact.
func TestDamagedUpload(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"single PUT", 1 << 20},
		{"multipart", 11 << 20}, // parts of 5 MiB
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, p, srv := proxied(t, false)
			ctx := context.Background()
			data := objecttest.Data(uint64(tc.size), tc.size)
			p.DamageUp(int64(tc.size) / 2)
			id, created, err := s.Put(ctx, data)
			if err != nil || !created {
				t.Fatalf("Put = %v, created %v", err, created)
			}
			if !p.DamagedUp() {
				t.Fatal("the proxy damaged nothing")
			}
			direct := openStore(t, ctx, srv.URL("faults"), options(t, srv, false))
			if got := objecttest.ReadAll(t, direct, id); !bytes.Equal(got, data) {
				t.Fatal("the server kept damaged bytes")
			}
		})
	}
}
