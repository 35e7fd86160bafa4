#!/bin/sh
# Run the Rust example on a scratch tree (the same tree examples/c/run.sh uses).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/volt-rust-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
src=$tmp/tree
sh "$here/../make-tree.sh" "$src"
cd "$workspace"
cargo run -q -p volt-examples --example cas -- "$tmp/root" "$src"
