package store

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"deltafs/catalog"
)

// UsageStats are logical and stored bytes of a group of files.
type UsageStats struct {
	Name         string // model or strategy
	Files        int
	LogicalBytes int64
	StoredBytes  int64
}

// Ratio is LogicalBytes/StoredBytes (0 when nothing is stored).
func (u UsageStats) Ratio() float64 {
	if u.StoredBytes == 0 {
		return 0
	}
	return float64(u.LogicalBytes) / float64(u.StoredBytes)
}

// Stats summarise the whole store.
type Stats struct {
	Total       UsageStats
	Models      []UsageStats // sorted by name
	Strategies  []UsageStats // sorted by name
	Objects     int
	ObjectBytes int64 // bytes of all object files, live or not
}

// usageGroup accumulates a UsageStats counting each object once.
type usageGroup struct {
	UsageStats
	objects map[string]bool
}

// add counts one file whose object is rec.
func (g *usageGroup) add(e catalog.Entry, rec catalog.Object) {
	g.Files++
	g.LogicalBytes += e.Size
	if rec.ID != "" && !g.objects[rec.ID] {
		g.objects[rec.ID] = true
		g.StoredBytes += rec.StoredSize
	}
}

// Stats computes usage per model and per strategy (a file stored tensor by
// tensor counts under PartsStrategy, with its tensors' objects). An object shared by
// several files counts once in each group; the total's stored bytes are
// those of every live object, the bases that deltas still need included
// (even when no file shows them any more).
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	entries, err := s.catalog.Walk(ctx, "")
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	records, err := s.catalog.Objects(ctx)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	byID := make(map[string]catalog.Object, len(records))
	for _, o := range records {
		byID[o.ID] = o
	}
	models := make(map[string]*usageGroup)
	strategies := make(map[string]*usageGroup)
	group := func(m map[string]*usageGroup, name string) *usageGroup {
		g, ok := m[name]
		if !ok {
			g = &usageGroup{UsageStats: UsageStats{Name: name}, objects: make(map[string]bool)}
			m[name] = g
		}
		return g
	}
	for _, e := range entries {
		if e.Kind == catalog.KindDir {
			if isTopLevel(e.Path) {
				group(models, e.Path)
			}
			continue
		}
		rec := byID[e.Object]
		strategy := rec.Strategy
		if isParted(e) {
			strategy = PartsStrategy
		} else if strategy == "" {
			strategy = "missing"
		}
		groups := []*usageGroup{group(strategies, strategy)}
		if model := modelOf(e.Path, false); model != "" {
			groups = append(groups, group(models, model))
		}
		for _, g := range groups {
			g.add(e, rec)
		}
		if err := s.addPartsUsage(ctx, e, byID, groups...); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		st.Total.Files++
		st.Total.LogicalBytes += e.Size
	}
	live, err := s.catalog.LiveObjects(ctx)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for id := range live {
		st.Total.StoredBytes += byID[id].StoredSize
	}
	st.Total.Name = "total"
	st.Models = sortedUsage(models)
	st.Strategies = sortedUsage(strategies)

	ids, err := s.objects.List(ctx)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for _, id := range ids {
		st.Objects++
		if o, ok := byID[id]; ok {
			st.ObjectBytes += o.StoredSize
			continue
		}
		if r, err := s.objects.Open(ctx, id); err == nil {
			st.ObjectBytes += r.Size()
			r.Close()
		}
	}
	return st, nil
}

// sortedUsage returns the groups' stats sorted by name.
func sortedUsage(m map[string]*usageGroup) []UsageStats {
	out := make([]UsageStats, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[name].UsageStats)
	}
	return out
}
