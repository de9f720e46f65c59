// SPDX-License-Identifier: MIT
/*
 * Limits: the global cap (ENOMEM) and RLIMIT_MEMLOCK (EPERM without
 * CAP_IPC_LOCK), and counters back to zero after close and after kill -9.
 */
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

static void set_cap(uint64_t bytes)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)bytes);
	write_str(SYSFS "/cap", buf);
}

FIXTURE(caps)
{
	int fd;
};

FIXTURE_SETUP(caps)
{
	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(caps)
{
	set_cap(0);
	close(self->fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 2000));
	EXPECT_EQ(0, fa_wait_stat("regions", 0, 1000));
	EXPECT_EQ(0, fa_wait_stat("mappings", 0, 1000));
}

TEST_F(caps, global_cap)
{
	struct finalloc_region_create rc, rc2;
	struct finalloc_info info;
	long long fails = fa_stat("alloc_failures");

	set_cap(8 * MB);
	ASSERT_EQ(8 * (long long)MB, fa_stat("cap"));
	ASSERT_EQ(0, fa_info(self->fd, &info));
	EXPECT_EQ(8 * MB, info.pinned_cap);
	EXPECT_EQ(-ENOMEM, fa_create(self->fd, 10 * MB, 0, 21, 0, 0, 0, &rc));
	/* Guards cost nothing: 10 MiB with one data page fits. */
	ASSERT_EQ(0, fa_create(self->fd, 10 * MB, 0, 21, 2, 2, 0, &rc));
	EXPECT_EQ(SZ_2M, rc.data_bytes);
	EXPECT_EQ(-ENOMEM, fa_create(self->fd, 8 * MB, 0, 21, 0, 0, 0, &rc2));
	ASSERT_EQ(0, fa_create(self->fd, 6 * MB, 0, 12, 0, 0, 0, &rc2));
	EXPECT_EQ(-ENOMEM, fa_create(self->fd, 4096, 0, 12, 0, 0, 0, &rc2));
	EXPECT_EQ(8 * (long long)MB, fa_stat("pinned_bytes"));
	/* Refusals by the cap are not allocation failures. */
	EXPECT_EQ(fails, fa_stat("alloc_failures"));
	/* Lowering the cap frees nothing; raising it lets more in. */
	set_cap(4 * MB);
	EXPECT_EQ(8 * (long long)MB, fa_stat("pinned_bytes"));
	set_cap(10 * MB);
	EXPECT_EQ(0, fa_create(self->fd, SZ_2M, 0, 21, 0, 0, 0, &rc2));
	set_cap(0);
	EXPECT_EQ(0, fa_create(self->fd, 16 * MB, 0, 21, 0, 0, 0, &rc2));
}

/* Run fn in a child that has dropped to uid 65534 (no CAP_IPC_LOCK). */
static int as_nobody(int fd, rlim_t memlock, int (*fn)(int))
{
	struct rlimit rl = { memlock, memlock };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) || setgid(65534) ||
		    setuid(65534))
			_exit(100);
		_exit(fn(fd));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int memlock_child(int fd)
{
	struct finalloc_region_create a, b;

	if (fa_create(fd, 4 * MB, 0, 21, 0, 0, 0, &a))
		return 1;
	if (fa_create(fd, 8 * MB, 0, 21, 0, 0, 0, &b) != -EPERM)
		return 2;
	if (fa_create(fd, 4 * MB, 0, 12, 0, 0, 0, &b))
		return 3;
	if (fa_create(fd, 4096, 0, 12, 0, 0, 0, &b) != -EPERM)
		return 4;
	/* Destroying gives the charge back. */
	if (fa_destroy(fd, a.id))
		return 5;
	if (fa_create(fd, 8 * MB, 0, 21, 1, 1, 0, &a))
		return 6;
	return 0;
}

TEST_F(caps, rlimit_memlock)
{
	EXPECT_EQ(0, as_nobody(self->fd, 8 * MB, memlock_child));
	/* The child's regions went with it, though we still hold the file. */
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_stat("regions"));
	/* All charges went back: the same user can pin 8 MiB again. */
	EXPECT_EQ(0, as_nobody(self->fd, 8 * MB, memlock_child));
}

static int zero_limit_child(int fd)
{
	struct finalloc_region_create rc;

	return fa_create(fd, 4096, 0, 12, 0, 0, 0, &rc) == -EPERM ? 0 : 1;
}

TEST_F(caps, rlimit_zero_refuses)
{
	EXPECT_EQ(0, as_nobody(self->fd, 0, zero_limit_child));
}

/* Root has CAP_IPC_LOCK: RLIMIT_MEMLOCK does not apply. */
TEST_F(caps, cap_ipc_lock_bypasses)
{
	struct rlimit rl = { 0, 0 }, old;
	struct finalloc_region_create rc;

	ASSERT_EQ(0, getrlimit(RLIMIT_MEMLOCK, &old));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	EXPECT_EQ(0, fa_create(self->fd, 4 * MB, 0, 21, 0, 0, 0, &rc));
	setrlimit(RLIMIT_MEMLOCK, &old);
}

TEST_F(caps, counters_zero_after_close)
{
	struct finalloc_region_create a, b;
	int fd = fa_open();
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create(fd, 4 * MB, 0, 21, 0, 0, 0, &a));
	ASSERT_EQ(0, fa_create(fd, 1 * MB, 0, 12, 1, 1, 3, &b));
	p = fa_map(fd, &a);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 4 * MB);
	EXPECT_EQ(2, fa_stat("regions"));
	EXPECT_EQ(1, fa_stat("mappings"));
	close(fd);
	/* The mapping holds the file, and the file both regions... */
	EXPECT_EQ(2, fa_stat("regions"));
	EXPECT_EQ(4 * (long long)MB + 191 * 4096, fa_stat("pinned_bytes"));
	EXPECT_EQ(1, p[4 * MB - 1]);
	/* ...until the mapping goes too. */
	munmap(p, 4 * MB);
	EXPECT_EQ(0, fa_stat("regions"));
	EXPECT_EQ(0, fa_stat("mappings"));
	EXPECT_EQ(0, fa_stat("pinned_bytes"));
	EXPECT_EQ(0, fa_node_stat(0, "pinned_bytes"));
	EXPECT_EQ(0, fa_node_stat(0, "pages_2m"));
}

/* A killed owner's regions, mappings and charges all go away. */
TEST_F(caps, counters_zero_after_kill9)
{
	int pfd[2], status;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct finalloc_region_create rc;
		int fd = fa_open();
		char *p;

		if (fd < 0 || fa_create(fd, 16 * MB, 0, 21, 0, 0, 0, &rc))
			_exit(1);
		p = fa_map(fd, &rc);
		if (p == MAP_FAILED)
			_exit(2);
		memset(p, 3, 16 * MB);
		if (fa_create(fd, 64 * 4096, 0, 12, 0, 0, 0, &rc))
			_exit(3);
		if (write(pfd[1], "r", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	EXPECT_EQ(16 * (long long)MB + 64 * 4096, fa_stat("pinned_bytes"));
	EXPECT_EQ(2, fa_stat("regions"));
	EXPECT_EQ(1, fa_stat("mappings"));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 2000));
	EXPECT_EQ(0, fa_wait_stat("regions", 0, 1000));
	EXPECT_EQ(0, fa_wait_stat("mappings", 0, 1000));
	EXPECT_EQ(0, fa_node_stat(0, "pinned_bytes"));
	close(pfd[0]);
}

TEST_HARNESS_MAIN
