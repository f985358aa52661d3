package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// rawHeader builds an .npy header of the given version around dict text,
// with a correct length field and the data offset aligned as numpy does.
func rawHeader(major byte, dict string) []byte {
	lenSize := 2
	if major > 1 {
		lenSize = 4
	}
	prefix := 8 + lenSize
	hlen := len(dict) + 1
	pad := (Align - (prefix+hlen)%Align) % Align
	body := dict + strings.Repeat(" ", pad) + "\n"
	b := []byte(magicPrefix)
	b = append(b, major, 0)
	if lenSize == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(body)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	}
	return append(b, body...)
}

func TestParseHeaderVariants(t *testing.T) {
	f4 := Float32
	tests := []struct {
		name    string
		major   byte
		dict    string
		dtype   DType
		fortran bool
		shape   []int64
	}{
		{"numpy 1.24", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", f4, false, []int64{3, 4}},
		{"old numpy, no growth spaces", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", f4, false, []int64{3, 4}},
		{"key order", 1, "{'shape': (3,), 'fortran_order': True, 'descr': '<f4'}", f4, true, []int64{3}},
		{"double quotes", 1, `{"descr": "<f4", "fortran_order": False, "shape": (3,)}`, f4, false, []int64{3}},
		{"u prefix", 1, `{u'descr': u'<f4', u'fortran_order': False, u'shape': (3,)}`, f4, false, []int64{3}},
		{"no spaces", 1, "{'descr':'<f4','fortran_order':False,'shape':(3,4)}", f4, false, []int64{3, 4}},
		{"newlines and tabs", 1, "{\n\t'descr' : '<f4' ,\n 'fortran_order' : False ,\n 'shape' : ( 3 , 4 , ) ,\n}", f4, false, []int64{3, 4}},
		{"trailing comma in shape", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4,), }", f4, false, []int64{3, 4}},
		{"python 2 L suffix", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }", f4, false, []int64{3, 4}},
		{"L suffix in 2.0", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }", f4, false, []int64{3}},
		{"0-d", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", Bool, false, nil},
		{"empty", 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (0, 3), }", Int64.WithOrder('>'), false, []int64{0, 3}},
		{"native descr", 1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", Float32.WithOrder(NativeOrder), false, []int64{2}},
		{"one-letter descr", 1, "{'descr': 'd', 'fortran_order': False, 'shape': (2,), }", Float64.WithOrder(NativeOrder), false, []int64{2}},
		{"version 3.0", 3, "{'descr': '<c16', 'fortran_order': True, 'shape': (2, 2), }", Complex128, true, []int64{2, 2}},
		{"largest dimension", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (9223372036854775807,), }", Uint8, false, []int64{math.MaxInt64}},
		{"zero dim beside a huge one", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 1152921504606846975), }", Float64, false, []int64{0, 1<<60 - 1}},
		{"no padding, no newline", 1, "", f4, false, []int64{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			if tt.dict == "" {
				dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (7,)}"
				b = append([]byte(magicPrefix+"\x01\x00"), byte(len(dict)), 0)
				b = append(b, dict...)
			} else {
				b = rawHeader(tt.major, tt.dict)
			}
			b = append(b, "DATA"...)
			h, off, err := ParseHeader(b)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if h.DType != tt.dtype || h.Fortran != tt.fortran || !slices.Equal(h.Shape, tt.shape) {
				t.Errorf("got %v fortran=%v shape=%v; want %v %v %v", h.DType, h.Fortran, h.Shape, tt.dtype, tt.fortran, tt.shape)
			}
			if string(b[off:]) != "DATA" {
				t.Errorf("data offset %d points at %q", off, b[off:])
			}
			if h.Major != tt.major && tt.dict != "" {
				t.Errorf("version %d.%d, want %d.0", h.Major, h.Minor, tt.major)
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	const good = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
	tests := []struct {
		name  string
		input []byte
		want  error
		msg   string // part of the error message
	}{
		{"other file", []byte("PK\x03\x04 a zip"), ErrNotNPY, "magic"},
		{"almost magic", []byte("\x93NUMPX\x01\x00"), ErrNotNPY, "magic"},
		{"empty", nil, ErrTruncated, "magic"},
		{"magic only", []byte(magicPrefix), ErrTruncated, "magic and version"},
		{"no length", []byte(magicPrefix + "\x01\x00\x10"), ErrTruncated, "prefix"},
		{"v2 short length", []byte(magicPrefix + "\x02\x00\x10\x00"), ErrTruncated, "prefix"},
		{"version 4", append([]byte(magicPrefix+"\x04\x00"), rawHeader(1, good)[8:]...), ErrMalformed, "version 4.0"},
		{"version 1.1", []byte(magicPrefix + "\x01\x01\x10\x00"), ErrMalformed, "version 1.1"},
		{"header beyond input", rawHeader(1, good)[:40], ErrTruncated, "declares"},
		{"v2 header length huge", []byte(magicPrefix + "\x02\x00\xff\xff\xff\xff{"), ErrMalformed, "exceeds the limit"},
		{"not a dict", rawHeader(1, "['descr', '<f4']"), ErrMalformed, "not a dictionary"},
		{"garbage", rawHeader(1, "\x00\x01\x02"), ErrMalformed, "not a dictionary"},
		{"unterminated dict", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)"), ErrMalformed, "expected ',' or '}'"},
		{"trailing junk", rawHeader(1, good+" x"), ErrMalformed, "after the header dict"},
		{"two dicts", rawHeader(1, good+good), ErrMalformed, "after the header dict"},
		{"missing shape", rawHeader(1, "{'descr': '<f4', 'fortran_order': False}"), ErrMalformed, `"shape" is missing`},
		{"missing descr", rawHeader(1, "{'fortran_order': False, 'shape': ()}"), ErrMalformed, `"descr" is missing`},
		{"missing fortran_order", rawHeader(1, "{'descr': '<f4', 'shape': ()}"), ErrMalformed, `"fortran_order" is missing`},
		{"empty dict", rawHeader(1, "{}"), ErrMalformed, "missing"},
		{"unknown key", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}"), ErrMalformed, `unknown key "extra"`},
		{"duplicate key", rawHeader(1, "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': ()}"), ErrMalformed, "twice"},
		{"negative dim", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }"), ErrMalformed, "negative"},
		{"dim beyond int64", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,), }"), ErrMalformed, "64 bits"},
		{"elements overflow", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), ErrMalformed, "overflows"},
		{"bytes overflow", rawHeader(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }"), ErrMalformed, "overflows"},
		{"overflow hidden by zero", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }"), ErrMalformed, "overflows"},
		{"too many dims", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ("+strings.Repeat("1, ", 65)+"), }"), ErrMalformed, "dimensions"},
		{"shape is a list", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [3, 4], }"), ErrMalformed, "shape is a list"},
		{"shape is an int", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }"), ErrMalformed, "shape is a int"},
		{"shape (3) is an int", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }"), ErrMalformed, "shape is a int"},
		{"shape of strings", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ('3',), }"), ErrMalformed, "dimension 0 is a string"},
		{"shape of bools", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (True,), }"), ErrMalformed, "dimension 0 is a bool"},
		{"float dim", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3.0,), }"), ErrMalformed, "'.'"},
		{"hex dim", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0x3,), }"), ErrMalformed, "invalid integer"},
		{"leading zero", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }"), ErrMalformed, "leading zero"},
		{"L suffix in 3.0", rawHeader(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }"), ErrMalformed, "invalid integer"},
		{"lower-case l suffix", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3l,), }"), ErrMalformed, "invalid integer"},
		{"empty tuple item", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,,), }"), ErrMalformed, "literal value"},
		{"fortran_order 0", rawHeader(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (), }"), ErrMalformed, "fortran_order is a int"},
		{"fortran_order string", rawHeader(1, "{'descr': '<f4', 'fortran_order': 'False', 'shape': (), }"), ErrMalformed, "fortran_order is a string"},
		{"fortran_order true", rawHeader(1, "{'descr': '<f4', 'fortran_order': true, 'shape': (), }"), ErrMalformed, "literal value"},
		{"Truely", rawHeader(1, "{'descr': '<f4', 'fortran_order': Truely, 'shape': (), }"), ErrMalformed, "True or False"},
		{"descr int", rawHeader(1, "{'descr': 4, 'fortran_order': False, 'shape': (), }"), ErrMalformed, "descr is a int"},
		{"unterminated string", rawHeader(1, "{'descr': '<f4"), ErrMalformed, "unterminated string"},
		{"quote mismatch", rawHeader(1, "{'descr': '<f4, 'fortran_order': False, 'shape': (), }"), ErrMalformed, "after the value of \"descr\""},
		{"escape in string", rawHeader(1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (), }"), ErrMalformed, "escape"},
		{"deep nesting", rawHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': "+strings.Repeat("(", 100)+"}"), ErrMalformed, "nested"},
		{"bad utf-8 in 3.0", rawHeader(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (), '\xff': 1}"), ErrMalformed, "UTF-8"},
		{"structured", rawHeader(1, "{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (2,), }"), ErrUnsupportedDType, "structured"},
		{"subarray", rawHeader(1, "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (2,), }"), ErrUnsupportedDType, "subarray"},
		{"object", rawHeader(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"), ErrUnsupportedDType, "|O"},
		{"long double", rawHeader(1, "{'descr': '<f16', 'fortran_order': False, 'shape': (2,), }"), ErrUnsupportedDType, "<f16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, err := ParseHeader(tt.input)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseHeader = %+v, %v; want %v", h, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			// ReadHeader agrees on the class of error.
			if _, _, rerr := ReadHeader(bytes.NewReader(tt.input)); !errors.Is(rerr, tt.want) {
				t.Errorf("ReadHeader error = %v; want %v", rerr, tt.want)
			}
		})
	}
}

// TestTruncatedEverywhere cuts a real numpy header at every length: each
// prefix is ErrTruncated, never a panic or a success.
func TestTruncatedEverywhere(t *testing.T) {
	for _, major := range []byte{1, 2, 3} {
		h := Header{DType: Float32, Shape: []int64{3, 4}}
		full, err := FormatHeaderVersion(h, major, 0)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(full) {
			if _, _, err := ParseHeader(full[:n]); !errors.Is(err, ErrTruncated) {
				t.Errorf("v%d cut at %d: ParseHeader error %v, want ErrTruncated", major, n, err)
			}
			if _, _, err := ReadHeader(bytes.NewReader(full[:n])); !errors.Is(err, ErrTruncated) {
				t.Errorf("v%d cut at %d: ReadHeader error %v, want ErrTruncated", major, n, err)
			}
		}
	}
}

func TestReadHeaderReadsExactly(t *testing.T) {
	h := Header{DType: Int16.WithOrder('>'), Fortran: true, Shape: []int64{2, 5}}
	hdr, err := FormatHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789abcdefghij")
	// One byte at a time: ReadHeader must not read past the header.
	r := iotest.OneByteReader(bytes.NewReader(append(slices.Clip(hdr), data...)))
	got, raw, err := ReadHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, hdr) || !sameHeader(got, Header{Major: 1, DType: h.DType, Fortran: true, Shape: h.Shape}) {
		t.Fatalf("ReadHeader = %+v, %q", got, raw)
	}
	rest, _ := io.ReadAll(r)
	if !bytes.Equal(rest, data) {
		t.Fatalf("after the header %q remains, want %q", rest, data)
	}

	// A read error other than EOF comes back wrapped, not as ErrTruncated.
	boom := errors.New("disk on fire")
	_, _, err = ReadHeader(io.MultiReader(bytes.NewReader(hdr[:20]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, ErrTruncated) {
		t.Fatalf("ReadHeader error = %v, want %v", err, boom)
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		dtype       DType
		shape       []int64
		elems, size int64
		ok          bool
	}{
		{Float32, nil, 1, 4, true},
		{Float32, []int64{}, 1, 4, true},
		{Complex128, []int64{0, 3}, 0, 0, true},
		{Float16, []int64{2, 3, 4}, 24, 48, true},
		{Uint8, []int64{math.MaxInt64}, math.MaxInt64, math.MaxInt64, true},
		{Uint16, []int64{math.MaxInt64}, 0, 0, false},
		{Float32, []int64{-1}, 0, 0, false},
		{Float32, []int64{1 << 31, 1 << 31}, 1 << 62, 0, false},
		{Float32, []int64{0, 1 << 40, 1 << 40}, 0, 0, false},
		{Float32, make([]int64, MaxDims+1), 0, 0, false},
	}
	for _, tt := range tests {
		h := Header{DType: tt.dtype, Shape: tt.shape}
		elems, err1 := h.NumElements()
		size, err2 := h.DataSize()
		if !tt.ok {
			if err1 == nil || err2 == nil || !errors.Is(err2, ErrMalformed) {
				t.Errorf("%v %v: NumElements %d, %v; DataSize %d, %v; want errors", tt.dtype, tt.shape, elems, err1, size, err2)
			}
			if _, err := FormatHeader(h); err == nil {
				t.Errorf("%v %v: FormatHeader accepted an invalid shape", tt.dtype, tt.shape)
			}
			continue
		}
		if err1 != nil || err2 != nil || elems != tt.elems || size != tt.size {
			t.Errorf("%v %v: NumElements %d, %v; DataSize %d, %v; want %d, %d", tt.dtype, tt.shape, elems, err1, size, err2, tt.elems, tt.size)
		}
	}
}

func TestFormatHeader(t *testing.T) {
	// The byte-for-byte comparison with numpy is TestGoldenFiles and
	// TestAgainstLiveNumpy; this checks invariants and the rejections.
	for _, h := range []Header{
		{DType: Float32},
		{DType: Bool, Shape: []int64{0}},
		{DType: Complex64.WithOrder('>'), Fortran: true, Shape: []int64{3, 1, 2}},
		{DType: Uint64, Shape: slices.Repeat([]int64{1}, MaxDims)},
		{DType: Int8, Shape: []int64{math.MaxInt64}},
	} {
		b, err := FormatHeader(h)
		if err != nil {
			t.Fatalf("FormatHeader(%+v): %v", h, err)
		}
		if len(b)%Align != 0 || b[len(b)-1] != '\n' || b[6] != 1 || b[7] != 0 {
			t.Errorf("FormatHeader(%+v) = %q: not a 64-byte aligned version 1.0 header", h, b)
		}
		back, off, err := ParseHeader(b)
		if err != nil || off != len(b) || !sameHeader(back, Header{Major: 1, DType: h.DType, Fortran: h.Fortran, Shape: h.Shape}) {
			t.Errorf("round trip of %+v: %+v, %d, %v", h, back, off, err)
		}
	}
	for _, h := range []Header{
		{DType: DType{Kind: 'f', Size: 4, Order: '='}},
		{DType: DType{Kind: 'S', Size: 4, Order: '|'}},
		{DType: Float32, Shape: []int64{-2}},
	} {
		if b, err := FormatHeader(h); err == nil {
			t.Errorf("FormatHeader(%+v) = %q, want an error", h, b)
		}
	}
	if _, err := FormatHeaderVersion(Header{DType: Float32}, 4, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("FormatHeaderVersion(4.0) error = %v", err)
	}
}

func TestDataOffset(t *testing.T) {
	h := Header{DType: Float32, Shape: []int64{3, 4}}
	formatted := func(major byte) []byte {
		b, err := FormatHeaderVersion(h, major, 0)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		b       []byte
		want    int64 // len(header) when -1
		wantErr error
	}{
		{"version 1.0, whole header", formatted(1), -1, nil},
		{"version 2.0, prefix only", formatted(2)[:12], int64(len(formatted(2))), nil},
		{"version 3.0, prefix only", formatted(3)[:12], int64(len(formatted(3))), nil},
		{"version 1.0, prefix only", formatted(1)[:10], int64(len(formatted(1))), nil},
		{"not an npy file", []byte("PK\x03\x04 a zip file"), 0, ErrNotNPY},
		{"prefix cut short", formatted(2)[:9], 0, ErrTruncated},
		{"unknown version", append([]byte("\x93NUMPY\x09\x00"), 0, 0, 0, 0), 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == -1 {
				want = int64(len(tt.b))
			}
			got, err := DataOffset(tt.b)
			if !errors.Is(err, tt.wantErr) || (err == nil && got != want) {
				t.Fatalf("DataOffset = %d, %v; want %d, %v", got, err, want, tt.wantErr)
			}
		})
	}
}
