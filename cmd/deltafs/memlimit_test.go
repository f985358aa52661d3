package main

import (
	"math"
	"testing"
)

func TestMountMemoryLimit(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	tests := []struct {
		name      string
		cache     int64
		vars      map[string]string
		wantLimit int64
		wantOK    bool
	}{
		{"default cache", 1 << 30, nil, 1<<30 + 40<<20, true},
		{"small cache", 8 << 20, map[string]string{"GOGC": "50"}, 48 << 20, true},
		{"user's GOMEMLIMIT rules", 1 << 30, map[string]string{"GOMEMLIMIT": "2GiB"}, 0, false},
		{"user's GOMEMLIMIT=off rules", 1 << 30, map[string]string{"GOMEMLIMIT": "off"}, 0, false},
		{"huge cache does not overflow", math.MaxInt64 - 1, nil, math.MaxInt64, true},
	}
	for _, tt := range tests {
		limit, ok := mountMemoryLimit(tt.cache, env(tt.vars))
		if limit != tt.wantLimit || ok != tt.wantOK {
			t.Errorf("%s: %d, %v; want %d, %v", tt.name, limit, ok, tt.wantLimit, tt.wantOK)
		}
	}
}
