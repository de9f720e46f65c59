// SPDX-License-Identifier: MIT
/*
 * malloc_debug: FINALLOC_DEBUG=1 on the drop-in (LD_PRELOAD or linked
 * statically, see preload.h; main sets the variable and starts again).
 * Small blocks carry a canary: an overrun is reported at free with the
 * block's address, size and size class and the program aborted; the
 * usable size is the requested one; a shrinking realloc moves the canary;
 * a double free is still reported as one.
 */
#include "kselftest_harness.h"
#include "preload.h"

#include <malloc.h>
#include <stdint.h>

/* Opaque to the compiler, so it neither folds the sizes nor warns. */
static volatile size_t vzero;

static size_t n(size_t v)
{
	return v + vzero;
}

TEST(on_the_debug_drop_in)
{
	ASSERT_TRUE(on_finalloc());
	ASSERT_STREQ("1", getenv("FINALLOC_DEBUG"));
}

TEST(usable_size_is_the_request)
{
	char *p = malloc(n(24)), *q = calloc(n(3), 8), *r = aligned_alloc(64, n(40));

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(24, malloc_usable_size(p));
	EXPECT_EQ(24, malloc_usable_size(q));
	EXPECT_EQ(40, malloc_usable_size(r));
	EXPECT_EQ(0, (uintptr_t)r % 64);
	for (int i = 0; i < 24; i++)
		EXPECT_EQ(0, q[i]);
	free(p);
	free(q);
	free(r);
}

/* Every byte asked for may be written: no report. */
TEST(writes_within_the_block_are_fine)
{
	for (size_t sz = 0; sz <= 8192; sz += sz < 256 ? 1 : 61) {
		char *p = malloc(n(sz));

		ASSERT_NE(NULL, p);
		memset(p, 0x5a, sz);
		free(p);
	}
}

struct bug {
	int how;
};

static void overrun(void *arg)
{
	const struct bug *b = arg;
	char *p;

	switch (b->how) {
	case 0: /* one byte past the end */
		p = malloc(n(24));
		p[n(24)] = 1;
		free(p);
		break;
	case 1: /* over the whole rest of the class, the size word too */
		p = malloc(n(24));
		memset(p, 1, n(48));
		free(p);
		break;
	case 2: /* past the new end of a shrunk block */
		p = malloc(n(100));
		p = realloc(p, n(50));
		p[n(50)] = 1;
		free(p);
		break;
	case 3: /* an aligned block */
		p = aligned_alloc(64, n(40));
		p[n(40) + 3] = 1;
		free(p);
		break;
	}
}

TEST(overruns_abort_with_the_block)
{
	static const char *const want[] = {
		"(24 bytes) was written at byte 1 past its end (size class",
		"was written past its end, over its size word (size class",
		"(50 bytes) was written at byte 1 past its end (size class",
		"(40 bytes) was written at byte 4 past its end (size class",
	};

	for (int how = 0; how < 4; how++) {
		struct bug b = { how };
		char buf[512];
		int st = child_stderr(overrun, &b, buf, sizeof(buf));

		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)
		TH_LOG("case %d: status %#x, said: %s", how, st, buf);
		EXPECT_NE(NULL, strstr(buf, "finalloc: free(): heap overrun: the block at 0x"))
		TH_LOG("case %d said: %s", how, buf);
		EXPECT_NE(NULL, strstr(buf, want[how])) TH_LOG("case %d said: %s", how, buf);
	}
}

static void double_free(void *arg)
{
	char *p = malloc(n(24));

	(void)arg;
	free(p);
	free(p);
}

TEST(double_free_is_still_a_double_free)
{
	char buf[512];
	int st = child_stderr(double_free, NULL, buf, sizeof(buf));

	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) TH_LOG("status %#x", st);
	EXPECT_NE(NULL, strstr(buf, "double free")) TH_LOG("said: %s", buf);
	EXPECT_EQ(NULL, strstr(buf, "heap overrun")) TH_LOG("said: %s", buf);
}

int main(int argc, char **argv)
{
	/* the drop-in reads its knobs at its first allocation, before main */
	if (!getenv("FINALLOC_DEBUG")) {
		setenv("FINALLOC_DEBUG", "1", 1);
#ifdef FA_MALLOC_STATIC
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
#endif
	}
	if (preload(argc, argv))
		return 1;
	return test_harness_run(argc, argv);
}
