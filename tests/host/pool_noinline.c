// SPDX-License-Identifier: MIT
/*
 * The exported, out-of-line fa_pool_alloc/fa_pool_free/fa_pool_free_sized
 * (what FA_POOL_NOINLINE callers and FFI bindings use) behave like the
 * inline ones and share their thread caches.
 */
#define FA_POOL_NOINLINE
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>

TEST(exported_functions)
{
	struct fa_pool *p = fa_pool_create(NULL);
	struct fa_pool_stats st;
	void *a, *b;

	ASSERT_NE(NULL, p);
	a = fa_pool_alloc(p, 40);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(64, fa_pool_usable_size(p, a));
	fa_pool_free(p, a);
	b = fa_pool_alloc(p, 33);
	EXPECT_EQ(a, b); /* same thread cache, LIFO */
	fa_pool_free_sized(p, b, 33);
	fa_pool_free(p, NULL);
	errno = 0;
	EXPECT_EQ(NULL, fa_pool_alloc(NULL, 8));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, fa_pool_stats(p, &st));
	EXPECT_EQ(2, st.allocs);
	EXPECT_EQ(2, st.frees);
	fa_pool_destroy(p);
}

TEST_HARNESS_MAIN
