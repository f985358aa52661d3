package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestWriteRoundTrip(t *testing.T) {
	var tensors []Tensor
	for i, d := range DTypes() {
		shape := []int64{int64(i + 1), 3}
		size, _ := ByteSize(d, shape)
		data := bytes.Repeat([]byte{byte(i)}, int(size))
		tensors = append(tensors, Tensor{Spec{Name: fmt.Sprintf("layers.%d.<%s>&", i, d), DType: d, Shape: shape}, data})
	}
	tensors = append(tensors, Tensor{Spec{Name: "scalar", DType: F64}, make([]byte, 8)}, Tensor{Spec{Name: "empty", DType: BF16, Shape: []int64{0}}, nil})
	for _, meta := range []map[string]string{nil, {}, {"format": "pt", "note": "quote \" and é"}} {
		var buf bytes.Buffer
		n, err := Write(&buf, meta, tensors)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("Write: %d, %v", n, err)
		}
		b := buf.Bytes()
		h, err := ParseHeader(b, int64(len(b)))
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, b[8:h0(b)])
		}
		if (h.DataStart()-LengthSize)%HeaderAlign != 0 || fmt.Sprint(h.Metadata) != fmt.Sprint(meta) || (meta == nil) != (h.Metadata == nil) {
			t.Fatalf("data at %d, metadata %v (want %v)", h.DataStart(), h.Metadata, meta)
		}
		if bytes.Contains(h.Raw, []byte(`\u003c`)) {
			t.Fatal("names HTML-escaped")
		}
		for i, ti := range h.Tensors {
			want := tensors[i]
			if ti.Name != want.Name || ti.DType != want.DType || fmt.Sprint(ti.Shape) != fmt.Sprint(want.Shape) && len(want.Shape) > 0 {
				t.Fatalf("tensor %d: %+v, want %+v", i, ti, want.Spec)
			}
			if got := b[h.DataStart()+ti.Begin : h.DataStart()+ti.End]; !bytes.Equal(got, want.Data) {
				t.Fatalf("tensor %q data differs", ti.Name)
			}
		}
	}
}

func h0(b []byte) int { return min(len(b), 200) }

func TestWriteRejects(t *testing.T) {
	ok := Spec{Name: "a", DType: U8, Shape: []int64{2}}
	tests := []struct {
		name    string
		meta    map[string]string
		tensors []Tensor
		want    error
	}{
		{"duplicate", nil, []Tensor{{ok, []byte{1, 2}}, {ok, []byte{1, 2}}}, ErrDuplicateName},
		{"metadata name", nil, []Tensor{{Spec{Name: MetadataKey, DType: U8}, []byte{1}}}, ErrDuplicateName},
		{"short data", nil, []Tensor{{ok, []byte{1}}}, ErrSizeMismatch},
		{"unknown dtype", nil, []Tensor{{Spec{Name: "x", DType: "F4"}, []byte{1}}}, ErrUnknownDType},
		{"negative dim", nil, []Tensor{{Spec{Name: "x", DType: U8, Shape: []int64{-1}}, nil}}, ErrBadShape},
		{"name not UTF-8", nil, []Tensor{{Spec{Name: "\xff", DType: U8}, []byte{1}}}, ErrInvalidJSON},
		{"metadata not UTF-8", map[string]string{"k": "\xfe"}, nil, ErrInvalidJSON},
		{"header too large", nil, []Tensor{{Spec{Name: strings.Repeat("n", MaxHeaderSize), DType: U8}, []byte{1}}}, ErrHeaderTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := Write(&buf, tc.meta, tc.tensors); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("%d bytes written before the error", buf.Len())
			}
		})
	}
}
