#!/usr/bin/env bash
# Two qcow2 images that differ in a few MiB: how much does Stellarium store for both?
# Builds a 512 MiB raw disk of incompressible data, converts it to qcow2, changes 4 MiB in three
# places (plus a 3-byte insertion that shifts everything after it), converts again, stores both
# with `volt cas put` and prints logical vs stored bytes and the ratio.
#
# Usage: benches/compare/dedup.sh      (needs qemu-img; VOLT=path to a built volt binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${VOLT:-}" ]; then
    cargo build --release -q -p volt-cli
    VOLT=$PWD/target/release/volt
fi
command -v qemu-img >/dev/null || { echo "missing qemu-img (apt-get install qemu-utils)" >&2; exit 10; }
work=$(mktemp -d /var/tmp/volt-dedup.XXXXXX)
trap 'rm -rf "$work"' EXIT
export VOLT_ROOT=$work/root

head -c $((512 << 20)) /dev/urandom >"$work/a.raw"
cp "$work/a.raw" "$work/b.raw"
for off in 64 200 400; do
    dd if=/dev/urandom of="$work/b.raw" bs=1M seek=$off count=4 conv=notrunc status=none
done
python3 - "$work/b.raw" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
data[1000:1000] = b"\x01\x02\x03"
open(p, "wb").write(data)
PY
qemu-img convert -O qcow2 "$work/a.raw" "$work/a.qcow2"
qemu-img convert -O qcow2 "$work/b.raw" "$work/b.qcow2"
sa=$(stat -c %s "$work/a.qcow2"); sb=$(stat -c %s "$work/b.qcow2")
echo "images: a.qcow2 $((sa >> 20)) MiB, b.qcow2 $((sb >> 20)) MiB"
start=$(date +%s%N)
"$VOLT" -q cas put "$work/a.qcow2" --ref disks/a >/dev/null
"$VOLT" -q cas put "$work/b.qcow2" --ref disks/b >/dev/null
echo "stored both in $(awk "BEGIN{printf \"%.2f\", ($(date +%s%N) - $start)/1e9}") s"
"$VOLT" -o json cas dedup >"$work/dedup.json"
python3 - "$work/dedup.json" "$sa" "$sb" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sa, sb = int(sys.argv[2]), int(sys.argv[3])
mib = lambda n: f"{n / 1048576:.1f} MiB"
print(f"logical {mib(d['logical_bytes'])}, stored {mib(d['stored_bytes'])}, ratio {d['ratio']:.2f}, "
      f"shared chunks {d['shared_chunks']}")
print(f"the second image cost {mib(d['stored_bytes'] - sa)} more (a plain copy costs {mib(sb)})")
PY
"$VOLT" cas verify | tail -1
