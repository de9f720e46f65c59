// SPDX-License-Identifier: MIT
/*
 * Pool regions and slabs: the backend maps regions (2 MiB and growing),
 * cut into 64 KiB slabs by a bump, or reused from the free slabs
 * fa_pool_trim left; a new slab of a class is carved into objects at
 * once, handed out and published on the class's shared list in batches.
 */
#include "pool/pool.h"

#include <errno.h>
#include <string.h>

/* A free slab for slab_new (pool->lock held), its debug bitmap cleared
 * and its region counted as using it; NULL if there is none. */
static struct fa__pool_slab *slab_reuse(struct fa_pool *p)
{
	struct fa__pool_free_slab *f = p->free_slabs;
	uint64_t nfree;

	if (!f)
		return NULL;
	p->free_slabs = f->next;
	p->regions[f->region].used++;
	nfree = atomic_load_explicit(&p->nr_free_slabs, memory_order_relaxed);
	atomic_store_explicit(&p->nr_free_slabs, nfree - 1, memory_order_relaxed);
	/* the debug bitmap (and the list link over it) starts all free */
	if (p->slab_hdr > sizeof(struct fa__pool_slab))
		memset((char *)f + sizeof(struct fa__pool_slab), 0,
		       p->slab_hdr - sizeof(struct fa__pool_slab));
	return (struct fa__pool_slab *)f;
}

int fa__pool_region_add(struct fa_pool *p, size_t want)
{
	unsigned n = atomic_load_explicit(&p->nr_regions, memory_order_relaxed), r;
	size_t size = p->next_region;
	struct fa__map *m;
	char *lo, *hi;
	int err;

	/* a slot fa_pool_trim emptied, else the next one */
	for (r = 0; r < n && p->maps[r].base; r++)
		;
	if (r >= FA__POOL_MAX_REGIONS)
		return -ENOMEM;
	if (size < want)
		size = fa__pool_round_up(want, (size_t)2 << 20);
	if (p->max_bytes) {
		uint64_t used = atomic_load(&p->bytes_mapped);
		uint64_t idle = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed);

		/* idle large mappings give way to slabs (rare: unmapped under
		 * the lock) */
		if (used + want + FA__SLAB_SIZE > p->max_bytes && idle) {
			struct fa__pool_idle ev[FA__LARGE_CACHE_MAX];
			uint64_t over = used + want + FA__SLAB_SIZE - p->max_bytes;
			unsigned nev = fa__pool_idle_evict(p, FA__LARGE_CACHE_MAX,
			                                   idle > over ? idle - over : 0, ev);

			fa__pool_idle_release(p, ev, nev);
			used = atomic_load(&p->bytes_mapped);
		}
		if (used + size > p->max_bytes)
			size = p->max_bytes > used ? p->max_bytes - used : 0;
		if (size < want + FA__SLAB_SIZE)
			return -ENOMEM;
	}
	m = &p->maps[r];
	err = fa__map_alloc(m, size, p->has_mem ? &p->mem : NULL);
	if (err)
		return err;
	lo = (char *)fa__pool_round_up((uintptr_t)m->base, FA__SLAB_SIZE);
	hi = (char *)(((uintptr_t)m->base + m->size) & FA__SLAB_MASK);
	/* the owner map's leaves for the region, so that carving a slab
	 * never fails on them */
	if (hi - lo < (ptrdiff_t)want || fa__pagemap_set(lo, (size_t)(hi - lo), 0)) {
		fa__map_free(m);
		return -ENOMEM;
	}
	p->regions[r].used = 0;
	fa__pool_region_write(p, r, lo, hi);
	if (r == n)
		atomic_store_explicit(&p->nr_regions, n + 1, memory_order_release);
	p->bump_region = r;
	/* slabs are carved out of it: nothing is accessible until then */
	fa__mc_noaccess(p->mc, m->base, m->size);
	atomic_fetch_add(&p->bytes_mapped, m->size);
	atomic_fetch_add(&p->bytes_slabs, m->size);
	p->bump = lo;
	p->bump_end = hi;
	if (p->next_region < ((size_t)64 << 20))
		p->next_region *= 2;
	return 0;
}

/* A fresh slab for class c with its header written, or NULL (errno). */
static struct fa__pool_slab *slab_new(struct fa_pool *p, unsigned c)
{
	struct fa__pool_class *k = &p->cls[c];
	/* a debug check may be reading a free slab's header: reuse one (a new
	 * header, the bitmap cleared) only under check_lock, and take that
	 * only when there may be one */
	bool reuse = !(p->flags & FA__POOL_CHECKS) ||
	             atomic_load_explicit(&p->nr_free_slabs, memory_order_relaxed);
	bool check = reuse && (p->flags & FA__POOL_CHECKS);
	struct fa__pool_slab *s;
	int err;

	if (check)
		fa__rwlock_wrlock(&p->check_lock);
	pthread_mutex_lock(&p->lock);
	s = reuse ? slab_reuse(p) : NULL; /* a slab fa_pool_trim freed, of any class */
	if (!s) {
		if (p->bump_end - p->bump < (ptrdiff_t)FA__SLAB_SIZE) {
			err = fa__pool_region_add(p, FA__SLAB_SIZE);
			if (err) {
				pthread_mutex_unlock(&p->lock);
				if (check)
					fa__rwlock_wrunlock(&p->check_lock);
				errno = -err;
				return NULL;
			}
		}
		s = (struct fa__pool_slab *)p->bump;
		p->bump += FA__SLAB_SIZE;
		p->regions[p->bump_region].used++;
		/* fresh zero pages: the header and its bitmap */
		fa__mc_defined(p->mc, s, p->slab_hdr);
	}
	s->hdr.binoff = fa__pool_bin_of(p, c);
	s->cls = c;
	s->hdr.pool = p;
	s->stride = k->stride;
	s->divc = UINT64_MAX / k->stride + 1;
	s->first = (char *)s + fa__pool_round_up(p->slab_hdr, p->align);
	s->nobj = (uint32_t)(((char *)s + FA__SLAB_SIZE - s->first) / k->stride);
	{
		/* Colour: the slab's objects start 0, 64, 128, ... bytes later
		 * than the last slab's, in the room the stride leaves at the
		 * end.  Power-of-two strides would otherwise put every
		 * object's first line of every slab in the same few cache sets
		 * (256 B: a quarter of them). */
		size_t step = p->align > 64 ? p->align : 64;
		size_t room = (size_t)((char *)s + FA__SLAB_SIZE - s->first) -
		              (size_t)s->nobj * k->stride;

		s->first += (k->color++ % (room / step + 1)) * step;
	}
	s->end = s->first + (size_t)s->nobj * k->stride;
	s->hdr.magic = FA__SLAB_MAGIC;
	/* cannot fail: fa__pool_region_add made the leaves */
	fa__pagemap_set(s, FA__SLAB_SIZE, fa__pagemap_entry(s, fa__pool_inline_binoff(p, c)));
	pthread_mutex_unlock(&p->lock);
	if (check)
		fa__rwlock_wrunlock(&p->check_lock);
	atomic_fetch_add_explicit(&k->slabs, 1, memory_order_relaxed);
	return s;
}

/* A batch of a new slab onto the shared list, counted as carved first
 * (shared_push adds to shared with release; fa__pool_out reads shared with
 * acquire, then carved), so no reader finds it shared and not carved. */
static void publish(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **obj,
                    uint32_t n)
{
	atomic_fetch_add_explicit(&p->cls[c].carved, n, memory_order_relaxed);
	fa__pool_shared_push(p, tc, c, obj, n);
}

uint32_t fa__pool_carve(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **out,
                        uint32_t max)
{
	struct fa__pool_class *k = &p->cls[c];
	struct fa__pool_slab *s = slab_new(p, c);
	void *buf[512];
	uint32_t got = 0, n = 0;

	if (!s)
		return 0;
	/* the library writes the objects (hooks, poison); the slack around
	 * them stays inaccessible from fa__pool_region_add */
	fa__mc_undefined(p->mc, s->first, (size_t)(s->end - s->first));
	for (char *o = s->first; o < s->end; o += k->stride) {
		if (p->once_hooks && p->ctor)
			p->ctor(o, k->size, p->hook_arg);
		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
			fa__pool_poison(o, k->size);
		/* free before it can be published */
		fa__mc_noaccess(p->mc, o, k->stride);
		if (got < max) {
			out[got++] = o;
			continue;
		}
		buf[n++] = o;
		if (n == k->batch) {
			publish(p, tc, c, buf, n);
			n = 0;
		}
	}
	if (n)
		publish(p, tc, c, buf, n);
	/* the objects handed out, counted once the rest is published */
	atomic_fetch_add_explicit(&k->carved, got, memory_order_relaxed);
	return got;
}

void fa__pool_each_object(struct fa_pool *p, void (*fn)(struct fa_pool *, void *, size_t))
{
	unsigned n = atomic_load(&p->nr_regions);

	for (unsigned r = 0; r < n; r++) {
		char *end = r == p->bump_region ? p->bump : p->regions[r].hi;

		if (!p->maps[r].base)
			continue; /* emptied by fa_pool_trim */
		for (char *a = p->regions[r].lo; a < end; a += FA__SLAB_SIZE) {
			struct fa__pool_slab *s = (struct fa__pool_slab *)a;

			if (s->hdr.magic != FA__SLAB_MAGIC)
				continue;
			for (char *o = s->first; o < s->end; o += s->stride)
				fn(p, o, p->cls[s->cls].size);
		}
	}
}
