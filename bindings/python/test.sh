#!/usr/bin/env bash
# Build and install the package (build.sh) and the container supervisor (volt-cli's
# volt-supervisor, which the container tests run containers with and networks their DNS server),
# then:
#   1. the pytest suite (tests/, verbose; tests marked netns re-run themselves in a network
#      namespace of their own, see tests/conftest.py),
#   2. mypy.stubtest: the typing stub against the installed native module,
#   3. mypy --strict over the tests and examples/python, which exercises the stub as users see it.
# Exits non-zero as soon as a step fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="$here/.venv/bin/python"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

"$here/build.sh"

# The container tests (as root) need volt-supervisor; VOLT_SKIP_BUILD=1 uses one already built.
workspace="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
case "$target_dir" in /*) ;; *) target_dir="$workspace/$target_dir" ;; esac
if [ "${VOLT_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$workspace" && cargo build -p volt-cli --bin volt-supervisor)
fi
export VOLT_SUPERVISOR="${VOLT_SUPERVISOR:-$target_dir/debug/volt-supervisor}"

# The tests open stores under pytest's tmp_path; a VOLT_CONFIG (or, for Store(), VOLT_ROOT) from
# the caller's shell must not reconfigure them.
cd "$here"
env -u VOLT_ROOT -u VOLT_CONFIG "$py" -m pytest -v -p no:cacheprovider tests/

# Run from an empty directory so that only the installed package (with its .pyi and py.typed)
# can be imported, never python/volt from the source tree.
cd "$scratch"
"$py" -m mypy.stubtest volt --mypy-config-file "$here/pyproject.toml"
"$py" -m mypy --config-file "$here/pyproject.toml" --cache-dir "$scratch/.mypy_cache" \
    "$here/tests/conftest.py" "$here/tests/test_cas.py" "$here/tests/test_images.py" "$here/tests/test_containers.py" \
    "$here/tests/test_networks.py" "$here/tests/test_vms.py" "$here/tests/test_workloads.py" "$here/../../examples/python/cas.py" "$here/../../examples/python/image.py"
echo "test.sh: all checks passed"
