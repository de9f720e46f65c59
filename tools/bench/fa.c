// SPDX-License-Identifier: MIT
/*
 * FinAlloc's allocator families for the benchmark: the pool (size classes,
 * thread caches), the arena (bump + reset) and the NUMA allocator, run by
 * the same workload code as the malloc peers where the workload applies.
 */
#include "bench.h"
#include "cxx.h"

#include "finalloc.h"

/* ---- pool: a size-class pool, defaults ---- */

#define WL_FN(name)             wl_pool_##name
#define WL_ALLOC(ctx, size)     fa_pool_alloc((struct fa_pool *)(ctx), (size))
#define WL_FREE(ctx, ptr, size) fa_pool_free((struct fa_pool *)(ctx), (ptr))
#include "workloads.h"

/* The same pool, freed with fa_pool_free_sized (the workload knows each
 * object's size).  The peers keep plain free(): jemalloc's sdallocx and
 * C23 free_sized are not used for them, so this column is FinAlloc with an
 * API advantage; "pool" is the like-for-like one. */
#define WL_FN(name)             wl_pools_##name
#define WL_ALLOC(ctx, size)     fa_pool_alloc((struct fa_pool *)(ctx), (size))
#define WL_FREE(ctx, ptr, size) fa_pool_free_sized((struct fa_pool *)(ctx), (ptr), (size))
#include "workloads.h"

static int pools_pair(void *ctx, const struct wl_params *wp)
{
	printf("I pool-sized frees with fa_pool_free_sized(p, ptr, size); the peers use "
	       "free(ptr) (no sdallocx/free_sized): compare peers with the pool column\n");
	return wl_pools_pair(ctx, wp);
}

static const struct bench_family pool_sized_family = {
	.name = "pool-sized",
	.setup = bench_pool_setup,
	.teardown = bench_pool_teardown,
	.run = WL_RUNS_PAIR(wl_pools_, pools_pair),
};

/* The C++ layer over the same default pool: fa::pool_resource and
 * fa::pool_allocator (cxx.cpp). */
static int pool_pmr(void *ctx, const struct wl_params *wp)
{
	printf("I pmr and map rows: the peers' columns are std::pmr's resources and "
	       "std::allocator on that malloc; pool and pool-fine are fa::pool_resource and "
	       "fa::pool_allocator, arena is fa::arena_resource\n");
	return bench_cxx_pmr(CXX_FA_POOL, ctx, wp->ops, wp->churn_live);
}

static int pool_map(void *ctx, const struct wl_params *wp)
{
	return bench_cxx_map(CXX_FA_POOL, ctx, wp->ops, wp->churn_live);
}

static const struct bench_family pool_family = {
	.name = "pool",
	.setup = bench_pool_setup,
	.teardown = bench_pool_teardown,
	.run = WL_RUNS_CXX(wl_pool_, wl_pool_pair, pool_pmr, pool_map),
};

/* The pool with FA_POOL_FINE (four classes per doubling): what a program
 * with mixed sizes would create; the same inline code as "pool". */
static int pool_fine_setup(void **ctx)
{
	struct fa_pool_opts o = { .flags = FA_POOL_FINE };

	return bench_ctx(ctx, fa_pool_create(&o));
}

static const struct bench_family pool_fine_family = {
	.name = "pool-fine",
	.setup = pool_fine_setup,
	.teardown = bench_pool_teardown,
	.run = {
		[WL_CHURN] = wl_pool_churn,
		[WL_BUMP] = wl_pool_bump,
		[WL_LARSON] = wl_pool_larson,
		[WL_MAP] = pool_map, /* 80 B nodes: a class of 80, not 128 */
	},
};

/* ---- arena: bump allocation, released by reset ---- */

static int arena_setup(void **ctx)
{
	return bench_ctx(ctx, fa_arena_create(NULL));
}

static void arena_teardown(void *ctx)
{
	fa_arena_destroy(ctx);
}

/* Workload 4 as an arena does it: the batch goes away with one reset. */
static int arena_bump_batch(struct fa_arena *a, const struct wl_params *wp, int batch,
                            const char *metric)
{
	const int BATCH = batch;
	uint64_t rng = 12345, rounds = wp->ops / (uint64_t)batch, t0 = 0, t1;

	if (!rounds)
		rounds = 1;
	for (uint64_t r = 0; r < rounds + 1; r++) {
		if (r == 1)
			t0 = bench_now_ns(); /* round 0 maps the chunks */
		for (int i = 0; i < BATCH; i++) {
			size_t sz = wl_size(&rng, 16, 256);
			char *p = fa_arena_alloc(a, sz);

			if (!p)
				return wl_fail(metric, sz);
			p[0] = (char)i;
			wl_escape(p);
		}
		fa_arena_reset(a);
	}
	t1 = bench_now_ns();
	bench_emit(metric, "ns/obj", (double)(t1 - t0) / (double)(rounds * (uint64_t)BATCH));
	return 0;
}

/* Issue 4's reset contract: O(chunks), not O(allocations).  The time of
 * one reset of an arena holding 1M allocations of 16-256 B, next to one
 * holding 1k: the two are close when the reset does not walk objects. */
static int arena_reset_cost(struct fa_arena *a)
{
	static const int counts[] = { 1000, 1000000 };
	static const char *const names[] = { "reset.1k", "reset.1M" };
	uint64_t rng = 4242;

	for (int k = 0; k < 2; k++) {
		uint64_t best = UINT64_MAX;

		for (int rep = 0; rep < 5; rep++) {
			uint64_t t0;

			for (int i = 0; i < counts[k]; i++) {
				char *p = fa_arena_alloc(a, wl_size(&rng, 16, 256));

				if (!p)
					return wl_fail(names[k], 256);
				p[0] = 1;
			}
			t0 = bench_now_ns();
			fa_arena_reset(a);
			t0 = bench_now_ns() - t0;
			if (t0 < best)
				best = t0;
		}
		bench_emit(names[k], "ns/reset", (double)best);
	}
	return 0;
}

static int arena_bump(void *ctx, const struct wl_params *wp)
{
	struct fa_arena *a = ctx;
	int ret = arena_bump_batch(a, wp, 100000, "bump");

	if (!ret)
		ret = arena_bump_batch(a, wp, 1000, "bump.hot");
	if (!ret)
		ret = arena_reset_cost(a);
	return ret;
}

/* Workload 6 with an arena: each large block lives until a reset, and the
 * arena keeps its chunks, so after warm-up no page is faulted again. */
#define WL_FN(name)             arena_##name
#define WL_ALLOC(ctx, size)     fa_arena_alloc((struct fa_arena *)(ctx), (size))
#define WL_FREE(ctx, ptr, size) fa_arena_reset((struct fa_arena *)(ctx))
#include "wl_large.h"
#undef WL_FN
#undef WL_ALLOC
#undef WL_FREE

/* fa::arena_resource against std::pmr::monotonic_buffer_resource. */
static int arena_pmr(void *ctx, const struct wl_params *wp)
{
	return bench_cxx_pmr(CXX_FA_ARENA, ctx, wp->ops, wp->churn_live);
}

static const struct bench_family arena_family = {
	.name = "arena",
	.setup = arena_setup,
	.teardown = arena_teardown,
	.run = {
		[WL_BUMP] = arena_bump,
		[WL_LARGE] = arena_large,
		[WL_PMR] = arena_pmr,
	},
};

/* ---- numa: the calling thread's node pool (one node on this host) ---- */

static int numa_setup(void **ctx)
{
	return bench_ctx(ctx, fa_numa_create(NULL));
}

static void numa_teardown(void *ctx)
{
	fa_numa_destroy(ctx);
}

#define WL_FN(name)             wl_numa_##name
#define WL_ALLOC(ctx, size)     fa_numa_alloc((struct fa_numa *)(ctx), (size))
#define WL_FREE(ctx, ptr, size) fa_numa_free((struct fa_numa *)(ctx), (ptr))
#include "workloads.h"

static const struct bench_family numa_family = {
	.name = "numa",
	.setup = numa_setup,
	.teardown = numa_teardown,
	.run = WL_RUNS(wl_numa_),
};

const struct bench_family *const bench_fa_families[] = {
	&pool_family,  &pool_sized_family, &pool_fine_family,
	&arena_family, &numa_family,       &bench_pool_prefetch_family,
	NULL,
};
