// SPDX-License-Identifier: MIT
/*
 * Pool trim: give idle slab memory back, off every hot path.
 *
 * carve() cuts a whole 64 KiB slab into objects of one class at once, so a
 * slab is idle exactly when all s->nobj of its objects sit on its class's
 * shared batch stack: none live, none in a thread cache or in the rest of a
 * batch a thread took (tc->pend), none in quarantine or on the overflow
 * list.  Trim takes a class's whole stack (one CAS; racing poppers see it
 * empty for that long and carve, racing pushers start a new stack), counts
 * the objects per slab in a hash table, drops the objects of idle slabs
 * from the batches and pushes the batches back in their order.  Idle slabs
 * become free slabs of the pool, taken by any class before the bump
 * (slab_new), and a region with no slab in use is unmapped: its slot is
 * emptied (the debug checker reads slots without the lock, through the
 * region seqlock) and reused by the next region.
 *
 * Locks: trim_lock (one trim at a time; fork waits for it) while the
 * classes are examined and the regions unmapped, pool->lock only to move
 * slabs and regions; in a debug pool check_lock (write) from the moving
 * to the last unmap, so that no check of a freed pointer reads a header
 * meanwhile.
 */
#define FA_POOL_NOINLINE
#include "pool/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDLE             UINT32_MAX /* a hash entry whose slab goes */
#define VALID_TRIM_FLAGS (FA_POOL_TRIM_FLUSH | FA_POOL_TRIM_KEEP)

struct slab_count {
	uintptr_t slab;
	uint32_t n;
};

struct table {
	struct slab_count *e;
	size_t mask, used;
	unsigned shift;
};

/* The entry of slab s, made if insert (NULL if the table is too full: that
 * slab is then never found idle). */
static struct slab_count *lookup(struct table *t, uintptr_t s, bool insert)
{
	size_t i = (size_t)(((uint64_t)(s >> 16) * 0x9e3779b97f4a7c15ull) >> t->shift);

	for (;; i = (i + 1) & t->mask) {
		struct slab_count *e = &t->e[i];

		if (e->slab == s)
			return e;
		if (!e->slab) {
			if (!insert || t->used >= t->mask / 4 * 3)
				return NULL;
			t->used++;
			e->slab = s;
			return e;
		}
	}
}

/* What one call collects: the slabs that go, from every class. */
struct trim {
	struct fa__pool_slab **slab;
	size_t n, cap;
	uint64_t objects;
};

static bool add_slab(struct trim *x, struct fa__pool_slab *s)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct fa__pool_slab **v = realloc(x->slab, cap * sizeof(*v));

		if (!v)
			return false;
		x->slab = v;
		x->cap = cap;
	}
	x->slab[x->n++] = s;
	return true;
}

/*
 * Take class c's idle slabs off its shared list into x.  -ENOMEM if the
 * table (then nothing is taken) or room for all of them cannot be had.
 */
static int trim_class(struct fa_pool *p, unsigned c, struct trim *x)
{
	struct fa__pool_class *k = &p->cls[c];
	uint64_t slabs = atomic_load_explicit(&k->slabs, memory_order_relaxed);
	uint64_t dropped = 0, nidle = 0, carved = 0;
	uint32_t head, keep = 0, next;
	struct table t = { 0 };
	unsigned bits = 6;
	int err = 0;

	if (!slabs || !atomic_load_explicit(&k->shared, memory_order_relaxed))
		return 0;
	/* twice the slabs (more may be carved meanwhile: the table refuses
	 * them beyond 3/4 full, and they stay) */
	while (((size_t)1 << bits) < 2 * slabs + 16)
		bits++;
	t.e = calloc((size_t)1 << bits, sizeof(*t.e));
	if (!t.e)
		return -ENOMEM;
	t.mask = ((size_t)1 << bits) - 1;
	t.shift = 64 - bits;

	head = fa__pool_stack_take(&k->top);
	/* count the objects per slab */
	for (uint32_t i = head; i;
	     i = atomic_load_explicit(&fa__pool_bdesc(p, i)->next, memory_order_relaxed)) {
		struct fa__pool_batch *d = fa__pool_bdesc(p, i);

		for (uint32_t j = 0; j < d->n; j++) {
			struct slab_count *e =
			        lookup(&t, (uintptr_t)fa__pool_slab_of(d->obj[j]), true);

			if (e)
				e->n++;
		}
	}
	/* every object of the slab is here: it goes */
	for (size_t i = 0; i <= t.mask; i++) {
		struct slab_count *e = &t.e[i];
		struct fa__pool_slab *s = (struct fa__pool_slab *)e->slab;

		if (!s || e->n != s->nobj)
			continue;
		if (!add_slab(x, s)) {
			err = -ENOMEM; /* no memory to hold more: the rest stay */
			break;
		}
		e->n = IDLE;
		nidle++;
		carved += s->nobj;
	}
	/* drop their objects from the batches; the rest go back in order */
	for (uint32_t i = head; i; i = next) {
		struct fa__pool_batch *d = fa__pool_bdesc(p, i);
		uint32_t w = 0;

		next = atomic_load_explicit(&d->next, memory_order_relaxed);
		for (uint32_t j = 0; j < d->n; j++) {
			struct slab_count *e =
			        nidle ? lookup(&t, (uintptr_t)fa__pool_slab_of(d->obj[j]), false)
			              : NULL;

			if (e && e->n == IDLE)
				continue;
			d->obj[w++] = d->obj[j];
		}
		dropped += d->n - w;
		d->n = w;
		if (!w) {
			fa__pool_stack_push(p, &p->bfree, i);
			continue;
		}
		/* chained in reverse, so the old top is pushed last */
		atomic_store_explicit(&d->next, keep, memory_order_relaxed);
		keep = i;
	}
	for (uint32_t i = keep; i; i = next) {
		next = atomic_load_explicit(&fa__pool_bdesc(p, i)->next, memory_order_relaxed);
		fa__pool_stack_push(p, &k->top, i);
	}
	free(t.e);
	if (nidle) {
		/* carved first: a reader between the two (fa__pool_out) then
		 * finds fewer objects out, never the dropped ones */
		atomic_fetch_sub_explicit(&k->carved, carved, memory_order_relaxed);
		atomic_fetch_sub_explicit(&k->shared, dropped, memory_order_relaxed);
		atomic_fetch_sub_explicit(&k->slabs, nidle, memory_order_relaxed);
		x->objects += carved;
	}
	return err;
}

/* The objects of a slab that goes: poison verified, destructed. */
static void retire(struct fa_pool *p, struct fa__pool_slab *s)
{
	size_t size = p->cls[s->cls].size;

	for (char *o = s->first; o < s->end; o += s->stride) {
		/* free objects: opened for the check and the destructor */
		fa__mc_defined(p->mc, o, size);
		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
			fa__pool_verify(p, o, s->cls, 0);
		if (p->once_hooks && p->dtor)
			p->dtor(o, size, p->hook_arg);
		fa__mc_noaccess(p->mc, o, size);
	}
}

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

/* First index of v[0..n) (sorted) at or above a. */
static size_t lower(struct fa__pool_slab **v, size_t n, const char *a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if ((const char *)v[m] < a)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/*
 * Make x's slabs free slabs and empty the regions left with none in use
 * (pool->lock held); their maps go to out for unmapping after the lock.
 */
static unsigned free_slabs(struct fa_pool *p, struct trim *x, bool keep_mapped, struct fa__map *out)
{
	unsigned nr = atomic_load_explicit(&p->nr_regions, memory_order_relaxed), nout = 0;
	bool gone[FA__POOL_MAX_REGIONS] = { false };
	uint64_t nfree = atomic_load_explicit(&p->nr_free_slabs, memory_order_relaxed);

	for (unsigned r = 0; r < nr; r++) {
		struct fa__pool_region *g = &p->regions[r];
		size_t a, b;

		if (!p->maps[r].base)
			continue;
		a = lower(x->slab, x->n, g->lo);
		b = lower(x->slab, x->n, g->hi);
		for (size_t i = a; i < b; i++) {
			struct fa__pool_free_slab *f = (struct fa__pool_free_slab *)x->slab[i];

			f->hdr.magic = FA__SLAB_FREE_MAGIC;
			f->hdr.binoff = fa__pool_bin_off(0);
			fa__pagemap_set(f, FA__SLAB_SIZE, fa__pagemap_entry(f, 0));
			f->region = r;
			f->next = p->free_slabs;
			p->free_slabs = f;
		}
		g->used -= (uint32_t)(b - a);
		nfree += b - a;
		if (g->used || keep_mapped)
			continue;
		gone[r] = true;
		if (r == p->bump_region) {
			p->bump = p->bump_end = NULL;
			p->bump_region = FA__REGION_NONE;
		}
		out[nout++] = p->maps[r];
		memset(&p->maps[r], 0, sizeof(p->maps[r]));
		fa__pool_region_write(p, r, NULL, NULL);
	}
	if (nout) {
		/* the free slabs of the emptied regions leave the list */
		for (struct fa__pool_free_slab **pp = &p->free_slabs; *pp;) {
			if (gone[(*pp)->region]) {
				*pp = (*pp)->next;
				nfree--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	atomic_store_explicit(&p->nr_free_slabs, nfree, memory_order_relaxed);
	return nout;
}

int fa_pool_trim(struct fa_pool *p, unsigned flags, struct fa_pool_trim_info *info)
{
	bool debug = p && (p->flags & FA__POOL_CHECKS);
	struct fa__map *maps = NULL;
	struct trim x = { 0 };
	uint64_t bytes = 0;
	unsigned nmaps = 0;
	int err = 0;

	if (info)
		memset(info, 0, sizeof(*info));
	if (!p || (flags & ~VALID_TRIM_FLAGS))
		return -EINVAL;
	if (flags & FA_POOL_TRIM_FLUSH) {
		err = fa_pool_flush(p, 0);
		if (err)
			return err;
	}
	if (!(flags & FA_POOL_TRIM_KEEP)) {
		maps = malloc(FA__POOL_MAX_REGIONS * sizeof(*maps));
		if (!maps)
			return -ENOMEM;
	}
	pthread_mutex_lock(&p->trim_lock);
	for (unsigned c = 0; c < p->nr_classes && !err; c++)
		err = trim_class(p, c, &x);
	for (size_t i = 0; i < x.n; i++)
		retire(p, x.slab[i]);
	if (x.n)
		qsort(x.slab, x.n, sizeof(*x.slab), cmp_addr);
	/* debug checks read the headers free_slabs rewrites and the regions
	 * unmapped next (fa__pool_check_ptr) */
	if (debug)
		fa__rwlock_wrlock(&p->check_lock);
	pthread_mutex_lock(&p->lock);
	nmaps = free_slabs(p, &x, !maps, maps);
	pthread_mutex_unlock(&p->lock);
	/* Unmapped and uncounted before trim_lock goes: fork takes it first
	 * (fa__pool_prefork), so a child never has a region out of p->maps
	 * but still mapped and counted in bytes_mapped.  pool->lock is not
	 * held meanwhile: the unmaps do not stall allocations. */
	for (unsigned i = 0; i < nmaps; i++) {
		bytes += maps[i].size;
		fa__map_free(&maps[i]);
		atomic_fetch_sub(&p->bytes_mapped, maps[i].size);
		atomic_fetch_sub(&p->bytes_slabs, maps[i].size);
	}
	if (debug)
		fa__rwlock_wrunlock(&p->check_lock);
	pthread_mutex_unlock(&p->trim_lock);
	atomic_fetch_add_explicit(&p->trim_slabs, x.n, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->trim_bytes, bytes, memory_order_relaxed);
	if (info) {
		info->slabs = x.n;
		info->objects = x.objects;
		info->regions = nmaps;
		info->bytes = bytes;
		info->free_slabs = atomic_load_explicit(&p->nr_free_slabs, memory_order_relaxed);
	}
	free(x.slab);
	free(maps);
	return err;
}

uint64_t fa__pool_trimmable(struct fa_pool *p)
{
	uint64_t bytes =
	        atomic_load_explicit(&p->nr_free_slabs, memory_order_relaxed) * FA__SLAB_SIZE;

	for (unsigned c = 0; c < p->nr_classes; c++)
		bytes += atomic_load_explicit(&p->cls[c].shared, memory_order_relaxed) *
		         p->cls[c].stride;
	return bytes;
}

void fa__pool_set_max_bytes(struct fa_pool *p, size_t max)
{
	pthread_mutex_lock(&p->lock);
	p->max_bytes = max;
	pthread_mutex_unlock(&p->lock);
}
