package planes

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// refSplit is the byte-by-byte definition of transposeSplit.
func refSplit(pl, src []byte, n, width int) {
	for i := 0; i < n; i++ {
		for k := 0; k < width; k++ {
			pl[k*n+i] = src[i*width+k]
		}
	}
}

// guarded returns a slice of length n at offset off into a buffer whose
// other bytes hold a pattern, and a check that the pattern is intact.
func guarded(t *testing.T, n, off int) ([]byte, func(what string)) {
	buf := make([]byte, off+n+64)
	for i := range buf {
		buf[i] = byte(i*7 + 3)
	}
	s := buf[off : off+n]
	return s, func(what string) {
		t.Helper()
		for i, b := range buf {
			if (i < off || i >= off+n) && b != byte(i*7+3) {
				t.Fatalf("%s wrote byte %d outside its slice (offset %d, len %d)", what, i-off, off, n)
			}
		}
	}
}

// transposeModes are the kernels available here: the pure-Go loops always,
// and the assembly where the CPU has it.
func transposeModes() []bool {
	if useAVX2 {
		return []bool{false, true}
	}
	return []bool{false}
}

func testTranspose(t *testing.T, r *rand.Rand, n, width, off int, fast bool) {
	t.Helper()
	defer func(v bool) { useAVX2 = v }(useAVX2)
	useAVX2 = fast
	src, checkSrc := guarded(t, n*width, off)
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	want := make([]byte, n*width)
	refSplit(want, src, n, width)

	pl, checkPl := guarded(t, n*width, (off+3)%8)
	transposeSplit(pl, src, n, width)
	checkPl("split")
	if !bytes.Equal(pl, want) {
		t.Fatalf("split n=%d width=%d off=%d fast=%v: wrong planes", n, width, off, fast)
	}
	dst, checkDst := guarded(t, n*width, (off+5)%8)
	transposeMerge(dst, pl, n, width)
	checkDst("merge")
	checkSrc("split")
	if !bytes.Equal(dst, src) {
		t.Fatalf("merge n=%d width=%d off=%d fast=%v: not the words split", n, width, off, fast)
	}
}

// TestTransposeKernels checks split and merge of 16- and 32-bit words
// against the byte-by-byte definition, with the assembly and with the
// pure-Go loops, on every length up to 300 and some large ones, at every
// offset 0…7 into a buffer, and that nothing outside the slices is written.
func TestTransposeKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sizes := []int{1000, 4096, 4099, 65536 + 17}
	for n := 0; n <= 300; n++ {
		sizes = append(sizes, n)
	}
	for _, fast := range transposeModes() {
		for _, width := range []int{2, 4} {
			for _, n := range sizes {
				for off := 0; off < 8; off++ {
					testTranspose(t, r, n, width, off, fast)
				}
			}
		}
	}
}

// TestTransposeShortArgs checks that the kernels leave arguments shorter
// than their words to the pure-Go loops, which panic as a slice index
// out of range (the slices have no spare capacity, which the loops of
// width 4 would otherwise re-slice into).
func TestTransposeShortArgs(t *testing.T) {
	const n = 64
	for _, tc := range []struct {
		name string
		f    func(long, short []byte)
	}{
		{"merge2/dst", func(l, s []byte) { merge2(s[:2*n-1:2*n-1], l[:n], l[n:2*n]) }},
		{"merge2/p1", func(l, s []byte) { merge2(s[:2*n], l[:n], l[n:2*n-1:2*n-1]) }},
		{"split2/src", func(l, s []byte) { split2(s[:n], s[n:2*n], l[:2*n-1:2*n-1]) }},
		{"split2/p1", func(l, s []byte) { split2(s[:n], s[n:2*n-1:2*n-1], l[:2*n]) }},
		{"merge4/dst", func(l, s []byte) { merge4(s[:4*n-1:4*n-1], l[:4*n], n) }},
		{"merge4/pl", func(l, s []byte) { merge4(s[:4*n], l[:4*n-1:4*n-1], n) }},
		{"split4/src", func(l, s []byte) { split4(s[:4*n], l[:4*n-1:4*n-1], n) }},
		{"split4/pl", func(l, s []byte) { split4(s[:4*n-1:4*n-1], l[:4*n], n) }},
	} {
		for _, fast := range transposeModes() {
			t.Run(tc.name, func(t *testing.T) {
				defer func(v bool) { useAVX2 = v }(useAVX2)
				useAVX2 = fast
				defer func() {
					if recover() == nil {
						t.Errorf("fast=%v: no panic on a short argument", fast)
					}
				}()
				tc.f(make([]byte, 4*n), make([]byte, 4*n))
			})
		}
	}
}

// FuzzTranspose compares split and merge with the assembly, the pure-Go
// loops and the byte-by-byte definition.
func FuzzTranspose(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, size := range []int{0, 7, 64, 130, 255, 1029} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		f.Add(data, uint8(2), uint8(size%8))
		f.Add(data, uint8(4), uint8(size%5))
	}
	f.Fuzz(func(t *testing.T, data []byte, width, off uint8) {
		w := 2 + 2*int(width%2)
		n := len(data) / w
		src := make([]byte, n*w+int(off%8))[off%8:]
		copy(src, data)
		want := make([]byte, n*w)
		refSplit(want, src, n, w)
		for _, fast := range transposeModes() {
			func() {
				defer func(v bool) { useAVX2 = v }(useAVX2)
				useAVX2 = fast
				pl := make([]byte, n*w+1)[1:]
				transposeSplit(pl, src, n, w)
				if !bytes.Equal(pl, want) {
					t.Fatalf("split n=%d width=%d fast=%v: wrong planes", n, w, fast)
				}
				dst := make([]byte, n*w+3)[3:]
				transposeMerge(dst, pl, n, w)
				if !bytes.Equal(dst, src) {
					t.Fatalf("merge n=%d width=%d fast=%v: not the words split", n, w, fast)
				}
			}()
		}
	})
}
