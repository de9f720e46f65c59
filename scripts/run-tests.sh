#!/bin/bash
# SPDX-License-Identifier: MIT
# run-tests.sh SUITE PROGRAM...: run kselftest programs on this host, one TAP
# line per test, logs under build/logs/SUITE/, a summary line at the end.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
suite=${1:?usage: run-tests.sh SUITE PROGRAM...}
shift
logdir=${FA_LOGDIR:-$top/build/logs}/$suite
mkdir -p "$logdir"
timeout_s=${FA_TEST_TIMEOUT:-600}

# Sanitizer runs must fail loudly, not print and carry on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

tap_init "$suite"
for prog in "$@"; do
	name=$(basename "$prog")
	log="$logdir/$name.log"
	tap_run "$prog" "$log" || continue
	rc=$tap_rc
	[ $rc = 124 ] && echo "# $name: timed out after ${timeout_s}s" >>"$log"
	# A sanitizer report fails the program even if the harness said ok.
	if grep -qE '^(==[0-9]+==ERROR: |WARNING: ThreadSanitizer|SUMMARY: (Address|Undefined|Thread)Sanitizer)|runtime error:' "$log"; then
		tap_line fail "$name: sanitizer" "report in $log"
	fi
	tap_parse "$name" "$log" "$rc"
done
tap_summary
