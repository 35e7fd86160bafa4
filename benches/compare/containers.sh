#!/usr/bin/env bash
# Voltainer against its peers on the same work, in one run (as root):
#   run:     `volt container run --rm --image IMG -- /bin/true` (attached: create, overlay root,
#            supervisor, cgroup, systemd-nspawn, log, wait, delete) vs bare
#            `systemd-nspawn --as-pid2 -D ROOT /bin/true` vs `runc run` of an OCI bundle on ROOT
#            vs `podman run --rm --runtime runc --rootfs ROOT /bin/true`; then volt and nspawn
#            once more on their own (no podman/runc writes in between)
#   create:  `volt container create` (timed) then delete (not timed), for a ~10 MB image and a
#            ~1 GB one; the first create of each image (which makes the shared checkout) apart
#   memory:  VmRSS of volt-supervisor for `volt container run -d ... /bin/sleep 1000` against
#            conmon's for `podman run -d ... /bin/sleep 1000`
# ROOT is a static busybox tree. Volt runs the image imported from it (an overlay over its own
# hardlinked checkout of the store); the peers run the directory itself (they write a few
# files and directories into it, which must not reach Volt's store, so they never get the
# shared checkout). Every side is warmed up first and the sides alternate within each round;
# medians are reported with the ratios the targets are stated in.
#
# Usage: sudo benches/compare/containers.sh
# Environment: N (run rounds, default 20), WARMUP (2), CREATE_N (10), BIG_MB (1024),
#              BREAKDOWN=1 (also trace N volt runs and print where the time goes; strace),
#              VOLT (binary; default builds target/release/volt; volt-supervisor must sit
#              beside it or be given as VOLT_SUPERVISOR).
# Needs: systemd-nspawn, runc, podman (with conmon), static busybox, jq (bash scripts/setup.sh
# bench); strace and python3 for BREAKDOWN=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-20}
WARMUP=${WARMUP:-2}
CREATE_N=${CREATE_N:-10}
BIG_MB=${BIG_MB:-1024}
[ "$(id -u)" -eq 0 ] || { echo "run as root (containers need it)" >&2; exit 10; }
for tool in systemd-nspawn runc podman conmon busybox jq; do
    command -v "$tool" >/dev/null || { echo "missing $tool (bash scripts/setup.sh bench)" >&2; exit 10; }
done
case $(file -b "$(command -v busybox)" 2>/dev/null) in
    *dynamically*) echo "busybox is dynamically linked (bash scripts/setup.sh installs busybox-static)" >&2; exit 10 ;;
esac
if [ -z "${VOLT:-}" ]; then
    cargo build --release -q -p volt-cli
    VOLT=$PWD/target/release/volt
fi
work=$(mktemp -d /var/tmp/volt-ctrbench.XXXXXX)
# Private copies of the binaries: a rebuild elsewhere must not swap them mid-run. The SDK finds
# the supervisor beside the volt binary.
mkdir -p "$work/bin"
cp "$VOLT" "$work/bin/volt"
cp "${VOLT_SUPERVISOR:-$(dirname "$VOLT")/volt-supervisor}" "$work/bin/volt-supervisor"
VOLT=$work/bin/volt
export VOLT_ROOT=$work/volt
unset VOLT_SUPERVISOR
tag=vbench-$$
errlog=$work/stderr.log

cleanup() {
    set +e
    # Volt containers (stops supervisors, unmounts overlay roots, removes their cgroups).
    for c in $("$VOLT" -o json container list 2>/dev/null | jq -r '.[].config.name' 2>/dev/null); do
        "$VOLT" -q container delete --force "$c" >/dev/null 2>&1
    done
    for c in $(podman ps -aq --filter "name=^$tag" 2>/dev/null); do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
    for c in $(runc list -q 2>/dev/null | grep "^$tag"); do runc delete -f "$c" >/dev/null 2>&1; done
    # A killed systemd-nspawn leaves its propagation directory behind.
    rmdir /run/systemd/nspawn/propagate/"$tag"-* 2>/dev/null
    # Anything still mounted under the work directory, deepest first.
    findmnt -rn -o TARGET | grep "^$work/" | sort -r | while read -r m; do umount -l "$m"; done
    # The cgroup parent of this relocated installation (volt-<first 8 hex of blake3(lib dir)>).
    if command -v b3sum >/dev/null; then
        h=$(printf %s "$VOLT_ROOT/var/lib/volt" | b3sum --no-names | cut -c1-8)
        for d in /sys/fs/cgroup/*/"volt-$h" /sys/fs/cgroup/"volt-$h"; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s%N; }
declare -A samples
timeit() { # name command...
    local name=$1; shift
    local s t rc=0
    s=$(now)
    "$@" >/dev/null 2>>"$errlog" || rc=$?
    t=$(( $(now) - s ))
    if [ "$rc" -ne 0 ]; then
        echo "failed ($rc): $*" >&2
        tail -5 "$errlog" >&2
        exit 1
    fi
    samples[$name]="${samples[$name]:-} $t"
}
median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ms() { awk "BEGIN{printf \"%.1f\", $(median "$1")/1e6}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $(median "$1")/$(median "$2")}"; }
verdict() { # value op target
    if awk "BEGIN{exit !($1 $2 $3)}"; then echo "met"; else echo "MISSED"; fi
}

# The busybox root, and images made from it.
R=$work/root
mkdir -p "$R/bin" "$R/usr" "$R/etc" "$R/proc" "$R/sys" "$R/dev"
cp "$(command -v busybox)" "$R/bin/"
for a in true sh sleep; do ln -s busybox "$R/bin/$a"; done
"$VOLT" -q image import "$R" --name bench/busybox:1 >/dev/null
# ~10 MB and ~1 GB images for create: the same root plus incompressible files.
cp -a "$R" "$work/small"
head -c $((8 << 20)) /dev/urandom >"$work/small/data.bin"
cp -a "$R" "$work/big"
for i in 1 2 3 4; do head -c $(((BIG_MB << 20) / 4)) /dev/urandom >"$work/big/data$i.bin"; done
echo "importing the create-test images (not timed)..."
"$VOLT" -q image import "$work/small" --name bench/small:1 >/dev/null
"$VOLT" -q image import "$work/big" --name bench/big:1 >/dev/null
small_mb=$(du -sm "$work/small" | cut -f1)
big_mb=$(du -sm "$work/big" | cut -f1)
rm -rf "$work/small" "$work/big"
# Nothing written so far may still be waiting for writeback when the timing starts (an overlay
# unmount syncs the whole upper filesystem, so leftover dirty data would land on Volt's runs).
sync

# The runc bundle: rootfs = the same root, read-only, no terminal, /bin/true.
mkdir -p "$work/bundle"
(cd "$work/bundle" && runc spec)
jq --arg root "$R" '.root = {path: $root, readonly: true} | .process.args = ["/bin/true"] | .process.terminal = false' \
    "$work/bundle/config.json" >"$work/bundle/config.json.new"
mv "$work/bundle/config.json.new" "$work/bundle/config.json"

seq_id=0
run_volt() { "$VOLT" -q container run --rm --image bench/busybox:1 -- /bin/true; }
run_nspawn() { systemd-nspawn --quiet --register=no --keep-unit --as-pid2 -D "$R" /bin/true; }
run_runc() { seq_id=$((seq_id + 1)); runc run -b "$work/bundle" "$tag-$seq_id"; }
# --rootfs takes no value: the root is the first positional argument, so options go before it.
PODMAN=(podman --cgroup-manager=cgroupfs --events-backend=file)
PODMAN_RUN=(--network host --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
run_podman() { "${PODMAN[@]}" run --rm "${PODMAN_RUN[@]}" --rootfs "$R" /bin/true; }
sides=(volt nspawn runc podman)

echo "run: $WARMUP warm-ups and $N rounds of /bin/true on each side (work dir $work)"
for _ in $(seq "$WARMUP"); do
    for s in "${sides[@]}"; do "run_$s" >/dev/null 2>>"$errlog"; done
done
for r in $(seq "$N"); do
    # Rotate the order so no side always follows the same one.
    for k in 0 1 2 3; do
        s=${sides[$(( (r + k) % 4 ))]}
        timeit "run_$s" "run_$s"
    done
done

# The same two without podman's and runc's writes in between: Volt fsyncs its container files
# and its overlay unmount syncs the upper filesystem, so it pays for other writers' dirty data
# where bare nspawn does not; this pair shows how much of the gap above that is.
sync
for r in $(seq "$N"); do
    if [ $((r % 2)) -eq 1 ]; then order="volt nspawn"; else order="nspawn volt"; fi
    for s in $order; do timeit "quiet_$s" "run_$s"; done
done

# BREAKDOWN=1: where a volt run's time goes, from syscall timestamps (strace with a seccomp
# filter, so only the few traced calls stop the process).
if [ "${BREAKDOWN:-0}" = 1 ] && command -v strace >/dev/null && command -v python3 >/dev/null; then
    for r in $(seq "$N"); do
        strace -f --seccomp-bpf -ttt -T -o "$work/trace.$r" -e trace=execve,exit_group,umount2,fsync \
            "$VOLT" -q container run --rm --image bench/busybox:1 -- /bin/true >/dev/null 2>>"$errlog"
        run_nspawn >/dev/null 2>>"$errlog"
        run_podman >/dev/null 2>>"$errlog"
    done
    breakdown=$(python3 - "$work"/trace.* <<'EOF2'
import re, statistics, sys
rows = {}
def add(k, v): rows.setdefault(k, []).append(v * 1000)
for fn in sys.argv[1:]:
    ev = []
    for line in open(fn):
        m = re.match(r"(\d+)\s+(\d+\.\d+)\s+(.*)", line)
        if m:
            d = re.search(r"<(\d+\.\d+)>\s*$", line)
            ev.append((int(m[1]), float(m[2]), m[3], float(d[1]) if d else 0.0))
    first = lambda f: next(e for e in ev if f(e))
    t0 = ev[0][1]
    sup = first(lambda e: e[2].startswith("execve(") and "volt-supervisor" in e[2])[1]
    # The PATH search tries several directories; the last attempt is the one that ran.
    ns = [e for e in ev if e[2].startswith('execve("') and "systemd-nspawn" in e[2]][-1]
    ns_exit = next(e for e in reversed(ev) if e[0] == ns[0] and "exit_group" in e[2])[1]
    add("CLI start, create, start until the supervisor runs", sup - t0)
    add("supervisor: fork, cgroups, move into them, exec nspawn", ns[1] - sup)
    add("systemd-nspawn, exec to exit", ns_exit - ns[1])
    add("after nspawn exits: state, client wakes, unmount, delete", ev[-1][1] - ns_exit)
    add("  of which: umount2 of the overlay root", sum(e[3] for e in ev if "umount2" in e[2]))
    add("  fsync calls, all processes", sum(e[3] for e in ev if "fsync" in e[2]))
    rows.setdefault("  number of fsync calls", []).append(sum(1 for e in ev if e[2].startswith("fsync(")))
    add("total (traced)", ev[-1][1] - t0)
for k, v in rows.items():
    unit = "" if "number" in k else " ms"
    print(f"    {k:58s} {statistics.median(v):7.1f}{unit}  (max {max(v):.1f})")
EOF2
)
fi

sync
echo "create: $CREATE_N creates of each image (delete not timed)"
n=0
for img in small big; do
    n=$((n + 1))
    timeit "first_create_$img" "$VOLT" -q container create "c-$img-$n" --image "bench/$img:1" -- /bin/true
    "$VOLT" -q container delete "c-$img-$n" >/dev/null
done
for r in $(seq "$CREATE_N"); do
    for img in small big; do
        n=$((n + 1))
        timeit "create_$img" "$VOLT" -q container create "c-$img-$n" --image "bench/$img:1" -- /bin/true
        "$VOLT" -q container delete "c-$img-$n" >/dev/null
    done
done

echo "memory: one long-running container each"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
"$VOLT" -q container run "$tag-mem" -d --image bench/busybox:1 -- /bin/sleep 1000 >/dev/null
"${PODMAN[@]}" run -d --name "$tag-mem" "${PODMAN_RUN[@]}" --rootfs "$R" /bin/sleep 1000 >/dev/null
sleep 1
sup=$("$VOLT" -o json container inspect "$tag-mem" | jq -r '.state.supervisor.pid')
nsp=$("$VOLT" -o json container inspect "$tag-mem" | jq -r '.state.pid')
conmon=$("${PODMAN[@]}" inspect -f '{{.State.ConmonPid}}' "$tag-mem")
[ "$(cat "/proc/$sup/comm")" = volt-supervisor ] || { echo "pid $sup is not volt-supervisor" >&2; exit 1; }
[ "$(cat "/proc/$conmon/comm")" = conmon ] || { echo "pid $conmon is not conmon" >&2; exit 1; }
sup_kb=$(rss "$sup")
nsp_kb=$(rss "$nsp")
conmon_kb=$(rss "$conmon")

echo
echo "container benchmark, $(nproc) cores, median of $N runs (after $WARMUP warm-ups each)"
echo "  root: static busybox; volt runs image bench/busybox:1 (overlay over its shared checkout),"
echo "        the peers run the directory it was imported from ($R)"
printf '  run /bin/true   volt %s ms   systemd-nspawn %s ms   runc %s ms   podman (runc) %s ms\n' \
    "$(ms run_volt)" "$(ms run_nspawn)" "$(ms run_runc)" "$(ms run_podman)"
vn=$(ratio run_volt run_nspawn)
pv=$(ratio run_podman run_volt)
printf '  volt / nspawn   %s   (target <= 1.15: %s)\n' "$vn" "$(verdict "$vn" '<=' 1.15)"
printf '  podman / volt   %s   (target >= 2.5: %s)\n' "$pv" "$(verdict "$pv" '>=' 2.5)"
printf '  volt / runc     %s\n' "$(ratio run_volt run_runc)"
printf '  volt and nspawn alone (no podman/runc writes between runs): volt %s ms   nspawn %s ms   -> %s\n' \
    "$(ms quiet_volt)" "$(ms quiet_nspawn)" "$(ratio quiet_volt quiet_nspawn)"
if [ -n "${breakdown:-}" ]; then
    echo "  volt run, median per phase over $N traced runs (interleaved with nspawn and podman):"
    echo "$breakdown"
fi
echo
echo "  create (median of $CREATE_N; the first create of an image makes its shared checkout)"
printf '  %5s MiB image   %s ms   (first: %s ms)\n' "$small_mb" "$(ms create_small)" "$(ms first_create_small)"
printf '  %5s MiB image   %s ms   (first: %s ms)\n' "$big_mb" "$(ms create_big)" "$(ms first_create_big)"
cb=$(ratio create_big create_small)
printf '  big / small     %s   (target: about the same, well under 50 ms: %s)\n' "$cb" \
    "$(verdict "$(median create_big)" '<' 50e6)"
echo
echo "  memory (VmRSS) of the per-container host process, sleep 1000 running"
printf '  volt-supervisor %s KiB   conmon %s KiB   -> conmon / supervisor %s\n' "$sup_kb" "$conmon_kb" \
    "$(awk "BEGIN{printf \"%.2f\", $conmon_kb/$sup_kb}")"
printf '  (volt also keeps systemd-nspawn as the container'"'"'s parent: %s KiB; supervisor + nspawn %s KiB)\n' \
    "$nsp_kb" "$((sup_kb + nsp_kb))"
