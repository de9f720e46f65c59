#!/bin/sh
# SPDX-License-Identifier: MIT
# build-kmod.sh KDIR OUTDIR: build finalloc.ko against the kernel tree KDIR.
# Each kernel gets OUTDIR/<release>/, a tree of symlinks to the sources, so
# builds for 6.1 and 6.12 never share objects.  OUTDIR/finalloc.ko is the
# module for the last KDIR built.
set -eu
kdir=${1:?usage: build-kmod.sh KDIR OUTDIR}
out=${2:?usage: build-kmod.sh KDIR OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$kdir/include/config/kernel.release" ]; then
	echo "build-kmod: $kdir is not a configured kernel tree (install linux-headers-amd64)" >&2
	exit 1
fi
rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$kdir/include/generated/utsrelease.h")
dir="$out/$rel"
mkdir -p "$dir/kmod" "$dir/include/uapi/linux"
ln -sf "$top/Kbuild" "$dir/Kbuild"
ln -sf "$top/include/uapi/linux/finalloc.h" "$dir/include/uapi/linux/finalloc.h"
# Drop links to sources that no longer exist, then link the current ones.
find "$dir/kmod" -maxdepth 1 -type l \( -name '*.c' -o -name '*.h' \) -delete
for f in "$top"/kmod/*.c "$top"/kmod/*.h; do
	[ -e "$f" ] && ln -sf "$f" "$dir/kmod/"
done
echo "  KMOD    finalloc.ko for $rel"
make -s -C "$kdir" M="$(cd "$dir" && pwd)" modules >"$dir/build.log" 2>&1 || {
	cat "$dir/build.log" >&2
	exit 1
}
# Kernel warnings fail the build like userspace ones do.
# (make's own jobserver notice under -jN is not the compiler's.)
if grep -E 'warning:' "$dir/build.log" | grep -v 'jobserver' >&2; then
	echo "build-kmod: warnings building for $rel" >&2
	exit 1
fi
cp "$dir/finalloc.ko" "$out/finalloc.ko"
