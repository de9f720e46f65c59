// SPDX-License-Identifier: MIT
/*
 * Journal under concurrency: several threads trace through their own
 * sub-arenas while the writer drains; every record arrives, each thread's
 * records keep their order, rings of exited threads are drained and freed,
 * and flushes from another thread see everything appended before them.
 * Runs under TSan too.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "arena_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#define THREADS    4
#define PER_THREAD 5000

struct worker {
	struct fa_arena_group *g;
	uint32_t tid;
	uintptr_t first, last;
	int fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct fa_arena *a = fa_arena_tls(w->g);

	w->tid = (uint32_t)gettid();
	if (!a) {
		w->fails++;
		return NULL;
	}
	for (int i = 0; i < PER_THREAD; i++) {
		/* size encodes the sequence number */
		char *p = fa_arena_alloc(a, 16 + (size_t)i);

		if (!p)
			w->fails++;
		else if (i == 0)
			w->first = (uintptr_t)p;
		else if (i == PER_THREAD - 1)
			w->last = (uintptr_t)p;
	}
	return NULL;
}

TEST(threads_journal_everything_in_order)
{
	char path[] = "/tmp/fa-trace-mt-XXXXXX";
	struct fa_trace_opts to = { .buffer_size = 16384,
		                    .flags = FA_TRACE_BLOCK,
		                    .interval_us = 200 };
	struct fa_arena_group_opts go = { .mem = { .backend = FA_BACKEND_SMALL } };
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct fa_trace_reader *r;
	struct fa_trace_event ev;
	struct fa_trace_stats ts;
	uint64_t next[THREADS] = { 0 };
	int fd, total = 0, rc;

	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, fa_trace_open(path, &to));
	go.tls.flags = FA_ARENA_TRACE;
	go.tls.chunk_size = 1 << 20;
	go.tls.max_chunk_size = 8 << 20;
	go.flags = FA_GROUP_TLS_RESET_ON_EXIT;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .g = fa_arena_group_create(&go) };
		ASSERT_NE(NULL, w[i].g);
		ASSERT_EQ(0, pthread_create(&t[i], NULL, work, &w[i]));
	}
	/* a flush from this thread while they run: must not lose or tear */
	ASSERT_EQ(0, fa_trace_flush());
	for (int i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, w[i].fails);
	}
	ASSERT_EQ(0, fa_trace_flush());
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(0, ts.dropped);
	ASSERT_EQ(0, fa_trace_close());
	for (int i = 0; i < THREADS; i++)
		EXPECT_EQ(0, fa_arena_group_destroy(w[i].g));

	r = fa_trace_reader_open(path);
	ASSERT_NE(NULL, r);
	while ((rc = fa_trace_next(r, &ev)) == 1) {
		int k;

		if (ev.type != FA_TRACE_ALLOC)
			continue;
		for (k = 0; k < THREADS; k++)
			if (w[k].tid == ev.tid)
				break;
		ASSERT_LT(k, THREADS);
		/* this thread's records in allocation order */
		ASSERT_EQ(16 + next[k], ev.size);
		if (next[k] == 0)
			EXPECT_EQ(w[k].first, ev.addr);
		if (next[k] == PER_THREAD - 1)
			EXPECT_EQ(w[k].last, ev.addr);
		EXPECT_STREQ("work", ev.func);
		next[k]++;
		total++;
	}
	EXPECT_EQ(0, rc);
	fa_trace_reader_close(r);
	EXPECT_EQ(THREADS * PER_THREAD, total);
	for (int i = 0; i < THREADS; i++)
		EXPECT_EQ(PER_THREAD, next[i]);
	unlink(path);
}

static void *short_lived(void *arg)
{
	struct fa_arena_opts o = { .chunk_size = 64 << 10,
		                   .flags = FA_ARENA_TRACE,
		                   .mem = { .backend = FA_BACKEND_SMALL } };
	struct fa_arena *a = fa_arena_create(&o);

	if (!a)
		return (void *)1;
	for (int i = 0; i < 100; i++)
		fa_arena_alloc(a, 64);
	fa_arena_destroy(a);
	return NULL;
}

/* Threads come and go while the journal stays open: their rings are
 * drained after they exit, nothing is lost. */
TEST(exited_threads_rings_drained)
{
	char path[] = "/tmp/fa-trace-mt-XXXXXX";
	struct fa_trace_reader *r;
	struct fa_trace_event ev;
	struct fa_trace_stats ts;
	int fd, allocs = 0;
	void *rv;

	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, fa_trace_open(path, NULL));
	for (int round = 0; round < 20; round++) {
		pthread_t t;

		ASSERT_EQ(0, pthread_create(&t, NULL, short_lived, NULL));
		ASSERT_EQ(0, pthread_join(t, &rv));
		ASSERT_EQ(NULL, rv);
	}
	ASSERT_EQ(0, fa_trace_flush());
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(0, ts.dropped);
	ASSERT_EQ(0, fa_trace_close());
	r = fa_trace_reader_open(path);
	ASSERT_NE(NULL, r);
	while (fa_trace_next(r, &ev) == 1)
		allocs += ev.type == FA_TRACE_ALLOC;
	fa_trace_reader_close(r);
	EXPECT_EQ(20 * 100, allocs);
	unlink(path);
}

#define DROPPERS 4
#define DROP_N   400

static void *dropper(void *arg)
{
	struct fa_arena_opts o = { .chunk_size = 64 << 10,
		                   .flags = FA_ARENA_TRACE,
		                   .mem = { .backend = FA_BACKEND_SMALL } };
	struct fa_arena *a = fa_arena_create(&o);

	*(uint32_t *)arg = (uint32_t)gettid();
	if (!a)
		return (void *)1;
	for (int i = 0; i < DROP_N; i++)
		fa_arena_alloc(a, 64);
	fa_arena_destroy(a);
	return NULL; /* exits with its ring full: the drops are still owed */
}

/* Threads that exit right after their ring overflowed: every drop of
 * every thread is in a DROP record of that thread, whether the writer
 * reaps the ring while the journal is open or at close. */
TEST(exiting_threads_drops_are_recorded)
{
	struct fa_trace_opts to = { .buffer_size = 4096, .interval_us = 50 };

	for (int round = 0; round < 10; round++) {
		char path[] = "/tmp/fa-trace-mt-XXXXXX";
		uint32_t tid[DROPPERS];
		uint64_t got[DROPPERS] = { 0 }, dropped = 0, end_dropped = UINT64_MAX;
		struct fa_trace_reader *r;
		struct fa_trace_event ev;
		pthread_t t[DROPPERS];
		int fd, rc;
		void *rv;

		fd = mkstemp(path);
		ASSERT_GE(fd, 0);
		close(fd);
		ASSERT_EQ(0, fa_trace_open(path, &to));
		for (int i = 0; i < DROPPERS; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, dropper, &tid[i]));
		for (int i = 0; i < DROPPERS; i++) {
			ASSERT_EQ(0, pthread_join(t[i], &rv));
			ASSERT_EQ(NULL, rv);
		}
		if (round % 2)
			ASSERT_EQ(0, fa_trace_flush()); /* reaped before close */
		ASSERT_EQ(0, fa_trace_close());
		r = fa_trace_reader_open(path);
		ASSERT_NE(NULL, r);
		while ((rc = fa_trace_next(r, &ev)) == 1) {
			int k;

			if (ev.type == FA_TRACE_END) {
				end_dropped = ev.dropped;
				continue;
			}
			for (k = 0; k < DROPPERS && tid[k] != ev.tid; k++)
				;
			ASSERT_LT(k, DROPPERS);
			if (ev.type == FA_TRACE_DROP) {
				got[k] += ev.count;
				dropped += ev.count;
			} else {
				got[k]++;
			}
		}
		EXPECT_EQ(0, rc);
		fa_trace_reader_close(r);
		unlink(path);
		EXPECT_EQ(end_dropped, dropped) TH_LOG("round %d", round);
		/* per thread: allocations + create + destroy, in the file or
		 * counted by its DROP records (its one site is put first) */
		for (int i = 0; i < DROPPERS; i++) {
			EXPECT_EQ((uint64_t)DROP_N + 2, got[i])
			TH_LOG("round %d thread %d", round, i);
		}
	}
}

TEST_HARNESS_MAIN
