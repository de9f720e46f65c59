#!/bin/sh
# SPDX-License-Identifier: MIT
# malloc-device (in the VM, as root): real programs on the malloc drop-in
# with the device backend.  perl and coreutils sort (dynamic, their
# libraries copied in by tests/vm/run.sh) give the same output as on
# glibc; the statistics dump and `finalloc run --stats` show device maps
# served them; the module's counters go back to zero after each.
# Programs that fork and go on in the child are not run: device memory
# is not inherited (finalloc-malloc(3)).
so=/lib/libfinalloc-malloc.so.0
sysfs=/sys/kernel/finalloc
n=0
say() {
	n=$((n + 1))
	case $1 in
	ok) echo "ok $n $2" ;;
	skip) echo "ok $n $2 # SKIP $3" ;;
	*) echo "not ok $n $2${3:+ # $3}" ;;
	esac
}

echo "TAP version 13"
echo "1..7"
if [ ! -c /dev/finalloc ] || [ ! -r $so ] || [ ! -x /usr/bin/perl ]; then
	for i in 1 2 3 4 5 6 7; do say skip "malloc-device $i" "no device, drop-in or perl"; done
	exit 0
fi

# hash churn (200k keys, two thirds deleted) and 8 blocks of 1 MiB
P='my %h; for my $i (1..200000) { $h{"k$i"} = "v" x ($i % 100) }
delete $h{"k$_"} for grep { $_ % 3 } 1..200000;
my $s = 0; $s += length($h{$_}) for keys %h;
my @big = map { "x" x (1 << 20) } 1..8;
print scalar(keys %h), " $s ", length(join "", @big), "\n";'

# the module holds nothing once a program is gone
regions_zero() {
	for f in regions pinned_bytes held_bytes; do
		[ "$(cat $sysfs/$f 2>/dev/null)" = 0 ] || return 1
	done
	return 0
}
counters() {
	for f in regions pinned_bytes held_bytes; do
		printf '%s %s ' $f "$(cat $sysfs/$f 2>/dev/null)"
	done
}

want=$(/usr/bin/perl -e "$P")
got=$(FINALLOC_BACKEND=device FINALLOC_STATS=/tmp/perl.stats LD_PRELOAD=$so \
	/usr/bin/perl -e "$P" 2>/tmp/perl.err)
rc=$?
if [ $rc = 0 ] && [ "$got" = "$want" ]; then
	say ok "perl on the drop-in, device backend: same output as on glibc"
else
	say fail "perl on the drop-in, device backend: same output as on glibc" \
		"exit $rc, '$got' vs '$want': $(head -c 300 /tmp/perl.err)"
fi
maps=$(sed -n 's/^backend\.maps\.device\.[^ ]* //p' /tmp/perl.stats 2>/dev/null |
	awk '{ s += $1 } END { print s + 0 }')
if [ "${maps:-0}" -gt 0 ]; then
	say ok "perl: its memory came from /dev/finalloc ($maps device maps)"
else
	say fail "perl: its memory came from /dev/finalloc" \
		"no device maps in the stats dump: $(grep '^backend\.maps' /tmp/perl.stats | tr '\n' ' ')"
fi
if regions_zero; then
	say ok "perl: no region left in the module after exit"
else
	say fail "perl: no region left in the module after exit" \
		"$(counters)"
fi

# sort: 100k lines of pseudo-random keys
awk 'BEGIN { x = 12345; for (i = 0; i < 100000; i++) { x = (x * 1103515245 + 12345) % 2147483648; print x, i } }' \
	>/tmp/sort.in
/usr/bin/sort -n /tmp/sort.in >/tmp/sort.glibc
FINALLOC_BACKEND=device LD_PRELOAD=$so /usr/bin/sort -n /tmp/sort.in >/tmp/sort.fa 2>/tmp/sort.err
rc=$?
if [ $rc = 0 ] && cmp -s /tmp/sort.glibc /tmp/sort.fa; then
	say ok "sort on the drop-in, device backend: same output as on glibc"
else
	say fail "sort on the drop-in, device backend: same output as on glibc" \
		"exit $rc: $(head -c 300 /tmp/sort.err)"
fi
if regions_zero; then
	say ok "sort: no region left in the module after exit"
else
	say fail "sort: no region left in the module after exit" "$(counters)"
fi

# finalloc run: the summary names the device
out=$(finalloc run --stats --backend device -- /usr/bin/perl -e "$P" 2>&1)
rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^$want\$"; then
	say ok "finalloc run --backend device: the program ran"
else
	say fail "finalloc run --backend device: the program ran" "exit $rc: $(echo "$out" | head -c 300)"
fi
if echo "$out" | grep -E 'backends' | grep -q 'device [1-9]'; then
	say ok "finalloc run --stats: device memory in the summary"
else
	say fail "finalloc run --stats: device memory in the summary" \
		"$(echo "$out" | grep -E 'backends|backend' | head -3 | tr '\n' ' ')"
fi
