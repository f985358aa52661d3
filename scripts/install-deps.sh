#!/usr/bin/env bash
# Installs the Debian packages deltafs needs, only those missing, with
# apt-get (as root). `make demo`, `make test` and CI (.ci/run) run it first.
#
#   scripts/install-deps.sh demo   what the demo needs
#   scripts/install-deps.sh test   what the tests need (the demo's and more)
#   scripts/install-deps.sh tools  make, for a machine without it (.ci/run)
#
# DELTAFS_SKIP_DEPS=1 skips it (a machine set up by other means).
set -euo pipefail

demo=(fuse3 python3-numpy)
test=("${demo[@]}" rsync attr zstd make python3-torch libopenblas0-pthread postgresql)

case "${1:-test}" in
demo) want=("${demo[@]}") ;;
test) want=("${test[@]}") ;;
tools) want=(make) ;;
*)
	echo "usage: $0 demo|test|tools" >&2
	exit 2
	;;
esac

[ "${DELTAFS_SKIP_DEPS:-}" = 1 ] && exit 0
if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: not a Debian system; make sure these are installed: ${want[*]}" >&2
	exit 0
fi

need=()
for pkg in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ "${#need[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${need[*]}" >&2
	echo "install-deps: install them as root: apt-get install ${need[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
