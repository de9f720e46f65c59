// SPDX-License-Identifier: MIT
/*
 * Pool quarantine (FA_POOL_QUARANTINE): a FIFO of freed objects, poisoned,
 * bounded by count, bytes and age; an object leaving it is verified and
 * goes to the thread cache as any freed object would.
 */
#include "pool/pool.h"

#include <errno.h>
#include <stdlib.h>

int fa__pool_quarantine_init(struct fa_pool *p, const struct fa_pool_opts *o)
{
	struct fa__pool_quarantine *q = &p->q;

	pthread_mutex_init(&q->lock, NULL);
	if (!(p->flags & FA_POOL_QUARANTINE))
		return 0;
	q->cap = o->quarantine_objs ? o->quarantine_objs : 4096;
	q->max_bytes = o->quarantine_bytes ? o->quarantine_bytes : (size_t)4 << 20;
	q->max_ns = o->quarantine_ns ? o->quarantine_ns : 1000000000ull;
	if (q->cap > ((size_t)1 << 24))
		return -EINVAL;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	return q->ring ? 0 : -ENOMEM;
}

void fa__pool_quarantine_fini(struct fa_pool *p)
{
	free(p->q.ring);
	p->q.ring = NULL;
}

/* Take the oldest entry out (q->lock held). */
static struct fa__pool_qent q_pop(struct fa_pool *p)
{
	struct fa__pool_quarantine *q = &p->q;
	struct fa__pool_qent e = q->ring[q->head];

	fa__pool_mc_clear(p, &q->ring[q->head].ptr, 1);
	q->head = (q->head + 1) % q->cap;
	q->n--;
	q->bytes -= p->cls[e.cls].size;
	atomic_fetch_sub_explicit(&p->cls[e.cls].quarantined, 1, memory_order_relaxed);
	return e;
}

static void release(struct fa_pool *p, struct fa__pool_tcache *tc, struct fa__pool_qent *e,
                    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t size = p->cls[e[i].cls].size;

		/* free for the debugger: opened for the check only */
		fa__mc_defined(p->mc, e[i].ptr, size);
		fa__pool_verify(p, e[i].ptr, e[i].cls, 0);
		fa__mc_noaccess(p->mc, e[i].ptr, size);
		fa__pool_cache_push(p, tc, e[i].cls, e[i].ptr, false);
	}
}

#define EVICT_BATCH 32

void fa__pool_quarantine_put(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o)
{
	struct fa__pool_quarantine *q = &p->q;
	size_t size = p->cls[c].size;
	struct fa__pool_qent out[EVICT_BATCH];
	uint64_t now = fa__pool_now_ns();
	size_t n = 0;

	fa__pool_poison(o, size);
	fa__mc_free(p->mc, o, size);
	pthread_mutex_lock(&q->lock);
	/* the bounds: count, bytes, then age (a few per call keeps it O(1)) */
	while (q->n && n < EVICT_BATCH &&
	       (q->n >= q->cap || q->bytes + size > q->max_bytes ||
	        now - q->ring[q->head].t > q->max_ns))
		out[n++] = q_pop(p);
	if (q->n < q->cap && q->bytes + size <= q->max_bytes) {
		q->ring[(q->head + q->n) % q->cap] = (struct fa__pool_qent){ o, c, now };
		q->n++;
		q->bytes += size;
		atomic_fetch_add_explicit(&p->cls[c].quarantined, 1, memory_order_relaxed);
		o = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	FA__POOL_ADD(tc->qfrees[c], 1);
	release(p, tc, out, n);
	if (o) {
		/* larger than the byte bound on its own: straight through */
		fa__pool_cache_push(p, tc, c, o, false);
	}
}

void fa__pool_quarantine_drain(struct fa_pool *p, struct fa__pool_tcache *tc, bool all)
{
	struct fa__pool_quarantine *q = &p->q;
	struct fa__pool_qent out[EVICT_BATCH];
	uint64_t now = fa__pool_now_ns();
	size_t n;

	do {
		n = 0;
		pthread_mutex_lock(&q->lock);
		while (q->n && n < EVICT_BATCH && (all || now - q->ring[q->head].t > q->max_ns))
			out[n++] = q_pop(p);
		pthread_mutex_unlock(&q->lock);
		release(p, tc, out, n);
	} while (n == EVICT_BATCH);
}
