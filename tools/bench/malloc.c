// SPDX-License-Identifier: MIT
/*
 * The peers' family: the workloads through plain malloc/free.  It measures
 * whichever malloc the worker process got: glibc's, or a peer's that the
 * driver put in LD_PRELOAD (child.c).
 */
#include "bench.h"

#include <stdlib.h>

#define WL_FN(name)                     wl_malloc_##name
#define WL_ALLOC(ctx, size)             malloc(size)
#define WL_FREE(ctx, ptr, size)         free(ptr)
#define WL_REALLOC(ctx, ptr, old, size) realloc(ptr, size)
#include "workloads.h"

const struct bench_family bench_malloc_family = {
	.name = "malloc",
	.run = WL_RUNS(wl_malloc_),
};
