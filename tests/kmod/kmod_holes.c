// SPDX-License-Identifier: MIT
/*
 * Isolation between callers: a cpuset's mems bound the nodes a region may
 * use, ids belong to one open file (cyclic, so a stale offset never maps a
 * newer region), and a per-file bound on regions.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

#define MAX_REGIONS "/sys/module/finalloc/parameters/max_regions"

/* Where cgroup v2 is mounted, mounting it on dir when it is not. */
static const char *cgroup2_root(char *dir, bool *mounted)
{
	char line[512], dev[128], mnt[256], type[64];
	FILE *f = fopen("/proc/mounts", "r");

	*mounted = false;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %255s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			fclose(f);
			strcpy(dir, mnt);
			return dir;
		}
	}
	if (f)
		fclose(f);
	mkdir(dir, 0755);
	if (mount("none", dir, "cgroup2", 0, NULL))
		return NULL;
	*mounted = true;
	return dir;
}

static bool file_has_word(const char *path, const char *word)
{
	char buf[512], *tok, *save;
	FILE *f = fopen(path, "r");
	bool found = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \n", &save); tok && !found;
		     tok = strtok_r(NULL, " \n", &save))
			found = !strcmp(tok, word);
	fclose(f);
	return found;
}

/*
 * A child in a cgroup v2 cpuset with mems 0 asks for node 1: refused with
 * EPERM; node 0 still works.  (set_mempolicy would not do: the module
 * allocates with __GFP_THISNODE, which a mempolicy never narrows.)
 */
TEST(cpuset_mems_bound_the_nodes)
{
	char root[256] = "/tmp/fa-cgroup", path[320];
	bool mounted, enabled;
	uint64_t mask;
	int fd, status;
	pid_t pid;

	fd = fa_open();
	ASSERT_LE(0, fd);
	if (fa_nodes(fd, &mask) < 2 || !(mask & 1) || !(mask & 2))
		SKIP(return, "needs nodes 0 and 1 with memory");
	if (!cgroup2_root(root, &mounted))
		SKIP(return, "cannot mount cgroup2 (%s)", strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	if (!file_has_word(path, "cpuset")) {
		if (mounted)
			umount(root);
		SKIP(return, "the kernel has no cgroup v2 cpuset controller");
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	enabled = file_has_word(path, "cpuset");
	if (!enabled)
		ASSERT_EQ(0, write_str(path, "+cpuset"));
	snprintf(path, sizeof(path), "%s/fa-mems0", root);
	rmdir(path);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/fa-mems0/cpuset.mems", root);
	ASSERT_EQ(0, write_str(path, "0"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct finalloc_region_create rc;
		int bad = 0;

		snprintf(path, sizeof(path), "%s/fa-mems0/cgroup.procs", root);
		if (write_str(path, "0"))
			_exit(10);
		if (fa_create(fd, SZ_2M, 1, 21, 0, 0, 0, &rc) != -EPERM)
			bad |= 1;
		if (fa_create(fd, SZ_2M, 0, 21, 0, 0, 0, &rc) || fa_destroy(fd, rc.id))
			bad |= 2;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	snprintf(path, sizeof(path), "%s/fa-mems0", root);
	EXPECT_EQ(0, rmdir(path));
	if (!enabled) {
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
		write_str(path, "-cpuset");
	}
	if (mounted)
		umount(root);
	ASSERT_TRUE(WIFEXITED(status));
	/* 1: node 1 not refused with EPERM; 2: node 0 refused; 10: no move */
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

/* A destroyed region's offset maps nothing, even after another create. */
TEST(stale_offset_never_maps_a_newer_region)
{
	struct finalloc_region_create a, b;
	void *p;
	int fd = fa_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create(fd, 4 * KB, 0, 12, 0, 0, 0, &a));
	ASSERT_EQ(0, fa_destroy(fd, a.id));
	ASSERT_EQ(0, fa_create(fd, 4 * KB, 0, 12, 0, 0, 0, &b));
	EXPECT_NE(a.id, b.id);
	EXPECT_NE(a.offset, b.offset);
	p = fa_map(fd, &a);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, a.size);
	EXPECT_EQ(-ENOENT, fa_destroy(fd, a.id));
	EXPECT_EQ(0, fa_destroy(fd, b.id));
	close(fd);
}

/*
 * max_regions bounds each open file: a full file gives ENOSPC, another
 * file is not affected, and a destroy makes room again.
 */
TEST(regions_per_file_are_bounded)
{
	struct finalloc_region_create rc[4], other;
	char old[32] = "";
	FILE *f = fopen(MAX_REGIONS, "r");
	int fd1, fd2;

	ASSERT_NE(NULL, f) TH_LOG("no %s", MAX_REGIONS);
	ASSERT_NE(NULL, fgets(old, sizeof(old), f));
	fclose(f);
	ASSERT_EQ(0, write_str(MAX_REGIONS, "3"));
	fd1 = fa_open();
	fd2 = fa_open();
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, fa_create(fd1, 4 * KB, 0, 12, 0, 0, 0, &rc[i]));
	EXPECT_EQ(-ENOSPC, fa_create(fd1, 4 * KB, 0, 12, 0, 0, 0, &rc[3]));
	EXPECT_EQ(0, fa_create(fd2, 4 * KB, 0, 12, 0, 0, 0, &other));
	EXPECT_EQ(0, fa_destroy(fd1, rc[0].id));
	EXPECT_EQ(0, fa_create(fd1, 4 * KB, 0, 12, 0, 0, 0, &rc[3]));
	EXPECT_EQ(4, fa_stat("regions"));
	EXPECT_EQ(0, write_str(MAX_REGIONS, old));
	close(fd1);
	close(fd2);
	EXPECT_EQ(0, fa_wait_stat("regions", 0, 1000));
	EXPECT_EQ(-EINVAL, write_str(MAX_REGIONS, "0"));
}

/* Two files' regions never stand for each other, whatever their ids. */
TEST(ids_belong_to_their_file)
{
	struct finalloc_region_create a, b;
	char *pa, *pb;
	int fd1 = fa_open(), fd2 = fa_open();

	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fa_create(fd1, 4 * KB, 0, 12, 0, 0, 0, &a));
	ASSERT_EQ(0, fa_create(fd2, 4 * KB, 0, 12, 0, 0, 0, &b));
	pa = fa_map(fd1, &a);
	ASSERT_NE(MAP_FAILED, pa);
	memset(pa, 'a', 4 * KB);
	pb = fa_map(fd2, &b);
	ASSERT_NE(MAP_FAILED, pb);
	EXPECT_EQ(0, pb[0]);
	EXPECT_EQ(0, fa_destroy(fd2, b.id));
	/* fd2's id is gone from fd2 whatever fd1 holds under it */
	EXPECT_EQ(-ENOENT, fa_destroy(fd2, b.id));
	munmap(pa, 4 * KB);
	munmap(pb, 4 * KB);
	close(fd1);
	close(fd2);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

TEST_HARNESS_MAIN
