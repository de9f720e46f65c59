#!/bin/bash
# SPDX-License-Identifier: MIT
# malloc-programs.sh [BUILD_DIR]: real programs on the malloc drop-in give
# the output they give on glibc.  Each runs twice, plainly and with
# LD_PRELOAD=BUILD_DIR/libfinalloc-malloc.so.0, and both outputs (and exit
# statuses) must match; one TAP line per program, a program that is not
# installed is skipped with the reason.  The project's own host test
# programs must pass on the drop-in (their timings and addresses differ
# from run to run, so their whole output is not compared).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
b=${1:-$top/build}
case $b in /*) ;; *) b=$top/$b ;; esac
so=$b/libfinalloc-malloc.so.0
tap_init malloc-programs
if [ ! -r "$so" ]; then
	tap_line fail "drop-in" "not built: $so (make malloc)"
	tap_summary
	exit
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
logdir=${FA_LOGDIR:-$top/build/logs}/malloc-programs
mkdir -p "$logdir"

# compare NAME FILTER CMD...: run CMD on glibc and on the drop-in.
compare() {
	name=$1 filter=$2
	shift 2
	(cd "$tmp/work" && "$@") >"$tmp/glibc.out" 2>&1
	rc1=$?
	(cd "$tmp/work" && LD_PRELOAD=$so "$@") >"$tmp/fa.out" 2>&1
	rc2=$?
	$filter <"$tmp/glibc.out" >"$tmp/glibc.f"
	$filter <"$tmp/fa.out" >"$tmp/fa.f"
	cp "$tmp/fa.out" "$logdir/$name.log"
	if [ $rc1 != $rc2 ]; then
		tap_line fail "$name" "exit $rc1 on glibc, $rc2 on the drop-in (log: $logdir/$name.log)"
	elif ! cmp -s "$tmp/glibc.f" "$tmp/fa.f"; then
		diff "$tmp/glibc.f" "$tmp/fa.f" >"$logdir/$name.diff"
		tap_line fail "$name" "output differs (diff: $logdir/$name.diff)"
	elif ! [ -s "$tmp/fa.f" ]; then
		tap_line fail "$name" "no output to compare"
	else
		tap_line ok "$name"
	fi
}

# need PROG: true if installed, else a skip line
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	tap_line skip "$2" "$1 not installed"
	return 1
}


mkdir -p "$tmp/work"
seq 1 20000 | awk '{ print ($1 * 7919) % 10007, "line", $1 }' >"$tmp/work/in.txt"

need python3 "python3" &&
	compare python3 cat python3 -c '
import json, collections, re
d = {str(i): list(range(i % 50)) for i in range(20000)}
s = json.dumps(d, sort_keys=True)
c = collections.Counter(re.findall(r"\d+", s))
print(len(s), sorted(c.items())[:5], sum(len(v) for v in json.loads(s).values()))
b = bytearray(10 << 20); b[-1] = 1; print(sum(b))'

need sort "sort" && compare sort cat sort -n -k1,1 -k3,3 in.txt

if need gcc "gcc compiling a file"; then
	cp "$top/lib/numa/numa.c" "$tmp/work/"
	compare gcc "sha256sum" sh -c \
		"gcc -O2 -g0 -D_GNU_SOURCE -I'$top/include' -I'$top/lib' -c numa.c -o out.o && cat out.o"
fi

if need git "git in a temporary repository"; then
	compare git cat sh -c '
		rm -rf repo && git init -q repo && cd repo &&
		for i in 1 2 3 4 5; do seq $i 3000 >f$i; git add f$i;
			git -c user.email=t@t -c user.name=t commit -qm "c$i" --date="2020-01-0$i 00:00:00 +0000"; done &&
		GIT_COMMITTER_DATE=x git log --format="%s %T" && git gc -q && git fsck 2>&1 && git count-objects -v | grep -v size'
fi

# The drop-in's own API test under its knobs: 4 KiB pages (maps that do not
# start on a 64 KiB boundary), debug pools.
for env in FINALLOC_BACKEND=small FINALLOC_DEBUG=1 FINALLOC_PREFAULT=1; do
	prog=$b/tests/malloc_api
	if [ ! -x "$prog" ]; then
		tap_line skip "malloc_api with $env" "not built: $prog"
		continue
	fi
	env "$env" "$prog" >"$logdir/malloc_api-$env.log" 2>&1
	rc=$?
	if [ $rc = 0 ] && ! grep -q '^not ok' "$logdir/malloc_api-$env.log"; then
		tap_line ok "malloc_api with $env"
	else
		tap_line fail "malloc_api with $env" "exit $rc (log: $logdir/malloc_api-$env.log)"
	fi
done

# The project's own host tests, on glibc and on the drop-in.
for t in pool numa arena backend topology pool_mt; do
	prog=$b/tests/$t
	if [ ! -x "$prog" ]; then
		tap_line skip "host test $t" "not built: $prog"
		continue
	fi
	# Their result lines are the same on both when every test passes; a
	# failure on the drop-in is compared with glibc's run, so a test that
	# fails there too (a loaded host) is said, not blamed on the drop-in.
	log=$logdir/host-test-$t.log
	LD_PRELOAD=$so "$prog" >"$log" 2>&1 </dev/null
	rc=$?
	if [ $rc = 0 ] && ! grep -q '^not ok' "$log"; then
		tap_line ok "host-test-$t"
	elif "$prog" >"$log.glibc" 2>&1 </dev/null && ! grep -q '^not ok' "$log.glibc"; then
		tap_line fail "host-test-$t" "fails on the drop-in only (exit $rc, log: $log)"
	else
		tap_line skip "host-test-$t" "fails on glibc too (logs: $log, $log.glibc)"
	fi
done
tap_summary
