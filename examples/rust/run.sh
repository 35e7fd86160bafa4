#!/bin/sh
# Run the Rust examples on a scratch tree (the same tree examples/c/run.sh uses): cas (the
# store), then image (images and the registry, on two fresh roots under the same scratch dir).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/volt-rust-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
src=$tmp/tree
sh "$here/../make-tree.sh" "$src"
cd "$workspace"
cargo run -q -p volt-examples --example cas -- "$tmp/root" "$src"
echo
# A VOLT_CONFIG from the caller's shell would replace the config file under the roots.
mkdir "$tmp/work"
env -u VOLT_CONFIG cargo run -q -p volt-examples --example image -- "$tmp/work" "$src"
