// SPDX-License-Identifier: MIT
/*
 * FA_POOL_PREFETCH_NEXT: the inline pop that also prefetches the next
 * object behaves like the default one, down to the last object of a bin
 * (whose "next" is the stack's NULL sentinel) and across refills; under
 * ASan the extra read stays inside the thread cache.
 */
#define FA_POOL_PREFETCH_NEXT 1
#include "finalloc.h"
#include "kselftest_harness.h"

#include <stdint.h>
#include <string.h>

#define N 3000 /* several refills of every class's bin */

TEST(every_class_drained_and_refilled)
{
	static void *obj[N];
	struct fa_pool *p = fa_pool_create(NULL);
	struct fa_pool_stats st;
	uint64_t n = 0;

	ASSERT_NE(NULL, p);
	for (size_t size = 8; size <= FA_POOL_SMALL_MAX; size *= 2) {
		for (int i = 0; i < N; i++) {
			obj[i] = fa_pool_alloc(p, size);
			ASSERT_NE(NULL, obj[i]);
			memset(obj[i], i & 0xff, size);
		}
		for (int i = 0; i < N; i++) {
			const unsigned char *c = obj[i];

			/* distinct objects: nobody else wrote into this one */
			ASSERT_EQ(i & 0xff, c[0]);
			ASSERT_EQ(i & 0xff, c[size - 1]);
			fa_pool_free(p, obj[i]);
		}
		n += N;
	}
	/* LIFO pops right after pushes: the bin's last object each time */
	for (int i = 0; i < 1000; i++) {
		void *a = fa_pool_alloc(p, 64);

		ASSERT_NE(NULL, a);
		fa_pool_free(p, a);
		n++;
	}
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(n, st.allocs);
	EXPECT_EQ(n, st.frees);
	EXPECT_EQ(0, st.live);
	fa_pool_destroy(p);
}

TEST_HARNESS_MAIN
