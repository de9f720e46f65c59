#!/bin/sh
# SPDX-License-Identifier: MIT
# deb.sh OUTDIR: build the Debian packages (debian/, dpkg-buildpackage -b)
# from a copy of the tree in OUTDIR/src, so the build never touches the
# tree and the .deb files land in OUTDIR, not in the tree's parent.
# The copy is what git knows of (tracked and untracked, not ignored), as the
# files are now; without git, everything but build outputs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: deb.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for t in dpkg-buildpackage dh dh_dkms; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "deb.sh: $t missing: install the build dependencies (scripts/deps.sh deb)" >&2
		exit 1
	fi
done
src=$out/src
rm -rf "$src" "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done' sh |
		tar -cf - -T - | tar -xf - -C "$src"
else
	tar -cf - --exclude=./build --exclude=./bin --exclude=./.git . | tar -xf - -C "$src"
fi
cd "$src"
# -j2: the machines this builds on are shared (see the Makefile's -j2 rule).
dpkg-buildpackage -us -uc -b -j2 >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
# dpkg-buildpackage writes into the parent of the source: $out.
rm -rf "$src"
ls "$out"/*.deb
