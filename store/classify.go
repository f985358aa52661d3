package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"deltafs/delta"
	"deltafs/npy"
)

// parsedFile is a staged file sorted into a tensor or an opaque blob.
type parsedFile struct {
	tensor    bool // false: a blob
	header    npy.Header
	rawHeader []byte // the file's header bytes
	dataOff   int    // where the data section starts
	canonical bool   // rawHeader is what npy.FormatHeader produces
	warning   string // why a file that looked like a tensor became a blob
}

// npyMagic starts every .npy file.
var npyMagic = []byte("\x93NUMPY")

// classify sorts the file at path, of size bytes, from its first bytes
// (head: its whole .npy header, when it has one): a valid .npy (header
// parses, data section exactly fills the rest) is a tensor; anything else
// a blob, with a warning when it claimed to be an .npy (by name or magic)
// but is not a valid one.
func classify(path string, data []byte, size int64) parsedFile {
	looksNPY := bytes.HasPrefix(data, npyMagic)
	namedNPY := strings.HasSuffix(strings.ToLower(path), ".npy")
	if !looksNPY {
		// An empty file claims nothing (touch, or a file opened to be
		// written and closed before any write).
		if namedNPY && len(data) > 0 {
			return parsedFile{warning: "not an .npy file (no .npy magic), stored as a blob"}
		}
		return parsedFile{}
	}
	h, dataOff, err := npy.ParseHeader(data)
	if err != nil {
		if errors.Is(err, npy.ErrUnsupportedDType) {
			return parsedFile{warning: fmt.Sprintf("dtype not handled as a tensor (%v), stored as a blob", err)}
		}
		return parsedFile{warning: fmt.Sprintf("malformed .npy header (%v), stored as a blob", err)}
	}
	dataSize, err := h.DataSize()
	if err != nil {
		return parsedFile{warning: fmt.Sprintf("malformed .npy header (%v), stored as a blob", err)}
	}
	if dataOff < 0 || dataOff > len(data) || size-int64(dataOff) != dataSize {
		return parsedFile{warning: fmt.Sprintf("malformed .npy: header promises %d data bytes, file holds %d, stored as a blob",
			dataSize, size-min(int64(dataOff), size))}
	}
	raw := data[:dataOff]
	canon, err := npy.FormatHeader(h)
	if err != nil {
		return parsedFile{warning: fmt.Sprintf("malformed .npy header (%v), stored as a blob", err)}
	}
	return parsedFile{
		tensor:    true,
		header:    h,
		rawHeader: raw,
		dataOff:   dataOff,
		canonical: bytes.Equal(raw, canon),
	}
}

// blobTensor views size opaque bytes read from data as a 1-d array of
// bytes, so blobs share the object format (chunked, checksummed, random
// access) with tensors.
func blobTensor(data io.ReaderAt, size int64) delta.StreamTensor {
	return delta.StreamTensor{
		DType: npy.DType{Kind: 'u', Size: 1, Order: '|'},
		Shape: []int64{size},
		Data:  data,
	}
}
