package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"4096", 4096, false},
		{"1KiB", 1024, false},
		{"1k", 1024, false},
		{"1KB", 1000, false},
		{"1GiB", 1 << 30, false},
		{"512 MiB", 512 << 20, false},
		{"1.5g", 3 << 29, false},
		{"2m", 2 << 20, false},
		{"1TB", 1e12, false},
		{"8EiB", 0, true},
		{"9223372036854775807", 9223372036854775807, false},
		{"9223372036854775808", 0, true},
		{"100000000000TiB", 0, true},
		{"", 0, true},
		{"GiB", 0, true},
		{"-1", 0, true},
		{"1 parsec", 0, true},
		{"1.2.3", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{1 << 30, "1.0 GiB"},
		{-2048, "-2.0 KiB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.in); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	if got := formatRatio(300, 100); got != "3.00x" {
		t.Errorf("formatRatio(300,100) = %q", got)
	}
	if got := formatRatio(300, 0); got != "-" {
		t.Errorf("formatRatio(300,0) = %q", got)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1GiB", "4096", "1.5 MB", "", "99999999999999999999T", ".", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d, negative", s, n)
		}
	})
}
