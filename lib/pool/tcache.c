// SPDX-License-Identifier: MIT
/*
 * Pool thread caches: a cache holds, per class, a bin (a stack of free
 * objects, in fa__pool_bins for pools with the inline path) and the batch
 * it took from the shared list, handed to the bin a chunk at a time.
 *
 * Object flow: slab -> (carve, batches) -> class stack -> (refill, one CAS;
 * the batch stays attached and is copied 32 pointers per refill) ->
 * thread cache -> user -> (free, any thread) -> that thread's cache ->
 * (flush of a batch, one CAS) -> class stack.  A cross-thread free costs the
 * same as a local one; producer/consumer pairs move whole batches.
 */
#include "pool/pool.h"

#include <stdlib.h>
#include <string.h>

static void **bin_base(const struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c)
{
	return &tc->slots[p->cls[c].arr_off + 1];
}

/* Bring in the class stack's top line and, assuming a full batch (as
 * flushes make them), the top batch's header and first chunk.  The
 * descriptor is not ours: only its address is computed, nothing of it is
 * read; a racing pop or push only makes the prefetch useless. */
static void prefetch_top(struct fa_pool *p, struct fa__pool_class *k)
{
	uint32_t i = (uint32_t)atomic_load_explicit(&k->top, memory_order_relaxed);
	struct fa__pool_batch *d;

	__builtin_prefetch(&k->top, 1, 3);
	if (!i)
		return;
	d = fa__pool_bdesc(p, i);
	__builtin_prefetch(d, 0, 3);
	for (uint32_t j = 0; j < FA__REFILL_CHUNK && j < k->batch; j += 64 / sizeof(void *))
		__builtin_prefetch(d->obj + k->batch - 1 - j, 0, 3);
}

static void hwm_update(struct fa__pool_class *k, uint64_t v)
{
	uint64_t h = atomic_load_explicit(&k->hwm, memory_order_relaxed);

	while (v > h && !atomic_compare_exchange_weak_explicit(&k->hwm, &h, v, memory_order_relaxed,
	                                                       memory_order_relaxed))
		;
}

/*
 * Fill the empty bin c: a chunk of the pending batch; else a batch from the
 * shared list, kept pending (one CAS, no copy of the batch); else the
 * overflow list or a new slab.  The chunk after the one copied is
 * prefetched, so the next refill finds its lines here.
 */
void fa__pool_refill(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c)
{
	struct fa__pool_class *k = &p->cls[c];
	struct fa__pool_bin *b = &tc->bins[c];
	void **base = bin_base(p, tc, c);
	uint32_t n, i = tc->pend[c];

	if (!i) {
		i = fa__pool_stack_pop(p, &k->top);
		if (i) {
			n = fa__pool_bdesc(p, i)->n;
			atomic_fetch_sub_explicit(&k->shared, n, memory_order_relaxed);
			tc->pend[c] = i;
			FA__POOL_SET(tc->pend_n[c], n);
			FA__POOL_ADD(tc->taken[c], n);
			hwm_update(k, fa__pool_out(k));
		}
	}
	if (i) {
		struct fa__pool_batch *d = fa__pool_bdesc(p, i);
		uint32_t rem = tc->pend_n[c];

		n = rem < FA__REFILL_CHUNK ? rem : FA__REFILL_CHUNK;
		rem -= n;
		memcpy(base, d->obj + rem, n * sizeof(void *));
		fa__pool_mc_clear(p, d->obj + rem, n);
		FA__POOL_SET(tc->pend_n[c], rem);
		if (!rem) {
			tc->pend[c] = 0;
			fa__pool_desc_put(p, tc, i);
		} else {
			uint32_t m = rem < FA__REFILL_CHUNK ? rem : FA__REFILL_CHUNK;

			for (uint32_t j = 0; j < m; j += 64 / sizeof(void *))
				__builtin_prefetch(d->obj + rem - m + j, 0, 3);
			__builtin_prefetch(d->obj + rem - 1, 0, 3);
			if (m == rem) /* the next refill takes a batch: its lines too */
				prefetch_top(p, k);
		}
	} else {
		n = fa__pool_shared_pop(p, tc, c, base, k->batch);
		if (!n)
			n = fa__pool_carve(p, tc, c, base, k->batch);
		if (!n)
			return;
		FA__POOL_ADD(tc->taken[c], n);
		hwm_update(k, fa__pool_out(k));
	}
	/* the objects popped next, for writing: a batch freed on another
	 * core arrives with its lines in that core's cache */
	for (uint32_t j = 1; j <= n && j <= FA__REFILL_PREFETCH; j++)
		__builtin_prefetch(base[n - j], 1, 3);
	FA__POOL_SET(b->sp, base + n);
}

/* Move up to n (<= max_batch) of the oldest objects of bin c to the shared
 * list; the hot ones stay. */
static void flush_bin(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, uint32_t n)
{
	struct fa__pool_bin *b = &tc->bins[c];
	void **base = bin_base(p, tc, c);
	uint32_t have = (uint32_t)(b->sp - base);

	if (n > have)
		n = have;
	if (!n)
		return;
	fa__pool_shared_push(p, tc, c, base, n);
	memmove(base, base + n, (have - n) * sizeof(void *));
	fa__pool_mc_clear(p, base + have - n, n);
	FA__POOL_SET(b->sp, b->sp - n);
	FA__POOL_ADD(tc->given[c], n);
}

void fa__pool_flush_all(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	for (unsigned c = 0; c < p->nr_classes; c++) {
		uint32_t i = tc->pend[c], n = tc->pend_n[c];

		if (!i)
			continue;
		/* the rest of the batch goes back as it is (n > 0: a batch
		 * leaves pend when its last chunk is taken) */
		tc->pend[c] = 0;
		FA__POOL_SET(tc->pend_n[c], 0);
		fa__pool_bdesc(p, i)->n = n;
		atomic_fetch_add_explicit(&p->cls[c].shared, n, memory_order_relaxed);
		fa__pool_stack_push(p, &p->cls[c].top, i);
		FA__POOL_ADD(tc->given[c], n);
	}
	for (unsigned c = 0; c < p->nr_classes; c++)
		while (tc->bins[c].sp != bin_base(p, tc, c))
			flush_bin(p, tc, c, p->cls[c].batch);
	while (tc->nstash)
		fa__pool_stack_push(p, &p->bfree, tc->stash[--tc->nstash]);
}

struct fa__pool_tcache *fa__pool_tcache_new(struct fa_pool *p)
{
	struct fa__pool_tcache *tc;

	pthread_mutex_lock(&p->lock);
	tc = p->idle;
	if (tc) {
		p->idle = tc->next_idle;
	} else {
		tc = aligned_alloc(FA__CACHE_LINE, p->tcache_size);
		if (tc) {
			memset(tc, 0, p->tcache_size);
			tc->pool = p;
			tc->bins = tc->own;
			for (unsigned c = 0; c < p->nr_classes; c++) {
				/* the sentinel slot before base stays NULL */
				tc->own[c].sp = bin_base(p, tc, c);
				tc->own[c].end = bin_base(p, tc, c) + p->cls[c].limit;
			}
			tc->next_all = p->all;
			p->all = tc;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (tc)
		atomic_fetch_add(&p->threads, 1);
	return tc;
}

void fa__pool_bins_detach(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	if (tc->bins == tc->own)
		return;
	memcpy(tc->own, tc->bins, p->nr_classes * sizeof(tc->own[0]));
	tc->bins = tc->own;
}

void fa__pool_bins_reset(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	struct fa__pool_bin *b = tc->bins;

	fa__pool_bins_detach(p, tc);
	for (unsigned c = 0; b != tc->own && c < p->nr_classes; c++)
		b[c] = FA__NOCACHE_BIN;
}

void fa__pool_cache_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o,
                         bool user)
{
	struct fa__pool_bin *b = &tc->bins[c];

	if (b->sp == b->end) {
		flush_bin(p, tc, c, p->cls[c].batch);
		if (b->sp == b->end) { /* nothing flushed: cannot happen (batch >= 1) */
			fa__pool_shared_push(p, tc, c, &o, 1);
			return;
		}
	}
	*b->sp = o;
	FA__POOL_SET(b->sp, b->sp + 1);
	if (user)
		FA__POOL_ADD(b->frees, 1);
	else
		FA__POOL_ADD(tc->taken[c], 1);
}
