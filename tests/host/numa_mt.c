// SPDX-License-Identifier: MIT
/*
 * NUMA allocator under concurrency (also built with TSan): per-node
 * workers with a profiler/registry reader running beside them, a
 * cross-node producer/consumer whose frees must all count as remote,
 * registry churn from short-lived threads, and large objects exchanged
 * between threads (each freed by another thread than its allocator's).
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "arena_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int cpu_nodes(int *out)
{
	struct fa_topology t;
	int n = 0;

	if (fa_topology_read(&t))
		return 0;
	for (int i = 0; i < t.nr_nodes; i++)
		if (t.node[i].nr_cpus)
			out[n++] = t.node[i].node;
	return n;
}

static int has_memory(int node)
{
	struct fa_topology t;

	if (fa_topology_read(&t))
		return 0;
	for (int i = 0; i < t.nr_nodes; i++)
		if (t.node[i].node == node)
			return t.node[i].has_memory;
	return 0;
}

/* Fewer rounds under TSan and in the (emulated) VM. */
static int rounds(int base)
{
	return getenv("FA_TSAN") || getenv("FA_IN_VM") ? base / 10 : base;
}

struct worker {
	struct fa_numa *n;
	int node;
	long wrong; /* objects not from the worker's node */
	long failed;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	void *live[256] = { 0 };
	unsigned seed = (unsigned)w->node * 7919u + 1;

	if (fa_numa_pin_thread(w->node)) {
		w->failed++;
		return NULL;
	}
	for (int i = 0; i < rounds(200000); i++) {
		unsigned k = rand_r(&seed) % 256;

		if (live[k]) {
			fa_numa_free(w->n, live[k]);
			live[k] = NULL;
		} else {
			size_t sz = 16 + rand_r(&seed) % 1000;

			live[k] = fa_numa_alloc(w->n, sz);
			if (!live[k]) {
				w->failed++;
				continue;
			}
			memset(live[k], (int)k, sz < 32 ? sz : 32);
			if ((i & 63) == 0 && has_memory(w->node) &&
			    fa_numa_node_of(w->n, live[k]) != w->node)
				w->wrong++;
		}
	}
	for (int k = 0; k < 256; k++)
		fa_numa_free(w->n, live[k]);
	return NULL;
}

struct reader {
	struct fa_numa *n;
	atomic_bool stop;
	long reads;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	struct fa_numa_profile *p = malloc(sizeof(*p));
	struct fa_numa_thread ti[16];
	struct fa_numa_stats *st = malloc(sizeof(*st));

	while (p && st && !atomic_load(&r->stop)) {
		fa_numa_profile(r->n, p);
		fa_numa_stats(r->n, st);
		fa_numa_threads(ti, 16);
		r->reads++;
		usleep(1000);
	}
	free(p);
	free(st);
	return NULL;
}

TEST(per_node_workers_with_reader)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct worker w[8];
	struct reader r = { .n = n };
	pthread_t th[8], rt;
	struct fa_numa_stats st;
	int nodes[FA_MAX_NODES], nn = cpu_nodes(nodes), nw;

	ASSERT_NE(NULL, n);
	ASSERT_GE(nn, 1);
	nw = nn * 2 > 8 ? 8 : nn * 2;
	ASSERT_EQ(0, pthread_create(&rt, NULL, reader, &r));
	for (int i = 0; i < nw; i++) {
		w[i] = (struct worker){ .n = n, .node = nodes[i % nn] };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker, &w[i]));
	}
	for (int i = 0; i < nw; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, w[i].failed);
		EXPECT_EQ(0, w[i].wrong);
	}
	atomic_store(&r.stop, true);
	pthread_join(rt, NULL);
	EXPECT_GT(r.reads, 0);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	/* each worker allocates and frees on its own node only */
	EXPECT_EQ(0, st.remote_allocs);
	EXPECT_EQ(0, st.remote_frees);
	for (int i = 0; i < st.nr_nodes; i++)
		EXPECT_EQ(st.node[i].allocs, st.node[i].frees);
	fa_numa_destroy(n);
}

/* Producer on the first CPU node, consumer on the last: every free is
 * remote when they are different memory nodes, none when the same. */
#define RING 1024

struct ring {
	_Atomic(void *) slot[RING];
	atomic_ulong head, tail;
	struct fa_numa *n;
	int node;
	long count;
};

static void *producer(void *arg)
{
	struct ring *r = arg;

	fa_numa_pin_thread(r->node);
	for (long i = 0; i < r->count; i++) {
		void *p;

		while (atomic_load(&r->head) - atomic_load(&r->tail) >= RING)
			sched_yield();
		p = fa_numa_alloc(r->n, 64 + (i & 127));
		if (p)
			memset(p, 1, 64);
		atomic_store(&r->slot[atomic_load(&r->head) % RING], p);
		atomic_fetch_add(&r->head, 1);
	}
	return NULL;
}

struct consumer {
	struct ring *r;
	int node;
	long nulls;
};

static void *consumer(void *arg)
{
	struct consumer *c = arg;
	struct ring *r = c->r;

	fa_numa_pin_thread(c->node);
	for (long i = 0; i < r->count; i++) {
		void *p;

		while (atomic_load(&r->tail) == atomic_load(&r->head))
			sched_yield();
		p = atomic_load(&r->slot[atomic_load(&r->tail) % RING]);
		atomic_fetch_add(&r->tail, 1);
		if (!p)
			c->nulls++;
		fa_numa_free(r->n, p);
	}
	return NULL;
}

TEST(cross_node_producer_consumer)
{
	struct ring *r = calloc(1, sizeof(*r));
	struct consumer c;
	struct fa_numa_stats st;
	struct fa_numa_thread ti[4];
	int nodes[FA_MAX_NODES], nn = cpu_nodes(nodes), cnt;
	pthread_t pt, ct;
	long remote_by_consumer = -1;

	ASSERT_NE(NULL, r);
	r->n = fa_numa_create(NULL);
	ASSERT_NE(NULL, r->n);
	r->node = nodes[0];
	r->count = rounds(200000);
	c = (struct consumer){ .r = r, .node = nodes[nn - 1] };
	ASSERT_EQ(0, pthread_create(&pt, NULL, producer, r));
	ASSERT_EQ(0, pthread_create(&ct, NULL, consumer, &c));
	/* the registry sees both while they run */
	cnt = fa_numa_threads(ti, 4);
	EXPECT_LE(cnt, 2);
	pthread_join(pt, NULL);
	cnt = fa_numa_threads(ti, 4);
	for (int i = 0; i < cnt && i < 4; i++)
		if (ti[i].pinned_node == c.node)
			remote_by_consumer = (long)ti[i].remote_frees;
	pthread_join(ct, NULL);
	EXPECT_EQ(0, c.nulls);
	ASSERT_EQ(0, fa_numa_stats(r->n, &st));
	if (nn > 1 && fa_numa_pool(r->n, r->node) != fa_numa_pool(r->n, c.node)) {
		EXPECT_EQ((uint64_t)r->count, st.remote_frees);
		EXPECT_EQ(0, st.remote_allocs);
		TH_LOG("node %d -> node %d: %llu remote frees", r->node, c.node,
		       (unsigned long long)st.remote_frees);
	} else {
		EXPECT_EQ(0, st.remote_frees);
	}
	(void)remote_by_consumer;
	for (int i = 0; i < st.nr_nodes; i++)
		EXPECT_EQ(st.node[i].allocs, st.node[i].frees);
	fa_numa_destroy(r->n);
	free(r);
}

/* Many short-lived threads register and leave while a reader lists them. */
static void *short_lived(void *arg)
{
	struct fa_numa *n = arg;

	for (int i = 0; i < 50; i++)
		fa_numa_free(n, fa_numa_alloc(n, 48));
	return NULL;
}

TEST(registry_churn)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct reader r = { .n = n };
	struct fa_numa_thread ti[4];
	pthread_t rt;

	ASSERT_NE(NULL, n);
	ASSERT_EQ(0, pthread_create(&rt, NULL, reader, &r));
	for (int round = 0; round < 20; round++) {
		pthread_t th[4];

		for (int i = 0; i < 4; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL, short_lived, n));
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
	}
	atomic_store(&r.stop, true);
	pthread_join(rt, NULL);
	/* all gone: only threads still alive are listed (the reader has exited) */
	EXPECT_EQ(0, fa_numa_threads(ti, 4));
	fa_numa_destroy(n);
}

/*
 * Large objects (one map each) handed between threads through atomic
 * slots, so most are freed by another thread while others map and unmap.
 * With 2 MiB hugetlb pages reserved but none free, every large map first
 * tries hugetlb and fails: that failure once unmapped its range after
 * another thread's mmap had taken it, so a live neighbour's map vanished
 * (SIGSEGV in the free, or "not an object of this allocator").
 */
#define LX_SLOTS 64
#define LX_TAG   0x5a5a5a5a5a5a5a5aull

struct lx {
	struct fa_numa *n;
	_Atomic(uint64_t *) slot[LX_SLOTS];
	atomic_long bad, nulls;
};

struct lx_arg {
	struct lx *x;
	unsigned seed;
};

static void lx_check_free(struct lx *x, uint64_t *b)
{
	size_t sz;

	if (!b)
		return;
	sz = b[0];
	if (b[1] != (sz ^ LX_TAG) || ((unsigned char *)b)[sz - 1] != (unsigned char)sz ||
	    fa_numa_usable_size(x->n, b) < sz)
		atomic_fetch_add(&x->bad, 1);
	fa_numa_free(x->n, b);
}

static void *lx_thread(void *arg)
{
	struct lx_arg *a = arg;
	struct lx *x = a->x;

	for (int i = 0; i < rounds(1500); i++) {
		unsigned r = (unsigned)rand_r(&a->seed);
		size_t sz = FA_POOL_SMALL_MAX + 1 + r % 300000;
		uint64_t *b = fa_numa_alloc(x->n, sz);

		if (!b) {
			atomic_fetch_add(&x->nulls, 1);
			continue;
		}
		b[0] = sz;
		b[1] = sz ^ LX_TAG;
		((unsigned char *)b)[sz - 1] = (unsigned char)sz;
		lx_check_free(x, atomic_exchange(&x->slot[(r >> 20) % LX_SLOTS], b));
	}
	return NULL;
}

FIXTURE(large_exchange)
{
	long saved;
	void *held[16]; /* the free 2 MiB hugetlb pages, taken */
	int nr_held;
	bool hugetlb_fails;
};

FIXTURE_VARIANT(large_exchange)
{
	unsigned flags;
};

FIXTURE_VARIANT_ADD(large_exchange, idle_cache){
	.flags = 0,
};

FIXTURE_VARIANT_ADD(large_exchange, no_idle){
	.flags = FA_NUMA_NO_IDLE,
};

FIXTURE_SETUP(large_exchange)
{
	/* hugetlb present to the backend, but failing: take every free page */
	self->nr_held = 0;
	if (!reserve_2m(1, &self->saved))
		return;
	while (self->nr_held < 16) {
		void *p = mmap(NULL, FA_PAGE_2M, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);

		if (p == MAP_FAILED)
			break;
		self->held[self->nr_held++] = p;
	}
	self->hugetlb_fails = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/"
	                                "free_hugepages") == 0;
}

FIXTURE_TEARDOWN(large_exchange)
{
	for (int i = 0; i < self->nr_held; i++)
		munmap(self->held[i], FA_PAGE_2M);
	restore_2m(self->saved);
}

TEST_F(large_exchange, cross_thread_frees)
{
	struct fa_numa_opts o = { .flags = variant->flags };
	struct lx *x = calloc(1, sizeof(*x));
	struct lx_arg a[4];
	pthread_t th[4];

	ASSERT_NE(NULL, x);
	if (!self->hugetlb_fails)
		TH_LOG("hugetlb not failing here (cannot reserve or exhaust it): "
		       "the race it opened is not exercised");
	x->n = fa_numa_create(&o);
	ASSERT_NE(NULL, x->n);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct lx_arg){ .x = x, .seed = 2654435761u * (unsigned)(i + 1) };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, lx_thread, &a[i]));
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < LX_SLOTS; i++)
		lx_check_free(x, atomic_exchange(&x->slot[i], NULL));
	EXPECT_EQ(0, atomic_load(&x->bad));
	EXPECT_EQ(0, atomic_load(&x->nulls));
	fa_numa_destroy(x->n);
	free(x);
}

TEST_HARNESS_MAIN
