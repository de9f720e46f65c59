// SPDX-License-Identifier: MIT
/*
 * Arena: bump path, multi-chunk growth and cap, reset keep/release,
 * construct + destructor order, alignment, metadata walker, canaries and
 * check, debug-mode automatic checks, guard pages, huge pages, prefault with
 * zero faults after warm-up, and every bad input the header lists.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "debugger.h"
#include "arena_util.h"

#include <errno.h>
#include <stdint.h>
#include <sys/wait.h>

#define SMALL_MEM                           \
	{                                   \
		.backend = FA_BACKEND_SMALL \
	}

static struct fa_arena *small_arena(size_t chunk, size_t max, size_t cap, unsigned flags)
{
	struct fa_arena_opts o = { .chunk_size = chunk,
		                   .max_chunk_size = max,
		                   .cap = cap,
		                   .flags = flags,
		                   .mem = SMALL_MEM };

	return fa_arena_create(&o);
}

TEST(defaults_bump)
{
	SKIP_UNDER_DEBUGGER("every allocation goes out of line");
	struct fa_arena *a = fa_arena_create(NULL);
	struct fa_arena_stats st;
	char *prev = NULL;

	ASSERT_NE(NULL, a);
	for (int i = 1; i <= 1000; i++) {
		size_t n = 16 + (size_t)(i % 241);
		char *p = fa_arena_alloc(a, n);

		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, (uintptr_t)p % FA_ARENA_MIN_ALIGN);
		if (prev)
			ASSERT_GE(p, prev); /* bump order, no overlap */
		memset(p, i & 0xff, n);
		prev = p + n;
	}
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(1, st.nr_chunks);
	EXPECT_EQ(0, st.slow_allocs); /* all 1000 took the inline path */
	EXPECT_GE(st.used_bytes, 1000 * 16);
	EXPECT_EQ(2 << 20, st.chunk_bytes);
	/* the exported symbols behave the same as the macros */
	{
		char *p = (fa_arena_alloc)(a, 24);
		char *q = (fa_arena_alloc_aligned)(a, 24, 4096);

		ASSERT_NE(NULL, p);
		ASSERT_NE(NULL, q);
		EXPECT_EQ(0, (uintptr_t)q % 4096);
	}
	fa_arena_destroy(a);
}

TEST(bad_input)
{
	struct fa_arena_opts o;
	struct fa_arena *a = small_arena(64 << 10, 1 << 20, 0, 0);
	struct fa_arena_stats st;

	ASSERT_NE(NULL, a);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc(NULL, 16));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, (fa_arena_alloc)(NULL, 16));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, fa_arena_alloc_aligned(NULL, 16, 64));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc(a, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc(a, SIZE_MAX));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc(a, SIZE_MAX - 8));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc_aligned(a, SIZE_MAX / 2, 64));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc_aligned(a, 16, 3));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc_aligned(a, 16, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_arena_alloc_aligned(a, 16, 48));
	EXPECT_EQ(EINVAL, errno);
	errno = 0; /* alignment larger than the largest chunk */
	EXPECT_EQ(NULL, fa_arena_alloc_aligned(a, 16, 2 << 20));
	EXPECT_EQ(EINVAL, errno);
	/* The refusal does not depend on where the chunk landed: a 64 KiB
	 * chunk holds a 128 KiB-aligned address half the time. */
	for (int i = 0; i < 64; i++) {
		struct fa_arena *b = small_arena(64 << 10, 64 << 10, 0, 0);

		ASSERT_NE(NULL, b);
		ASSERT_NE(NULL, fa_arena_alloc(b, 16)); /* map the first chunk */
		errno = 0;
		EXPECT_EQ(NULL, fa_arena_alloc_aligned(b, 16, 128 << 10));
		EXPECT_EQ(EINVAL, errno);
		/* up to a page, always served */
		EXPECT_NE(NULL, fa_arena_alloc_aligned(b, 16, 4096));
		fa_arena_destroy(b);
	}
	EXPECT_EQ(NULL, fa_arena_alloc_site(a, 16, 5, __FILE__, __LINE__, __func__));
	EXPECT_EQ(EINVAL, errno);
	/* nothing above moved the cursor or leaked a chunk */
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(1, st.nr_chunks);
	EXPECT_EQ(0, st.used_bytes);

	EXPECT_EQ(-EINVAL, fa_arena_on_destroy(NULL, free, NULL));
	EXPECT_EQ(-EINVAL, fa_arena_on_destroy(a, NULL, NULL));
	EXPECT_EQ(-EINVAL, fa_arena_walk(NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, fa_arena_check(NULL, NULL));
	EXPECT_EQ(-EOPNOTSUPP, fa_arena_check(a, NULL));
	EXPECT_EQ(-EINVAL, fa_arena_stats(NULL, &st));
	EXPECT_EQ(-EINVAL, fa_arena_stats(a, NULL));
	EXPECT_EQ(NULL, fa_arena_new_site(a, 8, 8, NULL, NULL, __FILE__, __LINE__, __func__));
	EXPECT_EQ(EINVAL, errno);
	fa_arena_reset(NULL);
	fa_arena_destroy(NULL);
	fa_arena_destroy(a);

	memset(&o, 0, sizeof(o));
	o.flags = 1u << 30;
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.reserved[2] = 1;
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.chunk_size = 4 << 20;
	o.max_chunk_size = 1 << 20;
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.max_chunk_size = (size_t)2 << 30;
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.mem.page_size = 999;
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(EINVAL, errno);
	/* cap below one page-rounded chunk */
	memset(&o, 0, sizeof(o));
	o.mem.backend = FA_BACKEND_SMALL;
	o.cap = 100;
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(ENOMEM, errno);
	/* TRACE without a journal to write to */
	memset(&o, 0, sizeof(o));
	o.flags = FA_ARENA_TRACE;
	unsetenv("FINALLOC_TRACE");
	EXPECT_EQ(NULL, fa_arena_create(&o));
	EXPECT_EQ(EINVAL, errno);
}

TEST(multi_chunk_geometric_growth)
{
	struct fa_arena *a = small_arena(64 << 10, 256 << 10, 0, 0);
	struct fa_arena_stats st;
	size_t total = 0;

	ASSERT_NE(NULL, a);
	while (total < (2 << 20)) {
		char *p = fa_arena_alloc(a, 1000);

		ASSERT_NE(NULL, p);
		memset(p, 7, 1000);
		total += 1000;
	}
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	/* 64 + 128 + 256 + 256 ... KiB */
	EXPECT_GE(st.nr_chunks, 9);
	EXPECT_LE(st.nr_chunks, 11);
	EXPECT_EQ(st.nr_chunks, st.chunks_mapped);
	EXPECT_EQ((64 << 10) + (128 << 10) + (st.nr_chunks - 2) * (256 << 10), st.chunk_bytes);
	EXPECT_GE(st.used_bytes, total);

	/* larger than the largest chunk: a chunk of its own */
	{
		char *big = fa_arena_alloc(a, 1 << 20);

		ASSERT_NE(NULL, big);
		memset(big, 1, 1 << 20);
		ASSERT_EQ(0, fa_arena_stats(a, &st));
		EXPECT_GE(st.chunk_bytes, (st.nr_chunks - 3) * (256 << 10) + (1 << 20));
		/* and the bump goes on after it */
		EXPECT_NE(NULL, fa_arena_alloc(a, 100));
	}
	fa_arena_destroy(a);
}

TEST(cap_gives_enomem)
{
	struct fa_arena *a = small_arena(64 << 10, 128 << 10, 512 << 10, 0);
	struct fa_arena_stats st;
	size_t got = 0;
	void *p;

	ASSERT_NE(NULL, a);
	while ((p = fa_arena_alloc(a, 4000)))
		got += 4000;
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_LE(st.chunk_bytes, 512 << 10);
	EXPECT_GE(got, 400 << 10);
	EXPECT_EQ(512 << 10, st.cap);
	/* a failed allocation leaves the arena usable */
	EXPECT_EQ(NULL, fa_arena_alloc(a, 100 << 10));
	EXPECT_EQ(ENOMEM, errno);
	fa_arena_reset(a);
	EXPECT_NE(NULL, fa_arena_alloc(a, 4000));
	fa_arena_destroy(a);
}

TEST(reset_keeps_chunks)
{
	struct fa_arena *a = small_arena(64 << 10, 64 << 10, 0, 0);
	struct fa_arena_stats st;
	void *first[100];

	ASSERT_NE(NULL, a);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			void *p = fa_arena_alloc(a, 2000);

			ASSERT_NE(NULL, p);
			if (round == 0)
				first[i] = p;
			else
				ASSERT_EQ(first[i], p); /* same memory, same order */
		}
		ASSERT_EQ(0, fa_arena_stats(a, &st));
		EXPECT_EQ(4, st.nr_chunks);
		EXPECT_EQ(4, st.chunks_mapped); /* nothing new after the first round */
		fa_arena_reset(a);
		ASSERT_EQ(0, fa_arena_stats(a, &st));
		EXPECT_EQ(0, st.used_bytes);
		EXPECT_EQ((uint64_t)round + 1, st.resets);
	}
	fa_arena_destroy(a);
}

TEST(reset_release_returns_chunks)
{
	struct fa_arena *a = small_arena(64 << 10, 64 << 10, 0, FA_ARENA_RESET_RELEASE);
	struct fa_backend_stats b0, b1;
	struct fa_arena_stats st;

	ASSERT_NE(NULL, a);
	for (int i = 0; i < 100; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 2000));
	ASSERT_EQ(0, fa_backend_stats(&b0));
	fa_arena_reset(a);
	ASSERT_EQ(0, fa_backend_stats(&b1));
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(1, st.nr_chunks);
	EXPECT_EQ(3, st.chunks_released);
	EXPECT_EQ(b0.unmaps + 3, b1.unmaps);
	EXPECT_EQ(b0.bytes_mapped[FA_BACKEND_SMALL] - 3 * (64 << 10),
	          b1.bytes_mapped[FA_BACKEND_SMALL]);
	fa_arena_destroy(a);
}

struct order {
	int id;
	int qty;
	double px;
};

static int dtor_log[16], dtor_n;

static void note_dtor(void *p)
{
	dtor_log[dtor_n++] = ((struct order *)p)->id;
}

TEST(construct_and_destructor_order)
{
	struct fa_arena *a = small_arena(64 << 10, 0, 0, 0);
	struct order *o1, *o2, *o3;
	struct fa_arena_stats st;

	ASSERT_NE(NULL, a);
	o1 = FA_ARENA_NEW(a, struct order, .id = 1, .qty = 100, .px = 1.5);
	ASSERT_NE(NULL, o1);
	EXPECT_EQ(1, o1->id);
	EXPECT_EQ(100, o1->qty);
	EXPECT_EQ(0, (uintptr_t)o1 % _Alignof(struct order));
	o2 = FA_ARENA_NEW_DTOR(a, struct order, note_dtor, .id = 2);
	o3 = FA_ARENA_NEW_DTOR(a, struct order, note_dtor, .id = 3, .qty = 7);
	ASSERT_NE(NULL, o2);
	ASSERT_NE(NULL, o3);
	EXPECT_EQ(0, o2->qty); /* unnamed members are zero */
	EXPECT_EQ(7, o3->qty);
	ASSERT_EQ(0, fa_arena_on_destroy(a, note_dtor, o1));
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(3, st.dtors_pending);

	dtor_n = 0;
	fa_arena_reset(a); /* reverse order of registration */
	ASSERT_EQ(3, dtor_n);
	EXPECT_EQ(1, dtor_log[0]);
	EXPECT_EQ(3, dtor_log[1]);
	EXPECT_EQ(2, dtor_log[2]);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(0, st.dtors_pending);

	/* and on destroy, once */
	dtor_n = 0;
	o1 = FA_ARENA_NEW_DTOR(a, struct order, note_dtor, .id = 10);
	o2 = FA_ARENA_NEW_DTOR(a, struct order, note_dtor, .id = 11);
	ASSERT_NE(NULL, o1);
	ASSERT_NE(NULL, o2);
	fa_arena_destroy(a);
	ASSERT_EQ(2, dtor_n);
	EXPECT_EQ(11, dtor_log[0]);
	EXPECT_EQ(10, dtor_log[1]);
}

TEST(every_power_of_two_alignment)
{
	unsigned modes[] = { 0, FA_ARENA_META, FA_ARENA_CANARY };

	for (unsigned m = 0; m < 3; m++) {
		struct fa_arena *a = small_arena(64 << 10, 4 << 20, 0, modes[m]);

		ASSERT_NE(NULL, a);
		for (size_t al = 1; al <= (4 << 20); al <<= 1) {
			char *p = fa_arena_alloc_aligned(a, 24, al);

			ASSERT_NE(NULL, p);
			ASSERT_EQ(0, (uintptr_t)p % al);
			memset(p, 0x33, 24);
		}
		if (modes[m])
			EXPECT_EQ(0, fa_arena_check(a, NULL));
		fa_arena_destroy(a);
	}
}

struct seen {
	int n;
	void *ptr[8];
	size_t size[8], align[8];
	int line[8];
	const char *file[8];
	const char *func[8];
};

static int collect(const struct fa_arena_block *b, void *arg)
{
	struct seen *s = arg;

	if (s->n == 8)
		return 99;
	s->ptr[s->n] = b->ptr;
	s->size[s->n] = b->size;
	s->align[s->n] = b->align;
	s->line[s->n] = b->line;
	s->file[s->n] = b->file;
	s->func[s->n] = b->func;
	s->n++;
	return 0;
}

TEST(metadata_walker)
{
	struct fa_arena *a = small_arena(4096, 8192, 0, FA_ARENA_META);
	struct seen s = { 0 };
	void *p[5];
	int lines[5];

	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, fa_arena_walk(a, NULL, NULL));
	lines[0] = __LINE__ + 1;
	p[0] = fa_arena_alloc(a, 10);
	lines[1] = __LINE__ + 1;
	p[1] = fa_arena_alloc_aligned(a, 100, 256);
	ASSERT_EQ(0, fa_arena_on_destroy(a, free, NULL)); /* internal record: not listed */
	lines[2] = __LINE__ + 1;
	p[2] = fa_arena_alloc(a, 3000); /* spills into a second chunk */
	lines[3] = __LINE__ + 1;
	p[3] = fa_arena_alloc(a, 1);
	lines[4] = __LINE__ + 1;
	p[4] = FA_ARENA_NEW(a, struct order, .id = 5);
	for (int i = 0; i < 5; i++)
		ASSERT_NE(NULL, p[i]);

	ASSERT_EQ(0, fa_arena_walk(a, collect, &s));
	ASSERT_EQ(5, s.n);
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(p[i], s.ptr[i]);
		EXPECT_EQ(lines[i], s.line[i]);
		EXPECT_STREQ(__FILE__, s.file[i]);
		EXPECT_STREQ("metadata_walker", s.func[i]);
	}
	EXPECT_EQ(10, s.size[0]);
	EXPECT_EQ(256, s.align[1]);
	EXPECT_EQ(3000, s.size[2]);
	EXPECT_EQ(sizeof(struct order), s.size[4]);

	/* a non-zero callback return stops the walk and is returned */
	s.n = 8;
	EXPECT_EQ(99, fa_arena_walk(a, collect, &s));
	/* walker without META */
	{
		struct fa_arena *b = small_arena(4096, 0, 0, 0);

		EXPECT_EQ(-EOPNOTSUPP, fa_arena_walk(b, collect, &s));
		fa_arena_destroy(b);
	}
	fa_arena_reset(a);
	s.n = 0;
	EXPECT_EQ(0, fa_arena_walk(a, collect, &s));
	EXPECT_EQ(0, s.n);
	fa_arena_destroy(a);
}

TEST(canary_overflow_found_with_site)
{
	struct fa_arena *a = small_arena(64 << 10, 0, 0, FA_ARENA_CANARY);
	struct fa_arena_corruption c;
	char *p, *q;
	int line;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, fa_arena_alloc(a, 40));
	line = __LINE__ + 1;
	p = fa_arena_alloc(a, 37);
	q = fa_arena_alloc(a, 64);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	memset(p, 0, 37);
	memset(q, 0, 64);
	EXPECT_EQ(0, fa_arena_check(a, &c));

	p[37] = 'X'; /* one byte past the end */
	ASSERT_EQ(-EUCLEAN, fa_arena_check(a, &c));
	EXPECT_EQ(FA_CORRUPT_BACK, c.kind);
	EXPECT_EQ(p, c.ptr);
	EXPECT_EQ(p + 37, c.bad);
	EXPECT_EQ(37, c.size);
	EXPECT_EQ(line, c.line);
	EXPECT_STREQ(__FILE__, c.file);
	EXPECT_STREQ("canary_overflow_found_with_site", c.func);
	p[37] = (char)0xcb; /* repaired: clean again */
	EXPECT_EQ(0, fa_arena_check(a, &c));

	q[-1] = 1; /* underflow */
	ASSERT_EQ(-EUCLEAN, fa_arena_check(a, &c));
	EXPECT_EQ(FA_CORRUPT_FRONT, c.kind);
	EXPECT_EQ(q, c.ptr);
	EXPECT_EQ(q - 1, c.bad);
	fa_arena_destroy(a); /* not DEBUG: no automatic check */
}

TEST(header_damage_found)
{
	SKIP_UNDER_DEBUGGER("the overrun is the debugger's to report");
	struct fa_arena *a = small_arena(64 << 10, 0, 0, FA_ARENA_META);
	struct fa_arena_corruption c;
	char *p, *q;
	int line;

	ASSERT_NE(NULL, a);
	line = __LINE__ + 1;
	p = fa_arena_alloc(a, 32);
	q = fa_arena_alloc(a, 32);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(0, fa_arena_check(a, NULL));
	memset(p, 0xee, 200); /* runs over q's header */
	ASSERT_EQ(-EUCLEAN, fa_arena_check(a, &c));
	EXPECT_EQ(FA_CORRUPT_HEADER, c.kind);
	EXPECT_LT((char *)c.ptr, q);
	EXPECT_GT((char *)c.ptr, p);
	EXPECT_EQ(line, c.line); /* the allocation before it is blamed */
	EXPECT_EQ(-EUCLEAN, fa_arena_walk(a, collect, &(struct seen){ 0 }));
	fa_arena_destroy(a);
}

static int reported;
static struct fa_arena_corruption last;

static void on_bad(struct fa_arena *a, const struct fa_arena_corruption *c, void *arg)
{
	reported++;
	last = *c;
	*(int *)arg += 1;
}

TEST(debug_checks_on_reset_and_destroy)
{
	int calls = 0;
	struct fa_arena_opts o = { .chunk_size = 64 << 10,
		                   .flags = FA_ARENA_DEBUG,
		                   .mem = SMALL_MEM,
		                   .on_corruption = on_bad,
		                   .corruption_arg = &calls };
	struct fa_arena *a = fa_arena_create(&o);
	char *p;

	ASSERT_NE(NULL, a);
	p = fa_arena_alloc(a, 20);
	ASSERT_NE(NULL, p);
	fa_arena_reset(a);
	EXPECT_EQ(0, calls); /* clean */
	p = fa_arena_alloc(a, 20);
	p[20] = 0;
	fa_arena_reset(a);
	EXPECT_EQ(1, calls);
	EXPECT_EQ(FA_CORRUPT_BACK, last.kind);
	p = fa_arena_alloc(a, 20);
	p[-3] = 0;
	fa_arena_destroy(a);
	EXPECT_EQ(2, calls);
	EXPECT_EQ(FA_CORRUPT_FRONT, last.kind);
}

/* Without a callback, debug mode reports on stderr and aborts (in a child:
 * the harness counts SIGABRT as a failed assertion). */
TEST(debug_default_aborts)
{
	char msg[512] = "";
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct fa_arena *a = small_arena(64 << 10, 0, 0, FA_ARENA_DEBUG);
		char *p = fa_arena_alloc(a, 8);

		dup2(pfd[1], 2);
		p[8] = 1;
		fa_arena_destroy(a);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGABRT, WTERMSIG(status));
	EXPECT_NE(NULL, strstr(msg, "back red zone damaged"));
	EXPECT_NE(NULL, strstr(msg, "debug_default_aborts"));
}

TEST(guard_pages_at_chunk_edges)
{
	SKIP_UNDER_DEBUGGER("red zones move objects; a guard touch is the debugger's to report");
	struct fa_arena *a = small_arena(64 << 10, 64 << 10, 0, FA_ARENA_GUARDS);
	struct fa_arena_stats st;
	char *p, *base;

	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(4096, st.mem.guard_size);
	base = st.cur_ptr;
	/* fill the chunk to its end: the next byte is a guard */
	p = fa_arena_alloc(a, st.cur_avail);
	ASSERT_EQ(base, p);
	memset(p, 1, st.cur_avail);
	EXPECT_NE(0, probe(p + st.cur_avail, true));
	EXPECT_NE(0, probe(p + st.cur_avail, false));
	EXPECT_NE(0, probe(base - 1, true));
	EXPECT_EQ(0, probe(p + st.cur_avail - 1, true));
	/* the next chunk is guarded as well */
	p = fa_arena_alloc(a, 16);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(2, st.nr_chunks);
	EXPECT_NE(0, probe(p - 1, false));
	fa_arena_destroy(a);
}

TEST(huge_page_chunks_report_page_size)
{
	struct fa_arena_opts o = { .chunk_size = 2 << 20, .mem = { .backend = FA_BACKEND_THP } };
	struct fa_arena_stats st;
	struct fa_arena *a;
	long saved;

	if (!thp_enabled())
		SKIP(return, "THP disabled");
	a = fa_arena_create(&o);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(FA_BACKEND_THP, st.mem.backend);
	EXPECT_EQ(FA_PAGE_2M, st.mem.page_size);
	EXPECT_EQ(0, (uintptr_t)st.cur_ptr % FA_PAGE_2M);
	fa_arena_destroy(a);

	if (!reserve_2m(4, &saved))
		SKIP(return, "no hugetlb pages reserved and cannot reserve");
	o.mem.backend = FA_BACKEND_HUGETLB;
	a = fa_arena_create(&o);
	restore_2m(saved); /* pages in use stay until unmapped */
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(FA_BACKEND_HUGETLB, st.mem.backend);
	EXPECT_EQ(FA_PAGE_2M, st.mem.page_size);
	EXPECT_NE(NULL, fa_arena_alloc(a, 1 << 20));
	fa_arena_destroy(a);
}

TEST(prefault_zero_faults_after_warmup)
{
	SKIP_UNDER_DEBUGGER("red zones and the debugger change chunks and faults");
	struct fa_arena_opts o = { .chunk_size = 8 << 20,
		                   .max_chunk_size = 8 << 20,
		                   .mem = { .flags = FA_MEM_PREFAULT } };
	struct fa_arena *a = fa_arena_create(&o);
	struct fa_arena_stats st;
	long f0, f1;
	char *p;

	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(1, st.mem.prefaulted);
	TH_LOG("chunks from %s, %zu KiB pages, %s", fa_backend_name(st.mem.backend),
	       st.mem.page_size >> 10, st.mem.locked ? "locked" : "not locked");
	/* the first chunk was populated at create: no fault on first touch */
	f0 = minor_faults();
	p = fa_arena_alloc(a, st.cur_avail);
	ASSERT_NE(NULL, p);
	touch(p, st.cur_avail, 4096);
	f1 = minor_faults();
	EXPECT_EQ(0, f1 - f0);

	/* warm-up: a second chunk gets mapped (and populated) */
	p = fa_arena_alloc(a, 4 << 20);
	ASSERT_NE(NULL, p);
	fa_arena_reset(a);
	f0 = minor_faults();
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < (16 << 20) / 256; i++) {
			p = fa_arena_alloc(a, 16 + (size_t)(i % 200));
			touch(p, 1, 1);
		}
		fa_arena_reset(a);
	}
	f1 = minor_faults();
	EXPECT_EQ(0, f1 - f0);
	ASSERT_EQ(0, fa_arena_stats(a, &st));
	EXPECT_EQ(2, st.nr_chunks);
	fa_arena_destroy(a);
}

TEST(large_alignment_with_meta)
{
	struct fa_arena *a = small_arena(64 << 10, 64 << 20, 0, FA_ARENA_CANARY);
	char *p;

	ASSERT_NE(NULL, a);
	p = fa_arena_alloc_aligned(a, 100, 16 << 20);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % (16 << 20));
	memset(p, 2, 100);
	EXPECT_EQ(0, fa_arena_check(a, NULL));
	fa_arena_destroy(a);
}

TEST_HARNESS_MAIN
