#!/bin/sh
# Build libvolt (debug), compile tests/c/test_volt.c, tests/c/test_network.c and tests/c/test_vm.c against
# include/volt.h, and run each twice: linked to libvolt.so (LD_LIBRARY_PATH) and linked statically
# to libvolt.a. The container tests run real containers (as root) through
# target/debug/volt-supervisor, built here with volt-cli. test_network runs its networks in a
# network namespace of its own (it re-runs itself under `unshare --net`), never in the host's.
# test_vm boots the small guest of tests/vm/guest.sh (VOLT_TEST_GUEST) under QEMU.
#
# Environment: CARGO_TARGET_DIR (default: <workspace>/target), CC (default: gcc),
# VOLT_SKIP_BUILD=1 to use an already built library, VOLT_SUPERVISOR (default: the one built).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
crate=$(dirname "$here")
workspace=$(cd "$crate/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$workspace/target}
case $target_dir in /*) ;; *) target_dir=$workspace/$target_dir ;; esac
libdir=$target_dir/debug
cc=${CC:-gcc}
cflags="-Wall -Wextra -Werror -std=c11 -g -pthread"

if [ "${VOLT_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$workspace" && cargo build -p volt-c -p volt-cli)
fi
export VOLT_SUPERVISOR="${VOLT_SUPERVISOR:-$libdir/volt-supervisor}"
for f in "$libdir/libvolt.so" "$libdir/libvolt.a" "$VOLT_SUPERVISOR"; do
    [ -f "$f" ] || { echo "missing $f (build volt-c and volt-cli first)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/volt-c-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0

# The small guest the VM tests boot (tests/vm/guest.sh; cached, root only).
if [ -z "${VOLT_TEST_GUEST:-}" ] && [ "$(id -u)" -eq 0 ]; then
    VOLT_TEST_GUEST=$(bash "$workspace/tests/vm/guest.sh")
    export VOLT_TEST_GUEST
fi

for prog in test_volt test_network test_vm; do
    echo "== shared: $prog, $libdir/libvolt.so"
    $cc $cflags "$here/c/$prog.c" -I"$crate/include" -L"$libdir" -lvolt -o "$tmp/$prog"
    mkdir "$tmp/$prog-shared" "$tmp/$prog-shared-root"
    VOLT_ROOT="$tmp/$prog-shared-root" LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$tmp/$prog" "$tmp/$prog-shared" || status=1

    echo "== static: $prog, $libdir/libvolt.a"
    $cc $cflags "$here/c/$prog.c" -I"$crate/include" "$libdir/libvolt.a" -lpthread -ldl -lm -o "$tmp/${prog}_static"
    if ldd "$tmp/${prog}_static" 2>/dev/null | grep -q libvolt; then
        echo "static test binary $prog still links libvolt.so dynamically" >&2
        status=1
    fi
    mkdir "$tmp/$prog-static" "$tmp/$prog-static-root"
    VOLT_ROOT="$tmp/$prog-static-root" "$tmp/${prog}_static" "$tmp/$prog-static" || status=1
done

exit $status
