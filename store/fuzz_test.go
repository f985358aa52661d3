package store

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"deltafs/npy"
)

// FuzzClassify feeds arbitrary bytes to the staged-file parser: never a
// panic, and a file taken as a tensor is exactly header plus data.
func FuzzClassify(f *testing.F) {
	good := makeNPY(f, "<f4", []int64{2, 3}, make([]byte, 24))
	f.Add(good, "m/a.npy")
	f.Add(good[:len(good)-1], "m/a.npy")
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'descr': '<i8'}"), "x.npy")
	f.Add([]byte(`{"a": 1}`), "config.json")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		pf := classify(name, data, int64(len(data)))
		// What ingest classifies from: the file's head, as sourceFile.head
		// reads it.
		head := data[:min(len(data), peekSize)]
		if off, err := npy.DataOffset(data[:min(len(data), contentPrefixLen)]); err == nil && off <= int64(len(data)) {
			head = data[:max(int64(len(head)), off)]
		}
		if hf := classify(name, head, int64(len(data))); !reflect.DeepEqual(hf, pf) {
			t.Fatalf("classified from the head: %+v, from the whole file: %+v", hf, pf)
		}
		if !pf.tensor {
			return
		}
		if pf.warning != "" {
			t.Errorf("tensor with a warning %q", pf.warning)
		}
		dataLen := len(data) - pf.dataOff
		if len(pf.rawHeader) != pf.dataOff {
			t.Fatalf("header %d bytes, data at %d", len(pf.rawHeader), pf.dataOff)
		}
		size, err := pf.header.DataSize()
		if err != nil || size != int64(dataLen) {
			t.Fatalf("data size %d (%v), have %d", size, err, dataLen)
		}
		if pf.canonical {
			h, err := npy.FormatHeader(pf.header)
			if err != nil || !bytes.Equal(h, pf.rawHeader) {
				t.Fatal("canonical header does not reformat to itself")
			}
		}
	})
}

// FuzzCleanPath checks that no cleaned path can climb out of its parent.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"", "/", "a/b", "../a", "a/../../b", "a//b", "./a", "a/.", "/a/b/", "a\x00b", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := cleanPath(p)
		if err != nil {
			return
		}
		if c == "" {
			return
		}
		for _, part := range strings.Split(c, "/") {
			if part == "" || part == "." || part == ".." || strings.ContainsRune(part, 0) {
				t.Fatalf("cleanPath(%q) = %q keeps component %q", p, c, part)
			}
		}
		if again, err := cleanPath(c); err != nil || again != c {
			t.Fatalf("cleanPath not idempotent: %q -> %q -> %q, %v", p, c, again, err)
		}
	})
}

// FuzzNPZMembers feeds arbitrary zip files to the .npz planner: never a
// panic, and every planned member stays inside the model.
func FuzzNPZMembers(f *testing.F) {
	for _, names := range [][]string{{"a.npy", "b/c.npy"}, {"../x.npy"}, {"/abs.npy"}, {"d/", "d/e.npy"}} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range names {
			w, _ := zw.Create(n)
			w.Write([]byte("x"))
		}
		zw.Close()
		f.Add(buf.Bytes())
	}
	s := &Store{}
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		items, err := s.planNPZ(zr)
		if err != nil {
			return
		}
		for _, it := range items {
			c, err := cleanPath(it.rel)
			if err != nil || c != it.rel || c == "" {
				t.Fatalf("planned member %q escapes or is not clean", it.rel)
			}
		}
	})
}

// FuzzMarker feeds arbitrary marker files to the store-format check.
func FuzzMarker(f *testing.F) {
	for _, s := range []string{"deltafs-store 1\n", "deltafs-store 99\n", "deltafs-store\n", "junk", "deltafs-store -1", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := parseMarker("store", b)
		if err == nil && !bytes.HasPrefix(bytes.TrimSpace(b), []byte(markerName)) {
			t.Fatalf("accepted marker %q", b)
		}
	})
}

// TestIngestArbitraryBytesRoundTrip stores assorted bytes, some dressed as
// .npy files, and reads them back: whatever a user writes comes back byte
// for byte. (A fuzz target of this would spend its time in the
// coverage-instrumented SQLite driver; FuzzClassify covers the parser.)
func TestIngestArbitraryBytesRoundTrip(t *testing.T) {
	s := newStore(t, Options{})
	mustMkdir(t, s, "m")
	good := makeNPY(t, "<f4", []int64{16}, f32bytes(weights(1, 16)))
	for i := range 40 {
		data := randomBytes(uint64(i), i*i*7)
		switch i % 4 {
		case 1:
			data = append([]byte("\x93NUMPY"), data...)
		case 2:
			data = append(bytes.Clone(good[:len(good)-i%len(good)]), data...)
		case 3:
			data = bytes.Clone(good)
			data[8+i%(len(good)-8)] ^= byte(i)
		}
		name := []string{"m/f.npy", "m/f.bin"}[i%2]
		if _, err := tryIngest(s, name, data, IngestOptions{}); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		fl, err := s.Open(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.NewSectionReader(fl, 0, fl.Size()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("case %d: read back %d bytes differ from the %d written", i, len(got), len(data))
		}
	}
}
