package npy_test

import (
	"fmt"

	"deltafs/npy"
)

func ExampleFormatHeader() {
	hdr, err := npy.FormatHeader(npy.Header{DType: npy.Float32, Shape: []int64{3, 4}})
	if err != nil {
		panic(err)
	}
	h, offset, err := npy.ParseHeader(hdr)
	fmt.Printf("%d bytes, data at %d: %s %v fortran=%v, %v\n", len(hdr), offset, h.DType, h.Shape, h.Fortran, err)
	fmt.Printf("%q\n", hdr[10:69])
	// Output:
	// 128 bytes, data at 128: <f4 [3 4] fortran=false, <nil>
	// "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
}

func ExampleParseDescr() {
	for _, s := range []string{"<f4", ">i8", "?", "|u1", "|S4"} {
		d, err := npy.ParseDescr(s)
		if err != nil {
			fmt.Println(s, "->", err)
			continue
		}
		fmt.Println(s, "->", d)
	}
	// Output:
	// <f4 -> <f4
	// >i8 -> >i8
	// ? -> |b1
	// |u1 -> |u1
	// |S4 -> npy: unsupported dtype: descr "|S4" (kind 'S', 4 bytes) is not bool, int, uint, float16/32/64 or complex64/128
}
