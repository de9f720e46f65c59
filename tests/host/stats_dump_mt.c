// SPDX-License-Identifier: MIT
/*
 * Statistics dumps while other threads create, use and destroy pools and
 * arenas: every dump succeeds, is whole, and sees only live pools (run under
 * TSan by make check-san).
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKERS 2

static atomic_bool stop;

static void *worker(void *arg)
{
	struct fa_mem_opts mem = { .backend = FA_BACKEND_SMALL };
	struct fa_arena_opts ao = { .chunk_size = 64 << 10, .mem = mem };
	struct fa_pool_opts po = { .name = arg, .mem = &mem };
	unsigned long rounds = 0;

	while (!atomic_load(&stop)) {
		struct fa_pool *p = fa_pool_create(&po);
		struct fa_arena *a = fa_arena_create(&ao);
		void *v[64];

		if (!p || !a)
			return (void *)1;
		for (int i = 0; i < 64; i++)
			if (!(v[i] = fa_pool_alloc(p, 16 + i * 8)))
				return (void *)2;
		for (int i = 0; i < 64; i++)
			fa_pool_free(p, v[i]);
		if (!fa_arena_alloc(a, 100))
			return (void *)3;
		fa_arena_destroy(a);
		fa_pool_destroy(p);
		rounds++;
	}
	return rounds ? NULL : (void *)4;
}

TEST(dumps_during_pool_churn)
{
	pthread_t t[WORKERS];
	char *names[WORKERS] = { "churn-a", "churn-b" };
	struct fa_pool *steady = fa_pool_create(&(struct fa_pool_opts){ .name = "steady" });
	struct timespec t0, now;
	int dumps = 0;

	ASSERT_NE(NULL, steady);
	ASSERT_NE(NULL, fa_pool_alloc(steady, 40));
	for (int i = 0; i < WORKERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker, names[i]));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		char *buf = NULL, *s;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		ASSERT_NE(NULL, f);
		ASSERT_EQ(0, fa_stats_write(f));
		fclose(f);
		ASSERT_EQ(0, strncmp(buf, "FINALLOC-STATS 1\n", 17));
		/* the steady pool, whole, in every dump; the tail is complete */
		s = strstr(buf, "\npool:steady.allocs ");
		ASSERT_NE(NULL, s) TH_LOG("%s", buf);
		EXPECT_EQ(1, strtoll(s + 20, NULL, 10));
		EXPECT_NE(NULL, strstr(buf, "\nnuma.spills "));
		EXPECT_EQ('\n', buf[len - 1]);
		free(buf);
		dumps++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	atomic_store(&stop, true);
	for (int i = 0; i < WORKERS; i++) {
		void *ret;

		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
	}
	EXPECT_GT(dumps, 1);
	fa_pool_destroy(steady);
}

TEST_HARNESS_MAIN
