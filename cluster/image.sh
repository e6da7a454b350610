#!/usr/bin/env bash
# Stages the build context of cluster/Containerfile: the thermosweep binary plus the Swift
# runtime libraries it links (the toolchain's, found with ldd; Debian has no package for them).
#
#   cluster/image.sh PATH/TO/thermosweep CONTEXT-DIR
set -euo pipefail
bin=${1:?usage: image.sh PATH/TO/thermosweep CONTEXT-DIR}
out=${2:?usage: image.sh PATH/TO/thermosweep CONTEXT-DIR}
[ -x "$bin" ] || { echo "image.sh: '$bin' is not an executable file" >&2; exit 2; }
mkdir -p "$out/lib"
cp "$bin" "$out/thermosweep"
# Everything ldd resolves outside the system's library folders belongs to the Swift toolchain.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
    case $lib in
        /lib/*|/usr/lib/*|/lib64/*) ;;
        *) cp -L "$lib" "$out/lib/" ;;
    esac
done
if ldd "$bin" | grep -q 'not found'; then
    echo "image.sh: ldd cannot resolve every library of $bin here:" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
fi
echo "image.sh: staged $(basename "$bin") and $(ls "$out/lib" | wc -l) Swift runtime libraries in $out"
