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

enum instr_kind { I_MALLOC, I_POOL, I_POOL_SIZED, I_ARENA, I_NUMA };

/* The loop every allocator is counted with: 64 B, written, released.
 * Always inlined with a constant kind, so each caller gets a loop of its
 * allocator's direct calls and no test of the kind.  -1 if an allocation
 * failed (errno set). */
static inline __attribute__((always_inline)) int instr_loop(enum instr_kind k, void *ctx,
                                                            uint64_t ops)
{
	for (uint64_t i = 0; i < ops; i++) {
		char *o = k == I_MALLOC  ? malloc(64)
		          : k == I_ARENA ? fa_arena_alloc(ctx, 64)
		          : k == I_NUMA  ? fa_numa_alloc(ctx, 64)
		                         : fa_pool_alloc(ctx, 64);

		if (!o)
			return -1;
		o[0] = (char)i;
		wl_escape(o);
		if (k == I_MALLOC)
			free(o);
		else if (k == I_POOL)
			fa_pool_free(ctx, o);
		else if (k == I_POOL_SIZED)
			fa_pool_free_sized(ctx, o, 64);
		else if (k == I_NUMA)
			fa_numa_free(ctx, o);
		/* 64 B each, reset every 16384: the reset's cost is amortised
		 * into the per-allocation count, as a user would pay it. */
		else if ((i & 16383) == 16383)
			fa_arena_reset(ctx);
	}
	return 0;
}

/* FinAlloc's loops; -1 if what is none of them. */
static int fa_instr(const char *what, uint64_t ops)
{
	static const struct {
		const char *what, *create, *fail;
		enum instr_kind k;
	} loops[] = {
		{ "pool", "fa_pool_create", "instr pool", I_POOL },
		{ "pool-sized", "fa_pool_create", "instr pool", I_POOL_SIZED },
		{ "arena", "fa_arena_create", "instr arena", I_ARENA },
		{ "numa", "fa_numa_create", "instr numa", I_NUMA },
	};
	size_t l = 0;
	void *ctx;
	int ret;

	while (l < sizeof(loops) / sizeof(loops[0]) && strcmp(what, loops[l].what))
		l++;
	if (l == sizeof(loops) / sizeof(loops[0]))
		return -1;
	ctx = loops[l].k == I_ARENA  ? (void *)fa_arena_create(NULL)
	      : loops[l].k == I_NUMA ? (void *)fa_numa_create(NULL)
	                             : (void *)fa_pool_create(NULL);
	if (!ctx) {
		fprintf(stderr, "bench --instr: %s: %s\n", loops[l].create, strerror(errno));
		return 1;
	}
	/* One case a kind: instr_loop needs it constant. */
	switch (loops[l].k) {
	case I_POOL:
		ret = instr_loop(I_POOL, ctx, ops);
		break;
	case I_POOL_SIZED:
		ret = instr_loop(I_POOL_SIZED, ctx, ops);
		break;
	case I_ARENA:
		ret = instr_loop(I_ARENA, ctx, ops);
		break;
	default:
		ret = instr_loop(I_NUMA, ctx, ops);
		break;
	}
	if (loops[l].k == I_ARENA)
		fa_arena_destroy(ctx);
	else if (loops[l].k == I_NUMA)
		fa_numa_destroy(ctx);
	else
		fa_pool_destroy(ctx);
	return ret && wl_fail(loops[l].fail, 64) ? 1 : 0;
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
		if (instr_loop(I_MALLOC, NULL, ops))
			return wl_fail("instr", 64) ? 1 : 0;
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
