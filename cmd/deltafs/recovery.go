package main

import (
	"fmt"
	"io"

	"deltafs/store"
)

// reportRecovery tells on stderr what opening the store finished for
// processes that are gone (a crash, a killed import), one line each.
func reportRecovery(w io.Writer, r store.Recovery) {
	if r.Sessions > 0 {
		fmt.Fprintf(w, "deltafs: cleared the staging files of %s that died\n", plural(r.Sessions, "process", "processes"))
	}
	if r.StoredFiles > 0 {
		fmt.Fprintf(w, "deltafs: stored %s closed through a write-back mount before it stopped\n", plural(r.StoredFiles, "file", "files"))
	}
	if r.DroppedFiles > 0 {
		fmt.Fprintf(w, "deltafs: dropped %s closed through a write-back mount whose directory was removed since\n", plural(r.DroppedFiles, "file", "files"))
	}
	if r.SupersededFiles > 0 {
		fmt.Fprintf(w, "deltafs: did not store %s closed through a write-back mount: another process stored or removed a newer file at the same path since\n", plural(r.SupersededFiles, "file", "files"))
	}
	for _, m := range r.RemovedModels {
		fmt.Fprintf(w, "deltafs: removed model %s: its import did not finish\n", m)
	}
	if r.Objects > 0 {
		fmt.Fprintf(w, "deltafs: deleted %s nothing references (%s)\n", plural(r.Objects, "object", "objects"), formatSize(r.ObjectBytes))
	}
}

// plural is "1 file" or "2 files".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
