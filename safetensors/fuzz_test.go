package safetensors

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"deltafs/internal/testenv"
)

// addSeeds adds small valid and invalid files, and the real file's header
// when the shared fixture is present.
func addSeeds(f *testing.F) {
	for _, js := range []string{
		`{}`,
		`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}  `,
		`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`,
		`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`,
		`{"a":{"dtype":"F8_E5M2","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`,
	} {
		f.Add(file(js, 8))
	}
	f.Add(withLength(MaxHeaderSize+1, "{}"))
	// the real file's header when present (TestHuggingFaceFile insists on it)
	if path, err := testenv.SharedFixturePath(loraFixture); err == nil {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b[:min(len(b), 4096)])
			f.Add(b)
		}
	}
}

// FuzzParseHeader: any input yields an error or a header that validates,
// tiles the input's data exactly, agrees with ReadHeader, and lays out
// again to a file that parses to the same tensors.
func FuzzParseHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b, int64(len(b)))
		rh, rerr := ReadHeader(bytes.NewReader(b), int64(len(b)))
		if (err == nil) != (rerr == nil) {
			t.Fatalf("ParseHeader error %v but ReadHeader error %v", err, rerr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrHeaderTooLarge) && !errors.Is(err, ErrUnknownDType) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if !bytes.Equal(h.Raw, rh.Raw) || h.FileSize() != int64(len(b)) || !bytes.Equal(h.Raw, b[:h.DataStart()]) {
			t.Fatalf("header of %d bytes for a %d-byte file", len(h.Raw), len(b))
		}
		var sum int64
		for _, ti := range h.Tensors {
			size, err := ByteSize(ti.DType, ti.Shape)
			if err != nil || size != ti.Size() {
				t.Fatalf("tensor %+v: size %d, %v", ti, size, err)
			}
			sum += size
		}
		if sum != h.DataSize() {
			t.Fatalf("tensors sum to %d bytes, data section %d", sum, h.DataSize())
		}
		tensors := make([]Tensor, 0, len(h.Tensors))
		for _, ti := range h.ByOffset() {
			tensors = append(tensors, Tensor{Spec{ti.Name, ti.DType, ti.Shape}, b[h.DataStart()+ti.Begin : h.DataStart()+ti.End]})
		}
		var out bytes.Buffer
		if _, err := Write(&out, h.Metadata, tensors); err != nil {
			if errors.Is(err, ErrHeaderTooLarge) {
				return // our layout can be longer than a compact input
			}
			t.Fatalf("rewriting: %v", err)
		}
		back, err := ParseHeader(out.Bytes(), int64(out.Len()))
		if err != nil || len(back.Tensors) != len(h.Tensors) || !bytes.Equal(out.Bytes()[back.DataStart():], b[h.DataStart():]) {
			t.Fatalf("rewritten file: %v", err)
		}
	})
}

// FuzzParseIndex: any input yields an error or an index whose shard names
// are plain file names.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":12},"weight_map":{"a":"m-1.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"s","a":"t"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../s"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := ParseIndex(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		for name, s := range ix.WeightMap {
			if !plainFileName(s) {
				t.Fatalf("tensor %q in shard %q", name, s)
			}
		}
	})
}
