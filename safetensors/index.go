package safetensors

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// IndexSuffix ends the name of a sharded model's index file, as in
// "model.safetensors.index.json".
const IndexSuffix = ".safetensors.index.json"

// Index is the index JSON of a sharded model: which shard file holds each
// tensor. Keys other than weight_map (usually "metadata") are checked for
// syntax and duplicate names, then ignored; the caller keeps the file's
// bytes.
type Index struct {
	// WeightMap maps a tensor name to the file name of its shard.
	WeightMap map[string]string
}

// ParseIndex parses and validates an index JSON. Shard names must be plain
// file names in the index's directory (no separators, not "." or "..").
func ParseIndex(b []byte) (*Index, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: index is not UTF-8", ErrInvalidJSON)
	}
	t := newTokens(b)
	ix := &Index{}
	err := t.object("index", func(key string) error {
		if key != "weight_map" {
			return t.skip("index " + key)
		}
		ix.WeightMap = make(map[string]string)
		return t.object("weight_map", func(name string) error {
			shard, err := t.str(fmt.Sprintf("weight_map[%q]", name))
			if err != nil {
				return err
			}
			if !plainFileName(shard) {
				return fmt.Errorf("%w: weight_map puts %q in %q, not a file name", ErrInvalidJSON, name, shard)
			}
			ix.WeightMap[name] = shard
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if err := t.end(); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if ix.WeightMap == nil {
		return nil, fmt.Errorf("index: %w: no weight_map", ErrInvalidJSON)
	}
	return ix, nil
}

func plainFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// Shards returns the shard file names the index names, sorted.
func (ix *Index) Shards() []string {
	var out []string
	for _, s := range ix.WeightMap {
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Check checks the index against the headers of the shards present, keyed
// by file name: every shard it names is present (else ErrMissingShard), no
// tensor name is in two shards, and every tensor is in the shard the index
// names (else ErrShardConflict). Tensors of a shard that the index does not
// list are allowed, as loaders ignore them.
func (ix *Index) Check(shards map[string]*Header) error {
	for _, s := range ix.Shards() {
		if shards[s] == nil {
			return fmt.Errorf("%w: the index names %q", ErrMissingShard, s)
		}
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	slices.Sort(names)
	home := make(map[string]string)
	for _, s := range names {
		for _, t := range shards[s].Tensors {
			if other, ok := home[t.Name]; ok {
				return fmt.Errorf("%w: tensor %q is in both %q and %q", ErrShardConflict, t.Name, other, s)
			}
			home[t.Name] = s
		}
	}
	tensors := make([]string, 0, len(ix.WeightMap))
	for name := range ix.WeightMap {
		tensors = append(tensors, name)
	}
	slices.Sort(tensors)
	for _, name := range tensors {
		if want := ix.WeightMap[name]; home[name] != want {
			return fmt.Errorf("%w: the index puts %q in %q but that shard does not hold it", ErrShardConflict, name, want)
		}
	}
	return nil
}
