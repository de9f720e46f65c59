#!/bin/bash
# SPDX-License-Identifier: MIT
# check-man.sh: every page in man/ must format with groff -ww -man -z with
# no output and exit 0, one TAP line per page.  Pages are whole pages, not
# ".so" links: `man -l man/X.3` resolves .so against the current directory.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
tap_init man
if ! command -v groff >/dev/null 2>&1; then
	tap_line skip "man/*" "groff not installed (apt-get install groff-base)"
	tap_summary
	exit
fi
for f in "$top"/man/*.[1-9]; do
	[ -f "$f" ] || continue
	rel=${f#"$top"/}
	out=$(cd "$top" && groff -ww -man -z "$rel" 2>&1)
	rc=$?
	if [ $rc != 0 ] || [ -n "$out" ]; then
		tap_line fail "$rel" "groff exit $rc"
		printf '%s\n' "$out" | sed 's/^/# /'
	else
		tap_line ok "$rel"
	fi
done
tap_summary
