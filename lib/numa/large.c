// SPDX-License-Identifier: MIT
/*
 * Large NUMA allocations (above the pool's largest class): one backend map
 * each, on the node, behind a header at a 64 KiB boundary like the pool's
 * (so fa_numa_free tells them apart with one load).  A freed map stays
 * cached on its node (idle, bounded by idle_max) and serves the next large
 * allocation there without a syscall or a page fault.  Under FA_NUMA_BALANCE
 * a node that has no fitting idle map takes one from the nearest node that
 * has: fallback memory migrates (mbind MPOL_MF_MOVE); device memory, pinned
 * to its node, is released there and mapped afresh here; and a node at its
 * cap takes budget from the nearest nodes' idle pool memory
 * (balance.c).
 */
#include "numa/numa.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stddef.h>
#include <string.h>

#define LARGE_MAGIC 0xfa4e1a00u

static size_t hdr_size(void)
{
	return (sizeof(struct fa__numa_large) + 63) & ~(size_t)63;
}

static size_t need_of(size_t size)
{
	size_t body = size + hdr_size();

	/* room to put the header on a 64 KiB boundary, and its whole granule
	 * in the map: the owner map marks only granules wholly inside (with
	 * 4 KiB pages a small object's map may end inside it) */
	return FA__SLAB_SIZE + (body > FA__SLAB_SIZE ? body : FA__SLAB_SIZE);
}

bool fa__numa_is_large(const struct fa_numa *n, size_t size)
{
	return size > FA_POOL_SMALL_MAX && n->large_ok;
}

struct fa__numa_large *fa__numa_large_of(const struct fa_numa *n, const void *ptr)
{
	struct fa__numa_large *l = fa__pagemap_hdr(fa__pagemap_get(ptr));

	if (!l || l->hdr.pool || l->hdr.magic != LARGE_MAGIC || l->owner != n || l->ptr != ptr)
		return NULL;
	return l;
}

/* Place the header in map m and link it live on node nd. */
static void *install(struct fa_numa *n, int node, const struct fa__map *m, size_t size)
{
	struct fa__numa_node *nd = &n->node[node];
	struct fa__numa_large *l =
	        (struct fa__numa_large *)(((uintptr_t)m->base + FA__SLAB_SIZE - 1) & FA__SLAB_MASK);

	/* the owner map first: without its entry no free could find l */
	if (fa__pagemap_set(l, (size_t)((char *)m->base + m->size - (char *)l),
	                    fa__pagemap_entry(l, 0))) {
		struct fa__map copy = *m;

		fa__map_free(&copy);
		errno = ENOMEM;
		return NULL;
	}
	memset(l, 0, sizeof(*l));
	l->hdr.binoff = fa__pool_bin_off(0);
	l->hdr.magic = LARGE_MAGIC;
	l->owner = n;
	l->node = node;
	l->size = size;
	l->ptr = (char *)l + hdr_size();
	l->map = *m;
	l->map.node = node;
	pthread_mutex_lock(&nd->large_lock);
	l->next = nd->live;
	if (nd->live)
		nd->live->prev = l;
	nd->live = l;
	pthread_mutex_unlock(&nd->large_lock);
	atomic_fetch_add_explicit(&nd->large_bytes, m->size, memory_order_relaxed);
	atomic_fetch_add_explicit(&nd->large_allocs, 1, memory_order_relaxed);
	if (n->mc) {
		/* the object; around it, slack the debugger guards */
		char *end = (char *)m->base + m->size;

		fa__mc_alloc(n->mc, l->ptr, size, false);
		fa__mc_noaccess(n->mc, m->base, (size_t)((char *)l - (char *)m->base));
		fa__mc_noaccess(n->mc, (char *)l->ptr + size,
		                (size_t)(end - (char *)l->ptr) - size);
	}
	l->traced = n->tracing && size >= n->trace_min;
	if (l->traced) {
		const struct fa__numa_tls *t = &fa__numa_tls;

		fa__trace_alloc(n->trace_id, l->ptr, size, 64, t->site_file, t->site_line,
		                t->site_func);
	}
	return l->ptr;
}

/* Take a cached map of node that fits need, or return false. */
static bool take_idle(struct fa__numa_node *nd, size_t need, struct fa__map *out)
{
	struct fa__numa_large **pp, *l = NULL;

	pthread_mutex_lock(&nd->large_lock);
	for (pp = &nd->idle; *pp; pp = &(*pp)->next)
		if ((*pp)->map.size >= need && (*pp)->map.size / 2 <= need + FA_PAGE_2M) {
			l = *pp;
			*pp = l->next;
			atomic_fetch_sub(&nd->idle_bytes, l->map.size);
			break;
		}
	pthread_mutex_unlock(&nd->large_lock);
	if (!l)
		return false;
	*out = l->map;
	l->hdr.magic = 0;
	return true;
}

static uint64_t node_mapped(const struct fa_numa *n, int node)
{
	const struct fa__numa_node *nd = &n->node[node];

	return atomic_load(&nd->pool->bytes_mapped) +
	       atomic_load_explicit(&nd->large_bytes, memory_order_relaxed) +
	       atomic_load(&nd->idle_bytes);
}

/* Move an idle map from the nearest node that has one to node. */
static bool steal_idle(struct fa_numa *n, int node, size_t need, struct fa__map *out)
{
	struct fa__numa_node *nd = &n->node[node];

	for (int i = 0; i < nd->nr_spill; i++) {
		int from = nd->spill[i];
		struct fa__map m;

		if (from == node || !take_idle(&n->node[from], need, &m))
			continue;
		if (m.backend == FA_BACKEND_DEVICE || numa_available() < 0) {
			/* pinned to its node: give it back there, map here */
			fa__map_free(&m);
			atomic_fetch_add_explicit(&n->node[from].chunks_out, 1,
			                          memory_order_relaxed);
			struct fa_mem_opts mo;

			if (fa__map_alloc(out, need,
			                  fa__mem_opts_block(&n->node_mem[node], need, &mo)))
				return false;
		} else {
			unsigned long mask[16] = { 0 };

			mask[node / 64] = 1UL << (node % 64);
			if (mbind(m.base, m.size, MPOL_BIND, mask, sizeof(mask) * 8,
			          MPOL_MF_MOVE | MPOL_MF_STRICT)) {
				/* could not move every page: keep it where it was */
				atomic_fetch_add_explicit(&n->node[from].move_failures, 1,
				                          memory_order_relaxed);
				fa__numa_large_cache(n, from, &m);
				continue;
			}
			atomic_fetch_add_explicit(&n->node[from].chunks_out, 1,
			                          memory_order_relaxed);
			*out = m;
		}
		atomic_fetch_add_explicit(&nd->chunks_in, 1, memory_order_relaxed);
		return true;
	}
	return false;
}

void *fa__numa_large_alloc(struct fa_numa *n, int node, size_t size)
{
	struct fa__numa_node *nd = &n->node[node];
	struct fa_mem_opts mo;
	struct fa__map m;
	size_t need;
	int err;

	if (size > ((size_t)1 << 46)) {
		errno = ENOMEM;
		return NULL;
	}
	need = need_of(size);
	if (take_idle(nd, need, &m)) {
		atomic_fetch_add_explicit(&nd->large_reused, 1, memory_order_relaxed);
		return install(n, node, &m, size);
	}
	if (n->node_cap) {
		uint64_t used = node_mapped(n, node) + need;
		uint64_t cap = atomic_load(&nd->cap);

		/* under FA_NUMA_BALANCE, idle pool memory gives way (here or
		 * moved from the nearest nodes) */
		if (used > cap && (!fa__numa_balance(n, node, used - cap, false) ||
		                   node_mapped(n, node) + need > atomic_load(&nd->cap))) {
			errno = ENOMEM;
			return NULL;
		}
	}
	if ((n->flags & FA_NUMA_BALANCE) && steal_idle(n, node, need, &m))
		return install(n, node, &m, size);
	err = fa__map_alloc(&m, need, fa__mem_opts_block(&n->node_mem[node], need, &mo));
	if (err) {
		errno = err == -ENOMEM || err == -ENODEV ? ENOMEM : -err;
		return NULL;
	}
	return install(n, node, &m, size);
}

/* Keep map m idle on node if there is room, else unmap it. */
void fa__numa_large_cache(struct fa_numa *n, int node, struct fa__map *m)
{
	struct fa__numa_node *nd = &n->node[node];
	struct fa__numa_large *l =
	        (struct fa__numa_large *)(((uintptr_t)m->base + FA__SLAB_SIZE - 1) & FA__SLAB_MASK);

	pthread_mutex_lock(&nd->large_lock);
	if (atomic_load(&nd->idle_bytes) + m->size <= n->idle_max) {
		/* the header doubles as the idle list entry */
		memset(l, 0, sizeof(*l));
		l->map = *m;
		l->node = node;
		l->next = nd->idle;
		nd->idle = l;
		atomic_fetch_add(&nd->idle_bytes, m->size);
		m = NULL;
	}
	pthread_mutex_unlock(&nd->large_lock);
	if (m)
		fa__map_free(m);
}

void fa__numa_large_free(struct fa_numa *n, struct fa__numa_large *l)
{
	struct fa__numa_node *nd = &n->node[l->node];
	struct fa__map m = l->map;

	if (l->traced) /* before the map can be reused: its FREE first */
		fa__trace_free(n->trace_id, l->ptr, l->size);
	pthread_mutex_lock(&nd->large_lock);
	if (l->prev)
		l->prev->next = l->next;
	else
		nd->live = l->next;
	if (l->next)
		l->next->prev = l->prev;
	pthread_mutex_unlock(&nd->large_lock);
	l->hdr.magic = 0;
	fa__mc_free(n->mc, l->ptr, l->size);
	atomic_fetch_sub_explicit(&nd->large_bytes, m.size, memory_order_relaxed);
	atomic_fetch_add_explicit(&nd->large_frees, 1, memory_order_relaxed);
	fa__numa_large_cache(n, l->node, &m);
}

/* Unmap every map of node (live and idle): at destroy. */
void fa__numa_large_fini(struct fa_numa *n, int node)
{
	struct fa__numa_node *nd = &n->node[node];

	while (nd->live) {
		struct fa__numa_large *l = nd->live;
		struct fa__map m = l->map;

		nd->live = l->next;
		l->hdr.magic = 0;
		if (n->mc == FA__MC_VALGRIND) /* dies with the allocator: no leak */
			fa__mc_free(n->mc, l->ptr, l->size);
		fa__map_free(&m);
	}
	while (nd->idle) {
		struct fa__numa_large *l = nd->idle;
		struct fa__map m = l->map;

		nd->idle = l->next;
		fa__map_free(&m);
	}
	atomic_store(&nd->idle_bytes, 0);
}

void fa__numa_large_trim(struct fa_numa *n, int node)
{
	struct fa__numa_node *nd = &n->node[node];
	struct fa__numa_large *l;

	pthread_mutex_lock(&nd->large_lock);
	l = nd->idle;
	nd->idle = NULL;
	atomic_store(&nd->idle_bytes, 0);
	pthread_mutex_unlock(&nd->large_lock);
	while (l) {
		struct fa__numa_large *next = l->next;
		struct fa__map m = l->map;

		fa__map_free(&m);
		l = next;
	}
}

/* The map holding addr among node's large maps (live or idle), under the
 * node's large lock. */
const struct fa__map *fa__numa_large_find(struct fa__numa_node *nd, const void *addr)
{
	const char *c = addr;

	for (int pass = 0; pass < 2; pass++)
		for (struct fa__numa_large *l = pass ? nd->idle : nd->live; l; l = l->next)
			if (c >= (const char *)l->map.base &&
			    c < (const char *)l->map.base + l->map.size)
				return &l->map;
	return NULL;
}
