#!/usr/bin/env bash
# Run examples/python/cas.py against a throw-away root and a small source tree, then image.py
# (images and the registry, on two fresh roots under a throw-away work dir) on the same tree,
# with the Python of bindings/python/.venv (built by bindings/python/build.sh if `volt` is not
# installed there).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bindings="$here/../../bindings/python"
py="$bindings/.venv/bin/python"

if ! { [ -x "$py" ] && "$py" -c "import volt" 2>/dev/null; }; then
    "$bindings/build.sh"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sh "$here/../make-tree.sh" "$tmp/src"

# A VOLT_CONFIG from the caller's shell would replace the config file under the root.
env -u VOLT_ROOT -u VOLT_CONFIG "$py" "$here/cas.py" "$tmp/root" "$tmp/src"
echo
mkdir "$tmp/work"
env -u VOLT_ROOT -u VOLT_CONFIG "$py" "$here/image.py" "$tmp/work" "$tmp/src"
