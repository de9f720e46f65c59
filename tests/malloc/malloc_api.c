// SPDX-License-Identifier: MIT
/*
 * malloc_api: the drop-in's API, every symbol, on the drop-in (LD_PRELOAD
 * or linked statically, see preload.h): sizes 0, 1, a page, huge and
 * SIZE_MAX; calloc overflow; alignments 1 to 1 GiB and invalid ones;
 * realloc grow/shrink/in place/NULL/0; usable sizes; errno kept by free;
 * bad pointers reported and aborted; glibc's entry points and statistics;
 * the C++ operators.
 */
#include "kselftest_harness.h"
#include "preload.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>

/* Not in this glibc (or only as a compat symbol): weak, so the plain
 * build links and ld.so binds them to the drop-in at run time. */
__attribute__((weak)) void cfree(void *p);
__attribute__((weak)) void free_sized(void *p, size_t size);
__attribute__((weak)) void free_aligned_sized(void *p, size_t align, size_t size);
void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);
int fa_cxx_forms(void);

/* Opaque to the compiler, so it neither folds nor warns about sizes. */
static volatile size_t vsize_max = SIZE_MAX;

static size_t big(size_t n)
{
	return n + (vsize_max - SIZE_MAX);
}

/* The least a map of its own takes under the backend this run names. */
static size_t map_unit(void)
{
	const char *b = getenv("FINALLOC_BACKEND");

	if (b && (!strcmp(b, "thp") || !strcmp(b, "hugetlb") || !strcmp(b, "device")))
		return (size_t)2 << 20;
	return (size_t)128 << 10;
}

static int aligned_to(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

TEST(on_the_drop_in)
{
	ASSERT_TRUE(on_finalloc());
	ASSERT_TRUE(cfree && free_sized && free_aligned_sized);
}

TEST(sizes)
{
	static const size_t sz[] = {
		0,    1,    7,     16,     17,      100,     1000,    4096,
		8192, 8193, 65536, 100000, 1 << 20, 3 << 20, 8 << 20, 64 << 20
	};
	void *p[sizeof(sz) / sizeof(sz[0])];

	for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		p[i] = malloc(big(sz[i]));
		ASSERT_NE(NULL, p[i]);
		ASSERT_TRUE(aligned_to(p[i], 16));
		EXPECT_GE(malloc_usable_size(p[i]), sz[i]);
		if (sz[i]) {
			memset(p[i], 0x5a, sz[i]);
			((char *)p[i])[malloc_usable_size(p[i]) - 1] = 1; /* usable means usable */
		}
		for (size_t j = 0; j < i; j++)
			ASSERT_NE(p[j], p[i]); /* malloc(0) too: a unique pointer */
	}
	for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
		free(p[i]);
	errno = 0;
	EXPECT_EQ(NULL, malloc(big(SIZE_MAX)));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, malloc(big(SIZE_MAX / 2)));
	EXPECT_EQ(ENOMEM, errno);
	free(NULL);
	EXPECT_EQ(0, malloc_usable_size(NULL));
}

TEST(calloc_zero_and_overflow)
{
	for (size_t n = 1; n <= (4 << 20); n = n * 3 + 1) {
		char *d = malloc(n), *z;

		ASSERT_NE(NULL, d);
		memset(d, 0xff, n); /* dirty memory of this size first */
		free(d);
		z = calloc(1, big(n));
		ASSERT_NE(NULL, z);
		for (size_t i = 0; i < n; i++)
			ASSERT_EQ(0, z[i]);
		free(z);
	}
	errno = 0;
	EXPECT_EQ(NULL, calloc(big(SIZE_MAX / 2), 3));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, calloc(big((size_t)1 << 33), (size_t)1 << 33));
	EXPECT_EQ(ENOMEM, errno);
	free(calloc(0, 5));
	free(calloc(5, 0));
	errno = 0;
	EXPECT_EQ(NULL, reallocarray(NULL, big(SIZE_MAX / 2), 3));
	EXPECT_EQ(ENOMEM, errno);
	free(reallocarray(NULL, 10, 10));
}

TEST(alignments)
{
	for (size_t a = sizeof(void *); a <= ((size_t)1 << 30); a *= 2) {
		size_t sizes[] = { 1, a / 2 + 1, a + 24, 3 * 4096 };

		/* huge alignments: small sizes only (the point is the address) */
		for (int k = 0; k < 4; k++) {
			if (a >= ((size_t)1 << 20) && (k == 1 || k == 2))
				continue;
			void *p = NULL;
			int e = 4321;

			errno = e;
			ASSERT_EQ(0, posix_memalign(&p, a, sizes[k]));
			ASSERT_EQ(e, errno);
			ASSERT_TRUE(aligned_to(p, a))
			TH_LOG("posix_memalign(%zu, %zu) = %p", a, sizes[k], p);
			ASSERT_GE(malloc_usable_size(p), sizes[k]);
			memset(p, 1, sizes[k] < 65536 ? sizes[k] : 65536);
			((char *)p)[sizes[k] - 1] = 1;
			free(p);
			if (a > 4096 && k > 0)
				continue; /* a few sizes suffice for the huge ones */
			p = aligned_alloc(a, sizes[k]);
			ASSERT_TRUE(p && aligned_to(p, a));
			free_aligned_sized(p, a, sizes[k]);
			p = memalign(a, sizes[k]);
			ASSERT_TRUE(p && aligned_to(p, a));
			free(p);
		}
	}
	/* 1, 2, 4: plain malloc's alignment at least */
	for (size_t a = 1; a < sizeof(void *); a *= 2) {
		void *p = memalign(a, 10), *q = aligned_alloc(a, 10);

		ASSERT_TRUE(p && q);
		free(p);
		free(q);
	}
}

TEST(alignments_invalid)
{
	static const size_t bad[] = { 0, 3, 12, 24, 48, 100 };
	void *p = (void *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 77;
		EXPECT_EQ(EINVAL, posix_memalign(&p, bad[i], 16));
		EXPECT_EQ(77, errno); /* untouched */
		EXPECT_EQ((void *)1, p);
		if (bad[i]) {
			errno = 0;
			EXPECT_EQ(NULL, aligned_alloc(bad[i], 16));
			EXPECT_EQ(EINVAL, errno);
		}
	}
	/* sizeof(void *) / 2: not a multiple of the pointer size */
	EXPECT_EQ(EINVAL, posix_memalign(&p, 4, 16));
	errno = 66;
	EXPECT_EQ(ENOMEM, posix_memalign(&p, 64, big(SIZE_MAX / 2)));
	EXPECT_EQ(66, errno);
	/* glibc's memalign rounds a bad alignment up to a power of two */
	p = memalign(24, 10);
	ASSERT_TRUE(p && aligned_to(p, 32));
	free(p);
	errno = 0;
	EXPECT_EQ(NULL, memalign(big(SIZE_MAX / 2 + 2), 10));
	EXPECT_NE(0, errno);
}

TEST(valloc_pvalloc)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	void *p = valloc(10), *q = pvalloc(1), *r = __libc_valloc(ps + 1), *s = __libc_pvalloc(0);

	ASSERT_TRUE(p && q && r && s);
	EXPECT_TRUE(aligned_to(p, ps) && aligned_to(q, ps) && aligned_to(r, ps) &&
	            aligned_to(s, ps));
	EXPECT_GE(malloc_usable_size(q), ps);
	EXPECT_GE(malloc_usable_size(s), ps);
	memset(q, 1, ps);
	free(p);
	free(q);
	free(r);
	free(s);
	errno = 0;
	EXPECT_EQ(NULL, pvalloc(big(SIZE_MAX - 10)));
	EXPECT_EQ(ENOMEM, errno);
}

TEST(realloc_forms)
{
	char *p = realloc(NULL, 100), *q;

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 100; i++)
		p[i] = (char)i;
	/* shrink a little: in place */
	q = realloc(p, 90);
	EXPECT_EQ(p, q);
	/* up to the usable size: in place */
	q = realloc(p, malloc_usable_size(p));
	EXPECT_EQ(p, q);
	/* grow through every kind, keeping the bytes */
	for (size_t n = 200; n <= (16 << 20); n *= 5) {
		q = realloc(p, n);
		ASSERT_NE(NULL, q);
		for (int i = 0; i < 90; i++)
			ASSERT_EQ((char)i, q[i]);
		memset(q + 90, 7, n - 90);
		p = q;
	}
	/* a large block's slack: in place */
	q = realloc(p, malloc_usable_size(p) - 100);
	EXPECT_EQ(p, q);
	/* shrink a lot: moves, keeps the prefix */
	q = realloc(p, 50);
	ASSERT_NE(NULL, q);
	for (int i = 0; i < 50; i++)
		ASSERT_EQ((char)i, q[i]);
	p = q;
	errno = 0;
	EXPECT_EQ(NULL, realloc(p, big(SIZE_MAX / 2)));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, p[0]); /* the old block stays */
	/* realloc(p, 0): freed, NULL, as glibc */
	EXPECT_EQ(NULL, realloc(p, 0));
	/* aligned blocks move to plain ones */
	p = aligned_alloc(4096, 5000);
	memset(p, 3, 5000);
	q = realloc(p, 10000);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(3, q[4999]);
	free(q);
	p = __libc_realloc(NULL, 10);
	free(__libc_realloc(p, 20000));
}

TEST(free_keeps_errno)
{
	void *p[6] = { malloc(10),
		       malloc(100000),
		       aligned_alloc(64, 64),
		       aligned_alloc(8192, 1),
		       calloc(1, 1 << 20),
		       memalign(1 << 21, 100) };

	for (int i = 0; i < 6; i++) {
		ASSERT_NE(NULL, p[i]);
		errno = 1234;
		free(p[i]);
		EXPECT_EQ(1234, errno) TH_LOG("free of kind %d", i);
	}
	errno = 99;
	free(NULL);
	EXPECT_EQ(99, errno);
}

TEST(other_names)
{
	void *p = __libc_malloc(10), *q = __libc_calloc(2, 8), *r = __libc_memalign(128, 10);

	ASSERT_TRUE(p && q && r);
	EXPECT_TRUE(aligned_to(r, 128));
	EXPECT_EQ(0, ((char *)q)[15]);
	__libc_free(p);
	cfree(q);
	free_sized(r, 10);
	p = malloc(300);
	free_sized(p, 300);
}

TEST(statistics)
{
	void *p = malloc(1 << 20);
	struct mallinfo2 mi = mallinfo2();
	int fd = dup(2), null = open("/dev/null", O_WRONLY);

	ASSERT_NE(NULL, p);
	EXPECT_GT(mi.arena, 0);
	EXPECT_GE(mi.arena, mi.uordblks);
	EXPECT_GT(mi.uordblks, 0);
	free(p);
	EXPECT_GE(malloc_trim(0), 0);
	EXPECT_LE(malloc_trim(0), 1);
	EXPECT_EQ(1, mallopt(M_ARENA_MAX, 1));
	dup2(null, 2);
	malloc_stats();
	dup2(fd, 2);
	close(fd);
	close(null);
}

/* Medium sizes and big alignments come from chunks shared by many
 * objects: a thousand of them live, or a malloc/free loop, map next to
 * nothing (before, each had a map of its own, at least 128 KiB). */
TEST(medium_and_aligned_share_chunks)
{
	static void *p[1000];
	struct mallinfo2 before, after;

	free(malloc(50000)); /* the class's first chunk */
	before = mallinfo2();
	for (int i = 0; i < 10000; i++) {
		char *q = malloc(50000);

		ASSERT_NE(NULL, q);
		q[0] = q[49999] = (char)i;
		free(q);
	}
	after = mallinfo2();
	EXPECT_EQ(before.arena, after.arena);
	before = mallinfo2();
	for (int i = 0; i < 1000; i++) {
		size_t sz = 8193 + (size_t)i * 1031 % 40000;

		p[i] = i % 2 ? malloc(sz) : aligned_alloc((size_t)128 << (i % 6), 100 + i);
		ASSERT_NE(NULL, p[i]);
		if (i % 2) {
			ASSERT_GE(malloc_usable_size(p[i]), sz);
			ASSERT_TRUE(aligned_to(p[i], 64));
			memset(p[i], i & 0xff, sz);
		} else {
			ASSERT_TRUE(aligned_to(p[i], (size_t)128 << (i % 6)));
			ASSERT_GE(malloc_usable_size(p[i]), (size_t)100 + i);
			memset(p[i], i & 0xff, 100 + i);
		}
	}
	after = mallinfo2();
	/* 1000 maps of their own would be 1000 of at least 128 KiB, or of a
	 * 2 MiB page each when the environment names a huge-page backend
	 * (then each class's chunk is 2 MiB too): sharing takes under half */
	EXPECT_LT(after.arena - before.arena, 1000 * map_unit() / 2)
	TH_LOG("%zu bytes mapped for 1000 medium objects", after.arena - before.arena);
	for (int i = 0; i < 1000; i++) {
		ASSERT_EQ((char)(i & 0xff), ((char *)p[i])[99]);
		free(p[i]);
	}
	/* medium callocs are zero, fresh or recycled */
	for (int i = 0; i < 4; i++) {
		unsigned char *q = calloc(1, 300000);

		ASSERT_NE(NULL, q);
		for (size_t k = 0; k < 300000; k += 997)
			ASSERT_EQ(0, q[k]);
		memset(q, 0xee, 300000);
		free(q);
	}
}

TEST(cxx_operators)
{
	EXPECT_EQ(0, fa_cxx_forms());
}

struct bad {
	int how;
};

static void bad_free(void *arg)
{
	static char data[64];
	int how = ((struct bad *)arg)->how;
	char *p = malloc(64), *m;

	switch (how) {
	case 0:
		free(p + 16); /* inside a small object */
		break;
	case 1:
		free(data);
		break;
	case 2:
		m = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		free(m); /* never read: PROT_NONE would fault */
		break;
	case 3:
		m = malloc(1 << 20);
		free(m + 4096); /* inside a large one */
		break;
	case 4:
		m = aligned_alloc(1 << 16, 100);
		free(m + 64);
		break;
	case 5:
		free(realloc(data, 10));
		break;
	case 6:
		malloc_usable_size(p + 8);
		break;
	case 7:
		m = malloc(100000);
		free(m + 4096); /* inside a medium one */
		break;
	case 8:
		m = aligned_alloc(4096, 100);
		free(m + 128);
		break;
	case 9:
		m = malloc(20000);
		free(m);
		free(m); /* its chunk's only object: freed twice */
		break;
	case 10:
		/* the fast path's own slab: its header, then past its objects */
		free((char *)((uintptr_t)p & ~(uintptr_t)0xffff));
		break;
	case 11:
		free((char *)((uintptr_t)p | 0xfff8));
		break;
	}
	_exit(0);
}

TEST(bad_pointers_abort)
{
	static const char *fn[] = {
		"free", "free", "free", "free", "free", "realloc", "malloc_usable_size",
		"free", "free", "free", "free", "free"
	};

	for (int how = 0; how < 12; how++) {
		struct bad b = { how };
		char buf[512], want[64];
		int st = child_stderr(bad_free, &b, buf, sizeof(buf));

		snprintf(want, sizeof(want), "finalloc: %s(): invalid pointer 0x", fn[how]);
		/* debug mode marks freed medium blocks: it names the bug */
		if (how == 9 && getenv("FINALLOC_DEBUG") && !strcmp(getenv("FINALLOC_DEBUG"), "1"))
			snprintf(want, sizeof(want),
			         "finalloc: free(): double free of the block at 0x");
		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)
		TH_LOG("case %d: status %#x", how, st);
		EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("case %d said: %s", how, buf);
	}
}

#ifdef FA_MALLOC_STATIC
/* Linked before the archive, so with the same priority this constructor
 * runs before the drop-in's: the bootstrap allocator serves, and its
 * recycled blocks must come back zeroed from calloc. */
static int early_dirty = -1;

__attribute__((constructor(101))) static void early_calloc(void)
{
	unsigned char *p = malloc(200), *q;

	if (!p)
		return;
	memset(p, 0xee, 200);
	free(p);
	q = calloc(1, 200);
	if (!q)
		return;
	early_dirty = 0;
	for (int i = 0; i < 200; i++)
		early_dirty |= q[i] != 0;
	free(q);
}

TEST(bootstrap_calloc_zeroes)
{
	EXPECT_EQ(0, early_dirty);
}
#endif

PRELOAD_HARNESS_MAIN
