#!/usr/bin/env bash
# Install what building, running and testing Volt needs on Debian 12 (run as root). Idempotent:
# a second run only checks.
#
#   scripts/setup.sh [test] [demo] [bench]     (no group: test and demo)
#
# Sourced by test.sh (`. scripts/setup.sh test`) and demo.sh (`. scripts/setup.sh demo`);
# `setup.sh bench` installs the peers the benchmarks compare against. The groups base, build and
# run are always installed. Everything comes from the TOOLS table below and nothing else:
# tests/tools/check_tools.py fails when Volt's code, a test, the demo or a benchmark starts a
# program that the table does not name for it.
set -euo pipefail

# Every external program that Volt, its tests, its demo and its benchmarks run, with the Debian
# package that provides it, grouped by what needs it:
#   base   what this script and every other one use; build: compiling Volt and its bindings;
#   run    what Volt itself starts (containers, networks, VMs, kernels); test: the test suite;
#   demo   scripts/demo.sh; bench: the comparisons under benches/.
# A package is installed with apt unless it is written PKG@backports (from bookworm-backports,
# on the mirror the machine's own apt sources use) or in parentheses: (rustup) is the Rust
# toolchain, (pip:NAME) goes into the tools virtualenv target/tools-venv. A program written as a
# path is a file the package must provide (a header, a program outside PATH).
# Columns: groups, package, programs.
volt_tools() {
    cat <<'TOOLS'
base            coreutils           basename cat chmod chown cp cut date dd dirname du env head id install ln ls
base            coreutils           mkdir mktemp mv nproc realpath rm rmdir seq sleep sort stat sync tail tee touch tr
base            coreutils           truncate uname wc
base            bash                bash
base            dash                sh
base            grep                grep
base            sed                 sed
base            mawk                awk
base            findutils           find xargs
base            diffutils           diff
base            gzip                gzip
base            tar                 tar
base            util-linux          nsenter unshare setpriv findmnt
base            mount               mount umount
base            procps              pgrep
base            libc-bin            ldd
base            dpkg                dpkg-query dpkg-deb
base            apt                 apt-get
base            curl                curl
base            ca-certificates
base            python3             python3
base            python3-venv
base            python3-pip
base            git                 git
base            (rustup)            cargo rustup
build           build-essential     # libc headers, g++, for crates that build C
build,run       gcc                 gcc
build,run       make                make
build           pkg-config          # for the build scripts of -sys crates
run             systemd-container   systemd-nspawn
run             systemd             journalctl systemd-machine-id-setup
run             nftables            nft
run             busybox-static      busybox
run             cpio                cpio
run             binutils            strip
run             qemu-system-x86@backports qemu-system-x86_64
run             qemu-utils@backports      qemu-img
run             flex                flex        # building the minimal kernel (volt kernel build minimal)
run             bison               bison
run             bc                  bc
run             libelf-dev          /usr/include/gelf.h
test            e2fsprogs           mkfs.ext4
test            debootstrap         debootstrap
test            openssl             openssl
test            shfmt               shfmt
test,bench      b3sum               b3sum
test,demo,bench skopeo              skopeo
test,bench      podman              podman
test,bench      docker-registry     docker-registry
test,bench      apache2-utils       htpasswd ab
test            (pip:oras)
bench           conmon              conmon
bench           ostree              ostree
bench           wrk                 wrk
bench           runc                runc
bench           jq                  jq
bench           iperf3              iperf3
bench           iptables            iptables
bench           iproute2            ip ss
bench           file                file
bench           strace              strace
bench           netavark            /usr/lib/podman/netavark
bench           aardvark-dns        /usr/lib/podman/aardvark-dns
TOOLS
}

setup_groups=(base build run "$@")
[ $# -gt 0 ] || setup_groups+=(test demo)
for g in "${setup_groups[@]}"; do
    case $g in
    base | build | run | test | demo | bench) ;;
    *)
        echo "setup: unknown group '$g' (choose from test, demo, bench)" >&2
        exit 2
        ;;
    esac
done

# The table's rows for the groups asked for, as "PACKAGE" words.
setup_rows() {
    volt_tools | sed 's/#.*//' | while read -r groups pkg _; do
        [ -n "${pkg:-}" ] || continue
        for g in "${setup_groups[@]}"; do
            case ",$groups," in *,"$g",*)
                echo "$pkg"
                break
                ;;
            esac
        done
    done | awk '!seen[$0]++'
}

setup_installed() { # package [backports]
    local st
    st=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || return 1
    case $st in "install ok installed "*) ;; *) return 1 ;; esac
    # Backports versions carry ~bpo; the same package from bookworm itself is not enough.
    [ -z "${2:-}" ] || case $st in *~bpo*) ;; *) return 1 ;; esac
}

need_apt=()
need_bpo=()
need_pip=()
need_rustup=
while read -r pkg; do
    case $pkg in
    "(rustup)") command -v cargo >/dev/null 2>&1 || [ -f "$HOME/.cargo/env" ] || need_rustup=1 ;;
    "(pip:"*) pkg=${pkg#(pip:} && need_pip+=("${pkg%)}") ;;
    *@backports) setup_installed "${pkg%@backports}" bpo || need_bpo+=("${pkg%@backports}") ;;
    *) setup_installed "$pkg" || need_apt+=("$pkg") ;;
    esac
done < <(setup_rows)

if [ $((${#need_apt[@]} + ${#need_bpo[@]})) -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages ${need_apt[*]} ${need_bpo[*]/%/ (bookworm-backports)}; run as root (or install them) first" >&2
        exit 10
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ ${#need_bpo[@]} -gt 0 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        # The mirror that already serves bookworm here (one-line or deb822 sources).
        mirror=$(
            {
                grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                    sed 's/\[[^]]*\]//' | awk '$3 == "bookworm" { print $2 }'
                awk '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") print u }' \
                    /etc/apt/sources.list.d/*.sources 2>/dev/null
            } | head -1
        )
        if [ -z "$mirror" ]; then
            echo "setup: no apt source for bookworm found to take bookworm-backports from; add one" >&2
            exit 10
        fi
        echo "setup: adding bookworm-backports from $mirror"
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$mirror" >/etc/apt/sources.list.d/volt-backports.sources
    fi
    apt-get update -qq
    if [ ${#need_apt[@]} -gt 0 ]; then
        echo "setup: installing ${need_apt[*]}"
        apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
    if [ ${#need_bpo[@]} -gt 0 ]; then
        # Together: Debian 12's own qemu-system-x86 (7.2) would pull qemu-utils back to 7.2.
        echo "setup: installing ${need_bpo[*]} from bookworm-backports"
        apt-get install -y -qq --no-install-recommends -t bookworm-backports "${need_bpo[@]}" >/dev/null
    fi
fi

# Rust: Debian 12's rustc is too old for the workspace (rust-version in Cargo.toml), so rustup.
if [ -z "$need_rustup" ] && ! command -v cargo >/dev/null 2>&1; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if [ -n "$need_rustup" ]; then
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

# PyPI packages of the table (the OCI client oras for the registry tests), in a venv of their own.
tools_venv=target/tools-venv
if [ ${#need_pip[@]} -gt 0 ] && ! "$tools_venv/bin/python" -m pip show -q "${need_pip[@]}" >/dev/null 2>&1; then
    echo "setup: installing ${need_pip[*]} (PyPI) into $tools_venv"
    mkdir -p target
    python3 -m venv "$tools_venv"
    "$tools_venv/bin/pip" install -q --disable-pip-version-check "${need_pip[@]}"
fi
unset need_apt need_bpo need_pip need_rustup setup_groups
