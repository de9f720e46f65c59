// SPDX-License-Identifier: MIT
/*
 * Arena groups and thread-local sub-arenas: chunk recycling between arenas
 * and across threads, the retain cap, reuse counters, sub-arenas per thread
 * (distinct, cache-line separated, returned at thread exit, adopted by the
 * next thread), reset-on-exit destructors, destroy refusing while in use.
 * Concurrent: also runs under TSan (name ends in _mt).
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "arena_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#define CHUNK (64 << 10)

static struct fa_arena_group *small_group(size_t retain, unsigned flags)
{
	struct fa_arena_group_opts o = { .mem = { .backend = FA_BACKEND_SMALL },
		                         .retain_max = retain,
		                         .flags = flags };

	o.tls.chunk_size = CHUNK;
	o.tls.max_chunk_size = CHUNK;
	return fa_arena_group_create(&o);
}

static struct fa_arena *member(struct fa_arena_group *g)
{
	struct fa_arena_opts o = { .chunk_size = CHUNK, .max_chunk_size = CHUNK, .group = g };

	return fa_arena_create(&o);
}

TEST(bad_input)
{
	struct fa_arena_group_opts o;
	struct fa_arena_group_stats st;
	struct fa_arena_group *g;

	memset(&o, 0, sizeof(o));
	o.flags = 1u << 9;
	EXPECT_EQ(NULL, fa_arena_group_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.reserved[0] = 1;
	EXPECT_EQ(NULL, fa_arena_group_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.mem.page_size = 3;
	EXPECT_EQ(NULL, fa_arena_group_create(&o));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, fa_arena_group_destroy(NULL));
	EXPECT_EQ(NULL, fa_arena_tls(NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, fa_arena_tls_release(NULL));
	EXPECT_EQ(-EINVAL, fa_arena_group_stats(NULL, &st));

	g = small_group(0, 0);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(-EINVAL, fa_arena_group_stats(g, NULL));
	EXPECT_EQ(-ENOENT, fa_arena_tls_release(g));
	/* guards asked of a group whose chunks have none */
	{
		struct fa_arena_opts ao = { .group = g, .flags = FA_ARENA_GUARDS };

		EXPECT_EQ(NULL, fa_arena_create(&ao));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(0, fa_arena_group_destroy(g));
	(void)small_group;
}

TEST(chunks_recycle_between_arenas)
{
	struct fa_arena_group *g = small_group(0, 0);
	struct fa_arena_group_stats st;
	struct fa_arena_stats as;
	struct fa_arena *a, *b;
	void *chunks[4];

	ASSERT_NE(NULL, g);
	a = member(g);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 4; i++) {
		chunks[i] = fa_arena_alloc(a, CHUNK - 64);
		ASSERT_NE(NULL, chunks[i]);
	}
	ASSERT_EQ(0, fa_arena_stats(a, &as));
	EXPECT_EQ(4, as.nr_chunks);
	/* busy while an arena uses it */
	EXPECT_EQ(-EBUSY, fa_arena_group_destroy(g));
	fa_arena_destroy(a);

	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(4, st.chunks_mapped);
	EXPECT_EQ(4, st.chunks_returned);
	EXPECT_EQ(4, st.retained_chunks);
	EXPECT_EQ(4 * CHUNK, st.retained_bytes);
	EXPECT_EQ(0, st.arenas);

	b = member(g);
	ASSERT_NE(NULL, b);
	for (int i = 0; i < 4; i++) {
		void *p = fa_arena_alloc(b, CHUNK - 64);
		bool found = false;

		ASSERT_NE(NULL, p);
		for (int j = 0; j < 4; j++)
			found |= p == chunks[j];
		EXPECT_TRUE(found); /* the same chunks, not new mappings */
	}
	ASSERT_EQ(0, fa_arena_stats(b, &as));
	EXPECT_EQ(4, as.chunks_reused);
	EXPECT_EQ(0, as.chunks_mapped);
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(4, st.chunks_mapped);
	EXPECT_EQ(4, st.chunks_reused);
	EXPECT_EQ(0, st.retained_chunks);
	fa_arena_destroy(b);
	EXPECT_EQ(0, fa_arena_group_destroy(g));
}

TEST(reset_release_feeds_the_group)
{
	struct fa_arena_group *g = small_group(0, 0);
	struct fa_arena_opts o = { .chunk_size = CHUNK,
		                   .max_chunk_size = CHUNK,
		                   .group = g,
		                   .flags = FA_ARENA_RESET_RELEASE };
	struct fa_arena_group_stats st;
	struct fa_arena *a, *b;

	ASSERT_NE(NULL, g);
	a = fa_arena_create(&o);
	b = member(g);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	for (int i = 0; i < 3; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, CHUNK - 64));
	fa_arena_reset(a); /* keeps one chunk, two go to the group */
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(2, st.retained_chunks);
	for (int i = 0; i < 3; i++)
		ASSERT_NE(NULL, fa_arena_alloc(b, CHUNK - 64));
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(2, st.chunks_reused);
	EXPECT_EQ(0, st.retained_chunks);
	EXPECT_EQ(2, st.arenas);
	fa_arena_destroy(a);
	fa_arena_destroy(b);
	EXPECT_EQ(0, fa_arena_group_destroy(g));
}

TEST(retain_cap_returns_the_rest)
{
	struct fa_arena_group *g = small_group(2 * CHUNK, 0);
	struct fa_backend_stats b0, b1;
	struct fa_arena_group_stats st;
	struct fa_arena *a;

	ASSERT_NE(NULL, g);
	a = member(g);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 5; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, CHUNK - 64));
	ASSERT_EQ(0, fa_backend_stats(&b0));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_backend_stats(&b1));
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(2, st.retained_chunks);
	EXPECT_EQ(2 * CHUNK, st.retained_bytes);
	EXPECT_EQ(3, st.chunks_unmapped);
	EXPECT_EQ(b0.unmaps + 3, b1.unmaps);
	EXPECT_EQ(0, fa_arena_group_destroy(g));

	/* NO_RETAIN keeps nothing */
	g = small_group(0, FA_GROUP_NO_RETAIN);
	ASSERT_NE(NULL, g);
	a = member(g);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, fa_arena_alloc(a, CHUNK - 64));
	ASSERT_NE(NULL, fa_arena_alloc(a, CHUNK - 64));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(0, st.retained_chunks);
	EXPECT_EQ(2, st.chunks_unmapped);
	EXPECT_EQ(0, fa_arena_group_destroy(g));
}

struct cross {
	struct fa_arena_group *g;
	void *chunk[3];
	int reused;
};

static void *fill_and_destroy(void *arg)
{
	struct cross *c = arg;
	struct fa_arena *a = member(c->g);

	for (int i = 0; i < 3; i++)
		c->chunk[i] = fa_arena_alloc(a, CHUNK - 64);
	fa_arena_destroy(a);
	return NULL;
}

static void *take_over(void *arg)
{
	struct cross *c = arg;
	struct fa_arena *a = member(c->g);

	for (int i = 0; i < 3; i++) {
		void *p = fa_arena_alloc(a, CHUNK - 64);

		for (int j = 0; j < 3; j++)
			c->reused += p == c->chunk[j];
	}
	fa_arena_destroy(a);
	return NULL;
}

TEST(chunks_recycle_across_threads)
{
	struct cross c = { .g = small_group(0, 0) };
	pthread_t t;

	ASSERT_NE(NULL, c.g);
	ASSERT_EQ(0, pthread_create(&t, NULL, fill_and_destroy, &c));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, take_over, &c));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(3, c.reused);
	EXPECT_EQ(0, fa_arena_group_destroy(c.g));
}

#define THREADS 4
#define ROUNDS  200

static void *churn(void *arg)
{
	struct fa_arena_group *g = arg;

	for (int r = 0; r < ROUNDS; r++) {
		struct fa_arena *a = member(g);

		if (!a)
			return (void *)1;
		for (int i = 0; i < 1 + r % 5; i++) {
			char *p = fa_arena_alloc(a, CHUNK / 2 + 64);

			if (!p)
				return (void *)1;
			memset(p, r & 0xff, 64);
		}
		fa_arena_destroy(a);
	}
	return NULL;
}

TEST(concurrent_churn_counters_add_up)
{
	struct fa_arena_group *g = small_group(0, 0);
	struct fa_arena_group_stats st;
	pthread_t t[THREADS];
	void *rv;

	ASSERT_NE(NULL, g);
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn, g));
	for (int i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &rv));
		EXPECT_EQ(NULL, rv);
	}
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	/* every chunk taken was given back; most were reused */
	EXPECT_EQ(st.chunks_mapped + st.chunks_reused, st.chunks_returned);
	EXPECT_EQ(st.chunks_mapped - st.chunks_unmapped, st.retained_chunks);
	EXPECT_GT(st.chunks_reused, st.chunks_mapped);
	EXPECT_EQ(0, st.arenas);
	TH_LOG("mapped %llu reused %llu", (unsigned long long)st.chunks_mapped,
	       (unsigned long long)st.chunks_reused);
	EXPECT_EQ(0, fa_arena_group_destroy(g));
}

/* ---- thread-local sub-arenas ---- */

struct tls_run {
	struct fa_arena_group *g;
	struct fa_arena *a;
	char *msg;
	pthread_barrier_t *bar;
};

static void *use_tls(void *arg)
{
	struct tls_run *r = arg;

	r->a = fa_arena_tls(r->g);
	if (!r->a || fa_arena_tls(r->g) != r->a)
		return (void *)1;
	r->msg = fa_arena_alloc(r->a, 64);
	if (!r->msg)
		return (void *)1;
	snprintf(r->msg, 64, "from %p", (void *)r->a);
	if (r->bar)
		pthread_barrier_wait(r->bar); /* all alive at once: distinct arenas */
	return NULL;
}

TEST(sub_arena_per_thread_returned_at_exit)
{
	struct fa_arena_group *g = small_group(0, 0);
	struct fa_arena_group_stats st;
	struct tls_run r[THREADS];
	pthread_barrier_t bar;
	pthread_t t[THREADS];
	struct fa_arena *mine;
	void *rv;

	ASSERT_NE(NULL, g);
	pthread_barrier_init(&bar, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct tls_run){ .g = g, .bar = &bar };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, use_tls, &r[i]));
	}
	for (int i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &rv));
		ASSERT_EQ(NULL, rv);
	}
	pthread_barrier_destroy(&bar);
	for (int i = 0; i < THREADS; i++) {
		/* own cache lines: no false sharing between threads' cursors */
		EXPECT_EQ(0, (uintptr_t)r[i].a % 64);
		for (int j = 0; j < i; j++) {
			uintptr_t d = (uintptr_t)r[i].a > (uintptr_t)r[j].a
			                      ? (uintptr_t)r[i].a - (uintptr_t)r[j].a
			                      : (uintptr_t)r[j].a - (uintptr_t)r[i].a;

			EXPECT_NE(r[i].a, r[j].a);
			EXPECT_GE(d, 64);
		}
	}
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(THREADS, st.tls_created);
	EXPECT_EQ(THREADS, st.tls_returned);
	EXPECT_EQ(THREADS, st.tls_idle);
	EXPECT_EQ(THREADS, st.arenas);
	/* memory handed out by an exited thread stays valid */
	for (int i = 0; i < THREADS; i++) {
		char want[64];

		snprintf(want, sizeof(want), "from %p", (void *)r[i].a);
		EXPECT_STREQ(want, r[i].msg);
	}
	/* the next thread adopts an idle sub-arena instead of a new one */
	r[0] = (struct tls_run){ .g = g };
	ASSERT_EQ(0, pthread_create(&t[0], NULL, use_tls, &r[0]));
	ASSERT_EQ(0, pthread_join(t[0], NULL));
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(THREADS, st.tls_created);
	EXPECT_EQ(1, st.tls_adopted);

	/* this thread: a sub-arena the group owns, refused by destroy */
	mine = fa_arena_tls(g);
	ASSERT_NE(NULL, mine);
	fa_arena_destroy(mine);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_NE(NULL, fa_arena_alloc(mine, 10)); /* still alive */
	EXPECT_EQ(-EBUSY, fa_arena_group_destroy(g));
	EXPECT_EQ(0, fa_arena_tls_release(g));
	EXPECT_EQ(-ENOENT, fa_arena_tls_release(g));
	EXPECT_EQ(0, fa_arena_group_destroy(g));
}

static int exit_dtors;

static void count_dtor(void *p)
{
	__atomic_fetch_add(&exit_dtors, 1, __ATOMIC_RELAXED);
}

static void *tls_with_dtor(void *arg)
{
	struct fa_arena *a = fa_arena_tls(arg);

	if (!a || fa_arena_on_destroy(a, count_dtor, NULL))
		return (void *)1;
	for (int i = 0; i < 3; i++)
		if (!fa_arena_alloc(a, CHUNK - 64)) /* spread over chunks */
			return (void *)1;
	return NULL;
}

TEST(reset_on_exit_runs_destructors)
{
	struct fa_arena_group_opts o = { .mem = { .backend = FA_BACKEND_SMALL },
		                         .flags = FA_GROUP_TLS_RESET_ON_EXIT };
	struct fa_arena_group_stats st;
	struct fa_arena_group *g;
	pthread_t t;
	void *rv;

	o.tls.chunk_size = CHUNK;
	o.tls.max_chunk_size = CHUNK;
	o.tls.flags = FA_ARENA_RESET_RELEASE;
	g = fa_arena_group_create(&o);
	ASSERT_NE(NULL, g);
	ASSERT_EQ(0, pthread_create(&t, NULL, tls_with_dtor, g));
	ASSERT_EQ(0, pthread_join(t, &rv));
	ASSERT_EQ(NULL, rv);
	EXPECT_EQ(1, __atomic_load_n(&exit_dtors, __ATOMIC_RELAXED));
	ASSERT_EQ(0, fa_arena_group_stats(g, &st));
	EXPECT_EQ(1, st.tls_returned);
	EXPECT_GE(st.retained_chunks, 2); /* released by the reset, kept for others */
	EXPECT_EQ(0, fa_arena_group_destroy(g));
}

/* The node whose memory serves node: itself, or for a CPU-only node the
 * nearest node with memory (lowest id on a tie), as the library documents. */
static int mem_node_for(int node)
{
	struct fa_topology *t = malloc(sizeof(*t));
	int i, j, me = -1, best = node, best_d = 0;

	if (!t || fa_topology_read(t)) {
		free(t);
		return node;
	}
	for (i = 0; i < t->nr_nodes; i++)
		if (t->node[i].node == node)
			me = i;
	if (me >= 0 && !t->node[me].has_memory) {
		best = -1;
		for (j = 0; j < t->nr_nodes; j++) {
			if (!t->node[j].has_memory)
				continue;
			if (best < 0 || t->distance[me][j] < best_d) {
				best = t->node[j].node;
				best_d = t->distance[me][j];
			}
		}
	}
	free(t);
	return best;
}

/* On every CPU in turn (a CPU-only node's among them on the 4-node VM): the
 * thread's arena takes the memory of that CPU's node. */
TEST(tls_node_option)
{
	struct fa_arena_group_opts o = { .mem = { .backend = FA_BACKEND_SMALL,
		                                  .flags = FA_MEM_PREFAULT },
		                         .flags = FA_GROUP_TLS_NODE };
	struct fa_arena_stats st;
	struct fa_arena_group *g;
	struct fa_arena *a;
	cpu_set_t one, old;
	unsigned cpu, node;
	int c, tried = 0;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(old), &old));
	o.tls.chunk_size = CHUNK;
	for (c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
		ASSERT_EQ(0, getcpu(&cpu, &node));
		ASSERT_EQ(c, (int)cpu);
		g = fa_arena_group_create(&o);
		ASSERT_NE(NULL, g);
		a = fa_arena_tls(g);
		ASSERT_NE(NULL, a);
		ASSERT_EQ(0, fa_arena_stats(a, &st));
		EXPECT_EQ(mem_node_for((int)node), st.mem.node_asked);
		EXPECT_EQ(mem_node_for((int)node), st.mem.node);
		EXPECT_EQ(0, fa_arena_tls_release(g));
		EXPECT_EQ(0, fa_arena_group_destroy(g));
		tried++;
	}
	EXPECT_EQ(0, sched_setaffinity(0, sizeof(old), &old));
	EXPECT_LT(0, tried);
}

TEST_HARNESS_MAIN
