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

#define FA_CACHE_LINE  64
#define FA_ALIGNED_CL  __attribute__((aligned(FA_CACHE_LINE)))
#define fa_likely(x)   __builtin_expect(!!(x), 1)
#define fa_unlikely(x) __builtin_expect(!!(x), 0)

/* ---- topology.c ---- */
/* sysfs-only readers, usable without libnuma initialised */
int _fa_read_node_hugepages(int node, unsigned long page_kb, uint64_t *total, uint64_t *free_pages);
/* node itself if it has memory, else its nearest node with memory */
int _fa_mem_node_of(int node);

/* ---- backend.c ---- */
/* @@BACKEND_INTERNAL@@ */
/*
 * One mapping from a backend.  [base, base + size) is usable; guard_size
 * bytes on each side of it fault; [map_base, map_base + map_size) is what
 * gets unmapped.  Pool and NUMA allocators keep one per slab/region.
 */
struct _fa_map {
	void *base;
	size_t size; /* usable, multiple of page_size */
	void *map_base;
	size_t map_size;    /* whole VA range, guards included */
	size_t guard_size;  /* each side */
	size_t page_size;   /* served */
	int node;           /* served node, FA_NODE_ANY if unknown */
	int backend;        /* enum fa_backend served */
	uint32_t region_id; /* device backend region */
	unsigned flags;     /* _FA_MAP_* */
	/* what was asked, for reports */
	int backend_asked;
	int node_asked;
	size_t page_size_asked;
	unsigned guard_kind; /* FA_GUARD_* */
};

#define _FA_MAP_LOCKED     (1u << 0)
#define _FA_MAP_PREFAULTED (1u << 1)
#define _FA_MAP_DOWNGRADED (1u << 2)
#define _FA_MAP_PAGE_DOWN  (1u << 3)

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
/* The node the calling thread runs on (0 if unknown), or the nearest node
 * with memory when that node is CPU-only. */
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
/* 0 when the device is usable, else -ENODEV (absent) or open(2)'s -errno */
int _fa_dev_error(void);
/* Page sizes the module offers (bit n = 1 << n bytes), 0 if absent. */
uint64_t _fa_dev_page_sizes(void);
int _fa_dev_map(struct _fa_map *m, size_t size, size_t page_size, const struct fa_mem_opts *o);
void _fa_dev_unmap(struct _fa_map *m);
/* Node backing byte off of device map m (FINALLOC_IOC_NODE_OF): node or
 * -errno (-ENOENT: a guard page, -EOPNOTSUPP: no node query). */
int _fa_dev_node_of(const struct _fa_map *m, size_t off);

/* ---- numa_thread.c ---- */
/* @@NUMA_INTERNAL@@ */
/*
 * The calling thread's node in a few loads: with glibc's rseq registration
 * the kernel keeps this thread's cpu_id current, so a migration is seen at
 * the next call; without it the node is re-read with getcpu every
 * _FA_NODE_RECHECK calls (and at once after fa_numa_pin_thread/refresh).
 */
#define _FA_NODE_RECHECK 64

struct _fa_numa_tls {
	const volatile uint32_t *rseq_cpu; /* this thread's rseq cpu_id, or NULL */
	int node;                          /* last node seen */
	int countdown;                     /* getcpu mode: calls left before re-read */
	unsigned rr;                       /* interleave cursor */
	/* fa_numa fast path: the last allocator used and its pool for this
	 * thread's node, valid while the CPU is cache_cpu (rseq) or the
	 * countdown runs (getcpu); cache_id 0 = empty */
	uint64_t cache_id;
	struct fa_pool *cache_pool;
	uint32_t cache_cpu;
	_Atomic uint64_t remote_allocs; /* single writer: this thread */
	_Atomic uint64_t remote_frees;
	_Atomic uint64_t migrations;
	_Atomic int cpu;
	_Atomic int pinned_node;
	int tid;
	bool registered;
	struct _fa_numa_tls *next, *prev; /* registry list, under its lock */
};

extern __thread struct _fa_numa_tls _fa_numa_tls __attribute__((tls_model("initial-exec")));
extern const int16_t *_fa_cpu_node; /* cpu -> node, set once */
extern unsigned _fa_nr_cpu_node;    /* entries in _fa_cpu_node; 0 before init */

int _fa_thread_node_slow(void);
/* Topology snapshot taken once (read-only afterwards). */
const struct fa_topology *_fa_numa_topo(void);
void _fa_count_inc(_Atomic uint64_t *c); /* single-writer relaxed increment */

static inline int _fa_thread_node(void)
{
	struct _fa_numa_tls *t = &_fa_numa_tls;

	if (fa_likely(t->rseq_cpu != NULL)) {
		uint32_t cpu = *t->rseq_cpu;

		if (fa_likely(cpu < _fa_nr_cpu_node)) {
			int node = _fa_cpu_node[cpu];

			if (fa_likely(node == t->node))
				return node;
		}
	} else if (fa_likely(--t->countdown > 0)) {
		return t->node;
	}
	return _fa_thread_node_slow();
}

/* ---- arena.c ---- */
/* A chunk: one backend mapping, owned by an arena or parked in a group. */
struct _fa_chunk {
	struct _fa_chunk *next;
	struct _fa_map map;
	char *used; /* bump position when not the current chunk */
	uint64_t reuses;
};
void _fa_chunk_unmap(struct _fa_chunk *c);
/* Mark a as a thread's sub-arena of g (destroy refuses it). */
void _fa_arena_set_tls(struct fa_arena *a, struct fa_arena_group *g);
struct fa_arena_group *_fa_arena_tls_group(const struct fa_arena *a);
struct fa_arena *_fa_arena_create_in(const struct fa_arena_opts *opts, struct fa_arena_group *g,
                                     int node);
void _fa_arena_destroy_tls(struct fa_arena *a);
/* Process-wide arena totals (counted at create/destroy and chunk moves,
 * never on the bump path), for the statistics dump. */
struct _fa_arena_totals {
	uint64_t created, destroyed;
	uint64_t chunks_mapped, chunks_reused, chunks_released;
	uint64_t chunk_bytes; /* usable bytes of the chunks arenas hold */
};
void _fa_arena_totals(struct _fa_arena_totals *t);

/* ---- arena_group.c ---- */
/* Chunk of at least size usable bytes on node (FA_NODE_ANY: any);
 * *reused says whether it came from the pool.  0/-errno. */
int _fa_group_chunk_get(struct fa_arena_group *g, size_t size, int node, struct _fa_chunk **out,
                        bool *reused);
void _fa_group_chunk_put(struct fa_arena_group *g, struct _fa_chunk *c);
void _fa_group_member(struct fa_arena_group *g, int delta);
const struct fa_mem_opts *_fa_group_mem(const struct fa_arena_group *g);

/* ---- trace.c ---- */
/* Open the journal at path, or FINALLOC_TRACE when path is NULL; 0 if
 * already open.  -ENOENT when neither names one. */
int _fa_trace_ensure(const char *path);
/* FINALLOC_TRACE set: every arena traces (thresholds from the env). */
bool _fa_trace_env(size_t *min_size, unsigned *sample);
void _fa_trace_alloc(uint64_t arena, const void *p, size_t size, size_t align, const char *file,
                     int line, const char *func);
void _fa_trace_arena(uint64_t arena, int event);

/* ---- stats_dump.c / pool.c ---- */
/* Register the FINALLOC_STATS exit dump once (called from _fa_map_alloc,
 * which every allocator reaches; a no-op when the variable is unset). */
void _fa_stats_dump_init(void);
/* pool.c: call fn for every live pool, oldest first, under the registry
 * lock (fn must not create or destroy pools; fa_pool_stats is fine). */
void _fa_pool_foreach(void (*fn)(struct fa_pool *, void *), void *arg);
/* pool.c: what a header at a 64 KiB boundary holds first for the inline
 * pool free, fa__pool_bins[i]'s offset from the thread pointer; bin 0
 * sends the free out of line. */
int32_t _fa_pool_bin_off(unsigned i);

#endif /* FA_INTERNAL_H */
