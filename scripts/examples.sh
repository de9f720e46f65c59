#!/bin/bash
# SPDX-License-Identifier: MIT
# examples.sh PROGRAM...: run the built examples (examples/, `make
# examples`), one TAP line each: an example checks its own results and
# exits non-zero when something is wrong.  Output in build/logs/examples/.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
logdir=${FA_LOGDIR:-$top/build/logs}/examples
mkdir -p "$logdir"
timeout_s=${FA_TEST_TIMEOUT:-600}

tap_init examples
[ $# -gt 0 ] || tap_line fail "examples" "none given (make check-examples builds and lists them)"
for prog in "$@"; do
	name=$(basename "$prog")
	log="$logdir/$name.log"
	tap_run "$prog" "$log" || continue
	rc=$tap_rc
	case $rc in
	0) tap_line ok "$name" ;;
	124) tap_line fail "$name" "timed out after ${timeout_s}s (log: $log)" ;;
	*) tap_line fail "$name" "exit $rc (log: $log)" ;;
	esac
done
tap_summary
