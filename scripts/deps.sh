#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh [build|test|deb|all]: install the Debian 12 packages FinAlloc needs.
#   build: what `make run` needs (compiler, libnuma, liburing, valgrind
#          for its client-request headers)
#   test:  what `make check` and `make bench` add (qemu, busybox, kernel
#          headers for 6.1 and 6.12, linux-source-6.1 for kselftest and
#          checkpatch, the peer allocators, valgrind, g++ for the C++
#          header's tests and examples, chromium to render the bench's
#          HTML page headless)
#   deb:   what `make deb` and `make check-deb` add (debhelper, dh-dkms,
#          dkms, lintian, pkg-config, a C++ compiler)
# As root it installs what is missing; otherwise it lists it and fails.
set -eu
what=${1:-all}
build_pkgs="gcc make libc6-dev libnuma-dev liburing-dev valgrind"
test_pkgs="qemu-system-x86 busybox-static cpio gzip xz-utils perl linux-headers-amd64
linux-headers-6.12-amd64 linux-source-6.1 libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
valgrind groff-base clang-format g++ chromium"
deb_pkgs="dpkg-dev debhelper dh-dkms dkms lintian pkg-config g++ adduser"
case $what in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
deb) pkgs="$build_pkgs $deb_pkgs" ;;
all) pkgs="$build_pkgs $test_pkgs $deb_pkgs" ;;
*) echo "usage: deps.sh [build|test|deb|all]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case $st in ii*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
