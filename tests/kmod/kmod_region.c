// SPDX-License-Identifier: MIT
/*
 * Regions: fresh memory is zero and never shows an earlier owner's data,
 * several regions per file, region info, and the pfnmap-style contract
 * (no MAP_PRIVATE, no mremap growth, partial munmap, no sharing on fork).
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

FIXTURE(region)
{
	int fd;
	uint64_t page;
	uint64_t mask;
};

FIXTURE_VARIANT(region)
{
	unsigned int shift;
};

FIXTURE_VARIANT_ADD(region, page_4k){
	.shift = 12,
};

FIXTURE_VARIANT_ADD(region, page_2m){
	.shift = 21,
};

FIXTURE_SETUP(region)
{
	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	self->page = 1ULL << variant->shift;
	ASSERT_LE(1, fa_nodes(self->fd, &self->mask));
}

FIXTURE_TEARDOWN(region)
{
	close(self->fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
	EXPECT_EQ(0, fa_wait_stat("regions", 0, 1000));
	EXPECT_EQ(0, fa_wait_stat("mappings", 0, 1000));
}

static bool all_zero(const uint64_t *p, uint64_t bytes)
{
	uint64_t i;

	for (i = 0; i < bytes / 8; i++)
		if (p[i])
			return false;
	return true;
}

/* A fresh region is zero; freed and re-created it never shows old data. */
TEST_F(region, zero_and_no_stale_data)
{
	struct finalloc_region_create rc;
	uint64_t size = 8 * MB;
	int round;

	for (round = 0; round < 6; round++) {
		char *p;

		ASSERT_EQ(0, fa_create(self->fd, size, 0, variant->shift, 0, 0, 0, &rc));
		EXPECT_EQ(size, rc.data_bytes);
		p = fa_map(self->fd, &rc);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_TRUE(all_zero((uint64_t *)p, size)) TH_LOG("round %d", round);
		memset(p, 0xa5, size);
		ASSERT_EQ(0, munmap(p, size));
		ASSERT_EQ(0, fa_destroy(self->fd, rc.id));
	}
}

TEST_F(region, region_info)
{
	struct finalloc_region_create rc;
	struct finalloc_region_info ri;
	uint64_t size = 6 * self->page;
	char *p;

	ASSERT_EQ(0, fa_create(self->fd, size, 0, variant->shift, 1, 1, 1, &rc));
	/* pages: G D G D G D... with lead 1, trail 1, interval 1 */
	EXPECT_EQ(2 * self->page, rc.data_bytes);
	ASSERT_EQ(0, fa_region_info(self->fd, rc.id, &ri));
	EXPECT_EQ(0, ri.node);
	EXPECT_EQ(size, ri.size);
	EXPECT_EQ(rc.data_bytes, ri.data_bytes);
	EXPECT_EQ(rc.offset, ri.offset);
	EXPECT_EQ(variant->shift, ri.page_shift);
	EXPECT_EQ(1U, ri.guard_lead);
	EXPECT_EQ(1U, ri.guard_trail);
	EXPECT_EQ(1U, ri.guard_interval);
	EXPECT_EQ(0U, ri.nr_mappings);
	EXPECT_EQ(0ULL, rc.offset % SZ_2M);
	EXPECT_EQ((long long)rc.data_bytes, fa_stat("pinned_bytes"));
	EXPECT_EQ((long long)rc.data_bytes, fa_node_stat(0, "pinned_bytes"));
	EXPECT_EQ(variant->shift == 21 ? 2 : 0, fa_node_stat(0, "pages_2m"));
	p = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, fa_region_info(self->fd, rc.id, &ri));
	EXPECT_EQ(1U, ri.nr_mappings);
	EXPECT_EQ(1, fa_stat("mappings"));
	EXPECT_EQ(1, fa_stat("regions"));
	ASSERT_EQ(0, munmap(p, size));
	ASSERT_EQ(0, fa_region_info(self->fd, rc.id, &ri));
	EXPECT_EQ(0U, ri.nr_mappings);
	EXPECT_EQ(0, fa_stat("mappings"));
}

/* Several regions per file, each on its own node, with distinct data. */
TEST_F(region, several_regions)
{
	struct finalloc_region_create rc[4];
	char *p[4];
	int i, node;

	for (i = 0; i < 4; i++) {
		node = (self->mask & 2) ? i & 1 : 0;
		ASSERT_EQ(0, fa_create(self->fd, 2 * self->page, node, variant->shift, 0, 0, 0,
		                       &rc[i]));
		p[i] = fa_map(self->fd, &rc[i]);
		ASSERT_NE(MAP_FAILED, p[i]);
		memset(p[i], 'a' + i, 2 * self->page);
	}
	for (i = 0; i < 4; i++) {
		EXPECT_EQ('a' + i, p[i][0]);
		EXPECT_EQ('a' + i, p[i][2 * self->page - 1]);
		if (i)
			EXPECT_NE(rc[i - 1].offset, rc[i].offset);
	}
	EXPECT_EQ(4, fa_stat("regions"));
	EXPECT_EQ(0, fa_destroy(self->fd, rc[1].id));
	for (i = 0; i < 4; i++)
		munmap(p[i], 2 * self->page);
}

/* The same region mapped twice shows the same memory. */
TEST_F(region, two_mappings_share)
{
	struct finalloc_region_create rc;
	char *a, *b;

	ASSERT_EQ(0, fa_create(self->fd, 2 * self->page, 0, variant->shift, 0, 0, 0, &rc));
	a = fa_map(self->fd, &rc);
	b = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_NE(a, b);
	a[5] = 42;
	b[self->page + 7] = 43;
	EXPECT_EQ(42, b[5]);
	EXPECT_EQ(43, a[self->page + 7]);
	EXPECT_EQ(2, fa_stat("mappings"));
	munmap(a, 2 * self->page);
	munmap(b, 2 * self->page);
}

/*
 * Mappings of 2 MiB and more start on 2 MiB boundaries (plus the offset into
 * the region) on every kernel, so users can carve aligned slabs.
 */
TEST_F(region, mapping_is_2m_aligned)
{
	struct finalloc_region_create rc;
	size_t size = 4 * MB; /* kernels align mappings of 2 MiB and more */
	char *a[4], *part;

	ASSERT_EQ(0, fa_create(self->fd, size, 0, variant->shift, 0, 0, 0, &rc));
	for (int i = 0; i < 4; i++) {
		a[i] = fa_map(self->fd, &rc);
		ASSERT_NE(MAP_FAILED, a[i]);
		EXPECT_EQ(0, (uintptr_t)a[i] & (2 * MB - 1));
	}
	/* a mapping from page 1 on keeps the region's own alignment */
	part = mmap(NULL, size - self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
	            rc.offset + self->page);
	ASSERT_NE(MAP_FAILED, part);
	EXPECT_EQ(self->page & (2 * MB - 1), (uintptr_t)part & (2 * MB - 1));
	part[0] = 9;
	EXPECT_EQ(9, a[0][self->page]);
	munmap(part, size - self->page);
	for (int i = 0; i < 4; i++)
		munmap(a[i], size);
}

TEST_F(region, map_private_refused)
{
	struct finalloc_region_create rc;
	void *p;

	ASSERT_EQ(0, fa_create(self->fd, self->page, 0, variant->shift, 0, 0, 0, &rc));
	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, rc.offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE, self->fd, rc.offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(region, mremap_growth_fails)
{
	struct finalloc_region_create rc;
	char *p, *q;

	ASSERT_EQ(0, fa_create(self->fd, 2 * self->page, 0, variant->shift, 0, 0, 0, &rc));
	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, rc.offset);
	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, self->page, 2 * self->page, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	q = mremap(p, self->page, 2 * self->page, 0);
	EXPECT_EQ(MAP_FAILED, q);
	p[0] = 1;
	EXPECT_EQ(0, munmap(p, self->page));
}

/* Unmapping part keeps the rest; all is freed at release. */
TEST_F(region, partial_munmap)
{
	struct finalloc_region_create rc;
	uint64_t pg = self->page;
	char *p;

	ASSERT_EQ(0, fa_create(self->fd, 4 * pg, 0, variant->shift, 0, 0, 0, &rc));
	p = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 7, 4 * pg);
	ASSERT_EQ(0, munmap(p + pg, pg));
	EXPECT_EQ(2, fa_stat("mappings"));
	EXPECT_EQ(7, p[0]);
	EXPECT_EQ(7, p[2 * pg]);
	EXPECT_EQ(7, p[4 * pg - 1]);
	EXPECT_TRUE(probe_segv(p + pg, false));
	if (variant->shift == 21) {
		/* A 2 MiB page is never split. */
		EXPECT_EQ(-1, munmap(p + 2 * pg + 4096, 4096));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(7, p[2 * pg + 4096]);
	}
	ASSERT_EQ(0, fa_destroy(self->fd, rc.id));
	EXPECT_EQ((long long)(4 * pg), fa_stat("pinned_bytes"));
	ASSERT_EQ(0, munmap(p, pg));
	ASSERT_EQ(0, munmap(p + 2 * pg, 2 * pg));
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_stat("regions"));
}

/* VM_DONTCOPY: the child has no mapping there at all. */
TEST_F(region, fork_does_not_share)
{
	struct finalloc_region_create rc;
	int status;
	char *p;
	pid_t pid;

	ASSERT_EQ(0, fa_create(self->fd, self->page, 0, variant->shift, 0, 0, 0, &rc));
	p = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 9;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(probe_segv(p, false) && probe_segv(p, true) ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(9, p[0]);
	EXPECT_EQ(1, fa_stat("mappings"));
	munmap(p, self->page);
}

/* Destroying or closing while mapped keeps the memory until munmap. */
TEST_F(region, destroy_and_close_while_mapped)
{
	struct finalloc_region_create rc;
	char *p;

	ASSERT_EQ(0, fa_create(self->fd, 2 * self->page, 0, variant->shift, 0, 0, 0, &rc));
	p = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	p[1] = 3;
	ASSERT_EQ(0, fa_destroy(self->fd, rc.id));
	EXPECT_EQ(-ENOENT, fa_destroy(self->fd, rc.id));
	EXPECT_EQ(MAP_FAILED, fa_map(self->fd, &rc));
	EXPECT_EQ(3, p[1]);
	p[2 * self->page - 1] = 4;
	EXPECT_EQ((long long)(2 * self->page), fa_stat("pinned_bytes"));
	close(self->fd);
	self->fd = fa_open();
	EXPECT_EQ(4, p[2 * self->page - 1]);
	EXPECT_EQ(1, fa_stat("regions"));
	ASSERT_EQ(0, munmap(p, 2 * self->page));
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_stat("regions"));
}

/* A region is only reachable through the file that created it. */
TEST_F(region, other_file_cannot_map)
{
	struct finalloc_region_create rc;
	struct finalloc_region_info ri;
	int fd2 = fa_open();

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fa_create(self->fd, self->page, 0, variant->shift, 0, 0, 0, &rc));
	EXPECT_EQ(MAP_FAILED, fa_map(fd2, &rc));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENOENT, fa_region_info(fd2, rc.id, &ri));
	EXPECT_EQ(-ENOENT, fa_destroy(fd2, rc.id));
	close(fd2);
}

/* A mapping of part of the region, from a page boundary. */
TEST_F(region, map_part)
{
	struct finalloc_region_create rc;
	char *all, *part;

	ASSERT_EQ(0, fa_create(self->fd, 4 * self->page, 0, variant->shift, 0, 0, 0, &rc));
	all = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, all);
	part = mmap(NULL, self->page, PROT_READ, MAP_SHARED, self->fd, rc.offset + 2 * self->page);
	ASSERT_NE(MAP_FAILED, part);
	all[2 * self->page + 11] = 5;
	EXPECT_EQ(5, part[11]);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * self->page, PROT_READ, MAP_SHARED, self->fd,
	                           rc.offset + 3 * self->page));
	munmap(all, 4 * self->page);
	munmap(part, self->page);
}

TEST_HARNESS_MAIN
