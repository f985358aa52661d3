// Package durable holds the small file-system steps that make a change
// survive a crash.
package durable

import "os"

// SyncDir fsyncs the directory dir, so that the names created, renamed or
// removed in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
