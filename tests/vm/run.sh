#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh --kernel 6.1|6.12 [--nodes 2|4] [--only "PROG..."] [--timeout S]
#
# Boot Debian's kernel under qemu (TCG) on a NUMA machine, insmod
# finalloc.ko, run build/vmtests/* as root and print one TAP line per test.
# Fails on a failed test, a VM that does not finish, or a dmesg BUG/WARNING.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/tap-lib.sh"
B=${B:-$top/build}
series=6.1 nodes=2 only="" vm_timeout=${FA_VM_TIMEOUT:-900}
test_timeout=${FA_TEST_TIMEOUT:-300}
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) series=$2; shift 2 ;;
	--nodes) nodes=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--timeout) vm_timeout=$2; shift 2 ;;
	*) echo "usage: run.sh --kernel 6.1|6.12 [--nodes 2|4] [--only \"PROG...\"] [--timeout S]" >&2; exit 2 ;;
	esac
done
case $nodes in 2|4) ;; *) echo "run.sh: --nodes must be 2 or 4" >&2; exit 2 ;; esac
[ -x /bin/busybox ] || { echo "run.sh: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || { echo "run.sh: $tool missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

read -r rel kdir vmlinuz brd < <("$top/tests/vm/kernel.sh" "$series" "$B/vm/kernels") || exit 1
suite="vm-$series-${nodes}n"
# FA_VM_KMOD=PATH boots a module built elsewhere (check-deb: the one DKMS
# built) instead of this tree's, in a suite of its own.
[ -n "${FA_VM_KMOD:-}" ] && suite="$suite-kmod"
work="$B/vm/$suite"
rm -rf "$work" && mkdir -p "$work/root"/{bin,sbin,tests,etc,proc,sys,dev,tmp}

# The module for exactly this kernel.
if [ -n "${FA_VM_KMOD:-}" ]; then
	cp "$FA_VM_KMOD" "$work/root/finalloc.ko" || exit 1
else
	"$top/scripts/build-kmod.sh" "$kdir" "$B/kmod" || exit 1
	cp "$B/kmod/$rel/finalloc.ko" "$work/root/finalloc.ko"
fi

# The initramfs: busybox, the init script, the static test programs.
cp /bin/busybox "$work/root/bin/busybox"
cp "$brd" "$work/root/brd.ko"
cp "$top/tests/vm/init" "$work/root/init"
chmod 755 "$work/root/init"
nprog=0
for t in "$B"/vmtests/*; do
	[ -x "$t" ] || continue
	cp "$t" "$work/root/tests/"
	nprog=$((nprog + 1))
done
cp "$B/vmbin/finalloc" "$work/root/bin/finalloc"
# The malloc drop-in and dynamic programs for malloc-device, with every
# library they load (the rest of the VM is static).
if [ -x "$work/root/tests/malloc-device" ]; then
	mkdir -p "$work/root/lib" "$work/root/usr/bin"
	cp "$B/libfinalloc-malloc.so.0" "$work/root/lib/" || exit 1
	cp /usr/bin/perl /usr/bin/sort "$work/root/usr/bin/" || exit 1
	for lib in $(ldd "$B/libfinalloc-malloc.so.0" /usr/bin/perl /usr/bin/sort |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u); do
		mkdir -p "$work/root${lib%/*}"
		cp -L "$lib" "$work/root$lib" || exit 1
	done
fi
cat >"$work/root/etc/fa-env" <<ENV
export FA_EXPECT_NODES=$nodes FA_ONLY="$only" FA_TEST_TIMEOUT=$test_timeout FA_IN_VM=1
export FINALLOC_BIN=/bin/finalloc
${FA_FUZZ_SEED:+export FA_FUZZ_SEED=$FA_FUZZ_SEED}
ENV
if ! (cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"; then
	echo "run.sh: building the initramfs failed (disk full? $(df -h "$work" | tail -n 1))" >&2
	exit 1
fi

# Two nodes: one CPU and 1 GiB each.  Four nodes: node 2 has a CPU and no
# memory, node 3 memory and no CPU, and distances grow with the node number,
# so fallback and spill order are testable.  (Guest node ids follow the
# order of SRAT entries, CPUs first: CPU-holding nodes must come first.)
if [ "$nodes" = 2 ]; then
	mem=2G
	numa=(-smp 2,sockets=2,cores=1,threads=1)
	for n in 0 1; do
		numa+=(-object memory-backend-ram,id=m$n,size=1G -numa node,nodeid=$n,cpus=$n,memdev=m$n)
	done
else
	mem=2560M
	numa=(-smp 3,sockets=3,cores=1,threads=1)
	numa+=(-object memory-backend-ram,id=m0,size=1G -numa node,nodeid=0,cpus=0,memdev=m0)
	numa+=(-object memory-backend-ram,id=m1,size=1G -numa node,nodeid=1,cpus=1,memdev=m1)
	numa+=(-numa node,nodeid=2,cpus=2)
	numa+=(-object memory-backend-ram,id=m3,size=512M -numa node,nodeid=3,memdev=m3)
	for s in 0 1 2 3; do
		for d in 0 1 2 3; do
			[ $s -lt $d ] || continue
			numa+=(-numa dist,src=$s,dst=$d,val=$((10 + 10 * (d - s) + 5 * s)))
		done
	done
fi

log="$work/console.log"
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can miss ticks and panic the boot ("IO-APIC + timer doesn't work").
boot() {
	echo "# $suite: booting $rel, $nodes nodes, $nprog test programs${only:+ (only: $only)}"
	start=$(date +%s)
	timeout -k 10 "$vm_timeout" qemu-system-x86_64 -accel tcg -cpu max -m $mem "${numa[@]}" \
		-kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 oops=panic no_timer_check log_buf_len=16M hugepages=32 transparent_hugepage=madvise rdinit=/init" \
		-display none -monitor none -serial "file:$log" -no-reboot </dev/null >"$work/qemu.out" 2>&1
	qrc=$?
	tr -d '\r' <"$log" >"$log.clean" && mv "$log.clean" "$log"
	echo "# $suite: VM ran $(( $(date +%s) - start ))s, console log: $log"
}

# What the kernel said around a panic, so a CI log shows the cause.
show_panic() {
	grep -v 'FA-RIG' "$log" | grep -m 1 -B 5 -A 25 -E 'Kernel panic|BUG:|Oops' |
		sed "s/^/# $suite console: /"
}

boot
# A kernel that dies before init says FA-BOOTED never ran our module or a
# test, so it is the emulated machine, not FinAlloc: say so, then boot once
# more.  A second such death fails the run.
if [ $qrc = 0 ] && ! grep -q 'FA-BOOTED' "$log"; then
	echo "# $suite: the kernel died before init; its console said:"
	show_panic
	tail -n 5 "$work/qemu.out" | sed "s/^/# $suite qemu: /"
	mv "$log" "$log.first-boot"
	boot
fi

tap_init "$suite"
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	tap_line fail "VM finished" "timed out after ${vm_timeout}s"
elif [ $qrc != 0 ]; then
	tap_line fail "VM finished" "qemu exit $qrc: $(tail -n 3 "$work/qemu.out" | tr '\n' ' ')"
fi
grep -q 'FA-BOOTED' "$log" || tap_line fail "VM booted" "no FA-BOOTED on the console"

# Rig checks and each program's output, split out of the console log.  The
# console may prefix lines with escape codes, so match markers anywhere.
mkdir -p "$work/logs"
cur="" done_seen=0
while IFS= read -r line; do
	case $line in
	*FA-RIG\ *)
		rest=${line#*FA-RIG }
		st=${rest%% *} rest=${rest#* }
		name=${rest%% # *} why=""
		[ "$name" != "$rest" ] && why=${rest#* # }
		tap_line "$st" "rig: $name" "$why" ;;
	*FA-BEGIN\ *)
		cur=${line#*FA-BEGIN }
		: >"$work/logs/$cur.log" ;;
	*FA-END\ *)
		rest=${line#*FA-END }
		tap_parse "${rest%% *}" "$work/logs/${rest%% *}.log" "${rest##* }"
		cur="" ;;
	*FA-DONE*) done_seen=1 ;;
	*FA-DMESG\ *) echo "# ${line#*FA-DMESG }" ;;
	*)	[ -n "$cur" ] && printf '%s\n' "$line" >>"$work/logs/$cur.log" ;;
	esac
done <"$log"
if [ -n "$cur" ]; then
	tap_line fail "$cur" "did not finish (VM died or timed out); see $log"
fi
[ $done_seen = 1 ] || tap_line fail "VM completed the run" "no FA-DONE; see $log"
# Anything the kernel shouted on the console outside a test.
if grep -v 'FA-RIG' "$log" | grep -qE 'Kernel panic|BUG:|Oops'; then
	show_panic
	tap_line fail "console free of panics" "see $log"
fi
tap_summary || { echo "# $suite: failed; console log kept at $log"; exit 1; }
