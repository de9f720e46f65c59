// SPDX-License-Identifier: MIT
/*
 * finalloc with no arguments: the tour.  The host report, a short benchmark
 * against the system malloc, and where to go next; each part is a
 * subcommand's, this file only strings them together.
 */
#include "tools.h"

#include "finalloc.h"

int cmd_tour(void)
{
	int ret = 0;

	printf("== FinAlloc %s: host report ==\n\n", fa_version());
	if (info_print_text(stdout))
		ret = 1;
	printf("\n== Quick benchmark: FinAlloc vs the system malloc ==\n\n");
	fflush(stdout);
	if (bench_tour())
		ret = 1;
	printf("\n== Where to go next ==\n\n"
	       "  finalloc bench           the full suite against glibc, jemalloc, tcmalloc, "
	       "mimalloc\n"
	       "  finalloc stats --watch   kernel module counters (/sys/kernel/finalloc)\n"
	       "  finalloc numa --html r.html   per-node memory report\n"
	       "  FINALLOC_TRACE=j.bin ./app; finalloc trace j.bin   allocation journal\n"
	       "  make check               every test, including the 2-node VM on 6.1 and 6.12\n"
	       "  README.md                loading the module, the API, the benchmark table\n");
	return ret;
}
