// SPDX-License-Identifier: MIT
/*
 * mmap's prefault (6.1) walks data pages only: a huge guard-only range
 * costs no walk under mmap_lock, and any guard layout still maps every
 * data page at mmap time and no guard page.
 */
#include "kselftest_harness.h"
#include "kmod_util.h"

/* Region page i of a layout is a guard page (the uapi header's rule). */
static bool is_guard(uint64_t i, uint64_t n, uint32_t lead, uint32_t trail, uint32_t interval)
{
	if (i < lead || i >= n - trail)
		return true;
	return interval && (i - lead) % ((uint64_t)interval + 1) == interval;
}

static bool prefaults(int fd)
{
	struct finalloc_info info;

	return fa_info(fd, &info) == 0 && (info.caps & FINALLOC_CAP_PREFAULT);
}

/*
 * 2^32 pages of 4 KiB, all guards but the last two: 8 KiB of memory.  A
 * prefault that visits every page holds mmap_lock through 2^32 steps
 * (unkillable, no resched); one that skips the run maps it at once.
 */
TEST(huge_guard_run_maps_at_once)
{
	const uint64_t size = FINALLOC_REGION_MAX_SIZE, n = size >> 12;
	struct finalloc_region_create rc;
	long long faults;
	volatile char *p;
	int fd = fa_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create(fd, size, 0, 12, (uint32_t)(n - 2), 0, 0, &rc));
	EXPECT_EQ(8 * KB, rc.data_bytes);
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, (void *)p);
	faults = fa_stat("faults");
	p[size - 8192] = 1;
	p[size - 1] = 2;
	if (prefaults(fd))
		EXPECT_EQ(faults, fa_stat("faults"));
	EXPECT_TRUE(probe_segv(p, false));
	EXPECT_TRUE(probe_segv(p + size - 8193, false));
	EXPECT_EQ(0, munmap((void *)p, size));
	close(fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

/* Layouts whose runs start and end everywhere a period allows. */
struct layout {
	unsigned int shift;
	uint32_t npages, lead, trail, interval, map_first, map_pages;
};

static const struct layout layouts[] = {
	{ 12, 16, 3, 2, 2, 0, 16 },    /* G G G D D G D D G D D G D D G G */
	{ 12, 16, 3, 2, 2, 5, 9 },     /* a part, starting on a guard */
	{ 12, 16, 3, 2, 2, 4, 2 },     /* a part inside one run */
	{ 12, 200, 0, 0, 70, 0, 200 }, /* runs longer than one batch */
	{ 12, 9, 0, 0, 1, 0, 9 },      /* D G D G ... runs of one */
	{ 21, 6, 1, 1, 1, 0, 6 },      /* 2 MiB: G D G D G G */
	{ 21, 6, 1, 1, 1, 1, 3 },      /* 2 MiB, a part */
};

TEST(every_layout_maps_data_and_only_data)
{
	int fd = fa_open();

	ASSERT_LE(0, fd);
	for (size_t k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
		const struct layout *l = &layouts[k];
		uint64_t ps = 1ULL << l->shift;
		struct finalloc_region_create rc;
		long long faults;
		char *p;

		ASSERT_EQ(0, fa_create(fd, l->npages * ps, 0, l->shift, l->lead, l->trail,
		                       l->interval, &rc));
		p = mmap(NULL, l->map_pages * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		         rc.offset + l->map_first * ps);
		ASSERT_NE(MAP_FAILED, p);
		faults = fa_stat("faults");
		for (uint32_t i = 0; i < l->map_pages; i++) {
			uint64_t rp = l->map_first + i;
			bool guard = is_guard(rp, l->npages, l->lead, l->trail, l->interval);

			/* first and last 4 KiB of each page */
			EXPECT_EQ(guard, probe_segv(p + i * ps, true));
			EXPECT_EQ(guard, probe_segv(p + (i + 1) * ps - 1, true));
			if (_metadata->passed == 0) {
				TH_LOG("layout %zu, page %u", k, i);
				break;
			}
		}
		/* Data touches found their PTEs in place; guards do not count. */
		if (prefaults(fd))
			EXPECT_EQ(faults, fa_stat("faults"));
		EXPECT_EQ(0, munmap(p, l->map_pages * ps));
		EXPECT_EQ(0, fa_destroy(fd, rc.id));
	}
	close(fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

TEST_HARNESS_MAIN
