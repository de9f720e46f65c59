#!/bin/bash
# SPDX-License-Identifier: MIT
# checkpatch.sh: the module and the uapi header must pass checkpatch.pl
# --no-tree with no errors and no warnings (one TAP line per file).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
cp=${B:-$top/build}/kselftest/scripts/checkpatch.pl
[ -f "$cp" ] || "$top/scripts/kselftest.sh" "$(dirname "$(dirname "$cp")")" || exit 1
tap_init checkpatch
for f in "$top"/kmod/*.[ch] "$top"/include/uapi/linux/finalloc.h; do
	[ -f "$f" ] || continue
	rel=${f#"$top"/}
	out=$(cd "$top" && perl "$cp" --no-tree --terse --show-types \
		-f "$rel" 2>&1)
	if echo "$out" | grep -qE '(ERROR|WARNING):'; then
		tap_line fail "$rel" "$(echo "$out" | grep -cE '(ERROR|WARNING):') problems"
		echo "$out" | grep -E '(ERROR|WARNING):' | sed 's/^/# /'
	else
		tap_line ok "$rel"
	fi
done
tap_summary
