package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// compactOverhead is the most a compact object without a reference adds to
// its data section for a lossless strategy: the 9-byte head, the shape's
// varints and the 4-byte object CRC (docs/FORMAT.md §2a). The 4-byte data
// CRC of a coded payload does not count: a coded payload is kept only when
// it beats the data section by more than those 4 bytes.
func compactOverhead(shape []int64) int {
	n := compactHeadSize + headerCRCSize
	for _, d := range shape {
		n += len(binary.AppendUvarint(nil, uint64(d)))
	}
	return n
}

// smallTensorBound is the K of issue 11: an object of a tensor of up to
// 4096 bytes with at most two dimensions below 128 (or one below 16384) is
// never more than K bytes larger than its data section (13 fixed bytes and
// at most 3 of shape).
const smallTensorBound = 16

// TestSmallTensorsCostRawPlusK encodes every tensor size from 0 to 4096
// bytes of every dtype, random (incompressible) and weight-like, alone and
// against a reference, with the lossless strategies the store uses, and
// checks that each object decodes and costs at most its raw bytes plus
// compactOverhead (≤ smallTensorBound), plus the two 32-byte hashes when it
// has a reference.
func TestSmallTensorsCostRawPlusK(t *testing.T) {
	step := 1
	if testing.Short() {
		step = 7
	}
	for _, dc := range dtypeCases {
		for _, s := range []Strategy{Auto, Float32Raw, Compressed} {
			t.Run(dc.name+"/"+string(s), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.Strategy, cfg.Concurrency = s, 1
				rng := rand.New(rand.NewPCG(uint64(dc.dt.Size), 9))
				for n := 0; n*dc.dt.Size <= 4096; n += step {
					shape := []int64{int64(n)}
					if n%4 == 0 && n > 0 && n/4 < 128 {
						shape = []int64{int64(n / 4), 4}
					}
					td, rd := genPair(dc, n, uint64(n))
					noise := make([]byte, len(td))
					for i := range noise {
						noise[i] = byte(rng.Uint32())
					}
					for _, data := range [][]byte{td, noise} {
						k := compactOverhead(shape)
						if k > smallTensorBound {
							t.Fatalf("shape %v: overhead %d above the bound %d", shape, k, smallTensorBound)
						}
						raw := len(data)
						tt := Tensor{DType: dc.dt, Shape: shape, Data: data}
						obj := encodeT(t, tt, nil, cfg)
						if len(obj) > raw+k {
							t.Fatalf("%d bytes %v alone: object of %d bytes, bound %d", raw, shape, len(obj), raw+k)
						}
						checkDecodes(t, obj, nil, data)
						ref := &Tensor{DType: dc.dt, Shape: shape, Data: rd}
						obj = encodeT(t, tt, ref, cfg)
						if len(obj) > raw+k+2*hashSize {
							t.Fatalf("%d bytes %v with a reference: object of %d bytes, bound %d", raw, shape, len(obj), raw+k+2*hashSize)
						}
						checkDecodes(t, obj, rd, data)
					}
				}
			})
		}
	}
}

// checkDecodes opens obj, checks that it is compact (version 2), and that
// it decodes to want, whole and as its one chunk, with the content hash of
// want.
func checkDecodes(t *testing.T, obj, ref, want []byte) {
	t.Helper()
	o := openT(t, obj)
	h := o.Header()
	if h.FormatVersion != compactVersion {
		t.Fatalf("%d raw bytes written as version %d", len(want), h.FormatVersion)
	}
	if h.ContentHash != sha256.Sum256(want) {
		t.Fatalf("content hash %x, data hashes to %x", h.ContentHash, sha256.Sum256(want))
	}
	got, err := o.DecodeAll(ref)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("DecodeAll: %v", err)
	}
	checkChunks(t, o, ref, want)
}

// TestCompactIsChosenOnlyForSmallOneChunkTensors pins which layout a tensor
// gets: compact for one chunk of at most 64 KiB, chunked (version 1,
// unchanged) otherwise.
func TestCompactIsChosenOnlyForSmallOneChunkTensors(t *testing.T) {
	dc := dtypeCases[2]
	for _, tc := range []struct {
		n, chunk int
		version  uint16
	}{
		{0, DefaultChunkSize, compactVersion},
		{2, DefaultChunkSize, compactVersion},
		{compactMaxRaw / 4, DefaultChunkSize, compactVersion},
		{compactMaxRaw/4 + 1, DefaultChunkSize, formatVersion},
		{100, 200, formatVersion},
		{50, 200, compactVersion},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.n, tc.chunk), func(t *testing.T) {
			td, rd := genPair(dc, tc.n, 1)
			cfg := DefaultConfig()
			cfg.ChunkSize = tc.chunk
			shape := []int64{int64(tc.n)}
			obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, cfg)
			if v := openT(t, obj).Header().FormatVersion; v != tc.version {
				t.Fatalf("version %d, want %d", v, tc.version)
			}
		})
	}
}

// compactObjects returns compact objects of every form: verbatim and coded,
// alone and against a reference, every strategy and every auto method but
// ordered difference, with their references and the data they decode to.
func compactObjects(t testing.TB) (names []string, objs, refs, wants [][]byte) {
	add := func(dc dtypeCase, shape []int64, s Strategy, withRef, noisy bool) {
		n := elems(shape)
		td, rd := genPair(dc, n, uint64(n)+5)
		if s == PerAxisScaled {
			sanitizeF32(td)
			sanitizeF32(rd)
		}
		if noisy {
			for i := range td {
				td[i] = byte(i*73 + i*i*31)
			}
		}
		cfg := DefaultConfig()
		cfg.Strategy, cfg.AllowLossy, cfg.QuantBlock = s, true, 16
		tt := Tensor{DType: dc.dt, Shape: shape, Data: td}
		var ref *Tensor
		if withRef {
			ref = &Tensor{DType: dc.dt, Shape: shape, Data: rd}
		}
		obj, err := Encode(tt, ref, cfg)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want, err := Decode(obj, rdIf(withRef, rd), cfg)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		names = append(names, fmt.Sprintf("%s/%s/ref=%v/%d", s, dc.name, withRef, len(objs)))
		objs = append(objs, obj)
		refs = append(refs, rdIf(withRef, rd))
		wants = append(wants, want)
	}
	for _, s := range Strategies() {
		for _, withRef := range []bool{false, true} {
			for _, noisy := range []bool{false, true} {
				add(dtypeCases[2], []int64{4, 10}, s, withRef, noisy && s != PerAxisScaled)
			}
		}
	}
	add(dtypeCases[1], []int64{224}, Auto, true, false)  // zigzag
	add(dtypeCases[1], []int64{32}, Auto, true, false)   // stored bf16 halves
	add(dtypeCases[0], []int64{224}, Auto, false, false) // alone
	add(dtypeCases[5], []int64{}, Auto, false, false)    // 0-d
	add(dtypeCases[6], []int64{3, 0}, Auto, true, false) // empty
	return names, objs, refs, wants
}

func TestCompactEveryBitFlipIsCaught(t *testing.T) {
	names, objs, refs, wants := compactObjects(t)
	methods := map[uint8]bool{}
	for k, obj := range objs {
		o := openT(t, obj)
		if o.Header().FormatVersion != compactVersion {
			t.Fatalf("%s: not compact", names[k])
		}
		methods[uint8(cmpForm.get(obj))&formMethodMask] = true
		t.Run(names[k], func(t *testing.T) {
			bad := bytes.Clone(obj)
			for bit := 0; bit < 8*len(obj); bit++ {
				bad[bit/8] ^= 1 << (bit % 8)
				got, err := Decode(bad, refs[k], Config{})
				if err == nil {
					t.Fatalf("flip of bit %d went undetected (right bytes: %v)", bit, bytes.Equal(got, wants[k]))
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
					t.Fatalf("flip of bit %d: %v", bit, err)
				}
				bad[bit/8] ^= 1 << (bit % 8)
			}
		})
	}
	if !methods[methodVerbatim] || !methods[autoZigzag] || !methods[autoAlone] || !methods[autoStored] || !methods[autoXOR] {
		t.Fatalf("the objects cover methods %v only", methods)
	}
}

func TestCompactTruncationIsCaught(t *testing.T) {
	names, objs, refs, _ := compactObjects(t)
	for k, obj := range objs {
		t.Run(names[k], func(t *testing.T) {
			for n := 0; n < len(obj); n++ {
				if _, err := Decode(obj[:n], refs[k], Config{}); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated to %d of %d bytes: %v", n, len(obj), err)
				}
			}
			if _, err := Decode(append(bytes.Clone(obj), 0), refs[k], Config{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

// TestCompactWrongReference: a coded payload against another reference is
// refused (its data CRC), never served.
func TestCompactWrongReference(t *testing.T) {
	dc := dtypeCases[1]
	shape := []int64{1024}
	td, rd := genPair(dc, 1024, 3)
	obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, DefaultConfig())
	o := openT(t, obj)
	if !o.ChunkUsesReference(0) {
		t.Fatal("the object does not use its reference")
	}
	other := bytes.Clone(rd)
	other[11] ^= 0x01 // the exponent of element 2 (its upper, bf16, half)
	if err := o.DecodeChunk(0, other, make([]byte, len(td))); !errors.Is(err, ErrReferenceMismatch) {
		t.Fatalf("wrong reference: %v", err)
	}
	if _, err := o.DecodeAll(other); !errors.Is(err, ErrReferenceMismatch) {
		t.Fatalf("wrong reference, whole: %v", err)
	}
}

// FuzzCompact feeds the compact decoder bodies whose object CRC is made to
// match, so that mutations reach the parser and the payload decoders
// instead of stopping at the checksum.
func FuzzCompact(f *testing.F) {
	_, objs, _, _ := compactObjects(f)
	paths, _ := filepath.Glob(filepath.Join(goldenDir, "compact_*.dlto"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			objs = append(objs, b)
		}
	}
	for _, o := range objs {
		f.Add(o[:len(o)-headerCRCSize])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32c(body))
		o, err := Open(bytes.NewReader(obj), int64(len(obj)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Open: %v is neither corrupt nor unsupported", err)
			}
			return
		}
		h := o.Header()
		if h.RawSize > compactMaxRaw && h.FormatVersion == compactVersion {
			t.Fatalf("compact object of %d raw bytes", h.RawSize)
		}
		if h.RawSize > fuzzRawLimit {
			return
		}
		ref := fuzzRef(h)
		got, err := o.DecodeAll(ref)
		if err == nil && int64(len(got)) != h.RawSize {
			t.Fatalf("decoded %d bytes of %d", len(got), h.RawSize)
		}
		if err == nil && sha256.Sum256(got) != h.ContentHash {
			t.Fatal("decoded bytes differ from the content hash")
		}
	})
}
