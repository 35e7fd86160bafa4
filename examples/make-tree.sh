#!/bin/sh
# The small tree every example stores: files, a subdirectory, an empty directory, duplicate
# content, a random blob and a symlink.  Usage: make-tree.sh DIR
set -eu
src=$1
mkdir -p "$src/etc" "$src/usr/share/doc" "$src/var/empty"
printf 'demo\n' > "$src/etc/hostname"
printf 'hello from a file\n' > "$src/usr/share/doc/README"
printf 'hello from a file\n' > "$src/usr/share/doc/README.copy"
head -c 100000 /dev/urandom > "$src/usr/share/blob.bin"
ln -s ../usr/share/doc/README "$src/etc/motd"
