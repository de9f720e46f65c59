#!/bin/bash
# SPDX-License-Identifier: MIT
# check-deb.sh [OUTDIR]: the Debian packages as an operations team meets
# them.  Build them (scripts/deb.sh), lintian with no errors; then, as root
# on a machine where none of them is installed yet: install them, build C
# and C++ programs with pkg-config (shared and --static) and run them, run
# /usr/bin/finalloc, check DKMS built finalloc.ko for every kernel whose
# headers are installed, purge, and check every file they had is gone.
# The purge also runs on failure or interruption (trap): this may be a
# machine other people use.  One TAP line per check; what cannot run here
# is a SKIP with the reason.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
tap_init deb
b=${B:-$top/build}
out=${1:-$b/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/fa-deb-XXXXXX)
log=$tmp/log
pkgs="finalloc-dkms libfinalloc1 libfinalloc-malloc0 libfinalloc-dev finalloc-tools"
version=$(sed -n 's/^VERSION *:= *//p' "$top/Makefile")
soname=$(sed -n 's/^SONAME *:= *//p' "$top/Makefile")
installed=0

# Fail one check with its log as comments.
fail() {
	tap_line fail "$1" "$2"
	tail -n 30 "$log" | sed 's/^/# /'
}

# The checks after the build, in order: skip_from NAME REASON skips NAME
# and every one after it.
checks=(lintian install group udev unit pkgc pkgcs pkgcxx pkgcxxs info conf dkms hook purge vm)
skip_from() {
	local on=0 c
	for c in "${checks[@]}"; do
		[ "$c" = "$1" ] && on=1
		[ $on = 1 ] && tap_line skip "$(check_name "$c")" "$2"
	done
}
check_name() {
	case $1 in
	lintian) echo "lintian: no errors" ;;
	install) echo "install the packages" ;;
	group) echo "postinst created the group finalloc" ;;
	udev) echo "udev rule gives /dev/finalloc to group finalloc, 0660" ;;
	unit) echo "finalloc-reserve.service installed and enabled" ;;
	pkgc) echo "C program, pkg-config" ;;
	pkgcs) echo "C program, pkg-config --static" ;;
	pkgcxx) echo "C++ program, pkg-config" ;;
	pkgcxxs) echo "C++ program, pkg-config --static" ;;
	info) echo "/usr/bin/finalloc info" ;;
	conf) echo "finalloc reserve --file /etc/finalloc/reserve.conf (as shipped)" ;;
	dkms) echo "postinst: DKMS built finalloc.ko for each kernel with headers" ;;
	hook) echo "the kernel hook rebuilds finalloc.ko" ;;
	purge) echo "purge leaves no file" ;;
	vm) echo "the VM rig loads the DKMS-built finalloc.ko" ;;
	esac
}

purge() {
	[ $installed = 1 ] || return 0
	installed=0
	# shellcheck disable=SC2086
	dpkg --purge $pkgs >"$tmp/purge.log" 2>&1
}
cleanup() {
	if ! purge; then
		echo "# check-deb: dpkg --purge $pkgs failed:"
		sed 's/^/# /' "$tmp/purge.log"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=""
for t in dpkg-buildpackage dh dh_dkms lintian pkg-config; do
	command -v $t >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	tap_line skip "build the packages" "missing:$missing (scripts/deps.sh deb, as root)"
	skip_from lintian "no packages"
	tap_summary
	exit
fi

# ---- build
if "$top/scripts/deb.sh" "$out" >"$log" 2>&1; then
	names=$(cd "$out" && ls ./*.deb | sed 's|^\./||; s|_.*||' | grep -v dbgsym | sort | tr '\n' ' ')
	want=$(echo $pkgs | tr ' ' '\n' | sort | tr '\n' ' ')
	if [ "$names" = "$want" ]; then
		tap_line ok "build the packages (${names% })"
	else
		tap_line fail "build the packages" "built: $names; want: $want"
	fi
else
	fail "build the packages" "scripts/deb.sh failed (log: $out/build.log)"
	skip_from lintian "no packages"
	tap_summary
	exit
fi
debs=()
for p in $pkgs; do
	debs+=("$(ls "$out/${p}_"*.deb)")
done

# The library package is named after the soname it holds (Debian policy
# 8.1), and every package has the Makefile's version.
want_pkg=$(echo "$soname" | sed -E 's/^(.*)\.so\.([0-9]+)$/\1\2/')
got_so=$(dpkg-deb --fsys-tarfile "$out/${want_pkg}_"*.deb 2>/dev/null | tar -t 2>/dev/null |
	grep -c "/$soname\$")
bad_ver=$(for d in "${debs[@]}"; do
	v=$(dpkg-deb -f "$d" Version)
	[ "$v" = "$version" ] || [ "${v%-*}" = "$version" ] || echo "${d##*/}=$v"
done | tr '\n' ' ')
if [ "$got_so" = 1 ] && [ -z "$bad_ver" ]; then
	tap_line ok "$want_pkg holds $soname; version $version"
else
	tap_line fail "$want_pkg holds $soname; version $version" \
		"$want_pkg has $soname: $got_so; other versions: $bad_ver"
fi

# ---- lintian: errors fail; warnings and the rest are listed as comments.
lintian --fail-on error --display-info --pedantic "$out"/*.changes >"$log" 2>&1
rc=$?
grep -v '^running with root' "$log" >"$tmp/lintian" || true
nerr=$(grep -c '^E: ' "$tmp/lintian")
nwarn=$(grep -c '^W: ' "$tmp/lintian")
nother=$(grep -cE '^[IPX]: ' "$tmp/lintian")
if [ $rc = 0 ] && [ "$nerr" = 0 ]; then
	tap_line ok "$(check_name lintian) ($nwarn warnings, $nother info/pedantic)"
else
	tap_line fail "$(check_name lintian)" "$nerr errors, exit $rc"
fi
grep -E '^[EWIPX]: ' "$tmp/lintian" | sed 's/^/# /'

# ---- install
if [ "$(id -u)" != 0 ]; then
	skip_from install "not root: installing packages needs root"
	tap_summary
	exit
fi
there=""
for p in $pkgs; do
	case $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) in
	ii* | iU* | iF* | rc*) there="$there $p" ;;
	esac
done
if [ -n "$there" ]; then
	# Somebody's real installation: not ours to replace or purge.
	skip_from install "already installed here:$there (dpkg --purge them to run this)"
	tap_summary
	exit
fi
had_group=0
getent group finalloc >/dev/null && had_group=1
export DEBIAN_FRONTEND=noninteractive
installed=1
if command -v apt-get >/dev/null 2>&1; then
	apt-get install -y -q --no-install-recommends "${debs[@]}" >"$log" 2>&1
else
	dpkg -i "${debs[@]}" >"$log" 2>&1
fi
rc=$?
if [ $rc = 0 ]; then
	tap_line ok "$(check_name install)"
else
	fail "$(check_name install)" "exit $rc"
	skip_from group "the packages did not install"
	tap_summary
	exit
fi
cp "$log" "$tmp/install.log"
# Every file (not directory) the packages hold, to look for after the purge.
for p in $pkgs; do
	dpkg -L "$p"
done | sort -u | while read -r f; do
	[ -d "$f" ] || echo "$f" # a directory (/lib is a link to one) may be shared
done >"$tmp/files"

if getent group finalloc >/dev/null; then
	tap_line ok "$(check_name group)"
else
	tap_line fail "$(check_name group)" "getent group finalloc: nothing"
fi
rule=$(dpkg -L finalloc-dkms | grep '/rules\.d/.*\.rules$' | head -n 1)
if [ -n "$rule" ] && grep -q 'KERNEL=="finalloc".*GROUP="finalloc", MODE="0660"' "$rule"; then
	tap_line ok "$(check_name udev) (${rule})"
else
	tap_line fail "$(check_name udev)" "no such rule in finalloc-dkms (${rule:-none})"
fi
unit=$(dpkg -L finalloc-tools | grep '/finalloc-reserve\.service$' | head -n 1)
if [ -n "$unit" ] && [ -L /etc/systemd/system/sysinit.target.wants/finalloc-reserve.service ] &&
	grep -q '^ExecStart=/usr/bin/finalloc reserve --file /etc/finalloc/reserve.conf$' "$unit"; then
	tap_line ok "$(check_name unit)"
else
	tap_line fail "$(check_name unit)" \
		"unit ${unit:-missing}; sysinit.target.wants link $(ls -l \
			/etc/systemd/system/sysinit.target.wants/finalloc-reserve.service 2>&1)"
fi

# ---- programs built against the installed packages, pkg-config only
cp "$top/tests/install/app.c" "$top/tests/install/app.cpp" "$tmp/"
libdir=$(pkg-config --variable=libdir finalloc 2>/dev/null)
pkgbuild() {
	local id=$1 driver=$2 src=$3 static=${4:-}
	if ! command -v "$driver" >/dev/null 2>&1; then
		tap_line skip "$(check_name "$id")" "no $driver compiler"
		return
	fi
	# shellcheck disable=SC2046
	if ! "$driver" -O2 -Wall -Wextra -Werror "$tmp/$src" -o "$tmp/app" $static \
		$(pkg-config --cflags --libs $static finalloc) >"$log" 2>&1; then
		fail "$(check_name "$id")" "does not build"
	elif [ -n "$static" ] && readelf -d "$tmp/app" | grep -q NEEDED; then
		tap_line fail "$(check_name "$id")" "not static"
	elif [ -z "$static" ] && [ "$(readlink -f "$(ldd "$tmp/app" |
		sed -n "s|^[[:space:]]*$soname => \([^ ]*\) .*|\1|p")")" != \
		"$(readlink -f "$libdir/$soname")" ]; then
		tap_line fail "$(check_name "$id")" "does not load $libdir/$soname"
	elif ! "$tmp/app" >"$log" 2>&1; then
		fail "$(check_name "$id")" "exit $?"
	elif ! grep -q "^finalloc $version abi [0-9]* /dev/finalloc\$" "$log"; then
		fail "$(check_name "$id")" "printed something else"
	else
		tap_line ok "$(check_name "$id")"
	fi
	rm -f "$tmp/app"
}
pkgbuild pkgc cc app.c
pkgbuild pkgcs cc app.c --static
pkgbuild pkgcxx c++ app.cpp
pkgbuild pkgcxxs c++ app.cpp --static

if /usr/bin/finalloc info >"$log" 2>&1 && grep -q '/dev/finalloc' "$log"; then
	tap_line ok "$(check_name info)"
else
	fail "$(check_name info)" "exit status or output wrong"
fi
if /usr/bin/finalloc reserve --file /etc/finalloc/reserve.conf >"$log" 2>&1 &&
	grep -q 'asks for no huge pages' "$log"; then
	tap_line ok "$(check_name conf)"
else
	fail "$(check_name conf)" "the shipped file does not parse or asks for pages"
fi

# ---- DKMS: the postinst built the module for every kernel whose headers
# are installed; the hook a kernel (headers) upgrade runs builds it again.
kernels=""
for d in /lib/modules/*/build; do
	[ -e "$d/include" ] && kernels="$kernels $(basename "$(dirname "$d")")"
done
# dkms_ok K: dkms says installed for K and the module's vermagic is K.
dkms_ok() {
	local ko vm
	dkms status -m finalloc -v "$version" -k "$1" 2>/dev/null | grep -q ': installed' ||
		return 1
	ko=$(find "/lib/modules/$1/updates" -name 'finalloc.ko*' 2>/dev/null | head -n 1)
	vm=$([ -n "$ko" ] && modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)
	[ "$vm" = "$1" ] || return 1
	# Kept for the VM rig, after the purge.
	mkdir -p "$tmp/ko"
	case $ko in
	*.xz) xz -dc "$ko" >"$tmp/ko/$1.ko" ;;
	*.zst) zstd -qdc "$ko" >"$tmp/ko/$1.ko" ;;
	*.gz) gzip -dc "$ko" >"$tmp/ko/$1.ko" ;;
	*) cp "$ko" "$tmp/ko/$1.ko" ;;
	esac
}
if ! command -v dkms >/dev/null 2>&1; then
	tap_line skip "$(check_name dkms)" "dkms not installed"
	tap_line skip "$(check_name hook)" "dkms not installed"
elif [ -z "$kernels" ]; then
	tap_line skip "$(check_name dkms)" "no kernel headers here (apt-get install linux-headers-amd64)"
	tap_line skip "$(check_name hook)" "no kernel headers here"
else
	bad=""
	for k in $kernels; do
		dkms_ok "$k" || bad="$bad $k"
	done
	if [ -z "$bad" ]; then
		tap_line ok "$(check_name dkms):$kernels"
	else
		cat "/var/lib/dkms/finalloc/$version/build/make.log" >"$log" 2>/dev/null
		fail "$(check_name dkms)" "not built, or built for another kernel:$bad"
	fi
	# As if the newest kernel had just been installed.
	k=$(echo $kernels | tr ' ' '\n' | sort -V | tail -n 1)
	dkms remove -m finalloc -v "$version" -k "$k" >"$log" 2>&1
	if dkms status -m finalloc -v "$version" -k "$k" 2>/dev/null | grep -q ': installed'; then
		fail "$(check_name hook): $k" "dkms remove did not remove it"
	elif /etc/kernel/header_postinst.d/dkms "$k" >"$log" 2>&1 && dkms_ok "$k"; then
		tap_line ok "$(check_name hook): $k"
	else
		fail "$(check_name hook): $k" "not rebuilt"
	fi
fi

# ---- purge: no file of theirs, no DKMS tree, no module, no group left.
if purge; then
	left=$(while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done <"$tmp/files")
	left="$left $(ls -d /usr/src/finalloc-* /var/lib/dkms/finalloc /etc/finalloc \
		/etc/systemd/system/*.wants/finalloc-reserve.service 2>/dev/null)"
	left="$left $(find /lib/modules/*/updates -name 'finalloc.ko*' 2>/dev/null)"
	[ $had_group = 0 ] && getent group finalloc >/dev/null && left="$left group:finalloc"
	left=$(echo $left)
	if [ -z "$left" ]; then
		tap_line ok "$(check_name purge) ($(wc -l <"$tmp/files") files, DKMS tree, modules, group)"
	else
		tap_line fail "$(check_name purge)" "left: $left"
	fi
else
	cp "$tmp/purge.log" "$log"
	fail "$(check_name purge)" "dpkg --purge failed"
fi

# ---- the module DKMS built, loaded by the VM rig's kernel of its series
# (the packages are gone by now: the VM needs only the .ko).
vmwhy=""
for t in qemu-system-x86_64 cpio; do
	command -v $t >/dev/null 2>&1 || vmwhy="$vmwhy $t missing;"
done
[ -x /bin/busybox ] || vmwhy="$vmwhy /bin/busybox missing;"
[ -x "$b/vmtests/kmod_basic" ] && [ -x "$b/vmbin/finalloc" ] ||
	vmwhy="$vmwhy no $b/vmtests (make vmtests);"
if ! ls "$tmp"/ko/*.ko >/dev/null 2>&1; then
	tap_line skip "$(check_name vm)" "no module built by DKMS"
elif [ -n "$vmwhy" ]; then
	tap_line skip "$(check_name vm)" "${vmwhy%;}"
else
	for ko in "$tmp"/ko/*.ko; do
		k=$(basename "$ko" .ko)
		case $k in
		6.1.*) series=6.1 ;;
		6.12.*) series=6.12 ;;
		*) tap_line skip "$(check_name vm): $k" "the rig boots 6.1 and 6.12 only"; continue ;;
		esac
		TAP_COUNTS= FA_VM_KMOD=$ko B=$b "$top/tests/vm/run.sh" --kernel $series --nodes 2 \
			--only kmod_basic >"$log" 2>&1
		rc=$?
		if ! grep -q "booting $k," "$log"; then
			tap_line skip "$(check_name vm): $k" \
				"the rig's $series kernel is another: $(sed -n 's/.*booting \([^,]*\),.*/\1/p' "$log")"
		elif [ $rc = 0 ] && grep -q '^ok .*rig: insmod finalloc.ko' "$log" &&
			grep -q '^ok .*kmod_basic' "$log"; then
			tap_line ok "$(check_name vm): $k (kmod_basic passes)"
		else
			fail "$(check_name vm): $k" "run.sh exit $rc"
		fi
	done
fi
tap_summary
