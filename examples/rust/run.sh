#!/bin/sh
# Run the Rust example on a scratch tree (the same tree examples/c/run.sh uses).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/volt-rust-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
src=$tmp/tree
mkdir -p "$src/etc" "$src/usr/share/doc" "$src/var/empty"
printf 'demo\n' > "$src/etc/hostname"
printf 'hello from a file\n' > "$src/usr/share/doc/README"
printf 'hello from a file\n' > "$src/usr/share/doc/README.copy"
head -c 100000 /dev/urandom > "$src/usr/share/blob.bin"
ln -s ../usr/share/doc/README "$src/etc/motd"
cd "$workspace"
cargo run -q -p volt-examples --example cas -- "$tmp/root" "$src"
