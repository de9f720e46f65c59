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
/*
 * One mapping from a backend.  [base, base + size) is usable; guard_size
 * bytes on each side of it fault; [map_base, map_base + map_size) is what
 * gets unmapped.  Pool and NUMA allocators keep one per slab/region.
 */
struct _fa_map {
	void *base;
	size_t size;            /* usable, multiple of page_size */
	void *map_base;
	size_t map_size;        /* whole VA range, guards included */
	size_t guard_size;      /* each side */
	size_t page_size;       /* served */
	int node;               /* served node, FA_NODE_ANY if unknown */
	int backend;            /* enum fa_backend served */
	uint32_t region_id;     /* device backend region */
	unsigned flags;         /* _FA_MAP_* */
	/* what was asked, for reports */
	int backend_asked;
	int node_asked;
	size_t page_size_asked;
	unsigned guard_kind;    /* FA_GUARD_* */
};

#define _FA_MAP_LOCKED      (1u << 0)
#define _FA_MAP_PREFAULTED  (1u << 1)
#define _FA_MAP_DOWNGRADED  (1u << 2)
#define _FA_MAP_PAGE_DOWN   (1u << 3)

/*
 * Map at least size usable bytes (opts NULL = defaults).  Selection, env
 * overrides, downgrade accounting and FINALLOC_VERBOSE reports happen here.
 * Returns 0 or -errno (see fa_mem_map); *m is untouched on failure.
 */
int _fa_map_alloc(struct _fa_map *m, size_t size, const struct fa_mem_opts *opts);
/* Unmap and uncount; m->base becomes NULL.  Safe on a zeroed map. */
void _fa_map_free(struct _fa_map *m);
/* Fill info from a served map. */
void _fa_map_info(const struct _fa_map *m, struct fa_mem_info *info);
/* Validate opts (NULL allowed): 0 or -EINVAL. */
int _fa_mem_opts_check(const struct fa_mem_opts *opts);
/* The node the calling thread runs on (0 if unknown). */
int _fa_current_node(void);
/* Verbose flag from FINALLOC_VERBOSE (read once). */
bool _fa_verbose(void);

/* ---- backend_mmap.c ---- */
/* Serve from hugetlb/THP/small exactly as asked (no fallback): 0/-errno. */
int _fa_mmap_map(struct _fa_map *m, size_t size, int backend, size_t page_size,
                 const struct fa_mem_opts *o);
void _fa_mmap_unmap(struct _fa_map *m);
/* Reserved (total) hugetlb pages of page_size; 0 if none. */
uint64_t _fa_hugetlb_reserved(size_t page_size);
bool _fa_thp_enabled(void);

/* ---- backend_device.c ---- */
/* 1 if /dev/finalloc opens (cached; FINALLOC_DEVICE overrides the path). */
bool _fa_dev_available(void);
/* Page sizes the module offers (bit n = 1 << n bytes), 0 if absent. */
uint64_t _fa_dev_page_sizes(void);
int _fa_dev_map(struct _fa_map *m, size_t size, size_t page_size,
                const struct fa_mem_opts *o);
void _fa_dev_unmap(struct _fa_map *m);

#endif /* FA_INTERNAL_H */
