package fusefs

import (
	"fmt"
	"os"
	"slices"
	"testing"
)

// TestStagingWriteOut: a write-back staging file starts the disk write of
// each stagingWriteOut-aligned stretch its writes complete, once; a
// truncate below what was written out starts it again from there; a
// staging file committed at close never starts one.
func TestStagingWriteOut(t *testing.T) {
	const c = stagingWriteOut
	type op struct {
		off, n   int64
		truncate bool // truncate to off
	}
	seq := func(from, to, step int64) []op {
		var ops []op
		for off := from; off < to; off += step {
			ops = append(ops, op{off: off, n: min(step, to-off)})
		}
		return ops
	}
	tests := []struct {
		name      string
		writeBack bool
		ops       []op
		want      [][2]int64 // ranges started, as {off, n}
	}{
		{"sequential 1 MiB writes", true, seq(0, 2*c+c/2, 1<<20), [][2]int64{{0, c}, {c, c}}},
		{"one write across several", true, []op{{off: 0, n: 3*c + 5}}, [][2]int64{{0, 3 * c}}},
		{"short file", true, seq(0, c-1, 4096), nil},
		{"rewrite below does not start it again", true, append(seq(0, c, 1<<20), op{off: 0, n: c}), [][2]int64{{0, c}}},
		{"truncate, then written again", true, append(append(seq(0, 2*c, 1<<20), op{off: c / 2, truncate: true}), seq(c/2, 2*c, 1<<20)...),
			[][2]int64{{0, c}, {c, c}, {c / 2, c / 2}, {c, c}}},
		{"committed at close: never", false, seq(0, 2*c, 1<<20), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tempStagingFile(t, tt.writeBack)
			defer st.discard()
			if tt.writeBack != (st.hash == nil) {
				t.Errorf("hashed as written: %v, want %v", st.hash != nil, !tt.writeBack)
			}
			var got [][2]int64
			if st.writeOut != nil {
				real := st.writeOut
				st.writeOut = func(off, n int64) error {
					got = append(got, [2]int64{off, n})
					return real(off, n)
				}
			}
			for _, o := range tt.ops {
				if o.truncate {
					if err := st.truncate(o.off); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if _, err := st.writeAt(make([]byte, o.n), o.off); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("write-out started for %v, want %v", fmtRanges(got), fmtRanges(tt.want))
			}
		})
	}
}

func fmtRanges(r [][2]int64) string {
	s := ""
	for _, x := range r {
		s += fmt.Sprintf("[%d+%d)", x[0], x[1])
	}
	return s
}

// tempStagingFile is a staging file in a temporary directory.
func tempStagingFile(t *testing.T, writeBack bool) *stagingFile {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stage-*")
	if err != nil {
		t.Fatal(err)
	}
	return newStagingFile(f, writeBack)
}
