#!/bin/bash
# SPDX-License-Identifier: MIT
# check-format.sh: the userspace sources must match .clang-format (kmod/
# follows checkpatch instead).  One TAP line per tree; `make format`
# fixes what a failure lists.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
cd "$top"
tap_init format
if ! command -v clang-format >/dev/null 2>&1; then
	tap_line skip "clang-format" "clang-format not installed (apt-get install clang-format)"
	tap_summary
	exit
fi
# Versions format differently: the tree is kept formatted by Debian 12's.
ver=$(clang-format --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$ver" != 14 ]; then
	tap_line skip "clang-format" "clang-format $ver here; the tree follows clang-format 14 (Debian 12)"
	tap_summary
	exit
fi
for dir in include lib tools tests/host tests/malloc tests/kmod tests/install tests/debugger \
	examples; do
	bad=""
	for f in $(find "$dir" \( -name '*.[ch]' -o -name '*.[ch]pp' \) -not -path 'include/uapi/*' | sort); do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
	done
	if [ -n "$bad" ]; then
		tap_line fail "$dir/ matches .clang-format" "run make format; differ:$bad"
	else
		tap_line ok "$dir/ matches .clang-format"
	fi
done
tap_summary
