// SPDX-License-Identifier: MIT
/*
 * fa_pool_trim while other threads allocate and free (also run under
 * TSan): workers fill their objects with a pattern and check it before
 * freeing (a slab freed or unmapped under a live object shows as a changed
 * pattern or a fault), a trimmer loops meanwhile; producer/consumer pairs
 * move objects through the shared lists under a trimmer.  Afterwards the
 * counters add up and a last trim gives every byte back.  Classes, debug +
 * poison, and once-per-object hooks (each object destructed once).  A fork
 * while a trim unmaps regions leaves the child consistent.
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 4

/* TSan runs are ~10x slower: scale the loops down. */
static long scaled(long n)
{
	return getenv("FA_TSAN") ? n / 10 : n;
}

static _Atomic long ctors, dtors, reports;

static void ctor(void *obj, size_t size, void *arg)
{
	atomic_fetch_add(&ctors, 1);
	memset(obj, 0, size);
	(void)arg;
}

static void dtor(void *obj, size_t size, void *arg)
{
	atomic_fetch_add(&dtors, 1);
	(void)obj;
	(void)size;
	(void)arg;
}

static void report(const struct fa_pool_report *r, void *arg)
{
	atomic_fetch_add(&reports, 1);
	(void)r;
	(void)arg;
}

struct shared {
	struct fa_pool *p;
	size_t fixed; /* object size of a fixed pool, else 0 */
	long rounds;
	_Atomic int running; /* workers still going */
	_Atomic long bad;    /* patterns found changed */
	_Atomic long trims, trimmed_slabs;
};

struct worker {
	struct shared *sh;
	int id;
};

static size_t size_of(const struct shared *sh, unsigned x)
{
	return sh->fixed ? sh->fixed : 16 + (size_t)(x * 2654435761u) % 2033;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	enum { K = 600 };
	unsigned char *v[K];
	size_t sz[K];

	for (long r = 0; r < sh->rounds; r++) {
		unsigned char pat = (unsigned char)(w->id * 31 + r);
		int n = 50 + (int)((r * 7 + w->id) % (K - 50));

		for (int i = 0; i < n; i++) {
			sz[i] = size_of(sh, (unsigned)(r * K + i + w->id * 1000));
			v[i] = fa_pool_alloc(sh->p, sz[i]);
			if (!v[i]) {
				atomic_fetch_add(&sh->bad, 1);
				n = i;
				break;
			}
			memset(v[i], pat + i, sz[i]);
		}
		sched_yield(); /* let the trimmer in while they are live */
		for (int i = 0; i < n; i++) {
			unsigned char want = (unsigned char)(pat + i);

			if (v[i][0] != want || v[i][sz[i] / 2] != want || v[i][sz[i] - 1] != want)
				atomic_fetch_add(&sh->bad, 1);
			fa_pool_free(sh->p, v[i]);
		}
		if (r % 3 == 0)
			fa_pool_flush(sh->p, 0); /* idle slabs appear */
	}
	atomic_fetch_sub(&sh->running, 1);
	return NULL; /* thread exit hands the caches back */
}

static void *trimmer(void *arg)
{
	struct shared *sh = arg;
	unsigned i = 0;

	while (atomic_load(&sh->running)) {
		struct fa_pool_trim_info ti;

		if (fa_pool_trim(sh->p, i++ % 2 ? FA_POOL_TRIM_KEEP : 0, &ti) == 0)
			atomic_fetch_add(&sh->trimmed_slabs, (long)ti.slabs);
		atomic_fetch_add(&sh->trims, 1);
		usleep(200);
	}
	return NULL;
}

/* Quiescent: every carved object is back, a last trim frees every slab and
 * unmaps every region. */
static void expect_all_back(struct __test_metadata *_metadata, struct fa_pool *p)
{
	struct fa_pool_trim_info ti;
	struct fa_pool_stats st;

	ASSERT_EQ(0, fa_pool_flush(p, 1));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(st.allocs, st.frees);
	EXPECT_EQ(0, st.live);
	for (unsigned c = 0; c < st.nr_classes; c++) {
		EXPECT_EQ(0, st.cls[c].cached);
		EXPECT_EQ(st.cls[c].carved, st.cls[c].shared);
	}
	ASSERT_EQ(0, fa_pool_trim(p, 0, &ti));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	for (unsigned c = 0; c < st.nr_classes; c++) {
		EXPECT_EQ(0, st.cls[c].slabs);
		EXPECT_EQ(0, st.cls[c].carved);
		EXPECT_EQ(0, st.cls[c].shared);
	}
	EXPECT_EQ(0, st.slabs_free);
	EXPECT_EQ(0, st.bytes_slabs);
	EXPECT_EQ(0, st.bytes_reserved);
	TH_LOG("%llu slabs freed and %llu bytes unmapped over the run",
	       (unsigned long long)st.trimmed_slabs, (unsigned long long)st.trimmed_bytes);
}

FIXTURE(trim)
{
	struct fa_pool *p;
};

FIXTURE_VARIANT(trim)
{
	unsigned flags;
	size_t obj_size;
	int hooks;
};

FIXTURE_VARIANT_ADD(trim, classes){
	.flags = 0,
};

FIXTURE_VARIANT_ADD(trim, debug_poison){
	.flags = FA_POOL_DEBUG | FA_POOL_POISON,
};

FIXTURE_VARIANT_ADD(trim, hooks_fixed){
	.obj_size = 192,
	.hooks = 1,
};

FIXTURE_SETUP(trim)
{
	struct fa_pool_opts o = { .flags = variant->flags,
		                  .obj_size = variant->obj_size,
		                  .report = report };

	if (variant->hooks) {
		o.ctor = ctor;
		o.dtor = dtor;
	}
	atomic_store(&ctors, 0);
	atomic_store(&dtors, 0);
	atomic_store(&reports, 0);
	self->p = fa_pool_create(&o);
	ASSERT_NE(NULL, self->p);
}

FIXTURE_TEARDOWN(trim)
{
	fa_pool_destroy(self->p);
	EXPECT_EQ(atomic_load(&ctors), atomic_load(&dtors));
	EXPECT_EQ(0, atomic_load(&reports));
}

TEST_F(trim, workers_and_trimmer)
{
	struct shared sh = { .p = self->p, .fixed = variant->obj_size, .rounds = scaled(300) };
	struct worker w[WORKERS];
	pthread_t t[WORKERS], tr;

	atomic_store(&sh.running, WORKERS);
	ASSERT_EQ(0, pthread_create(&tr, NULL, trimmer, &sh));
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .sh = &sh, .id = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, work, &w[i]));
	}
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	pthread_join(tr, NULL);
	EXPECT_EQ(0, atomic_load(&sh.bad));
	EXPECT_GT(atomic_load(&sh.trims), 0);
	TH_LOG("%ld trims freed %ld slabs while the workers ran", atomic_load(&sh.trims),
	       atomic_load(&sh.trimmed_slabs));
	expect_all_back(_metadata, self->p);
}

/* ---- producer / consumer: objects cross threads through the shared
 * lists while they are trimmed ---- */

#define RING 512

struct ring {
	_Atomic uint64_t head, tail;
	void *slot[RING];
	struct shared *sh;
	long n;
};

struct msg {
	uint64_t seq, check;
};

static void *producer(void *arg)
{
	struct ring *r = arg;

	for (long i = 0; i < r->n; i++) {
		struct msg *m = fa_pool_alloc(r->sh->p, size_of(r->sh, (unsigned)i));
		uint64_t h;

		if (!m) {
			atomic_fetch_add(&r->sh->bad, 1);
		} else {
			m->seq = (uint64_t)i;
			m->check = ~(uint64_t)i;
		}
		while ((h = atomic_load_explicit(&r->head, memory_order_relaxed)) -
		               atomic_load_explicit(&r->tail, memory_order_acquire) ==
		       RING)
			sched_yield();
		r->slot[h % RING] = m;
		atomic_store_explicit(&r->head, h + 1, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;

	for (long got = 0; got < r->n;) {
		uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
		struct msg *m;

		if (atomic_load_explicit(&r->head, memory_order_acquire) == t) {
			sched_yield();
			continue;
		}
		m = r->slot[t % RING];
		atomic_store_explicit(&r->tail, t + 1, memory_order_release);
		if (m && (m->seq != (uint64_t)got || m->check != ~(uint64_t)got))
			atomic_fetch_add(&r->sh->bad, 1);
		fa_pool_free(r->sh->p, m);
		got++;
	}
	atomic_fetch_sub(&r->sh->running, 1);
	return NULL;
}

TEST_F(trim, producer_consumer_and_trimmer)
{
	struct shared sh = { .p = self->p, .fixed = variant->obj_size };
	struct ring r[2];
	pthread_t pt[2], ct[2], tr;

	atomic_store(&sh.running, 2);
	ASSERT_EQ(0, pthread_create(&tr, NULL, trimmer, &sh));
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].sh = &sh;
		r[i].n = scaled(200000);
		ASSERT_EQ(0, pthread_create(&ct[i], NULL, consumer, &r[i]));
		ASSERT_EQ(0, pthread_create(&pt[i], NULL, producer, &r[i]));
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(pt[i], NULL);
		pthread_join(ct[i], NULL);
	}
	pthread_join(tr, NULL);
	EXPECT_EQ(0, atomic_load(&sh.bad));
	TH_LOG("%ld trims freed %ld slabs while the pairs ran", atomic_load(&sh.trims),
	       atomic_load(&sh.trimmed_slabs));
	expect_all_back(_metadata, self->p);
}

/* ---- fork while a trim unmaps ---- */

/* FA_REPEAT=n: n times the rounds (repetition runs). */
static long repeat(void)
{
	const char *e = getenv("FA_REPEAT");
	long n = e ? atol(e) : 1;

	return n > 0 ? n : 1;
}

#define FORK_OBJ  4096
#define FORK_OBJS 1000 /* ~67 slabs: a 2 MiB and a 4 MiB region */

static _Atomic int forking, dtor_armed, in_trim, forked;

/* The test's own prepare handler runs before the library's, which waits
 * for every pool's trim_lock. */
static void fork_prepare(void)
{
	atomic_store(&forking, 1);
}

/* The first object a trim destructs, under its trim_lock: let the other
 * thread call fork(), wait for it to be in it, then let it run on to wait
 * for that lock, so that the trim lets it go as it releases trim_lock
 * (on this CPU: the woken thread preempts the trim there). */
static void wait_dtor(void *obj, size_t size, void *arg)
{
	if (atomic_exchange(&dtor_armed, 0)) {
		atomic_store(&in_trim, 1);
		while (!atomic_load(&forking))
			sched_yield();
		for (int i = 0; i < 4; i++)
			sched_yield();
	}
	(void)obj;
	(void)size;
	(void)arg;
}

struct fork_trim {
	struct fa_pool *p;
	int err;
	struct fa_pool_trim_info ti;
};

static void *trim_once(void *arg)
{
	struct fork_trim *f = arg;

	f->err = fa_pool_trim(f->p, 0, &f->ti);
	atomic_store(&in_trim, 1); /* if no object was destructed */
	/* alive until the fork is made: ThreadSanitizer reports a thread
	 * that ended unjoined before a fork as leaked when the child exits */
	while (!atomic_load(&forked))
		sched_yield();
	return NULL;
}

/* In the child: a trim finds every region it has (all objects are on the
 * shared lists), after which nothing may be left counted as mapped. */
static int child_check(struct fa_pool *p)
{
	struct fa_pool_stats st;

	if (fa_pool_trim(p, 0, NULL) || fa_pool_stats(p, &st))
		return 2;
	return st.bytes_reserved || st.bytes_slabs ? 1 : 0;
}

static void register_prepare(void)
{
	pthread_atfork(fork_prepare, NULL, NULL);
}

FIXTURE(fork_trim)
{
	struct fork_trim f;
};

FIXTURE_SETUP(fork_trim)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	memset(&self->f, 0, sizeof(self->f));
	ASSERT_EQ(0, pthread_once(&once, register_prepare));
}

FIXTURE_TEARDOWN(fork_trim)
{
}

/*
 * A trim empties two regions while another thread forks: the fork waits
 * for trim_lock, and the child must see each region either still in the
 * pool's table (and counted) or unmapped (and not counted), never taken
 * out of the table but still counted, which no later trim or destroy
 * could give back.
 */
TEST_F_TIMEOUT(fork_trim, fork_during_trim_child_consistent, 300)
{
	struct fa_pool_opts o = { .obj_size = FORK_OBJ, .dtor = wait_dtor };
	long rounds = scaled(100) * repeat(), bad = 0, regions = 0;
	void **v = calloc(FORK_OBJS, sizeof(*v));
	cpu_set_t all, one;

	ASSERT_NE(NULL, v);
	/* both threads on one CPU, so the woken forker preempts the trim */
	ASSERT_EQ(0, pthread_getaffinity_np(pthread_self(), sizeof(all), &all));
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &one);
			break;
		}
	ASSERT_EQ(0, pthread_setaffinity_np(pthread_self(), sizeof(one), &one));
	for (long r = 0; r < rounds; r++) {
		struct fork_trim *f = &self->f;
		pthread_t t;
		int status;
		pid_t pid;

		f->p = fa_pool_create(&o);
		ASSERT_NE(NULL, f->p);
		for (int i = 0; i < FORK_OBJS; i++)
			ASSERT_NE(NULL, v[i] = fa_pool_alloc(f->p, FORK_OBJ));
		for (int i = 0; i < FORK_OBJS; i++)
			fa_pool_free(f->p, v[i]);
		ASSERT_EQ(0, fa_pool_flush(f->p, 0));
		atomic_store(&forking, 0);
		atomic_store(&in_trim, 0);
		atomic_store(&forked, 0);
		atomic_store(&dtor_armed, 1);
		ASSERT_EQ(0, pthread_create(&t, NULL, trim_once, f));
		while (!atomic_load(&in_trim)) /* the trim holds trim_lock (or is done) */
			sched_yield();
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(child_check(f->p));
		atomic_store(&forked, 1);
		pthread_join(t, NULL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_NE(2, WEXITSTATUS(status));
		bad += WEXITSTATUS(status);
		ASSERT_EQ(0, f->err);
		regions += f->ti.regions;
		fa_pool_destroy(f->p);
	}
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
	free(v);
	if (bad)
		TH_LOG("the child kept bytes counted for unmapped regions in %ld of %ld forks", bad,
		       rounds);
	EXPECT_EQ(0, bad);
	EXPECT_GE(regions, 2 * rounds); /* every trim emptied both regions */
}

/* ---- debug checks of stale pointers while a trim unmaps ---- */

#define STALE_OBJS 2000 /* 64 B: two slabs of one 2 MiB region */

struct stale {
	struct fa_pool *p;
	void *v[STALE_OBJS];
	pthread_barrier_t go, end;
	_Atomic int trimmed, stop;
	_Atomic long checks, reports;
};

static void count_report(const struct fa_pool_report *r, void *arg)
{
	struct stale *st = arg;

	atomic_fetch_add(&st->reports, 1);
	(void)r;
}

/* Runs on the trimming thread's CPU: the trimming thread, woken from a
 * sleep, preempts it wherever it is, between a check's reading the region
 * table and its reading the slab header too, and runs its trim (unmap
 * included) before this thread goes on. */
static void *stale_checker(void *arg)
{
	struct stale *st = arg;

	for (;;) {
		pthread_barrier_wait(&st->go);
		if (atomic_load(&st->stop))
			return NULL;
		for (long n = 0; !atomic_load_explicit(&st->trimmed, memory_order_relaxed); n++) {
			void *o = st->v[n % STALE_OBJS];

			/* both freed already: the debug checks must report */
			if (n % 64 == 63)
				fa_pool_free(st->p, o);
			else
				fa_pool_usable_size(st->p, o);
			atomic_fetch_add_explicit(&st->checks, 1, memory_order_relaxed);
		}
		pthread_barrier_wait(&st->end);
	}
}

FIXTURE(stale)
{
	struct stale st;
	pthread_t t;
	cpu_set_t all;
};

FIXTURE_SETUP(stale)
{
	cpu_set_t one;

	memset(&self->st, 0, sizeof(self->st));
	ASSERT_EQ(0, pthread_barrier_init(&self->st.go, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&self->st.end, NULL, 2));
	/* both threads on one CPU (the checker inherits it) */
	ASSERT_EQ(0, pthread_getaffinity_np(pthread_self(), sizeof(self->all), &self->all));
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &self->all)) {
			CPU_SET(c, &one);
			break;
		}
	ASSERT_EQ(0, pthread_setaffinity_np(pthread_self(), sizeof(one), &one));
	ASSERT_EQ(0, pthread_create(&self->t, NULL, stale_checker, &self->st));
}

FIXTURE_TEARDOWN(stale)
{
	atomic_store(&self->st.stop, 1);
	pthread_barrier_wait(&self->st.go);
	pthread_join(self->t, NULL);
	pthread_setaffinity_np(pthread_self(), sizeof(self->all), &self->all);
	pthread_barrier_destroy(&self->st.go);
	pthread_barrier_destroy(&self->st.end);
}

/*
 * Debug pools check each pointer freed (or sized) against their regions
 * and slab headers, so that a stale pointer is reported, never followed.
 * A trim that frees the pointer's slab and unmaps its region while the
 * check runs must not make the check read the unmapped header.
 */
TEST_F_TIMEOUT(stale, debug_check_of_stale_pointers_during_trim, 300)
{
	struct stale *st = &self->st;
	struct fa_pool_opts o = {
		.obj_size = 64, .flags = FA_POOL_DEBUG, .report = count_report, .report_arg = st
	};
	long rounds = scaled(300) * repeat(), regions = 0;

	for (long r = 0; r < rounds; r++) {
		struct fa_pool_trim_info ti;

		st->p = fa_pool_create(&o);
		ASSERT_NE(NULL, st->p);
		for (int i = 0; i < STALE_OBJS; i++)
			ASSERT_NE(NULL, st->v[i] = fa_pool_alloc(st->p, 64));
		for (int i = 0; i < STALE_OBJS; i++)
			fa_pool_free(st->p, st->v[i]);
		ASSERT_EQ(0, fa_pool_flush(st->p, 0));
		atomic_store(&st->trimmed, 0);
		pthread_barrier_wait(&st->go);
		/* the checker runs meanwhile; the wake-up preempts it anywhere */
		usleep(20 + (unsigned)(r * 37) % 200);
		ASSERT_EQ(0, fa_pool_trim(st->p, 0, &ti));
		atomic_store(&st->trimmed, 1);
		pthread_barrier_wait(&st->end);
		regions += ti.regions;
		fa_pool_destroy(st->p);
	}
	TH_LOG("%ld checks of stale pointers, %ld reports", atomic_load(&st->checks),
	       atomic_load(&st->reports));
	EXPECT_EQ(rounds, regions); /* every trim unmapped the region */
	EXPECT_LT(0, atomic_load(&st->reports));
}

TEST_HARNESS_MAIN
