/* SPDX-License-Identifier: MIT */
/*
 * Workloads of the kinds the public allocator benchmarks measure, written
 * for this harness (none of those programs is copied): xmalloc-test's
 * threads that free what another allocated, cache-scratch's and
 * cache-thrash's false sharing, mstress/rptest's mixed sizes with realloc,
 * and glibc's malloc benchmark's random sizes.  malloc-large's kind is the
 * "large" workload (wl_large.h).  Uses WL_FN, WL_ALLOC, WL_FREE and, if the
 * family has one, WL_REALLOC; leaves them defined (the includer undefines
 * them).  No include guard: included once a family.
 */

#ifndef WL_REALLOC
/* No realloc in the family: a new object, the bytes copied, the old freed. */
#define WL_REALLOC(ctx, p, old, size) WL_FN(realloc_copy)(ctx, p, old, size)
static inline void *WL_FN(realloc_copy)(void *ctx, void *p, size_t old, size_t size)
{
	void *q = WL_ALLOC(ctx, size);

	if (q) {
		memcpy(q, p, old < size ? old : size);
		WL_FREE(ctx, p, old);
	}
	return q;
}
#endif

/* Threads of the multi-threaded workloads below. */
static int WL_FN(nthreads)(void)
{
	int n = bench_nr_cpus();

	return n < 2 ? 2 : n > WL_LARSON_MAX_THREADS ? WL_LARSON_MAX_THREADS : n;
}

/* 7. xmalloc-test kind: threads in a ring; each allocates a batch of
 * messages (16-128 B, the size in their first word), passes it to the
 * next thread and frees the batch the one before passed it: every free is
 * of another thread's memory, and every thread both allocates and frees.
 * A batch moves as one ring slot (its array goes round too), so the
 * hand-over costs little next to the allocations. */
#define WL_XM_BATCH 256

struct WL_FN(xm) {
	void *ctx;
	int nthreads;
	uint64_t batches;
	_Atomic int failed;
	pthread_barrier_t barrier;
	struct wl_ring *ring[WL_LARSON_MAX_THREADS];
	size_t **arr[WL_LARSON_MAX_THREADS]; /* each thread's first batch array */
};

struct WL_FN(xm_thread) {
	struct WL_FN(xm) * x;
	pthread_t tid;
	int id, cpu;
};

static void *WL_FN(xm_run)(void *arg)
{
	struct WL_FN(xm_thread) *t = arg;
	struct WL_FN(xm) *x = t->x;
	struct wl_ring *out = x->ring[t->id],
	               *in = x->ring[(t->id + x->nthreads - 1) % x->nthreads];
	uint64_t rng = 0x9e3779b9ull * (uint64_t)(t->id + 1);
	size_t **a = x->arr[t->id];

	wl_pin(t->cpu);
	pthread_barrier_wait(&x->barrier);
	for (uint64_t b = 0; b < x->batches; b++) {
		for (int i = 0; i < WL_XM_BATCH; i++) {
			size_t sz = wl_size(&rng, 16, 128);

			a[i] = WL_ALLOC(x->ctx, sz);
			if (a[i])
				*a[i] = sz;
			else
				x->failed = 1;
		}
		wl_ring_push(out, a);
		a = wl_ring_pop(in);
		for (int i = 0; i < WL_XM_BATCH; i++)
			if (a[i])
				WL_FREE(x->ctx, a[i], *a[i]);
	}
	return NULL;
}

static int WL_FN(xmalloc)(void *ctx, const struct wl_params *wp)
{
	struct WL_FN(xm) x = { .ctx = ctx, .nthreads = WL_FN(nthreads)() };
	struct WL_FN(xm_thread) th[WL_LARSON_MAX_THREADS];
	size_t asz = WL_XM_BATCH * sizeof(size_t *);
	uint64_t t0, t1;

	x.batches = wp->ops / WL_XM_BATCH / (uint64_t)x.nthreads + 1;
	for (int i = 0; i < x.nthreads; i++)
		if (!(x.ring[i] = wl_ring_new()) || !(x.arr[i] = wl_buf(asz)))
			return -1;
	pthread_barrier_init(&x.barrier, NULL, (unsigned)x.nthreads);
	t0 = bench_now_ns();
	for (int i = 0; i < x.nthreads; i++) {
		th[i] = (struct WL_FN(xm_thread)){ .x = &x, .id = i, .cpu = wl_cpu_for(i) };
		if (pthread_create(&th[i].tid, NULL, WL_FN(xm_run), &th[i]))
			wl_die("pthread_create");
	}
	for (int i = 0; i < x.nthreads; i++)
		pthread_join(th[i].tid, NULL);
	t1 = bench_now_ns();
	pthread_barrier_destroy(&x.barrier);
	/* the arrays went round the ring: each thread holds one at the end,
	 * the same set */
	for (int i = 0; i < x.nthreads; i++) {
		wl_ring_free(x.ring[i]);
		wl_buf_free(x.arr[i], asz);
	}
	if (x.failed)
		return wl_fail("xmalloc", 128);
	bench_emit("xmalloc", "ns/op/thread",
	           (double)(t1 - t0) / (double)(x.batches * WL_XM_BATCH));
	return 0;
}

/* 8-9. cache-scratch and cache-thrash kinds: each thread allocates a 16 B
 * object, writes it many times and frees it, over and over.  Scratch: each
 * thread first frees an object the main thread allocated next to the
 * others' (an allocator that hands it back to that thread shares its line
 * with them); thrash: no hand-over, the threads' own objects must not
 * share lines either. */
#define WL_CACHE_WRITES 64

struct WL_FN(cs) {
	void *ctx;
	uint64_t n;
	bool scratch;
	_Atomic int failed;
	pthread_barrier_t barrier;
	void *given[WL_LARSON_MAX_THREADS];
};

struct WL_FN(cs_thread) {
	struct WL_FN(cs) * c;
	pthread_t tid;
	int id, cpu;
};

static void *WL_FN(cs_run)(void *arg)
{
	struct WL_FN(cs_thread) *t = arg;
	struct WL_FN(cs) *c = t->c;

	wl_pin(t->cpu);
	pthread_barrier_wait(&c->barrier);
	if (c->scratch)
		WL_FREE(c->ctx, c->given[t->id], 16);
	for (uint64_t i = 0; i < c->n; i++) {
		volatile char *o = WL_ALLOC(c->ctx, 16);

		if (!o) {
			c->failed = 1;
			break;
		}
		for (int w = 0; w < WL_CACHE_WRITES; w++)
			o[w & 15]++;
		WL_FREE(c->ctx, (void *)o, 16);
	}
	return NULL;
}

static int WL_FN(cache_run)(void *ctx, const struct wl_params *wp, bool scratch)
{
	const char *name = scratch ? "cache-scratch" : "cache-thrash";
	struct WL_FN(cs) c = { .ctx = ctx, .scratch = scratch };
	struct WL_FN(cs_thread) th[WL_LARSON_MAX_THREADS];
	int nt = WL_FN(nthreads)();
	uint64_t t0, t1;

	c.n = wp->ops / (uint64_t)nt + 1;
	for (int i = 0; scratch && i < nt; i++)
		if (!(c.given[i] = WL_ALLOC(ctx, 16)))
			return wl_fail(name, 16);
	pthread_barrier_init(&c.barrier, NULL, (unsigned)nt);
	t0 = bench_now_ns();
	for (int i = 0; i < nt; i++) {
		th[i] = (struct WL_FN(cs_thread)){ .c = &c, .id = i, .cpu = wl_cpu_for(i) };
		if (pthread_create(&th[i].tid, NULL, WL_FN(cs_run), &th[i]))
			wl_die("pthread_create");
	}
	for (int i = 0; i < nt; i++)
		pthread_join(th[i].tid, NULL);
	t1 = bench_now_ns();
	pthread_barrier_destroy(&c.barrier);
	if (c.failed)
		return wl_fail(name, 16);
	bench_emit(name, "ns/op/thread", (double)(t1 - t0) / (double)c.n);
	return 0;
}

static int WL_FN(cache_scratch)(void *ctx, const struct wl_params *wp)
{
	return WL_FN(cache_run)(ctx, wp, true);
}

static int WL_FN(cache_thrash)(void *ctx, const struct wl_params *wp)
{
	return WL_FN(cache_run)(ctx, wp, false);
}

/* A size from 8 B to 64 KiB, about as many of each power of two (small
 * ones dominate the count, large ones the bytes). */
static inline size_t WL_FN(mixed_size)(uint64_t x)
{
	size_t max = (size_t)16 << ((x >> 20) % 13);

	return 8 + (size_t)((x >> 32) % max);
}

/* 10. mstress/rptest kind: each thread replaces or reallocs (one in four)
 * random objects of mixed sizes in a table, touching both ends; the tables
 * rotate between threads every round, as in larson. */
static void *WL_FN(mstress_thread)(void *arg)
{
	struct wl_larson_thread *t = arg;
	struct wl_larson *l = t->l;
	uint64_t rng = 0x5bd1e995ull * (uint64_t)(t->id + 1);

	wl_pin(t->cpu);
	for (int r = 0; r < l->rounds && !l->failed; r++) {
		struct wl_obj *obj = l->table[(t->id + r) % l->nthreads];

		pthread_barrier_wait(&l->barrier);
		for (uint64_t i = 0; i < l->ops_per_round; i++) {
			uint64_t x = wl_rand(&rng);
			struct wl_obj *o = &obj[x % WL_LARSON_SLOTS];
			size_t sz = WL_FN(mixed_size)(x);
			char *p;

			if ((x >> 8) % 4 == 0) {
				p = WL_REALLOC(l->ctx, o->p, o->size, sz);
			} else {
				WL_FREE(l->ctx, o->p, o->size);
				p = WL_ALLOC(l->ctx, sz);
			}
			if (!p) {
				/* realloc kept the old one; a failed alloc has none */
				if ((x >> 8) % 4 != 0)
					o->p = NULL, o->size = 0;
				l->failed = 1;
				break;
			}
			p[0] = p[sz - 1] = (char)x;
			o->p = p;
			o->size = sz;
		}
	}
	return NULL;
}

static size_t WL_FN(mstress_size)(uint64_t *rng)
{
	return WL_FN(mixed_size)(wl_rand(rng));
}

static int WL_FN(mstress)(void *ctx, const struct wl_params *wp)
{
	return WL_FN(table_run)(ctx, wp, "mstress", 4242, WL_FN(mstress_size),
	                        WL_FN(mstress_thread));
}

/* 11. glibc malloc benchmark kind: one thread, a working set of 4096
 * objects, each step frees a random one and allocates a size drawn with a
 * density falling as 1/size (16 B to 32 KiB), first byte written. */
#define WL_RAND_SLOTS 4096

static int WL_FN(randsize)(void *ctx, const struct wl_params *wp)
{
	struct wl_obj *obj = wl_buf(WL_RAND_SLOTS * sizeof(*obj));
	uint64_t rng = 31337, warm = wp->ops / 10 + 1, t0 = 0, t1;
	int ret = 0;

	if (!obj)
		return -1;
	for (uint64_t i = 0; i < warm + wp->ops; i++) {
		uint64_t x = wl_rand(&rng);
		struct wl_obj *o = &obj[x % WL_RAND_SLOTS];
		/* log-uniform: a power of two, then uniform within it */
		size_t lo = (size_t)16 << ((x >> 16) % 11), sz = lo + (size_t)((x >> 32) % lo);
		char *p;

		if (i == warm)
			t0 = bench_now_ns();
		if (o->p)
			WL_FREE(ctx, o->p, o->size);
		p = WL_ALLOC(ctx, sz);
		if (!p) {
			o->p = NULL;
			ret = wl_fail("randsize", sz);
			break;
		}
		p[0] = (char)x;
		o->p = p;
		o->size = sz;
	}
	t1 = bench_now_ns();
	if (!ret)
		bench_emit("randsize", "ns/op", (double)(t1 - t0) / (double)wp->ops);
	for (int i = 0; i < WL_RAND_SLOTS; i++)
		if (obj[i].p)
			WL_FREE(ctx, obj[i].p, obj[i].size);
	wl_buf_free(obj, WL_RAND_SLOTS * sizeof(*obj));
	return ret;
}
