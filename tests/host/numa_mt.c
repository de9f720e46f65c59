// SPDX-License-Identifier: MIT
/*
 * NUMA allocator under concurrency (also built with TSan): per-node
 * workers with a profiler/registry reader running beside them, a
 * cross-node producer/consumer whose frees must all count as remote, and
 * registry churn from short-lived threads.
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
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

TEST_HARNESS_MAIN
