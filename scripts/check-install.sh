#!/bin/bash
# SPDX-License-Identifier: MIT
# check-install.sh [BUILD_DIR]: `make install` into a scratch DESTDIR, then
# what a user of the installed tree does: build a C program against it with
# only -I and -L pointing there (static and shared) and run it, the same
# for C++ with <finalloc.hpp>, and both again with the flags of the installed
# finalloc.pc (pkg-config, shared and --static); the udev rule and the
# systemd unit are in place; then `make uninstall` must leave no file.
# One TAP line per step.  Needs the tree built (`make all`).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
tap_init install
b=${1:-build}
prefix=/usr/local
tmp=$(mktemp -d /tmp/fa-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
inc=$root$prefix/include
lib=$root$prefix/lib
log=$tmp/log
soname=$(sed -n 's/^SONAME *:= *//p' "$top/Makefile")

# Fail one step with its log as comments.
fail() {
	tap_line fail "$1" "$2"
	sed 's/^/# /' "$log"
}

if make -C "$top" --no-print-directory B="$b" DESTDIR="$root" PREFIX="$prefix" install \
	>"$log" 2>&1; then
	tap_line ok "make install"
else
	fail "make install" "exit $?"
	tap_summary
	exit
fi

# Kernel uapi headers are included as <linux/NAME.h>.
if [ -f "$inc/linux/finalloc.h" ] && [ ! -e "$inc/uapi" ]; then
	tap_line ok "uapi header is include/linux/finalloc.h"
else
	tap_line fail "uapi header is include/linux/finalloc.h" \
		"found: $(cd "$root" && find . -name finalloc.h | tr '\n' ' ')"
fi

cp "$top/tests/install/app.c" "$top/tests/install/app.cpp" "$tmp/"
want="^finalloc [0-9][0-9.]* abi 1 /dev/finalloc\$"

# build NAME COMPILER-AND-ARGS...: compile, run, check what it prints.
build() {
	name=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		fail "$name" "does not build"
		return
	fi
	if ! LD_LIBRARY_PATH=$lib "$tmp/app" >"$log" 2>&1; then
		fail "$name" "exit $?"
	elif ! grep -q "$want" "$log"; then
		fail "$name" "printed something else"
	else
		tap_line ok "$name"
	fi
	rm -f "$tmp/app"
}
cflags="-std=c11 -O2 -Wall -Wextra -Werror -I$inc"
build "C program, static" cc $cflags "$tmp/app.c" -o "$tmp/app" "$lib/libfinalloc.a" \
	-lnuma -luring -lpthread
build "C program, shared" cc $cflags "$tmp/app.c" -o "$tmp/app" -L"$lib" -lfinalloc
# The shared run must have used the installed library, not another one.
if cc $cflags "$tmp/app.c" -o "$tmp/app" -L"$lib" -lfinalloc >"$log" 2>&1 &&
	LD_LIBRARY_PATH=$lib ldd "$tmp/app" >"$log" 2>&1 &&
	[ -n "$soname" ] && grep -q "$soname => $lib/$soname" "$log"; then
	tap_line ok "shared program loads the installed $soname"
else
	fail "shared program loads the installed $soname" "see ldd"
fi
rm -f "$tmp/app"
# The malloc drop-in: preloaded from the installed tree, and linked from it.
if LD_PRELOAD=$lib/libfinalloc-malloc.so.0 FINALLOC_VERBOSE=1 sh -c 'echo x | sort' \
	>"$log" 2>&1 && grep -q "finalloc: malloc: ready" "$log"; then
	tap_line ok "malloc drop-in preloads from the installed tree"
else
	fail "malloc drop-in preloads from the installed tree" "no start said"
fi
printf '%s\n' '#include <stdlib.h>' '#include <malloc.h>' \
	'int main(void) { void *p = malloc(100); malloc_stats(); free(p); return 0; }' \
	>"$tmp/plain.c"
if cc $cflags "$tmp/plain.c" -o "$tmp/plain" "$lib/libfinalloc-malloc.a" -lstdc++ -lnuma \
	-luring -ldl -lm -lpthread >"$log" 2>&1 && "$tmp/plain" >"$log" 2>&1 &&
	grep -q "^finalloc-malloc:" "$log"; then
	tap_line ok "C program linked with libfinalloc-malloc.a runs on it"
else
	fail "C program linked with libfinalloc-malloc.a runs on it" "build or run failed"
fi
rm -f "$tmp/plain" "$tmp/plain.c"
# The example of finalloc(4), as a reader copies it (no groff escapes in
# it) and builds it with the compiler's default dialect.
sed -n '/^\.SH EXAMPLES/,/^\.EE/p' "$top/man/finalloc.4" | sed '1,/^\.EX/d; /^\.EE/d' \
	>"$tmp/example.c"
if ! grep -q '^int main' "$tmp/example.c"; then
	tap_line fail "finalloc(4) example builds" "no example found in man/finalloc.4"
elif cc -O2 -Wall -Wextra -Werror -I"$inc" -c "$tmp/example.c" -o "$tmp/example.o" \
	>"$log" 2>&1; then
	tap_line ok "finalloc(4) example builds"
else
	fail "finalloc(4) example builds" "does not build"
fi
if command -v c++ >/dev/null 2>&1; then
	build "C++17 program, <finalloc.hpp>" c++ -std=c++17 -O2 -Wall -Wextra -Werror -I"$inc" \
		"$tmp/app.cpp" -o "$tmp/app" -L"$lib" -lfinalloc
else
	tap_line skip "C++17 program, <finalloc.hpp>" "no c++ compiler"
fi

# pkg-config as a user of the installed tree runs it: only our .pc, its
# paths moved under the DESTDIR (the file itself names $prefix).
pc=$lib/pkgconfig/finalloc.pc
fapc() {
	PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root \
		pkg-config "$@" finalloc
}
if ! command -v pkg-config >/dev/null 2>&1; then
	tap_line skip "finalloc.pc" "pkg-config not installed (apt-get install pkg-config)"
elif [ ! -f "$pc" ]; then
	tap_line fail "finalloc.pc" "not installed at ${pc#"$root"}"
elif grep -q "$root" "$pc"; then
	tap_line fail "finalloc.pc" "names the DESTDIR"
elif [ "$(fapc --modversion 2>&1)" != "$(sed -n 's/^VERSION *:= *//p' "$top/Makefile")" ] ||
	! fapc --cflags --libs | grep -q -- "-I$inc .*-L$lib -lfinalloc"; then
	tap_line fail "finalloc.pc" "pkg-config says: $(fapc --modversion --cflags --libs 2>&1)"
else
	tap_line ok "finalloc.pc ($(fapc --libs --static | sed "s|$root||g; s| *$||"))"
fi

# pkgbuild NAME DRIVER SOURCE [--static]: build with the pkg-config flags
# alone; --static links the whole program statically, so every library the
# archive needs must be in Libs.private.
pkgbuild() {
	name=$1 driver=$2 src=$3 static=${4:-}
	if ! command -v pkg-config >/dev/null 2>&1 || [ ! -f "$pc" ]; then
		tap_line skip "$name" "no pkg-config or no finalloc.pc"
		return
	fi
	if ! command -v "$driver" >/dev/null 2>&1; then
		tap_line skip "$name" "no $driver compiler"
		return
	fi
	# shellcheck disable=SC2046
	if ! "$driver" -O2 -Wall -Wextra -Werror "$src" -o "$tmp/app" $static \
		$(fapc --cflags --libs $static) >"$log" 2>&1; then
		fail "$name" "does not build"
		return
	fi
	if [ -n "$static" ] && readelf -d "$tmp/app" 2>/dev/null | grep -q NEEDED; then
		tap_line fail "$name" "not static: $(readelf -d "$tmp/app" | grep NEEDED | tr -s ' ')"
	elif ! LD_LIBRARY_PATH=$lib "$tmp/app" >"$log" 2>&1; then
		fail "$name" "exit $?"
	elif ! grep -q "$want" "$log"; then
		fail "$name" "printed something else"
	else
		tap_line ok "$name"
	fi
	rm -f "$tmp/app"
}
pkgbuild "C program, pkg-config" cc "$tmp/app.c"
pkgbuild "C program, pkg-config --static" cc "$tmp/app.c" --static
pkgbuild "C++ program, pkg-config" c++ "$tmp/app.cpp"
pkgbuild "C++ program, pkg-config --static" c++ "$tmp/app.cpp" --static

rules=$root$prefix/lib/udev/rules.d/70-finalloc.rules
if [ -f "$rules" ] && grep -q '^KERNEL=="finalloc".*GROUP="finalloc", MODE="0660"' "$rules"; then
	tap_line ok "udev rule: group finalloc, mode 0660"
else
	tap_line fail "udev rule: group finalloc, mode 0660" "no such rule in ${rules#"$root"}"
fi
unit=$root$prefix/lib/systemd/system/finalloc-reserve.service
if [ -f "$unit" ] &&
	grep -q "^ExecStart=$prefix/bin/finalloc reserve --file $prefix/etc/finalloc/reserve.conf\$" \
		"$unit"; then
	tap_line ok "systemd unit finalloc-reserve.service"
else
	tap_line fail "systemd unit finalloc-reserve.service" \
		"missing, or ExecStart not $prefix/bin/finalloc reserve --file $prefix/etc/..."
fi

if make -C "$top" --no-print-directory B="$b" DESTDIR="$root" PREFIX="$prefix" uninstall \
	>"$log" 2>&1; then
	left=$(cd "$root" && find . ! -type d | sort | tr '\n' ' ')
	if [ -z "$left" ] && [ ! -e "$inc/finalloc" ]; then
		tap_line ok "make uninstall leaves no file"
	else
		tap_line fail "make uninstall leaves no file" "left: $left"
	fi
else
	fail "make uninstall" "exit $?"
fi
tap_summary
