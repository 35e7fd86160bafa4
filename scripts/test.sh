#!/usr/bin/env bash
# Every test Volt has, as one command (run as root on Debian 12; installs what it needs):
#   Rust unit + integration tests (store, images, registry API, SDK, CLI incl. kill -9 and
#   concurrency), real OCI clients against the registry (skopeo, podman, oras, docker-registry),
#   formatting and clippy, the committed C header against cbindgen, the C test program (shared +
#   static), pytest + stubtest for the Python module, the Rust/C/Python examples, the generated
#   CLI reference in docs/, and that every program Volt, a test, the demo or a benchmark starts
#   is named in scripts/setup.sh's tools table (tests/tools/check_tools.py). VM tests boot a
#   small guest under QEMU (KVM where a probe shows it really runs guests, TCG otherwise).
# With CI=true a privileged test that would skip fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh test

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: not root; privileged tests (devices, foreign owners, capabilities, setpriv) will skip" >&2
fi

passed=0
failed=0
failures=()
suite() { # name command...
    local name=$1; shift
    echo
    echo "=== $name"
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "=== $name: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "=== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

# The Debian root the systemd-supervisor test boots (debootstrap once, cached), and the small
# guest the VM tests boot (Debian's cloud kernel, a busybox initramfs, an ext4 disk; cached).
if [ "$(id -u)" -eq 0 ]; then
    bash tests/systemd/debian-root.sh >/dev/null
    bash tests/vm/guest.sh >/dev/null
fi
# A clean clone builds everything once: incremental artefacts would only cost disk and time.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi

suite "tools: every program run is in setup.sh's table" python3 tests/tools/check_tools.py
suite "rustfmt" cargo fmt --all -- --check
suite "clippy" cargo clippy --workspace --exclude volt-python --all-targets -q -- -D warnings
suite "rust tests" cargo test --workspace --exclude volt-python
suite "registry: skopeo, podman, oras, docker-registry" bash tests/registry/clients.sh target/debug/volt
suite "C tests (libvolt.so and libvolt.a)" bash bindings/c/tests/run_c_tests.sh
suite "python tests (pytest, stubtest, mypy)" env VOLT_PY_PROFILE=dev bash bindings/python/test.sh
suite "example: rust" bash examples/rust/run.sh
suite "example: c" env VOLT_SKIP_BUILD=1 sh examples/c/run.sh
suite "example: python" bash examples/python/run.sh
suite "docs: CLI reference is current" bash scripts/gen-cli-docs.sh --check target/debug/volt

echo
if [ "$failed" -gt 0 ]; then
    printf 'failed suite: %s\n' "${failures[@]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
