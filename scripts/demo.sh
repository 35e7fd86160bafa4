#!/usr/bin/env bash
# Volt's main job at this stage, on its default paths (/var/lib/volt, /var/cache/volt,
# /var/log/volt; set VOLT_ROOT=DIR to keep it elsewhere): store a real directory tree in
# Stellarium, show what sharing saved, check the tree out with hardlinks, prove the checkout is
# identical to the source; then make a busybox image, serve it from the built-in registry, push
# it with skopeo, pull it back with volt (no blob moves: the store has them all); run a container
# from that image (limits, logs, top, exec, stop, delete) and an attached one; put two
# containers on a network (one serves HTTP on a port forward, the other fetches it by name) and a
# VM beside them on the same network (Debian's cloud kernel under QEMU: the container resolves
# the VM's name, the VM fetches the container's page by name, a snapshot, an ACPI stop); verify
# every object. Run as root on Debian 12.
#
#   scripts/demo.sh [DIR]      (default /usr/share, about 50,000 files)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh demo

src=${1:-/usr/share}
echo "building volt (release)..."
cargo build --release -q -p volt-cli
volt=$PWD/target/release/volt   # volt-supervisor, built beside it, is found there
lib=${VOLT_ROOT:-}/var/lib/volt
# Containers and a network left over by an earlier run that stopped half-way.
"$volt" -q container delete --force demo-web demo-site >/dev/null 2>&1 || true
"$volt" -q vm delete --force demo-vm >/dev/null 2>&1 || true
"$volt" -q network delete demo-net >/dev/null 2>&1 || true
dest=$lib/demo/checkout
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"

# Print a command (words with spaces or shell characters in single quotes), then run it.
step() {
    local w line=
    for w in "$@"; do
        case $w in
        *[[:space:]\'\"\$\;\&\|\<\>\(\)\*\?]*) line+=" '${w//\'/\'\\\'\'}'" ;;
        *) line+=" $w" ;;
        esac
    done
    echo
    echo "\$${line}"
    "$@"
}
step "$volt" cas build "$src" --ref demo/tree
step "$volt" cas build "$src" --ref demo/tree
step "$volt" cas status
step "$volt" cas dedup --top 5
step "$volt" cas checkout demo/tree "$dest"
echo
echo "\$ compare $src with $dest (content, modes, owners, mtimes, xattrs, links)"
python3 tests/tools/treediff.py "$src" "$dest" | tail -1

echo
echo "--- images and the registry"
rootfs=$lib/demo/busybox-rootfs
rm -rf "$rootfs" "$lib/demo/busybox-oci"
# systemd-nspawn only runs a directory that has /usr.
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/usr"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh ls cat echo sleep hostname wget httpd nslookup; do ln -sf busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
step "$volt" image import "$rootfs" --name demo/busybox:1
step "$volt" image export demo/busybox:1 "$lib/demo/busybox-oci"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo
echo "\$ $volt registry serve --port $port &"
"$volt" registry serve --port "$port" &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
token=$("$volt" -q registry token create --repo 'demo/*' --actions pull,push --ttl 10m)
step skopeo copy -q --dest-tls-verify=false --dest-registry-token "$token" \
    "oci:$lib/demo/busybox-oci:1" "docker://127.0.0.1:$port/demo/busybox:1"
step "$volt" image pull "127.0.0.1:$port/demo/busybox:1" --name demo/pulled:1
step "$volt" image list
step "$volt" image rm demo/pulled:1
kill -TERM "$serve"
wait "$serve" || true
trap - EXIT

echo
echo "--- containers"
trap '"$volt" -q container delete --force demo-web >/dev/null 2>&1 || true' EXIT
step "$volt" container run demo-web -d --image demo/busybox:1 --memory 64M -- \
    /bin/sh -c 'i=0; while true; do i=$((i+1)); echo "demo-web on $(hostname): tick $i"; sleep 1; done'
sleep 3
step "$volt" ps
step "$volt" container logs demo-web --tail 3
step "$volt" top -n 1
step "$volt" -o json top
step "$volt" container exec demo-web -- hostname
step "$volt" container stop demo-web
step "$volt" ps
step "$volt" container delete demo-web
trap - EXIT
step "$volt" container run --rm --image demo/busybox:1 -- echo hello

echo
echo "--- networks: a bridge, addresses, DNS by name, a port forward"
trap '"$volt" -q vm delete --force demo-vm >/dev/null 2>&1 || true; "$volt" -q container delete --force demo-site >/dev/null 2>&1 || true; "$volt" -q network delete demo-net >/dev/null 2>&1 || true' EXIT
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
step "$volt" network create demo-net
step "$volt" container run demo-site -d --image demo/busybox:1 --network demo-net -p "$hport:80" -- \
    /bin/sh -c 'echo "hello from demo-site" > /tmp/index.html; exec httpd -f -p 80 -h /tmp'
step "$volt" container inspect demo-site
# A second container finds the first by name through the network's DNS server.
step "$volt" container run --rm --image demo/busybox:1 --network demo-net -- wget -q -O - http://demo-site/
echo
echo "\$ wget -q -O - http://127.0.0.1:$hport/     # the port forward, from the host"
busybox wget -q -O - "http://127.0.0.1:$hport/"

echo
echo "--- a VM beside the containers, on the same network"
if ! "$volt" -o json kernel list | python3 -c 'import json, sys; sys.exit(0 if any(k["name"] == "server" for k in json.load(sys.stdin)) else 1)'; then
    step "$volt" kernel build server # Debian's cloud kernel: apt-get download + dpkg-deb -x, nothing in /boot
fi
step "$volt" vm create demo-vm --kernel server --memory 256M --network demo-net
step "$volt" vm start demo-vm
echo
echo "\$ $volt vm logs demo-vm    # until the guest's init offers its shell"
for _ in $(seq 600); do
    "$volt" vm logs demo-vm | grep -q 'shell on the console' && break
    sleep 0.1
done
"$volt" vm logs demo-vm --tail 3
step "$volt" vm inspect demo-vm
# The container resolves the VM's name; the VM fetches the container's page by name.
step "$volt" container run --rm --image demo/busybox:1 --network demo-net -- nslookup demo-vm
echo
echo "\$ echo 'wget -q -O - http://demo-site/' | $volt vm console demo-vm"
echo 'wget -q -O - http://demo-site/' | "$volt" vm console demo-vm
step "$volt" ps
step "$volt" vm snapshot create demo-vm first
step "$volt" vm stop demo-vm
step "$volt" vm delete demo-vm
step "$volt" network inspect demo-net
step "$volt" container delete --force demo-site
step "$volt" network delete demo-net
trap - EXIT

step "$volt" cas verify
step "$volt" cas gc --dry-run
echo
echo "demo done: the tree is ref demo/tree in $lib/cas; the checkout is in $dest;"
echo "the image is demo/busybox:1 (volt image inspect demo/busybox:1); run it with"
echo "  $volt container run --rm --image demo/busybox:1 -- /bin/sh -c 'hostname; ls /'"
