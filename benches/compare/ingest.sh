#!/usr/bin/env bash
# Stellarium against its peers on the same tree, in one run:
#   ingest:    volt cas build   vs  ostree commit (bare-user)  vs  cp -a (+ sync)  vs  b3sum
#   re-build:  unchanged tree, second build / commit
#   checkout:  volt cas checkout --mode hardlink  vs  ostree checkout -U -H  vs  cp -a
# Each measurement is taken ROUNDS times (default 3), the sides interleaved, and the median is
# reported with the ratios the targets are stated in. Correctness is checked too: the volt
# checkout must equal the source (tests/tools/treediff.py).
#
# Usage: benches/compare/ingest.sh [TREE]        (default /usr/share)
# Needs: ostree, b3sum, python3 (scripts/setup.sh bench); builds target/release/volt unless VOLT
# is set. Environment: ROUNDS, BENCH_SETTLE (seconds to wait before starting, default 70).
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${1:-/usr/share}
ROUNDS=${ROUNDS:-3}
if [ -z "${VOLT:-}" ]; then
    cargo build --release -q -p volt-cli
    VOLT=$PWD/target/release/volt
fi
for tool in ostree b3sum python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (bash scripts/setup.sh bench)" >&2; exit 10; }
done
# Same filesystem as the source's usual home, so copies and links are like for like. Nothing is
# deleted until the end (see the settle note below).
work=$(mktemp -d /var/tmp/volt-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s%N; }
declare -A samples
timeit() { # name command...
    local name=$1; shift
    local s; s=$(now)
    "$@" >/dev/null
    local t=$(( $(now) - s ))
    samples[$name]="${samples[$name]:-} $t"
}
median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
secs() { awk "BEGIN{printf \"%.3f\", $(median "$1")/1e9}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $(median "$1")/$(median "$2")}"; }

files=$(find "$SRC" -type f | wc -l)
bytes=$(du -sb "$SRC" | cut -f1)
echo "tree: $SRC ($files files, $((bytes / 1048576)) MiB); $ROUNDS rounds; work dir $work"
echo "warming the page cache (every side reads the tree from memory)..."
find "$SRC" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true
# ext4 skips inodes freed in the last minute (more while their table blocks are dirty) when it
# allocates new ones, which makes any file-creating run slow right after a big deletion. Let
# earlier runs' deletions age out so every side starts from the same state.
sync
echo "letting the filesystem settle for ${BENCH_SETTLE:-70} s..."
sleep "${BENCH_SETTLE:-70}"

for r in $(seq "$ROUNDS"); do
    echo "round $r"
    w=$work/$r
    mkdir -p "$w"
    timeit "b3sum (hash only)" sh -c "find '$SRC' -type f -print0 | xargs -0 b3sum --no-names"
    sync
    timeit "cp -a" cp -a "$SRC" "$w/cp"
    timeit "sync after cp -a" sync
    timeit "volt cas build" env VOLT_ROOT="$w/volt" "$VOLT" -q cas build "$SRC" --ref bench/tree
    sync
    ostree init --repo="$w/ostree" --mode=bare-user
    timeit "ostree commit" ostree commit --repo="$w/ostree" --branch=bench --tree=dir="$SRC"
    sync
    timeit "volt cas build (again)" env VOLT_ROOT="$w/volt" "$VOLT" -q cas build "$SRC" --ref bench/tree
    timeit "ostree commit (again)" ostree commit --repo="$w/ostree" --branch=bench --tree=dir="$SRC"
    sync
    timeit "volt checkout (hardlink)" env VOLT_ROOT="$w/volt" "$VOLT" -q cas checkout bench/tree "$w/co-volt"
    timeit "ostree checkout -U -H" ostree checkout --repo="$w/ostree" -U -H bench "$w/co-ostree"
    timeit "cp -a (again)" cp -a "$SRC" "$w/cp2"
    timeit "volt checkout (copy)" env VOLT_ROOT="$w/volt" "$VOLT" -q cas checkout bench/tree "$w/co-copy" --mode copy
done
for r in $(seq "$ROUNDS"); do
    samples["cp -a + sync"]="${samples["cp -a + sync"]:-} $(( $(echo "${samples["cp -a"]}" | awk -v i="$r" '{print $i}') + $(echo "${samples["sync after cp -a"]}" | awk -v i="$r" '{print $i}') ))"
done

echo "median of $ROUNDS:"
for name in "b3sum (hash only)" "cp -a" "cp -a + sync" "volt cas build" "ostree commit" \
    "volt cas build (again)" "ostree commit (again)" \
    "volt checkout (hardlink)" "ostree checkout -U -H" "cp -a (again)" "volt checkout (copy)"; do
    printf '  %-28s %8s s   (all: %s)\n' "$name" "$(secs "$name")" \
        "$(for t in ${samples[$name]}; do awk "BEGIN{printf \"%.2f \", $t/1e9}"; done)"
done

echo "correctness:"
python3 tests/tools/treediff.py "$SRC" "$work/1/co-volt" | tail -1
env VOLT_ROOT="$work/1/volt" "$VOLT" cas verify | tail -1

echo "ratios (target in brackets):"
echo "  ostree commit / volt build        $(ratio "ostree commit" "volt cas build")x   [>= 4]"
echo "  volt build / cp -a                $(ratio "volt cas build" "cp -a")x   [<= 2]"
echo "  volt build / (cp -a + sync)       $(ratio "volt cas build" "cp -a + sync")x"
echo "  volt build / b3sum                $(ratio "volt cas build" "b3sum (hash only)")x"
echo "  volt re-build / volt build        $(ratio "volt cas build (again)" "volt cas build")x   [< 0.10]"
echo "  ostree re-commit / volt re-build  $(ratio "ostree commit (again)" "volt cas build (again)")x"
echo "  ostree checkout / volt checkout   $(ratio "ostree checkout -U -H" "volt checkout (hardlink)")x   [> 1]"
echo "  cp -a / volt checkout             $(ratio "cp -a (again)" "volt checkout (hardlink)")x"
