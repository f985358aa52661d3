package synth

import (
	"deltafs/npy"
)

// Change says how a tensor of a fine-tune relates to its base.
type Change string

// The kinds of tensors a generator returns.
const (
	ChangeBase      Change = "base"      // a base model tensor
	ChangeTuned     Change = "tuned"     // base + low-rank update + dense noise
	ChangeFrozen    Change = "frozen"    // bit-identical to the base
	ChangeRetrained Change = "retrained" // drawn anew, independent of the base
)

// Tensor is one generated weight tensor: little-endian, C order.
type Tensor struct {
	Name      string    // slash-separated path without ".npy", e.g. "layers/0/wq"
	DType     npy.DType // the .npy dtype (float32 for bfloat16 data)
	Shape     []int64
	Data      []byte
	Precision Precision // the values' true precision (BFloat16 for bf16-as-f32)
	Change    Change    // how it relates to the base
}

// Path returns the tensor's file path inside a model directory.
func (t Tensor) Path() string { return t.Name + ".npy" }

// Header returns the tensor's .npy header.
func (t Tensor) Header() npy.Header {
	return npy.Header{Major: 1, DType: t.DType, Shape: t.Shape}
}

// NumElements returns the number of elements.
func (t Tensor) NumElements() int { return len(t.Data) / t.DType.Size }

// NPY returns the complete .npy file: numpy's header, then the data.
func (t Tensor) NPY() ([]byte, error) {
	hdr, err := npy.FormatHeader(t.Header())
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(hdr)+len(t.Data))
	return append(append(out, hdr...), t.Data...), nil
}

// TotalBytes returns the sum of the tensors' data sizes.
func TotalBytes(ts []Tensor) int64 {
	var n int64
	for _, t := range ts {
		n += int64(len(t.Data))
	}
	return n
}
