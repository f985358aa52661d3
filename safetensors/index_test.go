package safetensors

import (
	"errors"
	"testing"
)

// shard returns the header of a shard holding U8 tensors of one byte.
func shard(t *testing.T, names ...string) *Header {
	t.Helper()
	specs := make([]Spec, len(names))
	for i, n := range names {
		specs[i] = Spec{Name: n, DType: U8, Shape: []int64{1}}
	}
	h, err := Layout(nil, specs)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseIndex(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
		n    int
	}{
		{"typical", `{"metadata":{"total_size":12},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors","c":"m-1.safetensors"}}`, nil, 3},
		{"no metadata, trailing newline", "{\"weight_map\":{}}\n", nil, 0},
		{"other keys ignored", `{"x":[1,{"y":2}],"weight_map":{"a":"s"}}`, nil, 1},
		{"no weight_map", `{"metadata":{}}`, ErrInvalidJSON, 0},
		{"not JSON", `{"weight_map":`, ErrInvalidJSON, 0},
		{"not UTF-8", "{\"weight_map\":{\"\xff\":\"s\"}}", ErrInvalidJSON, 0},
		{"shard not a string", `{"weight_map":{"a":1}}`, ErrInvalidJSON, 0},
		{"shard a path", `{"weight_map":{"a":"../x.safetensors"}}`, ErrInvalidJSON, 0},
		{"shard dot-dot", `{"weight_map":{"a":".."}}`, ErrInvalidJSON, 0},
		{"shard empty", `{"weight_map":{"a":""}}`, ErrInvalidJSON, 0},
		{"tensor twice", `{"weight_map":{"a":"s1","a":"s2"}}`, ErrDuplicateName, 0},
		{"weight_map twice", `{"weight_map":{},"weight_map":{}}`, ErrDuplicateName, 0},
		{"duplicate in metadata", `{"metadata":{"k":1,"k":1},"weight_map":{}}`, ErrDuplicateName, 0},
		{"trailing garbage", `{"weight_map":{}},`, ErrInvalidJSON, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := ParseIndex([]byte(tc.in))
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || len(ix.WeightMap) != tc.n {
				t.Fatalf("%v, %v", ix, err)
			}
		})
	}
}

func TestIndexCheck(t *testing.T) {
	ix, err := ParseIndex([]byte(`{"weight_map":{"a":"s1","b":"s2","c":"s1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Shards(); len(got) != 2 || got[0] != "s1" || got[1] != "s2" {
		t.Fatalf("Shards() = %v", got)
	}
	tests := []struct {
		name   string
		shards map[string]*Header
		want   error
	}{
		{"consistent", map[string]*Header{"s1": shard(t, "a", "c"), "s2": shard(t, "b")}, nil},
		{"unlisted tensor allowed", map[string]*Header{"s1": shard(t, "a", "c", "extra"), "s2": shard(t, "b")}, nil},
		{"missing shard", map[string]*Header{"s1": shard(t, "a", "c")}, ErrMissingShard},
		{"tensor in two shards", map[string]*Header{"s1": shard(t, "a", "c"), "s2": shard(t, "b", "c")}, ErrShardConflict},
		{"tensor in another shard", map[string]*Header{"s1": shard(t, "a"), "s2": shard(t, "b", "c")}, ErrShardConflict},
		{"tensor in no shard", map[string]*Header{"s1": shard(t, "a"), "s2": shard(t, "b")}, ErrShardConflict},
		{"unlisted tensor twice", map[string]*Header{"s1": shard(t, "a", "c", "x"), "s2": shard(t, "b", "x")}, ErrShardConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ix.Check(tc.shards)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
