#!/usr/bin/env bash
# Build (once) the small guest that the VM tests and benchmarks boot: Debian's cloud kernel
# (linux-image-cloud-amd64, unpacked with dpkg-deb -x, never installed into /boot), a busybox
# initramfs with the virtio modules, and an ext4 data disk as qcow2. Cached under
# /var/cache/volt-tests/guest-N (about 10 s the first time); prints the directory.
#
# The guest's init prints VOLT-GUEST-READY on the serial console, configures eth0 from the
# kernel's `ip=` argument, mounts /dev/vda at /data when there is one, serves /data/www (or a
# default page naming the guest) over HTTP on port 80, powers off cleanly on the ACPI power button
# (printing VOLT-GUEST-POWERDOWN), and then runs a shell on the console.
set -euo pipefail
cache=${VOLT_TEST_CACHE:-/var/cache/volt-tests}
# Bump the suffix when the guest changes (the cache is kept across runs).
dir=$cache/guest-2
if [ -f "$dir/.volt-complete" ]; then
    echo "$dir"
    exit 0
fi
need=()
for pkg in busybox-static cpio e2fsprogs qemu-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp/deb" "$dir.tmp/x" "$dir.tmp/initrd"
cd "$dir.tmp/deb"
# The metapackage names the current kernel package; fetch that one.
apt-get download linux-image-cloud-amd64 >/dev/null 2>&1
pkg=$(dpkg-deb -f linux-image-cloud-amd64_*.deb Depends | grep -o 'linux-image-[^ ,]*-cloud-amd64' | head -1)
apt-get download "$pkg" >/dev/null 2>&1
dpkg-deb -x "$pkg"_*.deb "$dir.tmp/x"
cd "$dir.tmp"
cp x/boot/vmlinuz-* vmlinuz
kver=$(basename x/lib/modules/*)
echo "$kver" >kernel-version

# initramfs: busybox, the virtio modules in load order, and init.
r=initrd
mkdir -p $r/bin $r/sbin $r/proc $r/sys $r/dev $r/data $r/tmp $r/etc $r/lib/modules $r/www
cp /bin/busybox $r/bin/busybox
for m in virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
    virtio_blk failover net_failover virtio_net evdev button; do
    f=$(find "x/lib/modules/$kver" -name "$m.ko*" | head -1)
    [ -n "$f" ] || { echo "guest.sh: module $m not in $pkg" >&2; exit 1; }
    cp "$f" $r/lib/modules/
    echo "$(basename "$f")" >>$r/lib/modules/order
done
cat >$r/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
host=guest
for arg in $(cat /proc/cmdline); do
    case $arg in
    ip=*)
        IFS=: read -r addr _ gw mask host dev _ dns <<EOT
${arg#ip=}
EOT
        ip link set lo up
        ip link set "${dev:-eth0}" up
        ip addr add "$addr/$mask" dev "${dev:-eth0}"
        [ -n "$gw" ] && ip route add default via "$gw"
        [ -n "$dns" ] && echo "nameserver $dns" >/etc/resolv.conf
        ;;
    esac
done
hostname "${host:-guest}"
www=/www
if [ -b /dev/vda ] && mount -t ext4 /dev/vda /data 2>/dev/null; then
    [ -d /data/www ] && www=/data/www
fi
[ -f $www/index.html ] || echo "hello from $(hostname)" >$www/index.html
httpd -p 80 -h $www
# ACPI power button (volt vm stop): flush the disk and power off.
for d in /sys/class/input/event*; do
    grep -q "Power Button" "$d/device/name" 2>/dev/null || continue
    (head -c 1 "/dev/input/${d##*/}" >/dev/null; echo VOLT-GUEST-POWERDOWN; sync; umount /data 2>/dev/null; poweroff -f) &
done
# The marker is printed once the console is open for the shell, so input sent on seeing it is
# buffered by the tty, not lost.
ready=VOLT-GUEST-READY
while true; do
    setsid sh -c "exec </dev/ttyS0 >/dev/ttyS0 2>&1; echo $ready; exec sh"
    ready=
done
INIT
chmod +x $r/init
(cd $r && find . | cpio -o -H newc --quiet | gzip -1) >initrd.img

# A data disk: ext4 with a page, as qcow2 (the VM tests' base image).
mkdir -p disk/www
echo "served from the disk" >disk/www/index.html
truncate -s 64M disk.raw
mkfs.ext4 -q -F -d disk disk.raw
qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2
rm -rf deb x disk disk.raw "$r"
touch .volt-complete
cd /
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
