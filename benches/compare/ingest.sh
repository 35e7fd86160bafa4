#!/usr/bin/env bash
# Stellarium against its peers on the same tree, in one run:
#   ingest:    volt cas build   vs  ostree commit (bare-user)  vs  cp -a (+ sync)  vs  b3sum
#   re-build:  unchanged tree, second build / commit
#   checkout:  volt cas checkout --mode hardlink  vs  ostree checkout -U -H  vs  cp -a
# Prints each time and the ratios the targets are stated in. Correctness is checked too: the
# volt checkout must equal the source (tests/tools/treediff.py).
#
# Usage: benches/compare/ingest.sh [TREE]        (default /usr/share)
# Needs: ostree, b3sum, python3; builds target/release/volt if VOLT is not set.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${1:-/usr/share}
if [ -z "${VOLT:-}" ]; then
    cargo build --release -q -p volt-cli
    VOLT=$PWD/target/release/volt
fi
for tool in ostree b3sum python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install ostree b3sum)" >&2; exit 10; }
done
# Same filesystem as the source's usual home, so copies and links are like for like.
work=$(mktemp -d /var/tmp/volt-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s%N; }
declare -A T
timeit() { # name command...
    local name=$1; shift
    local s; s=$(now)
    "$@" >/dev/null
    T[$name]=$(( $(now) - s ))
    printf '  %-28s %8.3f s\n' "$name" "$(awk "BEGIN{print ${T[$name]}/1e9}")"
}
ratio() { awk "BEGIN{printf \"%.2f\", ${T[$1]}/${T[$2]}}"; }

files=$(find "$SRC" -type f | wc -l)
bytes=$(du -sb "$SRC" | cut -f1)
echo "tree: $SRC ($files files, $((bytes / 1048576)) MiB); work dir $work"
echo "warming the page cache (every side reads the tree from memory)..."
find "$SRC" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true

# ext4 skips inodes freed in the last minute (more while their table blocks are dirty) when it
# allocates new ones, which makes any file-creating run slow right after a big deletion. Let
# earlier runs' deletions age out so every side starts from the same state.
sync
echo "letting the filesystem settle for ${BENCH_SETTLE:-70} s..."
sleep "${BENCH_SETTLE:-70}"

echo "ingest:"
timeit "b3sum (hash only)" sh -c "find '$SRC' -type f -print0 | xargs -0 b3sum --no-names"
timeit "cp -a" cp -a "$SRC" "$work/cp"
timeit "sync after cp -a" sync
T["cp -a + sync"]=$(( T["cp -a"] + T["sync after cp -a"] ))
sync
timeit "volt cas build" env VOLT_ROOT="$work/volt" "$VOLT" -q cas build "$SRC" --ref bench/tree
ostree init --repo="$work/ostree" --mode=bare-user
sync
timeit "ostree commit" ostree commit --repo="$work/ostree" --branch=bench --tree=dir="$SRC"
echo "unchanged re-build:"
timeit "volt cas build (again)" env VOLT_ROOT="$work/volt" "$VOLT" -q cas build "$SRC" --ref bench/tree
timeit "ostree commit (again)" ostree commit --repo="$work/ostree" --branch=bench --tree=dir="$SRC"
echo "checkout:"
timeit "volt checkout (hardlink)" env VOLT_ROOT="$work/volt" "$VOLT" -q cas checkout bench/tree "$work/co-volt"
timeit "ostree checkout -U -H" ostree checkout --repo="$work/ostree" -U -H bench "$work/co-ostree"
timeit "cp -a (again)" cp -a "$SRC" "$work/cp2"
timeit "volt checkout (copy)" env VOLT_ROOT="$work/volt" "$VOLT" -q cas checkout bench/tree "$work/co-copy" --mode copy

echo "correctness:"
python3 tests/tools/treediff.py "$SRC" "$work/co-volt" | tail -1
env VOLT_ROOT="$work/volt" "$VOLT" cas verify | tail -1
env VOLT_ROOT="$work/volt" "$VOLT" cas status | grep -E 'Objects|Stored|Dedup'

echo "ratios (target in brackets):"
echo "  ostree commit / volt build        $(ratio "ostree commit" "volt cas build")x   [>= 4]"
echo "  volt build / cp -a                $(ratio "volt cas build" "cp -a")x   [<= 2]"
echo "  volt build / (cp -a + sync)       $(ratio "volt cas build" "cp -a + sync")x"
echo "  volt build / b3sum                $(ratio "volt cas build" "b3sum (hash only)")x"
echo "  volt re-build / volt build        $(ratio "volt cas build (again)" "volt cas build")x   [< 0.10]"
echo "  ostree re-commit / volt re-build  $(ratio "ostree commit (again)" "volt cas build (again)")x"
echo "  ostree checkout / volt checkout   $(ratio "ostree checkout -U -H" "volt checkout (hardlink)")x   [> 1]"
echo "  cp -a / volt checkout             $(ratio "cp -a (again)" "volt checkout (hardlink)")x"
