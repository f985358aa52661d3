// Package pgtest runs a real PostgreSQL server for tests: one cluster per
// test process, made on first use in a temporary directory (initdb, then
// pg_ctl start), listening on a unix socket in that directory, and a fresh
// empty database for every test that asks.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.URL(t) // a new database, dropped when the test ends
//		...
//	}
//
// Main stops the cluster and removes its directory when the tests are done;
// a cluster left behind by a killed test process is stopped and removed by
// the next one. The server binaries are found in $DELTAFS_PG_BIN, then in
// the newest /usr/lib/postgresql/*/bin (Debian's postgresql package), then
// on PATH; without them the test is skipped, or failed under CI (see
// testenv.Missing). Run as root, the cluster runs as the postgres user
// (PostgreSQL refuses root).
//
// The cluster trades durability for speed (fsync off): it is for tests
// only. Its credentials are the URL's: trust authentication on a socket
// only the test process's user and postgres can reach.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"deltafs/internal/testenv"
)

// dirPrefix starts the name of a cluster's temporary directory.
const dirPrefix = "deltafs-pgtest-"

var (
	mainRunning atomic.Bool

	mu      sync.Mutex
	cl      *cluster // the running cluster, nil before first use
	clErr   error    // why the cluster could not start (kept: tried once)
	missing string   // why PostgreSQL is absent ("" when it is present)
	dbSeq   atomic.Int64
)

// cluster is a PostgreSQL cluster in a temporary directory.
type cluster struct {
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // the temporary directory: data/, the socket, the log
	cred *syscall.Credential
	port int
	user string // the superuser's name

	adminMu   sync.Mutex
	adminConn *pgx.Conn // to the postgres database, nil until used

	tmplMu    sync.Mutex
	templates map[string]error // templates made (nil: ready), by name
}

// Main runs the tests of a package (call it from TestMain), then stops the
// cluster they used, if any, and removes it.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that has more to do after the tests (stop
// other servers): it runs them, stops the cluster and returns the exit
// code.
func Run(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	mu.Lock()
	if cl != nil {
		if err := cl.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		cl = nil
	}
	mu.Unlock()
	return code
}

// URL returns the URL of a new empty database on the test cluster (started
// on first use), dropped when the test ends. Without PostgreSQL the test is
// skipped (or failed under CI).
func URL(t testing.TB) string {
	t.Helper()
	return clone(t, get(t), "template0")
}

// URLFrom returns the URL of a new database, dropped when the test ends,
// that starts as a copy of template: a database made once per test
// process by setup, which is given its URL (and must close its
// connections before it returns). Copying a prepared database is much
// faster than preparing each (a schema's migrations, fixtures).
func URLFrom(t testing.TB, template string, setup func(ctx context.Context, url string) error) string {
	t.Helper()
	c := get(t)
	c.tmplMu.Lock()
	err, done := c.templates[template]
	if !done {
		err = c.admin(context.Background(), `CREATE DATABASE `+pgx.Identifier{template}.Sanitize())
		if err == nil {
			err = setup(context.Background(), c.url(template))
		}
		if c.templates == nil {
			c.templates = map[string]error{}
		}
		c.templates[template] = err
	}
	c.tmplMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: template %s: %v", template, err)
	}
	return clone(t, c, template)
}

// clone makes a new database from template, dropped when the test ends.
func clone(t testing.TB, c *cluster, template string) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := context.Background()
	if err := c.admin(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE `+
		pgx.Identifier{template}.Sanitize()+` STRATEGY FILE_COPY`); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := c.admin(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.url(name)
}

// Restart stops the test cluster (fast shutdown: open connections are
// closed) and starts it again, as an operator restarting the server would.
// Tests that call it must not run in parallel with others using the cluster.
func Restart(t testing.TB) {
	t.Helper()
	c := get(t)
	mu.Lock()
	defer mu.Unlock()
	if err := c.pgctl("restart", "-w", "-t", "60", "-m", "fast", "-l", filepath.Join(c.dir, "log"),
		"-o", c.serverOptions()); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
}

// Down stops the test cluster (fast shutdown) until the returned function
// starts it again; it is started again when the test ends in any case.
// Tests that call it must not run in parallel with others using the
// cluster.
func Down(t testing.TB) (up func()) {
	t.Helper()
	c := get(t)
	mu.Lock()
	defer mu.Unlock()
	if err := c.pgctl("stop", "-w", "-t", "60", "-m", "fast"); err != nil {
		t.Fatalf("pgtest: stop: %v", err)
	}
	var once sync.Once
	up = func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if err := c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", c.serverOptions()); err != nil {
				t.Errorf("pgtest: start: %v", err)
			}
		})
	}
	t.Cleanup(up)
	return up
}

// get returns the running cluster, starting it on first use.
func get(t testing.TB) *cluster {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from the package's TestMain (it stops the cluster)")
	}
	mu.Lock()
	defer mu.Unlock()
	if cl == nil && clErr == nil && missing == "" {
		cl, clErr = start()
	}
	switch {
	case missing != "":
		testenv.Missing(t, "PostgreSQL: %s", missing)
	case clErr != nil:
		t.Fatalf("pgtest: %v", clErr)
	}
	return cl
}

// start makes and starts a cluster, or sets missing.
func start() (*cluster, error) {
	bin, err := findBin()
	if err != nil {
		missing = err.Error()
		return nil, nil
	}
	c := &cluster{bin: bin, user: "postgres"}
	var uid, gid int
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing = "running as root and no postgres user to run the server as"
			return nil, nil
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	} else if u, err := user.Current(); err == nil {
		c.user = u.Username
	}
	removeStale()
	c.dir, err = os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*cluster, error) {
		os.RemoveAll(c.dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail(err)
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	if c.port, err = freePort(); err != nil {
		return fail(err)
	}
	out, err := c.run("initdb", "-D", filepath.Join(c.dir, "data"), "-U", c.user, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	if err := c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", c.serverOptions()); err != nil {
		return fail(err)
	}
	return c, nil
}

// serverOptions are the postgres options: the socket in the cluster's
// directory, no TCP unless the socket's path is too long, speed over
// durability, room for the connections of many catalog handles.
func (c *cluster) serverOptions() string {
	listen := "''"
	if c.useTCP() {
		listen = "127.0.0.1"
	}
	return fmt.Sprintf("-k %s -p %d -c listen_addresses=%s -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB", c.dir, c.port, listen)
}

// useTCP reports whether the socket's path would exceed what a unix
// socket address holds (107 bytes on Linux).
func (c *cluster) useTCP() bool {
	return len(filepath.Join(c.dir, ".s.PGSQL."+strconv.Itoa(c.port))) > 100
}

// url is the URL of database name.
func (c *cluster) url(name string) string {
	q := url.Values{}
	q.Set("user", c.user)
	q.Set("sslmode", "disable")
	host := c.dir
	if c.useTCP() {
		host = "127.0.0.1"
	}
	q.Set("host", host)
	q.Set("port", strconv.Itoa(c.port))
	return "postgres:///" + name + "?" + q.Encode()
}

// admin runs one statement in the postgres database, on a connection kept
// for the next (made again after a restart).
func (c *cluster) admin(ctx context.Context, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	var err error
	for range 2 {
		if c.adminConn == nil || c.adminConn.IsClosed() {
			if c.adminConn, err = pgx.Connect(ctx, c.url("postgres")); err != nil {
				c.adminConn = nil
				return err
			}
		}
		if _, err = c.adminConn.Exec(ctx, stmt); err == nil || !c.adminConn.IsClosed() {
			return err
		}
	}
	return err
}

// stop stops the server and removes the cluster's directory.
func (c *cluster) stop() error {
	if c.adminConn != nil {
		c.adminConn.Close(context.Background())
	}
	err := c.pgctl("stop", "-w", "-t", "60", "-m", "fast")
	if err != nil {
		err = errors.Join(err, c.pgctl("stop", "-m", "immediate"))
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *cluster) pgctl(args ...string) error {
	args = append(args[:1:1], append([]string{"-D", filepath.Join(c.dir, "data")}, args[1:]...)...)
	if out, err := c.run("pg_ctl", args...); err != nil {
		return fmt.Errorf("pg_ctl %s: %v: %s", args[0], err, out)
	}
	return nil
}

// run runs one of the server's programs as the cluster's owner.
func (c *cluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	// pg_ctl start leaves the server running with our stdout: give it a
	// file, not a pipe, or CombinedOutput would wait for the server.
	out, err := os.CreateTemp(c.dir, "out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	if c.cred != nil {
		out.Chown(int(c.cred.Uid), int(c.cred.Gid))
	}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	text, _ := os.ReadFile(out.Name())
	return text, err
}

// findBin returns the directory of initdb and pg_ctl.
func findBin() (string, error) {
	if d := os.Getenv("DELTAFS_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("initdb not found (install postgresql, or set DELTAFS_PG_BIN)")
}

// version is the major version in a Debian binary directory's path.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// freePort returns a TCP port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeStale stops and removes the clusters of test processes that died
// without stopping theirs.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // its owner lives (or is not ours to judge)
		}
		bin, err := findBin()
		if err != nil {
			return
		}
		c := &cluster{bin: bin, dir: dir}
		if st, err := os.Stat(dir); err == nil {
			if s, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && s.Uid != 0 {
				c.cred = &syscall.Credential{Uid: s.Uid, Gid: s.Gid}
			}
		}
		c.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	}
}
