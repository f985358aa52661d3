package catalog

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"", true},
		{"a", true},
		{"a/b/c.npy", true},
		{"model-1/layers/0/wq.npy", true},
		{"ünï/cödé", true},
		{"a..b/.c/..d", true},
		{"/a", false},
		{"/", false},
		{"a/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"a/../b", false},
		{"../a", false},
		{"a/..", false},
		{"a\x00b", false},
		{strings.Repeat("n", MaxNameLen), true},
		{"a/" + strings.Repeat("n", MaxNameLen+1), false},
		{strings.Repeat("abc/", MaxPathLen/4) + "abcd", false}, // 4096 bytes
		{strings.Repeat("abc/", MaxPathLen/4) + "abc", true},   // 4095 bytes
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ValidatePath(%q) = %v, not ErrInvalidPath", tt.path, err)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	tests := []struct {
		path, parent, name, model string
	}{
		{"", "", "", ""},
		{"a", "", "a", "a"},
		{"a/b", "a", "b", "a"},
		{"a/b/c", "a/b", "c", "a"},
	}
	for _, tt := range tests {
		parent, name := Split(tt.path)
		if parent != tt.parent || name != tt.name {
			t.Errorf("Split(%q) = %q, %q", tt.path, parent, name)
		}
		if tt.path != "" && Join(parent, name) != tt.path {
			t.Errorf("Join(Split(%q)) = %q", tt.path, Join(parent, name))
		}
		if m := ModelOf(tt.path); m != tt.model {
			t.Errorf("ModelOf(%q) = %q", tt.path, m)
		}
	}
	within := []struct {
		p, dir string
		want   bool
	}{
		{"a", "", true}, {"a", "a", true}, {"a/b", "a", true},
		{"ab", "a", false}, {"a-b/c", "a", false}, {"a", "a/b", false},
	}
	for _, tt := range within {
		if got := IsWithin(tt.p, tt.dir); got != tt.want {
			t.Errorf("IsWithin(%q, %q) = %v", tt.p, tt.dir, got)
		}
	}
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"", "a", "a/b", "/a", "a//b", "..", "a/./b", "a\x00", "ü/ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidatePath(p)
		if err != nil {
			return
		}
		if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") || strings.ContainsRune(p, 0) {
			t.Fatalf("accepted %q", p)
		}
		for c := range strings.SplitSeq(p, "/") {
			if p != "" && (c == "." || c == "..") {
				t.Fatalf("accepted %q", p)
			}
		}
		parent, name := Split(p)
		if p != "" && Join(parent, name) != p {
			t.Fatalf("Join(Split(%q)) = %q", p, Join(parent, name))
		}
		if ValidatePath(parent) != nil {
			t.Fatalf("parent %q of valid %q is invalid", parent, p)
		}
	})
}
