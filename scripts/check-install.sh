#!/bin/bash
# SPDX-License-Identifier: MIT
# check-install.sh [BUILD_DIR]: `make install` into a scratch DESTDIR, then
# what a user of the installed tree does: build a C program against it with
# only -I and -L pointing there (static and shared) and run it, and the same
# for C++ with <finalloc.hpp>; then `make uninstall` must leave no file.
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

cat >"$tmp/app.c" <<'EOF'
#include <finalloc.h>
#include <linux/finalloc.h>
#include <stdio.h>

int main(void)
{
	struct fa_arena *a = fa_arena_create(NULL);
	struct fa_pool *p = fa_pool_create(NULL);
	char *s = a ? fa_arena_alloc(a, 32) : NULL;
	void *o = p ? fa_pool_alloc(p, 64) : NULL;

	if (!s || !o)
		return perror("finalloc"), 1;
	snprintf(s, 32, "%s", FINALLOC_DEV_PATH);
	fa_pool_free(p, o);
	printf("finalloc %s abi %d %s\n", fa_version(), FINALLOC_ABI_VERSION, s);
	fa_pool_destroy(p);
	fa_arena_destroy(a);
	return 0;
}
EOF
cat >"$tmp/app.cpp" <<'EOF'
#include <finalloc.hpp>
#include <linux/finalloc.h>
#include <cstdio>

int main()
{
	fa::arena a;
	int *x = static_cast<int *>(a.allocate(sizeof(int)));

	*x = FINALLOC_ABI_VERSION;
	std::printf("finalloc %s abi %d %s\n", fa_version(), *x, FINALLOC_DEV_PATH);
	return 0;
}
EOF
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
	grep -q "libfinalloc.so.0 => $lib/libfinalloc.so.0" "$log"; then
	tap_line ok "shared program loads the installed libfinalloc.so.0"
else
	fail "shared program loads the installed libfinalloc.so.0" "see ldd"
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
