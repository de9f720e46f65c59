// SPDX-License-Identifier: MIT
/*
 * Two threads run thousands of random create/mmap/touch/munmap/destroy
 * cycles on one shared file and on files of their own; afterwards nothing
 * is pinned and node MemUsed is back where it started.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

/*
 * The count of cycles is the test, not their speed: under TCG on a shared
 * host 30 s (the harness's default) was sometimes too short.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 240

#define CYCLES 2500

struct worker {
	int cycles;
	int shared_fd;
	uint64_t mask;
	unsigned int seed;
	int errors;
	char what[128];
};

static unsigned int rnd(unsigned int *s)
{
	*s = *s * 1103515245 + 12345;
	return *s >> 8;
}

static int pick_node(struct worker *w)
{
	int n;

	do
		n = rnd(&w->seed) % 64;
	while (!(w->mask & (1ULL << n)));
	return n;
}

static void fail(struct worker *w, const char *what, int cycle, int err)
{
	if (!w->errors++)
		snprintf(w->what, sizeof(w->what), "cycle %d: %s: %s", cycle, what, strerror(err));
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int own = fa_open(), i;

	if (own < 0) {
		fail(w, "open", -1, errno);
		return NULL;
	}
	for (i = 0; i < w->cycles && !w->errors; i++) {
		unsigned int r = rnd(&w->seed);
		int fd = r & 1 ? w->shared_fd : own;
		bool huge = (r >> 1) % 16 == 0;
		unsigned int shift = huge ? 21 : 12;
		uint64_t pg = 1ULL << shift, npages, off;
		uint32_t lead = 0, trail = 0, interval = 0;
		struct finalloc_region_create rc;
		int ret, node = pick_node(w);
		char *p;

		npages = 1 + rnd(&w->seed) % (huge ? 2 : 16);
		if (r & 64) {
			lead = 1;
			trail = 1;
			interval = rnd(&w->seed) % 4;
			npages += 2;
		}
		ret = fa_create(fd, npages * pg, node, shift, lead, trail, interval, &rc);
		if (ret) {
			fail(w, "create", i, -ret);
			break;
		}
		p = fa_map(fd, &rc);
		if (p == MAP_FAILED) {
			fail(w, "mmap", i, errno);
			break;
		}
		/* Touch the first data byte of every page: zero, then ours. */
		for (off = lead * pg; off < (npages - trail) * pg; off += pg) {
			struct finalloc_node_of no;

			if (interval && ((off / pg - lead) % (interval + 1)) == interval)
				continue;
			if (p[off + 8] != 0) {
				fail(w, "stale data", i, EIO);
				break;
			}
			p[off + 8] = (char)(i | 1);
			if (!(r & 0x700) && (fa_node_of(fd, rc.id, off, &no) || no.node != node)) {
				fail(w, "node_of", i, EIO);
				break;
			}
		}
		if (r & 128) {
			/* destroy first: the mapping keeps the memory */
			ret = fa_destroy(fd, rc.id);
			if (ret)
				fail(w, "destroy", i, -ret);
			munmap(p, npages * pg);
		} else {
			munmap(p, npages * pg);
			ret = fa_destroy(fd, rc.id);
			if (ret)
				fail(w, "destroy", i, -ret);
		}
		if (r % 256 == 3) {
			/* and sometimes a fresh private file */
			close(own);
			own = fa_open();
			if (own < 0) {
				fail(w, "reopen", i, errno);
				return NULL;
			}
		}
	}
	close(own);
	return NULL;
}

static long long memused_all(uint64_t mask)
{
	long long sum = 0;
	int n;

	drop_caches();
	for (n = 0; n < 64; n++)
		if (mask & (1ULL << n))
			sum += node_used(n);
	return sum;
}

static void run_threads(struct __test_metadata *_metadata, int fd, uint64_t mask, int cycles,
                        unsigned int seed)
{
	struct worker w[2];
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].cycles = cycles;
		w[i].shared_fd = fd;
		w[i].mask = mask;
		w[i].seed = seed + i * 7919;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, run, &w[i]));
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, w[i].errors) TH_LOG("thread %d: %s", i, w[i].what);
	}
}

TEST(two_threads_random_cycles)
{
	long long before, after = 0, faults0;
	int fd = fa_open(), i, tries;
	uint64_t mask;

	ASSERT_LE(0, fd);
	ASSERT_LE(1, fa_nodes(fd, &mask));
	/*
	 * A short warm-up first, so that thread stacks, slab caches and the
	 * page allocator's per-CPU lists are in their steady state.
	 */
	run_threads(_metadata, fd, mask, 200, 0xfeed);
	before = memused_all(mask);
	faults0 = fa_stat("faults") + fa_stat("guard_faults");
	run_threads(_metadata, fd, mask, CYCLES, 0x5eed);
	close(fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 2000));
	EXPECT_EQ(0, fa_wait_stat("regions", 0, 1000));
	EXPECT_EQ(0, fa_wait_stat("mappings", 0, 1000));
	for (i = 0; i < 64; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		EXPECT_EQ(0, fa_node_stat(i, "pinned_bytes"));
		EXPECT_EQ(0, fa_node_stat(i, "pages_2m"));
	}
	/* MemUsed is noisy (slab, page tables): settle, then compare. */
	for (tries = 0; tries < 10; tries++) {
		after = memused_all(mask);
		if (after - before < (long long)(2 * MB))
			break;
		sleep_ms(200);
	}
	TH_LOG("MemUsed %+lld KiB after %d cycles; faults +%lld", (after - before) / 1024,
	       2 * CYCLES, fa_stat("faults") + fa_stat("guard_faults") - faults0);
	EXPECT_GT((long long)(2 * MB), after - before);
}

TEST_HARNESS_MAIN
