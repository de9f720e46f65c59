/* SPDX-License-Identifier: MIT */
/* NUMA allocator internals shared by numa.c and numa_profile.c. */
#ifndef FA_NUMA_INTERNAL_H
#define FA_NUMA_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <stdarg.h>

/* Per node; the counters are written only off the fast path (remote and
 * spilled allocations, remote frees), each node on its own lines. */
struct _fa_numa_node {
	struct fa_pool *pool;           /* NULL: no memory (served by mem_node) */
	struct fa_arena *arena;         /* made by fa_numa_arena, under n->lock */
	int mem_node;                   /* node whose memory serves this one */
	bool present, has_memory;
	int nr_spill;
	int spill[FA_MAX_NODES];        /* memory nodes, nearest first */
	_Atomic uint64_t remote_allocs FA_ALIGNED_CL; /* served here to others */
	_Atomic uint64_t remote_frees;  /* of this node's memory, by others */
	_Atomic uint64_t spills_out, spills_in, exhausted, misplaced;
} FA_ALIGNED_CL;

struct fa_numa {
	/* read by the fast path */
	uint64_t id;                    /* unique per allocator, never 0 */
	int policy;
	unsigned flags;
	struct fa_pool *pool_of[FA_MAX_NODES]; /* node -> serving pool */
	int max_node;
	int nr_mem;
	int mem_nodes[FA_MAX_NODES];
	size_t node_cap;
	uint64_t warn_ns;
	struct fa_mem_opts mem;
	struct fa_arena_opts arena_opts;
	pthread_mutex_t lock;           /* arenas */
	struct fa_numa *next;           /* all allocators, under all_lock */
	_Atomic uint64_t warn_last FA_ALIGNED_CL;
	_Atomic uint64_t warn_skipped, warnings;
	struct _fa_numa_node node[FA_MAX_NODES];
};

void _fa_numa_warn(struct fa_numa *n, const void *site, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void _fa_numa_node_usage(struct fa_numa *n, int node, struct fa_numa_node_stats *s);
void _fa_numa_each(void (*fn)(struct fa_numa *n, void *arg), void *arg);

#endif /* FA_NUMA_INTERNAL_H */
