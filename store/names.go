package store

import (
	"deltafs/catalog"
	"deltafs/delta"
)

// The names the store's callers branch on, under the store's name: the mount
// and the command line import no package below the store.

// Kind is what an entry is: a directory, a tensor or a blob.
type Kind = catalog.Kind

// The kinds of entry.
const (
	KindDir    = catalog.KindDir    // a directory (a top-level one is a model)
	KindTensor = catalog.KindTensor // a .npy file stored as an encoded tensor
	KindBlob   = catalog.KindBlob   // any other file, stored as an opaque object
)

// Strategy names an encoding strategy.
type Strategy = delta.Strategy

// The strategies. Auto, the default, is lossless and picks per tensor.
const (
	Auto             = delta.Auto
	Float32Raw       = delta.Float32Raw
	Compressed       = delta.Compressed
	XorFloat32       = delta.XorFloat32
	XorBFloat16      = delta.XorBFloat16
	ExponentMantissa = delta.ExponentMantissa
	Int8Quantized    = delta.Int8Quantized
	Int16Quantized   = delta.Int16Quantized
	Sparse           = delta.Sparse
	PerAxisScaled    = delta.PerAxisScaled
)

// Strategies lists every strategy, lossless first.
func Strategies() []Strategy { return delta.Strategies() }

// ParseStrategy validates a strategy name.
func ParseStrategy(name string) (Strategy, error) { return delta.ParseStrategy(name) }

// EncoderConfig is the encoder's settings (Options.Delta).
type EncoderConfig = delta.Config

// DefaultEncoderConfig is the encoder's default settings.
func DefaultEncoderConfig() EncoderConfig { return delta.DefaultConfig() }
