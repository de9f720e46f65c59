// SPDX-License-Identifier: MIT
/*
 * Isolation between callers: a cpuset's mems bound the nodes a region may
 * use.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

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

TEST_HARNESS_MAIN
