package main

import (
	"bytes"
	"database/sql"
	"deltafs/internal/pgtest"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite"
)

// scriptCommands are the custom commands of the scripts.
var scriptCommands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"fixture":       cmdFixture,
	"s3link":        cmdS3Link,
	"pgrestart":     cmdPGRestart,
	"exitcode":      cmdExitCode,
	"cmpdir":        cmdCmpDir,
	"corrupt":       cmdCorrupt,
	"schemaversion": cmdSchemaVersion,
	"json":          cmdJSON,
	"jsoneq":        cmdJSONEqual,
	"importrace":    cmdImportRace,
	"tmpfs":         cmdTmpfs,
	"waitmount":     cmdWaitMount,
	"waitfile":      cmdWaitFile,
	"nomount":       cmdNoMount,
	"compareratio":  cmdCompareRatio,
	"sigterm":       cmdSigterm,
	"within":        cmdWithin,
}

// within DUR exists|gone FILE, within DUR same FILE WANT: FILE exists (is
// listed in its directory and stats), is gone (neither), or reads as WANT
// within DUR; polled every few milliseconds through the kernel's caches,
// as a user would look.
func cmdWithin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: within DUR exists|gone FILE | within DUR same FILE WANT")
	}
	limit, err := time.ParseDuration(args[0])
	ts.Check(err)
	file := ts.MkAbs(args[2])
	listed := func() (bool, error) {
		ents, err := os.ReadDir(filepath.Dir(file))
		for _, e := range ents {
			if e.Name() == filepath.Base(file) {
				return true, err
			}
		}
		return false, err
	}
	var check func() error
	switch {
	case args[1] == "exists" && len(args) == 3:
		check = func() error {
			if ok, err := listed(); !ok || err != nil {
				return fmt.Errorf("not listed (%v)", err)
			}
			_, err := os.Stat(file)
			return err
		}
	case args[1] == "gone" && len(args) == 3:
		check = func() error {
			if ok, _ := listed(); ok {
				return errors.New("still listed")
			}
			if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("stat: %v", err)
			}
			return nil
		}
	case args[1] == "same" && len(args) == 4:
		want, err := os.ReadFile(ts.MkAbs(args[3]))
		ts.Check(err)
		check = func() error {
			got, err := os.ReadFile(file)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("differs from %s", args[3])
			}
			return err
		}
	default:
		ts.Fatalf("usage: within DUR exists|gone FILE | within DUR same FILE WANT")
	}
	start := time.Now()
	for {
		err := check()
		if err == nil {
			ts.Logf("%s %s after %v", args[2], args[1], time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			ts.Fatalf("%s: not %s within %v: %v", args[2], args[1], limit, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fixture KIND OUT [ARGS...]: run testdata/gen_fixtures.py.
func cmdFixture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: fixture KIND OUT [ARGS...]")
	}
	cmdArgs := append([]string{ts.Getenv("GEN_FIXTURES"), args[0], ts.MkAbs(args[1])}, args[2:]...)
	out, err := exec.Command(ts.Getenv("PYTHON"), cmdArgs...).CombinedOutput()
	if err != nil {
		ts.Fatalf("fixture %s: %v\n%s", args[0], err, out)
	}
}

// exitcode N PROG [ARGS...]: run PROG and require exit code N exactly;
// stdout and stderr are kept for the commands after it.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmpdir A B: the two trees hold the same regular files with the same bytes.
func cmdCmpDir(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpdir A B")
	}
	a, b := treeFiles(ts, ts.MkAbs(args[0])), treeFiles(ts, ts.MkAbs(args[1]))
	var diffs []string
	for name, da := range a {
		db, ok := b[name]
		switch {
		case !ok:
			diffs = append(diffs, "only in "+args[0]+": "+name)
		case !bytes.Equal(da, db):
			diffs = append(diffs, fmt.Sprintf("%s differs (%d vs %d bytes)", name, len(da), len(db)))
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			diffs = append(diffs, "only in "+args[1]+": "+name)
		}
	}
	sort.Strings(diffs)
	if neg {
		if len(diffs) == 0 {
			ts.Fatalf("%s and %s are identical", args[0], args[1])
		}
		return
	}
	if len(diffs) > 0 {
		ts.Fatalf("%s and %s differ:\n%s", args[0], args[1], strings.Join(diffs, "\n"))
	}
	ts.Logf("%s and %s: %d identical files", args[0], args[1], len(a))
}

// treeFiles reads every regular file under root, by slash path.
func treeFiles(ts *testscript.TestScript, root string) map[string][]byte {
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	ts.Check(err)
	return files
}

// corrupt STORE: flip one byte in the middle of every object file of the
// store (every file under STORE/objects), and print how many.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corrupt STORE")
	}
	n := 0
	err := filepath.WalkDir(filepath.Join(ts.MkAbs(args[0]), "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 {
			return err
		}
		data[len(data)/2] ^= 0x5a
		n++
		return os.WriteFile(p, data, 0o644)
	})
	ts.Check(err)
	if n == 0 {
		ts.Fatalf("corrupt: no object files under %s/objects", args[0])
	}
	fmt.Fprintf(ts.Stdout(), "corrupted %d object files\n", n)
}

// schemaversion STORE N: set the catalog's schema version (SQLite
// user_version) as a newer deltafs would.
func cmdSchemaVersion(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: schemaversion STORE N")
	}
	v, err := strconv.Atoi(args[1])
	ts.Check(err)
	file := findSQLite(ts, ts.MkAbs(args[0]))
	db, err := sql.Open("sqlite", file)
	ts.Check(err)
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v))
	ts.Check(err)
}

// findSQLite returns the one SQLite database file directly in dir.
func findSQLite(ts *testscript.TestScript, dir string) string {
	entries, err := os.ReadDir(dir)
	ts.Check(err)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		magic := make([]byte, 16)
		n, _ := f.Read(magic)
		f.Close()
		if n == 16 && string(magic) == "SQLite format 3\x00" {
			return p
		}
	}
	ts.Fatalf("no SQLite catalog in %s", dir)
	return ""
}

// json FILE [PATH==VALUE | PATH>VALUE | PATH!=VALUE ...]: FILE (stdout for
// the last command's) is valid JSON; each PATH (dot-separated keys and
// indexes, "#" for a length) compares to VALUE (JSON text or a bare string).
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: json FILE [PATH==VALUE...]")
	}
	var doc any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		ts.Fatalf("%s is not valid JSON: %v", args[0], err)
	}
	for _, check := range args[1:] {
		op := ""
		for _, o := range []string{"==", "!=", ">="} {
			if strings.Contains(check, o) {
				op = o
				break
			}
		}
		if op == "" {
			ts.Fatalf("json: bad check %q (want PATH==VALUE, PATH!=VALUE or PATH>=NUMBER)", check)
		}
		path, want, _ := strings.Cut(check, op)
		got, err := jsonLookup(doc, path)
		if err != nil {
			ts.Fatalf("json %s: %v", path, err)
		}
		gotText, _ := json.Marshal(got)
		var wantVal any
		if json.Unmarshal([]byte(want), &wantVal) != nil {
			wantVal = want
		}
		wantText, _ := json.Marshal(wantVal)
		switch op {
		case "==":
			if !bytes.Equal(gotText, wantText) {
				ts.Fatalf("json %s = %s, want %s", path, gotText, wantText)
			}
		case "!=":
			if bytes.Equal(gotText, wantText) {
				ts.Fatalf("json %s = %s, want anything else", path, gotText)
			}
		case ">=":
			g, gok := got.(float64)
			w, wok := wantVal.(float64)
			if !gok || !wok || g < w {
				ts.Fatalf("json %s = %s, want >= %s", path, gotText, wantText)
			}
		}
	}
}

// jsoneq FILE1 PATH1 FILE2 PATH2: the value at PATH1 in the JSON file
// FILE1 equals the value at PATH2 in FILE2.
func cmdJSONEqual(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: jsoneq FILE1 PATH1 FILE2 PATH2")
	}
	var vals [2][]byte
	for i := range 2 {
		var doc any
		if err := json.Unmarshal([]byte(ts.ReadFile(args[2*i])), &doc); err != nil {
			ts.Fatalf("%s is not valid JSON: %v", args[2*i], err)
		}
		v, err := jsonLookup(doc, args[2*i+1])
		if err != nil {
			ts.Fatalf("json %s: %v", args[2*i+1], err)
		}
		vals[i], _ = json.Marshal(v)
	}
	if eq := bytes.Equal(vals[0], vals[1]); eq == neg {
		ts.Fatalf("%s %s = %s, %s %s = %s", args[0], args[1], vals[0], args[2], args[3], vals[1])
	}
}

// jsonLookup follows a dot path through decoded JSON.
func jsonLookup(doc any, path string) (any, error) {
	cur := doc
	for _, key := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			if key == "#" {
				return float64(len(v)), nil
			}
			next, ok := v[key]
			if !ok {
				return nil, fmt.Errorf("no key %q", key)
			}
			cur = next
		case []any:
			if key == "#" {
				return float64(len(v)), nil
			}
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("bad index %q into %d elements", key, len(v))
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("cannot index %T with %q", cur, key)
		}
	}
	return cur, nil
}

// importrace N STORE SRC MODEL: start N "deltafs import STORE SRC --as
// MODEL" at once; exactly one must succeed, every other must exit 5
// (exists) with a message, none may crash.
func cmdImportRace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: importrace N STORE SRC MODEL")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	bin, err := exec.LookPath("deltafs")
	ts.Check(err)
	codes := make([]int, n)
	outputs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "import", ts.MkAbs(args[1]), ts.MkAbs(args[2]), "--as", args[3])
			out, err := cmd.CombinedOutput()
			outputs[i] = string(out)
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				codes[i] = ee.ExitCode()
			} else if err != nil {
				codes[i] = -1
			}
		}()
	}
	wg.Wait()
	ok := 0
	for i, c := range codes {
		ts.Logf("import %d: exit %d: %s", i, c, strings.TrimSpace(outputs[i]))
		switch c {
		case exitOK:
			ok++
		case exitExists:
			if !strings.Contains(outputs[i], "already exists") {
				ts.Fatalf("import %d: exit 5 without a clear message", i)
			}
		default:
			ts.Fatalf("import %d exited %d, want 0 or 5", i, c)
		}
	}
	if ok != 1 {
		ts.Fatalf("%d of %d concurrent imports of one model succeeded, want exactly 1", ok, n)
	}
}

// tmpfs DIR SIZE: mount a tmpfs of SIZE (e.g. 2m) at DIR, unmounted when
// the script ends. Needs root.
func cmdTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tmpfs DIR SIZE")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+args[1]))
	ts.Defer(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// waitmount DIR: wait (up to 30 s) until DIR is a mount point that answers
// (a stale mount left by a killed daemon does not).
func cmdWaitMount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitmount DIR")
	}
	dir := ts.MkAbs(args[0])
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		// Asks the filesystem: a plain stat of a dead mount may be answered
		// from the kernel's cache.
		var stx unix.Statx_t
		err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS, &stx)
		if err == nil && isMountPoint(ts, dir) {
			return
		}
	}
	ts.Fatalf("%s was not mounted within 30s", args[0])
}

// waitfile FILE: wait (up to 30 s) until FILE exists.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear within 30s", args[0])
}

// nomount DIR: DIR is not a mount point (any more; waits up to 30 s).
func cmdNoMount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: nomount DIR")
	}
	dir := ts.MkAbs(args[0])
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !isMountPoint(ts, dir) {
			return
		}
	}
	ts.Fatalf("%s is still mounted after 30s", args[0])
}

// isMountPoint reports whether dir is listed in /proc/self/mountinfo.
func isMountPoint(ts *testscript.TestScript, dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	ts.Check(err)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMountInfo(f[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountInfo decodes the octal escapes (\040) of mountinfo fields.
func unescapeMountInfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// compareratio [-beat] STATS.json MODEL SRCDIR: print the ratio deltafs
// stats reports for MODEL beside the ratio of zstd -3 on each file of
// SRCDIR; with -beat, fail unless deltafs's ratio is the higher.
func cmdCompareRatio(ts *testscript.TestScript, neg bool, args []string) {
	beat := len(args) > 0 && args[0] == "-beat"
	if beat {
		args = args[1:]
	}
	if neg || len(args) != 3 {
		ts.Fatalf("usage: compareratio [-beat] STATS.json MODEL SRCDIR")
	}
	var stats statsJSON
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &stats))
	var model *usageJSON
	for i := range stats.Models {
		if stats.Models[i].Name == args[1] {
			model = &stats.Models[i]
		}
	}
	if model == nil {
		ts.Fatalf("model %s not in %s", args[1], args[0])
	}
	var raw, packed int64
	for _, data := range treeFiles(ts, ts.MkAbs(args[2])) {
		cmd := exec.Command("zstd", "-3", "-c", "-q")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		ts.Check(err)
		raw += int64(len(data))
		packed += int64(len(out))
	}
	zstdRatio := float64(raw) / float64(packed)
	line := fmt.Sprintf("%s: deltafs %.3fx (%d -> %d bytes); zstd -3 per file %.3fx (%d -> %d bytes)",
		args[1], model.Ratio, model.LogicalBytes, model.StoredBytes, zstdRatio, raw, packed)
	fmt.Fprintln(ts.Stdout(), line)
	if beat && model.Ratio <= zstdRatio {
		ts.Fatalf("deltafs does not beat zstd -3 on %s", args[1])
	}
}

// sigterm: send SIGTERM to every background command (testscript's kill
// knows only INT and KILL).
func cmdSigterm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sigterm")
	}
	for _, cmd := range ts.BackgroundCmds() {
		if cmd.Process != nil {
			ts.Check(cmd.Process.Signal(syscall.SIGTERM))
		}
	}
}

// link returns the remote script's test and S3 proxy.
func link(ts *testscript.TestScript) remoteLink {
	l, ok := remoteLinks.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("no remote servers: only scripts named remote* have them")
	}
	return l.(remoteLink)
}

// s3link cut|restore: cut the link to the S3 server ($S3PROXYURL goes
// through it; connections in flight are reset), or restore it.
func cmdS3Link(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: s3link cut|restore")
	}
	p := link(ts).proxy
	switch args[0] {
	case "cut":
		p.Cut()
	case "restore":
		ts.Check(p.Restore())
	default:
		ts.Fatalf("usage: s3link cut|restore")
	}
}

// pgrestart: restart the PostgreSQL server ($PGURL), as a failover would.
func cmdPGRestart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: pgrestart")
	}
	pgtest.Restart(link(ts).tb)
}
