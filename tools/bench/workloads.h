/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workloads, written once and instantiated per allocator family so
 * that the allocator's alloc/free are direct calls the compiler sees (an
 * indirect call per operation would cost as much as a fast allocator).
 *
 * Before including, define:
 *   WL_FN(name)             name of the instantiated function (unique prefix)
 *   WL_ALLOC(ctx, size)     allocate; NULL on failure
 *   WL_FREE(ctx, ptr, size) release one object
 * No include guard: included once per family.  Workload 6 is wl_large.h,
 * included from here, which the arena family also instantiates alone.
 */

/* 1. alloc+free pair of one size: the thread-cache fast path. */
static int WL_FN(pair_loop)(void *ctx, size_t sz, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		char *p = WL_ALLOC(ctx, sz);

		if (!p)
			return -1;
		p[0] = (char)i;
		wl_escape(p);
		WL_FREE(ctx, p, sz);
	}
	return 0;
}

static int WL_FN(pair)(void *ctx, const struct wl_params *wp)
{
	static const size_t sizes[] = { 16, 64, 256, 4096 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t sz = sizes[s];
		uint64_t ops = wp->ops, t0, t1;
		char metric[32];

		/* warm-up, then the timed loop: no test of the clock in it */
		if (WL_FN(pair_loop)(ctx, sz, ops / 10 + 1))
			return wl_fail("pair", sz);
		t0 = bench_now_ns();
		if (WL_FN(pair_loop)(ctx, sz, ops))
			return wl_fail("pair", sz);
		t1 = bench_now_ns();
		snprintf(metric, sizeof(metric), "pair.%zu", sz);
		bench_emit(metric, "ns/op", (double)(t1 - t0) / (double)ops);
	}
	return 0;
}

/* 2. churn: a live set of 4096 objects of 16-256 B, replace one at random. */
static int WL_FN(churn)(void *ctx, const struct wl_params *wp)
{
	const size_t LIVE = wp->churn_live;
	struct wl_obj *obj = wl_buf(LIVE * sizeof(*obj));
	uint64_t rng = 0x9e3779b97f4a7c15ull, ops = wp->ops, warm = ops / 10 + 1, t0 = 0, t1;
	int ret = 0;

	if (!obj)
		return -1;
	for (size_t i = 0; i < LIVE; i++) {
		obj[i].size = wl_size(&rng, 16, 256);
		obj[i].p = WL_ALLOC(ctx, obj[i].size);
		if (!obj[i].p) {
			ret = wl_fail("churn", obj[i].size);
			goto out;
		}
	}
	for (uint64_t i = 0; i < warm + ops; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		uint64_t r = wl_rand(&rng);
		struct wl_obj *o = &obj[r & (LIVE - 1)];
		size_t sz = 16 + (size_t)((r >> 32) % 241);

		WL_FREE(ctx, o->p, o->size);
		o->p = WL_ALLOC(ctx, sz);
		if (!o->p) {
			ret = wl_fail("churn", sz);
			goto out;
		}
		o->size = sz;
		*(char *)o->p = (char)r;
	}
	t1 = bench_now_ns();
	bench_emit("churn", "ns/op", (double)(t1 - t0) / (double)ops);
out:
	for (size_t i = 0; i < LIVE; i++)
		if (obj[i].p)
			WL_FREE(ctx, obj[i].p, obj[i].size);
	wl_buf_free(obj, LIVE * sizeof(*obj));
	return ret;
}

/* 3. producer allocates, consumer thread frees, over an SPSC ring. */
static void *WL_FN(consumer)(void *arg)
{
	struct wl_pc *pc = arg;

	wl_pin(pc->consumer_cpu);
	for (;;) {
		void *p = wl_ring_pop(pc->ring);

		if (!p)
			break;
		(void)*(volatile uint64_t *)p; /* the consumer reads the message */
		WL_FREE(pc->ctx, p, pc->size);
	}
	return NULL;
}

/* Produce n messages; lat NULL: untimed (the warm-up and the throughput
 * pass), else each allocation timed on its own into lat[].  Inlined with a
 * constant lat, so the untimed loop has no clock and no branch for it. */
static inline __attribute__((always_inline)) int WL_FN(produce)(struct wl_pc *pc, uint64_t n,
                                                                uint32_t *lat)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t c0 = lat ? bench_tsc_start() : 0;
		uint64_t *p = WL_ALLOC(pc->ctx, pc->size);
		uint64_t c1 = lat ? bench_tsc_stop() : 0;

		if (!p)
			return wl_fail("prodcons", pc->size);
		if (lat)
			lat[i] = c1 - c0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(c1 - c0);
		*p = i;
		wl_ring_push(pc->ring, p);
	}
	return 0;
}

static int WL_FN(prodcons)(void *ctx, const struct wl_params *wp)
{
	struct wl_pc pc = { .ctx = ctx, .size = 64 };
	uint64_t msgs = wp->ops, warm = msgs / 10 + 1, t0, t1;
	uint32_t *lat;
	pthread_t th;
	int ret;

	lat = wl_buf(msgs * sizeof(*lat));
	pc.ring = wl_ring_new();
	if (!lat || !pc.ring)
		return -1;
	wl_pc_cpus(&pc);
	wl_pin(pc.producer_cpu);
	if (pthread_create(&th, NULL, WL_FN(consumer), &pc))
		wl_die("pthread_create");
	/* Warm both sides' caches with the same traffic before timing. */
	ret = WL_FN(produce)(&pc, warm, NULL);
	wl_ring_drain(pc.ring);
	/* Throughput first, with no clock in the loop: a fenced rdtsc pair per
	 * message (about 20 ns here) would be most of what is measured. */
	t0 = bench_now_ns();
	if (!ret)
		ret = WL_FN(produce)(&pc, msgs, NULL);
	wl_ring_drain(pc.ring);
	t1 = bench_now_ns();
	/* Then the same traffic again, each allocation timed on its own. */
	if (!ret)
		ret = WL_FN(produce)(&pc, msgs, lat);
	wl_ring_push(pc.ring, NULL);
	pthread_join(th, NULL);
	if (!ret) {
		bench_emit("prodcons", "ns/msg", (double)(t1 - t0) / (double)msgs);
		wl_emit_latency("prodcons", lat, msgs, wp->tsc_per_ns);
	}
	wl_ring_free(pc.ring);
	wl_buf_free(lat, msgs * sizeof(*lat));
	return ret;
}

/* 4. bulk: allocate a batch of 16-256 B objects, then release them all (the
 * arena family resets instead of freeing; see fa.c).  "bump" is 100k
 * objects a round (13 MB: memory-bound, as a real batch would be);
 * "bump.hot" is 1000 a round (cache-resident: the allocator's own cost). */
static int WL_FN(bump_batch)(void *ctx, const struct wl_params *wp, int batch, const char *metric)
{
	struct wl_obj *obj = wl_buf((size_t)batch * sizeof(*obj));
	uint64_t rng = 12345, rounds = wp->ops / (uint64_t)batch, t0 = 0, t1;
	const int BATCH = batch;

	if (!obj)
		return -1;
	if (!rounds)
		rounds = 1;
	for (uint64_t r = 0; r < rounds + 1; r++) {
		if (r == 1)
			t0 = bench_now_ns(); /* round 0 warms up */
		for (int i = 0; i < BATCH; i++) {
			size_t sz = wl_size(&rng, 16, 256);
			char *p = WL_ALLOC(ctx, sz);

			if (!p) {
				for (int k = 0; k < i; k++)
					WL_FREE(ctx, obj[k].p, obj[k].size);
				wl_buf_free(obj, (size_t)BATCH * sizeof(*obj));
				return wl_fail(metric, sz);
			}
			p[0] = (char)i;
			obj[i].p = p;
			obj[i].size = sz;
		}
		for (int i = 0; i < BATCH; i++)
			WL_FREE(ctx, obj[i].p, obj[i].size);
	}
	t1 = bench_now_ns();
	bench_emit(metric, "ns/obj", (double)(t1 - t0) / (double)(rounds * (uint64_t)BATCH));
	wl_buf_free(obj, (size_t)BATCH * sizeof(*obj));
	return 0;
}

static int WL_FN(bump)(void *ctx, const struct wl_params *wp)
{
	int ret = WL_FN(bump_batch)(ctx, wp, 100000, "bump");

	return ret ? ret : WL_FN(bump_batch)(ctx, wp, 1000, "bump.hot");
}

/* 5. larson-like server churn: each thread replaces random objects in a
 * table; after every round the tables rotate between threads, so most frees
 * hit memory another thread allocated. */
static void *WL_FN(larson_thread)(void *arg)
{
	struct wl_larson_thread *t = arg;
	struct wl_larson *l = t->l;
	uint64_t rng = 0x1234567ull * (uint64_t)(t->id + 1);

	wl_pin(t->cpu);
	for (int r = 0; r < l->rounds && !l->failed; r++) {
		struct wl_obj *obj = l->table[(t->id + r) % l->nthreads];

		pthread_barrier_wait(&l->barrier);
		for (uint64_t i = 0; i < l->ops_per_round; i++) {
			uint64_t x = wl_rand(&rng);
			struct wl_obj *o = &obj[x % WL_LARSON_SLOTS];
			size_t sz = 16 + (size_t)((x >> 32) % 497);

			WL_FREE(l->ctx, o->p, o->size);
			o->p = WL_ALLOC(l->ctx, sz);
			if (!o->p) {
				o->size = 0;
				l->failed = 1;
				break;
			}
			o->size = sz;
			*(char *)o->p = (char)x;
		}
	}
	return NULL;
}

/* Run a larson-like workload: fill each thread's table with objects of
 * size_of's sizes (seeded), start the threads on thread_fn, time them,
 * then free what is left.  Shared with mstress (wl_more.h). */
static int WL_FN(table_run)(void *ctx, const struct wl_params *wp, const char *name, uint64_t seed,
                            size_t (*size_of)(uint64_t *rng), void *(*thread_fn)(void *))
{
	struct wl_larson l = { .ctx = ctx };
	struct wl_larson_thread th[WL_LARSON_MAX_THREADS];
	uint64_t rng = seed, t0, t1;
	int ret = 0;

	wl_larson_init(&l, wp);
	for (int t = 0; t < l.nthreads; t++) {
		l.table[t] = wl_buf(WL_LARSON_SLOTS * sizeof(struct wl_obj));
		if (!l.table[t])
			return -1;
		for (int i = 0; i < WL_LARSON_SLOTS; i++) {
			struct wl_obj *o = &l.table[t][i];

			o->size = size_of(&rng);
			o->p = WL_ALLOC(ctx, o->size);
			if (!o->p)
				return wl_fail(name, o->size);
		}
	}
	t0 = bench_now_ns();
	for (int t = 0; t < l.nthreads; t++) {
		th[t] = (struct wl_larson_thread){ .l = &l, .id = t, .cpu = wl_cpu_for(t) };
		/* The others would wait at the barrier forever: give up the worker. */
		if (pthread_create(&th[t].tid, NULL, thread_fn, &th[t]))
			wl_die("pthread_create");
	}
	for (int t = 0; t < l.nthreads; t++)
		pthread_join(th[t].tid, NULL);
	t1 = bench_now_ns();
	if (l.failed)
		ret = wl_fail(name, 0);
	else
		bench_emit(name, "ns/op/thread",
		           (double)(t1 - t0) / (double)(l.ops_per_round * (uint64_t)l.rounds));
	for (int t = 0; t < l.nthreads; t++) {
		for (int i = 0; i < WL_LARSON_SLOTS; i++)
			if (l.table[t][i].p)
				WL_FREE(ctx, l.table[t][i].p, l.table[t][i].size);
		wl_buf_free(l.table[t], WL_LARSON_SLOTS * sizeof(struct wl_obj));
	}
	pthread_barrier_destroy(&l.barrier);
	return ret;
}

static size_t WL_FN(larson_size)(uint64_t *rng)
{
	return wl_size(rng, 16, 512);
}

static int WL_FN(larson)(void *ctx, const struct wl_params *wp)
{
	return WL_FN(table_run)(ctx, wp, "larson", 99, WL_FN(larson_size), WL_FN(larson_thread));
}

#include "wl_large.h"
#include "wl_more.h"

#undef WL_REALLOC

#undef WL_FN
#undef WL_ALLOC
#undef WL_FREE
