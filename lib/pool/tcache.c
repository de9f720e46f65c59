// SPDX-License-Identifier: MIT
/*
 * Pool allocator core: size classes, slabs carved from backend regions,
 * lock-free shared per-class batch stacks, per-thread caches.
 *
 * Object flow: slab -> (carve, batches) -> class stack -> (refill, one CAS;
 * the batch stays attached and is copied 32 pointers per refill) ->
 * thread cache -> user -> (free, any thread) -> that thread's cache ->
 * (flush of a batch, one CAS) -> class stack.  A cross-thread free costs the
 * same as a local one; producer/consumer pairs move whole batches.
 *
 * Locks: reg_lock (TLS slots, thread exit, destroy, the pool list) before
 * trim_lock (pool_trim.c) before shared_lock before pool->lock (regions,
 * descriptor chunks, cache lists, large objects) before q.lock; snap_lock
 * is a leaf.  fork() takes them all in that order (pool after pool), so
 * the child finds every pool consistent.
 */
#define FA_POOL_NOINLINE
#include "pool/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* No cache: a bin both empty (alloc goes slow) and full (free goes slow);
 * every thread's bins start so, bin 0 stays so.  The slot is never
 * written, so it lives in read-only memory. */
static void *const nullslot[1];
#define NOCACHE_SLOT ((void **)&nullslot[1])
#define NOCACHE_BIN  ((struct fa__pool_bin){ .sp = NOCACHE_SLOT, .end = NOCACHE_SLOT })

__thread struct fa__pool_bin fa__pool_bins[FA__POOL_TLS_BINS] __attribute__((
        tls_model("initial-exec"))) = { [0 ... FA__POOL_TLS_BINS - 1] = NOCACHE_BIN };
static __thread struct fa__pool_tcache *tls_any[FA__POOL_SLOTS + 1]
        __attribute__((tls_model("initial-exec")));

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fa_pool *slots[FA__POOL_SLOTS];
/* reg_lock: which of fa__pool_bins a pool holds (bin 0 never) */
static struct fa_pool *bin_owner[FA__POOL_TLS_BINS];
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static struct fa_pool *all_pools; /* reg_lock */

static void thread_exit(void *arg);

static void exit_key_init(void)
{
	/* failure leaves caches to the pool (flushed at destroy) */
	if (pthread_key_create(&exit_key, thread_exit))
		exit_key = (pthread_key_t)-1;
}

uint64_t fa__pool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned fa_pool_max_pools(void)
{
	return FA__POOL_SLOTS;
}

/* ---- size classes ---- */

static size_t round_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

int32_t fa__pool_bin_off(unsigned i)
{
	return (int32_t)((char *)&fa__pool_bins[i] - fa__pool_tp());
}

/* The inline path's bin offset for class c: bin 0 (always out of line)
 * when the pool holds no bins. */
static int32_t bin_of(const struct fa_pool *p, unsigned c)
{
	return fa__pool_bin_off(p->tbin ? p->tbin + c : 0);
}

/* Class of a size (size <= the largest class). */
static unsigned class_of(const struct fa_pool *p, size_t size)
{
	return p->size_cls[(size + 7) >> 3];
}

static size_t max_size(const struct fa_pool *p)
{
	return p->obj_size ? p->obj_size : p->cls[p->nr_classes - 1].size;
}

static void setup_class(struct fa_pool *p, unsigned c, size_t size, const struct fa_pool_opts *o)
{
	struct fa__pool_class *k = &p->cls[c];
	size_t lim = 32768 / size;

	k->size = (uint32_t)size;
	k->stride = (uint32_t)round_up(size, p->align);
	if (lim < 8)
		lim = 8;
	if (lim > 512)
		lim = 512;
	k->limit = o && o->tcache_objs ? o->tcache_objs : (uint32_t)lim;
	k->batch = o && o->batch ? o->batch : (k->limit + 1) / 2;
	if (k->batch > k->limit)
		k->batch = k->limit;
	if (k->batch > 512)
		k->batch = 512;
}

static void setup_classes(struct fa_pool *p, const struct fa_pool_opts *o)
{
	unsigned n = 0;

	if (p->obj_size) {
		setup_class(p, 0, p->obj_size, o);
		n = 1;
	} else {
		for (size_t s = p->align; s <= FA_POOL_SMALL_MAX && n < FA_POOL_MAX_CLASSES;) {
			size_t step;

			setup_class(p, n++, s, o);
			if (p->flags & FA_POOL_FINE) {
				step = ((size_t)1 << (63 - __builtin_clzl(s))) / 4;
				if (step < p->align)
					step = p->align;
			} else {
				step = s;
			}
			s += step;
		}
	}
	p->nr_classes = n;
	/* thread cache layout: each class's stack follows its NULL sentinel */
	for (unsigned c = 0, off = 0; c < n; c++) {
		p->cls[c].arr_off = off;
		off += 1 + p->cls[c].limit;
		p->tcache_size = round_up(sizeof(struct fa__pool_tcache) + off * sizeof(void *),
		                          FA__CACHE_LINE);
		if (p->cls[c].batch > p->max_batch)
			p->max_batch = p->cls[c].batch;
	}
	p->bstride = round_up(sizeof(struct fa__pool_batch) + p->max_batch * sizeof(void *), 64);
	/* a size maps to the smallest class >= it (a fixed pool: class 0,
	 * for sizes in the last 8-byte step above obj_size as well) */
	for (unsigned i = 1, c = 0; i <= FA_POOL_SMALL_MAX / 8; i++) {
		size_t s = (size_t)i * 8;

		while (c + 1 < n && p->cls[c].size < s)
			c++;
		p->size_cls[i] = (uint8_t)c;
	}
}

/* The inline path's tables, once the pool holds its bins (or none). */
static void setup_inline(struct fa_pool *p)
{
	size_t max = max_size(p);

	for (unsigned i = 0; i <= FA_POOL_SMALL_MAX / 8; i++)
		p->head.binoff[i] =
		        i && (size_t)i * 8 <= max ? bin_of(p, p->size_cls[i]) : fa__pool_bin_off(0);
	/* pools with features keep every free out of line */
	p->head.fmask = p->slow ? 0 : FA__SLAB_MASK;
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

/* ---- batch descriptors and the lock-free stacks ---- */

static struct fa__pool_batch *bdesc(struct fa_pool *p, uint32_t i)
{
	char *ch = (char *)atomic_load_explicit(&p->bchunk[i / FA__BATCH_PER_CHUNK],
	                                        memory_order_acquire);

	return (struct fa__pool_batch *)(ch + (size_t)(i % FA__BATCH_PER_CHUNK) * p->bstride);
}

/* Treiber stack of descriptor indices; the 32-bit tag bumped on every
 * change makes a CAS fail after an A-B-A sequence (2^32 changes between
 * one thread's read and its CAS would be needed to fool it). */
static void stack_push(struct fa_pool *p, _Atomic uint64_t *top, uint32_t i)
{
	struct fa__pool_batch *d = bdesc(p, i);
	uint64_t old = atomic_load_explicit(top, memory_order_relaxed), nw;

	do {
		atomic_store_explicit(&d->next, (uint32_t)old, memory_order_relaxed);
		nw = (((old >> 32) + 1) << 32) | i;
	} while (!atomic_compare_exchange_weak_explicit(top, &old, nw, memory_order_release,
	                                                memory_order_relaxed));
}

static uint32_t stack_pop(struct fa_pool *p, _Atomic uint64_t *top)
{
	uint64_t old = atomic_load_explicit(top, memory_order_acquire), nw;

	do {
		uint32_t i = (uint32_t)old;

		if (!i)
			return 0;
		nw = (((old >> 32) + 1) << 32) |
		     atomic_load_explicit(&bdesc(p, i)->next, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(top, &old, nw, memory_order_acquire,
	                                                memory_order_acquire));
	return (uint32_t)old;
}

struct fa__pool_batch *fa__pool_bdesc(struct fa_pool *p, uint32_t i)
{
	return bdesc(p, i);
}

void fa__pool_stack_push(struct fa_pool *p, _Atomic uint64_t *top, uint32_t i)
{
	stack_push(p, top, i);
}

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

static uint32_t desc_get(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	struct fa__pool_batch *ch;
	uint32_t i;

	if (tc && tc->nstash)
		return tc->stash[--tc->nstash];
	i = stack_pop(p, &p->bfree);
	if (i)
		return i;
	pthread_mutex_lock(&p->lock);
	i = stack_pop(p, &p->bfree); /* someone may have added a chunk */
	if (!i && p->nr_bchunks < FA__BATCH_CHUNKS &&
	    (ch = calloc(FA__BATCH_PER_CHUNK, p->bstride))) {
		unsigned k = p->nr_bchunks++;

		atomic_store_explicit(&p->bchunk[k], ch, memory_order_release);
		/* index 0 means empty: chunk 0 starts at 1 */
		for (uint32_t j = k ? 1 : 2; j < FA__BATCH_PER_CHUNK; j++)
			stack_push(p, &p->bfree, k * FA__BATCH_PER_CHUNK + j);
		i = k * FA__BATCH_PER_CHUNK + (k ? 0 : 1);
	}
	pthread_mutex_unlock(&p->lock);
	return i;
}

static void desc_put(struct fa_pool *p, struct fa__pool_tcache *tc, uint32_t i)
{
	if (tc && tc->nstash < FA__STASH)
		tc->stash[tc->nstash++] = i;
	else
		stack_push(p, &p->bfree, i);
}

/* Publish n objects (n <= max_batch) on class c's shared list.  0, or
 * -ENOMEM: no descriptor memory, the objects went to the overflow list. */
static int shared_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **obj,
                       uint32_t n)
{
	uint32_t i = desc_get(p, tc);
	struct fa__pool_batch *d;

	if (fa__unlikely(!i)) {
		struct fa__pool_class *k = &p->cls[c];

		pthread_mutex_lock(&p->lock);
		for (uint32_t j = 0; j < n; j++) {
			*(void **)obj[j] = k->overflow;
			k->overflow = obj[j];
		}
		k->noverflow += n;
		pthread_mutex_unlock(&p->lock);
		atomic_fetch_add_explicit(&k->shared, n, memory_order_relaxed);
		return -ENOMEM;
	}
	d = bdesc(p, i);
	memcpy(d->obj, obj, n * sizeof(void *));
	d->n = n;
	atomic_fetch_add_explicit(&p->cls[c].shared, n, memory_order_relaxed);
	stack_push(p, &p->cls[c].top, i);
	return 0;
}

/* Take up to max objects of class c from the shared list (or the overflow
 * list) into out.  Returns how many. */
static uint32_t shared_pop(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **out,
                           uint32_t max)
{
	struct fa__pool_class *k = &p->cls[c];
	uint32_t i = stack_pop(p, &k->top), n = 0;

	if (i) {
		struct fa__pool_batch *d = bdesc(p, i);

		n = d->n; /* <= batch <= the caller's room */
		memcpy(out, d->obj, n * sizeof(void *));
		desc_put(p, tc, i);
	} else if (k->overflow) {
		pthread_mutex_lock(&p->lock);
		while (n < max && k->overflow) {
			void *o = k->overflow;

			k->overflow = *(void **)o;
			if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
				fa__pool_poison(o, sizeof(void *)); /* the link was ours */
			out[n++] = o;
		}
		k->noverflow -= n;
		pthread_mutex_unlock(&p->lock);
	}
	if (n)
		atomic_fetch_sub_explicit(&k->shared, n, memory_order_relaxed);
	return n;
}

static void hwm_update(struct fa__pool_class *k, uint64_t v)
{
	uint64_t h = atomic_load_explicit(&k->hwm, memory_order_relaxed);

	while (v > h && !atomic_compare_exchange_weak_explicit(&k->hwm, &h, v, memory_order_relaxed,
	                                                       memory_order_relaxed))
		;
}

/* ---- regions and slabs ---- */

static unsigned idle_evict(struct fa_pool *p, unsigned max_n, uint64_t max_b,
                           struct fa__pool_idle *out);
static void idle_release(struct fa_pool *p, struct fa__pool_idle *v, unsigned n);

static int region_add(struct fa_pool *p, size_t want)
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
		size = round_up(want, (size_t)2 << 20);
	if (p->max_bytes) {
		uint64_t used = atomic_load(&p->bytes_mapped);
		uint64_t idle = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed);

		/* idle large mappings give way to slabs (rare: unmapped under
		 * the lock) */
		if (used + want + FA__SLAB_SIZE > p->max_bytes && idle) {
			struct fa__pool_idle ev[FA__LARGE_CACHE_MAX];
			uint64_t over = used + want + FA__SLAB_SIZE - p->max_bytes;
			unsigned nev = idle_evict(p, FA__LARGE_CACHE_MAX,
			                          idle > over ? idle - over : 0, ev);

			idle_release(p, ev, nev);
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
	lo = (char *)round_up((uintptr_t)m->base, FA__SLAB_SIZE);
	hi = (char *)(((uintptr_t)m->base + m->size) & FA__SLAB_MASK);
	if (hi - lo < (ptrdiff_t)want) {
		fa__map_free(m);
		return -ENOMEM;
	}
	p->regions[r].used = 0;
	fa__pool_region_write(p, r, lo, hi);
	if (r == n)
		atomic_store_explicit(&p->nr_regions, n + 1, memory_order_release);
	p->bump_region = r;
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
	struct fa__pool_slab *s;
	int err;

	pthread_mutex_lock(&p->lock);
	s = fa__pool_slab_reuse(p); /* a slab fa_pool_trim freed, of any class */
	if (!s) {
		if (p->bump_end - p->bump < (ptrdiff_t)FA__SLAB_SIZE) {
			err = region_add(p, FA__SLAB_SIZE);
			if (err) {
				pthread_mutex_unlock(&p->lock);
				errno = -err;
				return NULL;
			}
		}
		s = (struct fa__pool_slab *)p->bump;
		p->bump += FA__SLAB_SIZE;
		p->regions[p->bump_region].used++;
	}
	s->binoff = bin_of(p, c);
	s->cls = c;
	s->pool = p;
	s->stride = k->stride;
	s->first = (char *)s + round_up(p->slab_hdr, p->align);
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
	s->magic = FA__SLAB_MAGIC;
	pthread_mutex_unlock(&p->lock);
	atomic_fetch_add_explicit(&k->slabs, 1, memory_order_relaxed);
	return s;
}

/*
 * Carve a new slab of class c: construct/poison its objects, put up to max
 * of them in out and publish the rest in batches.  Returns how many went to
 * out; 0 with errno if no slab could be had.
 */
static uint32_t carve(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **out,
                      uint32_t max)
{
	struct fa__pool_class *k = &p->cls[c];
	struct fa__pool_slab *s = slab_new(p, c);
	void *buf[512];
	uint32_t got = 0, n = 0;

	if (!s)
		return 0;
	for (char *o = s->first; o < s->end; o += k->stride) {
		if (p->once_hooks && p->ctor)
			p->ctor(o, k->size, p->hook_arg);
		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
			fa__pool_poison(o, k->size);
		if (got < max) {
			out[got++] = o;
			continue;
		}
		buf[n++] = o;
		if (n == k->batch) {
			shared_push(p, tc, c, buf, n);
			n = 0;
		}
	}
	if (n)
		shared_push(p, tc, c, buf, n);
	atomic_fetch_add_explicit(&k->carved, s->nobj, memory_order_relaxed);
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

			if (s->magic != FA__SLAB_MAGIC)
				continue;
			for (char *o = s->first; o < s->end; o += s->stride)
				fn(p, o, p->cls[s->cls].size);
		}
	}
}

/* ---- thread caches ---- */

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
	d = bdesc(p, i);
	__builtin_prefetch(d, 0, 3);
	for (uint32_t j = 0; j < FA__REFILL_CHUNK && j < k->batch; j += 64 / sizeof(void *))
		__builtin_prefetch(d->obj + k->batch - 1 - j, 0, 3);
}

/*
 * Fill the empty bin c: a chunk of the pending batch; else a batch from the
 * shared list, kept pending (one CAS, no copy of the batch); else the
 * overflow list or a new slab.  The chunk after the one copied is
 * prefetched, so the next refill finds its lines here.
 */
static void refill(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c)
{
	struct fa__pool_class *k = &p->cls[c];
	struct fa__pool_bin *b = &tc->bins[c];
	void **base = bin_base(p, tc, c);
	uint32_t n, i = tc->pend[c];

	if (!i) {
		i = stack_pop(p, &k->top);
		if (i) {
			n = bdesc(p, i)->n;
			atomic_fetch_sub_explicit(&k->shared, n, memory_order_relaxed);
			tc->pend[c] = i;
			FA__POOL_SET(tc->pend_n[c], n);
			FA__POOL_ADD(tc->taken[c], n);
			hwm_update(k,
			           atomic_load_explicit(&k->carved, memory_order_relaxed) -
			                   atomic_load_explicit(&k->shared, memory_order_relaxed));
		}
	}
	if (i) {
		struct fa__pool_batch *d = bdesc(p, i);
		uint32_t rem = tc->pend_n[c];

		n = rem < FA__REFILL_CHUNK ? rem : FA__REFILL_CHUNK;
		rem -= n;
		memcpy(base, d->obj + rem, n * sizeof(void *));
		FA__POOL_SET(tc->pend_n[c], rem);
		if (!rem) {
			tc->pend[c] = 0;
			desc_put(p, tc, i);
		} else {
			uint32_t m = rem < FA__REFILL_CHUNK ? rem : FA__REFILL_CHUNK;

			for (uint32_t j = 0; j < m; j += 64 / sizeof(void *))
				__builtin_prefetch(d->obj + rem - m + j, 0, 3);
			__builtin_prefetch(d->obj + rem - 1, 0, 3);
			if (m == rem) /* the next refill takes a batch: its lines too */
				prefetch_top(p, k);
		}
	} else {
		n = shared_pop(p, tc, c, base, k->batch);
		if (!n)
			n = carve(p, tc, c, base, k->batch);
		if (!n)
			return;
		FA__POOL_ADD(tc->taken[c], n);
		hwm_update(k, atomic_load_explicit(&k->carved, memory_order_relaxed) -
		                      atomic_load_explicit(&k->shared, memory_order_relaxed));
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
	shared_push(p, tc, c, base, n);
	memmove(base, base + n, (have - n) * sizeof(void *));
	FA__POOL_SET(b->sp, b->sp - n);
	FA__POOL_ADD(tc->given[c], n);
}

static void flush_all(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	for (unsigned c = 0; c < p->nr_classes; c++) {
		uint32_t i = tc->pend[c], n = tc->pend_n[c];

		if (!i)
			continue;
		/* the rest of the batch goes back as it is (n > 0: a batch
		 * leaves pend when its last chunk is taken) */
		tc->pend[c] = 0;
		FA__POOL_SET(tc->pend_n[c], 0);
		bdesc(p, i)->n = n;
		atomic_fetch_add_explicit(&p->cls[c].shared, n, memory_order_relaxed);
		stack_push(p, &p->cls[c].top, i);
		FA__POOL_ADD(tc->given[c], n);
	}
	for (unsigned c = 0; c < p->nr_classes; c++)
		while (tc->bins[c].sp != bin_base(p, tc, c))
			flush_bin(p, tc, c, p->cls[c].batch);
	while (tc->nstash)
		stack_push(p, &p->bfree, tc->stash[--tc->nstash]);
}

static struct fa__pool_tcache *tcache_new(struct fa_pool *p)
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

/*
 * The calling thread's cache of p, made on first use; NULL (ENOMEM) if none
 * can be made.  Pools without a TLS slot share one cache: *locked says the
 * caller holds shared_lock and must call fa__pool_tcache_put.
 */
struct fa__pool_tcache *fa__pool_tcache_get(struct fa_pool *p, bool *locked)
{
	unsigned s = p->tslot;
	struct fa__pool_tcache *tc;

	*locked = false;
	if (fa__unlikely(s >= FA__POOL_SLOTS)) {
		pthread_mutex_lock(&p->shared_lock);
		if (!p->shared_tc)
			p->shared_tc = tcache_new(p);
		if (!p->shared_tc) {
			pthread_mutex_unlock(&p->shared_lock);
			errno = ENOMEM;
			return NULL;
		}
		*locked = true;
		return p->shared_tc;
	}
	tc = tls_any[s];
	if (fa__likely(tc != NULL))
		return tc;
	pthread_once(&exit_once, exit_key_init);
	tc = tcache_new(p);
	if (!tc) {
		errno = ENOMEM;
		return NULL;
	}
	if (exit_key != (pthread_key_t)-1)
		pthread_setspecific(exit_key, &tls_any);
	pthread_mutex_lock(&p->lock);
	tc->slot_any = &tls_any[s];
	if (p->tbin) {
		/* the inline path's bins: this thread's, at the pool's range;
		 * the state (counters included) moves there from own[] */
		memcpy(&fa__pool_bins[p->tbin], tc->own, p->nr_classes * sizeof(tc->own[0]));
		tc->bins = &fa__pool_bins[p->tbin];
	}
	pthread_mutex_unlock(&p->lock);
	tls_any[s] = tc;
	return tc;
}

/* tc's bins move back to own[], counters and all (p->lock held); the
 * thread's range of fa__pool_bins is left as it was (fa__pool_postfork_child: the
 * owner is gone). */
static void bins_detach(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	if (tc->bins == tc->own)
		return;
	memcpy(tc->own, tc->bins, p->nr_classes * sizeof(tc->own[0]));
	tc->bins = tc->own;
}

/* The same, and the owner's range goes back to the no-cache state, so its
 * next call goes out of line (thread exit, by the owner; fa_pool_destroy,
 * by any thread; p->lock held). */
static void bins_reset(struct fa_pool *p, struct fa__pool_tcache *tc)
{
	struct fa__pool_bin *b = tc->bins;

	bins_detach(p, tc);
	for (unsigned c = 0; b != tc->own && c < p->nr_classes; c++)
		b[c] = NOCACHE_BIN;
}

void fa__pool_tcache_put(struct fa_pool *p, bool locked)
{
	if (locked)
		pthread_mutex_unlock(&p->shared_lock);
}

/* Thread exit: every cache of this thread goes back to its pool. */
static void thread_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reg_lock);
	for (unsigned s = 0; s < FA__POOL_SLOTS; s++) {
		struct fa__pool_tcache *tc = tls_any[s];
		struct fa_pool *p;

		if (!tc)
			continue;
		p = tc->pool;
		if (p->flags & FA_POOL_QUARANTINE)
			fa__pool_quarantine_drain(p, tc, false);
		flush_all(p, tc);
		tls_any[s] = NULL;
		pthread_mutex_lock(&p->lock);
		bins_reset(p, tc);
		tc->slot_any = NULL;
		tc->next_idle = p->idle;
		p->idle = tc;
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&reg_lock);
}

void fa__pool_cache_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o,
                         bool user)
{
	struct fa__pool_bin *b = &tc->bins[c];

	if (b->sp == b->end) {
		flush_bin(p, tc, c, p->cls[c].batch);
		if (b->sp == b->end) { /* nothing flushed: cannot happen (batch >= 1) */
			shared_push(p, tc, c, &o, 1);
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

/* ---- large objects ---- */

static size_t large_hdr(const struct fa_pool *p)
{
	return round_up(sizeof(struct fa__pool_large), p->align > 64 ? p->align : 64);
}

/* Bytes to map for a large request: room to put the header on a 64 KiB
 * boundary, rounded to a class (64 KiB steps below 2 MiB, 2 MiB steps
 * above) so that a freed mapping fits the requests that follow. */
static size_t large_need(const struct fa_pool *p, size_t size)
{
	size_t need = size + large_hdr(p) + FA__SLAB_SIZE;

	return round_up(need, need < FA_PAGE_2M ? FA__SLAB_SIZE : FA_PAGE_2M);
}

/* Can idle mapping e hold size bytes (class need) without much waste: at
 * most twice need, or what a fresh map of need would be rounded to? */
static bool idle_fits(const struct fa_pool *p, const struct fa__pool_idle *e, size_t size,
                      size_t need)
{
	size_t used = (size_t)((char *)e->l - (char *)e->map.base) + large_hdr(p) + size;
	size_t ps = e->map.page_size ? e->map.page_size : 4096;

	return used <= e->map.size &&
	       (e->map.size / 2 <= need || e->map.size <= round_up(need, ps));
}

static void idle_count(struct fa_pool *p, int64_t bytes)
{
	atomic_store_explicit(&p->idle_maps, p->nlcache, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->idle_bytes, (uint64_t)bytes, memory_order_relaxed);
}

/*
 * Take the oldest idle mappings off the cache (pool->lock held) until it
 * holds at most max_n of them and max_b bytes; they go to out, to be
 * unmapped by idle_release once the lock is dropped.
 */
static unsigned idle_evict(struct fa_pool *p, unsigned max_n, uint64_t max_b,
                           struct fa__pool_idle *out)
{
	uint64_t bytes = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed), freed = 0;
	unsigned k = 0;

	while (k < p->nlcache && (p->nlcache - k > max_n || bytes - freed > max_b)) {
		out[k] = p->lcache[k];
		freed += p->lcache[k].map.size;
		k++;
	}
	if (k) {
		memmove(p->lcache, p->lcache + k, (p->nlcache - k) * sizeof(p->lcache[0]));
		p->nlcache -= k;
		idle_count(p, -(int64_t)freed);
	}
	return k;
}

static void idle_release(struct fa_pool *p, struct fa__pool_idle *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		atomic_fetch_sub(&p->bytes_mapped, v[i].map.size);
		fa__map_free(&v[i].map);
	}
}

/* Unmap every idle large mapping. */
static void large_trim(struct fa_pool *p)
{
	struct fa__pool_idle ev[FA__LARGE_CACHE_MAX];
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = idle_evict(p, 0, 0, ev);
	pthread_mutex_unlock(&p->lock);
	idle_release(p, ev, n);
}

/* Make l live (pool->lock held). */
static void large_link(struct fa_pool *p, struct fa__pool_large *l)
{
	l->magic = FA__LARGE_MAGIC;
	l->prev = NULL;
	l->next = p->large;
	if (p->large)
		p->large->prev = l;
	p->large = l;
}

static void *large_alloc(struct fa_pool *p, size_t size)
{
	size_t hdr = large_hdr(p), need, maxb;
	struct fa__pool_idle ev[FA__LARGE_CACHE_MAX];
	struct fa__pool_large *l;
	struct fa__map m;
	unsigned nev = 0;
	int err, best = -1;

	if (size > ((size_t)1 << 46)) {
		errno = ENOMEM;
		return NULL;
	}
	need = large_need(p, size);
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nlcache; i++)
		if (idle_fits(p, &p->lcache[i], size, need) &&
		    (best < 0 || p->lcache[i].map.size < p->lcache[best].map.size))
			best = (int)i;
	if (best >= 0) {
		/* a cached mapping: its pages are mapped and faulted in */
		l = p->lcache[best].l;
		m = p->lcache[best].map;
		memmove(&p->lcache[best], &p->lcache[best + 1],
		        (p->nlcache - (unsigned)best - 1) * sizeof(p->lcache[0]));
		p->nlcache--;
		idle_count(p, -(int64_t)m.size);
		l->size = size;
		large_link(p, l);
		pthread_mutex_unlock(&p->lock);
		atomic_fetch_add_explicit(&p->large_hits, 1, memory_order_relaxed);
		atomic_fetch_add(&p->large_allocs, 1);
		atomic_fetch_add(&p->large_live, 1);
		atomic_fetch_add(&p->large_bytes, m.size);
		if (p->flags & FA_POOL_ZERO)
			memset(l->ptr, 0, size);
		return l->ptr;
	}
	maxb = p->max_bytes; /* NUMA balancing moves it, under the lock */
	if (maxb) {
		/* idle mappings give way to the new one */
		uint64_t mapped = atomic_load(&p->bytes_mapped);
		uint64_t idle = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed);

		if (mapped + need > maxb) {
			uint64_t over = mapped + need - maxb;

			nev = idle_evict(p, FA__LARGE_CACHE_MAX, idle > over ? idle - over : 0, ev);
		}
	}
	pthread_mutex_unlock(&p->lock);
	idle_release(p, ev, nev);
	if (maxb && atomic_load(&p->bytes_mapped) + need > maxb) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_fetch_add_explicit(&p->large_misses, 1, memory_order_relaxed);
	err = fa__map_alloc(&m, need, p->has_mem ? &p->mem : NULL);
	if (err) {
		errno = -err;
		return NULL;
	}
	l = (struct fa__pool_large *)round_up((uintptr_t)m.base, FA__SLAB_SIZE);
	l->binoff = fa__pool_bin_off(0);
	l->pool = p;
	l->ptr = (char *)l + hdr;
	l->size = size;
	l->map = m;
	pthread_mutex_lock(&p->lock);
	large_link(p, l);
	pthread_mutex_unlock(&p->lock);
	atomic_fetch_add(&p->bytes_mapped, m.size);
	atomic_fetch_add(&p->large_allocs, 1);
	atomic_fetch_add(&p->large_live, 1);
	atomic_fetch_add(&p->large_bytes, m.size);
	return l->ptr;
}

/* Keep l's mapping idle in the cache (oldest ones make room) or unmap it.
 * binoff stays 0, so a free of it still reaches here and finds it idle. */
static void large_free(struct fa_pool *p, struct fa__pool_large *l)
{
	struct fa__pool_idle ev[FA__LARGE_CACHE_MAX + 1];
	struct fa__map m;
	unsigned nev = 0;

	pthread_mutex_lock(&p->lock);
	if (l->magic != FA__LARGE_MAGIC) {
		pthread_mutex_unlock(&p->lock);
		fa__pool_reportf(p, FA_POOL_ERR_DOUBLE_FREE, l->ptr, 0, 0,
		                 "large object %p (%zu bytes) freed while free", l->ptr, l->size);
		return;
	}
	if (l->prev)
		l->prev->next = l->next;
	else
		p->large = l->next;
	if (l->next)
		l->next->prev = l->prev;
	m = l->map;
	if (m.size <= p->idle_max) {
		nev = idle_evict(p, FA__LARGE_CACHE_MAX - 1, p->idle_max - m.size, ev);
		l->magic = FA__LARGE_IDLE_MAGIC;
		l->prev = l->next = NULL;
		p->lcache[p->nlcache].l = l;
		p->lcache[p->nlcache].map = m;
		p->nlcache++;
		idle_count(p, (int64_t)m.size);
	} else {
		l->magic = 0;
		ev[nev].l = l;
		ev[nev++].map = m;
	}
	pthread_mutex_unlock(&p->lock);
	atomic_fetch_add(&p->large_frees, 1);
	atomic_fetch_sub(&p->large_live, 1);
	atomic_fetch_sub(&p->large_bytes, m.size);
	idle_release(p, ev, nev);
}

int fa__pool_idle_find(const struct fa_pool *p, const void *ptr)
{
	for (unsigned i = 0; i < p->nlcache; i++)
		if (p->lcache[i].l->ptr == ptr)
			return (int)i;
	return -1;
}

/* ---- alloc / free ---- */

void *fa__pool_alloc_slow(struct fa_pool *p, size_t size)
{
	struct fa__pool_tcache *tc;
	struct fa__pool_bin *b;
	bool locked;
	unsigned c;
	void *o;

	if (!p || !size) {
		errno = EINVAL;
		return NULL;
	}
	if (fa__unlikely(atomic_load_explicit(&p->snap_restart, memory_order_relaxed)))
		fa__pool_snap_resume(p);
	if (size > max_size(p)) {
		if (p->obj_size || (p->flags & FA_POOL_NO_LARGE)) {
			errno = E2BIG;
			return NULL;
		}
		return large_alloc(p, size);
	}
	c = class_of(p, size);
	tc = fa__pool_tcache_get(p, &locked);
	if (!tc)
		return NULL;
	b = &tc->bins[c];
	if (!b->sp[-1]) {
		refill(p, tc, c);
		if (!b->sp[-1]) {
			fa__pool_tcache_put(p, locked);
			return NULL; /* errno from the backend */
		}
	}
	o = b->sp[-1];
	FA__POOL_SET(b->sp, b->sp - 1);
	FA__POOL_ADD(b->req, size);
	if (p->flags & FA_POOL_SIZE_HIST)
		FA__POOL_ADD(tc->hist[63 - __builtin_clzl(size)], 1);
	fa__pool_tcache_put(p, locked);
	if (p->slow) {
		struct fa__pool_class *k = &p->cls[c];

		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
			fa__pool_verify(p, o, c, 0);
		if (p->flags & FA_POOL_DEBUG)
			fa__pool_mark_alloc(p, fa__pool_slab_of(o), o);
		if (p->flags & FA_POOL_ZERO)
			memset(o, 0, size);
		if ((p->flags & FA_POOL_CTOR_EVERY) && p->ctor)
			p->ctor(o, k->size, p->hook_arg);
	}
	return o;
}

static void free_object(struct fa_pool *p, void *ptr)
{
	struct fa__pool_slab *s;
	struct fa__pool_tcache *tc;
	bool locked, large = false;
	unsigned c;

	if (p->flags & FA_POOL_DEBUG) {
		s = fa__pool_check_ptr(p, ptr, &large);
		if (!s)
			return;
	} else {
		s = fa__pool_slab_of(ptr);
		large = s->magic != FA__SLAB_MAGIC;
	}
	if (large) {
		large_free(p, (struct fa__pool_large *)s);
		return;
	}
	c = s->cls;
	if ((p->flags & FA_POOL_DEBUG) && !fa__pool_mark_free(p, s, ptr))
		return;
	if ((p->flags & FA_POOL_CTOR_EVERY) && p->dtor)
		p->dtor(ptr, p->cls[c].size, p->hook_arg);
	tc = fa__pool_tcache_get(p, &locked);
	if (!tc) {
		/* no cache memory: straight to the shared list */
		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
			fa__pool_poison(ptr, p->cls[c].size);
		shared_push(p, NULL, c, &ptr, 1);
		return;
	}
	if (p->flags & FA_POOL_QUARANTINE) {
		fa__pool_quarantine_put(p, tc, c, ptr);
	} else {
		if (p->flags & FA_POOL_POISON)
			fa__pool_poison(ptr, p->cls[c].size);
		fa__pool_cache_push(p, tc, c, ptr, true);
	}
	fa__pool_tcache_put(p, locked);
}

/* The inline free found the bin full, or no cache, or a large object. */
void fa__pool_free_slow(struct fa_pool *p, void *ptr)
{
	if (!ptr)
		return;
	if (!p) {
		errno = EINVAL;
		return;
	}
	if (fa__unlikely(!((uintptr_t)ptr & FA__SLAB_MASK))) {
		/* below the first slab boundary: no header to read, not ours */
		fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, 0, 0, "%p is not from pool %s", ptr,
		                 p->name);
		return;
	}
	free_object(p, ptr);
}

void *fa_pool_alloc(struct fa_pool *p, size_t size)
{
	return fa__pool_alloc_inl(p, size);
}

void fa_pool_free(struct fa_pool *p, void *ptr)
{
	fa__pool_free_inl(p, ptr);
}

void fa_pool_free_sized(struct fa_pool *p, void *ptr, size_t size)
{
	fa__pool_free_sized_inl(p, ptr, size);
}

size_t fa_pool_usable_size(struct fa_pool *p, const void *ptr)
{
	struct fa__pool_slab *s;
	bool large = false;

	if (!p || !((uintptr_t)ptr & FA__SLAB_MASK)) /* NULL, or no header to read */
		return 0;
	if (p->flags & FA_POOL_DEBUG) {
		s = fa__pool_check_ptr(p, (void *)ptr, &large);
		if (!s)
			return 0;
	} else {
		s = fa__pool_slab_of(ptr);
		large = s->magic != FA__SLAB_MAGIC;
	}
	if (large)
		return ((struct fa__pool_large *)s)->size;
	return p->cls[s->cls].size;
}

int fa_pool_flush(struct fa_pool *p, int all)
{
	struct fa__pool_tcache *tc;
	bool locked;

	if (!p)
		return -EINVAL;
	fa__pool_snap_resume(p);
	tc = fa__pool_tcache_get(p, &locked);
	if (!tc)
		return -ENOMEM;
	if (p->flags & FA_POOL_QUARANTINE)
		fa__pool_quarantine_drain(p, tc, all != 0);
	flush_all(p, tc);
	fa__pool_tcache_put(p, locked);
	if (all)
		large_trim(p);
	return 0;
}

/* ---- fork ---- */

void fa__pool_prefork(void)
{
	pthread_mutex_lock(&reg_lock);
	for (struct fa_pool *p = all_pools; p; p = p->fork_next) {
		pthread_mutex_lock(&p->trim_lock);
		pthread_mutex_lock(&p->shared_lock);
		pthread_mutex_lock(&p->lock);
		pthread_mutex_lock(&p->q.lock);
		pthread_mutex_lock(&p->snap_lock);
	}
}

void fa__pool_postfork_parent(void)
{
	for (struct fa_pool *p = all_pools; p; p = p->fork_next) {
		pthread_mutex_unlock(&p->snap_lock);
		pthread_mutex_unlock(&p->q.lock);
		pthread_mutex_unlock(&p->lock);
		pthread_mutex_unlock(&p->shared_lock);
		pthread_mutex_unlock(&p->trim_lock);
	}
	pthread_mutex_unlock(&reg_lock);
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
		for (struct fa__pool_tcache *tc = p->all; tc; tc = tc->next_all) {
			if (tc->slot_any && tc->slot_any != &tls_any[p->tslot]) {
				/* the owner's TLS is still mapped here, a copy */
				tc->slot_any = NULL;
				bins_detach(p, tc);
			}
		}
		/* idle device mappings were not inherited (VM_DONTCOPY): their
		 * address range is free in the child, never to be unmapped */
		for (unsigned i = 0; i < p->nlcache;) {
			size_t sz = p->lcache[i].map.size;

			if (p->lcache[i].map.backend != FA_BACKEND_DEVICE) {
				i++;
				continue;
			}
			memmove(&p->lcache[i], &p->lcache[i + 1],
			        (p->nlcache - i - 1) * sizeof(p->lcache[0]));
			p->nlcache--;
			idle_count(p, -(int64_t)sz);
			atomic_fetch_sub(&p->bytes_mapped, sz);
		}
		pthread_mutex_init(&p->trim_lock, NULL);
		pthread_mutex_init(&p->shared_lock, NULL);
		pthread_mutex_init(&p->lock, NULL);
		pthread_mutex_init(&p->q.lock, NULL);
		fa__pool_snap_fork_child(p);
	}
	pthread_mutex_init(&reg_lock, NULL);
}

/* ---- create / destroy ---- */

#define VALID_FLAGS                                                                             \
	(FA_POOL_FINE | FA_POOL_NO_LARGE | FA_POOL_ZERO | FA_POOL_POISON | FA_POOL_QUARANTINE | \
	 FA_POOL_DEBUG | FA_POOL_CTOR_EVERY | FA_POOL_SIZE_HIST | FA_POOL_NO_LARGE_CACHE)

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
	if (o->reserve > ((size_t)1 << 46))
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
	large_trim(p);
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
	free(p->maps);
	free(p);
}

struct fa_pool *fa_pool_create(const struct fa_pool_opts *opts)
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
	p = aligned_alloc(FA__CACHE_LINE, round_up(sizeof(*p), FA__CACHE_LINE));
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
	p->flags = o->flags;
	p->align = o->align ? o->align : (o->obj_size && o->obj_size % 16 ? 8 : 16);
	p->obj_size = o->obj_size;
	p->ctor = o->ctor;
	p->dtor = o->dtor;
	p->hook_arg = o->hook_arg;
	p->once_hooks = (o->ctor || o->dtor) && !(o->flags & FA_POOL_CTOR_EVERY);
	p->slow = (o->flags & FA__POOL_SLOW_FLAGS) || p->once_hooks;
	p->report = o->report;
	p->report_arg = o->report_arg;
	snprintf(p->name, sizeof(p->name), "%s", o->name ? o->name : "pool");
	if (o->mem) {
		p->mem = *o->mem;
		p->has_mem = true;
	}
	p->max_bytes = o->max_bytes;
	if (!(o->flags & (FA_POOL_NO_LARGE | FA_POOL_NO_LARGE_CACHE)) && !o->obj_size)
		p->idle_max = o->large_cache_bytes ? o->large_cache_bytes : FA__LARGE_CACHE_DEFAULT;
	p->next_region = (size_t)2 << 20;
	setup_classes(p, o);
	p->slab_hdr = sizeof(struct fa__pool_slab);
	if (p->flags & FA_POOL_DEBUG) {
		size_t most = FA__SLAB_SIZE / p->cls[0].stride;

		p->slab_hdr += (most + 63) / 64 * sizeof(uint64_t);
	}

	err = fa__pool_quarantine_init(p, o);
	if (!err)
		err = fa__pool_snap_init(p, o);
	if (err)
		goto fail;
	if (o->reserve) {
		pthread_mutex_lock(&p->lock);
		err = region_add(p, round_up(o->reserve, FA__SLAB_SIZE));
		pthread_mutex_unlock(&p->lock);
		if (err)
			goto fail;
	}

	pthread_mutex_lock(&reg_lock);
	p->tslot = FA__POOL_SLOTS;
	for (unsigned s = 0; s < FA__POOL_SLOTS; s++) {
		if (!slots[s]) {
			slots[s] = p;
			p->tslot = s;
			break;
		}
	}
	bins_take(p);
	setup_inline(p);
	p->fork_next = all_pools;
	if (all_pools)
		all_pools->fork_prev = p;
	all_pools = p;
	pthread_mutex_unlock(&reg_lock);

	if (o->reserve) {
		/* carve the reserve now: no page faults when it is first used */
		for (unsigned c = 0; p->bump_end - p->bump >= (ptrdiff_t)FA__SLAB_SIZE;
		     c = (c + 1) % p->nr_classes) {
			uint64_t had = atomic_load_explicit(&p->cls[c].slabs, memory_order_relaxed);

			/* carve() counts what it hands out (none here), not slabs */
			carve(p, NULL, c, NULL, 0);
			if (atomic_load_explicit(&p->cls[c].slabs, memory_order_relaxed) == had)
				break;
		}
	}
	return p;
fail:
	pool_free_mem(p);
	errno = -err;
	return NULL;
}

void fa_pool_destroy(struct fa_pool *p)
{
	if (!p)
		return;
	fa__pool_snap_fini(p); /* stop the sampler first: it reads the caches */
	pthread_mutex_lock(&reg_lock);
	pthread_mutex_lock(&p->lock);
	for (struct fa__pool_tcache *tc = p->all; tc; tc = tc->next_all) {
		if (tc->slot_any)
			*tc->slot_any = NULL;
		bins_reset(p, tc);
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
	pthread_mutex_unlock(&reg_lock);
	if (p->once_hooks && p->dtor)
		fa__pool_each_object(p, run_dtor);
	pool_free_mem(p);
}

/* Every live pool, oldest first (for the statistics dump): a destroyed
 * pool leaves the list before its memory goes. */
void fa__pool_foreach(void (*fn)(struct fa_pool *, void *), void *arg)
{
	struct fa_pool *p;

	pthread_mutex_lock(&reg_lock);
	for (p = all_pools; p && p->fork_next; p = p->fork_next)
		;
	for (; p; p = p->fork_prev)
		fn(p, arg);
	pthread_mutex_unlock(&reg_lock);
}
