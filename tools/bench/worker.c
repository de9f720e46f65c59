// SPDX-License-Identifier: MIT
/*
 * The benchmark worker, the child's side of child.c: one process runs one
 * workload for one allocator family (fa.c, malloc.c, or a page backing of
 * tlb.c) and prints its results ("R metric unit value" lines) on stdout for
 * the driver; `--probe` says which object provides malloc.
 */
#include "bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

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
	if (!ret) {
		/* the process's peak: this workload, its warm-up and the
		 * harness's own buffers (the same for every allocator) */
		struct rusage ru;
		char name[40];

		snprintf(name, sizeof(name), "%s.rss", wl_names[wl]);
		if (!getrusage(RUSAGE_SELF, &ru))
			bench_emit(name, "KiB", (double)ru.ru_maxrss);
	}
	fflush(stdout);
	return ret ? 1 : 0;
}
