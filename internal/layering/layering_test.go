// Package layering holds the test that keeps the packages' layers: the store
// is the only door to the catalog and the codecs, and nothing below the store
// reaches up.
package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "deltafs"

// rules forbid imports: a package under dir (the directory itself or below,
// test files included) may not import a package under any of forbidden.
var rules = []struct {
	dir       string
	forbidden []string
}{
	{"fusefs", []string{"catalog", "delta"}},
	{"cmd", []string{"catalog", "delta"}},
	{"npy", []string{"catalog", "delta", "cache", "store", "fusefs", "cmd"}},
	{"safetensors", []string{"npy", "catalog", "delta", "cache", "store", "fusefs", "cmd"}},
	{"delta", []string{"catalog", "cache", "store", "fusefs", "cmd"}},
	{"cache", []string{"catalog", "delta", "store", "fusefs", "cmd"}},
	{"catalog", []string{"delta", "store", "fusefs", "cmd"}},
	{"store", []string{"fusefs", "cmd"}},
}

// violation is one forbidden import.
type violation struct {
	file, imp string
}

// check returns the forbidden imports of the Go files under root/dir.
func check(t *testing.T, root, dir string, forbidden []string) []violation {
	t.Helper()
	var out []violation
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			for _, bad := range forbidden {
				p := module + "/" + bad
				if imp == p || strings.HasPrefix(imp, p+"/") {
					rel, _ := filepath.Rel(root, path)
					out = append(out, violation{file: rel, imp: imp})
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayers fails when a package imports across the layers: fusefs and the
// command line reach the catalog and the codecs only through the store.
func TestLayers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	for _, r := range rules {
		if _, err := os.Stat(filepath.Join(root, r.dir)); err != nil {
			t.Errorf("rule for %s: %v", r.dir, err)
			continue
		}
		for _, v := range check(t, root, r.dir, r.forbidden) {
			t.Errorf("%s imports %s: %s may not import %v", v.file, v.imp, r.dir, r.forbidden)
		}
	}
}

// The check finds an import, in a test file too, and only a forbidden one.
func TestCheckFindsForbiddenImports(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"fusefs/a.go":          "package fusefs\nimport _ \"deltafs/store\"\n",
		"fusefs/b_test.go":     "package fusefs\nimport (\n\t\"fmt\"\n\t_ \"deltafs/delta/planes\"\n)\nvar _ = fmt.Sprint\n",
		"fusefs/sub/c.go":      "package sub\nimport _ \"deltafs/catalog\"\n",
		"fusefs/d.go":          "package fusefs\nimport _ \"deltafs/deltaextra\"\n",
		"fusefs/testdata/x.go": "package x\nimport _ \"deltafs/catalog\"\n",
	}
	for name, src := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := map[violation]bool{}
	for _, v := range check(t, root, "fusefs", []string{"catalog", "delta"}) {
		got[v] = true
	}
	want := []violation{
		{filepath.Join("fusefs", "b_test.go"), "deltafs/delta/planes"},
		{filepath.Join("fusefs", "sub", "c.go"), "deltafs/catalog"},
	}
	if len(got) != len(want) {
		t.Errorf("found %v, want %v", got, want)
	}
	for _, v := range want {
		if !got[v] {
			t.Errorf("missed %v", v)
		}
	}
}
