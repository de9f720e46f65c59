// SPDX-License-Identifier: MIT
/*
 * Balancing of pool memory between nodes (FA_NUMA_BALANCE with node_cap).
 *
 * Under FA_NUMA_BALANCE node_cap is each memory node's initial share of a
 * budget of node_cap times the memory nodes.  A node whose pool (or a large
 * map) would pass its share first trims its own pool (fa_pool_trim: idle
 * slabs go to other classes, idle regions are unmapped), then the pools of
 * the nearest nodes, in spill order: the bytes a node's trim unmaps leave
 * its share and join the short node's, so the total never grows.  Budget
 * moves in STEP units (a backend of 2 MiB pages rounds a map up to them: a
 * share that is not a multiple could be overshot) and a node keeps at least
 * KEEP_MIN of its share.  Idle memory holds nothing worth keeping: the
 * move is an unmap on one node and, when the short node's pool grows, a
 * fresh map bound to it; no page is copied or migrated (device memory is
 * pinned to its node anyway).
 *
 * A trim costs O(objects on the pool's shared lists), so a pool is trimmed
 * here only when at least a slab's worth of objects was freed to its shared
 * lists since its last trim (by the lowest count seen since): a machine
 * that is simply full, whose spills drain the neighbours' lists, pays a
 * few loads per failed allocation.
 */
#include "numa/numa.h"

#include <errno.h>

/* What a node keeps of its share whatever it gives (a pool's max_bytes of
 * 0 would mean no cap at all), and the unit of a move. */
#define KEEP_MIN ((uint64_t)FA_PAGE_2M)
#define STEP     ((uint64_t)FA_PAGE_2M)

/* Trim node's pool if it may hold new idle memory (bal_lock held).
 * Returns the bytes unmapped; *slabs: the slabs freed. */
static uint64_t trim_node(struct fa_numa *n, int node, uint64_t *slabs)
{
	struct fa__numa_node *nd = &n->node[node];
	struct fa_pool_trim_info ti;
	uint64_t idle;

	*slabs = 0;
	if (!nd->pool)
		return 0;
	idle = fa__pool_trimmable(nd->pool);
	if (idle < nd->trim_low)
		nd->trim_low = idle;
	if (idle < nd->trim_low + FA__SLAB_SIZE)
		return 0;
	fa_pool_trim(nd->pool, 0, &ti); /* -ENOMEM: what it did still counts */
	nd->trim_low = fa__pool_trimmable(nd->pool);
	*slabs = ti.slabs;
	return ti.bytes;
}

static void cap_set(struct fa__numa_node *nd, uint64_t cap)
{
	atomic_store(&nd->cap, cap);
	fa__pool_set_max_bytes(nd->pool, cap);
}

bool fa__numa_balance(struct fa_numa *n, int node, size_t need, bool pool)
{
	struct fa__numa_node *nd = &n->node[node];
	uint64_t got, own, slabs;
	bool done;

	if (!(n->flags & FA_NUMA_BALANCE) || !n->node_cap || !nd->pool)
		return false;
	/* a pool with room left under its share failed for want of memory,
	 * not of budget */
	if (pool &&
	    atomic_load(&nd->pool->bytes_mapped) + 2 * FA__SLAB_SIZE <= atomic_load(&nd->cap))
		return false;
	pthread_mutex_lock(&n->bal_lock);
	got = trim_node(n, node, &own);
	done = got >= need || (pool && own);
	for (int i = 0; i < nd->nr_spill && !done; i++) {
		int from = nd->spill[i];
		struct fa__numa_node *fd = &n->node[from];
		uint64_t bytes, fcap, give;

		if (from == node || !fd->pool)
			continue;
		bytes = trim_node(n, from, &slabs);
		fcap = atomic_load(&fd->cap);
		give = fcap > KEEP_MIN ? fcap - KEEP_MIN : 0;
		if (give > bytes)
			give = bytes;
		give &= ~(STEP - 1);
		if (!give)
			continue;
		/* the giver's share shrinks first: the total never grows */
		cap_set(fd, fcap - give);
		cap_set(nd, atomic_load(&nd->cap) + give);
		atomic_fetch_add_explicit(&fd->slab_moves_out, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&fd->slab_bytes_out, give, memory_order_relaxed);
		atomic_fetch_add_explicit(&nd->slab_moves_in, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&nd->slab_bytes_in, give, memory_order_relaxed);
		got += give;
		done = got >= need;
	}
	pthread_mutex_unlock(&n->bal_lock);
	return got || (pool && own);
}
