// SPDX-License-Identifier: MIT
/*
 * `finalloc bench --instr WHAT OPS`: plain loops of 64 B alloc+free for
 * callgrind (scripts/bench-instructions.sh), with no clock, no result lines
 * and no worker machinery, so what callgrind counts is the allocator and
 * the loop.  Instructions per op come from the difference of two runs.
 */
#include "bench.h"

#include "finalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Inlined with a constant sized: two loops, neither testing it. */
static inline __attribute__((always_inline)) int instr_pool(uint64_t ops, bool sized)
{
	struct fa_pool *p = fa_pool_create(NULL);

	if (!p) {
		fprintf(stderr, "bench --instr: fa_pool_create: %s\n", strerror(errno));
		return 1;
	}
	for (uint64_t i = 0; i < ops; i++) {
		char *o = fa_pool_alloc(p, 64);

		if (!o) {
			fa_pool_destroy(p);
			return wl_fail("instr pool", 64) ? 1 : 0;
		}
		o[0] = (char)i;
		wl_escape(o);
		if (sized)
			fa_pool_free_sized(p, o, 64);
		else
			fa_pool_free(p, o);
	}
	fa_pool_destroy(p);
	return 0;
}

/* FinAlloc's loops; -1 if what is none of them. */
static int fa_instr(const char *what, uint64_t ops)
{
	if (!strcmp(what, "pool"))
		return instr_pool(ops, false);
	if (!strcmp(what, "pool-sized"))
		return instr_pool(ops, true);
	if (!strcmp(what, "arena")) {
		struct fa_arena *a = fa_arena_create(NULL);

		if (!a) {
			fprintf(stderr, "bench --instr: fa_arena_create: %s\n", strerror(errno));
			return 1;
		}
		/* 64 B each, reset every 16384: the reset's cost is amortised
		 * into the per-allocation count, as a user would pay it. */
		for (uint64_t i = 0; i < ops; i++) {
			char *o = fa_arena_alloc(a, 64);

			if (!o) {
				fa_arena_destroy(a);
				return wl_fail("instr arena", 64) ? 1 : 0;
			}
			o[0] = (char)i;
			wl_escape(o);
			if ((i & 16383) == 16383)
				fa_arena_reset(a);
		}
		fa_arena_destroy(a);
		return 0;
	}
	if (!strcmp(what, "numa")) {
		struct fa_numa *n = fa_numa_create(NULL);

		if (!n) {
			fprintf(stderr, "bench --instr: fa_numa_create: %s\n", strerror(errno));
			return 1;
		}
		for (uint64_t i = 0; i < ops; i++) {
			char *o = fa_numa_alloc(n, 64);

			if (!o) {
				fa_numa_destroy(n);
				return wl_fail("instr numa", 64) ? 1 : 0;
			}
			o[0] = (char)i;
			wl_escape(o);
			fa_numa_free(n, o);
		}
		fa_numa_destroy(n);
		return 0;
	}
	return -1;
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
	switch (fa_instr(argv[1], ops)) {
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
