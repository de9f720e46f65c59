#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh: every test suite of `make check`, each run even if one before it
# failed, then one summary line over all of them.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export TAP_COUNTS
TAP_COUNTS=$(mktemp)
trap 'rm -f "$TAP_COUNTS"' EXIT
rc=0
step() {
	echo "# ---- $1"
	shift
	"$@" || rc=1
}
step "host tests" make --no-print-directory check-host
step "examples (build, run, self-checked)" make --no-print-directory check-examples
step "sanitizer builds (ASan+UBSan, TSan)" make --no-print-directory check-san
step "memory debuggers (memcheck; ASan over the plain library)" \
	make --no-print-directory check-memcheck
step "checkpatch (kmod)" make --no-print-directory checkpatch
step "man pages (groff -ww)" scripts/check-man.sh
step "userspace format (.clang-format)" scripts/check-format.sh
step "layers (calls and includes point down)" make --no-print-directory check-layers
step "install (a program built against the installed tree, uninstall)" \
	make --no-print-directory check-install
step "VM tests (Debian 6.1 and 6.12 kernels, NUMA)" make --no-print-directory check-vm
# After the VM tests: their programs boot the module DKMS built.
step "Debian packages (build, lintian; as root install, use, purge)" \
	make --no-print-directory check-deb
awk '{ p += $2; f += $3; s += $4; n++ }
     END { printf "# %d suites\ncheck: %d passed, %d failed, %d skipped\n", n, p, f, s }' "$TAP_COUNTS"
# A suite that failed to build or boot counts as a failure even without lines.
exit $rc
