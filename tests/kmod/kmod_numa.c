// SPDX-License-Identifier: MIT
/*
 * Placement and mapping size: a region's memory comes from exactly the node
 * asked for (node MemUsed, the node query ioctl and move_pages agree), and
 * 2 MiB pages cost one fault per 2 MiB where the kernel maps PMDs.
 */
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

#define REGION (64 * MB)

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

FIXTURE(numa)
{
	int fd;
	uint64_t mask;
	struct finalloc_info info;
};

FIXTURE_VARIANT(numa)
{
	int node;
};

FIXTURE_VARIANT_ADD(numa, node0){
	.node = 0,
};

FIXTURE_VARIANT_ADD(numa, node1){
	.node = 1,
};

FIXTURE_SETUP(numa)
{
	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, fa_info(self->fd, &self->info));
	self->mask = self->info.node_mask;
	if (!(self->mask & (1ULL << variant->node)))
		SKIP(return, "node %d has no memory", variant->node);
}

FIXTURE_TEARDOWN(numa)
{
	close(self->fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

/*
 * 64 MiB on the node raises its MemUsed by >= 64 MiB, the other's far less.
 * Other activity frees some KiB between two reads now and then, so a round
 * that the noise spoiled is tried again, up to 10 (a wrong node fails
 * every round).
 */
TEST_F(numa, memused_follows_node)
{
	struct finalloc_region_create rc;
	int other = !variant->node, round;
	long long a0, a1, grow = 0, other_grow = 0;

	if (!(self->mask & (1ULL << other)))
		SKIP(return, "needs two nodes with memory");
	for (round = 0; round < 10; round++) {
		drop_caches();
		a0 = node_used(variant->node);
		a1 = node_used(other);
		ASSERT_EQ(0, fa_create(self->fd, REGION, variant->node, 21, 0, 0, 0, &rc));
		/* no drop_caches here: what it frees between the reads
		 * would be taken off the region's growth */
		grow = node_used(variant->node) - a0;
		other_grow = node_used(other) - a1;
		TH_LOG("round %d: node%d MemUsed %+lld KiB, node%d %+lld KiB", round, variant->node,
		       grow / 1024, other, other_grow / 1024);
		EXPECT_EQ((long long)REGION, fa_node_stat(variant->node, "pinned_bytes"));
		EXPECT_EQ(32, fa_node_stat(variant->node, "pages_2m"));
		EXPECT_EQ(0, fa_node_stat(other, "pinned_bytes"));
		ASSERT_EQ(0, fa_destroy(self->fd, rc.id));
		EXPECT_EQ(0, fa_node_stat(variant->node, "pinned_bytes"));
		EXPECT_EQ(0, fa_node_stat(variant->node, "pages_2m"));
		if (grow >= (long long)REGION && other_grow < (long long)REGION / 4)
			break;
	}
	EXPECT_LE((long long)REGION, grow);
	EXPECT_GT((long long)REGION / 4, other_grow);
}

/* The node query ioctl and move_pages(nodes=NULL) name the same node. */
TEST_F(numa, node_query_and_move_pages)
{
	struct finalloc_region_create rc;
	enum { N = 16 };
	void *pages[N];
	int status[N], i;
	struct finalloc_node_of no;
	char *p;
	uint64_t pfn_prev = 0;

	ASSERT_EQ(0, fa_create(self->fd, 8 * MB, variant->node, 21, 0, 0, 0, &rc));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, fa_node_of(self->fd, rc.id, i * SZ_2M + 4096, &no));
		EXPECT_EQ(variant->node, no.node);
		EXPECT_EQ(0U, no.flags);
		/* root sees the pfn: 4 KiB into a 2 MiB-aligned page */
		EXPECT_EQ(1ULL, no.pfn % 512);
		EXPECT_NE(pfn_prev, no.pfn);
		pfn_prev = no.pfn;
	}
	p = fa_map(self->fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < N; i++) {
		pages[i] = p + i * (8 * MB / N);
		*(volatile char *)pages[i] = 1;
		status[i] = -1000;
	}
	ASSERT_EQ(0, syscall(SYS_move_pages, 0, N, pages, NULL, status, 0));
	for (i = 0; i < N; i++) {
		if (self->info.caps & FINALLOC_CAP_PMD_MAP) {
			/* VM_PFNMAP: no struct page behind the PTE for GUP */
			EXPECT_GT(0, status[i]) TH_LOG("page %d", i);
		} else {
			EXPECT_EQ(variant->node, status[i]) TH_LOG("page %d", i);
		}
	}
	if (self->info.caps & FINALLOC_CAP_PMD_MAP)
		TH_LOG("pfnmap: move_pages reports %d (no page to query)", status[0]);
	munmap(p, 8 * MB);

	ASSERT_EQ(0, fa_create(self->fd, 64 * 4096, variant->node, 12, 0, 0, 0, &rc));
	for (i = 0; i < 64; i += 7) {
		ASSERT_EQ(0, fa_node_of(self->fd, rc.id, i * 4096, &no));
		EXPECT_EQ(variant->node, no.node);
	}
}

/*
 * Touching every 4 KiB of a 64 MiB region: ~32 faults with PMD mappings
 * (6.12); none on 6.1, whose PTEs are all installed at mmap time.
 */
TEST(fault_count_2m)
{
	struct finalloc_info info;
	int fd = fa_open();
	struct finalloc_region_create rc;
	struct finalloc_region_info ri;
	long long pmd0, f0;
	long before, faults;
	uint64_t off;
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_info(fd, &info));
	ASSERT_EQ(0, fa_create(fd, REGION, 0, 21, 0, 0, 0, &rc));
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	pmd0 = fa_stat("pmd_faults");
	f0 = fa_stat("faults");
	before = minflt();
	for (off = 0; off < REGION; off += 4096)
		p[off] = 1;
	faults = minflt() - before;
	/* The PMD flag says what happened, so ask after the touches. */
	ASSERT_EQ(0, fa_region_info(fd, rc.id, &ri));
	if (info.caps & FINALLOC_CAP_PMD_MAP) {
		TH_LOG("PMD mapping: %ld minor faults for 64 MiB", faults);
		EXPECT_TRUE(!!(ri.flags & FINALLOC_REGION_INFO_PMD));
		EXPECT_LE(32, faults);
		EXPECT_GE(40, faults);
		EXPECT_EQ(pmd0 + 32, fa_stat("pmd_faults"));
	} else {
		TH_LOG("PTE mapping, prefaulted at mmap: %ld minor faults", faults);
		EXPECT_FALSE(!!(ri.flags & FINALLOC_REGION_INFO_PMD));
		EXPECT_GE(8, faults);
		EXPECT_EQ(f0, fa_stat("faults"));
		EXPECT_EQ(pmd0, fa_stat("pmd_faults"));
	}
	munmap(p, REGION);
	close(fd);
}

/*
 * PTE mappings: one fault per 4 KiB.  6.12 maps 4 KiB regions on first
 * touch; 6.1 after MADV_DONTNEED zapped its prefaulted PTEs (the memory
 * stays the region's, so the data survives).
 */
TEST(fault_count_4k)
{
	struct finalloc_info info;
	int fd = fa_open();
	struct finalloc_region_create rc;
	const uint64_t size = 16 * MB, n = size / 4096;
	long before, faults;
	long long f0;
	uint64_t off;
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_info(fd, &info));
	ASSERT_EQ(0, fa_create(fd, size, 0, 12, 0, 0, 0, &rc));
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	if (info.caps & FINALLOC_CAP_PREFAULT) {
		for (off = 0; off < size; off += 4096)
			p[off] = 2;
		ASSERT_EQ(0, madvise(p, size, MADV_DONTNEED));
	}
	f0 = fa_stat("faults");
	before = minflt();
	for (off = 0; off < size; off += 4096)
		p[off + 1] = 1;
	faults = minflt() - before;
	TH_LOG("4 KiB PTEs: %ld minor faults for %llu pages", faults, (unsigned long long)n);
	EXPECT_LE((long)n, faults);
	EXPECT_GE((long)n + 16, faults);
	EXPECT_EQ(f0 + (long long)n, fa_stat("faults"));
	if (info.caps & FINALLOC_CAP_PREFAULT)
		EXPECT_EQ(2, p[size - 4096]);
	munmap(p, size);
	close(fd);
}

TEST_HARNESS_MAIN
