#!/usr/bin/env bash
# Prints the path of a SeaweedFS `weed` binary at the version pinned in
# internal/tools/seaweedfs/go.mod, building it once per machine when the
# cache does not hold it yet. The tests' S3 server (internal/s3test) runs it.
#
#   scripts/build-seaweedfs.sh        print the binary's path (build if absent)
#
# The cache is $DELTAFS_TOOLS_CACHE, else $XDG_CACHE_HOME/deltafs, else
# ~/.cache/deltafs; the binary is weed-<version> in it. The first build takes
# about 14 minutes and 2.6 GB of memory on two cores (4 minutes with a warm
# Go build cache); every later call returns at once. Progress goes to
# stderr, the path alone to stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
mod="$root/internal/tools/seaweedfs"
cache="${DELTAFS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deltafs}"

version="$(awk '$1 == "github.com/seaweedfs/seaweedfs" { print $2; exit }' "$mod/go.mod")"
if [ -z "$version" ]; then
	echo "build-seaweedfs: no github.com/seaweedfs/seaweedfs version in $mod/go.mod" >&2
	exit 1
fi
bin="$cache/weed-$version"

if [ ! -x "$bin" ]; then
	mkdir -p "$cache"
	# One build at a time per cache: a second caller waits for the first.
	exec 9>"$cache/.weed-build.lock"
	flock 9
	if [ ! -x "$bin" ]; then
		echo "build-seaweedfs: building SeaweedFS $version once for this machine into $bin" >&2
		echo "build-seaweedfs: (about 14 minutes and 2.6 GB of memory on two cores the first time)" >&2
		tmp="$bin.tmp.$$"
		trap 'rm -f "$tmp"' EXIT
		(cd "$mod" && GOWORK=off go build -o "$tmp" github.com/seaweedfs/seaweedfs/weed)
		mv "$tmp" "$bin"
		trap - EXIT
	fi
fi
echo "$bin"
