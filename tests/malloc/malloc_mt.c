// SPDX-License-Identifier: MIT
/*
 * malloc_mt: the drop-in under threads (LD_PRELOAD or linked statically,
 * see preload.h): blocks freed by other threads than their allocator's,
 * threads that come and go in waves (their caches handed back at exit),
 * and fork() while threads allocate leaving a child that allocates,
 * starts a thread and exits cleanly.
 */
#include "kselftest_harness.h"
#include "preload.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SLOTS 4096

/* A shared table of blocks: each thread takes a random slot, frees what
 * another thread left there (after checking its tag) and leaves its own. */
static _Atomic(uint64_t *) slot[SLOTS];
static _Atomic uint64_t bad_tags;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t size_of(uint64_t r)
{
	switch (r % 16) {
	case 0:
		return 8192 + r % 300000; /* large maps */
	case 1:
		return 16 + r % 8000;
	default:
		return 8 + r % 256;
	}
}

static void check_free(uint64_t *b)
{
	size_t n;

	if (!b)
		return;
	n = b[0];
	if (b[1] != (n ^ 0x5a5a5a5a5a5a5a5aull) || ((unsigned char *)b)[n - 1] != (n & 0xff))
		atomic_fetch_add(&bad_tags, 1);
	free(b);
}

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;

	for (int i = 0; i < 8000; i++) {
		uint64_t r = rnd(&s);
		size_t n = size_of(r);
		uint64_t *b = malloc(n < 17 ? 17 : n);

		if (!b) {
			atomic_fetch_add(&bad_tags, 1);
			break;
		}
		n = n < 17 ? 17 : n;
		b[0] = n;
		b[1] = n ^ 0x5a5a5a5a5a5a5a5aull;
		((unsigned char *)b)[n - 1] = (unsigned char)n;
		check_free(atomic_exchange(&slot[(r >> 20) % SLOTS], b));
		if (i % 7 == 0) /* and some of its own, at once */
			free(realloc(malloc(r % 1000 + 1), r % 3000 + 1));
	}
	return NULL;
}

TEST(on_the_drop_in)
{
	ASSERT_TRUE(on_finalloc());
}

TEST(cross_thread_frees_threads_come_and_go)
{
	for (int wave = 0; wave < 8; wave++) {
		pthread_t t[6];

		for (int i = 0; i < 6; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, churn,
			                            (void *)(uintptr_t)(wave * 6 + i + 1)));
		for (int i = 0; i < 6; i++)
			ASSERT_EQ(0, pthread_join(t[i], NULL));
	}
	for (int i = 0; i < SLOTS; i++)
		check_free(atomic_exchange(&slot[i], NULL));
	EXPECT_EQ(0, atomic_load(&bad_tags));
}

static atomic_bool stop;

static void *spin(void *arg)
{
	uint64_t s = (uintptr_t)arg + 7;

	while (!atomic_load(&stop)) {
		uint64_t r = rnd(&s);
		void *p = malloc(size_of(r));

		free(p);
		p = aligned_alloc(64, 100);
		free(p);
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	for (int i = 0; i < 1000; i++)
		free(malloc((size_t)i * 37 + 1));
	return arg;
}

TEST(fork_while_threads_allocate)
{
	pthread_t t[4];

	atomic_store(&stop, false);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, spin, (void *)(uintptr_t)i));
	for (int k = 0; k < 30; k++) {
		int st = -1;
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			pthread_t c;
			void *keep[100];

			alarm(60); /* a deadlocked child dies instead of hanging */
			for (int i = 0; i < 100; i++)
				keep[i] = malloc((size_t)i * 100 + 1);
			if (pthread_create(&c, NULL, child_thread, NULL) || pthread_join(c, NULL))
				_exit(2);
			for (int i = 0; i < 100; i++)
				free(keep[i]);
			free(malloc(1 << 20));
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("child %d: status %#x", k, st);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
}

PRELOAD_HARNESS_MAIN
