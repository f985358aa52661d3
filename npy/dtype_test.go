package npy

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestParseDescr(t *testing.T) {
	n := NativeOrder
	tests := []struct {
		descr string
		want  DType
	}{
		{"|b1", Bool}, {"<b1", Bool}, {">b1", Bool}, {"b1", Bool}, {"?", Bool}, {"bool", Bool},
		{"|i1", Int8}, {"<i1", Int8}, {"b", Int8}, {"int8", Int8},
		{"|u1", Uint8}, {">u1", Uint8}, {"B", Uint8}, {"uint8", Uint8},
		{"<i2", Int16}, {">i2", Int16.WithOrder('>')}, {"<h", Int16},
		{"<i4", Int32}, {">i4", Int32.WithOrder('>')},
		{"<i8", Int64}, {">i8", Int64.WithOrder('>')}, {"<q", Int64}, {"<l", Int64},
		{"<u2", Uint16}, {"<u4", Uint32}, {"<u8", Uint64}, {">u8", Uint64.WithOrder('>')},
		{"<f2", Float16}, {">f2", Float16.WithOrder('>')}, {"<e", Float16},
		{"<f4", Float32}, {">f4", Float32.WithOrder('>')}, {"<f", Float32},
		{"<f8", Float64}, {">d", Float64.WithOrder('>')},
		{"<c8", Complex64}, {">c8", Complex64.WithOrder('>')}, {"<F", Complex64},
		{"<c16", Complex128}, {">c16", Complex128.WithOrder('>')}, {"<D", Complex128},
		// Native descriptors take the host's order.
		{"=f4", Float32.WithOrder(n)}, {"|f4", Float32.WithOrder(n)}, {"f4", Float32.WithOrder(n)},
		{"=i8", Int64.WithOrder(n)}, {"f", Float32.WithOrder(n)}, {"float32", Float32.WithOrder(n)},
		{"float16", Float16.WithOrder(n)}, {"complex128", Complex128.WithOrder(n)}, {"=u1", Uint8},
	}
	for _, tt := range tests {
		got, err := ParseDescr(tt.descr)
		if err != nil || got != tt.want {
			t.Errorf("ParseDescr(%q) = %v, %v; want %v", tt.descr, got, err, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("ParseDescr(%q) returned an invalid dtype: %v", tt.descr, err)
		}
	}
}

func TestParseDescrUnsupported(t *testing.T) {
	for _, descr := range []string{
		"", "<", "|S4", "<U3", "|O", "|V8", "<M8[s]", "<m8[ns]", "<f16", "<c32", "<f12",
		"<i16", "<u3", "|b2", "<f1", "<f04", "<f+4", "<f-4", "c", "u", "xyz", "<<f4", "float128",
		"<float32", "[('a', '<f4')]", "<f4 ", " <f4",
	} {
		got, err := ParseDescr(descr)
		if !errors.Is(err, ErrUnsupportedDType) {
			t.Errorf("ParseDescr(%q) = %v, %v; want ErrUnsupportedDType", descr, got, err)
		}
	}
}

func TestDescrRoundTrip(t *testing.T) {
	for _, d := range []DType{Bool, Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64,
		Float16, Float32, Float64, Complex64, Complex128, Float32.WithOrder('>'), Complex128.WithOrder('>')} {
		got, err := ParseDescr(d.Descr())
		if err != nil || got != d {
			t.Errorf("ParseDescr(%q) = %v, %v; want %v", d.Descr(), got, err, d)
		}
	}
}

func TestDTypeValidate(t *testing.T) {
	tests := []struct {
		d  DType
		ok bool
	}{
		{Float32, true}, {Bool, true}, {Complex128.WithOrder('>'), true},
		{DType{Kind: 'f', Size: 4, Order: '|'}, false},
		{DType{Kind: 'f', Size: 4, Order: '='}, false},
		{DType{Kind: 'i', Size: 1, Order: '<'}, false},
		{DType{Kind: 'f', Size: 16, Order: '<'}, false},
		{DType{Kind: 'S', Size: 4, Order: '|'}, false},
		{DType{}, false},
	}
	for _, tt := range tests {
		err := tt.d.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrUnsupportedDType)) {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.d, err, tt.ok)
		}
	}
}

func TestNativeOrderMatchesHost(t *testing.T) {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 0x0102)
	want := byte('>')
	if b[0] == 0x02 {
		want = '<'
	}
	if NativeOrder != want {
		t.Fatalf("NativeOrder = %q, host is %q", NativeOrder, want)
	}
}

func TestByteOrder(t *testing.T) {
	if Float32.ByteOrder() != binary.LittleEndian || Float32.WithOrder('>').ByteOrder() != binary.BigEndian ||
		Uint8.ByteOrder() != binary.LittleEndian {
		t.Fatal("ByteOrder does not follow Order")
	}
	if !Uint8.IsLittleEndian() || Float64.WithOrder('>').IsLittleEndian() {
		t.Fatal("IsLittleEndian does not follow Order")
	}
}
