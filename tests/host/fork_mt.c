// SPDX-License-Identifier: MIT
/*
 * fork() in a multi-threaded parent: while threads hammer pools (thread
 * cache, a pool on the shared locked cache, large objects, stats,
 * quarantine, the snapshot sampler), an arena group (sub-arena
 * attach/release, stats) and the NUMA registry, the main thread forks
 * again and again.  Each child must allocate, free, read stats and destroy
 * what it inherited, then exit 0; a lock left held across the fork shows as
 * a child killed by its alarm.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "slow_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
	struct fa_pool *pool, *qpool, *spool, *lpool;
	struct fa_arena_group *g;
	struct fa_numa *numa;
	_Atomic int stop;
	_Atomic uint64_t rounds;
	int err;
};

/* A pool without thread caches: shared_lock is held for every call. */
static void *hammer_locked(void *arg)
{
	struct shared *s = arg;

	while (!atomic_load(&s->stop)) {
		void *o = fa_pool_alloc(s->lpool, 48);

		if (!o)
			s->err = 5;
		fa_pool_free(s->lpool, o);
	}
	return NULL;
}

/* g->lock, as often as it can be taken. */
static void *hammer_group(void *arg)
{
	struct shared *s = arg;

	while (!atomic_load(&s->stop)) {
		struct fa_arena_group_stats gs;
		struct fa_arena *a = fa_arena_tls(s->g);

		if (!a || !fa_arena_alloc(a, 100))
			s->err = 3;
		if (fa_arena_tls_release(s->g) || fa_arena_group_stats(s->g, &gs))
			s->err = 4;
	}
	return NULL;
}

static void *hammer(void *arg)
{
	struct shared *s = arg;
	uint64_t rng = 88172645463325252ull;
	void *keep[64] = { 0 };

	while (!atomic_load(&s->stop)) {
		struct fa_pool_stats *st = malloc(sizeof(*st));
		struct fa_arena_group_stats gs;
		struct fa_arena *a;

		for (int i = 0; i < 256; i++) {
			size_t sz;
			unsigned k;

			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			k = rng & 63;
			sz = 8 + (rng >> 8) % 2048;
			fa_pool_free(s->pool, keep[k]);
			keep[k] = fa_pool_alloc(s->pool, sz);
			if (!keep[k])
				s->err = 1;
		}
		/* p->lock: a large object and a stats read */
		fa_pool_free(s->pool, fa_pool_alloc(s->pool, 65536));
		if (!st || fa_pool_stats(s->pool, st))
			s->err = 2;
		free(st);
		fa_pool_flush(s->pool, 0);
		/* q.lock */
		fa_pool_free(s->qpool, fa_pool_alloc(s->qpool, 64));
		if (s->spool)
			fa_pool_snapshot(s->spool);
		/* the NUMA allocators' registry lock */
		if ((s->rounds & 15) == 0) {
			struct fa_numa_profile *np = malloc(sizeof(*np));

			if (!np || fa_numa_profile(NULL, np))
				s->err = 6;
			free(np);
		}
		fa_numa_free(s->numa, fa_numa_alloc(s->numa, 200));
		/* a node's large-map lock (a large object, cached on free) */
		fa_numa_free(s->numa, fa_numa_alloc(s->numa, (size_t)3 << 20));
		/* g->lock: attach a sub-arena, use it, hand it back */
		a = fa_arena_tls(s->g);
		if (!a || !fa_arena_alloc(a, 100))
			s->err = 3;
		if (fa_arena_tls_release(s->g) || fa_arena_group_stats(s->g, &gs))
			s->err = 4;
		atomic_fetch_add(&s->rounds, 1);
	}
	for (int k = 0; k < 64; k++)
		fa_pool_free(s->pool, keep[k]);
	return NULL;
}

/* Where a child stuck on a lock was: its exit code on the alarm. */
static volatile sig_atomic_t stage;

static void on_alarm(int sig)
{
	_exit(100 + stage);
}

/* The child's work: every path that takes a lock, then teardown. */
static int child(struct shared *s)
{
	struct fa_pool_stats *st = malloc(sizeof(*st));
	struct fa_arena_group_stats gs;
	struct fa_pool_snapshot snap[4];
	struct fa_arena *a;
	struct fa_pool *np;
	void *o[300];

	signal(SIGALRM, on_alarm);
	alarm(10);
	if (!st)
		return 10;
	/* enough to refill from the shared lists and flush back */
	stage = 1;
	for (int i = 0; i < 300; i++)
		if (!(o[i] = fa_pool_alloc(s->pool, 64)))
			return 11;
	for (int i = 0; i < 300; i++)
		fa_pool_free(s->pool, o[i]);
	stage = 2;
	o[0] = fa_pool_alloc(s->pool, 100000);
	if (!o[0])
		return 12;
	fa_pool_free(s->pool, o[0]);
	stage = 3;
	if (fa_pool_stats(s->pool, st) || fa_pool_flush(s->pool, 1))
		return 13;
	stage = 4;
	fa_pool_free(s->qpool, fa_pool_alloc(s->qpool, 64));
	if (fa_pool_flush(s->qpool, 1))
		return 14;
	stage = 5;
	o[0] = fa_pool_alloc(s->lpool, 48);
	if (!o[0])
		return 20;
	fa_pool_free(s->lpool, o[0]);
	stage = 6;
	if (s->spool && (fa_pool_snapshot(s->spool) || fa_pool_snapshots(s->spool, snap, 4) < 1))
		return 15;
	stage = 7;
	a = fa_arena_tls(s->g);
	if (!a || !fa_arena_alloc(a, 4096))
		return 16;
	if (fa_arena_tls_release(s->g) || fa_arena_group_stats(s->g, &gs))
		return 17;
	stage = 8;
	o[0] = fa_numa_alloc(s->numa, 300);
	if (!o[0])
		return 21;
	fa_numa_free(s->numa, o[0]);
	o[0] = fa_numa_alloc(s->numa, (size_t)3 << 20);
	if (!o[0])
		return 22;
	fa_numa_free(s->numa, o[0]);
	stage = 9;
	fa_numa_destroy(s->numa);
	/* a new pool in the child gets a slot and a cache */
	stage = 10;
	np = fa_pool_create(NULL);
	if (!np || !(o[0] = fa_pool_alloc(np, 32)))
		return 18;
	fa_pool_free(np, o[0]);
	fa_pool_destroy(np);
	/* what the parent's threads held is no obstacle to teardown */
	stage = 11;
	fa_pool_destroy(s->pool);
	fa_pool_destroy(s->qpool);
	stage = 12;
	fa_pool_destroy(s->spool); /* joins the restarted sampler */
	fa_pool_destroy(s->lpool);
	stage = 13;
	if (fa_arena_group_destroy(s->g))
		return 19;
	free(st);
	return 0;
}

/* 17-26 s under the VM's TCG on a 1.5 GHz host. */
SLOW_TEST(fork, while_a_thread_hammers_pool_and_group, 120)
{
	/* what the child inherits must be on a backend fork copies:
	 * /dev/finalloc regions are VM_DONTCOPY (pinned memory is not shared
	 * with a child), so a child only uses device memory it maps itself
	 * (the pool it creates below) */
	static const struct fa_mem_opts anon = { .backend = FA_BACKEND_SMALL };
	struct fa_pool_opts po = { .mem = &anon };
	struct fa_pool_opts qo = { .flags = FA_POOL_QUARANTINE,
		                   .quarantine_objs = 64,
		                   .mem = &anon };
	struct fa_pool_opts so = { .snapshot_ms = 1, .mem = &anon };
	struct fa_arena_group_opts go = { .mem = anon };
	struct fa_numa_opts no = { .mem = &anon };
	struct fa_pool *filler[FA__POOL_SLOTS];
	struct shared s = { 0 };
	int forks = getenv("FA_TSAN") ? 20 : 100, bad = 0, nfill = 0;
	pthread_t th[3];

#ifdef __SANITIZE_ADDRESS__
	/* Seen here: a child's malloc blocks forever on a lock of ASan's own
	 * allocator that a parent thread held at fork (GCC 12's libsanitizer
	 * does not take its allocator locks around fork).  glibc's malloc
	 * does; the plain and TSan builds run this test. */
	SKIP(return, "ASan's allocator is not fork-safe with threads (libsanitizer)");
#endif

	s.pool = fa_pool_create(&po);
	s.qpool = fa_pool_create(&qo);
	/* TSan kills a child of a multi-threaded parent that starts a thread */
	if (!getenv("FA_TSAN"))
		s.spool = fa_pool_create(&so);
	s.g = fa_arena_group_create(&go);
	s.numa = fa_numa_create(&no);
	ASSERT_NE(NULL, s.numa);
	ASSERT_NE(NULL, s.pool);
	ASSERT_NE(NULL, s.qpool);
	ASSERT_NE(NULL, s.g);
	/* use up the thread-cache slots: the next pool shares a locked cache
	 * (not under TSan: fork_prepare then holds 4 locks per pool, and
	 * TSan's deadlock detector stops at 64 held by one thread) */
	while (!getenv("FA_TSAN") && nfill < (int)fa_pool_max_pools())
		ASSERT_NE(NULL, filler[nfill++] = fa_pool_create(NULL));
	s.lpool = fa_pool_create(&po);
	ASSERT_NE(NULL, s.lpool);
	ASSERT_EQ(0, pthread_create(&th[0], NULL, hammer, &s));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, hammer_locked, &s));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, hammer_group, &s));
	while (atomic_load(&s.rounds) < 10)
		usleep(100);
	for (int i = 0; i < forks; i++) {
		int status = 0;
		pid_t pid = fork();

		ASSERT_NE(-1, pid);
		if (pid == 0)
			_exit(child(&s));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			if (bad++ < 5)
				TH_LOG("fork %d: child %s %d%s", i,
				       WIFEXITED(status) ? "exited with" : "killed by signal",
				       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				       WIFEXITED(status) && WEXITSTATUS(status) > 100
				               ? " (stuck: 100 + stage)"
				               : "");
		}
	}
	atomic_store(&s.stop, 1);
	for (int t = 0; t < 3; t++)
		pthread_join(th[t], NULL);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, s.err);
	/* the parent is unharmed */
	ASSERT_EQ(0, fa_pool_flush(s.pool, 1));
	fa_pool_destroy(s.pool);
	fa_pool_destroy(s.qpool);
	fa_pool_destroy(s.spool);
	fa_pool_destroy(s.lpool);
	fa_numa_destroy(s.numa);
	while (nfill)
		fa_pool_destroy(filler[--nfill]);
	EXPECT_EQ(0, fa_arena_group_destroy(s.g));
}

/* A fork child forks again, with a debug pool (which has a rwlock among
 * its fork locks): the grandchild's fork must not wait on a lock the
 * child could not release.  Before, the second fork hung for good. */
TEST(fork_in_a_fork_child)
{
	/* 4 KiB pages: a private hugetlb page that the child writes needs a
	 * free huge page for its copy, or the child gets SIGBUS */
	struct fa_mem_opts mem = { .backend = FA_BACKEND_SMALL };
	struct fa_pool_opts o = { .flags = FA_POOL_DEBUG, .mem = &mem };
	struct fa_pool *p = fa_pool_create(&o);
	int st = 0;
	pid_t c;

	ASSERT_NE(NULL, p);
	fa_pool_free(p, fa_pool_alloc(p, 64));
	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		int gst = 0;
		pid_t g;

		alarm(60); /* a hang: SIGALRM, not the harness's timeout */
		fa_pool_free(p, fa_pool_alloc(p, 64));
		g = fork();
		if (g == 0) {
			fa_pool_free(p, fa_pool_alloc(p, 64));
			_exit(0);
		}
		if (g < 0 || waitpid(g, &gst, 0) != g || !WIFEXITED(gst) || WEXITSTATUS(gst))
			_exit(1);
		fa_pool_trim(p, 0, NULL); /* takes check_lock for writing */
		_exit(0);
	}
	ASSERT_EQ(c, waitpid(c, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
	TH_LOG("child: status %#x%s", st,
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (hung in fork)" : "");
	fa_pool_destroy(p);
}

TEST_HARNESS_MAIN
