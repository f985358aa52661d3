package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"deltafs/store"
)

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newTable returns a tab-aligned writer whose lines carry no trailing
// blanks; call Flush when done (tables end with a newline).
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(&trimWriter{w: w}, 0, 0, 2, ' ', 0)
}

// trimWriter strips trailing spaces from each complete line written.
type trimWriter struct {
	w       io.Writer
	pending []byte
}

func (t *trimWriter) Write(p []byte) (int, error) {
	t.pending = append(t.pending, p...)
	for {
		i := bytes.IndexByte(t.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := bytes.TrimRight(t.pending[:i], " ")
		if _, err := t.w.Write(append(line, '\n')); err != nil {
			return 0, err
		}
		t.pending = t.pending[i+1:]
	}
}

// sizeFormatter prints sizes in bytes or binary units.
type sizeFormatter bool

func (exact sizeFormatter) size(n int64) string {
	if exact {
		return fmt.Sprint(n)
	}
	return formatSize(n)
}

// kindName names an entry's kind: model, dir, tensor or blob.
func kindName(fi store.FileInfo) string {
	switch fi.Kind {
	case store.KindDir:
		if fi.Path != "" && !strings.Contains(fi.Path, "/") {
			return "model"
		}
		return "dir"
	case store.KindTensor:
		return "tensor"
	case store.KindBlob:
		return "blob"
	}
	return fmt.Sprintf("kind(%d)", fi.Kind)
}

// strategyLabel is the strategy with lossy entries marked.
func strategyLabel(fi store.FileInfo) string {
	s := fi.Strategy
	if s == "" {
		s = "-"
	}
	if fi.Lossy {
		s += " (LOSSY)"
	}
	return s
}

// modeString renders permission bits as ls does.
func modeString(fi store.FileInfo) string {
	m := os.FileMode(fi.Mode & 0o7777)
	if fi.IsDir() {
		m |= os.ModeDir
	}
	return m.String()
}

// entryJSON is the JSON form of one entry (ls --json, info --json).
type entryJSON struct {
	Path        string    `json:"path"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Model       string    `json:"model,omitempty"`
	Size        int64     `json:"size"`
	StoredSize  int64     `json:"stored_size"`
	Ratio       float64   `json:"ratio,omitempty"`
	Strategy    string    `json:"strategy,omitempty"`
	Lossy       bool      `json:"lossy"`
	DType       string    `json:"dtype,omitempty"`
	Shape       *[]int64  `json:"shape,omitempty"`
	Base        string    `json:"base,omitempty"` // tensor: reference path; model: base model
	SHA256      string    `json:"sha256,omitempty"`
	Object      string    `json:"object,omitempty"` // id of the object holding the content
	Inode       uint64    `json:"inode"`
	Mode        string    `json:"mode"`
	ModTime     time.Time `json:"mtime"`
	LogicalSum  int64     `json:"logical_bytes,omitempty"`
	StoredSum   int64     `json:"stored_bytes,omitempty"`
	FilesInside int       `json:"files,omitempty"`
}

// toEntryJSON converts fi; usage (may be nil) adds a model's totals.
func toEntryJSON(fi store.FileInfo, usage *store.UsageStats) entryJSON {
	e := entryJSON{
		Path: fi.Path, Name: fi.Name, Kind: kindName(fi), Model: fi.Model,
		Size: fi.Size, StoredSize: fi.StoredSize,
		Strategy: fi.Strategy, Lossy: fi.Lossy, DType: fi.DType,
		Base: fi.Base, SHA256: fi.ContentHash, Object: fi.Object, Inode: fi.Inode,
		Mode: modeString(fi), ModTime: fi.MTime.UTC(),
	}
	if !fi.IsDir() && fi.StoredSize > 0 {
		e.Ratio = float64(fi.Size) / float64(fi.StoredSize)
	}
	if fi.Kind == store.KindTensor {
		shape := fi.Shape
		if shape == nil {
			shape = []int64{}
		}
		e.Shape = &shape
	}
	if usage != nil {
		e.LogicalSum, e.StoredSum, e.FilesInside = usage.LogicalBytes, usage.StoredBytes, usage.Files
		// A model's size is what its files hold, as the table shows.
		e.Size, e.StoredSize = usage.LogicalBytes, usage.StoredBytes
		if usage.StoredBytes > 0 {
			e.Ratio = float64(usage.LogicalBytes) / float64(usage.StoredBytes)
		}
	}
	return e
}

// shapeString renders a shape as numpy does: (3, 4), (5,), ().
func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
