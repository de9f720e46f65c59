// SPDX-License-Identifier: MIT
/*
 * Thread-local sub-arenas of an arena group: created on first use, parked in
 * the group at thread exit (a pthread key destructor) for the next thread,
 * and destroyed with the group.  Above arena.c and group.c.
 */
#include "arena/arena.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* Per-thread: the sub-arenas this thread holds, one per group. */
struct tls_ent {
	struct tls_ent *next;
	struct fa_arena_group *g;
	struct fa_arena *a;
	int node;
};

static _Thread_local struct tls_ent *tls_list;
static _Thread_local struct tls_ent *tls_last; /* one-entry lookup cache */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

/* Give e's sub-arena back to its group (the thread no longer holds it). */
static void tls_return(struct tls_ent *e)
{
	struct fa_arena_group *g = e->g;
	struct idle_arena *ia = malloc(sizeof(*ia));

	if (g->flags & FA_GROUP_TLS_RESET_ON_EXIT)
		fa_arena_reset(e->a);
	if (!ia) {
		/* cannot park it: destroy (memory it handed out goes away, the
		 * only safe choice left) */
		pthread_mutex_lock(&g->lock);
		g->attached--;
		g->tls_returned++;
		pthread_mutex_unlock(&g->lock);
		fa__arena_free(e->a);
		return;
	}
	ia->a = e->a;
	ia->node = e->node;
	pthread_mutex_lock(&g->lock);
	ia->next = g->idle;
	g->idle = ia;
	g->nr_idle++;
	g->attached--;
	g->tls_returned++;
	pthread_mutex_unlock(&g->lock);
}

static void tls_exit(void *unused)
{
	struct tls_ent *e = tls_list;

	tls_list = NULL;
	tls_last = NULL;
	while (e) {
		struct tls_ent *n = e->next;

		tls_return(e);
		free(e);
		e = n;
	}
}

static void tls_key_init(void)
{
	pthread_key_create(&tls_key, tls_exit);
}

static struct fa_arena *tls_attach(struct fa_arena_group *g)
{
	struct idle_arena **pp, *ia = NULL;
	struct tls_ent *e;
	int node = (g->flags & FA_GROUP_TLS_NODE) ? fa__current_node() : FA_NODE_ANY;

	pthread_once(&tls_once, tls_key_init);
	e = calloc(1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&g->lock);
	for (pp = &g->idle; *pp; pp = &(*pp)->next) {
		if (node == FA_NODE_ANY || (*pp)->node == node) {
			ia = *pp;
			*pp = ia->next;
			g->nr_idle--;
			g->tls_adopted++;
			g->attached++;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (ia) {
		e->a = ia->a;
		free(ia);
	} else {
		e->a = fa__arena_create_in(&g->tls, g, node);
		if (!e->a) {
			int err = errno;

			free(e);
			errno = err;
			return NULL;
		}
		fa__arena_set_tls(e->a, g);
		pthread_mutex_lock(&g->lock);
		g->tls_created++;
		g->attached++;
		pthread_mutex_unlock(&g->lock);
	}
	e->g = g;
	e->node = node;
	e->next = tls_list;
	tls_list = e;
	tls_last = e;
	pthread_setspecific(tls_key, e);
	return e->a;
}

struct fa_arena *fa_arena_tls(struct fa_arena_group *g)
{
	struct tls_ent *e = tls_last;

	if (fa__likely(e && e->g == g))
		return e->a;
	if (!g) {
		errno = EINVAL;
		return NULL;
	}
	for (e = tls_list; e; e = e->next) {
		if (e->g == g) {
			tls_last = e;
			return e->a;
		}
	}
	return tls_attach(g);
}

int fa_arena_tls_release(struct fa_arena_group *g)
{
	struct tls_ent **pp, *e;

	if (!g)
		return -EINVAL;
	for (pp = &tls_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->g == g) {
			e = *pp;
			*pp = e->next;
			if (tls_last == e)
				tls_last = NULL;
			tls_return(e);
			free(e);
			pthread_setspecific(tls_key, tls_list);
			return 0;
		}
	}
	return -ENOENT;
}

/* The child has only the forking thread: it holds its own sub-arenas again
 * (fa__group_postfork_child dropped every thread's). */
void fa__arena_tls_postfork_child(void)
{
	for (struct tls_ent *e = tls_list; e; e = e->next) {
		e->g->attached++;
		e->g->members++;
	}
}

int fa_arena_group_destroy(struct fa_arena_group *g)
{
	struct idle_arena *ia;

	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->attached || g->members != g->nr_idle) {
		pthread_mutex_unlock(&g->lock);
		return -EBUSY;
	}
	ia = g->idle;
	g->idle = NULL;
	pthread_mutex_unlock(&g->lock);
	while (ia) {
		struct idle_arena *n = ia->next;

		fa__arena_free(ia->a); /* chunks land in g->free */
		free(ia);
		ia = n;
	}
	fa__group_free(g);
	return 0;
}
