#!/bin/bash
# SPDX-License-Identifier: MIT
# check-memcheck.sh [BUILD]: the memory debuggers see FinAlloc's objects.
# tests/debugger/bugs commits one deliberate bug a run; under valgrind's
# memcheck (BUILD/debugger/bugs) and with AddressSanitizer
# (BUILD/debugger/bugs-asan, the ordinary libfinalloc.a linked into an
# ASan-built program) each must be reported with the right kind of error
# and, where the debugger keeps one, the allocating stack naming the bug's
# function.  A clean run and the host test programs over pools and arenas
# must draw no report under memcheck.  One TAP line per check.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
b=${1:-build}
case $b in /*) ;; *) b=$top/$b ;; esac
logdir=${FA_LOGDIR:-$top/build/logs}/debuggers
mkdir -p "$logdir"
timeout_s=${FA_TEST_TIMEOUT:-600}
bugs=$b/debugger/bugs
bugs_asan=$b/debugger/bugs-asan
dropin=$b/libfinalloc-malloc.so.0
preload=""
# the pool, arena and NUMA host programs fast enough under memcheck (a few
# seconds to tens of seconds each here)
host_progs="arena pool pool_trim pool_noinline pool_prefetch numa"

tap_init debuggers

# run LOG CMD...: CMD's output to LOG, its status in rc
run() {
	local log=$1
	shift
	(cd "$top" && timeout -k 10 "$timeout_s" "$@") >"$log" 2>&1 </dev/null
	rc=$?
}

# stack_after LOG HEADER: the frames under the first line matching HEADER
stack_after() {
	awk -v h="$2" 'f && !/(at|by) 0x/ { exit } f { print } index($0, h) { f = 1 }' "$1"
}

# mc NAME KIND STACK-HEADER FUNCTION [VALGRIND OPTIONS]: memcheck's report
# of bugs NAME has KIND and, under STACK-HEADER, a frame in FUNCTION
# (with $preload, the malloc drop-in preloaded)
mc() {
	local name=$1 kind=$2 hdr=$3 fn=$4 log=$logdir/bugs-$1.log
	shift 4
	run "$log" env ${preload:+LD_PRELOAD=$preload} valgrind --error-exitcode=99 "$@" \
		"$bugs" "$name"
	if [ "$rc" != 99 ]; then
		tap_line fail "memcheck: $name" "exit $rc, not memcheck's 99 (log: $log)"
	elif ! grep -qF "$kind" "$log"; then
		tap_line fail "memcheck: $name" "no \"$kind\" report (log: $log)"
	elif ! stack_after "$log" "$hdr" | grep -q ": $fn "; then
		tap_line fail "memcheck: $name" "\"$hdr\" does not name $fn (log: $log)"
	else
		tap_line ok "memcheck: $name: $kind, $fn in \"$hdr\""
	fi
}

# as NAME KIND FUNCTION STATE [LINE]: ASan's report of bugs-asan NAME has
# KIND and a frame in FUNCTION (and the library's LINE before it), and the
# library adds the object's allocating stack, through alloc_in_FUNCTION,
# and for STATE freed its freeing stack
as() {
	local name=$1 kind=$2 fn=$3 state=$4 line=${5:-} log=$logdir/bugs-asan-$1.log
	run "$log" env ASAN_OPTIONS=detect_leaks=0 "$bugs_asan" "$name"
	if [ "$rc" = 0 ]; then
		tap_line fail "asan: $name" "exit 0: not reported (log: $log)"
	elif ! grep -q "ERROR: AddressSanitizer: $kind" "$log"; then
		tap_line fail "asan: $name" "no \"$kind\" report (log: $log)"
	elif ! grep -qE "^ +#[0-9]+ 0x[0-9a-f]+ in $fn " "$log"; then
		tap_line fail "asan: $name" "the report's stack does not name $fn (log: $log)"
	elif [ -n "$line" ] && ! grep -qF "$line" "$log"; then
		tap_line fail "asan: $name" "no \"$line\" from the library (log: $log)"
	elif ! sed -n '/^finalloc: allocated by:/,$p' "$log" | grep -qE "^ +#[0-9]+ 0x[0-9a-f]+ in alloc_in_$fn "; then
		tap_line fail "asan: $name" "no allocating stack through alloc_in_$fn (log: $log)"
	elif ! grep -q "^finalloc: .* object of libfinalloc at 0x[0-9a-f]*, $state\$" "$log"; then
		tap_line fail "asan: $name" "the library does not name the $state object (log: $log)"
	elif [ "$state" = freed ] && ! grep -q "^finalloc: freed by:" "$log"; then
		tap_line fail "asan: $name" "no freeing stack (log: $log)"
	else
		tap_line ok "asan: $name: $kind in $fn, the $state object's stacks"
	fi
}

for p in "$bugs" "$bugs_asan"; do
	if [ ! -x "$p" ]; then
		tap_line fail "$(basename "$p")" "not built: $p (make check-memcheck)"
		tap_summary
		exit
	fi
done

if ! command -v valgrind >/dev/null 2>&1; then
	tap_line skip "memcheck" "valgrind not installed (apt-get install valgrind)"
else
	mc pool_write_after_free "Invalid write of size 1" "Block was alloc'd at" pool_write_after_free
	mc arena_write_after_reset "Invalid write of size 1" "Block was alloc'd at" \
		alloc_in_arena_write_after_reset
	mc arena_overrun "is 0 bytes after a block of size 64 alloc'd" \
		"is 0 bytes after a block of size 64 alloc'd" alloc_in_arena_overrun
	mc pool_double_free "Invalid free()" "Block was alloc'd at" alloc_in_pool_double_free
	mc pool_uninit_read "Conditional jump or move depends on uninitialised value" \
		"Uninitialised value was created by a heap allocation" alloc_in_pool_uninit_read \
		--track-origins=yes
	mc pool_leak "64 bytes in 1 blocks are definitely lost" "definitely lost" \
		alloc_in_pool_leak --leak-check=full
	mc numa_write_after_free "Invalid write of size 1" "Block was alloc'd at" \
		alloc_in_numa_write_after_free
	# memcheck puts its own malloc in place of any library's unless told
	# not to: then the drop-in serves, and describes its blocks
	if [ -e "$dropin" ]; then
		preload=$dropin
		mc malloc_write_after_free "Invalid write of size 1" "Block was alloc'd at" \
			alloc_in_malloc_write_after_free --soname-synonyms=somalloc=nouserintercepts
		preload=""
		log=$logdir/dropin-ls.log
		run "$log" env LD_PRELOAD="$dropin" valgrind --error-exitcode=99 \
			--soname-synonyms=somalloc=nouserintercepts ls -lR "$top/lib"
		if [ "$rc" = 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log"; then
			tap_line ok "memcheck: ls -lR under the malloc drop-in: no report"
		else
			tap_line fail "memcheck: ls -lR under the malloc drop-in" "exit $rc (log: $log)"
		fi
	else
		tap_line skip "memcheck: malloc_write_after_free" "$dropin not built (make malloc)"
		tap_line skip "memcheck: ls -lR under the malloc drop-in" "$dropin not built"
	fi
	log=$logdir/bugs-clean.log
	run "$log" valgrind --error-exitcode=99 --leak-check=full "$bugs" clean
	if [ "$rc" = 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log"; then
		tap_line ok "memcheck: clean: no report"
	else
		tap_line fail "memcheck: clean" "exit $rc (log: $log)"
	fi
	for prog in $host_progs; do
		log=$logdir/$prog.log
		if [ ! -x "$b/tests/$prog" ]; then
			tap_line fail "memcheck: $prog" "not built: $b/tests/$prog"
			continue
		fi
		# an error fails the forked test (99) and the program
		run "$log" valgrind -q --error-exitcode=99 "$b/tests/$prog"
		[ "$rc" = 124 ] && echo "# $prog: timed out after ${timeout_s}s" >>"$log"
		tap_parse "memcheck: $prog" "$log" "$rc"
	done
fi

as pool_write_after_free use-after-poison pool_write_after_free freed
as arena_write_after_reset use-after-poison arena_write_after_reset freed
as arena_overrun use-after-poison arena_overrun live
as pool_double_free use-after-poison pool_double_free freed "finalloc: pool bugs: double free of"
as numa_write_after_free use-after-poison numa_write_after_free freed
log=$logdir/bugs-asan-clean.log
run "$log" "$bugs_asan" clean
if [ "$rc" = 0 ] && ! grep -q "ERROR: AddressSanitizer" "$log"; then
	tap_line ok "asan: clean: no report"
else
	tap_line fail "asan: clean" "exit $rc (log: $log)"
fi
tap_summary
