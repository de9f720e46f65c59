/* SPDX-License-Identifier: MIT */
/*
 * lib/backend: the bottom allocator layer.  Page backends (the device, hugetlb,
 * THP, small pages), the choice between them, and the host topology from
 * sysfs and libnuma.  Knows nothing of the allocators above it.
 * Sections are grouped by the file that defines them.
 */
#ifndef FA_BACKEND_H
#define FA_BACKEND_H

#include "finalloc.h"
#include "util/util.h"

#include <stdatomic.h>
#include <stdbool.h>

/* ---- topology.c ---- */
/* sysfs-only readers, usable without libnuma initialised */
int fa__read_node_hugepages(int node, unsigned long page_kb, uint64_t *total, uint64_t *free_pages);
/* node itself if it has memory, else its nearest node with memory */
int fa__mem_node_of(int node);
/* The node the calling thread runs on (0 if unknown), or the nearest node
 * with memory when that node is CPU-only. */
int fa__current_node(void);

/* ---- pagemap.c ---- */
/* An owner-map entry: hdr (64 KiB aligned) governs the granule; binoff is
 * the inline free's bin offset, 0 sends frees out of line. */
uint64_t fa__pagemap_entry(const void *hdr, int32_t binoff);
/* Set every granule wholly inside [base, base + size) to entry.  Returns
 * 0, -ENOMEM (no leaf: granules before it are set), -EINVAL (above 2^48). */
int fa__pagemap_set(const void *base, size_t size, uint64_t entry);
/* Not ours any more.  fa__map_free does it for every mapping. */
void fa__pagemap_clear(const void *base, size_t size);
/* The header an entry names (NULL for 0); inline: the frees' miss paths
 * stay free of calls. */
static inline void *fa__pagemap_hdr(uint64_t entry)
{
	return (void *)((uintptr_t)(uint32_t)entry << FA__PAGEMAP_SHIFT);
}

/* ---- backend.c ---- */
/*
 * One mapping from a backend.  [base, base + size) is usable; guard_size
 * bytes on each side of it fault; [map_base, map_base + map_size) is what
 * gets unmapped.  Pool and NUMA allocators keep one per slab/region.
 */
struct fa__map {
	void *base;
	size_t size; /* usable, multiple of page_size */
	void *map_base;
	size_t map_size;    /* whole VA range, guards included */
	size_t guard_size;  /* each side */
	size_t page_size;   /* served */
	int node;           /* served node, FA_NODE_ANY if unknown */
	int backend;        /* enum fa_backend served */
	uint32_t region_id; /* device backend region */
	unsigned flags;     /* FA__MAP_* */
	/* what was asked, for reports */
	int backend_asked;
	int node_asked;
	size_t page_size_asked;
	unsigned guard_kind; /* FA_GUARD_* */
};

#define FA__MAP_LOCKED     (1u << 0)
#define FA__MAP_PREFAULTED (1u << 1)
#define FA__MAP_DOWNGRADED (1u << 2)
#define FA__MAP_PAGE_DOWN  (1u << 3)

/*
 * Map at least size usable bytes (opts NULL = defaults).  Selection, env
 * overrides, downgrade accounting and FINALLOC_VERBOSE reports happen here.
 * Returns 0 or -errno (see fa_mem_map); *m is untouched on failure.
 */
int fa__map_alloc(struct fa__map *m, size_t size, const struct fa_mem_opts *opts);
/* The options for one block of size bytes of an allocator's own (a large
 * object): below 2 MiB, 4 KiB pages (THP: small pages) unless opts names a
 * page size or the hugetlb or device backend, since a huge page per block
 * is resident whole for the few KiB a block may use.  opts (NULL =
 * defaults), or *tmp changed so. */
const struct fa_mem_opts *fa__mem_opts_block(const struct fa_mem_opts *opts, size_t size,
                                             struct fa_mem_opts *tmp);
/* fn runs at the start of every fa__map_alloc: how a layer above (the exit
 * dump) learns the process uses the library, without the backend calling up. */
void fa__map_set_hook(void (*fn)(void));
/* Unmap and uncount; m->base becomes NULL.  Safe on a zeroed map. */
void fa__map_free(struct fa__map *m);
/* Fill info from a served map. */
void fa__map_info(const struct fa__map *m, struct fa_mem_info *info);
/* Validate opts (NULL allowed): 0 or -EINVAL. */
int fa__mem_opts_check(const struct fa_mem_opts *opts);
/* fa__mem_opts_check, then the error a mapping with opts gets at once
 * because its forced backend (opts or FINALLOC_BACKEND) cannot serve:
 * -ENODEV (absent), the device's open error, -EINVAL (page size); 0 if it
 * can be tried.  For allocators that map lazily to fail at creation. */
int fa__backend_check(const struct fa_mem_opts *opts);
/* Verbose flag from FINALLOC_VERBOSE (read once). */
bool fa__verbose(void);
/* From now on FINALLOC_BACKEND is not consulted (AUTO): for the malloc
 * drop-in, which must serve even when the named backend cannot. */
void fa__backend_env_ignore(void);

/* ---- mmap.c ---- */
/* Serve from hugetlb/THP/small exactly as asked (no fallback): 0/-errno. */
int fa__mmap_map(struct fa__map *m, size_t size, int backend, size_t page_size,
                 const struct fa_mem_opts *o);
void fa__mmap_unmap(struct fa__map *m);
/* Reserved (total) hugetlb pages of page_size; 0 if none. */
uint64_t fa__hugetlb_reserved(size_t page_size);
bool fa__thp_enabled(void);

/* ---- device.c ---- */
/* 1 if /dev/finalloc opens (cached; FINALLOC_DEVICE overrides the path). */
bool fa__dev_available(void);
/* 0 when the device is usable, else -ENODEV (absent) or open(2)'s -errno */
int fa__dev_error(void);
/* Page sizes the module offers (bit n = 1 << n bytes), 0 if absent. */
uint64_t fa__dev_page_sizes(void);
int fa__dev_map(struct fa__map *m, size_t size, size_t page_size, const struct fa_mem_opts *o);
void fa__dev_unmap(struct fa__map *m);
/* fork(2): the device lock around it; the child reopens the device. */
void fa__dev_prefork(void);
void fa__dev_postfork_parent(void);
void fa__dev_postfork_child(void);
/* Node backing byte off of device map m (FINALLOC_IOC_NODE_OF): node or
 * -errno (-ENOENT: a guard page, -EOPNOTSUPP: no node query). */
int fa__dev_node_of(const struct fa__map *m, size_t off);

#endif /* FA_BACKEND_H */
