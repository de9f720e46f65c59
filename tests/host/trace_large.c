// SPDX-License-Identifier: MIT
/*
 * Allocation journal, large blocks: pools (FA_POOL_TRACE) and NUMA
 * allocators (FA_NUMA_TRACE) journal their large allocations with the site
 * a caller gives (fa_pool_alloc_site, fa_numa_alloc_site), and the frees of
 * them; FINALLOC_TRACE makes every user pool and NUMA allocator do so
 * (FINALLOC_TRACE_MIN its threshold), not the NUMA allocator's own pools.
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXEV 64

struct seen {
	struct fa_trace_event ev[MAXEV];
	char file[MAXEV][64], func[MAXEV][64];
	int n;
};

/* Every event but SITE/END, in file order; the names copied. */
static int read_all(const char *path, struct seen *s)
{
	struct fa_trace_reader *r = fa_trace_reader_open(path);
	struct fa_trace_event ev;
	int rc;

	if (!r)
		return -errno;
	s->n = 0;
	while ((rc = fa_trace_next(r, &ev)) == 1) {
		if (ev.type == FA_TRACE_END || s->n == MAXEV)
			continue;
		snprintf(s->file[s->n], sizeof(s->file[0]), "%s", ev.file ? ev.file : "");
		snprintf(s->func[s->n], sizeof(s->func[0]), "%s", ev.func ? ev.func : "");
		s->ev[s->n++] = ev;
	}
	fa_trace_reader_close(r);
	return rc;
}

/* Index of the first event of type (and ARENA event) from i on, or -1. */
static int find(const struct seen *s, int from, int type, int event, uint64_t addr)
{
	for (int i = from; i < s->n; i++)
		if (s->ev[i].type == type && (type != FA_TRACE_ARENA || s->ev[i].event == event) &&
		    (!addr || s->ev[i].addr == addr))
			return i;
	return -1;
}

static int count(const struct seen *s, int type, unsigned kind)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += s->ev[i].type == type && FA_TRACE_SOURCE(s->ev[i].arena) == kind;
	return n;
}

FIXTURE(large)
{
	char path[64];
	struct seen s;
};

FIXTURE_SETUP(large)
{
	int fd;

	strcpy(self->path, "/tmp/fa-trace-large-XXXXXX");
	fd = mkstemp(self->path);
	ASSERT_GE(fd, 0);
	close(fd);
	unsetenv("FINALLOC_TRACE");
	unsetenv("FINALLOC_TRACE_MIN");
}

FIXTURE_TEARDOWN(large)
{
	unsetenv("FINALLOC_TRACE");
	unsetenv("FINALLOC_TRACE_MIN");
	unlink(self->path);
}

TEST_F(large, pool_blocks_and_frees_with_their_sites)
{
	struct fa_pool_opts po = { .flags = FA_POOL_TRACE };
	struct seen *s = &self->s;
	struct fa_pool *p;
	void *a, *b, *c, *small;
	int line_a, i, k;
	uint64_t id;

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	p = fa_pool_create(&po);
	ASSERT_NE(NULL, p);
	line_a = __LINE__ + 1;
	a = fa_pool_alloc_site(p, 1 << 20, __FILE__, __LINE__, __func__);
	b = fa_pool_alloc(p, 300000); /* no site given */
	small = fa_pool_alloc_site(p, 64, __FILE__, __LINE__, __func__);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, small);
	fa_pool_free(p, a);
	c = fa_pool_alloc(p, 1 << 20); /* from the large cache: journaled too */
	ASSERT_NE(NULL, c);
	fa_pool_free(p, b);
	fa_pool_free(p, c);
	fa_pool_free(p, small);
	fa_pool_destroy(p);
	ASSERT_EQ(0, fa_trace_close());

	ASSERT_EQ(0, read_all(self->path, s));
	i = find(s, 0, FA_TRACE_ARENA, FA_TRACE_EV_CREATE, 0);
	ASSERT_LE(0, i);
	id = s->ev[i].arena;
	EXPECT_EQ(FA_TRACE_SRC_POOL, FA_TRACE_SOURCE(id));
	EXPECT_NE(0, FA_TRACE_SOURCE_NR(id));
	/* the small object is not journaled: 3 ALLOCs, 3 FREEs */
	EXPECT_EQ(3, count(s, FA_TRACE_ALLOC, FA_TRACE_SRC_POOL));
	EXPECT_EQ(3, count(s, FA_TRACE_FREE, FA_TRACE_SRC_POOL));
	k = find(s, 0, FA_TRACE_ALLOC, 0, (uintptr_t)a);
	ASSERT_LE(0, k);
	EXPECT_EQ(id, s->ev[k].arena);
	EXPECT_EQ(1 << 20, s->ev[k].size);
	EXPECT_EQ(line_a, s->ev[k].line);
	EXPECT_STREQ(__FILE__, s->file[k]);
	EXPECT_STREQ(__func__, s->func[k]);
	k = find(s, 0, FA_TRACE_ALLOC, 0, (uintptr_t)b);
	ASSERT_LE(0, k);
	EXPECT_EQ(300000, s->ev[k].size);
	EXPECT_STREQ("", s->file[k]); /* unknown site */
	k = find(s, 0, FA_TRACE_FREE, 0, (uintptr_t)b);
	ASSERT_LE(0, k);
	EXPECT_EQ(id, s->ev[k].arena);
	EXPECT_EQ(300000, s->ev[k].size);
	EXPECT_EQ((uint32_t)gettid(), s->ev[k].tid);
	/* a's FREE comes before c's ALLOC, even at the same address */
	k = find(s, 0, FA_TRACE_FREE, 0, (uintptr_t)a);
	ASSERT_LE(0, k);
	EXPECT_LT(k, find(s, k + 1, FA_TRACE_ALLOC, 0, (uintptr_t)c));
	EXPECT_LE(0, find(s, 0, FA_TRACE_ARENA, FA_TRACE_EV_DESTROY, 0));
}

TEST_F(large, numa_blocks_and_frees_with_their_sites)
{
	struct fa_numa_opts no = { .flags = FA_NUMA_TRACE };
	struct seen *s = &self->s;
	struct fa_numa *n;
	void *a, *b, *small;
	int line_a, k;

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	n = fa_numa_create(&no);
	ASSERT_NE(NULL, n);
	line_a = __LINE__ + 1;
	a = fa_numa_alloc_site(n, 3 << 20, __FILE__, __LINE__, __func__);
	b = fa_numa_alloc_onnode(n, 1 << 20, 0);
	small = fa_numa_alloc_site(n, 100, __FILE__, __LINE__, __func__);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, small);
	fa_numa_free(n, a);
	fa_numa_free(n, small);
	/* b is left to fa_numa_destroy: an ALLOC with no FREE */
	fa_numa_destroy(n);
	ASSERT_EQ(0, fa_trace_close());

	ASSERT_EQ(0, read_all(self->path, s));
	EXPECT_EQ(2, count(s, FA_TRACE_ARENA, FA_TRACE_SRC_NUMA)); /* CREATE, DESTROY */
	EXPECT_EQ(0, count(s, FA_TRACE_ARENA, FA_TRACE_SRC_POOL)); /* its node pools */
	EXPECT_EQ(2, count(s, FA_TRACE_ALLOC, FA_TRACE_SRC_NUMA));
	EXPECT_EQ(1, count(s, FA_TRACE_FREE, FA_TRACE_SRC_NUMA));
	k = find(s, 0, FA_TRACE_ALLOC, 0, (uintptr_t)a);
	ASSERT_LE(0, k);
	EXPECT_EQ(3 << 20, s->ev[k].size);
	EXPECT_EQ(line_a, s->ev[k].line);
	EXPECT_STREQ(__FILE__, s->file[k]);
	k = find(s, 0, FA_TRACE_FREE, 0, (uintptr_t)a);
	ASSERT_LE(0, k);
	EXPECT_EQ(3 << 20, s->ev[k].size);
	EXPECT_LE(0, find(s, 0, FA_TRACE_ALLOC, 0, (uintptr_t)b));
	EXPECT_GT(0, find(s, 0, FA_TRACE_FREE, 0, (uintptr_t)b));
}

/* Not asked, no journal: nothing is recorded, and the site variants are
 * plain allocations. */
TEST_F(large, untraced_pool_and_numa_record_nothing)
{
	struct seen *s = &self->s;
	struct fa_pool *p;
	struct fa_numa *n;
	void *a, *b;

	ASSERT_EQ(0, fa_trace_open(self->path, NULL));
	p = fa_pool_create(NULL);
	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, n);
	a = fa_pool_alloc_site(p, 1 << 20, __FILE__, __LINE__, __func__);
	b = fa_numa_alloc_site(n, 1 << 20, __FILE__, __LINE__, __func__);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	fa_pool_free(p, a);
	fa_numa_free(n, b);
	fa_pool_destroy(p);
	fa_numa_destroy(n);
	ASSERT_EQ(0, fa_trace_close());
	ASSERT_EQ(0, read_all(self->path, s));
	EXPECT_EQ(0, s->n);
}

TEST_F(large, trace_flags_need_a_journal)
{
	struct fa_pool_opts po = { .flags = FA_POOL_TRACE };
	struct fa_numa_opts no = { .flags = FA_NUMA_TRACE };

	errno = 0;
	EXPECT_EQ(NULL, fa_pool_create(&po));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_numa_create(&no));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(large, env_traces_user_pools_and_numa_above_the_threshold)
{
	struct seen *s = &self->s;
	struct fa_pool *p;
	struct fa_numa *n;
	void *a, *b, *c, *d;

	setenv("FINALLOC_TRACE", self->path, 1);
	setenv("FINALLOC_TRACE_MIN", "512k", 1);
	p = fa_pool_create(NULL); /* no TRACE flag: the environment asks */
	n = fa_numa_create(NULL);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, n);
	a = fa_pool_alloc(p, 300000); /* under the threshold */
	b = fa_pool_alloc(p, 1 << 20);
	c = fa_numa_alloc(n, 300000);
	d = fa_numa_alloc(n, 2 << 20);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, d);
	fa_pool_free(p, a);
	fa_pool_free(p, b);
	fa_numa_free(n, c);
	fa_numa_free(n, d);
	fa_pool_destroy(p);
	fa_numa_destroy(n);
	ASSERT_EQ(0, fa_trace_close());

	ASSERT_EQ(0, read_all(self->path, s));
	/* one pool: the NUMA allocator's node pools do not journal */
	EXPECT_EQ(2, count(s, FA_TRACE_ARENA, FA_TRACE_SRC_POOL));
	EXPECT_EQ(2, count(s, FA_TRACE_ARENA, FA_TRACE_SRC_NUMA));
	EXPECT_EQ(1, count(s, FA_TRACE_ALLOC, FA_TRACE_SRC_POOL));
	EXPECT_EQ(1, count(s, FA_TRACE_FREE, FA_TRACE_SRC_POOL));
	EXPECT_EQ(1, count(s, FA_TRACE_ALLOC, FA_TRACE_SRC_NUMA));
	EXPECT_EQ(1, count(s, FA_TRACE_FREE, FA_TRACE_SRC_NUMA));
	EXPECT_LE(0, find(s, 0, FA_TRACE_ALLOC, 0, (uintptr_t)b));
	EXPECT_LE(0, find(s, 0, FA_TRACE_ALLOC, 0, (uintptr_t)d));
}

TEST_HARNESS_MAIN
