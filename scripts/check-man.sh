#!/bin/bash
# SPDX-License-Identifier: MIT
# check-man.sh, one TAP line per page plus one for the API:
# - a whole page must format with groff -ww -man -z with no output, exit 0;
# - an alias page is one line ".so man3/OTHER.3" naming a whole page of
#   man/ (`man NAME` finds it once installed; `man -l` resolves .so against
#   the current directory, so read the target in place);
# - every "name(N)" a page cites that looks like ours (fa_*, FA_*,
#   finalloc) must be a page in man/;
# - every public function (the fa_* symbols of lib/libfinalloc.map, the
#   inline and macro functions of include/finalloc.h) must have a page.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
tap_init man

# Our pages cited by $1 that do not exist, one per line.
missing_refs() {
	grep -oE '\b(fa_[A-Za-z0-9_]+|FA_[A-Z0-9_]+|finalloc)\\?f?[BIR]? ?\(([1-9])\)' "$1" |
		sed -E 's/\\f[BIR]//; s/ //; s/^(.*)\(([1-9])\)$/\1 \2/' | sort -u |
		while read -r name sec; do
			[ -f "$top/man/$name.$sec" ] || echo "$name($sec)"
		done
}

have_groff=1
command -v groff >/dev/null 2>&1 || have_groff=0
for f in "$top"/man/*.[1-9]; do
	[ -f "$f" ] || continue
	rel=${f#"$top"/}
	if head -n 1 "$f" | grep -q '^\.so '; then
		target=$(sed -n '1s/^\.so man[1-9]\///p' "$f")
		if [ "$(wc -l <"$f")" != 1 ] || [ -z "$target" ]; then
			tap_line fail "$rel" "an alias page is one line: .so manN/PAGE.N"
		elif [ ! -f "$top/man/$target" ] || head -n 1 "$top/man/$target" | grep -q '^\.so '; then
			tap_line fail "$rel" "alias of man/$target, not a whole page of man/"
		else
			tap_line ok "$rel (alias of $target)"
		fi
		continue
	fi
	bad=$(missing_refs "$f" | tr '\n' ' ')
	if [ -n "$bad" ]; then
		tap_line fail "$rel" "cites missing pages: $bad"
		continue
	fi
	if [ $have_groff = 0 ]; then
		tap_line skip "$rel" "groff not installed (apt-get install groff-base)"
		continue
	fi
	out=$(cd "$top" && groff -ww -man -z "$rel" 2>&1)
	rc=$?
	if [ $rc != 0 ] || [ -n "$out" ]; then
		tap_line fail "$rel" "groff exit $rc"
		printf '%s\n' "$out" | sed 's/^/# /'
	else
		tap_line ok "$rel"
	fi
done

# The API: exported symbols (fa__* are the inline paths' internals) and the
# function-like macros and inline functions of the public header.
api=$({
	grep -oE '^[[:space:]]*fa_[a-z0-9_]+;' "$top/lib/libfinalloc.map" | tr -d ' \t;'
	grep -oE '^#[[:space:]]*define[[:space:]]+(fa|FA)_[A-Za-z0-9_]+\(' "$top/include/finalloc.h" |
		sed -E 's/.*define[[:space:]]+//; s/\($//'
	grep -oE '^static inline [^(]*[ *](fa_[a-z0-9_]+)\(' "$top/include/finalloc.h" |
		sed -E 's/.*[ *](fa_[a-z0-9_]+)\($/\1/'
} | grep -v '^fa__' | sort -u)
nopage=""
for fn in $api; do
	[ -f "$top/man/$fn.3" ] || nopage="$nopage $fn"
done
if [ -n "$nopage" ]; then
	tap_line fail "public functions have pages" "no man/NAME.3 for:$nopage"
else
	tap_line ok "public functions have pages ($(echo $api | wc -w))"
fi
tap_summary
