#!/bin/sh
# Build libvolt in release mode and install it under PREFIX:
#   PREFIX/lib/libvolt.so, PREFIX/lib/libvolt.a, PREFIX/include/volt.h, PREFIX/lib/pkgconfig/volt.pc
#
# Usage: bindings/c/install.sh PREFIX
# Environment: CARGO_TARGET_DIR (default: <workspace>/target), DESTDIR (staging root, as in
# `make install`; the paths written into volt.pc stay PREFIX-based), VOLT_SKIP_BUILD=1 to install
# an already built release library.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$1
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
destdir=${DESTDIR:-}

crate=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$crate/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$workspace/target}
case $target_dir in /*) ;; *) target_dir=$workspace/$target_dir ;; esac
built=$target_dir/release

if [ "${VOLT_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$workspace" && cargo build --release -p volt-c)
fi

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$workspace/Cargo.toml" | head -n 1)
libdir=$prefix/lib
includedir=$prefix/include

install -d "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 0755 "$built/libvolt.so" "$destdir$libdir/libvolt.so"
install -m 0644 "$built/libvolt.a" "$destdir$libdir/libvolt.a"
install -m 0644 "$crate/include/volt.h" "$destdir$includedir/volt.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@INCLUDEDIR@|$includedir|g" \
    -e "s|@VERSION@|$version|g" "$crate/volt.pc.in" > "$destdir$libdir/pkgconfig/volt.pc"

echo "installed libvolt $version under $destdir$prefix"
echo "compile with: cc app.c \$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs volt)"
