#!/bin/sh
# Build libvolt, compile cas.c against volt.h and run it on a scratch tree.
#
# Environment: PROFILE=debug|release (default debug), CARGO_TARGET_DIR (default:
# <workspace>/target), CC (default gcc), VOLT_SKIP_BUILD=1 to use an already built library.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
profile=${PROFILE:-debug}
target_dir=${CARGO_TARGET_DIR:-$workspace/target}
case $target_dir in /*) ;; *) target_dir=$workspace/$target_dir ;; esac
libdir=$target_dir/$profile
cc=${CC:-gcc}

if [ "${VOLT_SKIP_BUILD:-0}" != 1 ]; then
    case $profile in
        debug) (cd "$workspace" && cargo build -p volt-c) ;;
        release) (cd "$workspace" && cargo build --release -p volt-c) ;;
        *) (cd "$workspace" && cargo build --profile "$profile" -p volt-c) ;;
    esac
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/volt-c-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

$cc -Wall -Wextra -Werror -std=c11 "$here/cas.c" -I"$workspace/bindings/c/include" -L"$libdir" -lvolt -o "$tmp/cas"

src=$tmp/tree
sh "$here/../make-tree.sh" "$src"

mkdir "$tmp/root"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/cas" "$tmp/root" "$src"
