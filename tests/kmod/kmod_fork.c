// SPDX-License-Identifier: MIT
/*
 * fork: a child shares its parent's open file but not its regions' fate.
 * It may map and query the parent's regions, not destroy them (EPERM);
 * what it creates goes when it exits.  The library gives a child a file of
 * its own, so a pre-forking server's children leak nothing into it.
 */
#include <dirent.h>
#include <sys/wait.h>

#include "finalloc.h"
#include "kselftest_harness.h"
#include "kmod_util.h"

static int child_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(child_cannot_destroy_the_parents_region)
{
	struct finalloc_region_create rc;
	struct finalloc_region_info ri;
	pid_t pid;
	int fd = fa_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &rc));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bad = 0;
		char *p;

		if (fa_destroy(fd, rc.id) != -EPERM)
			bad |= 1;
		if (fa_region_info(fd, rc.id, &ri))
			bad |= 2;
		/* sharing the memory on purpose still works */
		p = fa_map(fd, &rc);
		if (p == MAP_FAILED)
			bad |= 4;
		else
			p[0] = 'c';
		_exit(bad);
	}
	/* 1: destroy not refused; 2: info refused; 4: map refused */
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(0, fa_region_info(fd, rc.id, &ri));
	EXPECT_EQ(0, fa_destroy(fd, rc.id));
	close(fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

/* A child's regions in the shared file go with the child. */
TEST(child_regions_go_when_the_child_exits)
{
	struct finalloc_region_create mine;
	struct finalloc_info info;
	pid_t pid;
	int fd = fa_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &mine));
	for (int round = 0; round < 3; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct finalloc_region_create rc;

			_exit(fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &rc) ? 1 : 0);
		}
		EXPECT_EQ(0, child_status(pid));
	}
	ASSERT_EQ(0, fa_info(fd, &info));
	EXPECT_EQ(1, info.nr_regions);
	EXPECT_EQ((long long)SZ_2M, fa_wait_stat("pinned_bytes", SZ_2M, 1000));
	EXPECT_EQ(0, fa_destroy(fd, mine.id));
	close(fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

/* The /dev/finalloc descriptors of this process, up to max. */
static int device_fds(int *fds, int max)
{
	char path[300], target[64];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	while (dir && (d = readdir(dir)) && n < max) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (!strcmp(target, FINALLOC_DEV_PATH))
			fds[n++] = atoi(d->d_name);
	}
	if (dir)
		closedir(dir);
	return n;
}

/*
 * The library's device file in a child is the child's own: the child's
 * regions are not in the parent's file, and the parent's are not there
 * for the child to destroy.
 */
TEST(library_child_gets_its_own_file)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_DEVICE, .page_size = FA_PAGE_2M };
	struct finalloc_info info;
	int fds[4], n;
	void *p;
	pid_t pid;

	p = fa_mem_map(SZ_2M, &o, NULL);
	ASSERT_NE(NULL, p) TH_LOG("fa_mem_map: %s", strerror(errno));
	n = device_fds(fds, 4);
	ASSERT_EQ(1, n);
	ASSERT_EQ(0, fa_info(fds[0], &info));
	EXPECT_EQ(1, info.nr_regions);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *q = fa_mem_map(SZ_2M, &o, NULL);
		int cfds[4], m;

		if (!q)
			_exit(1);
		m = device_fds(cfds, 4);
		if (m != 1)
			_exit(2);
		if (fa_info(cfds[0], &info) || info.nr_regions != 1)
			_exit(3);
		if (fa_mem_unmap(q, SZ_2M))
			_exit(4);
		if (fa_info(cfds[0], &info) || info.nr_regions != 0)
			_exit(5);
		_exit(0);
	}
	/* 2: the child kept the parent's file too; 3: its region went there */
	EXPECT_EQ(0, child_status(pid));
	ASSERT_EQ(0, fa_info(fds[0], &info));
	EXPECT_EQ(1, info.nr_regions);
	EXPECT_EQ(0, fa_mem_unmap(p, SZ_2M));
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

TEST_HARNESS_MAIN
