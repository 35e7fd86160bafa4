#!/usr/bin/env bash
# Build the `volt` Python package and install it into bindings/python/.venv.
#
#   bindings/python/build.sh            # release build (what test.sh uses)
#   VOLT_PY_PROFILE=dev build.sh        # unoptimised, faster to compile
#
# Creates the venv if missing (needs python3 with the venv module; on Debian:
# `apt-get install python3-venv`), installs maturin, pytest and mypy into it, builds an abi3
# wheel with maturin and installs that wheel, so tests run against the packaged artifact
# (stub, py.typed and all) rather than the source tree.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"
profile="${VOLT_PY_PROFILE:-release}"

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "build.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
    echo "build.sh: creating $venv"
    "$python" -m venv "$venv" || {
        echo "build.sh: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
        exit 1
    }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest mypy

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT

args=(build --manifest-path "$here/Cargo.toml" --interpreter "$venv/bin/python" --out "$wheels")
if [ "$profile" = release ]; then
    args+=(--release)
else
    args+=(--profile "$profile")
fi
(cd "$here" && VIRTUAL_ENV="$venv" "$venv/bin/maturin" "${args[@]}")

shopt -s nullglob
built=("$wheels"/volt-*.whl)
[ "${#built[@]}" -eq 1 ] || { echo "build.sh: expected one wheel in $wheels, found ${#built[@]}" >&2; exit 1; }
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "${built[0]}"
echo "build.sh: installed $(basename "${built[0]}") into $venv"
