#!/bin/sh
# SPDX-License-Identifier: MIT
# kselftest.sh DIR: extract kselftest.h, kselftest_harness.h and checkpatch.pl
# from Debian's linux-source-6.1 tarball into DIR (a git-ignored cache).
set -eu
dir=${1:?usage: kselftest.sh DIR}
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1 || true)
if [ -z "$tarball" ]; then
	echo "kselftest: /usr/src/linux-source-6.1.tar.xz missing (apt-get install linux-source-6.1, or run scripts/deps.sh)" >&2
	exit 1
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "  KSFT    extracting kselftest headers from $tarball"
tar -xf "$tarball" -C "$tmp" --wildcards \
	'linux-source-6.1/tools/testing/selftests/kselftest.h' \
	'linux-source-6.1/tools/testing/selftests/kselftest_harness.h' \
	'linux-source-6.1/scripts/checkpatch.pl' \
	'linux-source-6.1/scripts/spelling.txt' \
	'linux-source-6.1/scripts/const_structs.checkpatch'
src="$tmp/linux-source-6.1"
cp "$src"/tools/testing/selftests/kselftest.h "$src"/tools/testing/selftests/kselftest_harness.h "$dir/"
mkdir -p "$dir/scripts"
cp "$src"/scripts/checkpatch.pl "$src"/scripts/spelling.txt "$src"/scripts/const_structs.checkpatch "$dir/scripts/"
touch "$dir/.stamp"
