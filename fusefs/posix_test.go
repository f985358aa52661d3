package fusefs

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"deltafs/store"
)

// posixSkipped are the go-fuse posixtest checks that do not apply to
// deltafs, with the reason.
var posixSkipped = map[string]string{
	"Link":                "no hard links: every path is its own catalog entry",
	"LinkUnlinkRename":    "no hard links",
	"SymlinkReadlink":     "no symbolic links in a store of tensors",
	"SetattrSymlink":      "no symbolic links",
	"OpenSymlinkRace":     "no symbolic links",
	"FcntlFlockLocksFile": "no POSIX locks",
	"FcntlFlockSetLk":     "no POSIX locks",
	"XAttr":               "only the user.deltafs.* attributes exist; others are refused",
	"XAttrLarge":          "only the user.deltafs.* attributes exist",
	"LseekHoleSeeksToEOF": "SEEK_HOLE is answered only for files open for writing",
	"LseekEnxioCheck":     "SEEK_DATA/SEEK_HOLE is answered only for files open for writing",
}

// TestPosix runs the applicable checks of go-fuse's posixtest package, each
// in a fresh model directory of one mount.
func TestPosix(t *testing.T) {
	s, _ := newStore(t, store.Options{})
	logger, _ := newTestLogger(t)
	m := mountStore(t, s, MountOptions{Logger: logger, Debug: os.Getenv("FUSEFS_DEBUG") != ""})
	var names []string
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fn := posixtest.All[name]
		t.Run(name, func(t *testing.T) {
			if reason, ok := posixSkipped[name]; ok {
				t.Skip(reason)
			}
			dir := filepath.Join(m.Dir(), "posix-"+name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			fn(t, dir)
		})
	}
}
