// SPDX-License-Identifier: MIT
/*
 * Guard pages inside one VMA: leading, trailing and interval guards give
 * SIGSEGV on read and write, EFAULT to syscalls, no extra VMA, and count in
 * guard_faults.
 */
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

/*
 * 9 pages: lead 1, trail 1, a guard after every 2 data pages:
 *   G D D G D D G D G
 */
#define NPAGES 9
static const bool layout[NPAGES] = { 1, 0, 0, 1, 0, 0, 1, 0, 1 };

FIXTURE(guard)
{
	int fd;
	uint64_t page;
	struct finalloc_region_create rc;
	char *p;
	int vmas_before;
};

FIXTURE_VARIANT(guard)
{
	unsigned int shift;
};

FIXTURE_VARIANT_ADD(guard, page_4k){
	.shift = 12,
};

FIXTURE_VARIANT_ADD(guard, page_2m){
	.shift = 21,
};

FIXTURE_SETUP(guard)
{
	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	self->page = 1ULL << variant->shift;
	ASSERT_EQ(0,
	          fa_create(self->fd, NPAGES * self->page, 0, variant->shift, 1, 1, 2, &self->rc));
	self->vmas_before = count_vmas();
	self->p = fa_map(self->fd, &self->rc);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(guard)
{
	munmap(self->p, NPAGES * self->page);
	close(self->fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

TEST_F(guard, layout_and_data_bytes)
{
	struct finalloc_node_of no;
	int i;

	EXPECT_EQ(5 * self->page, self->rc.data_bytes);
	EXPECT_EQ((long long)(5 * self->page), fa_stat("pinned_bytes"));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, fa_node_of(self->fd, self->rc.id, i * self->page + 100, &no));
		EXPECT_EQ(layout[i], !!(no.flags & FINALLOC_NODE_OF_GUARD))
		TH_LOG("page %d", i);
		EXPECT_EQ(layout[i] ? -1 : 0, no.node) TH_LOG("page %d", i);
	}
}

/* Every guard kind refuses reads and writes at its first, middle, last byte. */
TEST_F(guard, touch_gives_sigsegv)
{
	static const uint64_t where[] = { 0, 1, 2 };
	long long before = fa_stat("guard_faults");
	int i, w, guards = 0;

	for (i = 0; i < NPAGES; i++) {
		for (w = 0; w < 3; w++) {
			uint64_t off = where[w] == 0   ? 0
			               : where[w] == 1 ? self->page / 2 + 8
			                               : self->page - 1;
			volatile char *a = self->p + i * self->page + off;

			EXPECT_EQ(layout[i], probe_segv(a, false))
			TH_LOG("read page %d +%llu", i, (unsigned long long)off);
			EXPECT_EQ(layout[i], probe_segv(a, true))
			TH_LOG("write page %d +%llu", i, (unsigned long long)off);
			guards += layout[i] ? 2 : 0;
		}
	}
	/* Data pages kept what the write probes wrote back (their zeros). */
	EXPECT_EQ(0, self->p[self->page]);
	EXPECT_LE(before + guards, fa_stat("guard_faults"));
	TH_LOG("guard_faults %lld -> %lld (%d probes)", before, fa_stat("guard_faults"), guards);
}

/* A syscall that writes into or reads from a guard gets EFAULT. */
TEST_F(guard, syscalls_get_efault)
{
	char buf[4096];
	int pfd[2], i;

	memset(buf, 'x', sizeof(buf));
	ASSERT_EQ(0, pipe(pfd));
	for (i = 0; i < NPAGES; i++) {
		char *a = self->p + i * self->page;

		ASSERT_EQ((ssize_t)sizeof(buf), write(pfd[1], buf, sizeof(buf)));
		errno = 0;
		if (layout[i]) {
			EXPECT_EQ(-1, read(pfd[0], a, sizeof(buf)))
			TH_LOG("read into page %d", i);
			EXPECT_EQ(EFAULT, errno);
			EXPECT_EQ(-1, write(pfd[1], a, 64));
			EXPECT_EQ(EFAULT, errno);
			/* Drain what the refused read left in the pipe. */
			ASSERT_EQ((ssize_t)sizeof(buf), read(pfd[0], buf, sizeof(buf)));
		} else {
			EXPECT_EQ((ssize_t)sizeof(buf), read(pfd[0], a, sizeof(buf)));
			EXPECT_EQ('x', a[4095]);
		}
	}
	close(pfd[0]);
	close(pfd[1]);
}

/* One VMA for the whole region, guards and all, before and after faults. */
TEST_F(guard, no_extra_vma)
{
	int i;

	EXPECT_EQ(self->vmas_before + 1, count_vmas());
	for (i = 0; i < NPAGES; i++)
		probe_segv(self->p + i * self->page, true);
	EXPECT_EQ(self->vmas_before + 1, count_vmas());
}

/* A chunked arena: many interval guards still cost one VMA, no memory. */
TEST(many_guards_one_vma)
{
	struct finalloc_region_create rc;
	int fd = fa_open(), before, i;
	char *p;

	ASSERT_LE(0, fd);
	/* 1024 pages: data, guard, data, guard... */
	ASSERT_EQ(0, fa_create(fd, 1024 * 4096, 0, 12, 0, 0, 1, &rc));
	EXPECT_EQ(512 * 4096ULL, rc.data_bytes);
	before = count_vmas();
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(before + 1, count_vmas());
	for (i = 0; i < 1024; i++)
		ASSERT_EQ(i & 1, probe_segv(p + i * 4096 + 17, true)) TH_LOG("%d", i);
	EXPECT_EQ(before + 1, count_vmas());
	munmap(p, 1024 * 4096);
	close(fd);
}

TEST_HARNESS_MAIN
