package planes

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// sortedPlanes is the model of the class-sorted layout (docs/FORMAT.md §8): plane
// k of the words stably sorted by class, and the class counts.
func sortedPlanes(src []byte, width int, ctx []uint8, nctx int) ([]byte, []int) {
	n := len(src) / width
	if ctx == nil || nctx <= 1 {
		ctx, nctx = make([]uint8, n), 1
	}
	counts := make([]int, nctx)
	for _, c := range ctx {
		counts[c]++
	}
	pl := make([]byte, len(src))
	j := 0
	for c := range nctx {
		for i, ci := range ctx {
			if int(ci) != c {
				continue
			}
			for k := range width {
				pl[k*n+j] = src[i*width+k]
			}
			j++
		}
	}
	return pl, counts
}

// TestSortedAPI checks EncodeSorted and DecodeSorted against Encode and
// Decode with the same classes, and their argument checks.
func TestSortedAPI(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kind := range dataKinds {
		for _, width := range []int{1, 2, 4, 8} {
			for _, nctx := range []int{0, 3, 16} {
				n := 1 + r.IntN(3000)
				src := kind.gen(r, n, width)
				var ctx []uint8
				if nctx > 1 {
					ctx = genCtx(r, n, nctx)
				}
				want, err := Encode(nil, src, width, ctx, nctx, 6)
				if err != nil {
					t.Fatal(err)
				}
				pl, counts := sortedPlanes(src, width, ctx, nctx)
				got, err := EncodeSorted(nil, pl, width, counts, 6)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s w%d nctx%d: EncodeSorted differs from Encode (%v)", kind.name, width, nctx, err)
				}
				back := make([]byte, len(pl))
				if err := DecodeSorted(back, want, width, counts); err != nil || !bytes.Equal(back, pl) {
					t.Fatalf("%s w%d nctx%d: DecodeSorted: %v", kind.name, width, nctx, err)
				}
			}
		}
	}
	pl := make([]byte, 40)
	for _, counts := range [][]int{{5, 6}, {-1, 21}, {21, -1}, {10, 9}, make([]int, MaxCtx+1)} {
		if _, err := EncodeSorted(nil, pl, 2, counts, 6); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("EncodeSorted counts %v: %v", counts, err)
		}
		if err := DecodeSorted(pl, []byte{formatVersion, modePlain, defaultSegLog}, 2, counts); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("DecodeSorted counts %v: %v", counts, err)
		}
	}
}
