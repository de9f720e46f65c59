/* SPDX-License-Identifier: MIT */
/*
 * lib/numa: the NUMA allocator, one pool per node.  Internals shared by
 * numa.c, thread.c (the calling thread's node), large.c, balance.c and the
 * profiler above (lib/report).
 */
#ifndef FA_NUMA_INTERNAL_H
#define FA_NUMA_INTERNAL_H

#include "arena/arena.h"
#include "pool/pool.h"

#include <pthread.h>
#include <stdarg.h>

/* ---- thread.c ---- */
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
	int32_t cache_lo; /* cache_pool's bin offsets: [lo, lo + span) */
	uint32_t cache_span;
	uint32_t cache_cpu;
	_Atomic uint64_t remote_allocs; /* single writer: this thread */
	_Atomic uint64_t remote_frees;
	_Atomic uint64_t migrations;
	_Atomic int cpu;
	_Atomic int pinned_node;
	int tid;
	bool registered;
	/* fa_numa_alloc_site's site, for the journal: the large path is
	 * reached through node choice, spill and balance, none of which
	 * carries it */
	const char *site_file, *site_func;
	int site_line;
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

/* Header of a large allocation (and of an idle cached map), at a 64 KiB
 * boundary like the pool's slab header: bin 0 and pool NULL there. */
struct fa__numa_large {
	struct fa__pool_hdr hdr; /* first; pool NULL: not a pool object */
	struct fa_numa *owner;
	int node;
	size_t size; /* requested */
	void *ptr;
	struct fa__map map;
	struct fa__numa_large *prev, *next; /* live or idle list */
	bool traced;                        /* its ALLOC is in the journal: so goes its FREE */
};

_Static_assert(offsetof(struct fa__numa_large, hdr) == 0,
               "a numa large map's header starts with struct fa__pool_hdr");

/* Per node; the counters are written only off the fast path (remote and
 * spilled allocations, remote frees), each node on its own lines. */
struct fa__numa_node {
	struct fa_pool *pool;   /* NULL: no memory (served by mem_node) */
	struct fa_arena *arena; /* made by fa_numa_arena, under n->lock */
	int mem_node;           /* node whose memory serves this one */
	bool present, has_memory;
	int nr_spill;
	int spill[FA_MAX_NODES];                       /* memory nodes, nearest first */
	_Atomic uint64_t remote_allocs FA__ALIGNED_CL; /* served here to others */
	_Atomic uint64_t remote_frees;                 /* of this node's memory, by others */
	_Atomic uint64_t spills_out, spills_in, exhausted, misplaced;
	/* large maps (large.c) */
	pthread_mutex_t large_lock FA__ALIGNED_CL;
	struct fa__numa_large *live, *idle;
	_Atomic uint64_t idle_bytes; /* written under large_lock */
	_Atomic uint64_t large_bytes, large_allocs, large_frees, large_reused;
	_Atomic uint64_t chunks_in, chunks_out, move_failures;
	/* budget (balance.c): node_cap +/- what moved, under bal_lock */
	_Atomic uint64_t cap FA__ALIGNED_CL;
	_Atomic uint64_t slab_moves_in, slab_moves_out, slab_bytes_in, slab_bytes_out;
	uint64_t trim_low; /* bal_lock: the pool's trimmable bytes, lowest
	                      since its last trim */
} FA__ALIGNED_CL;

struct fa_numa {
	/* read by the fast path */
	uint64_t id; /* unique per allocator, never 0 */
	int policy;
	unsigned flags;
	struct fa_pool *pool_of[FA_MAX_NODES]; /* node -> serving pool */
	int max_node;
	int nr_mem;
	int mem_nodes[FA_MAX_NODES];
	size_t node_cap;
	size_t idle_max; /* idle large maps kept per node */
	bool large_ok;   /* large sizes: large.c, not the pool */
	/* the journal (lib/trace): large allocations of trace_min bytes up */
	bool tracing;
	size_t trace_min;
	uint64_t trace_id;
	int mc; /* FA__MC_*: the memory debugger, at create */
	uint64_t warn_ns;
	struct fa_mem_opts mem;
	struct fa_arena_opts arena_opts;
	pthread_mutex_t lock;     /* arenas */
	pthread_mutex_t bal_lock; /* budget moves (before the pools' locks) */
	struct fa_numa *next;     /* all allocators, under all_lock */
	_Atomic uint64_t warn_last FA__ALIGNED_CL;
	_Atomic uint64_t warn_skipped, warnings;
	struct fa__numa_node node[FA_MAX_NODES];
	struct fa_mem_opts node_mem[FA_MAX_NODES]; /* mem opts bound to each node */
};

void fa__numa_warn(struct fa_numa *n, const void *site, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void fa__numa_node_usage(struct fa_numa *n, int node, struct fa_numa_node_stats *s);
void fa__numa_each(void (*fn)(struct fa_numa *n, void *arg), void *arg);

/* ---- balance.c ---- */
/* Node's memory is short by need bytes of budget (its pool or a large map
 * hit its cap): under FA_NUMA_BALANCE with node_cap, trim node's own pool,
 * then the nearest nodes' pools, moving what they unmap into node's
 * budget.  True if a retry may now succeed (pool: slabs freed or budget
 * gained; large: budget gained). */
bool fa__numa_balance(struct fa_numa *n, int node, size_t need, bool pool);

/* fa_numa_create; env_trace false: FINALLOC_TRACE does not make it journal
 * (the drop-in, whose first allocation is too early to open a journal:
 * it calls fa__numa_trace_start later). */
struct fa_numa *fa__numa_create(const struct fa_numa_opts *opts, bool env_trace);
/* Journal n's large allocations: FA_NUMA_TRACE (all) or FINALLOC_TRACE
 * (its threshold); opens the journal if need be.  0, or -EINVAL (TRACE
 * with no journal). */
int fa__numa_trace_start(struct fa_numa *n, bool env);

/* ---- large.c ---- */
bool fa__numa_is_large(const struct fa_numa *n, size_t size);
/* The header of large allocation ptr of n, or NULL. */
struct fa__numa_large *fa__numa_large_of(const struct fa_numa *n, const void *ptr);
void *fa__numa_large_alloc(struct fa_numa *n, int node, size_t size);
void fa__numa_large_free(struct fa_numa *n, struct fa__numa_large *l);
void fa__numa_large_cache(struct fa_numa *n, int node, struct fa__map *m);
void fa__numa_large_fini(struct fa_numa *n, int node);
/* Unmap node's idle large maps. */
void fa__numa_large_trim(struct fa_numa *n, int node);
const struct fa__map *fa__numa_large_find(struct fa__numa_node *nd, const void *addr);

/* fork(2), called from lib/fork.c only: the allocator list lock, then each
 * allocator's balance, arena and large-map locks (numa.c). */
void fa__numa_prefork(void);
void fa__numa_postfork_parent(void);
void fa__numa_postfork_child(void);
/* thread.c: the child keeps only the forking thread's registry record. */
void fa__numa_thread_postfork_child(void);

#endif /* FA_NUMA_INTERNAL_H */
