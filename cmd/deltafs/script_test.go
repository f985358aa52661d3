package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
	"deltafs/internal/testenv"
)

// TestMain makes the test binary double as the deltafs command, so scripts
// run the real program in a separate process.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) != "deltafs" {
		// The scripts wait on processes and fsync far more than they
		// compute: run more of them at once than -parallel's GOMAXPROCS
		// default, unless -parallel was given.
		flag.Parse()
		explicit := false
		flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
		if !explicit {
			_ = flag.Set("test.parallel", "4")
		}
	}
	testscript.Main(serversStopped{m}, map[string]func(){
		"deltafs": func() { os.Exit(deltafsMain()) },
	})
}

// serversStopped runs the tests, then stops the PostgreSQL and S3 servers
// the remote scripts started.
type serversStopped struct{ m *testing.M }

func (s serversStopped) Run() int {
	code := pgtest.Run(s.m)
	s3test.Stop()
	return code
}

// remoteServers gives a script named remote* a new database on a real
// PostgreSQL ($PGURL) and a new bucket on a real S3 server ($S3URL, and
// the AWS environment a user would set), started once per test process.
func remoteServers(env *testscript.Env) {
	tb, ok := env.T().(testing.TB)
	if !ok || !strings.HasPrefix(scriptName(env), "remote") {
		return
	}
	srv := s3test.Start(tb)
	proxy := s3test.NewProxy(tb, strings.TrimPrefix(srv.Endpoint, "http://"))
	remoteLinks.Store(env.WorkDir, remoteLink{tb: tb, proxy: proxy})
	tb.Cleanup(func() { remoteLinks.Delete(env.WorkDir) })
	env.Setenv("PGURL", pgtest.URL(tb))
	env.Setenv("S3URL", srv.URL("store"))
	env.Setenv("S3PROXYURL", srv.URL("store")+"?endpoint="+proxy.Endpoint())
	for k, v := range srv.Env() {
		env.Setenv(k, v)
	}
}

// remoteLinks holds, by work directory, what a remote script's commands
// act on: its test and the proxy in front of its S3 server.
var remoteLinks sync.Map

// remoteLink is a remote script's test and S3 proxy.
type remoteLink struct {
	tb    testing.TB
	proxy *s3test.Proxy
}

// scriptName is the name of the running script ("" when unknown).
func scriptName(env *testscript.Env) string {
	named, ok := env.T().(interface{ Name() string })
	if !ok {
		return ""
	}
	return named.Name()[strings.LastIndexByte(named.Name(), '/')+1:]
}

// TestScript runs the end-to-end scripts in testdata/script: each runs the
// deltafs binary against fixtures numpy makes in the script's work dir.
func TestScript(t *testing.T) {
	py := testenv.Python(t)
	gen, err := filepath.Abs(filepath.Join("testdata", "gen_fixtures.py"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Deadline:            deadline(t),
		Setup: func(env *testscript.Env) error {
			skipSequentialUnderRace(env)
			remoteServers(env)
			env.Setenv("PYTHON", py)
			env.Setenv("GEN_FIXTURES", gen)
			env.Setenv("GOMAXPROCS", "2")
			return nil
		},
		Condition: scriptCondition,
		Cmds:      scriptCommands,
	})
}

// skipSequentialUnderRace skips, under -race -short, a script that never
// runs two deltafs processes at once nor a daemon in the background: `make
// test` runs every script without the race detector first, then under it
// only those where a process's goroutines meet (a mount, concurrent
// commands), for which the detector is worth its tenfold cost.
func skipSequentialUnderRace(env *testscript.Env) {
	if !raceEnabled || !testing.Short() {
		return
	}
	name := scriptName(env)
	if name == "" {
		return
	}
	src, err := os.ReadFile(filepath.Join("testdata", "script", name+".txtar"))
	if err != nil || backgroundCommand.Match(src) {
		return
	}
	env.T().Skip("no concurrent deltafs process: runs without -race (make test's first pass)")
}

// backgroundCommand matches a script line that starts a command in the
// background (testscript's "&" or "&NAME&" suffix) or races imports.
var backgroundCommand = regexp.MustCompile(`(?m)(\s&(\w+&)?\s*$|^importrace\b)`)

// deadline leaves the test a minute to report before go test's -timeout.
func deadline(t *testing.T) time.Time {
	d, ok := t.Deadline()
	if !ok {
		return time.Time{}
	}
	return d.Add(-time.Minute)
}

// scriptCondition answers [root], [fuse] (a usable /dev/fuse as root) and
// [strict] (missing machine pieces must fail, not skip).
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "fuse":
		_, err := os.Stat("/dev/fuse")
		return err == nil && os.Geteuid() == 0 && runtime.GOOS == "linux", nil
	case "strict":
		return os.Getenv("CI") == "true" || os.Getenv("DELTAFS_REQUIRE_FUSE") == "1", nil
	}
	return false, &unknownCondition{cond}
}

type unknownCondition struct{ cond string }

func (e *unknownCondition) Error() string {
	return "unknown condition " + strings.TrimSpace(e.cond)
}
