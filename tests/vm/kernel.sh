#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel.sh SERIES CACHE: print "RELEASE KDIR VMLINUZ BRD" for Debian's kernel
# of SERIES (6.1 or 6.12) whose headers are installed, downloading the
# matching image package into CACHE (apt-get download + dpkg -x) on first
# use.  BRD is that kernel's brd.ko, uncompressed: the guest's ram disk, the
# block device O_DIRECT tests write through (Debian builds every disk driver
# as a module).
set -eu
series=${1:?usage: kernel.sh 6.1|6.12 CACHE}
cache=${2:?usage: kernel.sh 6.1|6.12 CACHE}

case $series in
6.1)	pat='/usr/src/linux-headers-6.1.*-amd64' ;;
6.12)	pat='/usr/src/linux-headers-6.12.*-amd64' ;;
*)	echo "kernel.sh: unknown kernel series '$series' (want 6.1 or 6.12)" >&2; exit 2 ;;
esac
# Newest installed headers of the series.
kdir=$(ls -d $pat 2>/dev/null | sort -V | tail -n 1)
if [ -z "$kdir" ] || [ ! -f "$kdir/include/config/kernel.release" ]; then
	case $series in
	6.1) pkg=linux-headers-amd64 ;;
	*) pkg=linux-headers-6.12-amd64 ;;
	esac
	echo "kernel.sh: no $series headers under /usr/src (apt-get install $pkg, or scripts/deps.sh)" >&2
	exit 1
fi
# The package name, not include/config/kernel.release (Debian 6.1 puts the
# upstream version there); it matches UTS_RELEASE, the vermagic.
rel=${kdir##*/linux-headers-}
dir="$cache/$rel"
vmlinuz="$dir/boot/vmlinuz-$rel"
brd="$dir/brd.ko"
if [ ! -f "$vmlinuz" ] || [ ! -f "$brd" ]; then
	mkdir -p "$dir"
	# Prefer the unsigned image (smaller); the signed one boots the same.
	fetch() {
		for pkg in "linux-image-$rel-unsigned" "linux-image-$rel"; do
			if (cd "$dir" && apt-get download "$pkg" >/dev/null 2>&1); then
				return 0
			fi
		done
		return 1
	}
	# Stale or missing package lists: refresh them once (root only).
	if ls "$dir"/linux-image-*.deb >/dev/null 2>&1; then
		:	# downloaded already
	elif ! fetch && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >/dev/null 2>&1 && fetch || true
	fi
	deb=$(ls "$dir"/linux-image-*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		echo "kernel.sh: apt-get download linux-image-$rel-unsigned failed (run apt-get update?)" >&2
		exit 1
	fi
	# Only the kernel and brd are needed: the guest runs from an initramfs.
	# 6.12's modules are xz-compressed; the kernel takes them plain too.
	ko="./lib/modules/$rel/kernel/drivers/block/brd.ko"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards "./boot/vmlinuz-$rel" "$ko*"
	rm -f "$deb"
	if [ -f "$dir/$ko.xz" ]; then
		xz -dc "$dir/$ko.xz" >"$brd.tmp"
	else
		cp "$dir/$ko" "$brd.tmp"
	fi
	mv "$brd.tmp" "$brd"
	rm -rf "$dir/lib"
fi
echo "$rel $kdir $vmlinuz $brd"
