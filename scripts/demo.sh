#!/usr/bin/env bash
# The deltafs demo (make demo): build, create a store holding a generated
# base model and two fine-tunes of it (.npy files) and a base and a
# fine-tune as Hugging Face style folders (bf16 model.safetensors and
# config.json), mount it, load tensors with numpy from the mount, print the
# storage saved, and unmount on Ctrl-C.
#
# Needs: Go, fuse3 (/dev/fuse; run as root or with fusermount3), python3
# with numpy (Debian: python3-numpy), zstd optional.
# DEMO_NONINTERACTIVE=1 (or a stdin that is not a terminal) unmounts right
# after printing, so the demo can run in CI. DEMO_KEEP=1 keeps the temp dir.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=bin/deltafs

say() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
die() { echo "demo: $*" >&2; exit 1; }

# A python3 that imports numpy: $PYTHON, else python3 on PATH, else the
# system one (where Debian's python3-numpy installs).
for PYTHON in ${PYTHON:-} python3 /usr/bin/python3 ""; do
	[ -n "$PYTHON" ] && "$PYTHON" -c 'import numpy' 2>/dev/null && break
done
[ -n "$PYTHON" ] || die "python3 with numpy is needed (Debian: apt-get install python3-numpy)"
[ -e /dev/fuse ] || die "/dev/fuse is missing (Debian: apt-get install fuse3)"

say "building $BIN"
"$GO" build -o "$BIN" ./cmd/deltafs
DELTAFS=$PWD/$BIN

WORK=$(mktemp -d "${TMPDIR:-/tmp}/deltafs-demo.XXXXXX")
STORE=$WORK/store
MNT=$WORK/mnt
MOUNT_PID=
cleanup() {
	if [ -n "$MOUNT_PID" ] && kill -0 "$MOUNT_PID" 2>/dev/null; then
		kill -INT "$MOUNT_PID" 2>/dev/null || true
		wait "$MOUNT_PID" 2>/dev/null || true
	fi
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	if [ "${DEMO_KEEP:-}" = 1 ]; then
		echo "demo: kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

say "generating a base model and two fine-tunes (internal/synth)"
"$GO" run ./internal/synth/cmd/synthmodels -out "$WORK/src" -finetunes 2

say "generating a base and a fine-tune as Hugging Face folders (bf16 model.safetensors + config.json)"
"$GO" run ./internal/synth/cmd/synthmodels -out "$WORK/hf" -finetunes 1 -seed 11 -format safetensors
ls -l "$WORK/hf/ft1" | sed 's/^/  /'

say "importing them into a new store"
"$DELTAFS" init "$STORE"
"$DELTAFS" import "$STORE" "$WORK/src/base" --as base
"$DELTAFS" import "$STORE" "$WORK/src/ft1" --as ft1 --base base
"$DELTAFS" import "$STORE" "$WORK/src/ft2" --as ft2 --base base
"$DELTAFS" import "$STORE" "$WORK/hf/base" --as hf-base
"$DELTAFS" import "$STORE" "$WORK/hf/ft1" --as hf-ft --base hf-base
echo "  the fine-tune's tensors in model.safetensors (first lines):"
"$DELTAFS" ls -l "$STORE" hf-ft/model.safetensors >"$WORK/ls.out"
head -n 6 "$WORK/ls.out" | sed 's/^/    /'

say "mounting the store at $MNT"
mkdir -p "$MNT"
"$DELTAFS" mount "$STORE" "$MNT" >"$WORK/mount.out" 2>"$WORK/mount.log" &
MOUNT_PID=$!
for _ in $(seq 1 300); do
	grep -q '^deltafs: serving' "$WORK/mount.out" 2>/dev/null && break
	kill -0 "$MOUNT_PID" 2>/dev/null || { cat "$WORK/mount.log" >&2; die "mount failed"; }
	sleep 0.1
done
grep -q '^deltafs: serving' "$WORK/mount.out" || die "the mount did not come up in 30 s"
cat "$WORK/mount.out"
ls -l "$MNT" "$MNT/ft1" | sed 's/^/  /'

say "loading ft1/layers/0/wq.npy with numpy from the mount"
(cd "$WORK" && "$PYTHON" - "$MNT/ft1/layers/0/wq.npy" "$WORK/src/ft1/layers/0/wq.npy" <<'PY'
import sys
import numpy as np
mounted, original = sys.argv[1], sys.argv[2]
a = np.load(mounted)
b = np.load(mounted, mmap_mode="r")
o = np.load(original)
ok = a.dtype == o.dtype and a.shape == o.shape and a.tobytes() == o.tobytes() and np.asarray(b).tobytes() == o.tobytes()
print(f"  {mounted}: dtype {a.dtype}, shape {a.shape}, mean {float(a.astype(np.float64).mean()):+.6f}")
print("  identical to the original file, bit for bit" if ok else "  MISMATCH with the original file")
sys.exit(0 if ok else 1)
PY
)

say "reading hf-ft/model.safetensors from the mount"
cmp "$MNT/hf-ft/model.safetensors" "$WORK/hf/ft1/model.safetensors" ||
	die "hf-ft/model.safetensors differs from the original file"
echo "  cmp: the mounted model.safetensors is byte-identical to the original"
(cd "$WORK" && "$PYTHON" - "$MNT/hf-ft/model.safetensors" "$WORK/hf/ft1/model.safetensors" layers.2.wq <<'PY'
import json, struct, sys
import numpy as np
mounted, original, name = sys.argv[1:4]
def tensor(path):
    # A safetensors file: 8-byte header length, the header JSON, the data.
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        info = json.loads(f.read(n))[name]
    begin, end = info["data_offsets"]
    raw = np.memmap(path, dtype=np.uint16, mode="r", offset=8 + n + begin, shape=((end - begin) // 2,))
    return info, raw
info, m = tensor(mounted)
_, o = tensor(original)
ok = info["dtype"] == "BF16" and m.tobytes() == o.tobytes()
f32 = (m.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])  # bf16 widened exactly
print(f"  {name} via np.memmap of the mounted file: {info['dtype']}, shape {tuple(info['shape'])}, mean {float(f32.astype(np.float64).mean()):+.6f}")
print("  identical to the original tensor, bit for bit" if ok else "  MISMATCH with the original tensor")
sys.exit(0 if ok else 1)
PY
)

say "storage saved"
"$DELTAFS" stats "$STORE"
echo
echo "  du of the original files:  $(du -sh "$WORK/src" | cut -f1)"
echo "  du of the store:           $(du -sh "$STORE" | cut -f1)"
echo "  du through the mount:      $(du -sh "$MNT" | cut -f1)   (ls -l shows the full logical sizes)"

if [ "${DEMO_NONINTERACTIVE:-}" = 1 ] || [ ! -t 0 ]; then
	say "unmounting (non-interactive)"
	kill -INT "$MOUNT_PID"
	wait "$MOUNT_PID"
	MOUNT_PID=
	mountpoint -q "$MNT" && die "still mounted after SIGINT"
	echo "  unmounted cleanly"
	exit 0
fi

say "the store is mounted at $MNT; try: ls -l $MNT/ft1, du -sh $MNT, getfattr -d $MNT/ft1/lm_head.npy"
echo "press Ctrl-C to unmount and clean up"
# Ctrl-C reaches deltafs too (same process group): it unmounts and exits;
# this shell waits for that instead of dying first.
trap 'echo; echo "unmounting..."' INT
while kill -0 "$MOUNT_PID" 2>/dev/null; do
	wait "$MOUNT_PID" || true
done
MOUNT_PID=
