package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// file builds a safetensors file from a header JSON and dataLen bytes of
// data (a counting pattern).
func file(js string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	b = append(b, js...)
	for i := range dataLen {
		b = append(b, byte(i))
	}
	return b
}

// withLength builds a file whose length prefix is n, followed by rest.
func withLength(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func TestParseHeader(t *testing.T) {
	const one = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name    string
		in      []byte
		want    error // nil: valid
		tensors int
	}{
		{"empty header", file(`{}`, 0), nil, 0},
		{"one tensor", file(one, 8), nil, 1},
		{"padded with spaces", file(one+"     ", 8), nil, 1},
		{"padded with JSON whitespace", file(one+" \n\t\r", 8), nil, 1},
		{"metadata", file(`{"__metadata__":{"format":"pt","k":""},"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}`, 3), nil, 1},
		{"empty metadata", file(`{"__metadata__":{}}`, 0), nil, 0},
		{"scalar", file(`{"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, 8), nil, 1},
		{"zero-size tensors", file(`{"e":{"dtype":"F16","shape":[0,5],"data_offsets":[0,0]},"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"z":{"dtype":"I8","shape":[4,0],"data_offsets":[2,2]}}`, 2), nil, 3},
		{"data in another order than the header", file(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"a":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}}`, 3), nil, 2},
		{"unknown key in a tensor is ignored", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":{"x":[1,{"y":null}]}}}`, 1), nil, 1},
		{"escaped name", file(`{"a\u00e9\"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), nil, 1},

		{"no length", []byte{1, 2, 3}, ErrTruncated, 0},
		{"empty file", nil, ErrTruncated, 0},
		{"length past end", withLength(100, `{}`), ErrTruncated, 0},
		{"length above 100 MB", withLength(MaxHeaderSize+1, `{}`), ErrHeaderTooLarge, 0},
		{"length 2^64-1", withLength(^uint64(0), `{}`), ErrHeaderTooLarge, 0},
		{"zero length", withLength(0, ""), ErrInvalidJSON, 0},
		{"not UTF-8", file("{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), ErrInvalidJSON, 0},
		{"not JSON", file(`{"a":`, 0), ErrInvalidJSON, 0},
		{"array", file(`[]`, 0), ErrInvalidJSON, 0},
		{"leading space", file(` {}`, 0), ErrInvalidJSON, 0},
		{"trailing garbage", file(`{} x`, 0), ErrInvalidJSON, 0},
		{"two objects", file(`{}{}`, 0), ErrInvalidJSON, 0},
		{"NUL padding", file("{}\x00\x00", 0), ErrInvalidJSON, 0},
		{"tensor not an object", file(`{"a":3}`, 0), ErrInvalidJSON, 0},
		{"missing dtype", file(`{"a":{"shape":[1],"data_offsets":[0,1]}}`, 1), ErrInvalidJSON, 0},
		{"missing offsets", file(`{"a":{"dtype":"U8","shape":[1]}}`, 1), ErrInvalidJSON, 0},
		{"dtype not a string", file(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,1]}}`, 1), ErrInvalidJSON, 0},
		{"metadata value not a string", file(`{"__metadata__":{"n":1}}`, 0), ErrInvalidJSON, 0},
		{"metadata not an object", file(`{"__metadata__":"x"}`, 0), ErrInvalidJSON, 0},
		{"duplicate tensor name", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), ErrDuplicateName, 0},
		{"duplicate name through an escape", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), ErrDuplicateName, 0},
		{"duplicate key in a tensor", file(`{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, 1), ErrDuplicateName, 0},
		{"duplicate metadata key", file(`{"__metadata__":{"k":"1","k":"2"}}`, 0), ErrDuplicateName, 0},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, 0), ErrDuplicateName, 0},
		{"duplicate key in an ignored value", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"k":1,"k":2}}}`, 1), ErrDuplicateName, 0},
		{"offsets reversed", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}`, 1), ErrBadOffsets, 0},
		{"offsets past the data", file(one, 4), ErrBadOffsets, 0},
		{"data past the last tensor", file(one, 9), ErrBadOffsets, 0},
		{"gap at the start", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), ErrBadOffsets, 0},
		{"gap between tensors", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`, 3), ErrBadOffsets, 0},
		{"overlap", file(`{"a":{"dtype":"U16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"U16","shape":[1],"data_offsets":[1,3]}}`, 3), ErrBadOffsets, 0},
		{"same offsets twice", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), ErrBadOffsets, 0},
		{"three offsets", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}`, 1), ErrBadOffsets, 0},
		{"negative offset", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, 1), ErrBadOffsets, 0},
		{"offset above int64", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551615]}}`, 1), ErrBadOffsets, 0},
		{"shape larger than offsets", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), ErrSizeMismatch, 0},
		{"dtype size disagrees", file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, 8), ErrSizeMismatch, 0},
		{"negative dimension", file(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, 0), ErrBadShape, 0},
		{"fractional dimension", file(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}}`, 0), ErrBadShape, 0},
		{"exponent dimension", file(`{"a":{"dtype":"U8","shape":[1e2],"data_offsets":[0,100]}}`, 100), ErrBadShape, 0},
		{"dimension above int64", file(`{"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]}}`, 0), ErrBadShape, 0},
		{"overflowing product", file(`{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0), ErrBadShape, 0},
		{"overflow by item size", file(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, 0), ErrBadShape, 0},
		{"overflow hidden by a zero", file(`{"a":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}`, 0), ErrBadShape, 0},
		{"shape not an array", file(`{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}`, 1), ErrInvalidJSON, 0},
		{"unknown dtype", file(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, 1), ErrUnknownDType, 0},
		{"empty dtype", file(`{"a":{"dtype":"","shape":[2],"data_offsets":[0,1]}}`, 1), ErrUnknownDType, 0},
		{"lowercase dtype", file(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, 4), ErrUnknownDType, 0},
		{"unknown dtype and bad offsets", file(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, 2), ErrBadOffsets, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHeader(tc.in, int64(len(tc.in)))
			rh, rerr := ReadHeader(bytes.NewReader(tc.in), int64(len(tc.in)))
			if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
				t.Fatalf("ParseHeader: %v; ReadHeader: %v", err, rerr)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				malformed := tc.want != ErrTruncated && tc.want != ErrHeaderTooLarge && tc.want != ErrUnknownDType
				if errors.Is(err, ErrMalformed) != malformed {
					t.Fatalf("error %v: wraps ErrMalformed %v, want %v", err, !malformed, malformed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Tensors) != tc.tensors || !bytes.Equal(h.Raw, rh.Raw) || h.FileSize() != int64(len(tc.in)) {
				t.Fatalf("%d tensors (want %d), file size %d (want %d)", len(h.Tensors), tc.tensors, h.FileSize(), len(tc.in))
			}
			if !bytes.Equal(h.Raw, tc.in[:h.DataStart()]) {
				t.Fatal("Raw is not the header bytes")
			}
		})
	}
}

func TestParseHeaderFields(t *testing.T) {
	js := `{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[4,16]},"b":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}}  `
	in := file(js, 16)
	h, err := ParseHeader(in, int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	want := []TensorInfo{
		{Name: "w", DType: BF16, Shape: []int64{2, 3}, Begin: 4, End: 16},
		{Name: "b", DType: I16, Shape: []int64{2}, Begin: 0, End: 4},
	}
	if fmt.Sprint(h.Tensors) != fmt.Sprint(want) {
		t.Fatalf("tensors %v, want %v", h.Tensors, want)
	}
	if h.Metadata["format"] != "pt" || len(h.Metadata) != 1 {
		t.Fatalf("metadata %v", h.Metadata)
	}
	if got := h.ByOffset(); got[0].Name != "b" || got[1].Name != "w" {
		t.Fatalf("ByOffset %v", got)
	}
	if tw, ok := h.Lookup("w"); !ok || tw.Size() != 12 {
		t.Fatalf("Lookup(w) = %v, %v", tw, ok)
	}
	if _, ok := h.Lookup("x"); ok {
		t.Fatal("Lookup(x) found a tensor")
	}
	if h.DataStart() != int64(8+len(js)) || h.DataSize() != 16 {
		t.Fatalf("data at %d, %d bytes", h.DataStart(), h.DataSize())
	}
}

// TestParseHeaderPrefixOnly: ParseHeader needs the header only, not the data.
func TestParseHeaderPrefixOnly(t *testing.T) {
	in := file(`{"a":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}`, 4000)
	h, err := ParseHeader(in[:70], int64(len(in)))
	if err != nil || h.FileSize() != int64(len(in)) {
		t.Fatalf("%v, %v", h, err)
	}
	if _, err := ParseHeader(in[:20], int64(len(in))); !errors.Is(err, ErrTruncated) {
		t.Fatalf("header cut short: %v", err)
	}
}

func TestDTypes(t *testing.T) {
	want := map[string]int{"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
		"I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
	if got := DTypes(); len(got) != len(want) {
		t.Fatalf("%d dtypes, want %d", len(got), len(want))
	}
	for name, size := range want {
		d, err := ParseDType(name)
		if err != nil || d.Size() != size || !d.Known() {
			t.Errorf("ParseDType(%q) = %v (size %d), %v; want size %d", name, d, d.Size(), err, size)
		}
		// a file of each dtype parses
		js := fmt.Sprintf(`{"t":{"dtype":%q,"shape":[3,1],"data_offsets":[0,%d]}}`, name, 3*size)
		in := file(js, 3*size)
		if h, err := ParseHeader(in, int64(len(in))); err != nil || h.Tensors[0].DType != d {
			t.Errorf("%s file: %v", name, err)
		}
	}
	for _, bad := range []string{"", "bf16", "F8_E8M0", "F4", "C64", "Q4"} {
		if _, err := ParseDType(bad); !errors.Is(err, ErrUnknownDType) {
			t.Errorf("ParseDType(%q): %v", bad, err)
		}
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		d     DType
		shape []int64
		want  int64
		err   error
	}{
		{F32, nil, 4, nil},
		{BF16, []int64{3, 4}, 24, nil},
		{U8, []int64{0, 7}, 0, nil},
		{F64, []int64{1 << 60}, 0, ErrBadShape},
		{U8, []int64{-2}, 0, ErrBadShape},
		{"X", []int64{1}, 0, ErrUnknownDType},
	}
	for _, tc := range tests {
		got, err := ByteSize(tc.d, tc.shape)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("ByteSize(%s, %v) = %d, %v; want %d, %v", tc.d, tc.shape, got, err, tc.want, tc.err)
		}
	}
}

// TestHeaderTooLargeReadsNothing: a hostile length is refused before any
// allocation of its size.
func TestHeaderTooLargeReadsNothing(t *testing.T) {
	in := withLength(MaxHeaderSize+1, strings.Repeat(" ", 16))
	r := &countingReader{r: bytes.NewReader(in)}
	if _, err := ReadHeader(r, 1<<40); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatal(err)
	}
	if r.n != LengthSize {
		t.Fatalf("read %d bytes, want the %d of the length only", r.n, LengthSize)
	}
}

type countingReader struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}
