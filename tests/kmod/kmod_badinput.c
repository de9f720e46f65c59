// SPDX-License-Identifier: MIT
/*
 * Every kind of bad input gets its documented errno, pins nothing and
 * leaves the module usable (the rig separately fails on any dmesg WARN).
 */
#include "kselftest_harness.h"
#include "kmod_util.h"

FIXTURE(bad)
{
	int fd;
	struct finalloc_info info;
	struct finalloc_region_create rc;
};

FIXTURE_SETUP(bad)
{
	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, fa_info(self->fd, &self->info));
	memset(&self->rc, 0, sizeof(self->rc));
	self->rc.argsz = sizeof(self->rc);
	self->rc.size = SZ_2M;
	self->rc.page_shift = 21;
}

FIXTURE_TEARDOWN(bad)
{
	struct finalloc_region_create ok;

	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_stat("regions"));
	/* Still works after the refusal. */
	EXPECT_EQ(0, fa_create(self->fd, SZ_2M, 0, 21, 0, 0, 0, &ok));
	close(self->fd);
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
}

static int create(struct __test_metadata *m, FIXTURE_DATA(bad) * self)
{
	(void)m;
	return ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, &self->rc) ? errno : 0;
}

#define CREATE() create(_metadata, self)

TEST_F(bad, unknown_command)
{
	char buf[64] = { 0 };

	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(FINALLOC_IOC_MAGIC, 0x7f, struct finalloc_info), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* A known number with another size is another command. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(FINALLOC_IOC_MAGIC, 0x00, char[8]), buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, 0, buf));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(bad, unknown_flag)
{
	self->rc.flags = ~FINALLOC_REGION_VALID_FLAGS & (FINALLOC_REGION_VALID_FLAGS << 1);
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.flags = 1U << 31;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, node_negative)
{
	self->rc.node = -1;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.node = INT32_MIN;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, node_too_large)
{
	self->rc.node = (int)self->info.nr_node_ids;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.node = INT32_MAX;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, node_without_memory)
{
	unsigned int n;

	for (n = 0; n < self->info.nr_node_ids && n < 64; n++)
		if (!(self->info.node_mask & (1ULL << n)))
			break;
	if (n == self->info.nr_node_ids || n == 64)
		SKIP(return, "every node id has memory");
	self->rc.node = (int)n;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, size_zero)
{
	self->rc.size = 0;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.page_shift = 12;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, size_not_page_multiple_4k)
{
	self->rc.page_shift = 12;
	self->rc.size = 4097;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.size = 100;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, size_not_page_multiple_2m)
{
	self->rc.size = 4096;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.size = SZ_2M + 4096;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, size_overflowing)
{
	self->rc.size = ~(SZ_2M - 1);
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.size = FINALLOC_REGION_MAX_SIZE + SZ_2M;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.page_shift = 12;
	self->rc.size = ~4095ULL;
	EXPECT_EQ(EINVAL, CREATE());
}

/* Sizes that fit the ABI but not the machine: ENOMEM, nothing kept. */
TEST_F(bad, size_beyond_memory)
{
	long long fails = fa_stat("alloc_failures");

	self->rc.size = FINALLOC_REGION_MAX_SIZE;
	EXPECT_EQ(ENOMEM, CREATE());
	/* More than node 0 has free: the allocator must give up cleanly. */
	self->rc.size = 1024 * MB;
	EXPECT_EQ(ENOMEM, CREATE());
	EXPECT_LT(fails, fa_stat("alloc_failures"));
}

TEST_F(bad, page_shift_unknown)
{
	static const unsigned int shifts[] = { 0, 11, 13, 20, 22, 30, 64, ~0U };
	unsigned int i;

	for (i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
		self->rc.page_shift = shifts[i];
		self->rc.size = 1ULL << 30;
		EXPECT_EQ(EINVAL, CREATE()) TH_LOG("shift %u", shifts[i]);
	}
}

TEST_F(bad, guards_leave_no_data)
{
	self->rc.size = 3 * SZ_2M;
	self->rc.guard_lead = 3;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.guard_lead = 0;
	self->rc.guard_trail = 3;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.guard_lead = 1;
	self->rc.guard_trail = 2;
	EXPECT_EQ(EINVAL, CREATE());
	/* u32 sums must not wrap into something that looks valid */
	self->rc.guard_lead = UINT32_MAX;
	self->rc.guard_trail = 2;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.guard_lead = UINT32_MAX;
	self->rc.guard_trail = UINT32_MAX;
	EXPECT_EQ(EINVAL, CREATE());
}

TEST_F(bad, argsz_too_small)
{
	self->rc.argsz = sizeof(self->rc) - 8;
	EXPECT_EQ(EINVAL, CREATE());
	self->rc.argsz = 0;
	EXPECT_EQ(EINVAL, CREATE());
	self->info.argsz = 4;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_INFO, &self->info));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(bad, argsz_nonzero_trailing_bytes)
{
	struct {
		struct finalloc_region_create rc;
		uint64_t more[4];
	} big;

	memset(&big, 0, sizeof(big));
	big.rc = self->rc;
	big.rc.argsz = sizeof(big);
	big.more[3] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, &big));
	EXPECT_EQ(E2BIG, errno);
	/* Zero trailing bytes are fine (a newer library, an older module). */
	big.more[3] = 0;
	ASSERT_EQ(0, ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, &big));
	EXPECT_EQ(0, fa_destroy(self->fd, big.rc.id));
	/* Absurd sizes are refused outright. */
	big.rc.argsz = 1U << 20;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, &big));
	EXPECT_EQ(E2BIG, errno);
}

TEST_F(bad, reserved_nonzero)
{
	struct finalloc_region_destroy d = { .argsz = sizeof(d), .reserved = 1 };
	struct finalloc_region_info ri;
	struct finalloc_node_of no;
	struct finalloc_region_create ok;
	int i;

	for (i = 0; i < 4; i++) {
		self->rc.reserved[i] = 1;
		EXPECT_EQ(EINVAL, CREATE()) TH_LOG("reserved[%d]", i);
		self->rc.reserved[i] = 0;
	}
	self->info.reserved[2] = 5;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_INFO, &self->info));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, fa_create(self->fd, SZ_2M, 0, 21, 0, 0, 0, &ok));
	d.id = ok.id;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	memset(&ri, 0, sizeof(ri));
	ri.argsz = sizeof(ri);
	ri.id = ok.id;
	ri.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_INFO, &ri));
	EXPECT_EQ(EINVAL, errno);
	memset(&no, 0, sizeof(no));
	no.argsz = sizeof(no);
	no.id = ok.id;
	no.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_NODE_OF, &no));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, fa_destroy(self->fd, ok.id));
}

TEST_F(bad, input_flags_nonzero)
{
	struct finalloc_region_destroy d = { .argsz = sizeof(d), .flags = 1 };
	struct finalloc_region_info ri = { .argsz = sizeof(ri), .flags = 1 };
	struct finalloc_node_of no = { .argsz = sizeof(no), .flags = 1 };
	struct finalloc_region_create ok;

	self->info.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_INFO, &self->info));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, fa_create(self->fd, SZ_2M, 0, 21, 0, 0, 0, &ok));
	d.id = ri.id = no.id = ok.id;
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_INFO, &ri));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_NODE_OF, &no));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, fa_destroy(self->fd, ok.id));
}

TEST_F(bad, unknown_region_id)
{
	struct finalloc_region_info ri;
	struct finalloc_node_of no;
	struct finalloc_region_create ok;

	EXPECT_EQ(-ENOENT, fa_destroy(self->fd, 0));
	EXPECT_EQ(-ENOENT, fa_destroy(self->fd, 12345));
	EXPECT_EQ(-ENOENT, fa_region_info(self->fd, UINT32_MAX, &ri));
	EXPECT_EQ(-ENOENT, fa_node_of(self->fd, 7, 0, &no));
	ASSERT_EQ(0, fa_create(self->fd, SZ_2M, 0, 21, 0, 0, 0, &ok));
	EXPECT_EQ(0, fa_destroy(self->fd, ok.id));
	EXPECT_EQ(-ENOENT, fa_destroy(self->fd, ok.id));
}

TEST_F(bad, node_of_offset_beyond_region)
{
	struct finalloc_region_create ok;
	struct finalloc_node_of no;

	ASSERT_EQ(0, fa_create(self->fd, SZ_2M, 0, 21, 0, 0, 0, &ok));
	EXPECT_EQ(-EINVAL, fa_node_of(self->fd, ok.id, SZ_2M, &no));
	EXPECT_EQ(-EINVAL, fa_node_of(self->fd, ok.id, ~0ULL, &no));
	EXPECT_EQ(0, fa_node_of(self->fd, ok.id, SZ_2M - 1, &no));
	EXPECT_EQ(0, fa_destroy(self->fd, ok.id));
}

TEST_F(bad, bad_pointer)
{
	struct finalloc_region_create *ro;

	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* A read-only buffer: the result cannot be written back. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = self->rc;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
}

TEST_F(bad, mmap_unknown_offset)
{
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 1ULL << 50));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED,
	          mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0x7ffffffffffff000LL));
}

TEST_F(bad, mmap_outside_region)
{
	struct finalloc_region_create ok;

	ASSERT_EQ(0, fa_create(self->fd, 2 * SZ_2M, 0, 21, 0, 0, 0, &ok));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 3 * SZ_2M, PROT_READ, MAP_SHARED, self->fd, ok.offset));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED,
	          mmap(NULL, SZ_2M, PROT_READ, MAP_SHARED, self->fd, ok.offset + 2 * SZ_2M));
	EXPECT_EQ(EINVAL, errno);
	/* Inside a 2 MiB page */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, ok.offset + 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, fa_destroy(self->fd, ok.id));
}

TEST_HARNESS_MAIN
