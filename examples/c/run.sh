#!/bin/sh
# Build libvolt, compile cas.c and image.c against volt.h and run them on a scratch tree: cas
# (the store), then image (images and the registry, on two fresh roots under the scratch dir).
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

for example in cas image; do
    $cc -Wall -Wextra -Werror -std=c11 "$here/$example.c" -I"$workspace/bindings/c/include" -L"$libdir" -lvolt \
        -o "$tmp/$example"
done

src=$tmp/tree
sh "$here/../make-tree.sh" "$src"

mkdir "$tmp/root" "$tmp/work"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/cas" "$tmp/root" "$src"
echo
# A VOLT_CONFIG from the caller's shell would replace the config file under the roots.
env -u VOLT_CONFIG LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/image" "$tmp/work" "$src"
