// SPDX-License-Identifier: MIT
/*
 * Pool create and destroy, the registry of pools (TLS slots, bins, the
 * list of every pool) and fork.
 *
 * Locks: reg_lock (fa__pool_reg_lock, thread.c: TLS slots, thread exit,
 * destroy, the pool list) before trim_lock (trim.c) before shared_lock
 * before check_lock (debug.c; an fa__rwlock, util/rwlock.h) before pool->lock (regions,
 * descriptor chunks, cache lists, large objects) before q.lock; snap_lock
 * is a leaf.  fork() takes them all in that order (pool after pool), so
 * the child finds every pool consistent.
 */
#include "pool/pool.h"
#include "trace/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fa__pool_reg_lock: */
static struct fa_pool *slots[FA__POOL_SLOTS];
/* which of fa__pool_bins a pool holds (bin 0 never) */
static struct fa_pool *bin_owner[FA__POOL_TLS_BINS];
static struct fa_pool *all_pools;

unsigned fa_pool_max_pools(void)
{
	return FA__POOL_SLOTS;
}

/* Take nr_classes consecutive bins of fa__pool_bins for p's inline path
 * (reg_lock held); none when it has features or they ran out. */
static void bins_take(struct fa_pool *p)
{
	unsigned n = p->nr_classes, run = 0;

	if (p->slow || p->tslot >= FA__POOL_SLOTS)
		return;
	for (unsigned i = 1; i < FA__POOL_TLS_BINS; i++) {
		run = bin_owner[i] ? 0 : run + 1;
		if (run == n) {
			for (unsigned j = i + 1 - n; j <= i; j++)
				bin_owner[j] = p;
			/* the sampler thread reads it in fa_pool_stats */
			__atomic_store_n(&p->tbin, i + 1 - n, __ATOMIC_RELAXED);
			return;
		}
	}
}

static void bins_release(struct fa_pool *p)
{
	for (unsigned i = 0; p->tbin && i < p->nr_classes; i++)
		bin_owner[p->tbin + i] = NULL;
}

/* ---- fork ---- */

void fa__pool_prefork(void)
{
	pthread_mutex_lock(&fa__pool_reg_lock);
	for (struct fa_pool *p = all_pools; p; p = p->fork_next) {
		pthread_mutex_lock(&p->trim_lock);
		pthread_mutex_lock(&p->shared_lock);
		fa__rwlock_wrlock(&p->check_lock);
		pthread_mutex_lock(&p->lock);
		pthread_mutex_lock(&p->q.lock);
		pthread_mutex_lock(&p->snap_lock);
	}
}

static void postfork_unlock(void)
{
	for (struct fa_pool *p = all_pools; p; p = p->fork_next) {
		pthread_mutex_unlock(&p->snap_lock);
		pthread_mutex_unlock(&p->q.lock);
		pthread_mutex_unlock(&p->lock);
		fa__rwlock_wrunlock(&p->check_lock); /* a fork child can, too */
		pthread_mutex_unlock(&p->shared_lock);
		pthread_mutex_unlock(&p->trim_lock);
	}
	pthread_mutex_unlock(&fa__pool_reg_lock);
}

void fa__pool_postfork_parent(void)
{
	postfork_unlock();
}

/*
 * The child has only the forking thread.  Every lock was taken by
 * fa__pool_prefork, so the shared lists, slabs and cache lists are whole; the
 * other threads' caches have no owner any more: they stay on the pool's
 * list (stats count their objects as cached, destroy frees them) but off
 * every TLS slot, and their objects are not reused (a cache caught in the
 * middle of a flush may hold objects already published).
 */
void fa__pool_postfork_child(void)
{
	for (struct fa_pool *p = all_pools; p; p = p->fork_next) {
		fa__pool_thread_fork_child(p);
		fa__pool_large_fork_child(p);
		fa__pool_snap_fork_child(p);
	}
	postfork_unlock();
}

/* ---- create / destroy ---- */

#define VALID_FLAGS                                                                             \
	(FA_POOL_FINE | FA_POOL_NO_LARGE | FA_POOL_ZERO | FA_POOL_POISON | FA_POOL_QUARANTINE | \
	 FA_POOL_DEBUG | FA_POOL_CTOR_EVERY | FA_POOL_SIZE_HIST | FA_POOL_NO_LARGE_CACHE |      \
	 FA_POOL_TRACE)

static int check_opts(const struct fa_pool_opts *o)
{
	size_t align = o->align ? o->align : 16;

	if (o->flags & ~VALID_FLAGS)
		return -EINVAL;
	if (o->reserved0)
		return -EINVAL;
	if (o->large_cache_bytes && (o->flags & FA_POOL_NO_LARGE_CACHE))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return -EINVAL;
	if (o->align && (o->align < 8 || o->align > 4096 || (o->align & (o->align - 1))))
		return -EINVAL;
	/* beyond what any backend maps (and rounding it up would wrap) */
	if (o->prealloc > ((size_t)1 << 46))
		return -ENOMEM;
	if (o->obj_size) {
		if (o->flags & FA_POOL_FINE)
			return -EINVAL;
		if (o->obj_size > FA_POOL_SMALL_MAX)
			return -EINVAL;
		if (o->align && o->obj_size % align)
			return -EINVAL;
		if (!o->align && o->obj_size % 8)
			return -EINVAL;
	}
	if (o->tcache_objs > 4096 || o->batch > 512 ||
	    (o->tcache_objs && o->batch > o->tcache_objs))
		return -EINVAL;
	if ((o->ctor || o->dtor) && !(o->flags & FA_POOL_CTOR_EVERY) &&
	    (o->flags & (FA_POOL_POISON | FA_POOL_ZERO | FA_POOL_QUARANTINE)))
		return -EINVAL;
	if ((o->flags & FA_POOL_CTOR_EVERY) && !o->ctor && !o->dtor)
		return -EINVAL;
	return fa__mem_opts_check(o->mem);
}

static void slot_release(struct fa_pool *p)
{
	if (p->tslot < FA__POOL_SLOTS)
		slots[p->tslot] = NULL;
}

static void run_dtor(struct fa_pool *p, void *o, size_t size)
{
	fa__mc_defined(p->mc, o, size); /* free ones too: constructed once */
	p->dtor(o, size, p->hook_arg);
}

static void pool_free_mem(struct fa_pool *p)
{
	struct fa__pool_tcache *tc, *next;
	unsigned n = atomic_load(&p->nr_regions);

	while (p->large) {
		struct fa__map m = p->large->map;

		p->large = p->large->next;
		fa__map_free(&m);
	}
	fa__pool_large_trim(p);
	for (unsigned r = 0; r < n; r++)
		fa__map_free(&p->maps[r]);
	for (tc = p->all; tc; tc = next) {
		next = tc->next_all;
		free(tc);
	}
	for (unsigned i = 0; i < p->nr_bchunks; i++)
		free(atomic_load(&p->bchunk[i]));
	fa__pool_quarantine_fini(p);
	fa__pool_snap_fini(p);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->shared_lock);
	pthread_mutex_destroy(&p->trim_lock);
	fa__rwlock_destroy(&p->check_lock);
	free(p->maps);
	free(p);
}

/* Journal large objects: asked (FA_POOL_TRACE), or every user pool under
 * FINALLOC_TRACE.  0, or -EINVAL: asked with no journal. */
static int trace_setup(struct fa_pool *p, const char *owner)
{
	int on = fa__trace_want(p->flags & FA_POOL_TRACE, !owner, &p->trace_min);

	if (on < 0)
		return on;
	p->tracing = on;
	if (on)
		p->trace_id = fa__trace_source_id(FA_TRACE_SRC_POOL);
	return 0;
}

struct fa_pool *fa_pool_create(const struct fa_pool_opts *opts)
{
	return fa__pool_create(opts, NULL);
}

struct fa_pool *fa__pool_create(const struct fa_pool_opts *opts, const char *owner)
{
	static const struct fa_pool_opts defaults;
	const struct fa_pool_opts *o = opts ? opts : &defaults;
	struct fa_pool *p;
	int err;

	err = check_opts(o);
	if (err) {
		errno = -err;
		return NULL;
	}
	p = aligned_alloc(FA__CACHE_LINE, fa__pool_round_up(sizeof(*p), FA__CACHE_LINE));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->maps = calloc(FA__POOL_MAX_REGIONS, sizeof(*p->maps));
	if (!p->maps) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->shared_lock, NULL);
	pthread_mutex_init(&p->trim_lock, NULL);
	fa__rwlock_init(&p->check_lock);
	p->flags = o->flags;
	p->align = o->align ? o->align : (o->obj_size && o->obj_size % 16 ? 8 : 16);
	p->obj_size = o->obj_size;
	p->ctor = o->ctor;
	p->dtor = o->dtor;
	p->hook_arg = o->hook_arg;
	p->once_hooks = (o->ctor || o->dtor) && !(o->flags & FA_POOL_CTOR_EVERY);
	/* under a memory debugger every object is described to it: out of
	 * line, with the debug bitmap (live or free) */
	p->mc = fa__mc_mode();
	if (p->mc)
		p->flags |= FA__POOL_MC;
	p->slow = (o->flags & FA__POOL_SLOW_FLAGS) || p->once_hooks || p->mc;
	p->report = o->report;
	p->report_arg = o->report_arg;
	p->owner = owner;
	snprintf(p->name, sizeof(p->name), "%s", o->name ? o->name : "pool");
	if (o->mem) {
		p->mem = *o->mem;
		p->has_mem = true;
	}
	p->max_bytes = o->max_bytes;
	if (!(o->flags & (FA_POOL_NO_LARGE | FA_POOL_NO_LARGE_CACHE)) && !o->obj_size)
		p->idle_max = o->large_cache_bytes ? o->large_cache_bytes : FA__LARGE_CACHE_DEFAULT;
	p->next_region = (size_t)2 << 20;
	fa__pool_setup_classes(p, o);
	p->slab_hdr = sizeof(struct fa__pool_slab);
	if (p->flags & FA__POOL_CHECKS) {
		size_t most = FA__SLAB_SIZE / p->cls[0].stride;

		p->slab_hdr += (most + 63) / 64 * sizeof(uint64_t);
	}

	err = trace_setup(p, owner);
	if (!err)
		err = fa__pool_quarantine_init(p, o);
	if (!err)
		err = fa__pool_snap_init(p, o);
	if (err)
		goto fail;
	if (o->prealloc) {
		pthread_mutex_lock(&p->lock);
		err = fa__pool_region_add(p, fa__pool_round_up(o->prealloc, FA__SLAB_SIZE));
		pthread_mutex_unlock(&p->lock);
		if (err)
			goto fail;
	}

	pthread_mutex_lock(&fa__pool_reg_lock);
	p->tslot = FA__POOL_SLOTS;
	for (unsigned s = 0; s < FA__POOL_SLOTS; s++) {
		if (!slots[s]) {
			slots[s] = p;
			p->tslot = s;
			break;
		}
	}
	bins_take(p);
	fa__pool_setup_inline(p);
	p->fork_next = all_pools;
	if (all_pools)
		all_pools->fork_prev = p;
	all_pools = p;
	pthread_mutex_unlock(&fa__pool_reg_lock);

	if (o->prealloc) {
		/* carve the preallocation now: no page faults when it is first used */
		for (unsigned c = 0; p->bump_end - p->bump >= (ptrdiff_t)FA__SLAB_SIZE;
		     c = (c + 1) % p->nr_classes) {
			uint64_t had = atomic_load_explicit(&p->cls[c].slabs, memory_order_relaxed);

			/* carve() counts what it hands out (none here), not slabs */
			fa__pool_carve(p, NULL, c, NULL, 0);
			if (atomic_load_explicit(&p->cls[c].slabs, memory_order_relaxed) == had)
				break;
		}
	}
	if (p->tracing)
		fa__trace_arena(p->trace_id, FA_TRACE_EV_CREATE);
	return p;
fail:
	pool_free_mem(p);
	errno = -err;
	return NULL;
}

static void mc_forget(struct fa_pool *p, void *o, size_t size)
{
	if (fa__pool_obj_live(fa__pool_slab_of(o), o))
		fa__mc_free(p->mc, o, size);
}

/* memcheck: the objects still live die with the pool, not as leaks (ASan
 * keeps no record of them; the backend unpoisons what it unmaps). */
static void mc_destroy(struct fa_pool *p)
{
	if (p->mc != FA__MC_VALGRIND)
		return;
	for (struct fa__pool_large *l = p->large; l; l = l->next)
		fa__mc_free(p->mc, l->ptr, l->size);
	fa__pool_each_object(p, mc_forget);
}

void fa_pool_destroy(struct fa_pool *p)
{
	if (p && p->owner) {
		fprintf(stderr,
		        "finalloc: fa_pool_destroy: pool '%s' belongs to %s, which "
		        "destroys it\n",
		        p->name, p->owner);
		errno = EINVAL;
		return;
	}
	fa__pool_destroy(p);
}

void fa__pool_destroy(struct fa_pool *p)
{
	if (!p)
		return;
	if (p->tracing)
		fa__trace_arena(p->trace_id, FA_TRACE_EV_DESTROY);
	fa__pool_snap_fini(p); /* stop the sampler first: it reads the caches */
	pthread_mutex_lock(&fa__pool_reg_lock);
	pthread_mutex_lock(&p->lock);
	for (struct fa__pool_tcache *tc = p->all; tc; tc = tc->next_all) {
		if (tc->slot_any)
			*tc->slot_any = NULL;
		fa__pool_bins_reset(p, tc);
	}
	pthread_mutex_unlock(&p->lock);
	slot_release(p);
	bins_release(p);
	if (p->fork_prev)
		p->fork_prev->fork_next = p->fork_next;
	else
		all_pools = p->fork_next;
	if (p->fork_next)
		p->fork_next->fork_prev = p->fork_prev;
	pthread_mutex_unlock(&fa__pool_reg_lock);
	if (p->once_hooks && p->dtor)
		fa__pool_each_object(p, run_dtor);
	mc_destroy(p);
	pool_free_mem(p);
}

/* Every live pool, oldest first (for the statistics dump): a destroyed
 * pool leaves the list before its memory goes. */
void fa__pool_foreach(void (*fn)(struct fa_pool *, void *), void *arg)
{
	struct fa_pool *p;

	pthread_mutex_lock(&fa__pool_reg_lock);
	for (p = all_pools; p && p->fork_next; p = p->fork_next)
		;
	for (; p; p = p->fork_prev)
		fn(p, arg);
	pthread_mutex_unlock(&fa__pool_reg_lock);
}
