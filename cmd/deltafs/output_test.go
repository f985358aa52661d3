package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestTableTrimsTrailingBlanks(t *testing.T) {
	var b strings.Builder
	tw := newTable(&b)
	fmt.Fprintln(tw, "A\tBB\tC")
	fmt.Fprintln(tw, "\t\t")
	fmt.Fprintln(tw, "long value\tx\t")
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "A           BB  C\n\nlong value  x\n"
	if b.String() != want {
		t.Errorf("table = %q, want %q", b.String(), want)
	}
}

func TestShapeString(t *testing.T) {
	tests := []struct {
		in   []int64
		want string
	}{
		{nil, "()"},
		{[]int64{5}, "(5,)"},
		{[]int64{3, 4}, "(3, 4)"},
		{[]int64{0, 5, 1}, "(0, 5, 1)"},
	}
	for _, tt := range tests {
		if got := shapeString(tt.in); got != tt.want {
			t.Errorf("shapeString(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
