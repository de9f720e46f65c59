// SPDX-License-Identifier: MIT
/*
 * Page backends: selection (auto, option, FINALLOC_BACKEND), what was asked
 * vs served, downgrade counting and the FINALLOC_VERBOSE line, guards,
 * prefault, node placement, bad input.  In the VM /dev/finalloc exists and
 * the device cases run; on the host they check the device is reported absent.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "debugger.h"
#include "arena_util.h"

#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static bool have_device(void)
{
	return access("/dev/finalloc", R_OK | W_OK) == 0;
}

TEST(names_and_parse)
{
	EXPECT_STREQ("auto", fa_backend_name(FA_BACKEND_AUTO));
	EXPECT_STREQ("device", fa_backend_name(FA_BACKEND_DEVICE));
	EXPECT_STREQ("hugetlb", fa_backend_name(FA_BACKEND_HUGETLB));
	EXPECT_STREQ("thp", fa_backend_name(FA_BACKEND_THP));
	EXPECT_STREQ("small", fa_backend_name(FA_BACKEND_SMALL));
	EXPECT_EQ(NULL, fa_backend_name(-1));
	EXPECT_EQ(NULL, fa_backend_name(FA_BACKEND_COUNT));
	EXPECT_EQ(FA_BACKEND_THP, fa_backend_parse("thp"));
	EXPECT_EQ(-EINVAL, fa_backend_parse("huge"));
	EXPECT_EQ(-EINVAL, fa_backend_parse(NULL));
}

TEST(bad_input)
{
	struct fa_mem_opts o;
	struct fa_mem_info info;

	errno = 0;
	EXPECT_EQ(NULL, fa_mem_map(0, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, fa_mem_map(SIZE_MAX, NULL, NULL));
	EXPECT_EQ(ENOMEM, errno);

	memset(&o, 0, sizeof(o));
	o.page_size = 12345;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);

	memset(&o, 0, sizeof(o));
	o.backend = FA_BACKEND_COUNT;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);

	memset(&o, 0, sizeof(o));
	o.flags = 1u << 20;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);

	memset(&o, 0, sizeof(o));
	o.reserved[1] = 1;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);

	memset(&o, 0, sizeof(o));
	o.flags = FA_MEM_ON_NODE;
	o.node = 4096;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);
	o.node = -1;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);

	/* small pages cannot serve a 2 MiB page ask when forced */
	memset(&o, 0, sizeof(o));
	o.backend = FA_BACKEND_SMALL;
	o.page_size = FA_PAGE_2M;
	EXPECT_EQ(NULL, fa_mem_map(4096, &o, &info));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(-EINVAL, fa_mem_unmap(NULL, 4096));
	EXPECT_EQ(-EINVAL, fa_mem_unmap(&o, 4096));
	EXPECT_EQ(-EINVAL, fa_backend_stats(NULL));
}

TEST(small_forced_is_counted)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_SMALL };
	struct fa_backend_stats before, after;
	struct fa_mem_info info;
	char *p;

	ASSERT_EQ(0, fa_backend_stats(&before));
	p = fa_mem_map(10000, &o, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_SMALL, info.backend);
	EXPECT_EQ(FA_BACKEND_SMALL, info.backend_asked);
	EXPECT_EQ(FA_PAGE_4K, info.page_size);
	EXPECT_EQ(0, info.downgraded);
	EXPECT_EQ(0, (uintptr_t)p % FA_PAGE_4K);
	memset(p, 0x5a, 10000);
	ASSERT_EQ(0, fa_backend_stats(&after));
	EXPECT_EQ(before.maps[FA_BACKEND_SMALL][FA_BACKEND_SMALL] + 1,
	          after.maps[FA_BACKEND_SMALL][FA_BACKEND_SMALL]);
	EXPECT_EQ(before.bytes_mapped[FA_BACKEND_SMALL] + 12288,
	          after.bytes_mapped[FA_BACKEND_SMALL]);
	/* the size given back must be the one asked */
	EXPECT_EQ(-EINVAL, fa_mem_unmap(p, 100));
	EXPECT_EQ(0, fa_mem_unmap(p, 10000));
	EXPECT_EQ(-EINVAL, fa_mem_unmap(p, 10000));
	ASSERT_EQ(0, fa_backend_stats(&after));
	EXPECT_EQ(before.bytes_mapped[FA_BACKEND_SMALL], after.bytes_mapped[FA_BACKEND_SMALL]);
	EXPECT_EQ(before.unmaps + 1, after.unmaps);
}

TEST(thp_forced)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_THP };
	struct fa_mem_info info;
	char *p = fa_mem_map(3 << 20, &o, &info);

	if (!thp_enabled()) {
		EXPECT_EQ(NULL, p);
		EXPECT_EQ(ENODEV, errno);
		return;
	}
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_THP, info.backend);
	EXPECT_EQ(FA_PAGE_2M, info.page_size);
	EXPECT_EQ(0, (uintptr_t)p % FA_PAGE_2M); /* aligned so THP can back it */
	memset(p, 1, 4 << 20);                   /* rounded up to 4 MiB */
	EXPECT_EQ(0, fa_mem_unmap(p, 3 << 20));
}

/* With no device and no hugetlb reserved, auto serves THP (or 4 KiB) and
 * that is no downgrade: nothing better was present. */
TEST(auto_picks_best_present)
{
	struct fa_backend_stats st;
	struct fa_mem_info info;
	char *p;

	ASSERT_EQ(0, fa_backend_stats(&st));
	EXPECT_EQ(have_device(), st.available[FA_BACKEND_DEVICE]);
	p = fa_mem_map(2 << 20, NULL, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_AUTO, info.backend_asked);
	if (st.available[FA_BACKEND_DEVICE]) {
		EXPECT_EQ(FA_BACKEND_DEVICE, info.backend);
	} else if (st.available[FA_BACKEND_HUGETLB]) {
		EXPECT_TRUE(info.backend == FA_BACKEND_HUGETLB || info.downgraded);
	} else if (st.available[FA_BACKEND_THP]) {
		EXPECT_EQ(FA_BACKEND_THP, info.backend);
	} else {
		EXPECT_EQ(FA_BACKEND_SMALL, info.backend);
	}
	TH_LOG("auto served %s, %zu KiB pages", fa_backend_name(info.backend),
	       info.page_size >> 10);
	memset(p, 0, 2 << 20);
	EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
	/* asking for 4 KiB pages picks small pages under auto */
	{
		struct fa_mem_opts o = { .page_size = FA_PAGE_4K };

		if (!st.available[FA_BACKEND_DEVICE]) {
			p = fa_mem_map(8192, &o, &info);
			ASSERT_NE(NULL, p);
			EXPECT_EQ(FA_BACKEND_SMALL, info.backend);
			EXPECT_EQ(0, fa_mem_unmap(p, 8192));
		}
	}
}

TEST(env_forces_backend)
{
	struct fa_mem_info info;
	char *p;

	setenv("FINALLOC_BACKEND", "small", 1);
	p = fa_mem_map(2 << 20, NULL, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_SMALL, info.backend_asked);
	EXPECT_EQ(FA_BACKEND_SMALL, info.backend);
	EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
	/* an explicit option wins over the environment */
	if (thp_enabled()) {
		struct fa_mem_opts o = { .backend = FA_BACKEND_THP };

		p = fa_mem_map(2 << 20, &o, &info);
		ASSERT_NE(NULL, p);
		EXPECT_EQ(FA_BACKEND_THP, info.backend);
		EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
	}
}

TEST(env_device_absent_fails)
{
	if (have_device())
		SKIP(return, "/dev/finalloc present: covered by device_region");
	setenv("FINALLOC_BACKEND", "device", 1);
	errno = 0;
	EXPECT_EQ(NULL, fa_mem_map(2 << 20, NULL, NULL));
	EXPECT_EQ(ENODEV, errno);
}

TEST(bad_env_value_is_said_and_ignored)
{
	struct fa_mem_info info;
	char *p;

	setenv("FINALLOC_BACKEND", "bogus", 1);
	p = fa_mem_map(4096, NULL, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_AUTO, info.backend_asked);
	EXPECT_EQ(0, fa_mem_unmap(p, 4096));
}

static void check_guards(struct __test_metadata *_metadata, char *p, size_t size)
{
	EXPECT_EQ(0, probe(p, true));
	EXPECT_EQ(0, probe(p + size - 1, true));
	EXPECT_NE(0, probe(p - 1, false));
	EXPECT_NE(0, probe(p - 1, true));
	EXPECT_NE(0, probe(p + size, false));
	EXPECT_NE(0, probe(p + size, true));
}

TEST(small_guards_fault)
{
	SKIP_UNDER_DEBUGGER("a guard touch is the debugger's to report");
	struct fa_mem_opts o = { .backend = FA_BACKEND_SMALL, .guard_size = 1 };
	struct fa_mem_info info;
	char *p = fa_mem_map(3 * 4096, &o, &info);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(4096, info.guard_size);
	EXPECT_TRUE(info.guard_kind == FA_GUARD_MADVISE || info.guard_kind == FA_GUARD_MPROTECT);
	TH_LOG("guard kind %u (2 = MADV_GUARD_INSTALL, 3 = mprotect)", info.guard_kind);
	check_guards(_metadata, p, 3 * 4096);
	EXPECT_EQ(0, fa_mem_unmap(p, 3 * 4096));
}

TEST(thp_guards_fault)
{
	SKIP_UNDER_DEBUGGER("a guard touch is the debugger's to report");
	struct fa_mem_opts o = { .backend = FA_BACKEND_THP, .guard_size = 8192 };
	struct fa_mem_info info;
	char *p;

	if (!thp_enabled())
		SKIP(return, "THP disabled");
	p = fa_mem_map(2 << 20, &o, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(8192, info.guard_size);
	check_guards(_metadata, p, 2 << 20);
	EXPECT_NE(0, probe(p - 8192, false));
	EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
}

TEST(prefault_no_faults_after)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_SMALL, .flags = FA_MEM_PREFAULT };
	struct fa_backend_stats st;
	struct fa_mem_info info;
	size_t size = 8 << 20;
	long f0, f1;
	char *p = fa_mem_map(size, &o, &info);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, info.prefaulted);
	TH_LOG("mlock %s", info.locked ? "held" : "refused (RLIMIT_MEMLOCK)");
	f0 = minor_faults();
	touch(p, size, 4096);
	f1 = minor_faults();
	EXPECT_EQ(0, f1 - f0);
	ASSERT_EQ(0, fa_backend_stats(&st));
	if (info.locked) {
		EXPECT_GE(st.locked_bytes, size);
	} else {
		EXPECT_GE(st.lock_failures, 1);
	}
	EXPECT_EQ(0, fa_mem_unmap(p, size));
}

TEST(node_placement)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_SMALL,
		                 .flags = FA_MEM_ON_NODE | FA_MEM_PREFAULT };
	int max = numa_available() < 0 ? 0 : numa_max_node();

	for (int node = 0; node <= max; node++) {
		struct fa_mem_info info;
		char *p;

		if (numa_available() >= 0 && !numa_bitmask_isbitset(numa_all_nodes_ptr, node))
			continue;
		o.node = node;
		p = fa_mem_map(1 << 20, &o, &info);
		if (!p && errno == EINVAL && node > 0)
			continue; /* memory-less node */
		ASSERT_NE(NULL, p);
		EXPECT_EQ(node, info.node_asked);
		EXPECT_EQ(node, info.node);
		if (numa_available() >= 0) {
			int where = -1;

			ASSERT_EQ(0, get_mempolicy(&where, NULL, 0, p + 4096,
			                           MPOL_F_NODE | MPOL_F_ADDR));
			EXPECT_EQ(node, where);
		}
		EXPECT_EQ(0, fa_mem_unmap(p, 1 << 20));
	}
}

/* hugetlb: reserve pages for the test when allowed, put the count back. */
FIXTURE(huge)
{
	long saved;
	bool ok;
};

FIXTURE_SETUP(huge)
{
	self->ok = reserve_2m(2, &self->saved);
}

FIXTURE_TEARDOWN(huge)
{
	restore_2m(self->saved);
}

TEST_F(huge, hugetlb_forced_with_guards)
{
	SKIP_UNDER_DEBUGGER("a guard touch is the debugger's to report");
	struct fa_mem_opts o = { .backend = FA_BACKEND_HUGETLB, .guard_size = 4096 };
	struct fa_mem_info info;
	char *p;

	if (!self->ok)
		SKIP(return, "no 2 MiB hugetlb pages reserved and cannot reserve");
	p = fa_mem_map(2 << 20, &o, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_HUGETLB, info.backend);
	EXPECT_EQ(FA_PAGE_2M, info.page_size);
	EXPECT_EQ(1, info.prefaulted); /* hugetlb always populated */
	EXPECT_EQ(0, (uintptr_t)p % FA_PAGE_2M);
	EXPECT_EQ(FA_GUARD_MPROTECT, info.guard_kind);
	check_guards(_metadata, p, 2 << 20);
	EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
}

/* Auto with hugetlb reserved but too few pages: served by the next backend,
 * counted as a downgrade, said once on stderr; strict refuses instead. */
TEST_F(huge, downgrade_counted_and_said_once)
{
	struct fa_mem_opts strict = { .flags = FA_MEM_STRICT };
	struct fa_backend_stats b0, b1;
	struct fa_mem_info info;
	char path[] = "/tmp/fa-backend-XXXXXX", log[512] = "";
	int fd, saved_err, n;
	char *p, *q, *first;

	if (!self->ok)
		SKIP(return, "no 2 MiB hugetlb pages reserved and cannot reserve");
	if (have_device())
		SKIP(return, "device backend present: auto serves it first");
	if (read_long(NR_2M) > 8)
		SKIP(return, "too many hugetlb pages reserved to exhaust them");
	setenv("FINALLOC_VERBOSE", "1", 1);
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	saved_err = dup(2);
	dup2(fd, 2);

	ASSERT_EQ(0, fa_backend_stats(&b0));
	first = fa_mem_map(2 << 20, NULL, &info); /* takes a huge page */
	p = fa_mem_map(64 << 20, NULL, &info);    /* more than reserved */
	q = fa_mem_map(64 << 20, NULL, NULL);
	errno = 0;
	EXPECT_EQ(NULL, fa_mem_map(64 << 20, &strict, NULL));
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, fa_backend_stats(&b1));

	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	n = (int)pread(fd, log, sizeof(log) - 1, 0);
	close(fd);
	log[n > 0 ? n : 0] = 0;

	ASSERT_NE(NULL, first);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	EXPECT_NE(FA_BACKEND_HUGETLB, info.backend);
	EXPECT_EQ(1, info.downgraded);
	EXPECT_EQ(b0.downgrades + 2, b1.downgrades);
	EXPECT_EQ(b0.maps[FA_BACKEND_AUTO][info.backend] + 2,
	          b1.maps[FA_BACKEND_AUTO][info.backend]);
	EXPECT_EQ(b0.failures + 1, b1.failures);
	/* one downgrade line for the pair, although two maps were downgraded */
	{
		int lines = 0;

		for (char *s = log; (s = strstr(s, "downgrade: hugetlb asked")); s++)
			lines++;
		EXPECT_EQ(1, lines);
	}
	TH_LOG("stderr: %s", log);
	fa_mem_unmap(first, 2 << 20);
	fa_mem_unmap(p, 64 << 20);
	fa_mem_unmap(q, 64 << 20);
}

TEST(one_gig_absent)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_HUGETLB, .page_size = FA_PAGE_1G };

	if (read_long("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages") > 0)
		SKIP(return, "1 GiB pages reserved here");
	errno = 0;
	EXPECT_EQ(NULL, fa_mem_map(FA_PAGE_1G, &o, NULL));
	EXPECT_EQ(ENODEV, errno);
	/* auto with 1 GiB asked and none reserved: smaller pages, counted
	 * as a page downgrade; strict refuses */
	o.backend = FA_BACKEND_AUTO;
	{
		struct fa_backend_stats b0, b1;
		struct fa_mem_info info;
		char *p;

		ASSERT_EQ(0, fa_backend_stats(&b0));
		p = fa_mem_map(4 << 20, &o, &info);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, fa_backend_stats(&b1));
		EXPECT_LT(info.page_size, FA_PAGE_1G);
		EXPECT_EQ(FA_PAGE_1G, info.page_size_asked);
		EXPECT_EQ(1, info.downgraded);
		EXPECT_EQ(b0.page_downgrades + 1, b1.page_downgrades);
		EXPECT_EQ(0, fa_mem_unmap(p, 4 << 20));
		o.flags = FA_MEM_STRICT;
		errno = 0;
		EXPECT_EQ(NULL, fa_mem_map(4 << 20, &o, NULL));
		EXPECT_EQ(ENOMEM, errno);
	}
}

#define HUGE_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/"

/* 1 GiB hugetlb pages: reserve one for the test where root can (a free,
 * aligned GiB must exist), put the count back after. */
FIXTURE(gig)
{
	long saved;
	bool ok;
};

FIXTURE_SETUP(gig)
{
	long nr = read_long(HUGE_1G "nr_hugepages");
	long free_pages = read_long(HUGE_1G "free_hugepages");

	self->saved = -1;
	self->ok = nr >= 0 && (free_pages >= 1 ||
	                       (reserve_huge(HUGE_1G "nr_hugepages", nr + 1, &self->saved) &&
	                        read_long(HUGE_1G "free_hugepages") >= 1));
}

FIXTURE_TEARDOWN(gig)
{
	restore_huge(HUGE_1G "nr_hugepages", self->saved);
}

TEST_F(gig, one_gig_reserved)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_HUGETLB, .page_size = FA_PAGE_1G };
	struct fa_mem_info info;
	long free0;
	char *p;

	if (!self->ok)
		SKIP(return, "no free 1 GiB hugetlb page and none could be reserved");
	free0 = read_long(HUGE_1G "free_hugepages");
	p = fa_mem_map(FA_PAGE_1G, &o, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_HUGETLB, info.backend);
	EXPECT_EQ(FA_PAGE_1G, info.page_size);
	EXPECT_EQ(0, info.downgraded);
	EXPECT_EQ(0, (uintptr_t)p % FA_PAGE_1G);
	p[0] = 1;
	p[FA_PAGE_1G - 1] = 2;
	EXPECT_EQ(free0 - 1, read_long(HUGE_1G "free_hugepages"));
	EXPECT_EQ(0, fa_mem_unmap(p, FA_PAGE_1G));
	/* auto asked for 1 GiB pages gets them too */
	o.backend = FA_BACKEND_AUTO;
	p = fa_mem_map(FA_PAGE_1G, &o, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_PAGE_1G, info.page_size);
	EXPECT_EQ(FA_BACKEND_HUGETLB, info.backend);
	EXPECT_EQ(0, fa_mem_unmap(p, FA_PAGE_1G));
}

/* A thread on a CPU-only node gets memory from its nearest memory node, on
 * whichever backend serves it (the 4-node VM has such a node). */
TEST(cpu_only_node_served_by_nearest)
{
	struct fa_topology t;
	struct fa_mem_info info;
	int cpu_only = -1, idx = -1, want = -1, best = 0;
	struct bitmask *cpus;
	char *p;

	ASSERT_EQ(0, fa_topology_read(&t));
	for (int i = 0; i < t.nr_nodes; i++)
		if (!t.node[i].has_memory && t.node[i].nr_cpus > 0) {
			cpu_only = t.node[i].node;
			idx = i;
		}
	if (cpu_only < 0)
		SKIP(return, "no CPU-only node here (the 4-node VM has one)");
	for (int j = 0; j < t.nr_nodes; j++)
		if (t.node[j].has_memory && (want < 0 || t.distance[idx][j] < best)) {
			want = t.node[j].node;
			best = t.distance[idx][j];
		}
	cpus = numa_allocate_cpumask();
	ASSERT_EQ(0, numa_node_to_cpus(cpu_only, cpus));
	ASSERT_EQ(0, numa_sched_setaffinity(0, cpus));
	numa_free_cpumask(cpus);
	p = fa_mem_map(2 << 20, NULL, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, info.downgraded);
	if (info.node >= 0)
		EXPECT_EQ(want, info.node);
	if (have_device())
		EXPECT_EQ(FA_BACKEND_DEVICE, info.backend);
	TH_LOG("node %d (CPU-only): served by %s on node %d, nearest memory node %d", cpu_only,
	       fa_backend_name(info.backend), info.node, want);
	EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
}

/* Running out of descriptors on the first try is not final: once they are
 * back, the device serves. */
TEST(device_retried_after_emfile)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_DEVICE };
	struct rlimit rl = { 64, 64 };
	int fds[64], n = 0;
	void *p;

	if (!have_device())
		SKIP(return, "/dev/finalloc absent (runs in the VM)");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	errno = 0;
	EXPECT_EQ(NULL, fa_mem_map(2 << 20, &o, NULL));
	EXPECT_EQ(EMFILE, errno);
	while (n > 0)
		close(fds[--n]);
	p = fa_mem_map(2 << 20, &o, NULL);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
}

/* A device node that exists but refuses the caller says EACCES, not ENODEV. */
TEST(device_refused_is_eacces)
{
	char path[] = "/tmp/fa-dev-XXXXXX";
	int fd, status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to make a file another user cannot open");
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, chmod(path, 0600));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		void *p;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		setenv("FINALLOC_DEVICE", path, 1);
		setenv("FINALLOC_BACKEND", "device", 1);
		errno = 0;
		p = fa_mem_map(2 << 20, NULL, NULL);
		_exit(p ? 11 : errno == EACCES ? 0 : 12);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	unlink(path);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(device_region)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_DEVICE,
		                 .guard_size = 1,
		                 .flags = FA_MEM_PREFAULT };
	struct fa_mem_info info;
	char *p;

	if (!have_device())
		SKIP(return, "/dev/finalloc absent (runs in the VM)");
	p = fa_mem_map(4 << 20, &o, &info);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(FA_BACKEND_DEVICE, info.backend);
	EXPECT_EQ(FA_PAGE_2M, info.page_size);
	EXPECT_EQ(FA_GUARD_KERNEL, info.guard_kind);
	EXPECT_EQ(FA_PAGE_2M, info.guard_size);
	EXPECT_GE(info.node, 0);
	memset(p, 0x11, 4 << 20);
	check_guards(_metadata, p, 4 << 20);
	EXPECT_EQ(0, fa_mem_unmap(p, 4 << 20));

	/* node placement on every node with memory */
	for (int node = 0; numa_available() >= 0 && node <= numa_max_node(); node++) {
		struct fa_mem_opts on = { .backend = FA_BACKEND_DEVICE,
			                  .node = node,
			                  .flags = FA_MEM_ON_NODE };

		p = fa_mem_map(2 << 20, &on, &info);
		if (!p) {
			EXPECT_EQ(ENOMEM, errno); /* memory-less node */
			continue;
		}
		EXPECT_EQ(node, info.node);
		EXPECT_EQ(0, fa_mem_unmap(p, 2 << 20));
	}
}

/* vmsplice takes the pages with get_user_pages, as O_DIRECT does. */
static bool gup_works(char *p)
{
	struct iovec iov = { p, 4096 };
	int pfd[2];
	bool ok;

	if (pipe(pfd))
		return false;
	p[0] = 'g';
	ok = vmsplice(pfd[1], &iov, 1, 0) == 4096;
	close(pfd[0]);
	close(pfd[1]);
	return ok;
}

/* FA_MEM_PINNABLE: fallback memory is pinnable as it is. */
TEST(pinnable_fallback)
{
	static const int backends[] = { FA_BACKEND_SMALL, FA_BACKEND_THP, FA_BACKEND_AUTO };

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		struct fa_mem_opts o = { .backend = backends[i], .flags = FA_MEM_PINNABLE };
		struct fa_mem_info info;
		char *p = fa_mem_map(4 << 20, &o, &info);

		if (!p && errno == ENODEV)
			continue; /* THP "never" */
		ASSERT_NE(NULL, p) TH_LOG("%s: %s", fa_backend_name(backends[i]), strerror(errno));
		EXPECT_TRUE(gup_works(p)) TH_LOG("%s", fa_backend_name(info.backend));
		EXPECT_EQ(0, fa_mem_unmap(p, 4 << 20));
	}
}

/* FA_MEM_PINNABLE device memory: get_user_pages works on 6.12 too. */
TEST(pinnable_device)
{
	struct fa_mem_opts o = { .backend = FA_BACKEND_DEVICE, .flags = FA_MEM_PINNABLE };
	struct fa_mem_info info;
	char *p;

	if (!have_device())
		SKIP(return, "/dev/finalloc absent (runs in the VM)");
	p = fa_mem_map(4 << 20, &o, &info);
	ASSERT_NE(NULL, p) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(FA_BACKEND_DEVICE, info.backend);
	EXPECT_EQ(FA_PAGE_2M, info.page_size);
	EXPECT_TRUE(gup_works(p + (2 << 20)));
	EXPECT_EQ(0, fa_mem_unmap(p, 4 << 20));
}

TEST_HARNESS_MAIN
