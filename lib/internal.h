/* SPDX-License-Identifier: MIT */
/*
 * Internal declarations shared between library files, grouped by the file
 * that owns (defines) them.  Cross-file internals are named _fa_*.
 */
#ifndef FA_INTERNAL_H
#define FA_INTERNAL_H

#include "finalloc.h"

#include <stdatomic.h>
#include <stdbool.h>

#define FA_CACHE_LINE 64
#define FA_ALIGNED_CL __attribute__((aligned(FA_CACHE_LINE)))
#define fa_likely(x) __builtin_expect(!!(x), 1)
#define fa_unlikely(x) __builtin_expect(!!(x), 0)

/* ---- topology.c ---- */
/* sysfs-only readers, usable without libnuma initialised */
int _fa_read_node_hugepages(int node, unsigned long page_kb, uint64_t *total,
                            uint64_t *free_pages);

/* ---- backend.c ---- */
/* @@BACKEND_INTERNAL@@ */

#endif /* FA_INTERNAL_H */
