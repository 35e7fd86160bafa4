#!/usr/bin/env bash
# Volt's main job at this stage, on its default paths (/var/lib/volt, /var/cache/volt,
# /var/log/volt; set VOLT_ROOT=DIR to keep it elsewhere): store a real directory tree in
# Stellarium, show what sharing saved, check the tree out with hardlinks, prove the checkout is
# identical to the source, and verify every object. Run as root on Debian 12.
#
#   scripts/demo.sh [DIR]      (default /usr/share, about 50,000 files)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh

src=${1:-/usr/share}
echo "building volt (release)..."
cargo build --release -q -p volt-cli
volt=$PWD/target/release/volt
lib=${VOLT_ROOT:-}/var/lib/volt
dest=$lib/demo/checkout
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"

step() { echo; echo "\$ $*"; "$@"; }
step "$volt" cas build "$src" --ref demo/tree
step "$volt" cas build "$src" --ref demo/tree
step "$volt" cas status
step "$volt" cas dedup --top 5
step "$volt" cas checkout demo/tree "$dest"
echo
echo "\$ compare $src with $dest (content, modes, owners, mtimes, xattrs, links)"
python3 tests/tools/treediff.py "$src" "$dest" | tail -1
step "$volt" cas verify
step "$volt" cas gc --dry-run
echo
echo "demo done: the tree is ref demo/tree in $lib/cas; the checkout is in $dest"
