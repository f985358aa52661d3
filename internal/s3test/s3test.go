// Package s3test starts a real S3 server for tests: SeaweedFS (`weed
// server` with its filer and S3 gateway), one per test process, on free
// ports of 127.0.0.1 in a temporary directory, with one key pair; each
// Start hands out a fresh bucket on it. Proxy puts a TCP proxy in front of
// it that can be cut and restored, throttled and counted.
//
// The weed binary is $DELTAFS_WEED, else the one scripts/build-seaweedfs.sh
// prints (which builds it once per machine: long the first time). Without
// one the test is skipped, or fails under CI (testenv.Missing).
//
// A package whose tests call Start stops the server at the end with
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"deltafs/internal/testenv"
)

// Server is one bucket on the test process's S3 server.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string // fresh, empty, for this Start alone
}

// URL returns s3://BUCKET/PREFIX of the server's bucket.
func (s Server) URL(prefix string) string {
	return "s3://" + s.Bucket + "/" + strings.Trim(prefix, "/")
}

// Env returns the AWS environment a user of the server would set:
// endpoint, region and key pair (for t.Setenv or a child's environment).
func (s Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":      s.Endpoint,
		"AWS_REGION":            s.Region,
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
	}
}

// Client returns an S3 client of the server (path-style), for tests that
// look at the bucket behind a store's back.
func (s Server) Client() *s3.Client {
	return newClient(s.Endpoint, s.Region, s.AccessKey, s.SecretKey)
}

// startTimeout bounds the wait for a fresh server to answer (a loaded
// machine with two cores takes seconds).
const startTimeout = 3 * time.Minute

var (
	mu      sync.Mutex
	running *weed
	failed  error // the first start's failure, given to every later Start
	buckets atomic.Int64
)

type weed struct {
	cmd      *exec.Cmd
	dir      string
	endpoint string
	access   string
	secret   string
	exited   chan struct{}
}

const region = "us-east-1"

const masterTOML = `[master.volume_growth]
copy_1 = 1
copy_other = 1
allocation_deferral = "0s"
`

// Start returns a fresh bucket on the process's SeaweedFS server, starting
// the server on the first call.
func Start(t testing.TB) Server {
	t.Helper()
	bin, why := weedBinary()
	if bin == "" {
		testenv.Missing(t, "no SeaweedFS weed binary: %s", why)
	}
	mu.Lock()
	if running == nil && failed == nil {
		running, failed = startWeed(bin)
	}
	w, err := running, failed
	mu.Unlock()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	bucket := fmt.Sprintf("t%d-%s", buckets.Add(1), randomHex(6))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newClient(w.endpoint, region, w.access, w.secret)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", bucket, err)
	}
	return Server{Endpoint: w.endpoint, Region: region, AccessKey: w.access, SecretKey: w.secret, Bucket: bucket}
}

// Main runs the tests and then stops the server if one was started; use
// it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the server if one was started (a TestMain that runs its tests
// through another harness's Run calls it after).
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if running != nil {
		running.stop()
		running = nil
	}
}

var (
	binOnce sync.Once
	binPath string
	binWhy  string
)

// weedBinary returns $DELTAFS_WEED, or the path scripts/build-seaweedfs.sh
// prints (building the binary once per machine), or "" and why not.
func weedBinary() (string, string) {
	binOnce.Do(func() {
		if p := os.Getenv("DELTAFS_WEED"); p != "" {
			if _, err := os.Stat(p); err != nil {
				binWhy = fmt.Sprintf("DELTAFS_WEED=%s: %v", p, err)
				return
			}
			binPath = p
			return
		}
		root, err := testenv.RepoRoot()
		if err != nil {
			binWhy = err.Error()
			return
		}
		script := filepath.Join(root, "scripts", "build-seaweedfs.sh")
		fmt.Fprintf(os.Stderr, "s3test: DELTAFS_WEED is unset; running %s, which builds SeaweedFS once for this machine if its cache lacks it (about 14 minutes the first time)\n", script)
		cmd := exec.Command("bash", script)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			binWhy = fmt.Sprintf("%s: %v", script, err)
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	return binPath, binWhy
}

// freePorts returns n distinct free TCP ports of 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startWeed(bin string) (*weed, error) {
	dir, err := os.MkdirTemp("", "deltafs-s3test-*")
	if err != nil {
		return nil, err
	}
	w := &weed{dir: dir, access: "deltafs" + randomHex(6), secret: randomHex(20), exited: make(chan struct{})}
	cfg, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "deltafs-tests",
		"credentials": []any{map[string]string{"accessKey": w.access, "secretKey": w.secret}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	cfgPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	// weed reads master.toml from its working directory: one volume per
	// growth (each bucket is a collection with volumes of its own, 7 by
	// default), and no wait before the first allocation.
	if err := os.WriteFile(filepath.Join(dir, "master.toml"), []byte(masterTOML), 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	logs := filepath.Join(dir, "log")
	for _, d := range []string{data, logs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	args := []string{
		"-logdir=" + logs,
		"server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-dir=" + data,
		"-master.port=" + p(0), "-master.port.grpc=" + p(1),
		"-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		"-volume.port=" + p(2), "-volume.port.grpc=" + p(3), "-volume.max=1000",
		"-filer", "-filer.port=" + p(4), "-filer.port.grpc=" + p(5),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port=" + p(6), "-s3.port.grpc=" + p(7),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
		"-s3.config=" + cfgPath,
	}
	out, err := os.Create(filepath.Join(dir, "weed.out"))
	if err != nil {
		return nil, err
	}
	w.cmd = exec.Command(bin, args...)
	w.cmd.Dir = dir
	w.cmd.Stdout, w.cmd.Stderr = out, out
	// Its own process group, killed with the test process if that dies
	// without Main's cleanup.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		out.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		w.cmd.Wait()
		out.Close()
		close(w.exited)
	}()
	w.endpoint = "http://127.0.0.1:" + p(6)
	if err := w.waitReady(); err != nil {
		log := w.tail()
		w.stop()
		return nil, fmt.Errorf("SeaweedFS did not come up: %w\n%s", err, log)
	}
	return w, nil
}

// waitReady waits until the S3 gateway stores and returns an object.
func (w *weed) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := newClient(w.endpoint, region, w.access, w.secret)
	bucket := "ready-" + randomHex(4)
	var last error
	for {
		select {
		case <-w.exited:
			return errors.New("weed exited")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", startTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
		last = w.probe(ctx, c, bucket)
		if last == nil {
			return nil
		}
	}
}

func (w *weed) probe(ctx context.Context, c *s3.Client, bucket string) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.HeadBucket(rctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if _, err := c.CreateBucket(rctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			return err
		}
	}
	body := []byte("ready")
	if _, err := c.PutObject(rctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe"),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		return err
	}
	_, err := c.GetObject(rctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe")})
	return err
}

// tail returns the end of the server's output.
func (w *weed) tail() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "weed.out"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop ends the server (TERM, then KILL) and removes its directory.
func (w *weed) stop() {
	if w.cmd.Process != nil {
		syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			<-w.exited
		}
	}
	os.RemoveAll(w.dir)
}

func newClient(endpoint, region, access, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
