package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A name is refused with the reason; control characters only in names
// that an operation creates.
func TestPathProblems(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		path   string
		lookup string // error text cleanPath gives ("" none)
		create string // error text cleanNewPath gives ("" none)
	}{
		{"m/a.npy", "", ""},
		{"/m/a.npy/", "", ""},
		{"m/" + strings.Repeat("x", 255), "", ""},
		{"m/" + long, "a name of 300 bytes is longer than the 255 bytes", "a name of 300 bytes is longer than the 255 bytes"},
		{"m/a\tb.npy", "", `name "a\tb.npy" contains the control character '\t'`},
		{"m/a\nb", "", `control character '\n'`},
		{"m/a\x7fb", "", `control character '\x7f'`},
		{"m/a\u0085b", "", `control character '\u0085'`},
		{"m/é ü.npy", "", ""},
		{"m//a", "empty name", "empty name"},
		{"m/../a", `a name may not be ".."`, `a name may not be ".."`},
		{"m/a\x00b", "contains a NUL byte", "contains a NUL byte"},
	}
	check := func(fn string, got error, want string, p string) {
		t.Helper()
		switch {
		case want == "" && got != nil:
			t.Errorf("%s(%q) = %v, want no error", fn, p, got)
		case want != "" && (got == nil || !errors.Is(got, ErrInvalidPath) || !strings.Contains(got.Error(), want)):
			t.Errorf("%s(%q) = %v, want ErrInvalidPath saying %q", fn, p, got, want)
		}
	}
	for _, tt := range tests {
		_, err := cleanPath(tt.path)
		check("cleanPath", err, tt.lookup, tt.path)
		_, err = cleanNewPath(tt.path)
		check("cleanNewPath", err, tt.create, tt.path)
		if name := tt.path[strings.LastIndexByte(tt.path, '/')+1:]; name != "" && !strings.Contains(tt.path, "//") && !strings.Contains(tt.path, "/../") {
			check("CheckNewName", CheckNewName(name), tt.create, name)
		}
	}
	if err := CheckNewName("a/b"); !errors.Is(err, ErrInvalidPath) {
		t.Errorf(`CheckNewName("a/b") = %v, want ErrInvalidPath`, err)
	}
}

// Creating operations refuse control characters; the error says why.
func TestCreateRefusesControlCharacters(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	if err := s.Mkdir(ctx, "m/a\tb"); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("Mkdir with a tab: %v, want ErrInvalidPath", err)
	}
	if _, err := tryIngest(s, "m/x\n.npy", []byte("data"), IngestOptions{}); !errors.Is(err, ErrInvalidPath) || !strings.Contains(err.Error(), "control character") {
		t.Errorf("Ingest with a newline: %v, want ErrInvalidPath naming the control character", err)
	}
	ingestBytes(t, s, "m/ok.bin", []byte("data"))
	if err := s.Rename(ctx, "m/ok.bin", "m/o\rk.bin"); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("Rename to a name with a CR: %v, want ErrInvalidPath", err)
	}
	if _, err := s.Stat(ctx, "m/ok.bin"); err != nil {
		t.Errorf("the file refused a new name is gone: %v", err)
	}
}

// An import skips, with a warning each, a dangling link, a loop of links
// and a link to a directory; with FollowSymlinks it follows the last and
// stops at a link back to a directory it is in.
func TestImportSymlinks(t *testing.T) {
	src := t.TempDir()
	for name, data := range map[string]string{"a.bin": "a", "sub/b.bin": "b"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"dangling": "nowhere", "loop1": "loop2", "loop2": "loop1",
		"sublink": "sub", "sub/up": "..", "alink.bin": "a.bin",
	} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		follow   bool
		files    []string
		warnings []string
	}{
		{false, []string{"a.bin", "alink.bin", "sub/b.bin"},
			[]string{"dangling: symbolic link that points to nowhere, which does not exist", "loop1: symbolic link that loops", "loop2: symbolic link that loops",
				"sub/up: symbolic link to a directory, skipped (import with --follow-symlinks", "sublink: symbolic link to a directory, skipped"}},
		{true, []string{"a.bin", "alink.bin", "sub/b.bin", "sublink/b.bin"},
			[]string{"dangling: symbolic", "loop1: symbolic link that loops", "loop2: symbolic link that loops",
				"sub/up: symbolic link to a directory that contains it (a loop)", "sublink/up: symbolic link to a directory that contains it"}},
	}
	for _, tt := range tests {
		s := newStore(t, Options{})
		res, err := s.Import(context.Background(), src, "m", ImportOptions{FollowSymlinks: tt.follow})
		if err != nil {
			t.Fatalf("follow=%v: %v", tt.follow, err)
		}
		if res.Files != len(tt.files) {
			t.Errorf("follow=%v: %d files imported, want %d", tt.follow, res.Files, len(tt.files))
		}
		for _, f := range tt.files {
			if _, err := s.Stat(context.Background(), "m/"+f); err != nil {
				t.Errorf("follow=%v: %s not imported: %v", tt.follow, f, err)
			}
		}
		if len(res.Warnings) != len(tt.warnings) {
			t.Errorf("follow=%v: warnings %q, want %d", tt.follow, res.Warnings, len(tt.warnings))
			continue
		}
		for i, w := range tt.warnings {
			if !strings.Contains(res.Warnings[i], filepath.Join(src, w)) && !strings.Contains(res.Warnings[i], w) {
				t.Errorf("follow=%v: warning %d = %q, want it to say %q", tt.follow, i, res.Warnings[i], w)
			}
		}
	}
}
