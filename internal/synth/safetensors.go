package synth

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"deltafs/safetensors"
)

// SafetensorsName returns the tensor's name in a safetensors file: the
// slash-separated path with dots, as Hugging Face names tensors
// ("layers/0/wq" becomes "layers.0.wq").
func (t Tensor) SafetensorsName() string { return strings.ReplaceAll(t.Name, "/", ".") }

// Safetensors returns the tensor in its safetensors dtype: F32, F16, or
// BF16 with 2 bytes a value (the high halves of the float32 values the
// generator holds bf16 data in, which are exact).
func (t Tensor) Safetensors() (safetensors.Tensor, error) {
	spec := safetensors.Spec{Name: t.SafetensorsName(), Shape: t.Shape}
	switch {
	case t.Precision == BFloat16 && t.DType.Size == 4:
		spec.DType = safetensors.BF16
		out := make([]byte, len(t.Data)/2)
		for i := range len(out) / 2 {
			v := binary.LittleEndian.Uint32(t.Data[4*i:])
			if uint16(v) != 0 {
				return safetensors.Tensor{}, fmt.Errorf("synth: tensor %s: element %d is not a bfloat16 value", t.Name, i)
			}
			binary.LittleEndian.PutUint16(out[2*i:], uint16(v>>16))
		}
		return safetensors.Tensor{Spec: spec, Data: out}, nil
	case t.Precision == Float16:
		spec.DType = safetensors.F16
	case t.Precision == Float32:
		spec.DType = safetensors.F32
	default:
		return safetensors.Tensor{}, fmt.Errorf("synth: tensor %s: no safetensors dtype for %s", t.Name, t.Precision)
	}
	return safetensors.Tensor{Spec: spec, Data: t.Data}, nil
}

// WriteSafetensors writes the tensors as one safetensors file at path, in
// the given order, with metadata {"format": "pt"} as transformers writes.
func WriteSafetensors(path string, ts []Tensor) error {
	tensors := make([]safetensors.Tensor, len(ts))
	for i, t := range ts {
		st, err := t.Safetensors()
		if err != nil {
			return err
		}
		tensors[i] = st
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if _, err := safetensors.Write(f, map[string]string{"format": "pt"}, tensors); err != nil {
		f.Close()
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
