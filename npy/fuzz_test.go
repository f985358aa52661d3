package npy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// addGoldenSeeds adds every golden .npy file's header (and a little data)
// to the fuzz corpus.
func addGoldenSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.npy"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 512)])
	}
	for _, dict := range []string{
		"{'shape': (3L,), 'fortran_order': True, 'descr': '=f4'}",
		`{"descr": "<f4", "fortran_order": False, "shape": (0, 9223372036854775807,)}`,
		"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': ((((3,),),),), }",
	} {
		f.Add(rawHeader(1, dict))
		f.Add(rawHeader(3, dict))
	}
}

// FuzzParseHeader: any input yields an error or a header that formats and
// parses back to itself; ParseHeader and ReadHeader always agree.
func FuzzParseHeader(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, off, err := ParseHeader(b)
		rh, raw, rerr := ReadHeader(bytes.NewReader(b))
		if (err == nil) != (rerr == nil) {
			t.Fatalf("ParseHeader error %v but ReadHeader error %v", err, rerr)
		}
		if err != nil {
			return
		}
		if off <= 0 || off > len(b) || !bytes.Equal(raw, b[:off]) || !sameHeader(h, rh) {
			t.Fatalf("ParseHeader %+v at %d, ReadHeader %+v with %d bytes", h, off, rh, len(raw))
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("parsed header %+v does not validate: %v", h, err)
		}
		formatted, err := FormatHeader(h)
		if err != nil {
			t.Fatalf("FormatHeader(%+v): %v", h, err)
		}
		back, boff, err := ParseHeader(formatted)
		if err != nil || boff != len(formatted) || boff%Align != 0 {
			t.Fatalf("re-parsing %q: %+v, %d, %v", formatted, back, boff, err)
		}
		h.Major, h.Minor = 1, 0
		if !sameHeader(back, h) {
			t.Fatalf("round trip changed the header: %+v -> %+v", h, back)
		}
	})
}

// FuzzParseDescr: whatever parses is valid and its canonical descr parses
// back to the same dtype.
func FuzzParseDescr(f *testing.F) {
	for _, s := range []string{"<f4", ">i8", "|b1", "=f2", "f", "float32", "<c16", "|S4", "<f16", "?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDescr(s)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("ParseDescr(%q) = %+v, invalid: %v", s, d, err)
		}
		if back, err := ParseDescr(d.Descr()); err != nil || back != d {
			t.Fatalf("ParseDescr(%q) = %v; its descr parses to %v, %v", s, d, back, err)
		}
	})
}
