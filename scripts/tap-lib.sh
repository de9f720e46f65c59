# SPDX-License-Identifier: MIT
# Shared by scripts/run-tests.sh and tests/vm/run.sh: turn one kselftest
# program's output into one TAP line per test and keep the counts.
#
# tap_init SUITE       start counting (TAP_PASS/TAP_FAIL/TAP_SKIP, TAP_N)
# tap_parse PROG LOG RC  emit lines for PROG whose output is in LOG, exit RC
# tap_line ok|fail|skip NAME [REASON]   one result not from a program
# tap_summary          print "SUITE: N passed, N failed, N skipped"; status

tap_init() {
	TAP_SUITE=$1
	TAP_N=0 TAP_PASS=0 TAP_FAIL=0 TAP_SKIP=0
	TAP_FAILED_NAMES=""
}

tap_line() {
	TAP_N=$((TAP_N + 1))
	case $1 in
	ok)	TAP_PASS=$((TAP_PASS + 1)); echo "ok $TAP_N - $TAP_SUITE: $2" ;;
	skip)	TAP_SKIP=$((TAP_SKIP + 1)); echo "ok $TAP_N - $TAP_SUITE: $2 # SKIP ${3:-}" ;;
	*)	TAP_FAIL=$((TAP_FAIL + 1))
		TAP_FAILED_NAMES="$TAP_FAILED_NAMES $2"
		echo "not ok $TAP_N - $TAP_SUITE: $2${3:+ # $3}" ;;
	esac
}

# kselftest_harness prints "#  RUN  fixture.variant.test ..." before each
# test and "ok N name" or "ok N # SKIP reason" after it.
tap_parse() {
	_prog=$1 _log=$2 _rc=$3
	_res=$(awk '
		/^#  RUN +/ { name = $3; next }
		/^(not )?ok [0-9]+/ {
			st = ($1 == "not") ? "fail" : "ok"
			line = $0
			reason = ""
			if (match(line, /# SKIP.*/)) { st = "skip"; reason = substr(line, RSTART + 7) }
			t = name
			if (t == "") { sub(/^(not )?ok [0-9]+ */, "", line); sub(/ *#.*/, "", line); t = line }
			gsub(/\|/, "/", t); gsub(/\|/, "/", reason)
			print st "|" t "|" reason
			name = ""
		}' "$_log")
	_seen=0 _failed=0
	while IFS='|' read -r _st _t _r; do
		[ -n "$_st" ] || continue
		_seen=1
		[ "$_st" = fail ] && _failed=1
		tap_line "$_st" "$_prog: $_t" "$_r"
	done <<EOT
$_res
EOT
	if [ "$_seen" = 0 ]; then
		tap_line fail "$_prog" "no TAP output, exit $_rc (log: $_log)"
	elif [ "$_rc" != 0 ] && [ "$_failed" = 0 ]; then
		case $_rc in
		4) ;;	# kselftest: whole program skipped
		*) tap_line fail "$_prog: exit status" "exit $_rc (log: $_log)" ;;
		esac
	fi
}

tap_summary() {
	echo "$TAP_SUITE: $TAP_PASS passed, $TAP_FAIL failed, $TAP_SKIP skipped"
	[ -n "${TAP_COUNTS:-}" ] && echo "$TAP_SUITE $TAP_PASS $TAP_FAIL $TAP_SKIP" >>"$TAP_COUNTS"
	[ "$TAP_FAIL" = 0 ]
}

# tap_run PROG LOG: a failed TAP line and status 1 when PROG is not built;
# else run it from the top of the tree ($top), no stdin, output to LOG,
# under FA_TEST_TIMEOUT (600 s), its exit status in tap_rc (124: timed
# out), status 0.
tap_run() {
	if [ ! -x "$1" ]; then
		tap_line fail "$(basename "$1")" "not built: $1"
		return 1
	fi
	(cd "$top" && timeout -k 10 "${FA_TEST_TIMEOUT:-600}" "$1") >"$2" 2>&1 </dev/null
	tap_rc=$?
	return 0
}
