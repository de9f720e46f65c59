// SPDX-License-Identifier: MIT
/*
 * NUMA allocator: placement (move_pages / device query), the thread's node
 * following pinning and migration, remote counting, distance-ordered spills,
 * policies, profiler totals, report well-formedness, bad input.
 * In the VM the rig sets FA_EXPECT_NODES (2 or 4) and the tests insist on
 * that many nodes; on a one-node host the cross-node cases skip.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "pool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "node_meminfo.h"

struct nodes {
	struct fa_topology t;
	int mem[FA_MAX_NODES], nr_mem; /* node ids with memory */
	int cpu[FA_MAX_NODES], nr_cpu; /* node ids with CPUs */
};

static void get_nodes(struct nodes *n)
{
	memset(n, 0, sizeof(*n));
	if (fa_topology_read(&n->t))
		return;
	for (int i = 0; i < n->t.nr_nodes; i++) {
		if (n->t.node[i].has_memory)
			n->mem[n->nr_mem++] = n->t.node[i].node;
		if (n->t.node[i].nr_cpus)
			n->cpu[n->nr_cpu++] = n->t.node[i].node;
	}
}

static int expect_nodes(void)
{
	const char *e = getenv("FA_EXPECT_NODES");

	return e ? atoi(e) : 0;
}

/* The node the kernel placed the (touched) page of p on. */
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

static int distance(int a, int b)
{
	return numa_available() < 0 ? (a == b ? 10 : 20) : numa_distance(a, b);
}

/* The memory node serving node: itself, or its nearest with memory. */
static int serving(struct fa_numa *n, const struct nodes *nd, int node)
{
	int out[1];

	for (int i = 0; i < nd->nr_mem; i++)
		if (nd->mem[i] == node)
			return node;
	return fa_numa_spill_order(n, node, out, 1) >= 1 ? out[0] : -1;
}

TEST(rig_has_expected_nodes)
{
	struct nodes nd;
	int want = expect_nodes();

	get_nodes(&nd);
	ASSERT_GE(nd.t.nr_nodes, 1);
	if (!want)
		SKIP(return, "host run: %d node(s)", nd.t.nr_nodes);
	ASSERT_EQ(want, nd.t.nr_nodes);
	/* 4 nodes: node 2 has a CPU and no memory, node 3 memory and no CPU */
	ASSERT_EQ(want == 4 ? 3 : want, nd.nr_mem);
	ASSERT_EQ(want == 4 ? 3 : want, nd.nr_cpu);
}

TEST(bad_input)
{
	struct fa_numa_opts o;
	struct fa_mem_opts mem;
	struct fa_pool_opts po;
	struct fa_numa *n;
	struct nodes nd;
	int x = 0, out[4];

	get_nodes(&nd);
	memset(&o, 0, sizeof(o));
	o.policy = 3;
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.flags = 1u << 30;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.reserved[2] = 1;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.reserved0 = 1;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	memset(&po, 0, sizeof(po));
	memset(&mem, 0, sizeof(mem));
	po.mem = &mem;
	o.pool = &po;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	mem.flags = 1u << 20;
	o.mem = &mem;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(EINVAL, errno);

	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, n);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc(NULL, 8));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc(n, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc_onnode(n, 8, -1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc_onnode(n, 8, nd.t.max_node + 1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc_onnode(n, 8, FA_MAX_NODES + 5));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc_onnode(n, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, fa_numa_node_of(n, NULL));
	EXPECT_EQ(-EINVAL, fa_numa_node_of(NULL, &x));
	EXPECT_EQ(-EINVAL, fa_numa_spill_order(n, -1, out, 4));
	EXPECT_EQ(-EINVAL, fa_numa_spill_order(n, 0, NULL, 4));
	EXPECT_EQ(-EINVAL, fa_numa_stats(n, NULL));
	EXPECT_EQ(-EINVAL, fa_numa_stats(NULL, NULL));
	EXPECT_EQ(-EINVAL, fa_numa_page_node(n, NULL));
	EXPECT_EQ(-EINVAL, fa_numa_verify(n, nd.t.max_node + 1, NULL));
	EXPECT_EQ(-EINVAL, fa_numa_pin_thread(-1));
	EXPECT_EQ(-EINVAL, fa_numa_pin_thread(nd.t.max_node + 1));
	EXPECT_EQ(-EINVAL, fa_numa_threads(NULL, 3));
	EXPECT_EQ(-EINVAL, fa_numa_node_cpus(0, NULL, 1));
	EXPECT_EQ(NULL, fa_numa_pool(n, -1));
	EXPECT_EQ(NULL, fa_numa_arena(n, nd.t.max_node + 1));
	fa_numa_free(n, NULL); /* no-op */
	/* below the first 64 KiB boundary there is no header to read: said
	 * and refused, not a fault */
	errno = 0;
	fa_numa_free(n, (void *)(uintptr_t)0x1000);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	fa_numa_free(NULL, (void *)(uintptr_t)0x1000);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, fa_numa_node_of(n, (void *)(uintptr_t)0x1000));
	EXPECT_EQ(0, fa_numa_usable_size(n, (void *)(uintptr_t)0x1000));
	fa_numa_destroy(NULL);
	fa_numa_destroy(n);
}

/* A forced backend that is absent fails the create (ENODEV), whether the
 * options or FINALLOC_BACKEND force it, not every allocation after. */
TEST(forced_absent_backend_fails_create)
{
	struct fa_mem_opts mem = { .backend = FA_BACKEND_DEVICE };
	struct fa_numa_opts o = { .mem = &mem };
	int fd = open("/dev/finalloc", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		SKIP(return, "/dev/finalloc present");
	}
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_create(&o));
	EXPECT_EQ(ENODEV, errno);
	setenv("FINALLOC_BACKEND", "device", 1);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_create(NULL));
	EXPECT_EQ(ENODEV, errno);
	/* an explicit option still wins over the environment */
	mem.backend = FA_BACKEND_SMALL;
	struct fa_numa *n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	void *p = fa_numa_alloc(n, 64);
	EXPECT_NE(NULL, p);
	fa_numa_free(n, p);
	fa_numa_destroy(n);
	unsetenv("FINALLOC_BACKEND");
}

/* A node without memory: STRICT refuses it, PREFERRED serves its nearest. */
TEST(cpu_only_node)
{
	struct fa_numa_opts o = { .policy = FA_NUMA_STRICT };
	struct fa_numa *n;
	struct nodes nd;
	int cpu_only = -1;
	void *p;

	get_nodes(&nd);
	for (int i = 0; i < nd.t.nr_nodes; i++)
		if (!nd.t.node[i].has_memory)
			cpu_only = nd.t.node[i].node;
	if (cpu_only < 0)
		SKIP(return, "every node has memory here");
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_alloc_onnode(n, 64, cpu_only));
	EXPECT_EQ(ENOMEM, errno);
	fa_numa_destroy(n);
	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, n);
	p = fa_numa_alloc_onnode(n, 64, cpu_only);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(serving(n, &nd, cpu_only), fa_numa_node_of(n, p));
	EXPECT_NE(cpu_only, fa_numa_node_of(n, p));
	if (expect_nodes() == 4)
		EXPECT_EQ(1, fa_numa_node_of(n, p)); /* d(2,1) = 25 < d(2,0) = d(2,3) = 30 */
	fa_numa_free(n, p);
	fa_numa_destroy(n);
}

/* Each test twice: the default backend (the device where loaded) and the
 * mbind'ed fallback (4 KiB pages), where move_pages is the proof. */
FIXTURE(backend)
{
	struct fa_numa *n;
};

FIXTURE_VARIANT(backend)
{
	const char *backend;
};

FIXTURE_VARIANT_ADD(backend, auto){
	.backend = "auto",
};

FIXTURE_VARIANT_ADD(backend, fallback){
	.backend = "small",
};

FIXTURE_SETUP(backend)
{
	setenv("FINALLOC_BACKEND", variant->backend, 1);
	self->n = fa_numa_create(NULL);
	ASSERT_NE(NULL, self->n);
}

FIXTURE_TEARDOWN(backend)
{
	fa_numa_destroy(self->n);
	unsetenv("FINALLOC_BACKEND");
}

/* Is p on node?  The kernel's own answer: move_pages where the mapping
 * allows it (fallback memory, device memory on 6.1), else the library's
 * check (which then asks the device). */
static int placed_on(struct fa_numa *n, void *p, int node)
{
	int k = kernel_node(p);

	if (k >= 0)
		return k == node;
	return fa_numa_page_node(n, p) == node;
}

/* Every memory node: small and large objects land there (node_of, and the
 * kernel's own answer through move_pages / the device query). */
TEST_F(backend, lands_on_node)
{
	struct fa_numa *n = self->n;
	struct fa_numa_verify v;
	struct fa_numa_stats st;
	struct nodes nd;
	int moved = 0;

	get_nodes(&nd);
	for (int i = 0; i < nd.nr_mem; i++) {
		int node = nd.mem[i];
		char *small[64], *big;

		for (int k = 0; k < 64; k++) {
			small[k] = fa_numa_alloc_onnode(n, 64, node);
			ASSERT_NE(NULL, small[k]);
			memset(small[k], 0x5a, 64);
			EXPECT_EQ(node, fa_numa_node_of(n, small[k]));
		}
		big = fa_numa_alloc_onnode(n, 3 << 20, node);
		ASSERT_NE(NULL, big);
		memset(big, 1, 3 << 20);
		EXPECT_EQ(node, fa_numa_node_of(n, big));
		EXPECT_EQ(node, fa_numa_page_node(n, small[0]));
		EXPECT_EQ(node, fa_numa_page_node(n, small[63]));
		EXPECT_EQ(node, fa_numa_page_node(n, big));
		EXPECT_EQ(node, fa_numa_page_node(n, big + (3 << 20) - 1));
		EXPECT_TRUE(placed_on(n, big + (2 << 20), node));
		EXPECT_TRUE(placed_on(n, small[5], node));
		moved += kernel_node(big) >= 0;
		if (!strcmp(variant->backend, "small"))
			EXPECT_EQ(node, kernel_node(small[7]));
		ASSERT_EQ(0, fa_numa_verify(n, node, &v));
		EXPECT_GT(v.on_node, 0);
		EXPECT_EQ(0, v.misplaced);
		TH_LOG("node %d: %llu pages sampled on node, %llu not faulted", node,
		       (unsigned long long)v.on_node, (unsigned long long)v.unknown);
		for (int k = 0; k < 64; k++)
			fa_numa_free(n, small[k]);
		fa_numa_free(n, big);
	}
	ASSERT_EQ(0, fa_numa_verify(n, -1, &v));
	EXPECT_EQ(0, v.misplaced);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, st.misplaced);
	TH_LOG("%s backend: move_pages answered for %d of %d nodes", variant->backend, moved,
	       nd.nr_mem);
}

/* Memory moved off its node behind the allocator's back is found. */
TEST_F(backend, misplaced_detected)
{
	struct fa_numa *n = self->n;
	struct fa_numa_verify v;
	struct fa_numa_stats st;
	struct nodes nd;
	int target, status = -1;
	char *big;
	void *pg;

	get_nodes(&nd);
	if (nd.nr_mem < 2 || strcmp(variant->backend, "small"))
		SKIP(return, "needs two memory nodes and migratable (fallback) memory");
	big = fa_numa_alloc_onnode(n, 1 << 20, nd.mem[0]);
	ASSERT_NE(NULL, big);
	memset(big, 2, 1 << 20);
	ASSERT_EQ(0, fa_numa_verify(n, nd.mem[0], &v));
	target = nd.mem[1];
	pg = big + (512 << 10);
	ASSERT_EQ(0, move_pages(0, 1, &pg, &target, &status, MPOL_MF_MOVE));
	ASSERT_EQ(target, status);
	EXPECT_EQ(target, fa_numa_page_node(n, pg));
	EXPECT_EQ(-EREMOTE, fa_numa_verify(n, nd.mem[0], &v));
	EXPECT_EQ(1, v.misplaced);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(2, st.misplaced); /* the check and the verify */
	fa_numa_free(n, big);
}

static const struct fa_numa_node_stats *node_st(const struct fa_numa_stats *st, int node)
{
	for (int i = 0; i < st->nr_nodes; i++)
		if (st->node[i].node == node)
			return &st->node[i];
	return NULL;
}

/* A freed large map stays idle on its node and serves the next large
 * request there; under FA_NUMA_BALANCE another node short of one takes it
 * (migrated, or released and mapped afresh for device memory). */
TEST_F(backend, idle_maps_reused_and_moved)
{
	const size_t sz = (size_t)3 << 20;
	struct fa_numa_opts o = { .flags = FA_NUMA_BALANCE };
	struct fa_numa_stats st;
	struct fa_numa *n;
	struct nodes nd;
	char *p, *q;
	int a, b;

	get_nodes(&nd);
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	a = nd.mem[0];
	p = fa_numa_alloc_onnode(n, sz, a);
	ASSERT_NE(NULL, p);
	memset(p, 1, sz);
	EXPECT_EQ(sz, fa_numa_usable_size(n, p));
	fa_numa_free(n, p);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_GE(node_st(&st, a)->idle_maps_bytes, sz);
	EXPECT_EQ(0, node_st(&st, a)->live_objects);
	q = fa_numa_alloc_onnode(n, sz, a);
	EXPECT_EQ(p, q); /* the same map, no syscall */
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(1, node_st(&st, a)->large_reused);
	EXPECT_EQ(0, node_st(&st, a)->idle_maps_bytes);
	fa_numa_free(n, q);
	if (nd.nr_mem < 2) {
		EXPECT_EQ(0, fa_numa_trim(n, -1));
		ASSERT_EQ(0, fa_numa_stats(n, &st));
		EXPECT_EQ(0, node_st(&st, a)->idle_maps_bytes);
		fa_numa_destroy(n);
		SKIP(return, "one memory node: nothing to move");
	}
	b = nd.mem[1];
	q = fa_numa_alloc_onnode(n, sz, b);
	ASSERT_NE(NULL, q);
	memset(q, 2, sz);
	EXPECT_EQ(b, fa_numa_node_of(n, q));
	EXPECT_TRUE(placed_on(n, q, b));
	EXPECT_TRUE(placed_on(n, q + sz - 1, b));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(1, node_st(&st, a)->chunks_out);
	EXPECT_EQ(1, node_st(&st, b)->chunks_in);
	EXPECT_EQ(0, node_st(&st, a)->idle_maps_bytes);
	EXPECT_EQ(0, node_st(&st, b)->move_failures);
	if (!strcmp(variant->backend, "small"))
		EXPECT_EQ(p, q); /* migrated in place */
	fa_numa_free(n, q);
	EXPECT_EQ(0, fa_numa_trim(n, b));
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, node_st(&st, b)->idle_maps_bytes);
	EXPECT_EQ(-EINVAL, fa_numa_trim(n, nd.t.max_node + 1));
	fa_numa_destroy(n);

	/* without BALANCE the other node maps its own */
	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, n);
	fa_numa_free(n, fa_numa_alloc_onnode(n, sz, a));
	q = fa_numa_alloc_onnode(n, sz, b);
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, node_st(&st, b)->chunks_in);
	EXPECT_GE(node_st(&st, a)->idle_maps_bytes, sz);
	fa_numa_free(n, q);
	fa_numa_destroy(n);
}

/* A 64 MiB allocation raises its node's MemUsed by about that, and the
 * other node's by far less (VM: root, quiet system). */
TEST(large_meminfo_delta)
{
	const size_t sz = (size_t)64 << 20;
	struct fa_numa *n;
	struct nodes nd;

	get_nodes(&nd);
	if (nd.nr_mem < 2 || !getenv("FA_IN_VM"))
		SKIP(return, "needs two memory nodes and a quiet machine (the VM rig)");
	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, n);
	for (int i = 0; i < 2; i++) {
		int node = nd.mem[i], other = nd.mem[1 - i];
		uint64_t b0, o0, b1, o1;
		char *p;

		drop_caches();
		b0 = (node_used(node) >> 10);
		o0 = (node_used(other) >> 10);
		p = fa_numa_alloc_onnode(n, sz, node);
		ASSERT_NE(NULL, p);
		memset(p, 3, sz);
		drop_caches();
		b1 = (node_used(node) >> 10);
		o1 = (node_used(other) >> 10);
		TH_LOG("node %d MemUsed +%lld KiB, node %d %+lld KiB", node, (long long)(b1 - b0),
		       other, (long long)(o1 - o0));
		/* MemUsed moves by a few MiB on its own (ANCHORS) */
		EXPECT_GE((int64_t)(b1 - b0), (int64_t)(sz >> 10) - 8192);
		EXPECT_LT((int64_t)(o1 - o0), (int64_t)(sz >> 10) / 4);
		fa_numa_free(n, p);
	}
	fa_numa_destroy(n);
}

/* Pinned to each CPU node, fa_numa_alloc serves that node; moved (pin
 * helper or plain sched_setaffinity), the next allocation follows. */
static void *follow_thread(void *arg)
{
	struct fa_numa *n = arg;
	struct nodes nd;
	long bad = 0;

	get_nodes(&nd);
	for (int round = 0; round < 2; round++) {
		for (int i = nd.nr_cpu - 1; i >= 0; i--) {
			int node = nd.cpu[i], served;
			void *p;

			int want = serving(n, &nd, node);

			if (fa_numa_pin_thread(node))
				return (void *)1000L;
			if (fa_numa_thread_node() != node)
				bad++;
			p = fa_numa_alloc(n, 128);
			served = fa_numa_node_of(n, p);
			memset(p, 1, 128);
			/* a CPU-only node is served by its nearest memory node */
			if (served != want || !placed_on(n, p, want))
				bad++;
			fa_numa_free(n, p);
		}
	}
	return (void *)bad;
}

TEST_F(backend, thread_follows_pinning)
{
	struct fa_numa *n = self->n;
	struct nodes nd;
	pthread_t th;
	void *bad;

	get_nodes(&nd);
	if (nd.nr_cpu < 2 && expect_nodes())
		ASSERT_GE(nd.nr_cpu, 2);
	ASSERT_EQ(0, pthread_create(&th, NULL, follow_thread, n));
	ASSERT_EQ(0, pthread_join(th, &bad));
	EXPECT_EQ(0, (long)bad);
}

/* Same without rseq: getcpu re-read, immediately after the pin helper. */
TEST(thread_follows_pinning_getcpu)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct fa_numa_thread th_info[8];
	pthread_t th;
	void *bad;
	int cnt;

	ASSERT_NE(NULL, n);
	setenv("FINALLOC_NO_RSEQ", "1", 1);
	ASSERT_EQ(0, pthread_create(&th, NULL, follow_thread, n));
	ASSERT_EQ(0, pthread_join(th, &bad));
	EXPECT_EQ(0, (long)bad);
	/* this thread registers now, in getcpu mode */
	fa_numa_thread_node();
	cnt = fa_numa_threads(th_info, 8);
	ASSERT_EQ(1, cnt);
	EXPECT_EQ(0, th_info[0].rseq);
	unsetenv("FINALLOC_NO_RSEQ");
	fa_numa_destroy(n);
}

/* The thread moves itself with sched_setaffinity (no helper): with rseq
 * the very next allocation follows; with getcpu within 64 calls. */
TEST(migration_without_helper)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct fa_numa_thread ti[4];
	struct nodes nd;
	int last = -1, cnt;

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	if (nd.nr_cpu < 2)
		SKIP(fa_numa_destroy(n); return, "one CPU node");
	for (int i = 0; i < nd.nr_cpu; i++) {
		int node = nd.cpu[i], cpus[64], nc;
		cpu_set_t set;
		void *p;

		nc = fa_numa_node_cpus(node, cpus, 64);
		ASSERT_GT(nc, 0);
		CPU_ZERO(&set);
		for (int k = 0; k < nc && k < 64; k++)
			CPU_SET(cpus[k], &set);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
		p = fa_numa_alloc(n, 32);
		ASSERT_NE(NULL, p);
		cnt = fa_numa_threads(ti, 4);
		ASSERT_EQ(1, cnt);
		if (ti[0].rseq)
			EXPECT_EQ(serving(n, &nd, node), fa_numa_node_of(n, p));
		fa_numa_free(n, p);
		for (int k = 0; k < 70; k++) {
			p = fa_numa_alloc(n, 32);
			last = fa_numa_node_of(n, p);
			fa_numa_free(n, p);
		}
		EXPECT_EQ(serving(n, &nd, node), last);
		EXPECT_EQ(node, fa_numa_thread_node());
	}
	cnt = fa_numa_threads(ti, 4);
	EXPECT_GE(ti[0].migrations, 1);
	TH_LOG("rseq %d, migrations seen %llu", ti[0].rseq, (unsigned long long)ti[0].migrations);
	fa_numa_destroy(n);
}

/* Remote allocations and frees, counted per node and per thread. */
TEST(remote_counted)
{
	struct fa_numa_opts o = { .flags = FA_NUMA_WARN, .warn_interval_ms = 1 };
	struct fa_numa_stats st;
	struct fa_numa_thread ti[2];
	struct fa_numa *n;
	struct nodes nd;
	void *p[10];
	int home, far;

	get_nodes(&nd);
	if (nd.nr_mem < 2 || nd.nr_cpu < 1)
		SKIP(return, "one memory node");
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	home = nd.cpu[0];
	ASSERT_EQ(0, fa_numa_pin_thread(home));
	far = nd.mem[0] == home ? nd.mem[1] : nd.mem[0];
	for (int i = 0; i < 10; i++) {
		p[i] = fa_numa_alloc_onnode(n, 256, far);
		ASSERT_NE(NULL, p[i]);
	}
	/* local ones are not counted */
	fa_numa_free(n, fa_numa_alloc_onnode(n, 256, home));
	fa_numa_free(n, fa_numa_alloc(n, 256));
	for (int i = 0; i < 7; i++)
		fa_numa_free(n, p[i]);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(10, st.remote_allocs);
	EXPECT_EQ(7, st.remote_frees);
	for (int i = 0; i < st.nr_nodes; i++) {
		if (st.node[i].node == far) {
			EXPECT_EQ(10, st.node[i].remote_allocs);
			EXPECT_EQ(7, st.node[i].remote_frees);
		} else {
			EXPECT_EQ(0, st.node[i].remote_allocs);
			EXPECT_EQ(0, st.node[i].remote_frees);
		}
	}
	EXPECT_GE(st.warnings, 1);
	ASSERT_EQ(1, fa_numa_threads(ti, 2));
	EXPECT_EQ(10, ti[0].remote_allocs);
	EXPECT_EQ(7, ti[0].remote_frees);
	EXPECT_EQ(home, ti[0].pinned_node);
	for (int i = 7; i < 10; i++)
		fa_numa_free(n, p[i]);
	fa_numa_destroy(n);
}

/* The rig's distances: d(s,d) = 10 + 10(d-s) + 5s for s < d. */
static int rig_distance(int a, int b)
{
	if (a == b)
		return 10;
	if (a > b)
		return rig_distance(b, a);
	return 10 + 10 * (b - a) + 5 * a;
}

/* fa_numa_spill_order sorts the memory nodes by numa_distance (ties by
 * id); in the 4-node rig (memory on 0, 1, 3) that gives known orders. */
TEST(spill_order_by_distance)
{
	static const int rig4[4][3] = { { 1, 3, -1 }, { 0, 3, -1 }, { 1, 0, 3 }, { 1, 0, -1 } };
	struct fa_numa *n = fa_numa_create(NULL);
	struct nodes nd;
	int out[FA_MAX_NODES];

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	for (int i = 0; i < nd.t.nr_nodes; i++) {
		int node = nd.t.node[i].node;
		int cnt = fa_numa_spill_order(n, node, out, FA_MAX_NODES);

		ASSERT_EQ(nd.nr_mem - (nd.t.node[i].has_memory ? 1 : 0), cnt);
		for (int k = 0; k + 1 < cnt; k++) {
			int d0 = distance(node, out[k]), d1 = distance(node, out[k + 1]);

			EXPECT_TRUE(d0 < d1 || (d0 == d1 && out[k] < out[k + 1]));
		}
		if (expect_nodes() == 4)
			for (int k = 0; k < cnt; k++)
				EXPECT_EQ(rig4[node][k], out[k]);
		if (expect_nodes())
			for (int j = 0; j < nd.t.nr_nodes; j++)
				EXPECT_EQ(rig_distance(node, nd.t.node[j].node),
				          distance(node, nd.t.node[j].node));
	}
	fa_numa_destroy(n);
}

/* A node at its cap spills to the nearest node, then the next; STRICT fails. */
TEST(spill_follows_distance)
{
	const size_t cap = (size_t)4 << 20, obj = (size_t)512 << 10;
	struct fa_numa_opts o = { .node_cap = cap };
	struct fa_numa_stats st;
	struct fa_numa *n;
	struct nodes nd;
	int order[FA_MAX_NODES], cnt, from;
	int seen[FA_MAX_NODES] = { 0 };
	void *p[256];
	int np = 0;

	get_nodes(&nd);
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	from = nd.mem[nd.nr_mem - 1];
	cnt = fa_numa_spill_order(n, from, order, FA_MAX_NODES);
	/* fill from, then every node it spills to, in order */
	for (;;) {
		void *q = fa_numa_alloc_onnode(n, obj, from);
		int at;

		if (!q) {
			EXPECT_EQ(ENOMEM, errno);
			break;
		}
		ASSERT_LT(np, 256);
		p[np++] = q;
		at = fa_numa_node_of(n, q);
		seen[at]++;
		/* the first node with room is always the one served */
		if (at != from) {
			int k = 0;

			while (k < cnt && order[k] != at)
				k++;
			ASSERT_LT(k, cnt);
			for (int j = 0; j < k; j++)
				EXPECT_GT(seen[order[j]], 0);
		}
	}
	EXPECT_GT(seen[from], 0);
	for (int k = 0; k < cnt; k++)
		EXPECT_GT(seen[order[k]], 0);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(np - seen[from], (int)st.spills);
	for (int i = 0; i < st.nr_nodes; i++) {
		EXPECT_LE(st.node[i].mapped, cap);
		if (st.node[i].node != from)
			EXPECT_EQ((uint64_t)seen[st.node[i].node], st.node[i].spills_in);
	}
	TH_LOG("%d objects of %zu KiB, %llu spilled over %d node(s)", np, obj >> 10,
	       (unsigned long long)st.spills, cnt);
	for (int i = 0; i < np; i++)
		fa_numa_free(n, p[i]);
	fa_numa_destroy(n);

	/* STRICT: the same node, full, fails */
	o.policy = FA_NUMA_STRICT;
	n = fa_numa_create(&o);
	ASSERT_NE(NULL, n);
	np = 0;
	for (;;) {
		void *q = fa_numa_alloc_onnode(n, obj, from);

		if (!q)
			break;
		ASSERT_LT(np, 256);
		EXPECT_EQ(from, fa_numa_node_of(n, q));
		p[np++] = q;
	}
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_GT(np, 0);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	EXPECT_EQ(0, st.spills);
	for (int i = 0; i < np; i++)
		fa_numa_free(n, p[i]);
	fa_numa_destroy(n);
}

TEST(interleave_round_robin)
{
	struct fa_numa_opts o = { .policy = FA_NUMA_INTERLEAVE };
	struct fa_numa *n = fa_numa_create(&o);
	int count[FA_MAX_NODES] = { 0 };
	struct nodes nd;
	void *p[64];

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	for (int i = 0; i < 16 * nd.nr_mem && i < 64; i++) {
		p[i] = fa_numa_alloc(n, 100);
		ASSERT_NE(NULL, p[i]);
		count[fa_numa_node_of(n, p[i])]++;
	}
	for (int k = 0; k < nd.nr_mem; k++)
		EXPECT_EQ(16, count[nd.mem[k]]);
	for (int i = 0; i < 16 * nd.nr_mem && i < 64; i++)
		fa_numa_free(n, p[i]);
	fa_numa_destroy(n);
}

/* The profiler's library totals agree with what was allocated. */
TEST(profile_totals)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct fa_numa_profile *pr = calloc(1, sizeof(*pr));
	struct fa_numa_profile *all = calloc(1, sizeof(*all));
	struct nodes nd;
	void *p[FA_MAX_NODES][100], *big[FA_MAX_NODES];

	ASSERT_NE(NULL, n);
	ASSERT_NE(NULL, pr);
	get_nodes(&nd);
	for (int i = 0; i < nd.nr_mem; i++) {
		for (int k = 0; k < 100; k++)
			p[i][k] = fa_numa_alloc_onnode(n, 64, nd.mem[i]);
		big[i] = fa_numa_alloc_onnode(n, 1 << 20, nd.mem[i]);
		ASSERT_NE(NULL, big[i]);
	}
	ASSERT_EQ(0, fa_numa_profile(n, pr));
	ASSERT_EQ(nd.t.nr_nodes, pr->nr_nodes);
	EXPECT_EQ(1, pr->nr_allocators);
	for (int j = 0; j < pr->nr_nodes; j++) {
		const struct fa_numa_profile_node *pn = &pr->node[j];
		const struct fa_numa_node_stats *s = &pn->lib;

		if (!pn->has_memory)
			continue;
		/* 100 x 64 B + one large mapping of 1 MiB plus its header page(s) */
		EXPECT_EQ(100, s->live_objects - 1);
		EXPECT_GE(s->in_use, 100 * 64 + (1 << 20));
		EXPECT_LT(s->in_use, 100 * 64 + (1 << 20) + (4 << 20));
		EXPECT_EQ(s->mapped, s->in_use + s->fragmented + s->idle);
		EXPECT_GT(s->fragmented, 0);
		EXPECT_GT(pn->mem_total, 0);
		EXPECT_LE(pn->mem_free, pn->mem_total);
		EXPECT_GE(pn->mem_used, 0);
		if (pr->kmod_loaded)
			EXPECT_GE(pn->nr_kstats, 1);
	}
	/* all allocators: at least this one's */
	ASSERT_EQ(0, fa_numa_profile(NULL, all));
	EXPECT_GE(all->nr_allocators, 1);
	for (int i = 0; i < nd.nr_mem; i++) {
		for (int k = 0; k < 100; k++)
			fa_numa_free(n, p[i][k]);
		fa_numa_free(n, big[i]);
	}
	ASSERT_EQ(0, fa_numa_profile(n, pr));
	for (int j = 0; j < pr->nr_nodes; j++)
		EXPECT_EQ(0, pr->node[j].lib.live_objects);
	EXPECT_EQ(-EINVAL, fa_numa_profile(n, NULL));
	fa_numa_destroy(n);
	free(pr);
	free(all);
}

/* Tags balance (a stack check of <name ...> / </name> / <.../>). */
static int tags_balanced(const char *s, char *why, size_t wlen)
{
	char stack[64][32];
	int depth = 0;

	while ((s = strchr(s, '<'))) {
		const char *e = strchr(s, '>');
		char name[32];
		int k = 0, close = 0;

		if (!e) {
			snprintf(why, wlen, "unterminated tag");
			return 0;
		}
		if (s[1] == '!' || s[1] == '?') {
			s = e + 1;
			continue;
		}
		if (s[1] == '/')
			close = 1;
		for (const char *c = s + 1 + close;
		     c < e && k < 31 && *c != ' ' && *c != '/' && *c != '\n'; c++)
			name[k++] = *c;
		name[k] = 0;
		if (e[-1] == '/') {
			/* self-closing */
		} else if (close) {
			if (depth == 0 || strcmp(stack[depth - 1], name)) {
				snprintf(why, wlen, "</%s> closes <%s>", name,
				         depth ? stack[depth - 1] : "(nothing)");
				return 0;
			}
			depth--;
		} else if (strcmp(name, "meta")) { /* HTML void element */
			if (depth == 64)
				return 0;
			strcpy(stack[depth++], name);
		}
		s = e + 1;
	}
	if (depth) {
		snprintf(why, wlen, "<%s> left open", stack[depth - 1]);
		return 0;
	}
	return 1;
}

TEST(reports_well_formed)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct fa_numa_profile *pr = calloc(1, sizeof(*pr));
	struct nodes nd;
	char *buf, why[128] = "";
	size_t len;
	FILE *f;
	void *p;

	ASSERT_NE(NULL, n);
	ASSERT_NE(NULL, pr);
	get_nodes(&nd);
	p = fa_numa_alloc(n, 1000);
	ASSERT_EQ(0, fa_numa_profile(NULL, pr));

	for (int fmt = 0; fmt <= 2; fmt++) {
		f = open_memstream(&buf, &len);
		ASSERT_NE(NULL, f);
		ASSERT_EQ(0, fa_numa_report(pr, fmt, f));
		fclose(f);
		ASSERT_GT(len, 100);
		for (int i = 0; i < nd.t.nr_nodes; i++) {
			char want[32];

			snprintf(want, sizeof(want),
			         fmt == FA_NUMA_REPORT_TEXT ? "node %d" : "<g id=\"node%d\">",
			         nd.t.node[i].node);
			EXPECT_NE(NULL, strstr(buf, want));
		}
		if (fmt != FA_NUMA_REPORT_TEXT)
			EXPECT_TRUE(tags_balanced(buf, why, sizeof(why)));
		if (why[0])
			TH_LOG("format %d: %s", fmt, why);
		if (fmt == FA_NUMA_REPORT_SVG) {
			EXPECT_EQ(0, strncmp(buf, "<?xml", 5));
			EXPECT_NE(NULL, strstr(buf, "</svg>"));
			/* xmllint where installed (host), as a second opinion */
			if (access("/usr/bin/xmllint", X_OK) == 0) {
				char path[] = "/tmp/fa-numa-XXXXXX.svg";
				int fd = mkstemps(path, 4), st;

				ASSERT_GE(fd, 0);
				ASSERT_EQ((ssize_t)len, write(fd, buf, len));
				close(fd);
				char cmd[128];
				snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout %s", path);
				st = system(cmd);
				EXPECT_EQ(0, st);
				unlink(path);
			}
		}
		if (fmt == FA_NUMA_REPORT_HTML) {
			EXPECT_EQ(0, strncmp(buf, "<!DOCTYPE html>", 15));
			EXPECT_NE(NULL, strstr(buf, "<svg"));
			EXPECT_EQ(NULL, strstr(buf, "<script"));
			EXPECT_EQ(NULL, strstr(buf, "http://www.w3.org/1999")); /* no fetches */
		}
		free(buf);
	}
	f = open_memstream(&buf, &len);
	EXPECT_EQ(-EINVAL, fa_numa_report(pr, 9, f));
	EXPECT_EQ(-EINVAL, fa_numa_report(NULL, 0, f));
	fclose(f);
	free(buf);
	EXPECT_EQ(-EINVAL, fa_numa_report(pr, 0, NULL));
	/* a write error is said */
	f = fopen("/dev/full", "w");
	if (f) {
		EXPECT_EQ(-EIO, fa_numa_report(pr, FA_NUMA_REPORT_HTML, f));
		fclose(f);
	}
	fa_numa_free(n, p);
	fa_numa_destroy(n);
	free(pr);
}

/* Registry: threads appear with their node while alive, leave at exit. */
struct reg_arg {
	int node;
	pthread_barrier_t *in, *out;
};

static void *reg_thread(void *a)
{
	struct reg_arg *r = a;

	if (r->node >= 0)
		fa_numa_pin_thread(r->node);
	fa_numa_thread_node();
	pthread_barrier_wait(r->in);
	pthread_barrier_wait(r->out);
	return NULL;
}

TEST(registry_lists_threads)
{
	struct fa_numa_thread ti[8];
	pthread_barrier_t in, out;
	struct reg_arg ra[2];
	pthread_t th[2];
	struct nodes nd;
	int cnt, found = 0;

	get_nodes(&nd);
	pthread_barrier_init(&in, NULL, 3);
	pthread_barrier_init(&out, NULL, 3);
	for (int i = 0; i < 2; i++) {
		ra[i].node = nd.cpu[i % nd.nr_cpu];
		ra[i].in = &in;
		ra[i].out = &out;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reg_thread, &ra[i]));
	}
	pthread_barrier_wait(&in);
	cnt = fa_numa_threads(ti, 8);
	EXPECT_EQ(2, cnt);
	for (int k = 0; k < cnt && k < 8; k++) {
		EXPECT_GT(ti[k].tid, 0);
		EXPECT_EQ(ti[k].pinned_node, ti[k].node);
		EXPECT_EQ(fa_cpu_to_node(ti[k].cpu), ti[k].node);
		EXPECT_NE(0, ti[k].name[0]);
		found += ti[k].node == ra[0].node || ti[k].node == ra[1].node;
	}
	EXPECT_EQ(2, found);
	EXPECT_EQ(2, fa_numa_threads(ti, 1)); /* truncated copy, full count */
	pthread_barrier_wait(&out);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(0, fa_numa_threads(ti, 8));
	EXPECT_EQ(1, fa_numa_thread_node() >= 0);
	EXPECT_EQ(1, fa_numa_threads(ti, 8));
}

/* The per-node arena bump-allocates on its node. */
TEST(node_arena)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct nodes nd;

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	for (int i = 0; i < nd.nr_mem; i++) {
		struct fa_arena *a = fa_numa_arena(n, nd.mem[i]);
		char *p;

		struct fa_arena_stats as;

		ASSERT_NE(NULL, a);
		EXPECT_EQ(a, fa_numa_arena(n, nd.mem[i]));
		p = fa_arena_alloc(a, 4096);
		ASSERT_NE(NULL, p);
		memset(p, 7, 4096);
		ASSERT_EQ(0, fa_arena_stats(a, &as));
		EXPECT_EQ(nd.mem[i], as.mem.node_asked);
		EXPECT_EQ(nd.mem[i], as.mem.node);
		if (kernel_node(p) >= 0) /* PFNMAP device memory: no move_pages */
			EXPECT_EQ(nd.mem[i], kernel_node(p));
	}
	fa_numa_destroy(n);
}

/* A node's pool and arena belong to their fa_numa: destroying either is
 * refused with a message (before, fa_numa_destroy then aborted on a double
 * free), and both stay usable. */
TEST(node_pool_and_arena_are_not_destroyed)
{
	struct fa_numa *n = fa_numa_create(NULL);
	char err[512] = "";
	struct fa_arena *a;
	struct fa_pool *p;
	struct nodes nd;
	int saved, fd;
	void *o;

	ASSERT_NE(NULL, n);
	get_nodes(&nd);
	p = fa_numa_pool(n, nd.mem[0]);
	a = fa_numa_arena(n, nd.mem[0]);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, a);
	fd = fileno(tmpfile());
	ASSERT_LE(0, fd);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	errno = 0;
	fa_pool_destroy(p);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	fa_arena_destroy(a);
	EXPECT_EQ(EINVAL, errno);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ASSERT_LT(0, pread(fd, err, sizeof(err) - 1, 0));
	EXPECT_NE(NULL, strstr(err, "fa_pool_destroy: pool 'numa-node")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "fa_arena_destroy: arena ")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "belongs to a NUMA allocator")) TH_LOG("%s", err);
	/* both still work, and n frees them once */
	o = fa_pool_alloc(p, 64);
	ASSERT_NE(NULL, o);
	fa_pool_free(p, o);
	ASSERT_NE(NULL, fa_arena_alloc(a, 64));
	fa_numa_destroy(n);
}

/* Node pools with features (no inline bins) through fa_numa's own fast
 * paths: zeroed on allocation, a double free reported, the first free
 * counted. */
/* A pointer the allocator never gave out is never read: malloc'ed, on the
 * stack, another allocator's pool object.  Before the owner map, a malloc(8) pointer made
 * these read a header 64 KiB below it and crash in most runs. */
TEST(foreign_pointers_are_not_read)
{
	struct fa_numa *n = fa_numa_create(NULL);
	struct fa_pool *other = fa_pool_create(NULL);
	char stack[16];

	ASSERT_NE(NULL, n);
	ASSERT_NE(NULL, other);
	for (int i = 0; i < 64; i++) {
		char *m = malloc(8 + (size_t)i * 24);
		void *o = fa_pool_alloc(other, 32);
		void *ptrs[] = { m, stack, o };

		ASSERT_NE(NULL, m);
		for (unsigned k = 0; k < 3; k++) {
			errno = 0;
			EXPECT_EQ(-EINVAL, fa_numa_node_of(n, ptrs[k]));
			EXPECT_EQ(0, fa_numa_usable_size(n, ptrs[k]));
			fa_numa_free(n, ptrs[k]);
			EXPECT_EQ(EINVAL, errno);
		}
		fa_pool_free(other, o);
		free(m);
	}
	fa_pool_destroy(other);
	fa_numa_destroy(n);
}

TEST(node_pool_features)
{
	struct rec rec = { 0 };
	struct fa_pool_opts po = { .flags = FA_POOL_ZERO | FA_POOL_DEBUG,
		                   .report = record,
		                   .report_arg = &rec };
	struct fa_numa_opts o = { .pool = &po };
	struct fa_pool_stats st;
	struct fa_numa *n = fa_numa_create(&o);
	unsigned char *p, *q;

	ASSERT_NE(NULL, n);
	p = fa_numa_alloc(n, 64);
	ASSERT_NE(NULL, p);
	memset(p, 0xab, 64);
	fa_numa_free(n, p);
	q = fa_numa_alloc(n, 64);
	ASSERT_NE(NULL, q);
	for (int i = 0; i < 64; i++) {
		ASSERT_EQ(0, q[i]) TH_LOG("byte %d not zeroed", i);
	}
	fa_numa_free(n, q);
	EXPECT_EQ(0, rec.n);
	fa_numa_free(n, q);
	EXPECT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_DOUBLE_FREE, rec.last.error);
	ASSERT_EQ(0, fa_pool_stats(fa_numa_pool(n, fa_numa_node_of(n, q)), &st));
	EXPECT_EQ(2, st.frees);
	fa_numa_destroy(n);
}

/* With 4 KiB pages a small large object's map can end less than 64 KiB
 * after its header: the header's owner-map granule must still lie wholly
 * inside the map, or the object is not found (refused at free). */
TEST(small_pages_large_objects_found)
{
	struct fa_mem_opts mem = { .backend = FA_BACKEND_SMALL };
	struct fa_numa_opts o = { .flags = FA_NUMA_NO_IDLE, .mem = &mem };
	struct fa_numa_stats st;
	struct fa_numa *n = fa_numa_create(&o);
	static void *live[512];
	long lost = 0, count = 0;

	ASSERT_NE(NULL, n);
	/* kept live, so the maps (stacked by mmap) start at many 4 KiB
	 * offsets from a 64 KiB boundary */
	for (size_t sz = FA_POOL_SMALL_MAX + 1; count < 512; sz += 4096 + 64) {
		if (sz > 64 << 10)
			sz = FA_POOL_SMALL_MAX + 1 + (size_t)count;
		live[count] = fa_numa_alloc(n, sz);
		ASSERT_NE(NULL, live[count]);
		if (fa_numa_usable_size(n, live[count]) < sz)
			lost++;
		count++;
	}
	for (int i = 0; i < count; i++)
		fa_numa_free(n, live[i]);
	EXPECT_EQ(0, lost);
	ASSERT_EQ(0, fa_numa_stats(n, &st));
	for (int i = 0; i < st.nr_nodes; i++)
		EXPECT_EQ(st.node[i].allocs, st.node[i].frees);
	TH_LOG("%ld objects, %ld not found", count, lost);
	fa_numa_destroy(n);
}

TEST_HARNESS_MAIN
