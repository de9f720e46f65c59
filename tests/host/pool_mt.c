// SPDX-License-Identifier: MIT
/*
 * Pool allocator under threads (also run under TSan): producer/consumer
 * cross-thread frees, churn over many short-lived threads, thread exit with
 * full caches or a batch taken in part, ABA stress on the shared lists,
 * destroy while threads still hold caches, the periodic sampler, stats read
 * while threads allocate, the large cache shared by threads, the
 * high-water mark while fresh slabs are published.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "slow_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* TSan runs are ~10x slower: scale the loops down. */
static long scaled(long n)
{
	return getenv("FA_TSAN") ? n / 10 : n;
}

static void expect_quiescent(struct __test_metadata *_metadata, struct fa_pool *p, uint64_t allocs)
{
	struct fa_pool_stats st;

	ASSERT_EQ(0, fa_pool_flush(p, 1)); /* this thread's caches too */
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(allocs, st.allocs);
	EXPECT_EQ(allocs, st.frees);
	EXPECT_EQ(0, st.live);
	for (unsigned c = 0; c < st.nr_classes; c++) {
		EXPECT_EQ(0, st.cls[c].cached);
		/* nothing lost or duplicated: every carved object is back */
		EXPECT_EQ(st.cls[c].carved, st.cls[c].shared);
	}
}

/* ---- producer / consumer ---- */

#define RING 1024

struct ring {
	_Atomic uint64_t head, tail;
	void *slot[RING];
	struct fa_pool *p;
	long n;
	size_t size;
	int bad;
	_Atomic int done; /* threads returned */
};

struct msg {
	uint64_t seq;
	uint64_t check;
};

static void *producer(void *arg)
{
	struct ring *r = arg;

	for (long i = 0; i < r->n; i++) {
		size_t size = r->size ? r->size : 16 + (size_t)(i * 37) % 240;
		struct msg *m = fa_pool_alloc(r->p, size);
		uint64_t h;

		if (!m) {
			r->bad++;
			continue;
		}
		m->seq = (uint64_t)i;
		m->check = ~(uint64_t)i;
		while ((h = atomic_load_explicit(&r->head, memory_order_relaxed)) -
		               atomic_load_explicit(&r->tail, memory_order_acquire) ==
		       RING)
			;
		r->slot[h % RING] = m;
		atomic_store_explicit(&r->head, h + 1, memory_order_release);
	}
	atomic_fetch_add(&r->done, 1);
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;
	long got = 0;

	while (got < r->n - r->bad) {
		uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
		struct msg *m;

		if (atomic_load_explicit(&r->head, memory_order_acquire) == t)
			continue;
		m = r->slot[t % RING];
		atomic_store_explicit(&r->tail, t + 1, memory_order_release);
		if (m->seq != (uint64_t)got || m->check != ~(uint64_t)got)
			r->bad++;
		fa_pool_free(r->p, m);
		got++;
	}
	atomic_fetch_add(&r->done, 1);
	return NULL;
}

FIXTURE(pc)
{
	struct fa_pool *p;
};

FIXTURE_VARIANT(pc)
{
	size_t obj_size; /* 0: size classes, mixed sizes */
	unsigned flags;
};

FIXTURE_VARIANT_ADD(pc, classes){ .obj_size = 0 };
FIXTURE_VARIANT_ADD(pc, fixed){ .obj_size = 64 };
FIXTURE_VARIANT_ADD(pc, debug_poison){ .obj_size = 0, .flags = FA_POOL_DEBUG | FA_POOL_POISON };

FIXTURE_SETUP(pc)
{
	struct fa_pool_opts o = { .obj_size = variant->obj_size, .flags = variant->flags };

	self->p = fa_pool_create(&o);
	ASSERT_NE(NULL, self->p);
}

FIXTURE_TEARDOWN(pc)
{
	fa_pool_destroy(self->p);
}

/* Two spinning threads on a loaded host under the VM's TCG can take
 * minutes; a stall of STALL_S with no message moving is a deadlock. */
#define STALL_S 60

TEST_F_TIMEOUT(pc, producer_allocates_consumer_frees, 600)
{
	struct ring *r = calloc(1, sizeof(*r));
	struct timespec t0, t1, nap = { 0, 100 * 1000 * 1000 };
	uint64_t last = 0;
	int still = 0;
	pthread_t a, b;
	double ns;

	ASSERT_NE(NULL, r);
	r->p = self->p;
	r->n = scaled(2000000);
	r->size = variant->obj_size;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, pthread_create(&b, NULL, consumer, r));
	ASSERT_EQ(0, pthread_create(&a, NULL, producer, r));
	while (atomic_load(&r->done) < 2) {
		uint64_t t = atomic_load(&r->tail);

		nanosleep(&nap, NULL);
		still = t == last ? still + 1 : 0;
		last = t;
		ASSERT_LT(still, STALL_S * 10)
		TH_LOG("deadlock: no message moved for %d s (%llu of %ld consumed, head %llu)",
		       STALL_S, (unsigned long long)t, r->n,
		       (unsigned long long)atomic_load(&r->head));
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	TH_LOG("%ld messages, %.1f ns/message (2 threads on %ld cpus)", r->n, ns / (double)r->n,
	       sysconf(_SC_NPROCESSORS_ONLN));
	EXPECT_EQ(0, r->bad);
	expect_quiescent(_metadata, self->p, (uint64_t)r->n);
	free(r);
}

/* ---- churn over short-lived threads ---- */

#define KEEP 32

struct churn {
	struct fa_pool *p;
	long iters;
	unsigned seed;
	void *kept[KEEP]; /* left live at exit, freed by the main thread */
	int bad;
};

static void *churner(void *arg)
{
	struct churn *c = arg;
	void *live[64] = { 0 };
	unsigned x = c->seed;

	for (long i = 0; i < c->iters; i++) {
		unsigned k;
		size_t size;

		x = x * 1103515245 + 12345;
		k = (x >> 16) % 64;
		size = 16 + (x >> 8) % 1000;
		if (live[k]) {
			if (*(uint32_t *)live[k] != (uint32_t)(uintptr_t)live[k])
				c->bad++;
			fa_pool_free(c->p, live[k]);
		}
		live[k] = fa_pool_alloc(c->p, size);
		if (!live[k]) {
			c->bad++;
			continue;
		}
		*(uint32_t *)live[k] = (uint32_t)(uintptr_t)live[k];
	}
	for (int k = 0; k < 64; k++) {
		if (k < KEEP)
			c->kept[k] = live[k];
		else
			fa_pool_free(c->p, live[k]);
	}
	return NULL; /* exits with its cache full */
}

TEST(churn_many_short_lived_threads)
{
	struct fa_pool *p = fa_pool_create(NULL);
	struct churn c[4];
	struct fa_pool_stats st;
	long rounds = scaled(100), per = 2000, total = 0;

	ASSERT_NE(NULL, p);
	for (long r = 0; r < rounds; r++) {
		pthread_t t[4];

		for (int i = 0; i < 4; i++) {
			c[i] = (struct churn){ .p = p,
				               .iters = per,
				               .seed = (unsigned)(r * 4 + i) };
			ASSERT_EQ(0, pthread_create(&t[i], NULL, churner, &c[i]));
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			EXPECT_EQ(0, c[i].bad);
			for (int k = 0; k < KEEP; k++)
				fa_pool_free(p, c[i].kept[k]); /* cross-thread, owner gone */
		}
		total += 4 * per;
	}
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ((uint64_t)(rounds * 4 + 1), st.threads); /* + this thread */
	EXPECT_EQ((uint64_t)total, st.allocs);
	expect_quiescent(_metadata, p, (uint64_t)total);
	fa_pool_destroy(p);
}

/* ---- thread exit with full caches ---- */

static void *fill_and_exit(void *arg)
{
	struct fa_pool *p = arg;
	void *v[3000];

	for (int i = 0; i < 3000; i++)
		v[i] = fa_pool_alloc(p, 8 + (size_t)(i % 3) * 100);
	for (int i = 0; i < 3000; i++)
		fa_pool_free(p, v[i]);
	return NULL;
}

TEST(thread_exit_hands_caches_back)
{
	struct fa_pool *p = fa_pool_create(NULL);
	struct fa_pool_stats st;
	pthread_t t;
	uint64_t cached = 0;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, pthread_create(&t, NULL, fill_and_exit, p));
	pthread_join(t, NULL);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(3000, st.allocs);
	EXPECT_EQ(0, st.live);
	for (unsigned c = 0; c < st.nr_classes; c++) {
		cached += st.cls[c].cached;
		EXPECT_EQ(st.cls[c].carved, st.cls[c].shared);
	}
	EXPECT_EQ(0, cached);
	/* the next thread reuses the idle cache and the objects */
	ASSERT_EQ(0, pthread_create(&t, NULL, fill_and_exit, p));
	pthread_join(t, NULL);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(2, st.threads);
	EXPECT_EQ(st.cls[0].slabs, 1); /* no new slab for the same working set */
	fa_pool_destroy(p);
}

/* A refill takes a whole batch off the shared list but moves it into the
 * bin a chunk at a time: the rest of it is still the thread's, counted as
 * cached, and goes back whole when the thread exits. */
struct partial {
	struct fa_pool *p;
	struct fa_pool_stats st;
	int bad;
};

static void *take_part_of_a_batch(void *arg)
{
	struct partial *a = arg;
	void *v[40];

	for (int i = 0; i < 40; i++)
		if (!(v[i] = fa_pool_alloc(a->p, 64)))
			a->bad++;
	if (fa_pool_stats(a->p, &a->st))
		a->bad++;
	for (int i = 0; i < 40; i++)
		fa_pool_free(a->p, v[i]);
	return NULL; /* exits holding its bin and the rest of the batch */
}

static int cmp_ptr(const void *x, const void *y)
{
	uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;

	return a < b ? -1 : a > b;
}

TEST(partly_taken_batch_counted_and_handed_back)
{
	struct fa_pool_opts o = { .obj_size = 64, .tcache_objs = 128, .batch = 100 };
	struct partial a = { .p = fa_pool_create(&o) };
	struct fa_pool_class_stats *cs = &a.st.cls[0];
	struct fa_pool_stats st;
	void *v[100], **all;
	uint64_t carved;
	pthread_t t;

	ASSERT_NE(NULL, a.p);
	/* a slab carved; a full batch of 100 on top of the shared list */
	for (int i = 0; i < 100; i++)
		ASSERT_NE(NULL, v[i] = fa_pool_alloc(a.p, 64));
	for (int i = 0; i < 100; i++)
		fa_pool_free(a.p, v[i]);
	ASSERT_EQ(0, fa_pool_flush(a.p, 0));

	ASSERT_EQ(0, pthread_create(&t, NULL, take_part_of_a_batch, &a));
	pthread_join(t, NULL);
	ASSERT_EQ(0, a.bad);
	/* 40 out, the other 60 of the batch cached by the thread: in its bin
	 * or still in the batch it holds */
	EXPECT_EQ(40, cs->live);
	EXPECT_EQ(60, cs->cached);
	EXPECT_EQ(cs->carved, cs->live + cs->cached + cs->shared);

	ASSERT_EQ(0, fa_pool_stats(a.p, &st));
	EXPECT_EQ(0, st.cls[0].live);
	EXPECT_EQ(0, st.cls[0].cached);
	EXPECT_EQ(st.cls[0].carved, st.cls[0].shared);
	carved = st.cls[0].carved;
	/* every carved object comes back exactly once, with no new slab */
	all = malloc(carved * sizeof(*all));
	ASSERT_NE(NULL, all);
	for (uint64_t i = 0; i < carved; i++)
		ASSERT_NE(NULL, all[i] = fa_pool_alloc(a.p, 64));
	ASSERT_EQ(0, fa_pool_stats(a.p, &st));
	EXPECT_EQ(1, st.cls[0].slabs);
	qsort(all, carved, sizeof(*all), cmp_ptr);
	for (uint64_t i = 1; i < carved; i++)
		ASSERT_NE(all[i - 1], all[i]);
	for (uint64_t i = 0; i < carved; i++)
		fa_pool_free(a.p, all[i]);
	free(all);
	expect_quiescent(_metadata, a.p, st.allocs);
	fa_pool_destroy(a.p);
}

/* ---- ABA stress ---- */

struct aba {
	struct fa_pool *p;
	long iters;
	int id;
	_Atomic(void *) *mailbox;
	int bad;
	_Atomic long done; /* iterations, for the stall watch */
};

struct obj {
	_Atomic int owner;
	char pad[44];
};

static void *hammer(void *arg)
{
	struct aba *a = arg;

	for (long i = 0; i < a->iters; i++) {
		struct obj *o = fa_pool_alloc(a->p, sizeof(*o));
		void *other;

		if (!o) {
			a->bad++;
			continue;
		}
		/* an object handed to two threads at once shows up here */
		if (atomic_exchange(&o->owner, a->id) != 0)
			a->bad++;
		sched_yield();
		if (atomic_exchange(&o->owner, 0) != a->id)
			a->bad++;
		/* half the frees cross threads through the mailbox */
		if (i & 1) {
			other = atomic_exchange(a->mailbox, o);
			if (other)
				fa_pool_free(a->p, other);
		} else {
			fa_pool_free(a->p, o);
		}
		atomic_store_explicit(&a->done, i + 1, memory_order_relaxed);
	}
	return NULL;
}

/* 400k sched_yield()s: minutes on a loaded 2-core host, so the main thread
 * watches progress instead of a deadline; no iteration for STALL_S is a
 * deadlock. */
SLOW_TEST(aba, stress_on_shared_lists, 600)
{
	/* a cache of 1 object: nearly every operation goes through a CAS */
	struct fa_pool_opts o = { .obj_size = 48, .tcache_objs = 1, .batch = 1 };
	struct fa_pool *p = fa_pool_create(&o);
	_Atomic(void *) mailbox = NULL;
	struct aba a[4];
	pthread_t t[4];
	long total = 0;
	void *last;

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct aba){
			.p = p, .iters = scaled(100000), .id = i + 1, .mailbox = &mailbox
		};
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer, &a[i]));
	}
	for (int still = 0, live = 4; live;) {
		struct timespec nap = { 0, 100 * 1000 * 1000 };
		long before = 0, after = 0;

		for (int i = 0; i < 4; i++)
			before += atomic_load(&a[i].done);
		nanosleep(&nap, NULL);
		live = 0;
		for (int i = 0; i < 4; i++) {
			after += atomic_load(&a[i].done);
			live += atomic_load(&a[i].done) < a[i].iters;
		}
		still = after == before ? still + 1 : 0;
		ASSERT_LT(still, STALL_S * 10)
		TH_LOG("deadlock: no iteration for %d s (%ld done)", STALL_S, after);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, a[i].bad);
		total += a[i].iters;
	}
	last = atomic_load(&mailbox);
	if (last)
		fa_pool_free(p, last);
	expect_quiescent(_metadata, p, (uint64_t)total);
	fa_pool_destroy(p);
}

/* ---- destroy while threads hold caches ---- */

struct holder {
	struct fa_pool *p, *q;
	pthread_barrier_t *b;
	_Atomic int bad;
};

static void *hold_cache(void *arg)
{
	struct holder *h = arg;
	char *o;

	fa_pool_free(h->p, fa_pool_alloc(h->p, 100));
	pthread_barrier_wait(h->b); /* cache attached */
	pthread_barrier_wait(h->b); /* pool destroyed: exit must not touch it */
	/* q likely holds p's thread bins now: this thread's must have been
	 * emptied by the destroy, or this pops one of p's unmapped objects */
	o = fa_pool_alloc(h->q, 100);
	if (!o || fa_pool_usable_size(h->q, o) != 128)
		atomic_store(&h->bad, 1);
	else
		memset(o, 0x5a, 100);
	fa_pool_free(h->q, o);
	return NULL;
}

TEST(destroy_while_threads_hold_caches)
{
	pthread_barrier_t b;
	struct holder h = { 0 };
	pthread_t t[3];
	struct fa_pool *q;

	ASSERT_EQ(0, pthread_barrier_init(&b, NULL, 4));
	h.p = fa_pool_create(NULL);
	h.b = &b;
	ASSERT_NE(NULL, h.p);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hold_cache, &h));
	pthread_barrier_wait(&b);
	fa_pool_destroy(h.p);
	q = fa_pool_create(NULL); /* likely the same TLS slot and bins */
	ASSERT_NE(NULL, q);
	h.q = q;
	pthread_barrier_wait(&b);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, atomic_load(&h.bad));
	fa_pool_free(q, fa_pool_alloc(q, 10));
	expect_quiescent(_metadata, q, 4);
	fa_pool_destroy(q);
	pthread_barrier_destroy(&b);
}

/* ---- the high-water mark while fresh slabs are published ---- */

/* FA_REPEAT=n: n times the rounds (repetition runs). */
static long repeat(void)
{
	const char *e = getenv("FA_REPEAT");
	long n = e ? atol(e) : 1;

	return n > 0 ? n : 1;
}

#define HWM_THREADS 8
#define HWM_OBJS    300

struct hwm_run {
	pthread_barrier_t go, done;
	struct fa_pool *p; /* written before go */
	bool stop;
	_Atomic long bad; /* allocations that failed */
};

static void *hwm_worker(void *arg)
{
	struct hwm_run *h = arg;
	void *v[HWM_OBJS];

	for (;;) {
		pthread_barrier_wait(&h->go);
		if (h->stop)
			return NULL;
		for (int i = 0; i < HWM_OBJS; i++)
			if (!(v[i] = fa_pool_alloc(h->p, 64)))
				atomic_fetch_add(&h->bad, 1);
		for (int i = 0; i < HWM_OBJS; i++)
			fa_pool_free(h->p, v[i]);
		pthread_barrier_wait(&h->done);
	}
}

/* Construction at carve: once a slab, after two of its batches are
 * published (the carving thread keeps the first 256 of its ~1000 objects,
 * pushes the next two 256), let another thread run, so that it pops one
 * of a slab still being carved (without the yield that takes a carve on
 * the other core at the right moment). */
static void yield_ctor(void *obj, size_t size, void *arg)
{
	if (((uintptr_t)obj & 0xffff) / size == 900)
		sched_yield();
	(void)arg;
}

FIXTURE(hwm)
{
	struct hwm_run h;
	pthread_t t[HWM_THREADS];
};

FIXTURE_SETUP(hwm)
{
	memset(&self->h, 0, sizeof(self->h));
	ASSERT_EQ(0, pthread_barrier_init(&self->h.go, NULL, HWM_THREADS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&self->h.done, NULL, HWM_THREADS + 1));
	for (int i = 0; i < HWM_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&self->t[i], NULL, hwm_worker, &self->h));
}

FIXTURE_TEARDOWN(hwm)
{
	self->h.stop = true;
	pthread_barrier_wait(&self->h.go);
	for (int i = 0; i < HWM_THREADS; i++)
		pthread_join(self->t[i], NULL);
	pthread_barrier_destroy(&self->h.go);
	pthread_barrier_destroy(&self->h.done);
}

/*
 * A fresh pool, 8 threads released at once, each carving its first slab of
 * 64 B objects while the others pop the batches it publishes: carved -
 * shared must never be read below zero, where the unsigned difference
 * wraps and the high-water mark keeps 2^64 - n for good.  Whatever the
 * interleaving, no more objects can have been out than were carved.
 */
TEST_F_TIMEOUT(hwm, high_water_mark_never_above_carved, 300)
{
	struct fa_pool_opts o = { .obj_size = 64, .ctor = yield_ctor };
	long rounds = scaled(500) * repeat(), wrapped = 0;
	uint64_t worst = 0;

	for (long r = 0; r < rounds; r++) {
		struct fa_pool_stats st;

		self->h.p = fa_pool_create(&o);
		ASSERT_NE(NULL, self->h.p);
		pthread_barrier_wait(&self->h.go);
		pthread_barrier_wait(&self->h.done);
		ASSERT_EQ(0, fa_pool_stats(self->h.p, &st));
		ASSERT_EQ(HWM_THREADS * HWM_OBJS, st.allocs);
		if (st.cls[0].hwm > st.cls[0].carved) {
			wrapped++;
			if (st.cls[0].hwm > worst)
				worst = st.cls[0].hwm;
		}
		fa_pool_destroy(self->h.p);
	}
	EXPECT_EQ(0, atomic_load(&self->h.bad));
	if (wrapped)
		TH_LOG("hwm above carved in %ld of %ld pools (worst %llu)", wrapped, rounds,
		       (unsigned long long)worst);
	EXPECT_EQ(0, wrapped);
}

/* ---- periodic snapshots, stats while running ---- */

struct runner {
	struct fa_pool *p;
	_Atomic int stop;
	long n;
};

static void *run_until_stopped(void *arg)
{
	struct runner *r = arg;
	void *v[16];

	while (!atomic_load(&r->stop)) {
		for (int i = 0; i < 16; i++)
			v[i] = fa_pool_alloc(r->p, 24 + (size_t)i * 8);
		for (int i = 0; i < 16; i++)
			fa_pool_free(r->p, v[i]);
		r->n += 16;
	}
	return NULL;
}

TEST(periodic_snapshots_and_live_stats)
{
	struct fa_pool_opts o = { .snapshot_ms = 2, .snapshot_ring = 1000 };
	struct fa_pool_snapshot sn[1000];
	struct runner r = { 0 };
	struct fa_pool_stats st;
	pthread_t t;
	int n;

	r.p = fa_pool_create(&o);
	ASSERT_NE(NULL, r.p);
	ASSERT_EQ(0, pthread_create(&t, NULL, run_until_stopped, &r));
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(0, fa_pool_stats(r.p, &st)); /* racing the owner: TSan-clean */
		EXPECT_LE(st.frees, st.allocs + 16);
		usleep(1000);
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	n = fa_pool_snapshots(r.p, sn, 1000);
	TH_LOG("%d snapshots in ~50 ms", n);
	EXPECT_GE(n, 5);
	for (int i = 1; i < n; i++) {
		EXPECT_LE(sn[i - 1].time_ns, sn[i].time_ns);
		EXPECT_LE(sn[i - 1].allocs, sn[i].allocs);
	}
	ASSERT_EQ(0, fa_pool_stats(r.p, &st));
	EXPECT_EQ((uint64_t)r.n, st.allocs);
	EXPECT_EQ(0, st.live);
	fa_pool_destroy(r.p);
}

/* Large objects from several threads: the cache of idle mappings is
 * shared; objects allocated on one thread are freed on another. */
struct large_arg {
	struct fa_pool *p;
	unsigned seed;
	long iters;
	_Atomic(char *) *handoff; /* one slot shared by a pair of threads */
	long bad;
};

static void *large_churn(void *arg)
{
	struct large_arg *a = arg;
	uint64_t rng = a->seed;

	for (long i = 0; i < a->iters; i++) {
		size_t sz;
		char *o, *old;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		sz = (size_t)FA_POOL_SMALL_MAX + 1 + (size_t)(rng >> 33) % ((size_t)3 << 20);
		o = fa_pool_alloc(a->p, sz);
		if (!o) {
			a->bad++;
			continue;
		}
		o[0] = (char)a->seed;
		o[sz - 1] = (char)a->seed;
		if (o[0] != (char)a->seed || fa_pool_usable_size(a->p, o) != sz)
			a->bad++;
		/* swap with the partner thread: frees cross threads */
		old = atomic_exchange(a->handoff, o);
		fa_pool_free(a->p, old);
	}
	return NULL;
}

TEST(large_cache_under_threads)
{
	struct fa_pool_opts o = { .large_cache_bytes = (size_t)16 << 20 };
	struct fa_pool *p = fa_pool_create(&o);
	_Atomic(char *) slot[2] = { NULL, NULL };
	struct large_arg a[4];
	struct fa_pool_stats st;
	pthread_t t[4];

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct large_arg){ .p = p,
			                   .seed = 17u + (unsigned)i,
			                   .iters = scaled(2000),
			                   .handoff = &slot[i / 2] };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, large_churn, &a[i]));
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, a[i].bad);
	}
	fa_pool_free(p, slot[0]);
	fa_pool_free(p, slot[1]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(4 * scaled(2000), st.large_allocs);
	EXPECT_EQ(st.large_allocs, st.large_frees);
	EXPECT_EQ(st.large_allocs, st.large_cache_hits + st.large_cache_misses);
	EXPECT_GT(st.large_cache_hits, 0);
	EXPECT_LE(st.large_cache_maps, 32);
	EXPECT_LE(st.large_cache_bytes, (size_t)16 << 20);
	EXPECT_EQ(st.bytes_slabs + st.large_cache_bytes, st.bytes_reserved);
	TH_LOG("large cache: %llu hits, %llu misses", (unsigned long long)st.large_cache_hits,
	       (unsigned long long)st.large_cache_misses);
	fa_pool_destroy(p);
}

TEST_HARNESS_MAIN
