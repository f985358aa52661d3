package npy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// goldenDir holds the .npy files written by real numpy and their manifest.
// Regenerate them with a python3 that has numpy:
//
//	python3 testdata/npy/make_golden.py
const goldenDir = "../testdata/npy"

// goldenEntry is one file of manifest.json: what numpy reads from it.
type goldenEntry struct {
	File       string  `json:"file"`
	Expect     string  `json:"expect"` // "ok" or "unsupported"
	Version    [2]byte `json:"version"`
	Descr      string  `json:"descr"`
	Kind       string  `json:"kind"`
	Size       int     `json:"size"`
	Order      string  `json:"order"`
	Shape      []int64 `json:"shape"`
	Fortran    bool    `json:"fortran"`
	DataOffset int     `json:"data_offset"`
	FileSize   int64   `json:"file_size"`
}

func loadGolden(t testing.TB) []goldenEntry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir, "manifest.json"))
	if err != nil {
		t.Fatalf("reading golden manifest: %v", err)
	}
	var m struct {
		Files []goldenEntry `json:"files"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decoding golden manifest: %v", err)
	}
	if len(m.Files) < 100 {
		t.Fatalf("golden manifest lists only %d files", len(m.Files))
	}
	return m.Files
}

func TestGoldenFiles(t *testing.T) {
	for _, g := range loadGolden(t) {
		t.Run(g.File, func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(goldenDir, g.File))
			if err != nil {
				t.Fatal(err)
			}
			h, off, err := ParseHeader(file)
			if g.Expect == "unsupported" {
				if !errors.Is(err, ErrUnsupportedDType) {
					t.Fatalf("ParseHeader error = %v, want ErrUnsupportedDType", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			want := DType{Kind: g.Kind[0], Size: g.Size, Order: g.Order[0]}
			if h.DType != want || h.DType.Descr() != g.Descr {
				t.Errorf("dtype = %v, numpy read %s", h.DType, g.Descr)
			}
			if !slices.Equal(h.Shape, g.Shape) || len(h.Shape) != len(g.Shape) {
				t.Errorf("shape = %v, numpy read %v", h.Shape, g.Shape)
			}
			if h.Fortran != g.Fortran {
				t.Errorf("fortran = %v, numpy read %v", h.Fortran, g.Fortran)
			}
			if [2]byte{h.Major, h.Minor} != g.Version {
				t.Errorf("version = %d.%d, numpy read %v", h.Major, h.Minor, g.Version)
			}
			if off != g.DataOffset || off%Align != 0 {
				t.Errorf("data offset = %d, numpy read %d", off, g.DataOffset)
			}
			size, err := h.DataSize()
			if err != nil || int64(off)+size != g.FileSize {
				t.Errorf("DataSize = %d, %v; file holds %d data bytes", size, err, g.FileSize-int64(off))
			}

			// Our formatter writes numpy's bytes exactly, in every version.
			got, err := FormatHeaderVersion(h, h.Major, h.Minor)
			if err != nil || !bytes.Equal(got, file[:off]) {
				t.Errorf("FormatHeaderVersion(%d.%d) =\n%q, %v\nnumpy wrote\n%q", h.Major, h.Minor, got, err, file[:off])
			}
			if g.Version == [2]byte{1, 0} {
				if got, err := FormatHeader(h); err != nil || !bytes.Equal(got, file[:off]) {
					t.Errorf("FormatHeader =\n%q, %v\nnumpy wrote\n%q", got, err, file[:off])
				}
			}

			// ReadHeader reads exactly the header and sees the same.
			r := bytes.NewReader(file)
			rh, raw, err := ReadHeader(r)
			if err != nil {
				t.Fatalf("ReadHeader: %v", err)
			}
			if !bytes.Equal(raw, file[:off]) || r.Len() != len(file)-off || !sameHeader(rh, h) {
				t.Errorf("ReadHeader = %+v with %d raw bytes, %d left; want %+v, %d, %d", rh, len(raw), r.Len(), h, off, len(file)-off)
			}
		})
	}
}

// sameHeader compares headers, a nil and an empty shape being equal.
func sameHeader(a, b Header) bool {
	return a.Major == b.Major && a.Minor == b.Minor && a.DType == b.DType &&
		a.Fortran == b.Fortran && slices.Equal(a.Shape, b.Shape)
}
