package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// Spec describes a tensor to lay out: the offsets are computed by Layout.
type Spec struct {
	Name  string
	DType DType
	Shape []int64
}

// Layout returns the header of a file holding the given tensors' data one
// after the other in the given order, with the metadata (nil for none)
// first. The JSON is written the way Hugging Face's writer writes it:
// __metadata__ first with sorted keys, then the tensors with dtype, shape,
// data_offsets, no spaces, padded with spaces to a multiple of HeaderAlign.
// The header round-trips through ParseHeader.
func Layout(metadata map[string]string, specs []Spec) (*Header, error) {
	var js bytes.Buffer
	js.WriteByte('{')
	if metadata != nil {
		if err := writeMetadata(&js, metadata); err != nil {
			return nil, err
		}
	}
	h := &Header{Metadata: metadata}
	seen := make(map[string]bool, len(specs))
	var off int64
	for i, s := range specs {
		if !utf8.ValidString(s.Name) {
			return nil, fmt.Errorf("%w: tensor name %q is not UTF-8", ErrInvalidJSON, s.Name)
		}
		if js.Len()+len(s.Name) > MaxHeaderSize { // the JSON of a name is at least as long
			return nil, fmt.Errorf("%w: above %d bytes at tensor %d", ErrHeaderTooLarge, MaxHeaderSize, i)
		}
		if s.Name == MetadataKey || seen[s.Name] {
			return nil, fmt.Errorf("%w: tensor name %q", ErrDuplicateName, s.Name)
		}
		seen[s.Name] = true
		size, err := ByteSize(s.DType, s.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", s.Name, err)
		}
		info := TensorInfo{Name: s.Name, DType: s.DType, Shape: slices.Clone(s.Shape), Begin: off, End: off + size}
		if info.End < off {
			return nil, fmt.Errorf("%w: data past 2^63 bytes at tensor %q", ErrBadOffsets, s.Name)
		}
		off = info.End
		if i > 0 || metadata != nil {
			js.WriteByte(',')
		}
		writeString(&js, s.Name)
		fmt.Fprintf(&js, `:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, s.DType, intList(info.Shape), info.Begin, info.End)
		h.Tensors = append(h.Tensors, info)
	}
	js.WriteByte('}')
	for js.Len()%HeaderAlign != 0 {
		js.WriteByte(' ')
	}
	if js.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrHeaderTooLarge, js.Len())
	}
	h.Raw = binary.LittleEndian.AppendUint64(make([]byte, 0, LengthSize+js.Len()), uint64(js.Len()))
	h.Raw = append(h.Raw, js.Bytes()...)
	return h, nil
}

func writeMetadata(js *bytes.Buffer, metadata map[string]string) error {
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	writeString(js, MetadataKey)
	js.WriteString(":{")
	for i, k := range keys {
		if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
			return fmt.Errorf("%w: metadata %q is not UTF-8", ErrInvalidJSON, k)
		}
		if i > 0 {
			js.WriteByte(',')
		}
		writeString(js, k)
		js.WriteByte(':')
		writeString(js, metadata[k])
	}
	js.WriteByte('}')
	return nil
}

// writeString writes s as a JSON string without HTML escaping, as serde
// writes it.
func writeString(js *bytes.Buffer, s string) {
	enc := json.NewEncoder(js)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)         // a string always encodes; invalid UTF-8 becomes U+FFFD
	js.Truncate(js.Len() - 1) // Encode's newline
}

func intList(v []int64) string {
	b := []byte{'['}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", x)
	}
	return string(append(b, ']'))
}

// Tensor is a tensor with its data, for Write.
type Tensor struct {
	Spec
	Data []byte
}

// Write writes a safetensors file of the tensors, in the given order, and
// returns the number of bytes written. Each Data must be exactly the byte
// size of its dtype and shape (ErrSizeMismatch otherwise).
func Write(w io.Writer, metadata map[string]string, tensors []Tensor) (int64, error) {
	specs := make([]Spec, len(tensors))
	for i, t := range tensors {
		specs[i] = t.Spec
	}
	h, err := Layout(metadata, specs)
	if err != nil {
		return 0, err
	}
	for i, t := range tensors {
		if want := h.Tensors[i].Size(); int64(len(t.Data)) != want {
			return 0, fmt.Errorf("%w: tensor %q has %d bytes of data, its shape needs %d", ErrSizeMismatch, t.Name, len(t.Data), want)
		}
	}
	n, err := w.Write(h.Raw)
	total := int64(n)
	if err != nil {
		return total, fmt.Errorf("safetensors: writing the header: %w", err)
	}
	for _, t := range tensors {
		n, err := w.Write(t.Data)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("safetensors: writing tensor %q: %w", t.Name, err)
		}
	}
	return total, nil
}
