/* SPDX-License-Identifier: MIT */
/* NUMA allocator internals shared by numa.c, numa_large.c,
 * numa_balance.c and numa_profile.c. */
#ifndef FA_NUMA_INTERNAL_H
#define FA_NUMA_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <stdarg.h>

/* Header of a large allocation (and of an idle cached map), at a 64 KiB
 * boundary like the pool's slab header: bin 0 and pool NULL there. */
struct fa__numa_large {
	int32_t binoff;
	uint32_t magic;
	struct fa_pool *pool; /* NULL: not a pool object */
	struct fa_numa *owner;
	int node;
	size_t size; /* requested */
	void *ptr;
	struct fa__map map;
	struct fa__numa_large *prev, *next; /* live or idle list */
};

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
	/* large maps (numa_large.c) */
	pthread_mutex_t large_lock FA__ALIGNED_CL;
	struct fa__numa_large *live, *idle;
	_Atomic uint64_t idle_bytes; /* written under large_lock */
	_Atomic uint64_t large_bytes, large_allocs, large_frees, large_reused;
	_Atomic uint64_t chunks_in, chunks_out, move_failures;
	/* budget (numa_balance.c): node_cap +/- what moved, under bal_lock */
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
	bool large_ok;   /* large sizes: numa_large.c, not the pool */
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

/* ---- numa_balance.c ---- */
/* Node's memory is short by need bytes of budget (its pool or a large map
 * hit its cap): under FA_NUMA_BALANCE with node_cap, trim node's own pool,
 * then the nearest nodes' pools, moving what they unmap into node's
 * budget.  True if a retry may now succeed (pool: slabs freed or budget
 * gained; large: budget gained). */
bool fa__numa_balance(struct fa_numa *n, int node, size_t need, bool pool);

/* ---- numa_large.c ---- */
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

#endif /* FA_NUMA_INTERNAL_H */
