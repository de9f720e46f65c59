// SPDX-License-Identifier: MIT
/*
 * ABI details a kernel review asked for: ioctls dispatched by number so a
 * larger future struct reaches its handler, REGION_CREATE only on a
 * writable fd, PFNs only for a privileged opener, and the PMD flag only
 * when a PMD really mapped the region.
 */
#include <linux/capability.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

/* A later INFO struct: the current one and 16 bytes more. */
struct info_v2 {
	struct finalloc_info v1;
	uint64_t more[2];
};

#define FINALLOC_IOC_INFO_V2 _IOWR(FINALLOC_IOC_MAGIC, 0x00, struct info_v2)

TEST(larger_struct_reaches_its_handler)
{
	struct info_v2 in;
	int fd = fa_open();

	ASSERT_LE(0, fd);
	memset(&in, 0, sizeof(in));
	in.v1.argsz = sizeof(in);
	ASSERT_EQ(0, ioctl(fd, FINALLOC_IOC_INFO_V2, &in));
	EXPECT_EQ(FINALLOC_ABI_VERSION, in.v1.abi_version);
	EXPECT_EQ(sizeof(in.v1), in.v1.argsz);
	EXPECT_EQ(0, in.more[0]);
	/* Bytes this module does not know must still be zero. */
	memset(&in, 0, sizeof(in));
	in.v1.argsz = sizeof(in);
	in.more[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, FINALLOC_IOC_INFO_V2, &in));
	EXPECT_EQ(E2BIG, errno);
	/* Another type, or the wrong direction, is not ours. */
	EXPECT_EQ(-1, ioctl(fd, _IOWR(FINALLOC_IOC_MAGIC + 1, 0x00, struct info_v2), &in));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOR(FINALLOC_IOC_MAGIC, 0x00, struct info_v2), &in));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(create_needs_a_writable_fd)
{
	struct finalloc_region_create rc;
	struct finalloc_info info;
	int fd = open(FINALLOC_DEV_PATH, O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fa_info(fd, &info));
	EXPECT_EQ(-EBADF, fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &rc));
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	close(fd);
}

static int set_effective(int cap, bool on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[cap / 32].effective |= 1U << (cap % 32);
	else
		d[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

static uint64_t pfn_of(struct __test_metadata *_metadata, int fd)
{
	struct finalloc_region_create rc;
	struct finalloc_node_of no;

	EXPECT_EQ(0, fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &rc));
	EXPECT_EQ(0, fa_node_of(fd, rc.id, 0, &no));
	EXPECT_EQ(0, no.node);
	EXPECT_EQ(0, fa_destroy(fd, rc.id));
	return no.pfn;
}

/* The opener's credentials decide, as for /proc/pid/pagemap. */
TEST(pfn_only_for_a_privileged_opener)
{
	int fd;

	if (geteuid())
		SKIP(return, "needs root");
	fd = fa_open();
	ASSERT_LE(0, fd);
	EXPECT_NE(0, pfn_of(_metadata, fd));
	close(fd);

	ASSERT_EQ(0, set_effective(CAP_SYS_ADMIN, false));
	fd = fa_open();
	ASSERT_EQ(0, set_effective(CAP_SYS_ADMIN, true));
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, pfn_of(_metadata, fd));
	close(fd);
}

static bool pmd_flag(int fd, uint32_t id)
{
	struct finalloc_region_info ri;

	if (fa_region_info(fd, id, &ri))
		return true; /* fails the caller's EXPECT_FALSE */
	return ri.flags & FINALLOC_REGION_INFO_PMD;
}

#define THP "/sys/kernel/mm/transparent_hugepage/enabled"

/* The bracketed word of THP, into mode; false when unreadable. */
static bool thp_mode(char *mode, size_t n)
{
	char buf[128], *a, *b;
	FILE *f = fopen(THP, "r");
	bool ok = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		a = strchr(buf, '[');
		b = a ? strchr(a, ']') : NULL;
		if (b && (size_t)(b - a) < n) {
			memcpy(mode, a + 1, b - a - 1);
			mode[b - a - 1] = 0;
			ok = true;
		}
	}
	fclose(f);
	return ok;
}

FIXTURE(pmd)
{
	int fd;
	struct finalloc_region_create rc; /* size 0: skipped */
	char thp[32];
};

FIXTURE_SETUP(pmd)
{
	struct finalloc_info info;

	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, fa_info(self->fd, &info));
	if (!(info.caps & FINALLOC_CAP_PMD_MAP))
		SKIP(return, "this kernel maps 2 MiB pages with 4 KiB PTEs");
	ASSERT_TRUE(thp_mode(self->thp, sizeof(self->thp)));
	ASSERT_EQ(0, fa_create(self->fd, 2 * SZ_2M, 0, 21, 0, 0, 0, &self->rc));
	/* Nothing is mapped before the first touch. */
	EXPECT_FALSE(pmd_flag(self->fd, self->rc.id));
}

FIXTURE_TEARDOWN(pmd)
{
	if (self->thp[0])
		EXPECT_EQ(0, write_str(THP, self->thp));
	close(self->fd);
}

static void touch(char *p, size_t n)
{
	for (size_t off = 0; off < n; off += 4096)
		p[off] = 1;
}

TEST_F(pmd, used_when_aligned)
{
	char *p;

	if (!self->rc.size)
		return; /* skipped in setup */
	p = fa_map(self->fd, &self->rc);
	ASSERT_NE(MAP_FAILED, p);
	touch(p, self->rc.size);
	EXPECT_TRUE(pmd_flag(self->fd, self->rc.id));
	munmap(p, self->rc.size);
}

TEST_F(pmd, not_with_madv_nohugepage)
{
	char *p;

	if (!self->rc.size)
		return; /* skipped in setup */
	p = fa_map(self->fd, &self->rc);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, self->rc.size, MADV_NOHUGEPAGE));
	touch(p, self->rc.size);
	EXPECT_FALSE(pmd_flag(self->fd, self->rc.id));
	munmap(p, self->rc.size);
}

/* Whether "never" stops PMDs of a pfnmap is the kernel's call: the flag
 * must follow what the fault path did. */
TEST_F(pmd, follows_the_faults_with_thp_never)
{
	long long pmd0;
	char *p;

	if (!self->rc.size)
		return;
	ASSERT_EQ(0, write_str(THP, "never"));
	p = fa_map(self->fd, &self->rc);
	ASSERT_NE(MAP_FAILED, p);
	pmd0 = fa_stat("pmd_faults");
	touch(p, self->rc.size);
	TH_LOG("THP never: %lld PMD faults", fa_stat("pmd_faults") - pmd0);
	EXPECT_EQ(fa_stat("pmd_faults") > pmd0, pmd_flag(self->fd, self->rc.id));
	munmap(p, self->rc.size);
}

TEST_F(pmd, not_when_unaligned)
{
	size_t len = self->rc.size;
	char *res, *at, *p;

	if (!self->rc.size)
		return;
	res = mmap(NULL, len + 2 * SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	at = (char *)(((uintptr_t)res + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1)) + 4096;
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, self->fd,
	         self->rc.offset);
	ASSERT_EQ(at, p);
	touch(p, len);
	EXPECT_FALSE(pmd_flag(self->fd, self->rc.id));
	munmap(res, len + 2 * SZ_2M);
}

TEST_HARNESS_MAIN
