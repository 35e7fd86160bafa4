#!/usr/bin/env bash
# Voltvisor against bare QEMU on the same work, in one run (as root). Everything lives under a
# scratch VOLT_ROOT; no VM has a network, so nothing of the host's networking is touched.
#   boot:    time from the command to the guest's VOLT-GUEST-READY marker on the serial console,
#            `volt vm start` (SDK, supervisor, QMP handshake, serial socket + log) against a bare
#            `qemu-system-x86_64` with the same machine, accelerator, kernel, initramfs and kernel
#            command line printing to stdio. The test guest of tests/vm/guest.sh (Debian's cloud
#            kernel, busybox initramfs), microvm. Target: Volt / bare <= 1.1.
#   profile: the minimal profile (tinyconfig-based, PVH vmlinux) on microvm against the stock
#            cloud kernel on q35, both started by Volt with the same initramfs. Target: stock
#            q35 / minimal microvm >= 2. Needs a minimal kernel: MINIMAL=path/to/vmlinux, or
#            the one `volt kernel build minimal` left in the test cache.
#   memory:  a 128 MiB guest booted to its marker: QEMU's resident memory outside the guest's
#            RAM block (from /proc/PID/smaps: every mapping but the 128 MiB one), next to
#            Firecracker's published < 5 MiB VMM overhead; and QEMU's whole RSS.
#   create:  `volt vm create --image` of VMs from images already in the store whose disks are
#            64 MiB and 1 GiB of data: the median of CREATES creates after the first (the first
#            writes the shared base out of the store once). Target: independent of image size.
# The accelerator is whatever Volt's probe picks (TCG on hosts whose KVM cannot run guests);
# both sides of each comparison use the same one. Medians of ROUNDS alternating rounds.
#
# Usage: sudo benches/compare/vm.sh
# Environment: ROUNDS (default 5), CREATES (10), PHASES ("boot profile memory create"),
#              VOLT (binary; default target/release/volt, built if missing), MINIMAL.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (QEMU, the store)" >&2; exit 10; }
command -v qemu-system-x86_64 >/dev/null || { echo "missing qemu-system-x86_64 (bash scripts/setup.sh)" >&2; exit 10; }
ROUNDS=${ROUNDS:-5}
CREATES=${CREATES:-10}
PHASES=${PHASES:-boot profile memory create}
if [ -z "${VOLT:-}" ]; then
    cargo build -q --release -p volt-cli
    VOLT=$PWD/target/release/volt
fi
export VOLT_SUPERVISOR=${VOLT_SUPERVISOR:-$(dirname "$VOLT")/volt-supervisor}
guest=$(bash tests/vm/guest.sh)
scratch=$(mktemp -d /tmp/volt-vmbench.XXXXXX)
export VOLT_ROOT=$scratch/root
cleanup() {
    for v in $("$VOLT" -q vm list 2>/dev/null | awk 'NR>1{print $1}'); do "$VOLT" vm delete --force "$v" >/dev/null 2>&1 || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

"$VOLT" kernel import "$guest/vmlinuz" --name stock --initrd "$guest/initrd.img" >/dev/null
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# Seconds from now until MARKER appears in FILE (polled every 2 ms; 120 s at most).
wait_marker() { # file marker t0
    python3 - "$@" <<'EOF'
import os, sys, time
path, marker, t0 = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
end = time.time() + 120
while time.time() < end:
    try:
        with open(path, 'rb') as f:
            if marker in f.read():
                print(f"{time.time() - t0:.4f}")
                sys.exit(0)
    except FileNotFoundError:
        pass
    time.sleep(0.002)
sys.exit("timed out waiting for the marker")
EOF
}

# A bare QEMU: the argv from `volt vm start`'s run.json with the serial console on stdio and
# no monitors, Volt's sockets or pid file. Prints the seconds to the marker.
bare_boot() { # run.json
    python3 - "$1" <<'EOF'
import json, subprocess, sys, time
a = json.load(open(sys.argv[1]))["argv"]
out, skip = [], 0
for i, x in enumerate(a):
    if skip:
        skip -= 1
        continue
    if x in ("-chardev", "-mon", "-pidfile", "-serial"):
        skip = 1
        continue
    out.append(x)
out += ["-serial", "stdio"]
t0 = time.time()
p = subprocess.Popen(out, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for line in p.stdout:
    if b"VOLT-GUEST-READY" in line:
        print(f"{time.time() - t0:.4f}")
        break
p.kill()
p.wait()
EOF
}

volt_boot() { # vm
    local log=$VOLT_ROOT/var/lib/volt/vms/$1/serial.log t0
    rm -f "$log"
    t0=$(python3 -c 'import time; print(time.time())')
    "$VOLT" vm start "$1" >/dev/null
    wait_marker "$log" VOLT-GUEST-READY "$t0"
    "$VOLT" vm kill "$1" >/dev/null
}

accel=""
if [[ " $PHASES " == *" boot "* ]]; then
    "$VOLT" vm create boot --kernel stock --memory 256M >/dev/null
    volt_boot boot >/dev/null # the accelerator probe runs once per boot of the host: not timed
    accel=$("$VOLT" -o json vm inspect boot | python3 -c 'import json,sys; s=json.load(sys.stdin)["state"]; print(s["accel"], "-", s["accel_reason"])')
    echo "accelerator: $accel"
    v=() b=()
    for _ in $(seq "$ROUNDS"); do
        v+=("$(volt_boot boot)")
        b+=("$(bare_boot "$VOLT_ROOT/var/lib/volt/vms/boot/run.json")")
    done
    vm=$(printf '%s\n' "${v[@]}" | median)
    bm=$(printf '%s\n' "${b[@]}" | median)
    echo "boot to marker (microvm, stock kernel): volt vm start ${vm} s, bare qemu ${bm} s, volt/bare $(echo "scale=3; $vm / $bm" | bc) (target <= 1.1)"
    echo "  volt: ${v[*]}"
    echo "  bare: ${b[*]}"
fi

if [[ " $PHASES " == *" profile "* ]]; then
    minimal=${MINIMAL:-/var/cache/volt-tests/minimal-root/var/lib/volt/kernels/minimal/vmlinuz}
    if [ -f "$minimal" ]; then
        "$VOLT" kernel import "$minimal" --name minimal >/dev/null
        "$VOLT" vm create pmin --kernel minimal --initrd "$guest/initrd.img" --machine microvm --memory 256M >/dev/null
        "$VOLT" vm create pq35 --kernel stock --machine q35 --memory 256M >/dev/null
        m=() q=()
        for _ in $(seq "$ROUNDS"); do
            m+=("$(volt_boot pmin)")
            q+=("$(volt_boot pq35)")
        done
        mm=$(printf '%s\n' "${m[@]}" | median)
        qm=$(printf '%s\n' "${q[@]}" | median)
        echo "boot to marker: minimal on microvm ${mm} s, stock on q35 ${qm} s, stock-q35/minimal-microvm $(echo "scale=2; $qm / $mm" | bc) (target >= 2)"
        echo "  minimal microvm: ${m[*]}"
        echo "  stock q35:       ${q[*]}"
    else
        echo "profile: skipped, no minimal kernel at $minimal (volt kernel build minimal, or MINIMAL=...)"
    fi
fi

if [[ " $PHASES " == *" memory "* ]]; then
    "$VOLT" vm create mem --kernel stock --memory 128M >/dev/null
    t0=$(python3 -c 'import time; print(time.time())')
    "$VOLT" vm start mem >/dev/null
    wait_marker "$VOLT_ROOT/var/lib/volt/vms/mem/serial.log" VOLT-GUEST-READY "$t0" >/dev/null
    sleep 1
    pid=$("$VOLT" -o json vm inspect mem | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["qemu_pid"])')
    python3 - "$pid" <<'EOF'
import sys
pid = sys.argv[1]
maps, cur = [], None
for line in open(f"/proc/{pid}/smaps"):
    f = line.split()
    if f and "-" in f[0] and len(f) >= 5 and not f[0].endswith(":"):
        cur = {"name": f[5] if len(f) > 5 else "", "size": 0, "rss": 0, "pss": 0}
        maps.append(cur)
    elif f and f[0] == "Size:":
        cur["size"] = int(f[1])
    elif f and f[0] == "Rss:":
        cur["rss"] = int(f[1])
    elif f and f[0] == "Pss:":
        cur["pss"] = int(f[1])
ram = [m for m in maps if m["size"] == 128 * 1024]
other = [m for m in maps if m not in ram[:1]]
rss_all = sum(m["rss"] for m in maps)
over_rss = sum(m["rss"] for m in other)
over_pss = sum(m["pss"] for m in other)
print(f"VMM memory, 128 MiB guest: QEMU RSS outside guest RAM {over_rss/1024:.1f} MiB (PSS {over_pss/1024:.1f} MiB); "
      f"guest RAM resident {ram[0]['rss']/1024 if ram else 0:.1f} MiB; QEMU RSS in all {rss_all/1024:.1f} MiB "
      f"(Firecracker publishes < 5 MiB of VMM overhead)")
EOF
    "$VOLT" vm kill mem >/dev/null
fi

if [[ " $PHASES " == *" create "* ]]; then
    for size in 64 1024; do
        d=$scratch/img-$size
        mkdir -p "$d/disk"
        head -c $((size << 20)) /dev/urandom >"$d/disk.raw"
        qemu-img convert -f raw -O qcow2 "$d/disk.raw" "$d/disk/disk.qcow2"
        rm "$d/disk.raw"
        "$VOLT" image import "$d" --name "vmdisk-$size:1" >/dev/null
        rm -rf "$d"
        "$VOLT" vm create "c$size-first" --image "vmdisk-$size:1" --kernel stock >/dev/null
        ts=()
        for i in $(seq "$CREATES"); do
            s=$(date +%s%N)
            "$VOLT" vm create "c$size-$i" --image "vmdisk-$size:1" --kernel stock >/dev/null
            ts+=("$(( ($(date +%s%N) - s) / 1000 ))")
        done
        med=$(printf '%s\n' "${ts[@]}" | median)
        echo "create from a ${size} MiB image in the store: median ${med} us over $CREATES creates (${ts[*]})"
        eval "create_$size=$med"
    done
    echo "create time 1 GiB / 64 MiB image: $(echo "scale=2; $create_1024 / $create_64" | bc) (target: about 1, independent of size)"
fi
