// SPDX-License-Identifier: MIT
/*
 * The peers' family: the workloads through plain malloc/free.  It measures
 * whichever malloc the worker process got: glibc's, or a peer's that the
 * driver put in LD_PRELOAD (child.c).  The C++ workloads run the standard
 * library's side here, which allocates from that same malloc.
 */
#include "bench.h"
#include "cxx.h"

#include <stdlib.h>

#define WL_FN(name)                     wl_malloc_##name
#define WL_ALLOC(ctx, size)             malloc(size)
#define WL_FREE(ctx, ptr, size)         free(ptr)
#define WL_REALLOC(ctx, ptr, old, size) realloc(ptr, size)
#include "workloads.h"

static int malloc_pmr(void *ctx, const struct wl_params *wp)
{
	return bench_cxx_pmr(CXX_STD, ctx, wp->ops, wp->churn_live);
}

static int malloc_map(void *ctx, const struct wl_params *wp)
{
	return bench_cxx_map(CXX_STD, ctx, wp->ops, wp->churn_live);
}

const struct bench_family bench_malloc_family = {
	.name = "malloc",
	.run = WL_RUNS_CXX(wl_malloc_, wl_malloc_pair, malloc_pmr, malloc_map),
};
