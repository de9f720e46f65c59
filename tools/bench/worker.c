// SPDX-License-Identifier: MIT
/*
 * The benchmark worker: one process runs one workload for one allocator and
 * prints its results ("R metric unit value" lines) on stdout for the driver.
 * The malloc family measures whichever malloc the process got: glibc's, or
 * a peer's that the driver put in LD_PRELOAD.
 */
#include "bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const wl_names[WL_COUNT] = {
	[WL_PAIR] = "pair", [WL_CHURN] = "churn",   [WL_PRODCONS] = "prodcons",
	[WL_BUMP] = "bump", [WL_LARSON] = "larson", [WL_LARGE] = "large",
	[WL_TLB] = "tlb",
};

int wl_parse(const char *name)
{
	for (int i = 0; i < WL_COUNT; i++)
		if (!strcmp(name, wl_names[i]))
			return i;
	return -1;
}

void bench_emit(const char *metric, const char *unit, double value)
{
	printf("R %s %s %.6g\n", metric, unit, value);
}

#define WL_FN(name)             wl_malloc_##name
#define WL_ALLOC(ctx, size)     malloc(size)
#define WL_FREE(ctx, ptr, size) free(ptr)
#include "workloads.h"

const struct bench_family bench_malloc_family = {
	.name = "malloc",
	.run = {
		[WL_PAIR] = wl_malloc_pair,
		[WL_CHURN] = wl_malloc_churn,
		[WL_PRODCONS] = wl_malloc_prodcons,
		[WL_BUMP] = wl_malloc_bump,
		[WL_LARSON] = wl_malloc_larson,
		[WL_LARGE] = wl_malloc_large,
	},
};

/* Which object provides malloc in this process: the driver checks that a
 * preloaded peer really took over (a missing library is only a warning to
 * ld.so, which would silently measure glibc under the peer's name). */
static int probe(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info di;

	if (!m) {
		/* A static binary: ld.so never ran, LD_PRELOAD means nothing. */
		printf("impl static\n");
		return 0;
	}
	if (!dladdr(m, &di) || !di.dli_fname) {
		printf("impl unknown\n");
		return 0;
	}
	printf("impl %s\n", di.dli_fname);
	return 0;
}

static const struct bench_family *find_family(const char *name)
{
	if (!strcmp(name, bench_malloc_family.name))
		return &bench_malloc_family;
	for (int i = 0; bench_fa_families[i]; i++)
		if (!strcmp(name, bench_fa_families[i]->name))
			return bench_fa_families[i];
	return NULL;
}

/* bench --worker FAMILY WORKLOAD OPS TSC_PER_NS TLB_BYTES CHURN_LIVE | bench --probe */
int bench_worker_main(int argc, char **argv)
{
	const struct bench_family *fam;
	struct wl_params wp = { 0 };
	uint64_t tlb_bytes, live;
	void *ctx = NULL;
	int wl, ret;

	if (argc == 2 && !strcmp(argv[1], "--probe"))
		return probe();
	if (argc != 8 || (wl = wl_parse(argv[3])) < 0 || !fa__parse_u64(argv[4], &wp.ops) ||
	    !fa__parse_double(argv[5], &wp.tsc_per_ns) || wp.tsc_per_ns <= 0 ||
	    !fa__parse_u64(argv[6], &tlb_bytes) || !fa__parse_u64(argv[7], &live) || live < 2 ||
	    (live & (live - 1)) || wp.ops == 0) {
		fprintf(stderr, "bench worker: bad arguments (internal interface)\n");
		return EXIT_USAGE;
	}
	wp.tlb_bytes = tlb_bytes;
	wp.churn_live = live;
	if (wl == WL_TLB) {
		ret = bench_tlb_run(argv[2], &wp);
		fflush(stdout);
		return ret ? 1 : 0;
	}
	fam = find_family(argv[2]);
	if (!fam) {
		fprintf(stderr, "bench worker: unknown allocator '%s'\n", argv[2]);
		return EXIT_USAGE;
	}
	if (!fam->run[wl]) {
		fprintf(stderr, "bench worker: %s does not run %s\n", fam->name, wl_names[wl]);
		return EXIT_USAGE;
	}
	if (fam->setup && (ret = fam->setup(&ctx))) {
		fprintf(stderr, "bench worker: %s setup: %s\n", fam->name, strerror(-ret));
		return 1;
	}
	ret = fam->run[wl](ctx, &wp);
	if (fam->teardown)
		fam->teardown(ctx);
	fflush(stdout);
	return ret ? 1 : 0;
}

/* A plain loop for callgrind: instructions per op come from the difference
 * of two runs with different op counts (scripts/bench-instructions.sh). */
int bench_instr_main(int argc, char **argv)
{
	uint64_t ops;

	if (argc != 3 || !fa__parse_u64(argv[2], &ops)) {
		fprintf(stderr, "bench --instr: expected WHAT OPS (internal interface)\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "none")) {
		/* The loop alone, same body: the baseline to subtract. */
		static char obj[64];

		for (uint64_t i = 0; i < ops; i++) {
			char *p = obj;

			wl_escape(p);
			p[0] = (char)i;
			wl_escape(p);
		}
		return 0;
	}
	if (!strcmp(argv[1], "malloc")) {
		for (uint64_t i = 0; i < ops; i++) {
			char *p = malloc(64);

			if (!p)
				return wl_fail("instr", 64) ? 1 : 0;
			p[0] = (char)i;
			wl_escape(p);
			free(p);
		}
		return 0;
	}
	switch (bench_fa_instr(argv[1], ops)) {
	case 0:
		return 0;
	case -1:
		fprintf(stderr,
		        "bench --instr: unknown loop '%s' (none, malloc, pool, arena, numa)\n",
		        argv[1]);
		return EXIT_USAGE;
	default:
		return 1;
	}
}
