package main

import (
	"strings"
	"testing"
)

func TestStorePath(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", "", false},
		{"/", "", false},
		{".", "", false},
		{"m1", "m1", false},
		{"/m1/", "m1", false},
		{"m1//layers/./w.npy", "m1/layers/w.npy", false},
		{"./m1", "m1", false},
		{"..", "", true},
		{"../x", "", true},
		{"m1/../../x", "", true},
		{"m1/../m2", "", true},
		{"a\x00b", "", true},
	}
	for _, tt := range tests {
		got, err := storePath(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("storePath(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && exitCodeFor(err) != exitUsage {
			t.Errorf("storePath(%q) error exits %d, want %d", tt.in, exitCodeFor(err), exitUsage)
		}
	}
}

func TestCheckModelName(t *testing.T) {
	for _, ok := range []string{"base", "llama-7b-chat", "m.v2", "x y"} {
		if err := checkModelName("--as", ok); err != nil {
			t.Errorf("checkModelName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "/abs", "a/b", " lead", "trail ", "nul\x00"} {
		if err := checkModelName("--as", bad); err == nil || exitCodeFor(err) != exitUsage {
			t.Errorf("checkModelName(%q) = %v, want a usage error", bad, err)
		}
	}
}

func FuzzStorePath(f *testing.F) {
	for _, s := range []string{"", "/", "m/x.npy", "../x", "a/./b//c/", "a/..b/c", "....//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := storePath(s)
		if err != nil {
			return
		}
		if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || p == "." {
			t.Fatalf("storePath(%q) = %q: not a clean relative path", s, p)
		}
		for _, part := range strings.Split(p, "/") {
			if p != "" && (part == "" || part == "." || part == "..") {
				t.Fatalf("storePath(%q) = %q: component %q", s, p, part)
			}
		}
	})
}

func FuzzPermuteArgs(f *testing.F) {
	f.Add("import s src --as m --base b")
	f.Add("ls -l s m --json")
	f.Add("rm s -- -x -r")
	f.Add("mount s d --cache-size")
	f.Add("--help")
	app := newApp(&cliEnv{})
	f.Fuzz(func(t *testing.T, line string) {
		args := append([]string{"deltafs"}, strings.Fields(line)...)
		out := permuteArgs(app, args)
		// Permuting keeps every argument, adding at most one "--".
		count := func(xs []string) map[string]int {
			m := map[string]int{}
			for _, x := range xs {
				m[x]++
			}
			return m
		}
		in, got := count(args), count(out)
		if extra := got["--"] - in["--"]; extra < 0 || extra > 1 {
			t.Fatalf("permuteArgs(%q) = %q: %d added \"--\"", args, out, extra)
		}
		delete(in, "--")
		delete(got, "--")
		for k, v := range in {
			if got[k] != v {
				t.Fatalf("permuteArgs(%q) = %q: %q appears %d times, want %d", args, out, k, got[k], v)
			}
		}
		if len(got) != len(in) {
			t.Fatalf("permuteArgs(%q) = %q: arguments added", args, out)
		}
	})
}
