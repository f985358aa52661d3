package main

import (
	"os"
	"regexp"
	"testing"

	"deltafs/store"
)

// TestReadmeKnobs keeps README.md's table of settings equal to the store's.
func TestReadmeKnobs(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^  \\| `([a-z_]+)` \\| ([^|]+) \\|").FindAllStringSubmatch(string(readme), -1)
	knobs := store.Knobs()
	if len(rows) != len(knobs) {
		t.Fatalf("README.md lists %d settings, the store has %d", len(rows), len(knobs))
	}
	for i, k := range knobs {
		if rows[i][1] != k.Name || rows[i][2] != k.Default {
			t.Errorf("README row %d: %s = %q; the store has %s = %q", i, rows[i][1], rows[i][2], k.Name, k.Default)
		}
	}
}
