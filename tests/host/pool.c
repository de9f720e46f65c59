// SPDX-License-Identifier: MIT
/*
 * Pool allocator, one thread: options and bad input, size classes, large
 * objects, hooks, zeroing, poisoning, quarantine, debug reports, metrics
 * and snapshots, memory caps, steady state without page faults.
 * Concurrent cases live in pool_mt.c.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "debugger.h"
#include "pool_util.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct fa_pool *pool_with(unsigned flags, size_t obj_size, struct rec *rec)
{
	struct fa_pool_opts o = { .flags = flags, .obj_size = obj_size };

	if (rec) {
		o.report = record;
		o.report_arg = rec;
	}
	return fa_pool_create(&o);
}

TEST(default_pool_round_trip)
{
	struct fa_pool *p = fa_pool_create(NULL);
	void *a, *b;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 64);
	b = fa_pool_alloc(p, 64);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, (uintptr_t)a % 16);
	memset(a, 1, 64);
	memset(b, 2, 64);
	EXPECT_EQ(1, ((unsigned char *)a)[63]);
	fa_pool_free(p, a);
	fa_pool_free(p, b);
	fa_pool_free(p, NULL); /* no-op */
	/* LIFO thread cache: the last freed comes back first */
	EXPECT_EQ(b, fa_pool_alloc(p, 60));
	fa_pool_free(p, b);
	fa_pool_destroy(p);
	fa_pool_destroy(NULL);
}

TEST(bad_input)
{
	struct fa_pool_opts o;
	struct fa_pool *p;

	errno = 0;
	EXPECT_EQ(NULL, fa_pool_alloc(NULL, 16));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	fa_pool_free(NULL, &o);
	EXPECT_EQ(EINVAL, errno);

#define BAD(...)                                          \
	do {                                              \
		o = (struct fa_pool_opts){ __VA_ARGS__ }; \
		errno = 0;                                \
		EXPECT_EQ(NULL, fa_pool_create(&o));      \
		EXPECT_EQ(EINVAL, errno);                 \
	} while (0)
	BAD(.flags = 1u << 30); /* unknown flag */
	BAD(.align = 24);       /* not a power of two */
	BAD(.align = 4);
	BAD(.align = 8192);
	BAD(.obj_size = 40, .align = 32); /* size not a multiple of align */
	BAD(.obj_size = 12);              /* not a multiple of 8 */
	BAD(.obj_size = FA_POOL_SMALL_MAX + 8);
	BAD(.obj_size = 64, .flags = FA_POOL_FINE);
	BAD(.tcache_objs = 4, .batch = 8);
	BAD(.tcache_objs = 100000);
	BAD(.reserved = { 1 });
	BAD(.reserved = { 0, 0, 1 });
	BAD(.large_cache_bytes = 1 << 20, .flags = FA_POOL_NO_LARGE_CACHE);
	BAD(.reserved0 = 1);
	BAD(.obj_size = 64, .ctor = (fa_pool_hook_fn)1, .flags = FA_POOL_POISON);
	BAD(.batch = 1000);
	BAD(.flags = FA_POOL_CTOR_EVERY); /* no hook to run */
	BAD(.quarantine_objs = (size_t)1 << 30, .flags = FA_POOL_QUARANTINE);
	{
		struct fa_mem_opts m = { .reserved = { 1 } };

		BAD(.mem = &m);
	}
#undef BAD

	p = pool_with(FA_POOL_NO_LARGE, 0, NULL);
	ASSERT_NE(NULL, p);
	errno = 0;
	EXPECT_EQ(NULL, fa_pool_alloc(p, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, fa_pool_alloc(p, FA_POOL_SMALL_MAX + 1));
	EXPECT_EQ(E2BIG, errno);
	fa_pool_destroy(p);

	p = pool_with(0, 48, NULL);
	ASSERT_NE(NULL, p);
	EXPECT_NE(NULL, fa_pool_alloc(p, 48));
	errno = 0;
	EXPECT_EQ(NULL, fa_pool_alloc(p, 49));
	EXPECT_EQ(E2BIG, errno);
	fa_pool_destroy(p);
}

TEST(power_of_two_classes)
{
	struct fa_pool *p = fa_pool_create(NULL);
	struct fa_pool_stats st;

	ASSERT_NE(NULL, p);
	for (size_t s = 1; s <= FA_POOL_SMALL_MAX; s += 7) {
		void *o = fa_pool_alloc(p, s);
		size_t want = 16;

		while (want < s)
			want *= 2;
		ASSERT_NE(NULL, o);
		ASSERT_EQ(want, fa_pool_usable_size(p, o));
		ASSERT_EQ(0, (uintptr_t)o % 16);
		memset(o, 0x5a, s);
		fa_pool_free(p, o);
	}
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(10, st.nr_classes); /* 16 .. 8192 */
	fa_pool_destroy(p);
}

TEST(fine_classes_waste_at_most_20_percent)
{
	struct fa_pool *p = pool_with(FA_POOL_FINE, 0, NULL);
	struct fa_pool_stats st;
	double worst = 0;

	ASSERT_NE(NULL, p);
	for (size_t s = 1; s <= FA_POOL_SMALL_MAX; s++) {
		void *o = fa_pool_alloc(p, s);
		size_t u;

		ASSERT_NE(NULL, o);
		u = fa_pool_usable_size(p, o);
		ASSERT_GE(u, s);
		if (s > 64 && (double)(u - s) / (double)u > worst)
			worst = (double)(u - s) / (double)u;
		fa_pool_free(p, o);
	}
	TH_LOG("worst waste above 64 B: %.1f%%", worst * 100);
	EXPECT_LE(worst, 0.20);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_GT(st.nr_classes, 20);
	EXPECT_LE(st.nr_classes, FA_POOL_MAX_CLASSES);
	fa_pool_destroy(p);
}

TEST(alignment_option)
{
	struct fa_pool_opts o = { .align = 256 };
	struct fa_pool *p = fa_pool_create(&o);

	ASSERT_NE(NULL, p);
	for (size_t s = 1; s < 3000; s += 97) {
		void *x = fa_pool_alloc(p, s);

		ASSERT_NE(NULL, x);
		EXPECT_EQ(0, (uintptr_t)x % 256);
		fa_pool_free(p, x);
	}
	fa_pool_destroy(p);
}

TEST(large_objects_from_the_backend)
{
	struct fa_pool *p = fa_pool_create(NULL);
	struct fa_pool_stats st;
	size_t sz = 300000;
	char *a, *b;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, sz);
	b = fa_pool_alloc(p, FA_POOL_SMALL_MAX + 1);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(0, (uintptr_t)a % 64);
	memset(a, 7, sz);
	memset(b, 8, FA_POOL_SMALL_MAX + 1);
	EXPECT_EQ(sz, fa_pool_usable_size(p, a));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(2, st.large_allocs);
	EXPECT_EQ(2, st.large_live);
	EXPECT_GE(st.large_bytes, sz + FA_POOL_SMALL_MAX);
	fa_pool_free(p, a);
	fa_pool_free_sized(p, b, FA_POOL_SMALL_MAX + 1);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(2, st.large_frees);
	EXPECT_EQ(0, st.large_live);
	EXPECT_EQ(0, st.large_bytes);
	/* a large one left live is unmapped by destroy (ASan/valgrind: no leak) */
	EXPECT_NE(NULL, fa_pool_alloc(p, 100000));
	fa_pool_destroy(p);
}

/* ---- the large cache ---- */

static uint64_t backend_maps(void)
{
	struct fa_backend_stats b;
	uint64_t n = 0;

	if (fa_backend_stats(&b))
		return UINT64_MAX;
	for (int i = 0; i < FA_BACKEND_COUNT; i++)
		for (int j = 0; j < FA_BACKEND_COUNT; j++)
			n += b.maps[i][j];
	return n;
}

static void touch(char *p, size_t n, int v)
{
	for (size_t off = 0; off < n; off += 4096)
		p[off] = (char)v;
	p[n - 1] = (char)v;
}

TEST(large_cache_reuses_without_syscall_or_fault)
{
	SKIP_UNDER_DEBUGGER("page faults are the debugger's");
	struct fa_pool *p = fa_pool_create(NULL);
	size_t sz = (size_t)1 << 20;
	struct fa_pool_stats st;
	struct rusage r0, r1;
	uint64_t maps;
	char *a, *b, *c;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, sz);
	ASSERT_NE(NULL, a);
	touch(a, sz, 1);
	fa_pool_free(p, a);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.large_cache_hits);
	EXPECT_EQ(1, st.large_cache_misses);
	EXPECT_EQ(1, st.large_cache_maps);
	EXPECT_GE(st.large_cache_bytes, sz);
	EXPECT_EQ(st.bytes_reserved, st.bytes_slabs + st.large_cache_bytes);
	EXPECT_EQ(0, st.large_bytes);

	maps = backend_maps();
	getrusage(RUSAGE_THREAD, &r0);
	b = fa_pool_alloc(p, sz - 1000); /* same class */
	if (b)
		touch(b, sz - 1000, 2);
	getrusage(RUSAGE_THREAD, &r1);
	ASSERT_EQ(a, b);
	EXPECT_EQ(r0.ru_minflt, r1.ru_minflt);
	EXPECT_EQ(r0.ru_majflt, r1.ru_majflt);
	EXPECT_EQ(maps, backend_maps());
	EXPECT_EQ(sz - 1000, fa_pool_usable_size(p, b));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(1, st.large_cache_hits);
	EXPECT_EQ(0, st.large_cache_maps);
	EXPECT_EQ(0, st.large_cache_bytes);
	EXPECT_EQ(1, st.large_live);

	/* a request of another class while b is live maps afresh */
	c = fa_pool_alloc(p, 3 * sz);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(maps + 1, backend_maps());
	fa_pool_free(p, b);
	fa_pool_free(p, c);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(2, st.large_cache_maps);
	EXPECT_EQ(2, st.large_cache_misses);
	/* a much smaller request does not take the 3 MiB mapping (it may
	 * take the 1 MiB one: a fresh map would have the same 2 MiB page) */
	a = fa_pool_alloc(p, 100000);
	ASSERT_NE(NULL, a);
	EXPECT_NE(c, a);
	fa_pool_free(p, a);
	fa_pool_destroy(p);
}

TEST(large_cache_bounded_by_bytes_and_count)
{
	struct fa_pool_opts o = { .large_cache_bytes = (size_t)3 << 20 };
	struct fa_pool *p = fa_pool_create(&o);
	size_t sz = (size_t)1 << 20, each;
	struct fa_pool_stats st;
	uint64_t bytes0 = backend_bytes(), live;
	void *v[40];

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 8; i++) {
		v[i] = fa_pool_alloc(p, sz);
		ASSERT_NE(NULL, v[i]);
	}
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	each = st.large_bytes / 8;
	live = st.bytes_reserved;
	EXPECT_EQ(bytes0 + live, backend_bytes());
	for (int i = 0; i < 8; i++)
		fa_pool_free(p, v[i]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(((size_t)3 << 20) / each, st.large_cache_maps);
	EXPECT_LE(st.large_cache_bytes, (size_t)3 << 20);
	EXPECT_EQ(st.large_cache_maps * each, st.large_cache_bytes);
	/* the excess went back to the backend */
	EXPECT_EQ(st.bytes_slabs + st.large_cache_bytes, st.bytes_reserved);
	EXPECT_LT(st.bytes_reserved, live);
	EXPECT_EQ(bytes0 + st.bytes_reserved, backend_bytes());
	/* fa_pool_flush(p, 1) trims the cache */
	ASSERT_EQ(0, fa_pool_flush(p, 1));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.large_cache_maps);
	EXPECT_EQ(0, st.large_cache_bytes);
	EXPECT_EQ(st.bytes_slabs, st.bytes_reserved);
	fa_pool_destroy(p);

	/* by count: 32 idle mappings at most */
	o.large_cache_bytes = (size_t)1 << 30;
	p = fa_pool_create(&o);
	ASSERT_NE(NULL, p);
	for (int i = 0; i < 40; i++) {
		v[i] = fa_pool_alloc(p, FA_POOL_SMALL_MAX + 1);
		ASSERT_NE(NULL, v[i]);
	}
	for (int i = 0; i < 40; i++)
		fa_pool_free(p, v[i]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(32, st.large_cache_maps);
	fa_pool_destroy(p);
	EXPECT_EQ(bytes0, backend_bytes());

	/* disabled: freed large mappings are unmapped at once */
	o = (struct fa_pool_opts){ .flags = FA_POOL_NO_LARGE_CACHE };
	p = fa_pool_create(&o);
	ASSERT_NE(NULL, p);
	v[0] = fa_pool_alloc(p, sz);
	ASSERT_NE(NULL, v[0]);
	fa_pool_free(p, v[0]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.large_cache_maps);
	EXPECT_EQ(0, st.bytes_reserved);
	EXPECT_EQ(bytes0, backend_bytes());
	fa_pool_destroy(p);
}

TEST(large_cache_counts_in_max_bytes)
{
	struct fa_pool_opts o = { .max_bytes = (size_t)3 << 20 };
	struct fa_pool *p = fa_pool_create(&o);
	struct fa_pool_stats st;
	void *a, *b;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, (size_t)1 << 20);
	ASSERT_NE(NULL, a);
	fa_pool_free(p, a);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(1, st.large_cache_maps);
	EXPECT_GT(st.bytes_reserved, (size_t)1 << 20);
	/* 2 MiB more does not fit beside the idle mapping: it gives way */
	b = fa_pool_alloc(p, (size_t)1900 << 10);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.large_cache_maps);
	EXPECT_LE(st.bytes_reserved, (size_t)3 << 20);
	errno = 0;
	EXPECT_EQ(NULL, fa_pool_alloc(p, (size_t)2 << 20));
	EXPECT_EQ(ENOMEM, errno);
	fa_pool_free(p, b);
	fa_pool_destroy(p);
}

TEST(large_cache_zeroes_on_reuse)
{
	struct fa_pool *p = pool_with(FA_POOL_ZERO, 0, NULL);
	size_t sz = 700000;
	struct fa_pool_stats st;
	unsigned char *a, *b;
	size_t bad = 0;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, sz);
	ASSERT_NE(NULL, a);
	memset(a, 0xff, sz);
	fa_pool_free(p, a);
	b = fa_pool_alloc(p, sz - 4096);
	ASSERT_EQ(a, b);
	for (size_t i = 0; i < sz - 4096; i++)
		bad += b[i] != 0;
	EXPECT_EQ(0, bad);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(1, st.large_cache_hits);
	fa_pool_free(p, b);
	fa_pool_destroy(p);
}

TEST(large_cache_double_free_reported)
{
	struct rec rec = { 0 };
	struct fa_pool *p = pool_with(FA_POOL_DEBUG, 0, &rec);
	struct fa_pool *q = pool_with(0, 0, &rec); /* release mode */
	struct fa_pool *r = pool_with(FA_POOL_DEBUG | FA_POOL_NO_LARGE_CACHE, 0, &rec);
	struct fa_pool_stats st;
	char *a, *b;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, r);
	a = fa_pool_alloc(p, 200000);
	ASSERT_NE(NULL, a);
	fa_pool_free(p, a);
	EXPECT_EQ(0, rec.n);
	fa_pool_free(p, a);
	ASSERT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_DOUBLE_FREE, rec.last.error);
	EXPECT_EQ(a, rec.last.ptr);
	TH_LOG("%s", rec.msg);
	/* the cache is intact: the mapping serves the next request once */
	b = fa_pool_alloc(p, 200000);
	EXPECT_EQ(a, b);
	EXPECT_NE(a, fa_pool_alloc(p, 200000));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(1, st.large_cache_hits);
	EXPECT_EQ(2, st.large_live);

	a = fa_pool_alloc(q, 200000);
	ASSERT_NE(NULL, a);
	fa_pool_free(q, a);
	fa_pool_free(q, a);
	ASSERT_EQ(2, rec.n);
	EXPECT_EQ(FA_POOL_ERR_DOUBLE_FREE, rec.last.error);
	EXPECT_EQ(a, rec.last.ptr);
	ASSERT_EQ(0, fa_pool_stats(q, &st));
	EXPECT_EQ(1, st.large_cache_maps);
	EXPECT_EQ(1, st.large_frees);

	/* without the cache the mapping is gone: a foreign pointer */
	a = fa_pool_alloc(r, 200000);
	ASSERT_NE(NULL, a);
	fa_pool_free(r, a);
	fa_pool_free(r, a);
	ASSERT_EQ(3, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	fa_pool_destroy(r);
	fa_pool_destroy(q);
	fa_pool_destroy(p);
}

TEST(large_cache_released_by_destroy)
{
	uint64_t bytes0 = backend_bytes();
	struct fa_pool *p = fa_pool_create(NULL);
	void *v[6];

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 6; i++) {
		v[i] = fa_pool_alloc(p, ((size_t)256 << 10) * (size_t)(i + 1));
		ASSERT_NE(NULL, v[i]);
	}
	for (int i = 0; i < 4; i++) /* cached; two stay live */
		fa_pool_free(p, v[i]);
	EXPECT_GT(backend_bytes(), bytes0);
	fa_pool_destroy(p);
	EXPECT_EQ(bytes0, backend_bytes());
}

TEST(free_sized_matches_free)
{
	struct fa_pool *p = fa_pool_create(NULL);
	struct fa_pool_stats st;
	void *v[100];

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 100; i++)
		v[i] = fa_pool_alloc(p, 24 + i);
	for (int i = 0; i < 100; i++)
		fa_pool_free_sized(p, v[i], 24 + i);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(100, st.allocs);
	EXPECT_EQ(100, st.frees);
	EXPECT_EQ(0, st.live);
	fa_pool_destroy(p);
}

/* ---- hooks ---- */

struct hooks {
	int ctor, dtor;
};

static void ctor(void *obj, size_t size, void *arg)
{
	struct hooks *h = arg;

	h->ctor++;
	memset(obj, 0, size);
	((uint32_t *)obj)[0] = 0xc0ffee;
}

static void dtor(void *obj, size_t size, void *arg)
{
	struct hooks *h = arg;

	h->dtor++;
	(void)size;
	(void)obj;
}

TEST(hooks_once_per_object)
{
	struct hooks h = { 0 };
	struct fa_pool_opts o = { .obj_size = 40, .ctor = ctor, .dtor = dtor, .hook_arg = &h };
	struct fa_pool_stats st;
	struct fa_pool *p = fa_pool_create(&o);
	uint32_t *a;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 40);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(0xc0ffee, a[0]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	/* constructed when carved: every object of the slab */
	EXPECT_EQ(st.cls[0].carved, (uint64_t)h.ctor);
	EXPECT_GT(h.ctor, 1000);
	a[1] = 77; /* constructed state survives reuse, first word included */
	fa_pool_free(p, a);
	EXPECT_EQ(a, fa_pool_alloc(p, 40));
	EXPECT_EQ(0xc0ffee, a[0]);
	EXPECT_EQ(77, a[1]);
	EXPECT_EQ(0, h.dtor);
	fa_pool_free(p, a);
	fa_pool_destroy(p);
	EXPECT_EQ(h.ctor, h.dtor); /* released with the pool */
}

TEST(hooks_once_in_a_class_pool)
{
	struct hooks h = { 0 };
	struct fa_pool_opts o = { .ctor = ctor, .dtor = dtor, .hook_arg = &h };
	struct fa_pool_stats st;
	struct fa_pool *p = fa_pool_create(&o);
	uint32_t *a, *b;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 20);
	b = fa_pool_alloc(p, 3000);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(0xc0ffee, a[0]);
	EXPECT_EQ(0xc0ffee, b[0]);
	fa_pool_free(p, a);
	fa_pool_free(p, b);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(st.cls[1].carved + st.cls[8].carved, (uint64_t)h.ctor);
	fa_pool_destroy(p);
	EXPECT_EQ(h.ctor, h.dtor);
}

TEST(hooks_every_reuse_pod)
{
	struct hooks h = { 0 };
	struct fa_pool_opts o = { .obj_size = 16,
		                  .ctor = ctor,
		                  .dtor = dtor,
		                  .hook_arg = &h,
		                  .flags = FA_POOL_CTOR_EVERY };
	struct fa_pool *p = fa_pool_create(&o);
	uint32_t *a;

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 10; i++) {
		a = fa_pool_alloc(p, 16);
		ASSERT_NE(NULL, a);
		EXPECT_EQ(0xc0ffee, a[0]);
		a[0] = 1;
		fa_pool_free(p, a);
	}
	EXPECT_EQ(10, h.ctor);
	EXPECT_EQ(10, h.dtor);
	fa_pool_destroy(p);
	EXPECT_EQ(10, h.dtor);

	/* size-class pool: the hook gets the class size */
	memset(&h, 0, sizeof(h));
	o.obj_size = 0;
	p = fa_pool_create(&o);
	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 100);
	EXPECT_EQ(0xc0ffee, a[0]);
	EXPECT_EQ(0, a[31]); /* ctor cleared the whole 128-byte class */
	fa_pool_free(p, a);
	EXPECT_EQ(1, h.ctor);
	EXPECT_EQ(1, h.dtor);
	fa_pool_destroy(p);
}

/* ---- zero, poison ---- */

TEST(zero_on_alloc)
{
	struct fa_pool *p = pool_with(FA_POOL_ZERO, 0, NULL);
	unsigned char *a;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 200);
	memset(a, 0xff, 200);
	fa_pool_free(p, a);
	a = fa_pool_alloc(p, 200);
	for (int i = 0; i < 200; i++)
		ASSERT_EQ(0, a[i]);
	fa_pool_free(p, a);
	fa_pool_destroy(p);
}

TEST(poison_catches_write_after_free)
{
	SKIP_UNDER_DEBUGGER("the write after free is the debugger's to report");
	struct rec rec = { 0 };
	struct fa_pool *p = pool_with(FA_POOL_POISON, 0, &rec);
	unsigned char *a, *b;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 100);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(0, rec.n); /* fresh objects are poisoned when carved */
	memset(a, 0, 100);
	fa_pool_free(p, a);
	EXPECT_EQ(FA_POOL_POISON_BYTE, a[8]); /* freed: poisoned past the link */
	a[37] = 1;                            /* the bug */
	b = fa_pool_alloc(p, 100);
	EXPECT_EQ(a, b);
	ASSERT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_WRITE_AFTER_FREE, rec.last.error);
	EXPECT_EQ(a, rec.last.ptr);
	EXPECT_EQ(37, rec.last.offset);
	EXPECT_EQ(128, rec.last.obj_size);
	EXPECT_NE(NULL, strstr(rec.msg, "write after free"));
	EXPECT_NE(NULL, strstr(rec.msg, "offset 37"));
	TH_LOG("%s", rec.msg);
	/* a clean reuse reports nothing */
	fa_pool_free(p, b);
	b = fa_pool_alloc(p, 100);
	EXPECT_EQ(1, rec.n);
	fa_pool_free(p, b);
	fa_pool_destroy(p);
}

/*
 * Run fn in a child with stderr to a pipe; 1 if it died of SIGABRT after
 * printing a line containing want.  (The harness reserves SIGABRT for its
 * own assertions, so TEST_SIGNAL cannot express this.)
 */
static int aborts_saying(void (*fn)(void), const char *want)
{
	char buf[512] = "";
	int fds[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(fds))
		return 0;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want);
}

static void waf_default(void)
{
	struct fa_pool *p = pool_with(FA_POOL_POISON, 64, NULL);
	char *a = fa_pool_alloc(p, 64);

	fa_pool_free(p, a);
	a[20] = 0;
	fa_pool_alloc(p, 64);
}

TEST(write_after_free_aborts_by_default)
{
	SKIP_UNDER_DEBUGGER("the write after free is the debugger's to report");
	EXPECT_TRUE(aborts_saying(waf_default, "write after free: object"));
}

/* ---- quarantine ---- */

TEST(quarantine_delays_reuse_fifo)
{
	struct fa_pool_opts o = { .obj_size = 64,
		                  .flags = FA_POOL_QUARANTINE,
		                  .quarantine_objs = 8,
		                  .quarantine_ns = 60000000000ull };
	struct fa_pool_stats st;
	struct fa_pool *p = fa_pool_create(&o);
	void *v[20], *seen[64];
	int n = 0;

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 20; i++)
		v[i] = fa_pool_alloc(p, 64);
	for (int i = 0; i < 8; i++)
		fa_pool_free(p, v[i]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(8, st.quarantined);
	EXPECT_EQ(8, st.frees);
	EXPECT_EQ(8 * 64, st.quarantine_bytes);
	/* none of the held ones is handed out */
	for (int i = 0; i < 16; i++) {
		seen[n] = fa_pool_alloc(p, 64);
		for (int j = 0; j < 8; j++)
			ASSERT_NE(v[j], seen[n]);
		n++;
	}
	/* the 9th free pushes out the oldest (v[0]): it is next for reuse */
	fa_pool_free(p, v[8]);
	EXPECT_EQ(v[0], fa_pool_alloc(p, 64));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(8, st.quarantined);
	EXPECT_EQ(0, fa_pool_flush(p, 1));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.quarantined);
	fa_pool_destroy(p);
}

TEST(quarantine_bounds_bytes_and_age)
{
	struct fa_pool_opts o = { .flags = FA_POOL_QUARANTINE,
		                  .quarantine_objs = 1000,
		                  .quarantine_bytes = 1024,
		                  .quarantine_ns = 20000000 };
	struct fa_pool_stats st;
	struct fa_pool *p = fa_pool_create(&o);
	void *v[10];

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 10; i++)
		v[i] = fa_pool_alloc(p, 256);
	for (int i = 0; i < 10; i++)
		fa_pool_free(p, v[i]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(4, st.quarantined); /* 4 x 256 = the byte bound */
	EXPECT_EQ(1024, st.quarantine_bytes);
	usleep(40000);
	EXPECT_EQ(0, fa_pool_flush(p, 0)); /* due by age */
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.quarantined);
	EXPECT_EQ(10, st.frees);
	EXPECT_EQ(0, st.live);
	fa_pool_destroy(p);
}

TEST(quarantine_verifies_on_eviction)
{
	SKIP_UNDER_DEBUGGER("the write after free is the debugger's to report");
	struct rec rec = { 0 };
	struct fa_pool_opts o = { .obj_size = 96,
		                  .flags = FA_POOL_QUARANTINE,
		                  .quarantine_objs = 2,
		                  .report = record,
		                  .report_arg = &rec };
	struct fa_pool *p = fa_pool_create(&o);
	unsigned char *a, *b, *c;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 96);
	b = fa_pool_alloc(p, 96);
	c = fa_pool_alloc(p, 96);
	fa_pool_free(p, a);
	EXPECT_EQ(FA_POOL_POISON_BYTE, a[0]); /* whole object poisoned while held */
	a[0] = 0;                             /* even the first word is checked */
	fa_pool_free(p, b);
	EXPECT_EQ(0, rec.n);
	fa_pool_free(p, c); /* evicts a */
	ASSERT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_WRITE_AFTER_FREE, rec.last.error);
	EXPECT_EQ(a, rec.last.ptr);
	EXPECT_EQ(0, rec.last.offset);
	fa_pool_destroy(p);
}

/* ---- debug ---- */

TEST(debug_double_and_foreign_free)
{
	struct rec rec = { 0 };
	struct fa_pool *p = pool_with(FA_POOL_DEBUG, 0, &rec);
	struct fa_pool *q = fa_pool_create(NULL);
	char *a, *b, *l, *m = malloc(64);
	struct fa_pool_stats st;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	a = fa_pool_alloc(p, 64);
	b = fa_pool_alloc(q, 64);
	l = fa_pool_alloc(p, 100000);
	fa_pool_free(p, a);
	EXPECT_EQ(0, rec.n);
	if (rec.n)
		TH_LOG("%s", rec.msg);
	fa_pool_free(p, a);
	ASSERT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_DOUBLE_FREE, rec.last.error);
	EXPECT_EQ(a, rec.last.ptr);
	EXPECT_EQ(64, rec.last.obj_size);
	TH_LOG("%s", rec.msg);

	fa_pool_free(p, b); /* another pool's object */
	ASSERT_EQ(2, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	EXPECT_EQ(b, rec.last.ptr);
	fa_pool_free(p, m); /* malloc's */
	ASSERT_EQ(3, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	a = fa_pool_alloc(p, 64);
	fa_pool_free(p, a + 8); /* inside an object */
	ASSERT_EQ(4, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	EXPECT_NE(NULL, strstr(rec.msg, "not at its start"));
	fa_pool_free(p, l);
	fa_pool_free(p, l); /* large, its mapping cached */
	ASSERT_EQ(5, rec.n);
	EXPECT_EQ(FA_POOL_ERR_DOUBLE_FREE, rec.last.error);
	EXPECT_EQ(l, rec.last.ptr);
	fa_pool_free(p, a); /* the valid free still works */
	ASSERT_EQ(5, rec.n);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(5, st.reports);
	EXPECT_EQ(0, st.live);
	fa_pool_free(q, b);
	fa_pool_destroy(q);
	fa_pool_destroy(p);
	free(m);
}

static void double_free_default(void)
{
	struct fa_pool *p = pool_with(FA_POOL_DEBUG, 32, NULL);
	void *a = fa_pool_alloc(p, 32);

	fa_pool_free(p, a);
	fa_pool_free(p, a);
}

TEST(double_free_aborts_by_default)
{
	SKIP_UNDER_DEBUGGER("the double free is the debugger's to report");
	EXPECT_TRUE(aborts_saying(double_free_default, "double free: object"));
}

/* ---- metrics ---- */

static int balanced_json(const char *s)
{
	int depth = 0, in_str = 0;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				in_str = 0;
			continue;
		}
		if (*s == '"')
			in_str = 1;
		else if (*s == '{' || *s == '[')
			depth++;
		else if (*s == '}' || *s == ']')
			if (--depth < 0)
				return 0;
	}
	return depth == 0 && !in_str;
}

TEST(metrics_for_a_known_workload)
{
	struct fa_pool_opts o = { .flags = FA_POOL_SIZE_HIST,
		                  .name = "orders",
		                  .snapshot_ring = 2 };
	struct fa_pool *p = fa_pool_create(&o);
	struct fa_pool_snapshot sn[4];
	struct fa_pool_stats st;
	void *a[300], *b[50];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_NE(NULL, p);
	for (int i = 0; i < 300; i++)
		a[i] = fa_pool_alloc(p, 24); /* class 32 */
	for (int i = 0; i < 50; i++)
		b[i] = fa_pool_alloc(p, 100); /* class 128 */
	ASSERT_EQ(0, fa_pool_snapshot(p));
	for (int i = 0; i < 200; i++)
		fa_pool_free(p, a[i]);
	ASSERT_EQ(0, fa_pool_snapshot(p));
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_STREQ("orders", st.name);
	EXPECT_EQ(32, st.cls[1].size);
	EXPECT_EQ(300, st.cls[1].allocs);
	EXPECT_EQ(200, st.cls[1].frees);
	EXPECT_EQ(100, st.cls[1].live);
	EXPECT_GE(st.cls[1].hwm, 300);
	EXPECT_EQ(300 * 24, st.cls[1].bytes_requested);
	EXPECT_EQ(128, st.cls[3].size);
	EXPECT_EQ(50, st.cls[3].allocs);
	EXPECT_EQ(50, st.cls[3].live);
	EXPECT_EQ(350, st.allocs);
	EXPECT_EQ(150, st.live);
	EXPECT_EQ(300 * 24 + 50 * 100, st.bytes_requested);
	EXPECT_EQ(300 * 32 + 50 * 128, st.bytes_served);
	EXPECT_EQ(100 * 32 + 50 * 128, st.bytes_live);
	EXPECT_GE(st.bytes_reserved, 2 * 65536);
	EXPECT_EQ(st.cls[1].carved, st.cls[1].live + st.cls[1].cached + st.cls[1].shared);
	EXPECT_EQ(300, st.size_hist[4]); /* 16..31 */
	EXPECT_EQ(50, st.size_hist[6]);  /* 64..127 */
	EXPECT_EQ(1, st.threads);

	/* ring of 2: a third snapshot pushes out the first */
	ASSERT_EQ(0, fa_pool_snapshot(p));
	ASSERT_EQ(2, fa_pool_snapshots(p, sn, 4));
	EXPECT_EQ(150, sn[0].live);
	EXPECT_EQ(150, sn[1].live);
	EXPECT_LE(sn[0].time_ns, sn[1].time_ns);
	ASSERT_EQ(1, fa_pool_snapshots(p, sn, 1)); /* the newest */
	EXPECT_EQ(-EINVAL, fa_pool_snapshots(p, NULL, 1));

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fa_pool_print_stats(p, f, FA_POOL_FMT_JSON));
	fclose(f);
	EXPECT_TRUE(balanced_json(buf));
	EXPECT_NE(NULL, strstr(buf, "\"name\":\"orders\""));
	EXPECT_NE(NULL, strstr(buf, "\"size\":32,\"tcache_objs\""));
	EXPECT_NE(NULL, strstr(buf, "\"live\":150"));
	EXPECT_NE(NULL, strstr(buf, "\"snapshots\":[{"));
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	ASSERT_EQ(0, fa_pool_print_stats(p, f, FA_POOL_FMT_TEXT));
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "pool orders"));
	EXPECT_NE(NULL, strstr(buf, "live 150"));
	TH_LOG("\n%s", buf);
	free(buf);
	EXPECT_EQ(-EINVAL, fa_pool_print_stats(p, stdout, 7));
	EXPECT_EQ(-EINVAL, fa_pool_print_stats(NULL, stdout, 0));
	EXPECT_EQ(-EINVAL, fa_pool_stats(p, NULL));

	for (int i = 200; i < 300; i++)
		fa_pool_free(p, a[i]);
	for (int i = 0; i < 50; i++)
		fa_pool_free(p, b[i]);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.live);
	EXPECT_EQ(350, st.frees);
	fa_pool_destroy(p);
}

/* ---- memory ---- */

TEST(max_bytes_gives_enomem_and_recovers)
{
	struct fa_pool_opts o = { .obj_size = 4096, .max_bytes = (size_t)2 << 20 };
	struct fa_pool *p = fa_pool_create(&o);
	void **v = calloc(1024, sizeof(void *));
	int n = 0;

	ASSERT_NE(NULL, p);
	while (n < 1024 && (v[n] = fa_pool_alloc(p, 4096)))
		n++;
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_GT(n, 400); /* ~2 MiB of 4 KiB objects */
	EXPECT_LT(n, 512);
	fa_pool_free(p, v[0]);
	EXPECT_EQ(v[0], fa_pool_alloc(p, 4096));
	for (int i = 0; i < n; i++)
		fa_pool_free(p, v[i]);
	free(v);
	fa_pool_destroy(p);
}

/* a prealloc no backend can map, up to one that would wrap when rounded */
TEST(huge_prealloc_is_enomem)
{
	const size_t sizes[] = { (size_t)1 << 47, SIZE_MAX - 4096, SIZE_MAX };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct fa_pool_opts o = { .prealloc = sizes[i] };

		errno = 0;
		EXPECT_EQ(NULL, fa_pool_create(&o));
		EXPECT_EQ(ENOMEM, errno);
	}
}

/* The prealloc is carved whole at creation, round-robin over the classes:
 * every slab of it, not one. */
TEST(prealloc_is_carved_whole)
{
	struct fa_pool_opts o = { .prealloc = (size_t)1 << 20 };
	struct fa_pool_stats st;
	struct fa_pool *p = fa_pool_create(&o);
	uint64_t slabs = 0, carved = 0, shared = 0;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	for (unsigned c = 0; c < st.nr_classes; c++) {
		slabs += st.cls[c].slabs;
		carved += st.cls[c].carved;
		shared += st.cls[c].shared;
		EXPECT_LE(1, st.cls[c].slabs); /* round-robin reached every class */
	}
	EXPECT_LE(16, slabs);      /* 1 MiB of 64 KiB slabs at least */
	EXPECT_EQ(carved, shared); /* all of it on the shared lists */
	fa_pool_destroy(p);
}

/* Idle cached large mappings count against max_bytes, and give way when a
 * small object needs a slab region. */
TEST(idle_large_gives_way_to_slabs)
{
	struct fa_pool_opts o = { .max_bytes = (size_t)8 << 20 };
	struct fa_pool_stats st;
	struct fa_pool *p = fa_pool_create(&o);
	void *big, *s;

	ASSERT_NE(NULL, p);
	big = fa_pool_alloc(p, (size_t)7 << 20);
	ASSERT_NE(NULL, big);
	fa_pool_free(p, big);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	ASSERT_GT(st.large_cache_bytes, 0);
	errno = 0;
	s = fa_pool_alloc(p, 64);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(0, st.large_cache_bytes);
	EXPECT_LE(st.bytes_reserved, (size_t)8 << 20);
	fa_pool_free(p, s);
	fa_pool_destroy(p);
}

TEST(steady_state_without_page_faults)
{
	SKIP_UNDER_DEBUGGER("page faults are the debugger's");
	struct fa_pool_opts o = { .prealloc = (size_t)2 << 20 };
	struct fa_pool *p = fa_pool_create(&o);
	struct rusage r0, r1;
	void *v[512];

	ASSERT_NE(NULL, p);
	for (int round = 0; round < 2; round++) { /* warm-up */
		for (int i = 0; i < 512; i++)
			v[i] = fa_pool_alloc(p, 16 + (i * 37) % 1000);
		for (int i = 0; i < 512; i++)
			fa_pool_free(p, v[i]);
	}
	getrusage(RUSAGE_THREAD, &r0);
	for (int round = 0; round < 2000; round++) {
		for (int i = 0; i < 512; i++)
			v[i] = fa_pool_alloc(p, 16 + (i * 37) % 1000);
		for (int i = 0; i < 512; i++)
			fa_pool_free(p, v[(i * 7) % 512]);
	}
	getrusage(RUSAGE_THREAD, &r1);
	EXPECT_EQ(r0.ru_minflt, r1.ru_minflt);
	EXPECT_EQ(r0.ru_majflt, r1.ru_majflt);
	EXPECT_EQ(r0.ru_nvcsw, r1.ru_nvcsw); /* no blocking syscall */
	fa_pool_destroy(p);
}

/* Slab colouring: a power-of-two class's objects start at a different
 * 64-byte offset in each new slab, so their first lines do not all fall
 * in the same cache sets. */
TEST(slabs_are_coloured)
{
	struct fa_pool *p = fa_pool_create(NULL);
	enum { N = 4 * 256 }; /* 255 objects of 256 B a slab */
	void **v = calloc(N, sizeof(*v));
	unsigned seen = 0, distinct = 0;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, v);
	for (int i = 0; i < N; i++) {
		v[i] = fa_pool_alloc(p, 256);
		ASSERT_NE(NULL, v[i]);
		EXPECT_EQ(0, (uintptr_t)v[i] % 16);
		seen |= 1u << (((uintptr_t)v[i] & 255) / 64);
	}
	for (unsigned b = seen; b; b &= b - 1)
		distinct++;
	EXPECT_EQ(4, distinct);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(256, fa_pool_usable_size(p, v[i]));
		fa_pool_free(p, v[i]);
	}
	free(v);
	fa_pool_destroy(p);
}

/* Each inline pool holds one thread bin per class out of
 * FA__POOL_TLS_BINS: when they run out, pools work out of line. */
TEST(thread_bins_run_out_and_come_back)
{
	SKIP_UNDER_DEBUGGER("pools take no thread bins");
	struct fa_pool_opts fine = { .flags = FA_POOL_FINE };
	struct fa_pool *pools[FA__POOL_TLS_BINS], *q, *feat, *fixed;
	struct fa_pool_stats st;
	unsigned n = 0, used = 0;
	char *o;

	/* a pool with features never holds bins; a fixed pool holds one */
	feat = pool_with(FA_POOL_ZERO, 0, NULL);
	fixed = pool_with(0, 48, NULL);
	ASSERT_NE(NULL, feat);
	ASSERT_NE(NULL, fixed);
	ASSERT_EQ(0, fa_pool_stats(feat, &st));
	EXPECT_EQ(0, st.inline_bins);
	ASSERT_EQ(0, fa_pool_stats(fixed, &st));
	EXPECT_EQ(1, st.inline_bins);
	do {
		ASSERT_LT(n, FA__POOL_TLS_BINS);
		pools[n] = fa_pool_create(&fine);
		ASSERT_NE(NULL, pools[n]);
		ASSERT_EQ(0, fa_pool_stats(pools[n], &st));
		used += (unsigned)st.inline_bins;
		n++;
	} while (st.inline_bins);
	TH_LOG("%u fine pools, the last without bins (%u bins in use)", n, used + 1);
	EXPECT_LE(used + 1, FA__POOL_TLS_BINS);
	EXPECT_GT(used + 1 + st.nr_classes, FA__POOL_TLS_BINS);

	/* out of line: the same objects, counters and checks */
	q = pools[n - 1];
	for (int i = 0; i < 3; i++) {
		o = fa_pool_alloc(q, 100);
		ASSERT_NE(NULL, o);
		memset(o, 1, 100);
		fa_pool_free(q, o);
		fa_pool_free_sized(q, fa_pool_alloc(q, 200), 200);
	}
	ASSERT_EQ(0, fa_pool_stats(q, &st));
	EXPECT_EQ(6, st.allocs);
	EXPECT_EQ(6, st.frees);
	EXPECT_EQ(300 + 600, st.bytes_requested);

	/* a destroyed pool's bins go to the next pool, emptied: this
	 * thread's cache of pools[0] held objects in them */
	fa_pool_free(pools[0], fa_pool_alloc(pools[0], 100));
	fa_pool_destroy(pools[0]);
	pools[0] = fa_pool_create(&fine);
	ASSERT_NE(NULL, pools[0]);
	ASSERT_EQ(0, fa_pool_stats(pools[0], &st));
	EXPECT_LT(0, st.inline_bins);
	o = fa_pool_alloc(pools[0], 100);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(112, fa_pool_usable_size(pools[0], o));
	fa_pool_free(pools[0], o);
	ASSERT_EQ(0, fa_pool_stats(pools[0], &st));
	EXPECT_EQ(1, st.allocs);
	EXPECT_EQ(1, st.frees);
	for (unsigned i = 0; i < n; i++)
		fa_pool_destroy(pools[i]);
	fa_pool_destroy(feat);
	fa_pool_destroy(fixed);
}

/* No slab header lies below the first 64 KiB boundary, so the inline
 * free's mask sends such a pointer out of line, where it is reported. */
TEST(free_below_first_slab_is_foreign)
{
	struct rec rec = { 0 };
	struct fa_pool *p = pool_with(0, 0, &rec);

	ASSERT_NE(NULL, p);
	fa_pool_free(p, (void *)(uintptr_t)0x1000);
	ASSERT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	fa_pool_free(p, NULL); /* still a no-op */
	EXPECT_EQ(1, rec.n);
	EXPECT_EQ(0, fa_pool_usable_size(p, (void *)(uintptr_t)0x1000));
	fa_pool_destroy(p);
}

/* Release mode refuses what the owner map tells apart cheaply: memory that
 * is no pool's (heap, stack, static), another pool's object, a sized free
 * naming another class, an interior pointer once it reaches the slow path;
 * none of it is ever handed out again. */
TEST(release_refuses_foreign_pointers)
{
	SKIP_UNDER_DEBUGGER("every pool runs the debug checks");
	static char data[256] __attribute__((aligned(64)));
	struct rec rec = { 0 }, rec2 = { 0 };
	struct fa_pool *p = pool_with(0, 0, &rec), *q = pool_with(0, 0, &rec2);
	char stack[64], *heap = malloc(64), *obj16, *mine;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, heap);
	fa_pool_free(p, heap);
	ASSERT_EQ(1, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	fa_pool_free(p, stack);
	fa_pool_free(p, data);
	fa_pool_free_sized(p, heap, 64);
	EXPECT_EQ(4, rec.n);
	EXPECT_EQ(0, fa_pool_usable_size(p, heap));
	EXPECT_EQ(0, fa_pool_usable_size(p, stack));

	/* a sized free naming another class: the object stays out */
	obj16 = fa_pool_alloc(p, 16);
	ASSERT_NE(NULL, obj16);
	fa_pool_free_sized(p, obj16, 4096);
	EXPECT_EQ(5, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	EXPECT_NE(NULL, strstr(rec.msg, "class"));
	/* with a cold cache too: the same report, not a bogus double free */
	fa_pool_flush(p, 1);
	fa_pool_free_sized(p, heap, 4096);
	EXPECT_EQ(6, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);

	/* q's object given to p by size: refused; q keeps it */
	mine = fa_pool_alloc(q, 64);
	ASSERT_NE(NULL, mine);
	fa_pool_free_sized(p, mine, 64);
	EXPECT_EQ(7, rec.n);
	EXPECT_NE(NULL, strstr(rec.msg, "pool"));
	EXPECT_EQ(0, fa_pool_usable_size(p, mine));
	EXPECT_EQ(64, fa_pool_usable_size(q, mine));
	/* and without the size: p's bins do not take q's slab either */
	fa_pool_free(p, mine);
	EXPECT_EQ(8, rec.n);
	EXPECT_EQ(FA_POOL_ERR_FOREIGN, rec.last.error);
	EXPECT_EQ(0, rec2.n);
	EXPECT_EQ(64, fa_pool_usable_size(q, mine));

	/* an interior pointer on the out-of-line path (a pool with a
	 * feature takes it always; the inline free does not look) */
	{
		struct rec rz = { 0 };
		struct fa_pool *z = pool_with(FA_POOL_ZERO, 0, &rz);
		char *o;

		ASSERT_NE(NULL, z);
		o = fa_pool_alloc(z, 64);
		ASSERT_NE(NULL, o);
		fa_pool_free(z, o + 8);
		EXPECT_EQ(1, rz.n);
		EXPECT_EQ(FA_POOL_ERR_FOREIGN, rz.last.error);
		EXPECT_NE(NULL, strstr(rz.msg, "not the start"));
		fa_pool_free(z, o);
		EXPECT_EQ(1, rz.n);
		fa_pool_destroy(z);
	}

	/* nothing refused came back as an object */
	for (unsigned i = 0; i < 256; i++) {
		char *o = fa_pool_alloc(p, 4096);

		ASSERT_NE(NULL, o);
		EXPECT_NE(heap, o);
		EXPECT_NE(obj16, o);
		EXPECT_NE(mine, o);
		EXPECT_NE(mine, fa_pool_alloc(p, 64));
	}
	EXPECT_EQ(0, rec2.n);
	free(heap);
	fa_pool_destroy(p);
	fa_pool_destroy(q);
}

TEST(more_pools_than_tls_slots)
{
	unsigned n = fa_pool_max_pools() + 8;
	struct fa_pool **pools = calloc(n, sizeof(*pools));
	struct fa_pool_stats st;

	ASSERT_NE(NULL, pools);
	for (unsigned i = 0; i < n; i++) {
		pools[i] = fa_pool_create(NULL);
		ASSERT_NE(NULL, pools[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		void *a = fa_pool_alloc(pools[i], 32 + i);
		void *b = fa_pool_alloc(pools[i], 32 + i);

		ASSERT_NE(NULL, a);
		ASSERT_NE(a, b);
		fa_pool_free(pools[i], a);
		fa_pool_free(pools[i], b);
		ASSERT_EQ(0, fa_pool_stats(pools[i], &st));
		EXPECT_EQ(2, st.allocs);
		EXPECT_EQ(0, st.live);
	}
	for (unsigned i = 0; i < n; i++)
		fa_pool_destroy(pools[i]);
	/* slots come back: a new pool gets a thread cache again */
	pools[0] = fa_pool_create(NULL);
	fa_pool_free(pools[0], fa_pool_alloc(pools[0], 8));
	fa_pool_destroy(pools[0]);
	free(pools);
}

TEST_HARNESS_MAIN
