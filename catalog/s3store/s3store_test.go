package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"deltafs/cache/diskcache"
	"deltafs/catalog"
	"deltafs/catalog/objecttest"
	"deltafs/catalog/s3store"
	"deltafs/internal/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// options returns Options for srv with test credentials, a temp dir, a
// disk cache (unless cache is false) and small parts.
func options(t testing.TB, srv s3test.Server, cache bool) s3store.Options {
	o := s3store.Options{
		Endpoint:        srv.Endpoint,
		Region:          srv.Region,
		AccessKeyID:     srv.AccessKey,
		SecretAccessKey: srv.SecretKey,
		TempDir:         t.TempDir(),
		PartSize:        5 << 20,
	}
	if cache {
		o.CacheDir = t.TempDir()
	}
	return o
}

func openStore(t testing.TB, ctx context.Context, rawURL string, o s3store.Options) *s3store.Store {
	t.Helper()
	s, err := s3store.Open(ctx, rawURL, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	for _, cache := range []bool{true, false} {
		name := map[bool]string{true: "disk cache", false: "no cache"}[cache]
		t.Run(name, func(t *testing.T) {
			objecttest.Run(t, func(t *testing.T) catalog.ObjectStore {
				srv := s3test.Start(t)
				return openStore(t, context.Background(), srv.URL("store"), options(t, srv, cache))
			})
		})
	}
}

// TestKeyLayout: objects live at PREFIX/objects/<id>, byte-identical.
func TestKeyLayout(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	for _, prefix := range []string{"", "team/models"} {
		s := openStore(t, ctx, srv.URL(prefix), options(t, srv, true))
		data := objecttest.Data(1, 1000)
		id, _, err := s.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		key := "objects/" + id
		if prefix != "" {
			key = prefix + "/" + key
		}
		out, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("prefix %q: key %s: %v", prefix, key, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("prefix %q: key %s holds other bytes", prefix, key)
		}
	}
}

// TestOpenFromEnvironment: endpoint, region and credentials come from the
// standard AWS variables and files.
func TestOpenFromEnvironment(t *testing.T) {
	srv := s3test.Start(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	credFile := filepath.Join(dir, "credentials")
	os.WriteFile(cfgFile, []byte("[profile other]\nregion = "+srv.Region+"\nendpoint_url = "+srv.Endpoint+"\n"), 0o600)
	os.WriteFile(credFile, []byte("[other]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		name string
		env  map[string]string
		url  string
	}{
		{"variables", map[string]string{
			"AWS_ENDPOINT_URL_S3": srv.Endpoint, "AWS_REGION": srv.Region,
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey,
			"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty,
		}, srv.URL("env")},
		{"generic endpoint variable", srv.Env(), srv.URL("env2")},
		{"profile files", map[string]string{
			"AWS_PROFILE": "other", "AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": credFile,
		}, srv.URL("profile")},
		{"endpoint in the URL", map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey,
			"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty,
		}, srv.URL("query") + "?endpoint=" + url.QueryEscape(srv.Endpoint) + "&path-style=true"},
	}
	clear := []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range clear {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			t.Setenv("AWS_CONFIG_FILE", empty)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			s := openStore(t, ctx, tc.url, s3store.Options{TempDir: t.TempDir()})
			data := []byte("from the environment: " + tc.name)
			id, _, err := s.Put(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			if got := objecttest.ReadAll(t, s, id); !bytes.Equal(got, data) {
				t.Fatal("read back differs")
			}
		})
	}
}

// TestOpenRefused: bad credentials and a missing bucket fail at Open, at
// once (no retries), and not as ErrUnavailable.
func TestOpenRefused(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	bad := options(t, srv, false)
	bad.SecretAccessKey = "wrong" + bad.SecretAccessKey
	tests := []struct {
		name string
		url  string
		o    s3store.Options
		want error // nil: any refusal
	}{
		{"wrong secret", srv.URL("x"), bad, nil},
		{"missing bucket", "s3://no-such-bucket-deltafs/x", options(t, srv, false), s3store.ErrNoBucket},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := s3store.Open(ctx, tc.url, tc.o)
			if err == nil || errors.Is(err, s3store.ErrUnavailable) || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want a refusal (%v)", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("refusal took %v: retried?", d)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    s3store.Location
		wantErr bool
	}{
		{in: "s3://bucket", want: s3store.Location{Bucket: "bucket"}},
		{in: "s3://bucket/", want: s3store.Location{Bucket: "bucket"}},
		{in: "s3://bucket/a/b/", want: s3store.Location{Bucket: "bucket", Prefix: "a/b/"}},
		{in: "s3://bucket/a?region=eu-west-1&endpoint=http%3A%2F%2Fh%3A1&path-style=true",
			want: s3store.Location{Bucket: "bucket", Prefix: "a/", Region: "eu-west-1", Endpoint: "http://h:1", PathStyle: true, PathStyleSet: true}},
		{in: "s3://bucket/a?path-style=false", want: s3store.Location{Bucket: "bucket", Prefix: "a/", PathStyleSet: true}},
		{in: "http://bucket/a", wantErr: true},
		{in: "s3:///a", wantErr: true},
		{in: "s3://bucket/a/../b", wantErr: true},
		{in: "s3://bucket/a//b", wantErr: true},
		{in: "s3://user:pw@bucket/a", wantErr: true},
		{in: "s3://bucket/a?secret=x", wantErr: true},
		{in: "s3://bucket/a?path-style=maybe", wantErr: true},
		{in: "s3://bucket/a#frag", wantErr: true},
	}
	for _, tc := range tests {
		got, err := s3store.ParseURL(tc.in)
		if tc.wantErr {
			if !errors.Is(err, s3store.ErrURL) {
				t.Errorf("ParseURL(%q) = %+v, %v; want ErrURL", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("s3://bucket/prefix")
	f.Add("s3://b/a?region=r&endpoint=http://x&path-style=1")
	f.Fuzz(func(t *testing.T, in string) {
		loc, err := s3store.ParseURL(in)
		if err != nil {
			if !errors.Is(err, s3store.ErrURL) {
				t.Fatalf("error %v does not wrap ErrURL", err)
			}
			return
		}
		if loc.Bucket == "" || (loc.Prefix != "" && (loc.Prefix[0] == '/' || loc.Prefix[len(loc.Prefix)-1] != '/')) {
			t.Fatalf("ParseURL(%q) = %+v", in, loc)
		}
	})
}

// TestRemoveTemp: leftover temp files of dead writers go, and so do this
// prefix's multipart uploads older than the stale age; younger ones (a
// writer elsewhere may be in the middle of one) and other prefixes' stay.
func TestRemoveTemp(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	o := options(t, srv, false)
	s := openStore(t, ctx, srv.URL("mine"), o)
	c := srv.Client()
	start := func(key string) {
		if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	uploads := func() []string {
		out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, u := range out.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		return keys
	}
	id := catalog.ObjectID([]byte("x"))
	start("mine/objects/" + id)
	start("theirs/objects/" + id)
	f, err := s.CreateTemp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // its writer gone

	if n, err := s.RemoveTemp(ctx, 0); err != nil || n != 1 {
		t.Fatalf("RemoveTemp = %d, %v; want the temp file alone (the uploads are young)", n, err)
	}
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp file still there: %v", err)
	}
	if got := uploads(); len(got) != 2 {
		t.Fatalf("uploads %v, want both kept", got)
	}

	o.StaleUploadAge = time.Millisecond
	s = openStore(t, ctx, srv.URL("mine"), o)
	time.Sleep(10 * time.Millisecond)
	if n, err := s.RemoveTemp(ctx, 0); err != nil || n != 1 {
		t.Fatalf("RemoveTemp = %d, %v; want this prefix's upload", n, err)
	}
	if got := uploads(); len(got) != 1 || !strings.HasPrefix(got[0], "theirs/") {
		t.Fatalf("uploads %v, want the other prefix's alone", got)
	}
}

// TestOpenWithoutRequests: a store that learnt an object's size (it wrote
// or opened it) and OpenSized open without asking the server.
func TestOpenWithoutRequests(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	p := s3test.NewProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	data := objecttest.Data(60, 3000)
	writer := openStore(t, ctx, srv.URL("sized"), options(t, srv, true))
	id, _, err := writer.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, ctx, srv.URL("sized"), options(t, p.Server(srv), true))
	if _, err := s.Open(ctx, id); err != nil { // a HEAD: the size is news
		t.Fatal(err)
	}
	objecttest.ReadAll(t, s, id) // fills the disk cache
	p.ResetBytes()
	if got := objecttest.ReadAll(t, s, id); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	r, err := s.OpenSized(ctx, id, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != int64(len(data)) {
		t.Fatalf("Size = %d", r.Size())
	}
	if up, down := p.Bytes(); up != 0 || down != 0 {
		t.Fatalf("opening a known object sent %d bytes, got %d", up, down)
	}
}

// TestCacheInUse: a second store on a cache directory in use reads
// without the cache, and reads right.
func TestCacheInUse(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	o := options(t, srv, true)
	first := openStore(t, ctx, srv.URL("shared"), o)
	second := openStore(t, ctx, srv.URL("shared"), o)
	data := objecttest.Data(70, 5000)
	id, _, err := first.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*s3store.Store{first, second} {
		if got := objecttest.ReadAll(t, s, id); !bytes.Equal(got, data) {
			t.Fatal("read back differs")
		}
	}
	if first.CacheStats().Misses != 1 || second.CacheStats() != (diskcache.Stats{}) {
		t.Fatalf("cache stats %+v and %+v: want the first store alone to use the cache", first.CacheStats(), second.CacheStats())
	}
}
