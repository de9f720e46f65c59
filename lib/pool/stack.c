// SPDX-License-Identifier: MIT
/*
 * Pool shared lists: batch descriptors (arrays of object pointers, in
 * chunks never freed before the pool) and the lock-free per-class stacks
 * of them, with the overflow list for when no descriptor memory can be
 * had.  The stack operations the refill path uses are inline in pool.h.
 */
#include "pool/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* For fa_pool_trim: the whole stack at once (the tag moves on, so a racing
 * pop's CAS fails and finds it empty). */
uint32_t fa__pool_stack_take(_Atomic uint64_t *top)
{
	uint64_t old = atomic_load_explicit(top, memory_order_relaxed);

	while ((uint32_t)old &&
	       !atomic_compare_exchange_weak_explicit(top, &old, ((old >> 32) + 1) << 32,
	                                              memory_order_acquire, memory_order_relaxed))
		;
	return (uint32_t)old;
}

/* A free descriptor: the stash, the free stack, else the next one never
 * used (under the lock: a chunk's descriptors are handed out in order, so
 * its pages are touched only as the pool needs them), else a new chunk. */
static uint32_t desc_get(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	struct fa__pool_batch *ch;
	uint32_t i;

	if (tc && tc->nstash)
		return tc->stash[--tc->nstash];
	i = fa__pool_stack_pop(p, &p->bfree);
	if (i)
		return i;
	pthread_mutex_lock(&p->lock);
	i = fa__pool_stack_pop(p, &p->bfree); /* someone may have freed one */
	if (!i && p->bnext == p->nr_bchunks * FA__BATCH_PER_CHUNK &&
	    p->nr_bchunks < FA__BATCH_CHUNKS && (ch = calloc(FA__BATCH_PER_CHUNK, p->bstride))) {
		unsigned k = p->nr_bchunks++;

		atomic_store_explicit(&p->bchunk[k], ch, memory_order_release);
		/* index 0 means empty: chunk 0 starts at 1 */
		p->bnext = k * FA__BATCH_PER_CHUNK + (k ? 0 : 1);
	}
	if (!i && p->bnext < p->nr_bchunks * FA__BATCH_PER_CHUNK)
		i = p->bnext++;
	pthread_mutex_unlock(&p->lock);
	return i;
}

int fa__pool_shared_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **obj,
                         uint32_t n)
{
	uint32_t i = desc_get(p, tc);
	struct fa__pool_batch *d;

	if (fa__unlikely(!i)) {
		struct fa__pool_class *k = &p->cls[c];

		pthread_mutex_lock(&p->lock);
		for (uint32_t j = 0; j < n; j++) {
			/* the link is the library's while it is on the list */
			fa__mc_undefined(p->mc, obj[j], sizeof(void *));
			*(void **)obj[j] = k->overflow;
			__atomic_store_n(&k->overflow, obj[j], __ATOMIC_RELAXED);
		}
		k->noverflow += n;
		/* under the lock: a pop of these (under it too) subtracts after */
		atomic_fetch_add_explicit(&k->shared, n, memory_order_release);
		pthread_mutex_unlock(&p->lock);
		return -ENOMEM;
	}
	d = fa__pool_bdesc(p, i);
	memcpy(d->obj, obj, n * sizeof(void *));
	d->n = n;
	/* release: a carve counted these as carved first (fa__pool_out) */
	atomic_fetch_add_explicit(&p->cls[c].shared, n, memory_order_release);
	fa__pool_stack_push(p, &p->cls[c].top, i);
	return 0;
}

uint32_t fa__pool_shared_pop(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **out,
                             uint32_t max)
{
	struct fa__pool_class *k = &p->cls[c];
	uint32_t i = fa__pool_stack_pop(p, &k->top), n = 0;

	if (i) {
		struct fa__pool_batch *d = fa__pool_bdesc(p, i);

		n = d->n; /* <= batch <= the caller's room */
		memcpy(out, d->obj, n * sizeof(void *));
		fa__pool_mc_clear(p, d->obj, n);
		fa__pool_desc_put(p, tc, i);
	} else if (__atomic_load_n(&k->overflow, __ATOMIC_RELAXED)) {
		/* a hint read without the lock (stored atomically under it) */
		pthread_mutex_lock(&p->lock);
		while (n < max && k->overflow) {
			void *o = k->overflow;

			__atomic_store_n(&k->overflow, *(void **)o, __ATOMIC_RELAXED);
			if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
				fa__pool_poison(o, sizeof(void *)); /* the link was ours */
			fa__mc_noaccess(p->mc, o, sizeof(void *));
			out[n++] = o;
		}
		k->noverflow -= n;
		pthread_mutex_unlock(&p->lock);
	}
	if (n)
		atomic_fetch_sub_explicit(&k->shared, n, memory_order_relaxed);
	return n;
}
