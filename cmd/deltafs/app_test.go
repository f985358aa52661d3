package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeNPY writes a float32 vector of n elements as a canonical .npy file.
func writeNPY(t *testing.T, path string, n int) {
	t.Helper()
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }", n)
	pad := 64 - (10+len(dict)+1)%64
	header := dict + strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	for i := range n {
		_ = binary.Write(&b, binary.LittleEndian, math.Float32bits(float32(math.Sin(float64(i)))))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCLI runs deltafs in-process and returns its exit code and output.
func runCLI(ctx context.Context, tty bool, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr, stdoutTTY: tty}
	code := run(ctx, append([]string{"deltafs"}, args...), env)
	return code, stdout.String(), stderr.String()
}

func TestProgressBarOnlyOnTerminal(t *testing.T) {
	dir := t.TempDir()
	src, st := filepath.Join(dir, "src"), filepath.Join(dir, "s")
	writeNPY(t, filepath.Join(src, "a.npy"), 1<<18)
	writeNPY(t, filepath.Join(src, "sub", "b.npy"), 1<<16)
	ctx := context.Background()
	if code, _, errOut := runCLI(ctx, false, "init", st); code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}

	tests := []struct {
		name    string
		tty     bool
		args    []string
		wantBar bool
	}{
		{"terminal", true, []string{"import", st, src, "--as", "m1"}, true},
		{"pipe", false, []string{"import", st, src, "--as", "m2"}, false},
		{"terminal json", true, []string{"import", st, src, "--as", "m3", "--json"}, false},
		{"terminal no-progress", true, []string{"import", st, src, "--as", "m4", "--no-progress"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(ctx, tt.tty, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := strings.Contains(out, "importing m"); got != tt.wantBar {
				t.Errorf("progress bar drawn = %v, want %v; stdout %q", got, tt.wantBar, out)
			}
			if strings.Contains(tt.args[len(tt.args)-1], "json") {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("--json output is not JSON: %v: %q", err, out)
				}
			} else if !tt.wantBar && !strings.HasPrefix(out, "imported m") {
				t.Errorf("stdout = %q, want only the summary", out)
			}
		})
	}
}

func TestInterruptedExitCode(t *testing.T) {
	dir := t.TempDir()
	src, st := filepath.Join(dir, "src"), filepath.Join(dir, "s")
	writeNPY(t, filepath.Join(src, "a.npy"), 1<<16)
	if code, _, errOut := runCLI(context.Background(), false, "init", st); code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, errOut := runCLI(ctx, false, "import", st, src, "--as", "m")
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitInterrupted, errOut)
	}
	if !strings.HasPrefix(errOut, "deltafs import: ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q, want one line", errOut)
	}
	// Nothing of the interrupted model is left.
	if code, out, _ := runCLI(context.Background(), false, "ls", st); code != 0 || out != "" {
		t.Errorf("after an interrupted import: ls = %d %q, want an empty store", code, out)
	}
}
