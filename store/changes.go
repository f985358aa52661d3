package store

import (
	"context"
	"fmt"
)

// maxChangeBatch bounds the changes one ChangesSince reads.
const maxChangeBatch = 4096

// Changes is what other processes (or other opens of the store) committed
// after a sequence number: the change feed a mount follows to drop what it
// cached of paths changed elsewhere.
type Changes struct {
	// Paths are the changed paths in the order of their first change,
	// each once: a created, overwritten, renamed (old and new path),
	// removed or re-described (mode, owner, time) file or directory, or a
	// model whose base was set. Changes committed through this Store are
	// left out: who made them knows.
	Paths []string
	// Next is the sequence number to pass to the next ChangesSince.
	Next uint64
	// Lost reports that the log no longer holds every change after the
	// asked number (the reader fell far behind): assume anything changed.
	Lost bool
	// More reports that the batch was cut: call again at once with Next.
	More bool
}

// ChangeSeq returns the sequence number of the newest committed change:
// ChangesSince(ChangeSeq()) reports what is committed from now on.
func (s *Store) ChangeSeq(ctx context.Context) (uint64, error) {
	seq, err := s.catalog.LastChange(ctx)
	if err != nil {
		return 0, fmt.Errorf("change feed: %w", err)
	}
	return seq, nil
}

// ChangesSince returns the changes committed after sequence number after.
// With nothing new it costs one indexed query, so it can be polled often.
//
// The embedded store logs changes in its catalog and readers poll; a
// catalog on a server could also announce them (PostgreSQL's LISTEN/NOTIFY)
// to wake a reader early, behind the same call.
func (s *Store) ChangesSince(ctx context.Context, after uint64) (Changes, error) {
	b, err := s.catalog.Changes(ctx, after, maxChangeBatch)
	if err != nil {
		return Changes{}, fmt.Errorf("change feed: %w", err)
	}
	out := Changes{Next: after, Lost: b.Lost, More: len(b.Changes) == maxChangeBatch}
	own := s.catalog.Origin()
	seen := make(map[string]bool, len(b.Changes))
	for _, ch := range b.Changes {
		out.Next = ch.Seq
		if ch.Origin == own || seen[ch.Path] {
			continue
		}
		seen[ch.Path] = true
		out.Paths = append(out.Paths, ch.Path)
	}
	return out, nil
}
