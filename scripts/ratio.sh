#!/usr/bin/env bash
# Prints the compression ratio deltafs stats reports for a base model and a
# fine-tune of it, beside zstd -3 of the same files (each file compressed on
# its own), for two fixtures: the numpy-made one of the command-line tests
# (cmd/deltafs/testdata/gen_fixtures.py tune) and internal/synth's
# LLaMA-shaped bf16 model with two fine-tunes (the demo's). For the README.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
for PYTHON in ${PYTHON:-} python3 /usr/bin/python3 ""; do
	[ -n "$PYTHON" ] && "$PYTHON" -c 'import numpy' 2>/dev/null && break
done
[ -n "$PYTHON" ] || { echo "ratio: python3 with numpy is needed" >&2; exit 1; }
command -v zstd >/dev/null || { echo "ratio: zstd is needed" >&2; exit 1; }

"$GO" build -o bin/deltafs ./cmd/deltafs
DELTAFS=$PWD/bin/deltafs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/deltafs-ratio.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# zstd_ratio DIR: logical bytes / bytes after zstd -3 of each file.
zstd_ratio() {
	local raw=0 packed=0 f
	while IFS= read -r -d '' f; do
		raw=$((raw + $(stat -c %s "$f")))
		packed=$((packed + $(zstd -3 -q -c "$f" | wc -c)))
	done < <(find "$1" -type f -print0)
	awk -v r="$raw" -v p="$packed" 'BEGIN { printf "%.2fx (%d -> %d bytes)", r / p, r, p }'
}

# report NAME SRC BASE FT...: import BASE then each FT against it, print
# deltafs's ratio per model beside zstd -3.
report() {
	local name=$1 src=$2 base=$3
	shift 3
	local store=$WORK/$name-store
	"$DELTAFS" init "$store" >/dev/null
	"$DELTAFS" import "$store" "$src/$base" --as "$base" >/dev/null
	for ft in "$@"; do
		"$DELTAFS" import "$store" "$src/$ft" --as "$ft" --base "$base" >/dev/null
	done
	echo "## $name"
	printf '%-6s %-36s %s\n' model "deltafs (stats)" "zstd -3 per file"
	"$DELTAFS" stats --json "$store" >"$WORK/$name.json"
	for m in "$base" "$@"; do
		d=$("$PYTHON" -c 'import json,sys; m=[x for x in json.load(open(sys.argv[1]))["models"] if x["name"]==sys.argv[2]][0]; print("%.2fx (%d -> %d bytes)" % (m["ratio"], m["logical_bytes"], m["stored_bytes"]))' "$WORK/$name.json" "$m")
		printf '%-6s %-36s %s\n' "$m" "$d" "$(zstd_ratio "$src/$m")"
	done
	"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["total"]; print("total  %.2fx (%d -> %d bytes)" % (t["ratio"], t["logical_bytes"], t["stored_bytes"]))' "$WORK/$name.json"
	echo
}

"$PYTHON" cmd/deltafs/testdata/gen_fixtures.py tune "$WORK/tune"
report "numpy fixture: f32/f16, full fine-tune (delta std 2% of the weights')" "$WORK/tune" base ft

"$GO" run ./internal/synth/cmd/synthmodels -out "$WORK/synth" -finetunes 2 >/dev/null
report "internal/synth: LLaMA-shaped bf16, two fine-tunes (the demo's)" "$WORK/synth" base ft1 ft2
