// SPDX-License-Identifier: MIT
/*
 * Allocation journal: what an arena allocated is decoded back from the file
 * (address, size, alignment, site, arena events, END totals); thresholds
 * and sampling; counted drops when the ring fills and no drops with
 * back-pressure; FINALLOC_TRACE; bad paths and malformed journals.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "debugger.h"
#include "arena_util.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Make the journal's writer ("fa-journal") run only when this thread
 * sleeps: both on this CPU, the writer SCHED_IDLE.  Then a burst fills the
 * ring whatever the machine's load (a writer on an idle core keeps up with
 * a 4 KiB ring on a busy machine, and a burst there drops nothing). */
static void starve_writer(struct __test_metadata *_metadata)
{
	struct sched_param sp = { 0 };
	int cpu = sched_getcpu(), found = 0;
	struct dirent *d;
	cpu_set_t set;
	DIR *dir;

	ASSERT_LE(0, cpu);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	dir = opendir("/proc/self/task");
	ASSERT_NE(NULL, dir);
	while ((d = readdir(dir))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "fa-journal\n")) {
			pid_t tid = (pid_t)atoi(d->d_name);

			/* a writer the last fa_trace_close joined can linger in
			 * /proc a moment, exited: ESRCH */
			if (sched_setaffinity(tid, sizeof(set), &set) == 0) {
				ASSERT_EQ(0, sched_setscheduler(tid, SCHED_IDLE, &sp));
				found++;
			} else {
				ASSERT_EQ(ESRCH, errno);
			}
		}
		fclose(f);
	}
	closedir(dir);
	/* the new writer is named before fa_trace_open returns; the last
	 * one may still be listed, exiting: both get the same treatment */
	ASSERT_LE(1, found) TH_LOG("the journal's writer thread is not running");
}

FIXTURE(journal)
{
	char path[64];
};

FIXTURE_SETUP(journal)
{
	int fd;

	strcpy(self->path, "/tmp/fa-trace-XXXXXX");
	fd = mkstemp(self->path);
	ASSERT_GE(fd, 0);
	close(fd);
	unsetenv("FINALLOC_TRACE");
}

FIXTURE_TEARDOWN(journal)
{
	unlink(self->path);
}

struct rec {
	void *p;
	size_t size, align;
	int line;
};

static struct fa_arena *traced(size_t min, unsigned sample, unsigned extra)
{
	struct fa_arena_opts o = { .chunk_size = 64 << 10,
		                   .flags = FA_ARENA_TRACE | extra,
		                   .trace_min_size = min,
		                   .trace_sample = sample,
		                   .mem = { .backend = FA_BACKEND_SMALL } };

	return fa_arena_create(&o);
}

TEST_F(journal, decoded_matches_allocations)
{
	struct fa_trace_header h;
	struct fa_trace_stats ts;
	struct fa_trace_event ev;
	struct fa_trace_reader *r;
	struct fa_arena_stats as;
	struct rec want[64];
	int n = 0, got = 0, creates = 0, resets = 0, destroys = 0, ends = 0;
	uint64_t arena_id = 0, last_t = 0;
	struct fa_arena *a;

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	EXPECT_EQ(-EBUSY, fa_trace_open(self->path, NULL));
	a = traced(0, 0, 0);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 40; i++) {
		size_t al = (size_t)1 << (i % 8);

		want[n].line = __LINE__ + 1;
		want[n].p = fa_arena_alloc_aligned(a, 10 + (size_t)i * 7, al);
		want[n].size = 10 + (size_t)i * 7;
		want[n].align = al < 16 ? 16 : al;
		ASSERT_NE(NULL, want[n].p);
		n++;
	}
	fa_arena_reset(a);
	want[n].line = __LINE__ + 1;
	want[n].p = fa_arena_alloc(a, 5000);
	want[n].size = 5000;
	want[n++].align = 16;
	ASSERT_EQ(0, fa_arena_stats(a, &as));
	EXPECT_EQ((uint64_t)n, as.traced);
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_flush());
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(1, ts.open);
	EXPECT_EQ(0, ts.dropped);
	TH_LOG("writes by %s: %llu", ts.uring ? "io_uring" : "pwrite",
	       (unsigned long long)ts.writes);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(-ENOENT, fa_trace_close());
	EXPECT_EQ(-ENOENT, fa_trace_flush());

	r = fa_trace_reader_open(self->path);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, fa_trace_reader_header(r, &h));
	EXPECT_EQ(FA_TRACE_VERSION, h.version);
	EXPECT_EQ((uint32_t)getpid(), h.pid);
	EXPECT_GT(h.start_real, 0);
	while (fa_trace_next(r, &ev) == 1) {
		switch (ev.type) {
		case FA_TRACE_ALLOC:
			ASSERT_LT(got, n);
			EXPECT_EQ((uintptr_t)want[got].p, ev.addr);
			EXPECT_EQ(want[got].size, ev.size);
			EXPECT_EQ(want[got].align, ev.align);
			EXPECT_EQ(want[got].line, ev.line);
			EXPECT_STREQ(__FILE__, ev.file);
			EXPECT_STREQ(__func__, ev.func);
			EXPECT_EQ(arena_id, ev.arena);
			EXPECT_EQ((uint32_t)gettid(), ev.tid);
			EXPECT_GE(ev.time_ns, last_t);
			last_t = ev.time_ns;
			got++;
			break;
		case FA_TRACE_ARENA:
			if (ev.event == FA_TRACE_EV_CREATE) {
				creates++;
				arena_id = ev.arena;
			}
			resets += ev.event == FA_TRACE_EV_RESET;
			destroys += ev.event == FA_TRACE_EV_DESTROY;
			EXPECT_EQ(arena_id, ev.arena);
			break;
		case FA_TRACE_END:
			ends++;
			/* allocs + 3 arena events + 2 SITE records (two lines) */
			EXPECT_EQ((uint64_t)n + 3 + 2, ev.count);
			EXPECT_EQ(0, ev.dropped);
			break;
		default:
			EXPECT_EQ(0, ev.type); /* no DROP expected */
		}
	}
	EXPECT_EQ(n, got);
	EXPECT_EQ(1, creates);
	EXPECT_EQ(1, resets);
	EXPECT_EQ(1, destroys);
	EXPECT_EQ(1, ends);
	EXPECT_EQ(0, fa_trace_next(r, &ev));
	fa_trace_reader_close(r);
}

static int count_allocs(const char *path, uint64_t *dropped, uint64_t *min_size)
{
	struct fa_trace_reader *r = fa_trace_reader_open(path);
	struct fa_trace_event ev;
	int n = 0, rc;

	if (!r)
		return -1;
	*dropped = 0;
	if (min_size)
		*min_size = UINT64_MAX;
	while ((rc = fa_trace_next(r, &ev)) == 1) {
		if (ev.type == FA_TRACE_ALLOC) {
			n++;
			if (min_size && ev.size < *min_size)
				*min_size = ev.size;
		}
		if (ev.type == FA_TRACE_DROP)
			*dropped += ev.count;
	}
	fa_trace_reader_close(r);
	return rc == 0 ? n : -1;
}

TEST_F(journal, threshold_and_sampling)
{
	struct fa_arena *a;
	uint64_t dropped, min_size;

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	a = traced(1024, 0, 0);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 100; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, i % 2 ? 2000 : 100));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(50, count_allocs(self->path, &dropped, &min_size));
	EXPECT_EQ(2000, min_size);

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	a = traced(1024, 4, 0); /* large ones and 1 in 4 of the small ones */
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 100; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, i % 2 ? 2000 : 100));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(50 + 12, count_allocs(self->path, &dropped, &min_size));
	EXPECT_EQ(100, min_size);
}

TEST_F(journal, full_ring_drops_are_counted)
{
	struct fa_trace_opts to = { .buffer_size = 4096, .interval_us = 1000000 };
	struct fa_trace_stats ts;
	struct fa_trace_reader *r;
	struct fa_trace_event ev;
	uint64_t dropped_rec = 0, end_dropped = 0, end_count = 0;
	int allocs = 0;
	struct fa_arena *a;
	const int N = 2000;

	ASSERT_EQ(0, fa_trace_open(self->path, &to));
	starve_writer(_metadata);
	a = traced(0, 0, 0);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < N; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 32));
	/* drops never fail the allocation; the writer catches up */
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_GT(ts.dropped, 0);
	ASSERT_EQ(0, fa_trace_flush());
	ASSERT_NE(NULL, fa_arena_alloc(a, 32)); /* room again: DROP record written */
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());

	r = fa_trace_reader_open(self->path);
	ASSERT_NE(NULL, r);
	while (fa_trace_next(r, &ev) == 1) {
		allocs += ev.type == FA_TRACE_ALLOC;
		if (ev.type == FA_TRACE_DROP)
			dropped_rec += ev.count;
		if (ev.type == FA_TRACE_END) {
			end_dropped = ev.dropped;
			end_count = ev.count;
		}
	}
	fa_trace_reader_close(r);
	EXPECT_EQ(ts.dropped, dropped_rec);
	EXPECT_EQ(ts.dropped, end_dropped);
	/* every allocation is either in the journal or counted as dropped */
	EXPECT_EQ((uint64_t)N + 1, (uint64_t)allocs + dropped_rec);
	EXPECT_GE(end_count, (uint64_t)allocs);
	TH_LOG("%d journaled, %llu dropped", allocs, (unsigned long long)dropped_rec);
}

/* Drops at the very end (nothing put after them, the writer asleep) are
 * still written as DROP records: the views sum those. */
TEST_F(journal, last_drops_get_a_drop_record)
{
	struct fa_trace_opts to = { .buffer_size = 4096, .interval_us = 1000000 };
	for (int round = 0; round < 20; round++) {
		struct fa_trace_stats ts;
		struct fa_trace_reader *r;
		struct fa_trace_event ev;
		uint64_t dropped_rec = 0, end_dropped = UINT64_MAX;
		int allocs = 0, arena_ev = 0;
		struct fa_arena *a;
		const int N = 500 + round * 37;

		ASSERT_EQ(0, fa_trace_open(self->path, &to));
		starve_writer(_metadata);
		a = traced(0, 0, 0);
		ASSERT_NE(NULL, a);
		for (int i = 0; i < N; i++)
			ASSERT_NE(NULL, fa_arena_alloc(a, 32));
		fa_arena_destroy(a);
		ASSERT_EQ(0, fa_trace_stats(&ts));
		ASSERT_EQ(0, fa_trace_close());

		r = fa_trace_reader_open(self->path);
		ASSERT_NE(NULL, r);
		while (fa_trace_next(r, &ev) == 1) {
			allocs += ev.type == FA_TRACE_ALLOC;
			arena_ev += ev.type == FA_TRACE_ARENA;
			if (ev.type == FA_TRACE_DROP)
				dropped_rec += ev.count;
			if (ev.type == FA_TRACE_END)
				end_dropped = ev.dropped;
		}
		fa_trace_reader_close(r);
		EXPECT_GT(ts.dropped, 0) TH_LOG("round %d: the ring did not fill", round);
		EXPECT_EQ(end_dropped, dropped_rec) TH_LOG("round %d", round);
		/* one site, put first: every ALLOC and ARENA record is in the
		 * file or counted in a DROP record */
		EXPECT_EQ((uint64_t)N + 2, (uint64_t)(allocs + arena_ev) + dropped_rec)
		TH_LOG("round %d", round);
	}
}

TEST_F(journal, back_pressure_loses_nothing)
{
	struct fa_trace_opts to = { .buffer_size = 4096,
		                    .flags = FA_TRACE_BLOCK,
		                    .interval_us = 100 };
	struct fa_trace_stats ts;
	struct fa_arena *a;
	uint64_t dropped;
	const int N = 3000;

	ASSERT_EQ(0, fa_trace_open(self->path, &to));
	a = traced(0, 0, FA_ARENA_CANARY); /* tracing and metadata together */
	ASSERT_NE(NULL, a);
	for (int i = 0; i < N; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 48));
	EXPECT_EQ(0, fa_arena_check(a, NULL));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(0, ts.dropped);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(N, count_allocs(self->path, &dropped, NULL));
	EXPECT_EQ(0, dropped);
}

TEST_F(journal, env_traces_every_arena)
{
	struct fa_arena *a;
	struct fa_trace_stats ts;
	uint64_t dropped, min_size;

	setenv("FINALLOC_TRACE", self->path, 1);
	setenv("FINALLOC_TRACE_MIN", "256", 1);
	a = fa_arena_create(NULL); /* no TRACE flag: the environment asks */
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(1, ts.open);
	for (int i = 0; i < 10; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, i < 5 ? 100 : 300));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(5, count_allocs(self->path, &dropped, &min_size));
	EXPECT_EQ(300, min_size);
}

/* A one-thread program making 7,000 allocations back to back, with the
 * defaults: the ring holds them all before the writer's first wake-up,
 * however slow the writer is. */
TEST_F(journal, defaults_lose_nothing_at_7000_allocations)
{
	struct fa_trace_stats ts;
	struct fa_arena *a;
	uint64_t dropped;
	const int N = 7000;

	setenv("FINALLOC_TRACE", self->path, 1);
	a = fa_arena_create(NULL);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < N; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 32 + (size_t)(i % 64)));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(0, ts.dropped);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(N, count_allocs(self->path, &dropped, NULL));
	EXPECT_EQ(0, dropped);
}

/* FINALLOC_TRACE_RING sets the ring in records, FINALLOC_TRACE_BLOCK=1
 * makes a full ring wait: a 4 KiB ring then loses nothing, and every
 * write request carries at most one ring's worth. */
TEST_F(journal, env_ring_and_block)
{
	struct fa_trace_stats ts;
	struct fa_arena *a;
	uint64_t dropped;
	const int N = 7000;

	setenv("FINALLOC_TRACE", self->path, 1);
	setenv("FINALLOC_TRACE_RING", "80", 1); /* 3,840 bytes: a 4 KiB ring */
	setenv("FINALLOC_TRACE_BLOCK", "1", 1);
	a = fa_arena_create(NULL);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < N; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 64));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_flush());
	ASSERT_EQ(0, fa_trace_stats(&ts));
	EXPECT_EQ(0, ts.dropped);
	/* header write, then spans of at most 4 KiB */
	EXPECT_GE(ts.writes, 1 + (ts.bytes - 64) / 4096)
	TH_LOG("%llu bytes in %llu writes", (unsigned long long)ts.bytes,
	       (unsigned long long)ts.writes);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(N, count_allocs(self->path, &dropped, NULL));
	EXPECT_EQ(0, dropped);
	unsetenv("FINALLOC_TRACE_RING");
	unsetenv("FINALLOC_TRACE_BLOCK");
}

/* In a child with FINALLOC_TRACE_MIN / _SAMPLE set (NULL: unset), two
 * arenas each allocate 100 and 2000 bytes ten times; what the child said
 * on stderr goes to err.  Returns the allocations journaled, or -1. */
static int env_child(const char *path, const char *min, const char *sample, char *err,
                     size_t errlen)
{
	char ep[] = "/tmp/fa-trace-err-XXXXXX";
	int fd = mkstemp(ep), status, n;
	uint64_t dropped;
	ssize_t got;
	pid_t pid;

	if (fd < 0)
		return -1;
	unlink(ep);
	pid = fork();
	if (pid == 0) {
		dup2(fd, 2);
		setenv("FINALLOC_TRACE", path, 1);
		if (min)
			setenv("FINALLOC_TRACE_MIN", min, 1);
		if (sample)
			setenv("FINALLOC_TRACE_SAMPLE", sample, 1);
		for (int k = 0; k < 2; k++) {
			struct fa_arena *a = fa_arena_create(NULL);

			if (!a)
				_exit(3);
			for (int i = 0; i < 10; i++)
				if (!fa_arena_alloc(a, 100) || !fa_arena_alloc(a, 2000))
					_exit(4);
			fa_arena_destroy(a);
		}
		_exit(fa_trace_close() ? 5 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) {
		close(fd);
		return -1;
	}
	got = pread(fd, err, errlen - 1, 0);
	err[got > 0 ? got : 0] = '\0';
	close(fd);
	n = count_allocs(path, &dropped, NULL);
	return dropped ? -1 : n;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* k/M/G suffixes are sizes; a negative, suffixed-wrong or non-number
 * value is said once, naming the variable and value, and the default
 * (journal everything) used. */
TEST_F(journal, env_thresholds_parsed_or_refused)
{
	static const char *bad_min[] = { "-5", "abc", "1x", " 5", "", "99999999999G" };
	char err[1024];

	EXPECT_EQ(40, env_child(self->path, NULL, NULL, err, sizeof(err)));
	EXPECT_STREQ("", err);
	EXPECT_EQ(20, env_child(self->path, "1k", NULL, err, sizeof(err))); /* 1024 */
	EXPECT_STREQ("", err);
	EXPECT_EQ(20, env_child(self->path, "0x7d0", NULL, err, sizeof(err))); /* 2000 */
	EXPECT_EQ(40, env_child(self->path, "100", NULL, err, sizeof(err)));
	EXPECT_EQ(0, env_child(self->path, "1M", NULL, err, sizeof(err)));
	/* 1 in 2 of the 100-byte ones besides the 2000-byte ones */
	EXPECT_EQ(30, env_child(self->path, "1k", "2", err, sizeof(err)));
	EXPECT_STREQ("", err);
	for (size_t i = 0; i < sizeof(bad_min) / sizeof(bad_min[0]); i++) {
		char want[64];

		EXPECT_EQ(40, env_child(self->path, bad_min[i], NULL, err, sizeof(err)))
		TH_LOG("FINALLOC_TRACE_MIN='%s'", bad_min[i]);
		if (!*bad_min[i]) { /* empty: unset */
			EXPECT_STREQ("", err);
			continue;
		}
		snprintf(want, sizeof(want), "FINALLOC_TRACE_MIN=%s:", bad_min[i]);
		EXPECT_NE(NULL, strstr(err, want)) TH_LOG("stderr: %s", err);
		EXPECT_EQ(1, lines(err)) TH_LOG("once, not per arena: %s", err);
	}
	EXPECT_EQ(20, env_child(self->path, "1k", "-1", err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "FINALLOC_TRACE_SAMPLE=-1:")) TH_LOG("stderr: %s", err);
	EXPECT_EQ(1, lines(err));
	EXPECT_EQ(20, env_child(self->path, "1k", "8G", err, sizeof(err))); /* > UINT_MAX */
	EXPECT_NE(NULL, strstr(err, "FINALLOC_TRACE_SAMPLE=8G:")) TH_LOG("stderr: %s", err);
}

/* FINALLOC_TRACE naming a journal that cannot be opened: said once on
 * stderr, naming the variable and the path; every arena is created and
 * allocates, untraced and off the slow path, even one asking
 * FA_ARENA_TRACE without a path. */
TEST_F(journal, env_journal_unopenable_is_said_once)
{
	char ep[] = "/tmp/fa-trace-err-XXXXXX", err[1024];
	int fd = mkstemp(ep), status;
	ssize_t got;
	pid_t pid;

	ASSERT_GE(fd, 0);
	unlink(ep);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct fa_arena_opts ao = { .flags = FA_ARENA_TRACE };
		struct fa_trace_stats ts;
		struct fa_arena *a;

		dup2(fd, 2);
		setenv("FINALLOC_TRACE", "/nonexistent/dir/x", 1);
		for (int i = 0; i < 5; i++) {
			struct fa_arena_stats st;

			a = fa_arena_create(i == 4 ? &ao : NULL);
			if (!a) {
				perror("fa_arena_create");
				_exit(3);
			}
			if (!fa_arena_alloc(a, 100))
				_exit(4);
			/* off the slow path (a memory debugger keeps it on) */
			if (fa_arena_stats(a, &st) || st.traced ||
			    (st.slow_allocs && !under_memory_debugger()))
				_exit(6);
			fa_arena_destroy(a);
		}
		if (fa_trace_stats(&ts) || ts.open)
			_exit(5);
		/* an arena's own trace_path is still opened */
		ao.trace_path = self->path;
		a = fa_arena_create(&ao);
		if (!a || fa_trace_stats(&ts) || !ts.open)
			_exit(7);
		fa_arena_destroy(a);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	got = pread(fd, err, sizeof(err) - 1, 0);
	err[got > 0 ? got : 0] = '\0';
	close(fd);
	EXPECT_EQ(0, status) TH_LOG("stderr: %s", err);
	EXPECT_NE(NULL, strstr(err, "FINALLOC_TRACE=/nonexistent/dir/x")) TH_LOG("%s", err);
	EXPECT_EQ(1, lines(err)) TH_LOG("%s", err);
}

/* A child of fork(2) stops journaling; with FINALLOC_TRACE set its arenas
 * must not reopen (truncate) the parent's journal. */
TEST_F(journal, env_journal_not_reopened_by_child)
{
	struct fa_arena *a;
	uint64_t dropped;
	int status;
	pid_t pid;

	setenv("FINALLOC_TRACE", self->path, 1);
	a = fa_arena_create(NULL);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 10; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 64));
	ASSERT_EQ(0, fa_trace_flush());
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct fa_arena *b = fa_arena_create(NULL);

		if (!b || !fa_arena_alloc(b, 64))
			_exit(3);
		fa_arena_destroy(b);
		_exit(0); /* no atexit: as a child that execs or _exits */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	for (int i = 0; i < 5; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 64));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());
	EXPECT_EQ(15, count_allocs(self->path, &dropped, NULL));
	/* and closed, it stays closed: no arena truncates it afterwards */
	a = fa_arena_create(NULL);
	ASSERT_NE(NULL, a);
	fa_arena_destroy(a);
	EXPECT_EQ(15, count_allocs(self->path, &dropped, NULL));
}

/* The journal is flushed and ended at exit without an explicit close. */
TEST_F(journal, flushed_at_exit)
{
	struct fa_trace_reader *r;
	struct fa_trace_event ev;
	int status, allocs = 0, ends = 0;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct fa_arena *a;

		if (fa_trace_open(self->path, NULL))
			_exit(2);
		a = traced(0, 0, 0);
		for (int i = 0; i < 7; i++)
			fa_arena_alloc(a, 64);
		exit(0); /* atexit handler, not _exit */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	r = fa_trace_reader_open(self->path);
	ASSERT_NE(NULL, r);
	while (fa_trace_next(r, &ev) == 1) {
		allocs += ev.type == FA_TRACE_ALLOC;
		ends += ev.type == FA_TRACE_END;
	}
	fa_trace_reader_close(r);
	EXPECT_EQ(7, allocs);
	EXPECT_EQ(1, ends);
}

/* Write the first len bytes of buf to path, and the reader's events of
 * it: allocations counted in *allocs, -EBADMSG or 0 as the last result. */
static int read_prefix(const char *path, const char *buf, size_t len, int *allocs,
                       struct fa_trace_damage *d)
{
	struct fa_trace_reader *r;
	struct fa_trace_event ev;
	int fd = open(path, O_WRONLY | O_TRUNC), ret;

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return -EIO;
	close(fd);
	r = fa_trace_reader_open(path);
	if (!r)
		return -errno;
	*allocs = 0;
	while ((ret = fa_trace_next(r, &ev)) == 1)
		*allocs += ev.type == FA_TRACE_ALLOC;
	if (ret == -EBADMSG) {
		/* sticky: no event after the damage */
		if (fa_trace_next(r, &ev) != -EBADMSG || fa_trace_reader_damage(r, d))
			ret = -EPROTO;
	} else if (fa_trace_reader_damage(r, d) != -ENOENT) {
		ret = -EPROTO;
	}
	fa_trace_reader_close(r);
	return ret;
}

/* A journal cut short (a program killed mid-run) or with a bad record
 * decodes up to there, and the reader says where its good prefix ends. */
TEST_F(journal, damaged_journal_gives_its_good_prefix)
{
	struct fa_trace_damage d;
	struct fa_arena *a;
	struct stat st;
	int allocs;
	char *buf;
	size_t n;
	int fd;

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	a = traced(0, 0, 0);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 10; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 100));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());
	fd = open(self->path, O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fstat(fd, &st));
	n = (size_t)st.st_size;
	buf = malloc(n + 64);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ((ssize_t)n, read(fd, buf, n));
	close(fd);

	/* whole */
	ASSERT_EQ(0, read_prefix(self->path, buf, n, &allocs, &d));
	EXPECT_EQ(10, allocs);
	/* cut inside the END record: every allocation, then where it ends */
	ASSERT_EQ(-EBADMSG, read_prefix(self->path, buf, n - 12, &allocs, &d));
	EXPECT_EQ(10, allocs);
	EXPECT_EQ(1, d.truncated);
	EXPECT_EQ(n - 32, d.offset);
	EXPECT_EQ(n - 12, d.file_size);
	EXPECT_EQ(FA_TRACE_END, d.type);
	EXPECT_EQ(32, d.len);
	EXPECT_STREQ("a 32-byte END record, 20 bytes left", d.what);
	/* cut inside a record's head */
	ASSERT_EQ(-EBADMSG, read_prefix(self->path, buf, n - 30, &allocs, &d));
	EXPECT_EQ(10, allocs);
	EXPECT_EQ(1, d.truncated);
	EXPECT_EQ(n - 32, d.offset);
	EXPECT_EQ(0, d.type);
	EXPECT_STREQ("a record head (4 bytes), 2 bytes left", d.what);
	/* cut inside the 6th ALLOC: the 5 before it */
	{
		size_t off = 64, cut = 0;
		int seen = 0;

		while (off < n) {
			uint16_t type, len;

			memcpy(&type, buf + off, 2);
			memcpy(&len, buf + off + 2, 2);
			if (type == FA_TRACE_ALLOC && ++seen == 6) {
				cut = off;
				break;
			}
			off += len;
		}
		ASSERT_NE(0, cut);
		ASSERT_EQ(-EBADMSG, read_prefix(self->path, buf, cut + 40, &allocs, &d));
		EXPECT_EQ(5, allocs);
		EXPECT_EQ(cut, d.offset);
		EXPECT_EQ(1, d.truncated);
		EXPECT_STREQ("a 48-byte ALLOC record, 40 bytes left", d.what);
		/* zeros where writes never landed count as cut short */
		memset(buf + cut, 0, n - cut);
		ASSERT_EQ(-EBADMSG, read_prefix(self->path, buf, n, &allocs, &d));
		EXPECT_EQ(5, allocs);
		EXPECT_EQ(cut, d.offset);
		EXPECT_EQ(1, d.truncated);
		/* a malformed length there, with more after it: not truncated */
		buf[cut] = FA_TRACE_ALLOC;
		buf[cut + 2] = 13;
		ASSERT_EQ(-EBADMSG, read_prefix(self->path, buf, n, &allocs, &d));
		EXPECT_EQ(5, allocs);
		EXPECT_EQ(cut, d.offset);
		EXPECT_EQ(0, d.truncated);
		EXPECT_EQ(FA_TRACE_ALLOC, d.type);
		EXPECT_EQ(13, d.len);
		EXPECT_NE(NULL, strstr(d.what, "ALLOC")) TH_LOG("%s", d.what);
	}
	EXPECT_EQ(-EINVAL, fa_trace_reader_damage(NULL, &d));
	free(buf);
}

TEST_F(journal, bad_input)
{
	struct fa_trace_opts to = { .buffer_size = 5000 };
	struct fa_arena_opts ao = { .flags = FA_ARENA_TRACE,
		                    .trace_path = "/nonexistent-dir/journal" };
	struct fa_trace_event ev;
	struct fa_trace_reader *r;
	char bad[128];
	int fd;

	EXPECT_EQ(-EINVAL, fa_trace_open(NULL, NULL));
	EXPECT_EQ(-EINVAL, fa_trace_open(self->path, &to)); /* not a power of two */
	to.buffer_size = 0;
	to.flags = 1u << 7;
	EXPECT_EQ(-EINVAL, fa_trace_open(self->path, &to));
	EXPECT_EQ(-ENOENT, fa_trace_open("/nonexistent-dir/journal", NULL));
	EXPECT_EQ(-EINVAL, fa_trace_stats(NULL));
	/* an unopenable trace_path, asked for explicitly, fails the arena */
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_create(&ao));
	EXPECT_EQ(ENOENT, errno);

	/* reader: not a journal, newer version, truncated record */
	EXPECT_EQ(NULL, fa_trace_reader_open(NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, fa_trace_reader_open("/nonexistent-dir/journal"));
	EXPECT_EQ(ENOENT, errno);
	/* not regular files: refused at once, never read until memory runs
	 * out (/dev/zero grew to 2 GiB before) */
	errno = 0;
	EXPECT_EQ(NULL, fa_trace_reader_open("/dev/zero"));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_trace_reader_open("/tmp"));
	EXPECT_EQ(EINVAL, errno);
	{
		int pfd[2];
		char pp[64];

		ASSERT_EQ(0, pipe(pfd));
		snprintf(pp, sizeof(pp), "/proc/self/fd/%d", pfd[0]);
		errno = 0;
		EXPECT_EQ(NULL, fa_trace_reader_open(pp));
		EXPECT_EQ(EINVAL, errno);
		close(pfd[0]);
		close(pfd[1]);
	}
	memset(bad, 0, sizeof(bad));
	fd = open(self->path, O_WRONLY | O_TRUNC);
	ASSERT_EQ((ssize_t)sizeof(bad), write(fd, bad, sizeof(bad)));
	close(fd);
	EXPECT_EQ(NULL, fa_trace_reader_open(self->path));
	EXPECT_EQ(EBADMSG, errno);

	memcpy(bad, "FAJRNL\0\1", 8);
	bad[8] = 9; /* version 9 */
	bad[12] = 64;
	fd = open(self->path, O_WRONLY | O_TRUNC);
	ASSERT_EQ(72, write(fd, bad, 72));
	close(fd);
	EXPECT_EQ(NULL, fa_trace_reader_open(self->path));
	EXPECT_EQ(EPROTONOSUPPORT, errno);

	bad[8] = 1;
	bad[64] = FA_TRACE_ALLOC;
	bad[66] = 48; /* says 48 bytes, 8 present */
	fd = open(self->path, O_WRONLY | O_TRUNC);
	ASSERT_EQ(72, write(fd, bad, 72));
	close(fd);
	r = fa_trace_reader_open(self->path);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(-EBADMSG, fa_trace_next(r, &ev));
	EXPECT_EQ(-EINVAL, fa_trace_next(r, NULL));
	EXPECT_EQ(-EINVAL, fa_trace_reader_header(r, NULL));
	fa_trace_reader_close(r);
	fa_trace_reader_close(NULL);
}

TEST_HARNESS_MAIN
