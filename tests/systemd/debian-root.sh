#!/usr/bin/env bash
# Build (once) the Debian root that the systemd-supervisor tests boot with `systemd-nspawn -b`:
# debootstrap minbase + systemd, dbus and systemd-container (containers run nested in it), and
# QEMU from bookworm-backports (VMs run by its systemd). Cached
# under /var/cache/volt-tests (about 40 s the first time); prints the root's path.
set -euo pipefail
cache=${VOLT_TEST_CACHE:-/var/cache/volt-tests}
root=$cache/bookworm-systemd
# QEMU 10 from bookworm-backports inside the root, for VMs run by its systemd (added to roots made
# before VMs existed, too).
add_qemu() {
    [ -f "$1/.volt-qemu" ] && return 0
    echo "debian-root: installing qemu-system-x86 (bookworm-backports) into $1" >&2
    echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$1/etc/apt/sources.list.d/backports.list"
    systemd-nspawn -q --register=no --keep-unit -D "$1" sh -c \
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null && apt-get clean' \
        >>"$cache/debootstrap.log" 2>&1 || {
        tail -20 "$cache/debootstrap.log" >&2
        exit 1
    }
    touch "$1/.volt-qemu"
}
if [ -f "$root/.volt-complete" ]; then
    add_qemu "$root"
    echo "$root"
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq debootstrap >/dev/null
fi
rm -rf "$root.tmp"
mkdir -p "$cache"
echo "debian-root: debootstrap bookworm (minbase + systemd, dbus, systemd-container) into $root" >&2
debootstrap --variant=minbase --include=systemd,dbus,systemd-container bookworm "$root.tmp" \
    http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || {
    tail -20 "$cache/debootstrap.log" >&2
    exit 1
}
# A machine id, and no getty on a console nobody reads.
systemd-machine-id-setup --root="$root.tmp" >/dev/null 2>&1 || true
rm -f "$root.tmp/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true
add_qemu "$root.tmp"
touch "$root.tmp/.volt-complete"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "$root"
