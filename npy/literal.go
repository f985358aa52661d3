package npy

import (
	"fmt"
	"math"
)

// The header dictionary is a Python literal. literal.go parses the subset of
// Python literal syntax that .npy headers use: a dict whose keys are strings
// and whose values are strings, True/False, decimal integers, and tuples or
// lists of those (lists and nested tuples only appear in structured descrs,
// which are then rejected as unsupported).

// pyKind is the type of a parsed Python literal.
type pyKind int

const (
	pyString pyKind = iota
	pyBool
	pyInt
	pyTuple
	pyList
)

func (k pyKind) String() string {
	return [...]string{"string", "bool", "int", "tuple", "list"}[k]
}

// pyValue is one parsed Python literal.
type pyValue struct {
	kind  pyKind
	str   string
	b     bool
	n     int64 // pyInt; neg is recorded in n < 0
	items []pyValue
}

// pyEntry is one key: value pair of the header dict, in file order.
type pyEntry struct {
	key   string
	value pyValue
}

// maxNesting bounds the nesting of tuples and lists in a header.
const maxNesting = 16

// literalParser is a recursive-descent parser over the header text.
type literalParser struct {
	s          []byte
	pos        int
	allowLongL bool // accept Python 2 "3L" integers (format 1.0 and 2.0)
}

// errorf returns an ErrMalformed error citing the position.
func (p *literalParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d of the header dict", ErrMalformed, fmt.Sprintf(format, args...), p.pos)
}

func (p *literalParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (p *literalParser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

// parseDict parses the whole header text: a dict, optionally surrounded by
// white space.
func (p *literalParser) parseDict() ([]pyEntry, error) {
	if p.peek() != '{' {
		return nil, p.errorf("header is not a dictionary (expected '{')")
	}
	p.pos++
	var entries []pyEntry
	for {
		c := p.peek()
		if c == '}' {
			p.pos++
			break
		}
		if c != '\'' && c != '"' && c != 'u' {
			return nil, p.errorf("expected a string key or '}', found %s", p.describeNext())
		}
		key, err := p.parseString()
		if err != nil {
			return nil, err
		}
		if p.peek() != ':' {
			return nil, p.errorf("expected ':' after key %q, found %s", key, p.describeNext())
		}
		p.pos++
		v, err := p.parseValue(0)
		if err != nil {
			return nil, err
		}
		entries = append(entries, pyEntry{key: key, value: v})
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
		default:
			return nil, p.errorf("expected ',' or '}' after the value of %q, found %s", key, p.describeNext())
		}
	}
	if p.peek() != 0 {
		return nil, p.errorf("unexpected %s after the header dict", p.describeNext())
	}
	return entries, nil
}

// describeNext names the next byte for error messages.
func (p *literalParser) describeNext() string {
	if p.pos >= len(p.s) {
		return "end of header"
	}
	return fmt.Sprintf("%q", p.s[p.pos])
}

// parseValue parses one literal at nesting depth depth.
func (p *literalParser) parseValue(depth int) (pyValue, error) {
	if depth > maxNesting {
		return pyValue{}, p.errorf("literal nested deeper than %d levels", maxNesting)
	}
	switch c := p.peek(); {
	case c == '\'' || c == '"' || c == 'u':
		s, err := p.parseString()
		return pyValue{kind: pyString, str: s}, err
	case c == '(':
		return p.parseSequence(depth, ')', pyTuple)
	case c == '[':
		return p.parseSequence(depth, ']', pyList)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.parseInt()
	case c == 'T' || c == 'F':
		return p.parseBool()
	default:
		return pyValue{}, p.errorf("expected a literal value, found %s", p.describeNext())
	}
}

// parseString parses '...' or "..." with an optional u prefix. Escapes are
// not needed by any header and are rejected.
func (p *literalParser) parseString() (string, error) {
	if p.s[p.pos] == 'u' {
		p.pos++
		if p.pos >= len(p.s) || (p.s[p.pos] != '\'' && p.s[p.pos] != '"') {
			return "", p.errorf("expected a string after 'u'")
		}
	}
	quote := p.s[p.pos]
	start := p.pos + 1
	for i := start; i < len(p.s); i++ {
		switch p.s[i] {
		case quote:
			p.pos = i + 1
			return string(p.s[start:i]), nil
		case '\\':
			p.pos = i
			return "", p.errorf("escape sequences are not supported in header strings")
		case '\n':
			p.pos = i
			return "", p.errorf("unterminated string")
		}
	}
	p.pos = len(p.s)
	return "", p.errorf("unterminated string")
}

// parseBool parses True or False.
func (p *literalParser) parseBool() (pyValue, error) {
	for _, w := range [...]struct {
		word string
		val  bool
	}{{"True", true}, {"False", false}} {
		end := p.pos + len(w.word)
		if end <= len(p.s) && string(p.s[p.pos:end]) == w.word && !isIdentByte(p.s, end) {
			p.pos = end
			return pyValue{kind: pyBool, b: w.val}, nil
		}
	}
	return pyValue{}, p.errorf("expected True or False")
}

func isIdentByte(s []byte, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// parseInt parses an optionally negative decimal integer that fits int64,
// with the Python 2 "L" suffix when allowed.
func (p *literalParser) parseInt() (pyValue, error) {
	neg := false
	if p.s[p.pos] == '-' {
		neg = true
		p.pos++
		p.skipSpace()
	}
	start := p.pos
	var n uint64
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		d := uint64(p.s[p.pos] - '0')
		if n > (math.MaxInt64-d)/10 {
			return pyValue{}, p.errorf("integer %s... does not fit in 64 bits", p.s[start:p.pos+1])
		}
		n = n*10 + d
		p.pos++
	}
	digits := p.s[start:p.pos]
	switch {
	case len(digits) == 0:
		return pyValue{}, p.errorf("expected digits after '-'")
	case len(digits) > 1 && digits[0] == '0' && n != 0:
		return pyValue{}, p.errorf("integer %s has a leading zero", digits)
	}
	if p.allowLongL && p.pos < len(p.s) && p.s[p.pos] == 'L' {
		p.pos++
	}
	if isIdentByte(p.s, p.pos) {
		return pyValue{}, p.errorf("invalid integer literal %s%c", digits, p.s[p.pos])
	}
	v := int64(n)
	if neg {
		v = -v
	}
	return pyValue{kind: pyInt, n: v}, nil
}

// parseSequence parses a tuple or a list. A parenthesised single value
// without a comma is that value, as in Python: "(3)" is the int 3.
func (p *literalParser) parseSequence(depth int, closer byte, kind pyKind) (pyValue, error) {
	p.pos++ // opener
	var items []pyValue
	sawComma := false
	for {
		if p.peek() == closer {
			p.pos++
			break
		}
		v, err := p.parseValue(depth + 1)
		if err != nil {
			return pyValue{}, err
		}
		items = append(items, v)
		switch p.peek() {
		case ',':
			p.pos++
			sawComma = true
		case closer:
		default:
			return pyValue{}, p.errorf("expected ',' or %q in a %s, found %s", closer, kind, p.describeNext())
		}
	}
	if kind == pyTuple && len(items) == 1 && !sawComma {
		return items[0], nil
	}
	return pyValue{kind: kind, items: items}, nil
}
