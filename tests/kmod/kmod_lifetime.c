// SPDX-License-Identifier: MIT
/*
 * Module lifetime: rmmod is refused while a file or a mapping is alive,
 * succeeds once everything is gone, and insmod brings the module back
 * (left loaded at the end).  The rig puts the module at /finalloc.ko.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

#define KO FA_KO

static bool loaded(void)
{
	struct stat st;

	return stat(SYSFS, &st) == 0;
}

FIXTURE(life)
{
	int unused;
};

FIXTURE_SETUP(life)
{
	if (access(KO, R_OK))
		SKIP(return, KO " missing: only runs in the VM rig");
	ASSERT_TRUE(loaded());
}

/* Whatever happened, leave the module loaded for the programs after us. */
FIXTURE_TEARDOWN(life)
{
	if (!access(KO, R_OK) && !loaded())
		fa_module_load();
}

TEST_F(life, rmmod_refused_while_mapped)
{
	struct finalloc_region_create rc;
	struct stat st;
	int fd = fa_open(), err;
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create(fd, 4 * MB, 0, 21, 0, 0, 0, &rc));
	/* An open file pins the module. */
	err = fa_module_unload();
	EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY) TH_LOG("errno %d", err);
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 4 * MB);
	close(fd);
	/* Only a mapping is left: still pinned. */
	err = fa_module_unload();
	EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY) TH_LOG("errno %d", err);
	ASSERT_TRUE(loaded());
	EXPECT_EQ(4 * (long long)MB, fa_stat("pinned_bytes"));
	EXPECT_EQ(1, p[4 * MB - 1]);
	ASSERT_EQ(0, munmap(p, 4 * MB));
	EXPECT_EQ(0, fa_stat("pinned_bytes"));

	/* Nothing left: rmmod succeeds and removes the device and sysfs. */
	ASSERT_EQ(0, fa_module_unload());
	EXPECT_FALSE(loaded());
	EXPECT_NE(0, stat(FINALLOC_DEV_PATH, &st));
	EXPECT_GT(0, fa_open());

	/* insmod again works, with fresh counters. */
	ASSERT_EQ(0, fa_module_load());
	ASSERT_TRUE(loaded());
	fd = fa_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_stat("regions"));
	ASSERT_EQ(0, fa_create(fd, 2 * MB, 0, 21, 0, 0, 0, &rc));
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, p[0]);
	munmap(p, 2 * MB);
	close(fd);
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
}

/* A killed process's mapping no longer pins the module. */
TEST_F(life, rmmod_after_kill9)
{
	int pfd[2], status;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct finalloc_region_create rc;
		int fd = fa_open();
		char *p;

		if (fd < 0 || fa_create(fd, 2 * MB, 0, 21, 0, 0, 0, &rc))
			_exit(1);
		p = fa_map(fd, &rc);
		if (p == MAP_FAILED)
			_exit(2);
		p[0] = 1;
		close(fd);
		if (write(pfd[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	EXPECT_NE(0, fa_module_unload());
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 2000));
	EXPECT_EQ(0, fa_module_unload());
	EXPECT_FALSE(loaded());
	EXPECT_EQ(0, fa_module_load());
	EXPECT_TRUE(loaded());
	close(pfd[0]);
}

TEST_HARNESS_MAIN
