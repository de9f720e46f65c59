// SPDX-License-Identifier: MIT
/*
 * /dev/finalloc basics: open and close, who may open it, the info ioctl and
 * the sysfs tree.
 */
#include <grp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

TEST(open_close)
{
	int a = fa_open(), b = fa_open();

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ(0, close(a));
	EXPECT_EQ(0, close(b));
	a = fa_open();
	ASSERT_LE(0, a);
	EXPECT_EQ(0, close(a));
}

TEST(device_node_mode)
{
	struct stat st;

	ASSERT_EQ(0, stat(FINALLOC_DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0660U, st.st_mode & 07777);
	EXPECT_EQ(0U, st.st_uid);
}

/* An unprivileged user outside the device's group cannot open it. */
TEST(unprivileged_open_refused)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		fd = open(FINALLOC_DEV_PATH, O_RDWR);
		if (fd >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

static int kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return -1;
	return a > maj || (a == maj && b >= min);
}

/* Nodes listed in /sys/devices/system/node/has_memory, as a mask. */
static uint64_t sys_memory_nodes(void)
{
	char buf[256], *p = buf;
	uint64_t mask = 0;
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	while (*p && *p != '\n') {
		long a = strtol(p, &p, 10), b = a;

		if (*p == '-')
			b = strtol(p + 1, &p, 10);
		for (; a <= b && a < 64; a++)
			mask |= 1ULL << a;
		if (*p == ',')
			p++;
	}
	return mask;
}

TEST(info_ioctl)
{
	struct finalloc_region_create rc;
	struct finalloc_info info;
	int fd = fa_open(), pmd = kernel_at_least(6, 12);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, pmd);
	ASSERT_EQ(0, fa_info(fd, &info));
	EXPECT_EQ((unsigned int)FINALLOC_ABI_VERSION, info.abi_version);
	EXPECT_EQ(sizeof(info), info.argsz);
	EXPECT_TRUE(!!(info.caps & FINALLOC_CAP_GUARDS));
	EXPECT_TRUE(!!(info.caps & FINALLOC_CAP_NODE_QUERY));
	EXPECT_TRUE(!!(info.caps & FINALLOC_CAP_PINNABLE));
	/* 6.12 maps 2 MiB pages with PMDs; 6.1 prefaults 4 KiB PTEs. */
	EXPECT_EQ(!!pmd, !!(info.caps & FINALLOC_CAP_PMD_MAP));
	EXPECT_EQ(!pmd, !!(info.caps & FINALLOC_CAP_PREFAULT));
	EXPECT_EQ((1ULL << 12) | (1ULL << 21), info.page_sizes);
	EXPECT_EQ(sys_memory_nodes(), info.node_mask);
	EXPECT_LT(63 - __builtin_clzll(info.node_mask), (int)info.nr_node_ids);
	EXPECT_EQ(0U, info.nr_regions);
	EXPECT_EQ(0ULL, info.pinned_bytes);
	EXPECT_EQ((uint64_t)fa_stat("cap"), info.pinned_cap);
	TH_LOG("caps %#x nodes %u mask %#llx", info.caps, info.nr_node_ids,
	       (unsigned long long)info.node_mask);

	ASSERT_EQ(0, fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &rc));
	ASSERT_EQ(0, fa_info(fd, &info));
	EXPECT_EQ(1U, info.nr_regions);
	EXPECT_EQ(SZ_2M, info.pinned_bytes);
	EXPECT_EQ(0, fa_destroy(fd, rc.id));
	ASSERT_EQ(0, fa_info(fd, &info));
	EXPECT_EQ(0U, info.nr_regions);
	EXPECT_EQ(0, close(fd));
}

/* A newer, larger struct is accepted when its extra bytes are zero. */
TEST(info_larger_argsz)
{
	struct {
		struct finalloc_info info;
		uint64_t more[2];
	} big;
	int fd = fa_open();

	ASSERT_LE(0, fd);
	memset(&big, 0, sizeof(big));
	big.info.argsz = sizeof(big);
	ASSERT_EQ(0, ioctl(fd, FINALLOC_IOC_INFO, &big));
	EXPECT_EQ((unsigned int)FINALLOC_ABI_VERSION, big.info.abi_version);
	EXPECT_EQ(0UL, big.more[0]);
	EXPECT_EQ(0UL, big.more[1]);
	close(fd);
}

TEST(sysfs_tree)
{
	static const char *const files[] = {
		"version", "pinned_bytes", "cap",          "regions",        "mappings",
		"faults",  "pmd_faults",   "guard_faults", "alloc_failures",
	};
	struct finalloc_info info;
	char path[128];
	struct stat st;
	unsigned int i;
	int fd = fa_open(), n;

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		EXPECT_LE(0, fa_stat(files[i])) TH_LOG("%s", files[i]);
	}
	EXPECT_EQ(FINALLOC_ABI_VERSION, fa_stat("version"));
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_stat("regions"));
	EXPECT_EQ(0, fa_stat("mappings"));
	snprintf(path, sizeof(path), SYSFS "/cap");
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0644U, st.st_mode & 0777);
	snprintf(path, sizeof(path), SYSFS "/pinned_bytes");
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0444U, st.st_mode & 0777);

	ASSERT_EQ(0, fa_info(fd, &info));
	for (n = 0; n < 64; n++) {
		snprintf(path, sizeof(path), SYSFS "/node%d", n);
		EXPECT_EQ(!!(info.node_mask & (1ULL << n)), stat(path, &st) == 0)
		TH_LOG("node%d", n);
		if (!(info.node_mask & (1ULL << n)))
			continue;
		EXPECT_EQ(0, fa_node_stat(n, "pinned_bytes"));
		EXPECT_EQ(0, fa_node_stat(n, "pages_2m"));
	}
	close(fd);
}

/* Only root may change the cap; the module parameter is the same value. */
TEST(sysfs_cap_root_only)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, write_str(SYSFS "/cap", "12582912"));
	EXPECT_EQ(12582912, fa_stat("cap"));
	EXPECT_EQ(12582912, read_ll("/sys/module/finalloc/parameters/cap"));
	EXPECT_EQ(-EINVAL, write_str(SYSFS "/cap", "lots"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		_exit(write_str(SYSFS "/cap", "0") == -EACCES ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(12582912, fa_stat("cap"));
	ASSERT_EQ(0, write_str(SYSFS "/cap", "0"));
	EXPECT_EQ(0, fa_stat("cap"));
}

TEST_HARNESS_MAIN
