package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The JSON of a header or index is read as a token stream, never into a Go
// map: encoding/json keeps the last of duplicate keys silently, and a
// duplicate tensor name must be an error.

// tokens wraps a json.Decoder with the errors of this package.
type tokens struct {
	dec *json.Decoder
	src []byte
}

func newTokens(src []byte) *tokens {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	return &tokens{dec: dec, src: src}
}

// next returns the next token; a syntax error or early end is ErrInvalidJSON.
func (t *tokens) next() (json.Token, error) {
	tok, err := t.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return tok, nil
}

// delim consumes the delimiter want ('{', '[').
func (t *tokens) delim(want json.Delim, what string) error {
	tok, err := t.next()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: %s is %s, want %q", ErrInvalidJSON, what, describe(tok), want)
	}
	return nil
}

// str consumes a string value.
func (t *tokens) str(what string) (string, error) {
	tok, err := t.next()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s is %s, want a string", ErrInvalidJSON, what, describe(tok))
	}
	return s, nil
}

// object calls field for each key of an object whose '{' is next, and
// rejects a key seen twice. field must consume the key's value.
func (t *tokens) object(what string, field func(key string) error) error {
	if err := t.delim('{', what); err != nil {
		return err
	}
	return t.members(what, field)
}

// members is object after its '{'; it consumes the closing '}'.
func (t *tokens) members(what string, field func(key string) error) error {
	seen := make(map[string]bool)
	for t.dec.More() {
		key, err := t.str("key in " + what)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("%w: %q twice in %s", ErrDuplicateName, key, what)
		}
		seen[key] = true
		if err := field(key); err != nil {
			return err
		}
	}
	_, err := t.next() // '}': the decoder has checked the nesting
	return err
}

// ints consumes an array of non-negative integers; bad values wrap bad.
func (t *tokens) ints(what string, bad error) ([]int64, error) {
	if err := t.delim('[', what); err != nil {
		return nil, err
	}
	out := []int64{}
	for t.dec.More() {
		tok, err := t.next()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%w: %s holds %s, want integers", ErrInvalidJSON, what, describe(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%w: %s holds %s, want an integer in [0, 2^63)", bad, what, num)
		}
		out = append(out, v)
	}
	_, err := t.next()
	return out, err
}

// skip consumes one value of any kind, still rejecting duplicate keys in
// the objects it holds.
func (t *tokens) skip(what string) error {
	tok, err := t.next()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if d == '{' {
		return t.members(what, func(string) error { return t.skip(what) })
	}
	for t.dec.More() { // d is '[': the decoder never returns a closing one here
		if err := t.skip(what); err != nil {
			return err
		}
	}
	_, err = t.next()
	return err
}

// end checks that only JSON whitespace follows the top-level value (the
// spaces Hugging Face's writer pads with).
func (t *tokens) end() error {
	rest := t.src[t.dec.InputOffset():]
	if i := bytes.IndexFunc(rest, func(r rune) bool { return !isSpace(r) }); i >= 0 {
		return fmt.Errorf("%w: %q after the end of the JSON", ErrInvalidJSON, clip(rest[i:]))
	}
	return nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func clip(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "..."
	}
	return string(b)
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", v)
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(v)
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// decodeHeaderJSON decodes a header's JSON; dtypes are not checked here.
func decodeHeaderJSON(js []byte) (*Header, error) {
	if len(js) == 0 || js[0] != '{' {
		return nil, fmt.Errorf("%w: header does not start with '{'", ErrInvalidJSON)
	}
	t := newTokens(js)
	h := &Header{}
	err := t.object("header", func(key string) error {
		if key == MetadataKey {
			m, err := t.metadata()
			h.Metadata = m
			return err
		}
		info, err := t.tensorInfo(key)
		if err != nil {
			return err
		}
		h.Tensors = append(h.Tensors, info)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := t.end(); err != nil {
		return nil, err
	}
	return h, nil
}

// metadata decodes __metadata__: an object of strings.
func (t *tokens) metadata() (map[string]string, error) {
	m := make(map[string]string)
	err := t.object(MetadataKey, func(key string) error {
		v, err := t.str(MetadataKey + "." + key)
		m[key] = v
		return err
	})
	return m, err
}

// tensorInfo decodes one tensor's object. Keys other than dtype, shape and
// data_offsets are ignored, as Hugging Face's reader ignores them.
func (t *tokens) tensorInfo(name string) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	var haveDType, haveShape, haveOffsets bool
	what := fmt.Sprintf("tensor %q", name)
	err := t.object(what, func(key string) error {
		switch key {
		case "dtype":
			s, err := t.str(what + " dtype")
			info.DType, haveDType = DType(s), true
			return err
		case "shape":
			shape, err := t.ints(what+" shape", ErrBadShape)
			info.Shape, haveShape = shape, true
			return err
		case "data_offsets":
			offs, err := t.ints(what+" data_offsets", ErrBadOffsets)
			if err == nil && len(offs) != 2 {
				err = fmt.Errorf("%w: %s data_offsets has %d values, want 2", ErrBadOffsets, what, len(offs))
			}
			if err == nil {
				info.Begin, info.End, haveOffsets = offs[0], offs[1], true
			}
			return err
		}
		return t.skip(what + " " + key)
	})
	if err != nil {
		return info, err
	}
	if !haveDType || !haveShape || !haveOffsets {
		return info, fmt.Errorf("%w: %s lacks dtype, shape or data_offsets", ErrInvalidJSON, what)
	}
	return info, nil
}
