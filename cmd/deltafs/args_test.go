package main

import (
	"reflect"
	"testing"
)

func TestPermuteArgs(t *testing.T) {
	app := newApp(&cliEnv{})
	tests := []struct {
		in, want []string
	}{
		{
			[]string{"deltafs", "import", "s", "src", "--as", "m", "--base", "b"},
			[]string{"deltafs", "import", "--as", "m", "--base", "b", "--", "s", "src"},
		},
		{
			[]string{"deltafs", "import", "s", "src", "--as=m", "--allow-lossy", "--strategy", "sparse"},
			[]string{"deltafs", "import", "--as=m", "--allow-lossy", "--strategy", "sparse", "--", "s", "src"},
		},
		{
			[]string{"deltafs", "ls", "-l", "s", "m1", "--json"},
			[]string{"deltafs", "ls", "-l", "--json", "--", "s", "m1"},
		},
		{
			[]string{"deltafs", "rm", "s", "--", "-weird", "-r"},
			[]string{"deltafs", "rm", "--", "s", "-weird", "-r"},
		},
		{
			[]string{"deltafs", "--help"},
			[]string{"deltafs", "--help"},
		},
		{
			[]string{"deltafs", "nosuchcommand", "x", "--y"},
			[]string{"deltafs", "nosuchcommand", "x", "--y"},
		},
		{
			[]string{"deltafs", "stats", "s"},
			[]string{"deltafs", "stats", "--", "s"},
		},
		{
			[]string{"deltafs", "mount", "s", "d", "--cache-size", "1GiB", "--debug"},
			[]string{"deltafs", "mount", "--cache-size", "1GiB", "--debug", "--", "s", "d"},
		},
	}
	for _, tt := range tests {
		if got := permuteArgs(app, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("permuteArgs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
