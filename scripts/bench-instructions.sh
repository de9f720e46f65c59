#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-instructions.sh: instructions per operation of the allocators' fast
# paths under valgrind --tool=callgrind.  Instruction counts do not depend on
# what else runs on the machine, so they are the stable number to watch here.
# Each loop runs twice (N1 and N2 operations); the difference divided by
# N2 - N1 removes start-up and teardown.  BIN= overrides bin/finalloc.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$top/bin/finalloc}
n1=${N1:-100000}
n2=${N2:-300000}

if ! command -v valgrind >/dev/null; then
	echo "bench-instructions: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
fi
if [ ! -x "$bin" ]; then
	echo "bench-instructions: $bin not built (make)" >&2
	exit 1
fi

# The C++ layer's loops (tools/bench/instr_cxx.cpp); INSTR_CXX= overrides.
instr_cxx=${INSTR_CXX:-$top/build/bench/instr-cxx}

# collected LOOP OPS [PRELOAD]: instructions callgrind counted for one run;
# a LOOP "cxx:WHAT" runs instr-cxx WHAT
collected() {
	local out
	local cmd=("$bin" bench --instr "$1")
	case $1 in cxx:*) cmd=("$instr_cxx" "${1#cxx:}") ;; esac
	if ! out=$(env ${3:+LD_PRELOAD=$3} valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"${cmd[@]}" "$2" 2>&1); then
		echo "bench-instructions: $1 ($2 ops) failed:" >&2
		echo "$out" | tail -5 >&2
		return 1
	fi
	echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
}

# row NAME LOOP WHAT [PRELOAD]
row() {
	local a b
	a=$(collected "$2" "$n1" "${4:-}") || return 1
	b=$(collected "$2" "$n2" "${4:-}") || return 1
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "bench-instructions: no instruction count from callgrind for $1" >&2
		return 1
	fi
	awk -v n="$1" -v a="$a" -v b="$b" -v d=$((n2 - n1)) -v w="$3" \
		-v base="${base:-0}" \
		'BEGIN { v = (b - a) / d; printf "%-10s %9.1f %9.1f   %s\n", n, v, v - base, w }'
}

# A peer counts only if its library is really there: ld.so merely warns.
peer_lib() {
	local f
	for f in /usr/lib/x86_64-linux-gnu/"$1" /lib/x86_64-linux-gnu/"$1" /usr/lib64/"$1" /usr/lib/"$1"; do
		[ -e "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

echo "instructions per operation (callgrind; ($n2 - $n1)-op difference;"
echo "net = minus the benchmark loop's own instructions)"
base=0
b=$(row loop none "the loop alone") || exit 1
base=$(echo "$b" | awk '{ print $2 }')
printf "%-10s %9s %9s   %s\n" loop instr/op net what
echo "$b" | awk '{ $3 = "-"; printf "%-10s %9s %9s   the loop alone\n", $1, $2, $3 }'
fail=0
row pool pool "fa_pool_alloc + fa_pool_free, 64 B (thread-cache path)" || fail=1
row pool-sized pool-sized "fa_pool_alloc + fa_pool_free_sized, 64 B" || fail=1
row arena arena "fa_arena_alloc, 64 B (reset every 16384, amortised)" || fail=1
if [ -x "$instr_cxx" ]; then
	row construct cxx:construct "fa::arena::construct<T>, 64 B trivially destructible (as arena)" ||
		fail=1
	row pool_alloc cxx:pool_allocator "fa::pool_allocator<T> allocate + deallocate, 64 B (as pool-sized)" ||
		fail=1
	row pool_res cxx:pool_resource "fa::pool_resource through memory_resource&, 64 B (virtual calls)" ||
		fail=1
else
	for r in construct pool_alloc pool_res; do
		printf "%-10s %9s %9s   %s\n" $r - - "skipped: $instr_cxx not built (make bench-instructions)"
	done
fi
row numa numa "fa_numa_alloc + fa_numa_free, 64 B" || fail=1
row glibc malloc "malloc + free, 64 B" || fail=1
# The drop-in, preloaded like the peers (MALLOC_SO= overrides).
dropin=${MALLOC_SO:-$top/build/libfinalloc-malloc.so.0}
if [ -r "$dropin" ]; then
	row drop-in malloc "malloc + free, 64 B (finalloc-malloc)" "$dropin" || fail=1
else
	printf "%-10s %9s %9s   %s\n" drop-in - - "skipped: $dropin not built (make malloc)"
fi
for p in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
	name=${p%%:*}
	if lib=$(peer_lib "${p#*:}"); then
		row "$name" malloc "malloc + free, 64 B" "$lib" || fail=1
	else
		printf "%-10s %9s %9s   %s\n" "$name" - - "skipped: ${p#*:} not installed"
	fi
done
exit $fail
