// SPDX-License-Identifier: MIT
/*
 * Debuggers and /proc/pid/mem reach region memory on every kernel: on 6.12
 * (VM_PFNMAP) through the module's vm_ops->access, on 6.1 through the
 * refcounted PTEs.  Guard pages stay unreadable (EIO).  process_vm_readv
 * pins pages, which VM_PFNMAP memory cannot be.
 */
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

FIXTURE(access)
{
	int fd;
	uint64_t page;
	struct finalloc_region_create rc;
	char *p; /* G D D G: data at p + page */
};

FIXTURE_VARIANT(access)
{
	unsigned int shift;
};

FIXTURE_VARIANT_ADD(access, page_4k){
	.shift = 12,
};

FIXTURE_VARIANT_ADD(access, page_2m){
	.shift = 21,
};

FIXTURE_SETUP(access)
{
	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	self->page = 1ULL << variant->shift;
	ASSERT_EQ(0, fa_create(self->fd, 4 * self->page, 0, variant->shift, 1, 1, 0, &self->rc));
	self->p = fa_map(self->fd, &self->rc);
	ASSERT_NE(MAP_FAILED, self->p);
	for (uint64_t i = 0; i < 2 * self->page; i++)
		self->p[self->page + i] = (char)(i * 7 + 1);
}

FIXTURE_TEARDOWN(access)
{
	munmap(self->p, 4 * self->page);
	close(self->fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 1000));
}

static bool pmd_mapped(int fd)
{
	struct finalloc_info info;

	return fa_info(fd, &info) == 0 && (info.caps & FINALLOC_CAP_PMD_MAP);
}

/* Reads and writes across the boundary of two data pages, then a guard. */
TEST_F(access, proc_self_mem)
{
	char *data = self->p + self->page, buf[256];
	off_t at = (off_t)(uintptr_t)(data + self->page - 128);
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, mem);
	ASSERT_EQ(sizeof(buf), pread(mem, buf, sizeof(buf), at)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, data + self->page - 128, sizeof(buf)));
	memset(buf, 'w', sizeof(buf));
	ASSERT_EQ(sizeof(buf), pwrite(mem, buf, sizeof(buf), at));
	EXPECT_EQ('w', data[self->page - 128]);
	EXPECT_EQ('w', data[self->page + 127]);
	/* guards: before the data and after it */
	EXPECT_EQ(-1, pread(mem, buf, 16, (off_t)(uintptr_t)self->p));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(mem, buf, 16, (off_t)(uintptr_t)(data + 2 * self->page)));
	EXPECT_EQ(EIO, errno);
	/* a read running into the trailing guard stops at it */
	EXPECT_EQ(64, pread(mem, buf, 128, (off_t)(uintptr_t)(data + 2 * self->page - 64)));
	close(mem);
}

/* A tracer peeks and pokes a tracee's region memory, as gdb does. */
TEST_F(access, ptrace_peek_poke)
{
	char *data = self->p + self->page;
	uintptr_t addr;
	int status;
	long word;
	pid_t pid;

	pid = fa_traced_child(self->fd, &self->rc, &addr);
	ASSERT_LT(0, pid);
	addr += self->page; /* the first data byte */
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, (void *)addr, NULL);
	EXPECT_EQ(0, errno) TH_LOG("PEEKDATA: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(&word, data, sizeof(word)));
	word = 0x1122334455667788L;
	EXPECT_EQ(0, ptrace(PTRACE_POKEDATA, pid, (void *)(addr + 8), (void *)word))
	TH_LOG("POKEDATA: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(&word, data + 8, sizeof(word)));
	errno = 0;
	ptrace(PTRACE_PEEKDATA, pid, (void *)(addr - self->page), NULL);
	EXPECT_EQ(EIO, errno);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* A read-only mapping is read, never written, as GUP would have it. */
TEST_F(access, read_only_mapping)
{
	char *ro, buf[16];
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, mem);
	ro = mmap(NULL, 4 * self->page, PROT_READ, MAP_SHARED, self->fd, self->rc.offset);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(sizeof(buf), pread(mem, buf, sizeof(buf), (off_t)(uintptr_t)(ro + self->page)));
	EXPECT_EQ(0, memcmp(buf, self->p + self->page, sizeof(buf)));
	memset(buf, 'x', sizeof(buf));
	EXPECT_EQ(-1, pwrite(mem, buf, sizeof(buf), (off_t)(uintptr_t)(ro + self->page)));
	EXPECT_EQ(EIO, errno);
	EXPECT_NE('x', self->p[self->page]);
	munmap(ro, 4 * self->page);
	close(mem);
}

TEST_F(access, process_vm_readv)
{
	char *data = self->p + self->page, buf[256];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { data, sizeof(buf) };
	ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	if (n < 0 && errno == EFAULT && pmd_mapped(self->fd))
		SKIP(return, "process_vm_readv pins pages; VM_PFNMAP (6.12) cannot be pinned");
	ASSERT_EQ(sizeof(buf), n) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, data, sizeof(buf)));
}

TEST_HARNESS_MAIN
