package safetensors

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"deltafs/internal/testenv"
)

// loraFixture is a PEFT adapter written by Hugging Face's safetensors
// library: 25 F32 tensors, __metadata__ {"format":"pt"}, a space-padded
// 3,120-byte header.
const loraFixture = "safetensors/gpt2-lora-adapter.safetensors"

func readFixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.SharedFixture(t, loraFixture))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHuggingFaceFile(t *testing.T) {
	in := readFixture(t)
	h, err := ReadHeader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tensors) != 25 || h.DataStart() != 8+3120 || h.FileSize() != int64(len(in)) {
		t.Fatalf("%d tensors, data at %d, file size %d (file %d)", len(h.Tensors), h.DataStart(), h.FileSize(), len(in))
	}
	if len(h.Metadata) != 1 || h.Metadata["format"] != "pt" {
		t.Fatalf("metadata %v", h.Metadata)
	}
	var prev string
	for i, ti := range h.ByOffset() {
		if ti.DType != F32 || !strings.HasPrefix(ti.Name, "base_model.") || ti.Name <= prev {
			t.Fatalf("tensor %d: %+v after %q", i, ti, prev)
		}
		prev = ti.Name
	}
	// Our writer lays the same tensors out to the same bytes: header and data.
	specs := make([]Spec, len(h.Tensors))
	tensors := make([]Tensor, len(h.Tensors))
	for i, ti := range h.Tensors {
		specs[i] = Spec{Name: ti.Name, DType: ti.DType, Shape: ti.Shape}
		tensors[i] = Tensor{Spec: specs[i], Data: in[h.DataStart()+ti.Begin : h.DataStart()+ti.End]}
	}
	lh, err := Layout(h.Metadata, specs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(lh.Raw, h.Raw) {
		t.Fatalf("Layout header differs from Hugging Face's:\n%q\n%q", lh.Raw[:200], h.Raw[:200])
	}
	var out bytes.Buffer
	if n, err := Write(&out, h.Metadata, tensors); err != nil || n != int64(len(in)) || !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("Write: %d bytes, %v; identical %v", n, err, bytes.Equal(out.Bytes(), in))
	}
}

// TestHuggingFaceFileDamaged: damage to the real file's header is caught.
func TestHuggingFaceFileDamaged(t *testing.T) {
	in := readFixture(t)
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"cut inside the data", func(b []byte) []byte { return b[:len(b)-1] }},
		{"one byte more", func(b []byte) []byte { return append(b, 0) }},
		{"cut inside the header", func(b []byte) []byte { return b[:1000] }},
		{"padding made NUL", func(b []byte) []byte { b[8+3119] = 0; return b }},
		{"a shape digit changed", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"shape":[6,768]`))
			b[i+len(`"shape":[`)] = '7'
			return b
		}},
		{"an offset changed", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`[0,18432]`))
			b[i+2] = '2'
			return b
		}},
		{"a name made a duplicate", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`h.1.attn`))
			b[i+2] = '0'
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.damage(bytes.Clone(in))
			if h, err := ParseHeader(b, int64(len(b))); err == nil {
				t.Fatalf("damaged file parsed: %d tensors", len(h.Tensors))
			}
		})
	}
}
