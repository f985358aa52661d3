//go:build amd64 && !purego

package delta

import (
	"testing"
	"unsafe"
)

// TestAVXTableOffsets checks the avxTables offsets auto_kernels_amd64.s
// hard-codes.
func TestAVXTableOffsets(t *testing.T) {
	var tab avxTables
	for _, c := range []struct {
		name     string
		got, asm uintptr
	}{
		{"even", unsafe.Offsetof(tab.even), 1024},
		{"ilvA", unsafe.Offsetof(tab.ilvA), 1088},
		{"ilvB", unsafe.Offsetof(tab.ilvB), 1152},
		{"upper", unsafe.Offsetof(tab.upper), 1216},
		{"sprA", unsafe.Offsetof(tab.sprA), 1280},
		{"sprB", unsafe.Offsetof(tab.sprB), 1344},
		{"every4", unsafe.Offsetof(tab.every4), 1408},
		{"dwA", unsafe.Offsetof(tab.dwA), 1472},
		{"dwB", unsafe.Offsetof(tab.dwB), 1536},
		{"odd", unsafe.Offsetof(tab.odd), 1600},
		{"b01", unsafe.Offsetof(tab.b01), 1664},
		{"b23", unsafe.Offsetof(tab.b23), 1728},
		{"end", unsafe.Offsetof(avxCursors{}.end), 64},
	} {
		if c.got != c.asm {
			t.Errorf("%s at offset %d, the assembly uses %d", c.name, c.got, c.asm)
		}
	}
}
