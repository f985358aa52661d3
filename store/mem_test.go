package store

import (
	"bytes"
	"testing"
)

// TestPrefaultKeepsContents: prefault leaves every byte as it was, for
// slices of any alignment and length, and a new buffer is all zeros.
func TestPrefaultKeepsContents(t *testing.T) {
	backing := randomBytes(71, 3<<20)
	tests := []struct {
		name   string
		off, n int
	}{
		{"empty", 0, 0},
		{"one byte", 5, 1},
		{"less than a page, unaligned", 100, 3000},
		{"two pages, unaligned", 4000, 8192},
		{"a chunk", 0, 1 << 20},
		{"a chunk, unaligned", 17, 1 << 20},
		{"up to the end", 1 << 20, 2 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := backing[tt.off : tt.off+tt.n]
			want := bytes.Clone(backing)
			prefault(b)
			if !bytes.Equal(backing, want) {
				t.Fatal("prefault changed the contents")
			}
		})
	}
	var p chunkBufs
	b := p.get(1 << 20)
	if !bytes.Equal(b, make([]byte, 1<<20)) {
		t.Fatal("a new buffer is not all zeros")
	}
}
