// SPDX-License-Identifier: MIT
/*
 * The pool with FA_POOL_PREFETCH_NEXT: every inline pop also prefetches the
 * object the next pop returns.  Its own translation unit, since the macro
 * picks the inline code at #include.  Run only when asked for by name
 * (`finalloc bench --alloc pool,pool-prefetch`): it exists to measure what
 * the prefetch costs or gains against the default pool.
 */
#define FA_POOL_PREFETCH_NEXT 1
#include "bench.h"

#include "finalloc.h"

#define WL_FN(name)             wl_poolpf_##name
#define WL_ALLOC(ctx, size)     fa_pool_alloc((struct fa_pool *)(ctx), (size))
#define WL_FREE(ctx, ptr, size) fa_pool_free((struct fa_pool *)(ctx), (ptr))
#include "workloads.h"

const struct bench_family bench_pool_prefetch_family = {
	.name = "pool-prefetch",
	.optional = true,
	.setup = bench_pool_setup,
	.teardown = bench_pool_teardown,
	.run = WL_RUNS(wl_poolpf_),
};
