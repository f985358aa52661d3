package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// prefixLen returns the length of magic, version and length field for a
// version, or an error for an unknown version.
func prefixLen(major, minor byte) (int, error) {
	n, err := lengthFieldSize(major, minor)
	if err != nil {
		return 0, err
	}
	return len(magicPrefix) + 2 + n, nil
}

// parsePrefix checks the magic and version at the start of b and returns
// the version, the length of the fixed prefix and the declared header length
// (the bytes after the prefix, up to the data).
func parsePrefix(b []byte) (major, minor byte, prefix int, hlen int64, err error) {
	n := min(len(b), len(magicPrefix))
	if string(b[:n]) != magicPrefix[:n] {
		return 0, 0, 0, 0, fmt.Errorf("%w: magic is %q, want %q", ErrNotNPY, b[:n], magicPrefix)
	}
	if len(b) < len(magicPrefix)+2 {
		return 0, 0, 0, 0, fmt.Errorf("%w: %d bytes, the magic and version need %d", ErrTruncated, len(b), len(magicPrefix)+2)
	}
	major, minor = b[len(magicPrefix)], b[len(magicPrefix)+1]
	if prefix, err = prefixLen(major, minor); err != nil {
		return 0, 0, 0, 0, err
	}
	if len(b) < prefix {
		return 0, 0, 0, 0, fmt.Errorf("%w: %d bytes, the format %d.%d prefix needs %d", ErrTruncated, len(b), major, minor, prefix)
	}
	field := b[len(magicPrefix)+2 : prefix]
	if len(field) == 2 {
		hlen = int64(binary.LittleEndian.Uint16(field))
	} else {
		hlen = int64(binary.LittleEndian.Uint32(field))
	}
	if hlen > MaxHeaderSize {
		return 0, 0, 0, 0, fmt.Errorf("%w: header length %d exceeds the limit of %d bytes", ErrMalformed, hlen, MaxHeaderSize)
	}
	return major, minor, prefix, hlen, nil
}

// DataOffset returns where the data section of an .npy file starts, read
// from its fixed prefix alone (magic, version and header length: 10 bytes
// for version 1.0, 12 for 2.0 and 3.0) without parsing the header
// dictionary, so b need hold only the prefix.
func DataOffset(b []byte) (int64, error) {
	_, _, prefix, hlen, err := parsePrefix(b)
	if err != nil {
		return 0, err
	}
	return int64(prefix) + hlen, nil
}

// ParseHeader parses the header at the start of b and returns it with the
// offset of the data section. It returns ErrTruncated when b ends early,
// including when the declared header length runs past the end of b.
func ParseHeader(b []byte) (Header, int, error) {
	major, minor, prefix, hlen, err := parsePrefix(b)
	if err != nil {
		return Header{}, 0, err
	}
	end := int64(prefix) + hlen
	if int64(len(b)) < end {
		return Header{}, 0, fmt.Errorf("%w: header declares %d bytes after the %d-byte prefix, input has %d",
			ErrTruncated, hlen, prefix, len(b)-prefix)
	}
	h, err := parseDict(b[prefix:end], major, minor)
	if err != nil {
		return Header{}, 0, err
	}
	return h, int(end), nil
}

// ReadHeader reads exactly the header bytes from r and parses them; it
// returns the raw header bytes too, so callers can keep non-canonical ones.
// An input that ends inside the header yields ErrTruncated (or ErrNotNPY
// when what it holds is not a magic prefix); other read errors are returned
// wrapped.
func ReadHeader(r io.Reader) (Header, []byte, error) {
	raw := make([]byte, len(magicPrefix)+2, Align)
	if err := readPart(r, raw, 0); err != nil {
		return Header{}, nil, err
	}
	if _, _, _, _, err := parsePrefix(raw); err != nil && !errors.Is(err, ErrTruncated) {
		return Header{}, nil, err // bad magic or version
	}
	prefix, err := prefixLen(raw[len(magicPrefix)], raw[len(magicPrefix)+1])
	if err != nil {
		return Header{}, nil, err
	}
	raw = raw[:prefix]
	if err := readPart(r, raw, len(magicPrefix)+2); err != nil {
		return Header{}, nil, err
	}
	_, _, _, hlen, err := parsePrefix(raw)
	if err != nil {
		return Header{}, nil, err
	}
	raw = append(raw, make([]byte, hlen)...)
	if err := readPart(r, raw, prefix); err != nil {
		return Header{}, nil, err
	}
	h, _, err := ParseHeader(raw)
	if err != nil {
		return Header{}, nil, err
	}
	return h, raw, nil
}

// readPart fills buf[from:] from r. On an early end it reports what
// parsePrefix says about the bytes read so far (ErrNotNPY, a bad version)
// or else ErrTruncated.
func readPart(r io.Reader, buf []byte, from int) error {
	n, err := io.ReadFull(r, buf[from:])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if _, _, _, _, perr := parsePrefix(buf[:from+n]); perr != nil && !errors.Is(perr, ErrTruncated) {
			return perr
		}
		return fmt.Errorf("%w: input ended after %d header bytes", ErrTruncated, from+n)
	}
	if err != nil {
		return fmt.Errorf("npy: reading header: %w", err)
	}
	return nil
}

// parseDict interprets the header dict text of a file of the given version.
func parseDict(text []byte, major, minor byte) (Header, error) {
	if major == 3 && !utf8.Valid(text) {
		return Header{}, fmt.Errorf("%w: format 3.0 header is not valid UTF-8", ErrMalformed)
	}
	p := literalParser{s: text, allowLongL: major < 3}
	entries, err := p.parseDict()
	if err != nil {
		return Header{}, fmt.Errorf("%w (header %s)", err, quoteSnippet(text))
	}
	h := Header{Major: major, Minor: minor}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.key] {
			return Header{}, fmt.Errorf("%w: key %q appears twice", ErrMalformed, e.key)
		}
		seen[e.key] = true
		switch e.key {
		case "descr":
			h.DType, err = descrValue(e.value)
		case "fortran_order":
			if e.value.kind != pyBool {
				err = fmt.Errorf("%w: fortran_order is a %s, want True or False", ErrMalformed, e.value.kind)
			}
			h.Fortran = e.value.b
		case "shape":
			h.Shape, err = shapeValue(e.value)
		default:
			err = fmt.Errorf("%w: unknown key %q", ErrMalformed, e.key)
		}
		if err != nil {
			return Header{}, err
		}
	}
	for _, k := range [...]string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return Header{}, fmt.Errorf("%w: key %q is missing", ErrMalformed, k)
		}
	}
	if _, _, err := h.sizes(); err != nil {
		return Header{}, err
	}
	return h, nil
}

// descrValue interprets the descr entry.
func descrValue(v pyValue) (DType, error) {
	switch v.kind {
	case pyString:
		return ParseDescr(v.str)
	case pyList:
		return DType{}, fmt.Errorf("%w: structured dtype (descr is a list of fields)", ErrUnsupportedDType)
	case pyTuple:
		return DType{}, fmt.Errorf("%w: subarray dtype (descr is a tuple)", ErrUnsupportedDType)
	}
	return DType{}, fmt.Errorf("%w: descr is a %s, want a string", ErrMalformed, v.kind)
}

// shapeValue interprets the shape entry: a tuple of non-negative ints.
func shapeValue(v pyValue) ([]int64, error) {
	if v.kind != pyTuple {
		return nil, fmt.Errorf("%w: shape is a %s, want a tuple of integers", ErrMalformed, v.kind)
	}
	if len(v.items) > MaxDims {
		return nil, fmt.Errorf("%w: shape has %d dimensions (at most %d)", ErrMalformed, len(v.items), MaxDims)
	}
	shape := make([]int64, len(v.items))
	for i, it := range v.items {
		if it.kind != pyInt {
			return nil, fmt.Errorf("%w: shape dimension %d is a %s, want an integer", ErrMalformed, i, it.kind)
		}
		if it.n < 0 {
			return nil, fmt.Errorf("%w: shape dimension %d is negative (%d)", ErrMalformed, i, it.n)
		}
		shape[i] = it.n
	}
	return shape, nil
}

// quoteSnippet quotes the start of a header for an error message.
func quoteSnippet(text []byte) string {
	const max = 120
	if len(text) > max {
		return fmt.Sprintf("%q...", text[:max])
	}
	return fmt.Sprintf("%q", text)
}
