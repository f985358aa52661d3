package main

import (
	"math"
	"runtime/debug"
)

// residentBudgetSlack is what the mount daemon's resident memory may exceed
// its chunk cache by (issue 4: at most the cache size plus 64 MiB).
const residentBudgetSlack = 64 << 20

// residentOutsideGo is resident memory the Go memory limit does not govern:
// the executable's mapped text and data pages and the runtime's untracked
// overhead. With a 12.6 MB text segment, a limit of cache + 64 MiB let the
// daemon peak at cache + 68–71 MiB reading 4× its cache, and cache +
// 48 MiB at cache + 55–56 MiB (fusefs/BENCHMARKS.md). The clients of the
// remote backends (PostgreSQL, S3) took the text to 29 MB, of which 8 readers
// touch about 21 MiB: VmHWM reached cache + 66 MiB at cache + 48 MiB
// (TestMemoryBounds), hence 24 MiB.
const residentOutsideGo = 24 << 20

// memoryLimitSlack is the Go memory limit's allowance beyond the cache.
const memoryLimitSlack = residentBudgetSlack - residentOutsideGo

// mountMemoryLimit is the Go memory limit of a mount daemon whose chunk
// cache holds cacheSize bytes: cacheSize + memoryLimitSlack, so that its
// resident memory stays within cacheSize + residentBudgetSlack; or none
// (ok false) when the user set GOMEMLIMIT, which then rules.
func mountMemoryLimit(cacheSize int64, lookupEnv func(string) (string, bool)) (limit int64, ok bool) {
	if _, set := lookupEnv("GOMEMLIMIT"); set {
		return 0, false
	}
	if cacheSize > math.MaxInt64-memoryLimitSlack {
		return math.MaxInt64, true
	}
	return cacheSize + memoryLimitSlack, true
}

// applyMountMemoryLimit sets the memory limit of mountMemoryLimit and
// returns the limit in force (-1: the user's GOMEMLIMIT, unchanged).
func applyMountMemoryLimit(cacheSize int64, lookupEnv func(string) (string, bool)) int64 {
	limit, ok := mountMemoryLimit(cacheSize, lookupEnv)
	if !ok {
		return debug.SetMemoryLimit(-1) // reads the limit without changing it
	}
	debug.SetMemoryLimit(limit)
	return limit
}
