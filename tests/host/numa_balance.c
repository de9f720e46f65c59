// SPDX-License-Identifier: MIT
/*
 * Balancing of pool memory between nodes (FA_NUMA_BALANCE with node_cap)
 * and fa_numa_trim's pool trimming.  In the VM (2 or 4 nodes): a node
 * fills its pool to its cap and frees everything; its nearest neighbour
 * then goes past its own cap without spilling, because the idle node's
 * budget moved (counted, the total kept, the memory on the right node);
 * and the budget comes back the other way.  Without the flag the same
 * workload spills.  On a one-node host the cross-node cases skip.
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP   ((size_t)8 << 20)
#define OBJ   4096
#define NOBJ  (int)(CAP * 3 / 2 / OBJ) /* half as much again as one share */
#define NOBJ2 (int)(CAP * 5 / 4 / OBJ) /* a quarter more than one share */

struct nodes {
	struct fa_topology t;
	int mem[FA_MAX_NODES], nr_mem; /* node ids with memory */
};

static void get_nodes(struct nodes *n)
{
	memset(n, 0, sizeof(*n));
	if (fa_topology_read(&n->t))
		return;
	for (int i = 0; i < n->t.nr_nodes; i++)
		if (n->t.node[i].has_memory)
			n->mem[n->nr_mem++] = n->t.node[i].node;
}

/* The node the kernel placed the (touched) page of p on, or -errno. */
static int kernel_node(void *p)
{
	void *pg = (void *)((uintptr_t)p & ~(uintptr_t)4095);
	int status = -1;

	if (numa_available() < 0)
		return 0;
	if (move_pages(0, 1, &pg, NULL, &status, 0))
		return -errno;
	return status;
}

/* Is p on node?  move_pages where the mapping allows it, else the
 * library's check (which asks the device). */
static int placed_on(struct fa_numa *n, void *p, int node)
{
	int k = kernel_node(p);

	if (k >= 0)
		return k == node;
	return fa_numa_page_node(n, p) == node;
}

static const struct fa_numa_node_stats *node_st(const struct fa_numa_stats *st, int node)
{
	for (int i = 0; i < st->nr_nodes; i++)
		if (st->node[i].node == node)
			return &st->node[i];
	return NULL;
}

static uint64_t total_cap(const struct fa_numa_stats *st)
{
	uint64_t t = 0;

	for (int i = 0; i < st->nr_nodes; i++)
		if (st->node[i].has_memory)
			t += st->node[i].cap;
	return t;
}

/* Fill node's pool to its cap straight through the pool (no spill, no
 * balance), free it all and hand this thread's cache back: the node's
 * whole share is then idle.  Returns the objects it took. */
static int fill_and_free(struct __test_metadata *_metadata, struct fa_numa *n, int node)
{
	struct fa_pool *p = fa_numa_pool(n, node);
	void **v = calloc(CAP / OBJ + 64, sizeof(*v));
	int k = 0;

	EXPECT_NE(NULL, p);
	EXPECT_NE(NULL, v);
	if (!p || !v)
		return 0;
	while (k < (int)(CAP / OBJ + 64) && (v[k] = fa_pool_alloc(p, OBJ))) {
		memset(v[k], 0x11, OBJ);
		k++;
	}
	EXPECT_EQ(ENOMEM, errno);
	for (int i = 0; i < k; i++)
		fa_pool_free(p, v[i]);
	EXPECT_EQ(0, fa_pool_flush(p, 0));
	free(v);
	return k;
}

/* On every host: fa_numa_trim frees idle slabs and unmaps the pool's idle
 * regions; the profile stays whole. */
TEST(trim_releases_pool_memory)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct fa_numa_stats st;
	struct nodes nd;
	void *v[5000], *keep;
	int node;

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	ASSERT_GE(nd.nr_mem, 1);
	node = nd.mem[0];
	keep = fa_numa_alloc_onnode(n, 64, node);
	ASSERT_NE(NULL, keep);
	for (int i = 0; i < 5000; i++) {
		v[i] = fa_numa_alloc_onnode(n, 512, node);
		ASSERT_NE(NULL, v[i]);
		memset(v[i], 3, 512);
	}
	for (int i = 0; i < 5000; i++)
		fa_numa_free(n, v[i]);
	ASSERT_EQ(0, fa_pool_flush(fa_numa_pool(n, node), 0));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_GE(node_st(&st, node)->fragmented, (uint64_t)5000 * 512);
	ASSERT_EQ(0, fa_numa_trim(n, node));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	{
		const struct fa_numa_node_stats *s = node_st(&st, node);

		/* only keep's slab is carved: the rest of its region is idle */
		EXPECT_LT(s->fragmented, (uint64_t)65536);
		EXPECT_LE(s->mapped, (uint64_t)2 << 20);
		EXPECT_EQ(s->mapped, s->in_use + s->fragmented + s->idle);
		EXPECT_EQ(1, s->live_objects);
	}
	fa_numa_free(n, keep);
	ASSERT_EQ(0, fa_pool_flush(fa_numa_pool(n, node), 0));
	ASSERT_EQ(0, fa_numa_trim(n, -1));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, node_st(&st, node)->mapped);
	EXPECT_EQ(-EINVAL, fa_numa_trim(n, nd.t.max_node + 1));
	EXPECT_EQ(-EINVAL, fa_numa_trim(NULL, -1));
	fa_numa_destroy(n);
}

/* With node_cap and no other node, the share is node_cap and nothing
 * moves; the counters exist and say so. */
TEST(cap_reported)
{
	struct fa_numa_opts o = { .node_cap = CAP, .flags = FA_NUMA_BALANCE };
	struct fa_numa *n = fa_numa_create(&o);
	struct fa_numa_stats st;
	struct nodes nd;

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ((uint64_t)nd.nr_mem * CAP, total_cap(&st));
	for (int i = 0; i < nd.nr_mem; i++) {
		EXPECT_EQ(CAP, node_st(&st, nd.mem[i])->cap);
		EXPECT_EQ(0, node_st(&st, nd.mem[i])->slab_moves_in);
	}
	fa_numa_destroy(n);
}

/* Each cross-node case twice: the default backend (the device where
 * loaded) and the mbind'ed fallback, where move_pages is the proof. */
FIXTURE(bal)
{
	struct nodes nd;
	int a, b; /* a node with memory and its nearest */
};

FIXTURE_VARIANT(bal)
{
	const char *backend;
};

FIXTURE_VARIANT_ADD(bal, auto){
	.backend = "auto",
};

FIXTURE_VARIANT_ADD(bal, fallback){
	.backend = "small",
};

#define NEED_TWO()                                                                        \
	do {                                                                              \
		if (self->nd.nr_mem < 2)                                                  \
			SKIP(return, "%d memory node(s): no other node's budget to take", \
			           self->nd.nr_mem);                                      \
	} while (0)

FIXTURE_SETUP(bal)
{
	struct fa_numa *n;
	int order[FA_MAX_NODES];

	get_nodes(&self->nd);
	setenv("FINALLOC_BACKEND", variant->backend, 1);
	if (self->nd.nr_mem < 2)
		return; /* each test skips */
	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, n);
	self->a = self->nd.mem[0];
	ASSERT_GE(fa_numa_spill_order(n, self->a, order, FA_MAX_NODES), 1);
	self->b = order[0];
	fa_numa_destroy(n);
}

FIXTURE_TEARDOWN(bal)
{
	unsetenv("FINALLOC_BACKEND");
}

/* Allocate nobj objects on node; how many landed elsewhere (spilled). */
/* Free v[0..nobj), destroy n, free the array. */
static void release_all(struct fa_numa *n, void **v, int nobj)
{
	for (int i = 0; i < nobj; i++)
		fa_numa_free(n, v[i]);
	fa_numa_destroy(n);
	free(v);
}

static int alloc_on(struct __test_metadata *_metadata, struct fa_numa *n, int node, void **v,
                    int nobj)
{
	int away = 0;

	for (int i = 0; i < nobj; i++) {
		v[i] = fa_numa_alloc_onnode(n, OBJ, node);
		EXPECT_NE(NULL, v[i]);
		if (!v[i])
			return -1;
		memset(v[i], 0x22, OBJ);
		away += fa_numa_node_of(n, v[i]) != node;
	}
	return away;
}

/* The profile's text and HTML reports say what moved (finalloc numa prints
 * them): a "balance:" line under the node, its budget cells in the table. */
static void report_shows_move(struct __test_metadata *_metadata, struct fa_numa *n, int node)
{
	struct fa_numa_profile *pr = calloc(1, sizeof(*pr));
	char want[64], *buf, *at;
	size_t len;
	FILE *f;

	ASSERT_NE(NULL, pr);
	ASSERT_EQ(0, fa_numa_profile(n, pr));
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fa_numa_report(pr, FA_NUMA_REPORT_TEXT, f));
	fclose(f);
	snprintf(want, sizeof(want), "node %d", node);
	at = strstr(buf, want);
	ASSERT_NE(NULL, at);
	at = strstr(at, "balance: ");
	EXPECT_NE(NULL, at);
	if (at)
		EXPECT_NE(NULL, strstr(at, "pool budget in "));
	free(buf);
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fa_numa_report(pr, FA_NUMA_REPORT_HTML, f));
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "<th>pool budget in</th>"));
	free(buf);
	free(pr);
}

TEST_F(bal, idle_budget_moves_to_the_short_node)
{
	struct fa_numa_opts o = { .node_cap = CAP, .flags = FA_NUMA_BALANCE };
	const struct fa_numa_node_stats *sa, *sb;
	struct fa_numa_verify ver;
	struct fa_numa_stats st;
	struct fa_numa *n;
	int a = self->a, b = self->b, filled, away;
	void **v;

	NEED_TWO();
	v = calloc(NOBJ, sizeof(*v));
	ASSERT_NE(NULL, v);
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	filled = fill_and_free(_metadata, n, b);
	EXPECT_GT(filled, (int)(CAP / OBJ / 2));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_GE(node_st(&st, b)->mapped, CAP - ((size_t)1 << 20));
	EXPECT_EQ(0, node_st(&st, b)->live_objects);

	/* a goes half again past its share, all of it on a */
	away = alloc_on(_metadata, n, a, v, NOBJ);
	EXPECT_EQ(0, away);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	sa = node_st(&st, a);
	sb = node_st(&st, b);
	EXPECT_EQ(0, st.spills);
	EXPECT_EQ(0, sa->spills_out);
	EXPECT_GT(sa->mapped, CAP);
	EXPECT_GT(sa->cap, CAP);
	EXPECT_LT(sb->cap, CAP);
	EXPECT_GE(sa->slab_moves_in, 1);
	EXPECT_EQ(sa->slab_moves_in, sb->slab_moves_out);
	EXPECT_EQ(sa->slab_bytes_in, sb->slab_bytes_out);
	EXPECT_EQ(CAP + sa->slab_bytes_in, sa->cap);
	EXPECT_GT(sa->slab_bytes_in, CAP / 2);
	EXPECT_EQ(0, sb->slab_moves_in);
	EXPECT_EQ((uint64_t)self->nd.nr_mem * CAP, total_cap(&st)); /* never grows */
	EXPECT_LE(sb->mapped, sb->cap);
	EXPECT_LE(sa->mapped, sa->cap);
	TH_LOG("%s: node %d took %llu bytes of node %d's share in %llu move(s); reserved %llu "
	       "on %d, %llu on %d",
	       variant->backend, a, (unsigned long long)sa->slab_bytes_in, b,
	       (unsigned long long)sa->slab_moves_in, (unsigned long long)sa->mapped, a,
	       (unsigned long long)sb->mapped, b);
	/* the memory is a's: the kernel says so, and the verifier finds none
	 * elsewhere */
	for (int i = 0; i < NOBJ; i += NOBJ / 16) {
		EXPECT_EQ(a, fa_numa_node_of(n, v[i]));
		EXPECT_TRUE(placed_on(n, v[i], a));
	}
	EXPECT_TRUE(placed_on(n, v[NOBJ - 1], a));
	if (!strcmp(variant->backend, "small"))
		EXPECT_EQ(a, kernel_node(v[NOBJ - 1]));
	EXPECT_EQ(0, fa_numa_verify(n, a, &ver));
	EXPECT_EQ(0, ver.misplaced);
	report_shows_move(_metadata, n, a);

	/* and back: a frees everything, b goes past its (smaller) share */
	for (int i = 0; i < NOBJ; i++)
		fa_numa_free(n, v[i]);
	ASSERT_EQ(0, fa_pool_flush(fa_numa_pool(n, a), 0));
	away = alloc_on(_metadata, n, b, v, NOBJ);
	EXPECT_EQ(0, away);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	sa = node_st(&st, a);
	sb = node_st(&st, b);
	EXPECT_EQ(0, st.spills);
	EXPECT_GE(sb->slab_moves_in, 1);
	EXPECT_EQ(sa->slab_bytes_out, sb->slab_bytes_in);
	EXPECT_GT(sb->mapped, CAP);
	EXPECT_EQ((uint64_t)self->nd.nr_mem * CAP, total_cap(&st));
	for (int i = 0; i < NOBJ; i += NOBJ / 16)
		EXPECT_TRUE(placed_on(n, v[i], b));
	EXPECT_EQ(0, fa_numa_verify(n, b, &ver));
	EXPECT_EQ(0, ver.misplaced);
	release_all(n, v, NOBJ);
}

/* Live objects keep their budget: nothing moves, a spills. */
TEST_F(bal, live_memory_stays)
{
	struct fa_numa_opts o = { .node_cap = CAP, .flags = FA_NUMA_BALANCE };
	struct fa_pool *pb;
	struct fa_numa_stats st;
	struct fa_numa *n;
	int k = 0, away;
	void **v, **w;

	NEED_TWO();
	v = calloc(NOBJ, sizeof(*v));
	w = calloc(CAP / OBJ + 64, sizeof(*w));
	ASSERT_NE(NULL, v);
	ASSERT_NE(NULL, w);
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	pb = fa_numa_pool(n, self->b);
	while (k < (int)(CAP / OBJ + 64) && (w[k] = fa_pool_alloc(pb, OBJ)))
		k++;
	/* every other object freed: no slab of b is idle; a's share and the
	 * objects free on b hold what a asks */
	for (int i = 0; i < k; i += 2)
		fa_pool_free(pb, w[i]);
	ASSERT_EQ(0, fa_pool_flush(pb, 0));
	away = alloc_on(_metadata, n, self->a, v, NOBJ2);
	EXPECT_GT(away, 0);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, node_st(&st, self->a)->slab_moves_in);
	EXPECT_EQ(CAP, node_st(&st, self->a)->cap);
	EXPECT_GT(st.spills, 0);
	EXPECT_EQ((uint64_t)self->nd.nr_mem * CAP, total_cap(&st));
	for (int i = 0; i < NOBJ2; i++)
		fa_numa_free(n, v[i]);
	for (int i = 1; i < k; i += 2)
		fa_pool_free(pb, w[i]);
	fa_numa_destroy(n);
	free(v);
	free(w);
}

/* Without FA_NUMA_BALANCE the same workload spills and no budget moves. */
TEST_F(bal, without_balance_it_spills)
{
	struct fa_numa_opts o = { .node_cap = CAP };
	struct fa_numa_stats st;
	struct fa_numa *n;
	int away;
	void **v;

	NEED_TWO();
	v = calloc(NOBJ, sizeof(*v));
	ASSERT_NE(NULL, v);
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	fill_and_free(_metadata, n, self->b);
	away = alloc_on(_metadata, n, self->a, v, NOBJ);
	EXPECT_GT(away, 0);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ((uint64_t)away, st.spills);
	EXPECT_EQ(0, node_st(&st, self->a)->slab_moves_in);
	EXPECT_EQ(CAP, node_st(&st, self->a)->cap);
	EXPECT_LE(node_st(&st, self->a)->mapped, CAP);
	release_all(n, v, NOBJ);
}

/* A large map short of budget takes it from the nearest idle pool too. */
TEST_F(bal, large_map_takes_idle_budget)
{
	struct fa_numa_opts o = { .node_cap = CAP, .flags = FA_NUMA_BALANCE };
	const size_t big = (size_t)5 << 20;
	struct fa_numa_stats st;
	struct fa_numa *n;
	char *p, *q;

	NEED_TWO();
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	fill_and_free(_metadata, n, self->b);
	p = fa_numa_alloc_onnode(n, big, self->a);
	ASSERT_NE(NULL, p);
	q = fa_numa_alloc_onnode(n, big, self->a); /* past a's own share */
	ASSERT_NE(NULL, q);
	memset(q, 5, big);
	EXPECT_EQ(self->a, fa_numa_node_of(n, q));
	EXPECT_TRUE(placed_on(n, q + big / 2, self->a));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, st.spills);
	EXPECT_GE(node_st(&st, self->a)->slab_moves_in, 1);
	EXPECT_EQ((uint64_t)self->nd.nr_mem * CAP, total_cap(&st));
	fa_numa_free(n, p);
	fa_numa_free(n, q);
	fa_numa_destroy(n);
}

TEST_HARNESS_MAIN
