package catalog_test

import (
	"path/filepath"
	"testing"

	"deltafs/catalog"
	"deltafs/catalog/objecttest"
)

// TestDirObjectsConformance runs the ObjectStore conformance suite against
// the local directory store.
func TestDirObjectsConformance(t *testing.T) {
	objecttest.Run(t, func(t *testing.T) catalog.ObjectStore {
		d, err := catalog.NewDirObjects(filepath.Join(t.TempDir(), "objects"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
