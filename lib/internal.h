/* SPDX-License-Identifier: MIT */
/*
 * Internal declarations shared between library files, grouped by the file
 * that owns (defines) them.  Cross-file internals are named fa__* (macros FA__*).
 */
#ifndef FA_INTERNAL_H
#define FA_INTERNAL_H

#include "finalloc.h"
#include "util/util.h"

#include <stdatomic.h>
#include <stdbool.h>

#define FA__CACHE_LINE  64
#define FA__ALIGNED_CL  __attribute__((aligned(FA__CACHE_LINE)))
#define fa__likely(x)   __builtin_expect(!!(x), 1)
#define fa__unlikely(x) __builtin_expect(!!(x), 0)

/* ---- topology.c ---- */
/* sysfs-only readers, usable without libnuma initialised */
int fa__read_node_hugepages(int node, unsigned long page_kb, uint64_t *total, uint64_t *free_pages);
/* node itself if it has memory, else its nearest node with memory */
int fa__mem_node_of(int node);

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
/* fn runs at the start of every fa__map_alloc: how a layer above (the exit
 * dump) learns the process uses the library, without the backend calling up. */
void fa__map_set_hook(void (*fn)(void));
/* Unmap and uncount; m->base becomes NULL.  Safe on a zeroed map. */
void fa__map_free(struct fa__map *m);
/* Fill info from a served map. */
void fa__map_info(const struct fa__map *m, struct fa_mem_info *info);
/* Validate opts (NULL allowed): 0 or -EINVAL. */
int fa__mem_opts_check(const struct fa_mem_opts *opts);
/* The node the calling thread runs on (0 if unknown), or the nearest node
 * with memory when that node is CPU-only. */
int fa__current_node(void);
/* Verbose flag from FINALLOC_VERBOSE (read once). */
bool fa__verbose(void);

/* ---- backend_mmap.c ---- */
/* Serve from hugetlb/THP/small exactly as asked (no fallback): 0/-errno. */
int fa__mmap_map(struct fa__map *m, size_t size, int backend, size_t page_size,
                 const struct fa_mem_opts *o);
void fa__mmap_unmap(struct fa__map *m);
/* Reserved (total) hugetlb pages of page_size; 0 if none. */
uint64_t fa__hugetlb_reserved(size_t page_size);
bool fa__thp_enabled(void);

/* ---- backend_device.c ---- */
/* 1 if /dev/finalloc opens (cached; FINALLOC_DEVICE overrides the path). */
bool fa__dev_available(void);
/* 0 when the device is usable, else -ENODEV (absent) or open(2)'s -errno */
int fa__dev_error(void);
/* Page sizes the module offers (bit n = 1 << n bytes), 0 if absent. */
uint64_t fa__dev_page_sizes(void);
int fa__dev_map(struct fa__map *m, size_t size, size_t page_size, const struct fa_mem_opts *o);
void fa__dev_unmap(struct fa__map *m);
/* Node backing byte off of device map m (FINALLOC_IOC_NODE_OF): node or
 * -errno (-ENOENT: a guard page, -EOPNOTSUPP: no node query). */
int fa__dev_node_of(const struct fa__map *m, size_t off);

/* ---- numa_thread.c ---- */
/*
 * The calling thread's node in a few loads: with glibc's rseq registration
 * the kernel keeps this thread's cpu_id current, so a migration is seen at
 * the next call; without it the node is re-read with getcpu every
 * FA__NODE_RECHECK calls (and at once after fa_numa_pin_thread/refresh).
 */
#define FA__NODE_RECHECK 64

struct fa__numa_tls {
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
	struct fa__numa_tls *next, *prev; /* registry list, under its lock */
};

extern __thread struct fa__numa_tls fa__numa_tls __attribute__((tls_model("initial-exec")));
extern const int16_t *fa__cpu_node; /* cpu -> node, set once */
extern unsigned fa__nr_cpu_node;    /* entries in fa__cpu_node; 0 before init */

int fa__thread_node_slow(void);
/* Topology snapshot taken once (read-only afterwards). */
const struct fa_topology *fa__numa_topo(void);
void fa__count_inc(_Atomic uint64_t *c); /* single-writer relaxed increment */

static inline int fa__thread_node(void)
{
	struct fa__numa_tls *t = &fa__numa_tls;

	if (fa__likely(t->rseq_cpu != NULL)) {
		uint32_t cpu = *t->rseq_cpu;

		if (fa__likely(cpu < fa__nr_cpu_node)) {
			int node = fa__cpu_node[cpu];

			if (fa__likely(node == t->node))
				return node;
		}
	} else if (fa__likely(--t->countdown > 0)) {
		return t->node;
	}
	return fa__thread_node_slow();
}

/* ---- arena.c ---- */
/* A chunk: one backend mapping, owned by an arena or parked in a group. */
struct fa__chunk {
	struct fa__chunk *next;
	struct fa__map map;
	char *used; /* bump position when not the current chunk */
	uint64_t reuses;
};
void fa__chunk_unmap(struct fa__chunk *c);
/* Mark a as a thread's sub-arena of g (destroy refuses it). */
void fa__arena_set_tls(struct fa_arena *a, struct fa_arena_group *g);
struct fa_arena_group *fa__arena_tls_group(const struct fa_arena *a);
struct fa_arena *fa__arena_create_in(const struct fa_arena_opts *opts, struct fa_arena_group *g,
                                     int node);
void fa__arena_destroy_tls(struct fa_arena *a);
/* Process-wide arena totals (counted at create/destroy and chunk moves,
 * never on the bump path), for the statistics dump. */
struct fa__arena_totals {
	uint64_t created, destroyed;
	uint64_t chunks_mapped, chunks_reused, chunks_released;
	uint64_t chunk_bytes; /* usable bytes of the chunks arenas hold */
};
void fa__arena_totals(struct fa__arena_totals *t);

/* ---- arena_group.c ---- */
/* Chunk of at least size usable bytes on node (FA_NODE_ANY: any);
 * *reused says whether it came from the pool.  0/-errno. */
int fa__group_chunk_get(struct fa_arena_group *g, size_t size, int node, struct fa__chunk **out,
                        bool *reused);
void fa__group_chunk_put(struct fa_arena_group *g, struct fa__chunk *c);
void fa__group_member(struct fa_arena_group *g, int delta);
const struct fa_mem_opts *fa__group_mem(const struct fa_arena_group *g);

/* ---- trace.c ---- */
/* Open the journal at path, or FINALLOC_TRACE when path is NULL; 0 if
 * already open.  -ENOENT when neither names one. */
int fa__trace_ensure(const char *path);
/* FINALLOC_TRACE set: every arena traces (thresholds from the env). */
bool fa__trace_env(size_t *min_size, unsigned *sample);
void fa__trace_alloc(uint64_t arena, const void *p, size_t size, size_t align, const char *file,
                     int line, const char *func);
void fa__trace_arena(uint64_t arena, int event);

/* ---- pool.c ---- */
/* call fn for every live pool, oldest first, under the registry
 * lock (fn must not create or destroy pools; fa_pool_stats is fine). */
void fa__pool_foreach(void (*fn)(struct fa_pool *, void *), void *arg);
/* pool.c: what a header at a 64 KiB boundary holds first for the inline
 * pool free, fa__pool_bins[i]'s offset from the thread pointer; bin 0
 * sends the free out of line. */
int32_t fa__pool_bin_off(unsigned i);

#endif /* FA_INTERNAL_H */
