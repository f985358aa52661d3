package planes

import "encoding/binary"

// The plane buffer holds width planes of n bytes each, plane k at
// [k*n, (k+1)*n). Within a plane, bytes are ordered by context class (a
// stable counting sort of the words), so each class's stream is contiguous.
//
// Sorting and unsorting walk the words in four independent lanes (the four
// quarters of the word range), each with its own per-class cursors, so the
// cursor updates of one lane do not wait on another's: with a single cursor
// set, runs of equal classes serialise on store-to-load forwarding.

const lanes = 4

// classLayout is the per-class bookkeeping of one block.
type classLayout struct {
	counts [MaxCtx]int           // words per class
	laneN  int                   // words per lane (the last lane takes the rest)
	cur    [lanes][MaxCtx]uint32 // per-lane cursors
}

// count fills counts (and per-lane counts, kept in cur) from ctx and
// reports the first class >= nctx found, or -1. A nil ctx is one class.
func (l *classLayout) count(ctx []uint8, nctx, n int) int {
	clear(l.counts[:])
	if ctx == nil {
		l.counts[0] = n
		return -1
	}
	l.laneN = n / lanes
	q := l.laneN
	for ln := 0; ln < lanes; ln++ {
		clear(l.cur[ln][:])
	}
	c0, c1, c2, c3 := ctx[:q], ctx[q:2*q], ctx[2*q:3*q], ctx[3*q:4*q]
	h0, h1, h2, h3 := &l.cur[0], &l.cur[1], &l.cur[2], &l.cur[3]
	for i := range c0 {
		h0[c0[i]]++
		h1[c1[i]]++
		h2[c2[i]]++
		h3[c3[i]]++
	}
	for _, c := range ctx[4*q:] {
		h3[c]++
	}
	bad := -1
	for c := range l.counts {
		t := int(h0[c]) + int(h1[c]) + int(h2[c]) + int(h3[c])
		l.counts[c] = t
		if t != 0 && c >= nctx && bad < 0 {
			bad = c
		}
	}
	return bad
}

// cursors turns the per-lane counts left by count into per-lane start
// positions within the class-sorted order.
func (l *classLayout) cursors(nctx int) {
	off := uint32(0)
	for c := 0; c < nctx; c++ {
		for ln := 0; ln < lanes; ln++ {
			k := l.cur[ln][c]
			l.cur[ln][c] = off
			off += k
		}
	}
}

// split writes the planes of src (n words of width bytes) into pl, sorting
// words by class when ctx is non-nil. count must have been called.
func (l *classLayout) split(pl, src []byte, n, width int, ctx []uint8, nctx int) {
	if ctx == nil {
		transposeSplit(pl, src, n, width)
		return
	}
	l.cursors(nctx)
	q := l.laneN
	cur := &l.cur
	// lane positions: lane ln covers words [ln*q, (ln+1)*q), lane 3 also the tail.
	switch width {
	case 2:
		split2ctx(pl[:n], pl[n:2*n], src, ctx, cur, q)
		for w := 4 * q; w < n; w++ {
			c := ctx[w]
			j := cur[3][c]
			cur[3][c] = j + 1
			pl[j] = src[2*w]
			pl[n+int(j)] = src[2*w+1]
		}
		return
	case 4:
		split4ctx(pl[:n], pl[n:2*n], pl[2*n:3*n], pl[3*n:4*n], src, ctx, cur, q)
		for w := 4 * q; w < n; w++ {
			c := ctx[w]
			j := int(cur[3][c])
			cur[3][c]++
			pl[j], pl[n+j], pl[2*n+j], pl[3*n+j] = src[4*w], src[4*w+1], src[4*w+2], src[4*w+3]
		}
		return
	default:
		put := func(ln, w int) {
			c := ctx[w]
			j := int(cur[ln][c])
			cur[ln][c]++
			for k, b := range src[w*width : w*width+width] {
				pl[k*n+j] = b
			}
		}
		for i := 0; i < q; i++ {
			put(0, i)
			put(1, q+i)
			put(2, 2*q+i)
			put(3, 3*q+i)
		}
		for w := 4 * q; w < n; w++ {
			put(3, w)
		}
	}
}

// merge is the inverse of split: it writes n words into dst from pl.
func (l *classLayout) merge(dst, pl []byte, n, width int, ctx []uint8, nctx int) {
	if ctx == nil {
		transposeMerge(dst, pl, n, width)
		return
	}
	l.cursors(nctx)
	q := l.laneN
	cur := &l.cur
	switch width {
	case 2:
		merge2ctx(dst, pl[:n], pl[n:2*n], ctx, cur, q)
		for w := 4 * q; w < n; w++ {
			c := ctx[w]
			j := cur[3][c]
			cur[3][c] = j + 1
			dst[2*w], dst[2*w+1] = pl[j], pl[n+int(j)]
		}
		return
	case 4:
		merge4ctx(dst, pl[:n], pl[n:2*n], pl[2*n:3*n], pl[3*n:4*n], ctx, cur, q)
		for w := 4 * q; w < n; w++ {
			c := ctx[w]
			j := int(cur[3][c])
			cur[3][c]++
			dst[4*w], dst[4*w+1], dst[4*w+2], dst[4*w+3] = pl[j], pl[n+j], pl[2*n+j], pl[3*n+j]
		}
		return
	default:
		get := func(ln, w int) {
			c := ctx[w]
			j := int(cur[ln][c])
			cur[ln][c]++
			out := dst[w*width : w*width+width]
			for k := range out {
				out[k] = pl[k*n+j]
			}
		}
		for i := 0; i < q; i++ {
			get(0, i)
			get(1, q+i)
			get(2, 2*q+i)
			get(3, 3*q+i)
		}
		for w := 4 * q; w < n; w++ {
			get(3, w)
		}
	}
}

// The unrolled lane loops below handle the first 4*q words; callers finish
// the tail in lane 3. Re-slicing every lane to len(c0) lets the compiler drop
// most bounds checks.

func split2ctx(p0, p1, src []byte, ctx []uint8, cur *[lanes][MaxCtx]uint32, q int) {
	c0 := ctx[:q]
	c1 := ctx[q : 2*q][:len(c0)]
	c2 := ctx[2*q : 3*q][:len(c0)]
	c3 := ctx[3*q : 4*q][:len(c0)]
	h0, h1, h2, h3 := &cur[0], &cur[1], &cur[2], &cur[3]
	s0 := src[:2*q]
	s1 := src[2*q : 4*q][:len(s0)]
	s2 := src[4*q : 6*q][:len(s0)]
	s3 := src[6*q : 8*q][:len(s0)]
	for i := range c0 {
		a, b, c, d := c0[i], c1[i], c2[i], c3[i]
		ja, jb, jc, jd := h0[a], h1[b], h2[c], h3[d]
		h0[a], h1[b], h2[c], h3[d] = ja+1, jb+1, jc+1, jd+1
		p0[ja], p1[ja] = s0[2*i], s0[2*i+1]
		p0[jb], p1[jb] = s1[2*i], s1[2*i+1]
		p0[jc], p1[jc] = s2[2*i], s2[2*i+1]
		p0[jd], p1[jd] = s3[2*i], s3[2*i+1]
	}
}

func merge2ctx(dst, p0, p1 []byte, ctx []uint8, cur *[lanes][MaxCtx]uint32, q int) {
	c0 := ctx[:q]
	c1 := ctx[q : 2*q][:len(c0)]
	c2 := ctx[2*q : 3*q][:len(c0)]
	c3 := ctx[3*q : 4*q][:len(c0)]
	h0, h1, h2, h3 := &cur[0], &cur[1], &cur[2], &cur[3]
	d0 := dst[:2*q]
	d1 := dst[2*q : 4*q][:len(d0)]
	d2 := dst[4*q : 6*q][:len(d0)]
	d3 := dst[6*q : 8*q][:len(d0)]
	for i := range c0 {
		a, b, c, d := c0[i], c1[i], c2[i], c3[i]
		ja, jb, jc, jd := h0[a], h1[b], h2[c], h3[d]
		h0[a], h1[b], h2[c], h3[d] = ja+1, jb+1, jc+1, jd+1
		d0[2*i], d0[2*i+1] = p0[ja], p1[ja]
		d1[2*i], d1[2*i+1] = p0[jb], p1[jb]
		d2[2*i], d2[2*i+1] = p0[jc], p1[jc]
		d3[2*i], d3[2*i+1] = p0[jd], p1[jd]
	}
}

func split4ctx(p0, p1, p2, p3, src []byte, ctx []uint8, cur *[lanes][MaxCtx]uint32, q int) {
	c0 := ctx[:q]
	c1 := ctx[q : 2*q][:len(c0)]
	c2 := ctx[2*q : 3*q][:len(c0)]
	c3 := ctx[3*q : 4*q][:len(c0)]
	h0, h1, h2, h3 := &cur[0], &cur[1], &cur[2], &cur[3]
	put := func(s []byte, j uint32) {
		w := binary.LittleEndian.Uint32(s)
		p0[j], p1[j], p2[j], p3[j] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	}
	for i := range c0 {
		a, b, c, d := c0[i], c1[i], c2[i], c3[i]
		ja, jb, jc, jd := h0[a], h1[b], h2[c], h3[d]
		h0[a], h1[b], h2[c], h3[d] = ja+1, jb+1, jc+1, jd+1
		put(src[4*i:], ja)
		put(src[4*(q+i):], jb)
		put(src[4*(2*q+i):], jc)
		put(src[4*(3*q+i):], jd)
	}
}

func merge4ctx(dst, p0, p1, p2, p3 []byte, ctx []uint8, cur *[lanes][MaxCtx]uint32, q int) {
	c0 := ctx[:q]
	c1 := ctx[q : 2*q][:len(c0)]
	c2 := ctx[2*q : 3*q][:len(c0)]
	c3 := ctx[3*q : 4*q][:len(c0)]
	h0, h1, h2, h3 := &cur[0], &cur[1], &cur[2], &cur[3]
	get := func(d []byte, j uint32) {
		binary.LittleEndian.PutUint32(d, uint32(p0[j])|uint32(p1[j])<<8|uint32(p2[j])<<16|uint32(p3[j])<<24)
	}
	for i := range c0 {
		a, b, c, d := c0[i], c1[i], c2[i], c3[i]
		ja, jb, jc, jd := h0[a], h1[b], h2[c], h3[d]
		h0[a], h1[b], h2[c], h3[d] = ja+1, jb+1, jc+1, jd+1
		get(dst[4*i:], ja)
		get(dst[4*(q+i):], jb)
		get(dst[4*(2*q+i):], jc)
		get(dst[4*(3*q+i):], jd)
	}
}
