#!/bin/bash
# SPDX-License-Identifier: MIT
# run-all.sh: the VM matrix of `make check-vm`: 6.1 and 6.12, each with two
# nodes and with four (a CPU-only and a memory-only node).  FA_VM_MATRIX
# overrides it, e.g. FA_VM_MATRIX="6.1:2".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
matrix=${FA_VM_MATRIX:-"6.1:2 6.1:4 6.12:2 6.12:4"}
rc=0
for m in $matrix; do
	"$top/tests/vm/run.sh" --kernel "${m%%:*}" --nodes "${m##*:}" || rc=1
done
exit $rc
