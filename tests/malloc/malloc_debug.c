// SPDX-License-Identifier: MIT
/*
 * malloc_debug: FINALLOC_DEBUG=1 on the drop-in (LD_PRELOAD or linked
 * statically, see preload.h; main sets the variable and starts again).
 * Every block carries a canary, small, medium (8 KiB-128 KiB chunks, big
 * alignments) and large (mapped) ones: an overrun is reported at free with
 * the block's address, size and size class and the program aborted; the
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
	/* medium, large, and aligned to a page and to 2 MiB */
	p = malloc(n(50000));
	q = calloc(n(5), 1 << 20);
	r = aligned_alloc(4096, n(5000));
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(50000, malloc_usable_size(p));
	EXPECT_EQ(5 << 20, malloc_usable_size(q));
	EXPECT_EQ(5000, malloc_usable_size(r));
	EXPECT_EQ(0, (uintptr_t)r % 4096);
	for (size_t i = 0; i < (5 << 20); i += 4093)
		ASSERT_EQ(0, q[i]);
	free(p);
	free(q);
	free(r);
	p = aligned_alloc(2 << 20, n(100));
	ASSERT_NE(NULL, p);
	EXPECT_EQ(100, malloc_usable_size(p));
	EXPECT_EQ(0, (uintptr_t)p % (2 << 20));
	free(p);
}

/* Every byte asked for may be written: no report, whatever the size,
 * alignment or realloc. */
TEST(writes_within_the_block_are_fine)
{
	for (size_t sz = 0; sz <= ((size_t)6 << 20); sz += sz < 256 ? 1 : sz < 8192 ? 61 : sz / 7) {
		char *p = malloc(n(sz)), *q = aligned_alloc(256, n(sz));

		ASSERT_NE(NULL, p);
		ASSERT_NE(NULL, q);
		memset(p, 0x5a, sz);
		memset(q, 0x5a, sz);
		p = realloc(p, n(sz + sz / 3 + 1));
		ASSERT_NE(NULL, p);
		memset(p, 0x5b, sz + sz / 3 + 1);
		free(p);
		free(q);
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
	case 4: /* a medium block */
		p = malloc(n(50000));
		p[n(50000)] = 1;
		free(p);
		break;
	case 5: /* a large block, a page's worth past its end */
		p = malloc(n(5 << 20));
		p[n(5 << 20) + 4095] = 1;
		free(p);
		break;
	case 6: /* a medium block shrunk in place */
		p = malloc(n(60000));
		p = realloc(p, n(40000));
		p[n(40000) + 1] = 1;
		free(p);
		break;
	case 7: /* a block aligned to 2 MiB, a map of its own */
		p = aligned_alloc(2 << 20, n(300));
		p[n(300)] = 1;
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
		"(50000 bytes) was written at byte 1 past its end (size class",
		"(5242880 bytes) was written at byte 4096 past its end (size class",
		"(40000 bytes) was written at byte 2 past its end (size class",
		"(300 bytes) was written at byte 1 past its end (size class",
	};

	for (int how = 0; how < 8; how++) {
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
	char *p = malloc(n(*(const size_t *)arg)), *keep = malloc(n(*(const size_t *)arg));

	free(p);
	free(p);
	free(keep);
}

/* Small and medium blocks (the medium chunk stays mapped: another block
 * of it is live). */
TEST(double_free_is_still_a_double_free)
{
	static const size_t sizes[] = { 24, 50000 };

	for (int i = 0; i < 2; i++) {
		char buf[512];
		int st = child_stderr(double_free, (void *)&sizes[i], buf, sizeof(buf));

		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)
		TH_LOG("%zu B: status %#x", sizes[i], st);
		EXPECT_NE(NULL, strstr(buf, "double free")) TH_LOG("%zu B said: %s", sizes[i], buf);
		EXPECT_EQ(NULL, strstr(buf, "heap overrun"))
		TH_LOG("%zu B said: %s", sizes[i], buf);
	}
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
