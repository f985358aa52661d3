package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// npyV2 rewrites a version 1.0 .npy file as version 2.0 (4-byte header
// length), the same header text and data.
func npyV2(t *testing.T, v1 []byte) []byte {
	t.Helper()
	hlen := int(binary.LittleEndian.Uint16(v1[8:10]))
	out := append([]byte(nil), v1[:6]...)
	out = append(out, 2, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
	out = append(out, v1[10:10+hlen]...)
	return append(out, v1[10+hlen:]...)
}

// contentCases are files and the bytes Ingest hashes of each (from off).
func contentCases(t *testing.T) []struct {
	name string
	file []byte
	off  int64
} {
	tensor := makeNPY(t, "<f4", []int64{3000}, f32bytes(weights(7, 3000)))
	v1off := int64(10 + binary.LittleEndian.Uint16(tensor[8:10]))
	v2 := npyV2(t, tensor)
	return []struct {
		name string
		file []byte
		off  int64
	}{
		{"npy v1", tensor, v1off},
		{"npy v2", v2, v1off + 2},
		{"blob", randomBytes(8, 10000), 0},
		{"empty", nil, 0},
		{"shorter than the prefix", []byte("\x93NUMPY\x01"), 0},
		{"npy magic, unknown version", append([]byte("\x93NUMPY\x09\x00\x10\x00"), randomBytes(9, 100)...), 0},
		{"header longer than the file", append([]byte("\x93NUMPY\x01\x00\xff\x7f"), randomBytes(10, 100)...), 10 + 0x7fff},
		{"empty npy data", makeNPY(t, "<f4", []int64{0}, nil), v1off},
	}
}

// The hasher hashes what Ingest hashes, however the file is cut into
// writes.
func TestContentHasher(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range contentCases(t) {
		for split := range 20 {
			var h ContentHasher
			for rest := c.file; len(rest) > 0; {
				n := len(rest)
				switch {
				case split == 1:
					n = 1
				case split > 1:
					n = min(n, 1+rng.IntN(40))
				}
				if k, err := h.Write(rest[:n]); k != n || err != nil {
					t.Fatalf("%s: Write = %d, %v", c.name, k, err)
				}
				rest = rest[n:]
			}
			got := h.Sum()
			want := ContentSum{Offset: c.off, Size: int64(len(c.file))}
			if c.off <= int64(len(c.file)) {
				want.Sum = sha256.Sum256(c.file[c.off:])
			} else {
				want.Sum = sha256.Sum256(nil)
			}
			if got != want {
				t.Fatalf("%s, split %d: Sum = %+v, want %+v", c.name, split, got, want)
			}
		}
	}
}

// A hash given with Ingest is used only when it covers the bytes Ingest
// would hash; otherwise the store hashes the content itself.
func TestIngestGivenContentHash(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	tensor := makeNPY(t, "<f4", []int64{3000}, f32bytes(weights(11, 3000)))
	off := int64(10 + binary.LittleEndian.Uint16(tensor[8:10]))
	right := sha256.Sum256(tensor[off:])
	blob := []byte("some opaque bytes")
	bogus := sha256.Sum256([]byte("not the content"))
	for _, c := range []struct {
		name  string
		data  []byte
		given ContentSum
		want  [32]byte // the content hash recorded
	}{
		{"right", tensor, ContentSum{Offset: off, Size: int64(len(tensor)), Sum: right}, right},
		// The caller vouches for a hash that covers the right bytes.
		{"covering, trusted", tensor, ContentSum{Offset: off, Size: int64(len(tensor)), Sum: bogus}, bogus},
		{"other offset", tensor, ContentSum{Offset: 0, Size: int64(len(tensor)), Sum: bogus}, right},
		{"other size", tensor, ContentSum{Offset: off, Size: int64(len(tensor)) - 4, Sum: bogus}, right},
		{"blob at an npy offset", blob, ContentSum{Offset: 10, Size: int64(len(blob)), Sum: bogus}, sha256.Sum256(blob)},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "m/" + strings.ReplaceAll(c.name, " ", "_") + ".npy"
			given := c.given
			if _, err := tryIngest(s, path, c.data, IngestOptions{Content: &given}); err != nil {
				t.Fatal(err)
			}
			e, err := s.catalog.Get(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if e.ContentHash != hex.EncodeToString(c.want[:]) {
				t.Errorf("content hash %.16s, want %x", e.ContentHash, c.want[:8])
			}
		})
	}
}
