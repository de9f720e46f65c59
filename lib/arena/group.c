// SPDX-License-Identifier: MIT
/*
 * Arena groups: a shared pool of free chunks that member arenas draw from
 * and give back to (one mutex, taken only when an arena changes chunks).
 * Below arena.c; the thread-local sub-arenas, which create arenas, are
 * above it in tls.c.
 */
#include "arena/arena.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEF_RETAIN  ((size_t)256 << 20)
#define GROUP_FLAGS (FA_GROUP_NO_RETAIN | FA_GROUP_TLS_NODE | FA_GROUP_TLS_RESET_ON_EXIT)

/* Every group, so that fork() can take their locks (groups_lock first). */
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fa_arena_group *groups;
void fa__group_prefork(void)
{
	pthread_mutex_lock(&groups_lock);
	for (struct fa_arena_group *g = groups; g; g = g->fork_next)
		pthread_mutex_lock(&g->lock);
}

void fa__group_postfork_parent(void)
{
	for (struct fa_arena_group *g = groups; g; g = g->fork_next)
		pthread_mutex_unlock(&g->lock);
	pthread_mutex_unlock(&groups_lock);
}

/* The child has only the forking thread: the sub-arenas other threads held
 * have no owner (one may be mid-allocation), so they are neither adopted
 * nor counted; the group can still be destroyed once this thread lets go
 * of its own. */
void fa__group_postfork_child(void)
{
	for (struct fa_arena_group *g = groups; g; g = g->fork_next) {
		g->members -= g->attached;
		g->attached = 0; /* fa__arena_tls_postfork_child counts this thread's back */
	}
	fa__group_postfork_parent();
}

const struct fa_mem_opts *fa__group_mem(const struct fa_arena_group *g)
{
	return &g->mem;
}

void fa__group_member(struct fa_arena_group *g, int delta)
{
	pthread_mutex_lock(&g->lock);
	g->members += (uint64_t)(int64_t)delta;
	pthread_mutex_unlock(&g->lock);
}

int fa__group_chunk_get(struct fa_arena_group *g, size_t size, int node, struct fa__chunk **out,
                        bool *reused)
{
	struct fa__chunk **pp, **best = NULL, *c;
	struct fa_mem_opts mo;
	int err;

	pthread_mutex_lock(&g->lock);
	for (pp = &g->free; *pp; pp = &(*pp)->next) {
		c = *pp;
		if (c->map.size < size)
			continue;
		if (node != FA_NODE_ANY && c->map.node != node && c->map.node_asked != node)
			continue;
		if (!best || c->map.size < (*best)->map.size)
			best = pp;
	}
	if (best) {
		c = *best;
		*best = c->next;
		c->next = NULL;
		g->retained -= c->map.size;
		g->nr_retained--;
		g->reused++;
		pthread_mutex_unlock(&g->lock);
		*reused = true;
		*out = c;
		return 0;
	}
	pthread_mutex_unlock(&g->lock);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	mo = g->mem;
	if (node != FA_NODE_ANY) {
		mo.flags |= FA_MEM_ON_NODE;
		mo.node = node;
	}
	err = fa__map_alloc(&c->map, size, &mo);
	if (err) {
		free(c);
		return err;
	}
	pthread_mutex_lock(&g->lock);
	g->mapped++;
	pthread_mutex_unlock(&g->lock);
	*reused = false;
	*out = c;
	return 0;
}

void fa__group_chunk_put(struct fa_arena_group *g, struct fa__chunk *c)
{
	pthread_mutex_lock(&g->lock);
	g->returned++;
	if (!(g->flags & FA_GROUP_NO_RETAIN) && c->map.size <= g->retain_max &&
	    g->retained <= g->retain_max - c->map.size) {
		c->next = g->free;
		g->free = c;
		g->retained += c->map.size;
		g->nr_retained++;
		pthread_mutex_unlock(&g->lock);
		return;
	}
	g->unmapped++;
	pthread_mutex_unlock(&g->lock);
	fa__chunk_unmap(c);
}

struct fa_arena_group *fa_arena_group_create(const struct fa_arena_group_opts *opts)
{
	static const struct fa_arena_group_opts defaults;
	const struct fa_arena_group_opts *o = opts ? opts : &defaults;
	struct fa_arena_group *g;
	int err;

	if ((o->flags & ~GROUP_FLAGS) || o->reserved0 || o->reserved[0] || o->reserved[1] ||
	    o->reserved[2] || o->reserved[3] || o->tls.group) {
		errno = EINVAL;
		return NULL;
	}
	err = fa__mem_opts_check(&o->mem);
	if (err) {
		errno = -err;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->mem = o->mem;
	if ((o->tls.flags & FA_ARENA_GUARDS) && g->mem.guard_size < FA_PAGE_4K)
		g->mem.guard_size = FA_PAGE_4K;
	g->tls = o->tls;
	g->flags = o->flags;
	g->retain_max = o->retain_max ? o->retain_max : DEF_RETAIN;
	pthread_mutex_lock(&groups_lock);
	g->fork_next = groups;
	if (groups)
		groups->fork_prev = g;
	groups = g;
	pthread_mutex_unlock(&groups_lock);
	return g;
}

void fa__group_free(struct fa_arena_group *g)
{
	while (g->free) {
		struct fa__chunk *c = g->free;

		g->free = c->next;
		fa__chunk_unmap(c);
	}
	pthread_mutex_lock(&groups_lock);
	if (g->fork_prev)
		g->fork_prev->fork_next = g->fork_next;
	else
		groups = g->fork_next;
	if (g->fork_next)
		g->fork_next->fork_prev = g->fork_prev;
	pthread_mutex_unlock(&groups_lock);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int fa_arena_group_stats(struct fa_arena_group *g, struct fa_arena_group_stats *st)
{
	if (!g || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&g->lock);
	st->retained_bytes = g->retained;
	st->retained_chunks = g->nr_retained;
	st->chunks_mapped = g->mapped;
	st->chunks_reused = g->reused;
	st->chunks_returned = g->returned;
	st->chunks_unmapped = g->unmapped;
	st->arenas = g->members;
	st->tls_created = g->tls_created;
	st->tls_adopted = g->tls_adopted;
	st->tls_returned = g->tls_returned;
	st->tls_idle = g->nr_idle;
	pthread_mutex_unlock(&g->lock);
	return 0;
}
