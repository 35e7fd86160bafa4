#!/usr/bin/env bash
# Install what building and testing Volt needs on Debian 12 (run as root). Idempotent: a second
# run only checks. Sourced by demo.sh and test.sh; `setup.sh bench` also installs the peers the
# benchmarks compare against (ostree, b3sum, qemu-img, wrk, runc, netavark, aardvark-dns, iperf3,
# iptables; jq for their scripts); the real OCI clients the registry tests use (skopeo, podman,
# docker-registry, oras from PyPI) are always installed, and so is what containers and networks
# run on (systemd-nspawn from systemd-container, nftables; debootstrap for Debian root
# filesystems), and what VMs run on: QEMU (qemu-system-x86 with qemu-utils, both from
# bookworm-backports), cpio and e2fsprogs for guest initramfs and disks.
set -euo pipefail

need_apt=()
for pkg in build-essential pkg-config curl ca-certificates python3 python3-venv python3-pip git util-linux \
    tar skopeo podman docker-registry busybox-static apache2-utils nftables systemd-container debootstrap \
    cpio e2fsprogs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ "${1:-}" = bench ]; then
    for pkg in ostree b3sum qemu-utils wrk runc jq iperf3 iptables netavark aardvark-dns; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
    done
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages ${need_apt[*]}; run as root (or install them) first" >&2
        exit 10
    fi
    echo "setup: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# QEMU 10 from bookworm-backports, qemu-system-x86 and qemu-utils together: Debian 12's own
# qemu-system-x86 (7.2) would pull qemu-utils back to 7.2 beside a newer one.
if ! qemu-system-x86_64 --version 2>/dev/null | grep -q 'version 1[0-9]\.'; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: QEMU 10 (qemu-system-x86 from bookworm-backports) is missing; run as root first" >&2
        exit 10
    fi
    echo "setup: installing qemu-system-x86 and qemu-utils from bookworm-backports"
    export DEBIAN_FRONTEND=noninteractive
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo 'deb http://deb.debian.org/debian bookworm-backports main' >/etc/apt/sources.list.d/volt-backports.list
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 qemu-utils >/dev/null
fi

# Rust: Debian 12's rustc is too old for the workspace (rust-version in Cargo.toml), so use rustup.
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
for comp in clippy rustfmt; do
    if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
        rustup component add "$comp" >/dev/null 2>&1 || true
    fi
done

# OCI clients from PyPI for the registry tests (oras), in a venv of their own.
tools_venv=target/tools-venv
if ! "$tools_venv/bin/python" -c 'import oras.client' >/dev/null 2>&1; then
    echo "setup: installing oras (PyPI) into $tools_venv"
    mkdir -p target
    python3 -m venv "$tools_venv"
    "$tools_venv/bin/pip" install -q --disable-pip-version-check oras
fi
