// SPDX-License-Identifier: MIT
/*
 * Pinnable regions (FINALLOC_REGION_PINNABLE): on 6.1 and 6.12 alike,
 * get_user_pages reaches them, so O_DIRECT through a block device (the
 * rig's brd ram disk, /dev/ram0), io_uring fixed buffers, process_vm_readv
 * and vmsplice work, and ptrace keeps working.  Default regions are the
 * control: on 6.12 (VM_PFNMAP) GUP refuses them with EFAULT.  The pages
 * stay on their node (MemUsed of the node, move_pages) and a pin's pages
 * stay counted until it is released.
 */
#include <liburing.h>
#include <numaif.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"
#include "kernel_version.h"

#define DISK "/dev/ram0"
#define DATA (2 * SZ_2M) /* two 2 MiB pages between one-page guards */

FIXTURE(dma)
{
	int fd;
	bool gup; /* can get_user_pages take this region's pages? */
	struct finalloc_region_create rc;
	char *p;    /* G D D G */
	char *data; /* p + 2 MiB */
};

FIXTURE_VARIANT(dma)
{
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(dma, pinnable){
	.flags = FINALLOC_REGION_PINNABLE,
};

FIXTURE_VARIANT_ADD(dma, default){
	.flags = 0,
};

FIXTURE_SETUP(dma)
{
	struct finalloc_info info;

	self->fd = fa_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, fa_info(self->fd, &info));
	ASSERT_TRUE(!!(info.caps & FINALLOC_CAP_PINNABLE));
	/* 6.1 maps every region with refcounted PTEs; 6.12 pinnable ones only */
	self->gup = variant->flags || !(info.caps & FINALLOC_CAP_PMD_MAP);
	ASSERT_EQ(0, fa_create_flags(self->fd, DATA + 2 * SZ_2M, 0, 21, 1, 1, 0, variant->flags,
	                             &self->rc));
	self->p = fa_map(self->fd, &self->rc);
	ASSERT_NE(MAP_FAILED, self->p);
	self->data = self->p + SZ_2M;
	for (uint64_t i = 0; i < DATA; i += 8)
		*(uint64_t *)(self->data + i) = i * 0x9E3779B97F4A7C15ULL;
}

FIXTURE_TEARDOWN(dma)
{
	munmap(self->p, self->rc.size);
	close(self->fd);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 5000));
	EXPECT_EQ(0, fa_stat("held_bytes"));
}

TEST_F(dma, region_info_says_pinnable)
{
	struct finalloc_region_info ri;

	ASSERT_EQ(0, fa_region_info(self->fd, self->rc.id, &ri));
	EXPECT_EQ(self->gup, !!(ri.flags & FINALLOC_REGION_INFO_PINNABLE));
	/* pinnable: 4 KiB PTEs, all present since mmap; never a PMD */
	if (variant->flags)
		EXPECT_EQ(0U, ri.flags & FINALLOC_REGION_INFO_PMD);
	if (!self->gup)
		EXPECT_TRUE(!!(ri.flags & FINALLOC_REGION_INFO_PMD));
}

/*
 * 1 MiB from the middle of the region (across its two 2 MiB pages) to the
 * disk with O_DIRECT, then read back into the other end of the region.
 */
TEST_F(dma, o_direct_write_read)
{
	char *src = self->data + SZ_2M - 512 * KB, *dst = self->data;
	int disk = open(DISK, O_RDWR | O_DIRECT | O_CLOEXEC);
	char *ref = malloc(MB);
	ssize_t n;

	ASSERT_LE(0, disk) TH_LOG(DISK ": %s (the rig loads brd.ko)", strerror(errno));
	ASSERT_NE(NULL, ref);
	memcpy(ref, src, MB);
	n = pwrite(disk, src, MB, 0);
	if (!self->gup) {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EFAULT, errno);
		close(disk);
		free(ref);
		return;
	}
	ASSERT_EQ((ssize_t)MB, n) TH_LOG("pwrite: %s", strerror(errno));
	memset(dst, 0, MB);
	ASSERT_EQ((ssize_t)MB, pread(disk, dst, MB, 0)) TH_LOG("pread: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(ref, dst, MB));
	/* the page-cache-free path really went to the disk: read it buffered */
	close(disk);
	disk = open(DISK, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, disk);
	memset(ref + 4096, 0, 4096);
	ASSERT_EQ(4096, pread(disk, ref + 4096, 4096, 4096));
	EXPECT_EQ(0, memcmp(ref + 4096, src + 4096, 4096));
	close(disk);
	free(ref);
}

/*
 * The region's two halves as fixed buffers: WRITE_FIXED one to the disk,
 * READ_FIXED it back into the other.  Registration pins the pages for as
 * long as they stay registered: past munmap and destroy they are counted
 * as held, and come back at unregister.
 */
TEST_F(dma, io_uring_fixed_buffers)
{
	struct iovec iov[2] = { { self->data, SZ_2M }, { self->data + SZ_2M, SZ_2M } };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int disk, ret;

	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	ret = io_uring_register_buffers(&ring, iov, 2);
	if (!self->gup) {
		EXPECT_EQ(-EFAULT, ret);
		io_uring_queue_exit(&ring);
		return;
	}
	if (ret == -EOPNOTSUPP && !fa_kernel_at_least(6, 5)) {
		io_uring_queue_exit(&ring);
		SKIP(return, "io_uring before 6.5 registers no file mapping but shmem/hugetlbfs");
	}
	ASSERT_EQ(0, ret) TH_LOG("register: %s", strerror(-ret));
	disk = open(DISK, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, disk);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write_fixed(sqe, disk, self->data, SZ_2M, 0, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ((int)SZ_2M, cqe->res) TH_LOG("WRITE_FIXED: %s", strerror(-cqe->res));
	io_uring_cqe_seen(&ring, cqe);

	memset(self->data + SZ_2M, 0, SZ_2M);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, disk, self->data + SZ_2M, SZ_2M, 0, 1);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ((int)SZ_2M, cqe->res) TH_LOG("READ_FIXED: %s", strerror(-cqe->res));
	io_uring_cqe_seen(&ring, cqe);
	EXPECT_EQ(0, memcmp(self->data, self->data + SZ_2M, SZ_2M));
	close(disk);

	/* the registration outlives the region: its 4 MiB stay counted */
	ASSERT_EQ(0, munmap(self->p, self->rc.size));
	self->p = MAP_FAILED;
	ASSERT_EQ(0, fa_destroy(self->fd, self->rc.id));
	EXPECT_EQ(0, fa_stat("regions"));
	EXPECT_EQ((long long)DATA, fa_stat("held_bytes"));
	EXPECT_EQ((long long)DATA, fa_stat("pinned_bytes"));
	EXPECT_EQ((long long)DATA, fa_node_stat(0, "pinned_bytes"));
	EXPECT_EQ(0, io_uring_unregister_buffers(&ring));
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, fa_wait_stat("held_bytes", 0, 5000));
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 5000));
	EXPECT_EQ(0, fa_node_stat(0, "pinned_bytes"));
}

/* Across the boundary of the two 2 MiB pages. */
TEST_F(dma, process_vm_readv_writev)
{
	char *at = self->data + SZ_2M - 2048, buf[4096];
	struct iovec local = { buf, sizeof(buf) }, remote = { at, sizeof(buf) };
	ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	if (!self->gup) {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EFAULT, errno);
		return;
	}
	ASSERT_EQ((ssize_t)sizeof(buf), n) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, at, sizeof(buf)));
	memset(buf, 'v', sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ('v', at[0]);
	EXPECT_EQ('v', at[sizeof(buf) - 1]);
	/* the guard before the data: nothing to pin */
	remote.iov_base = self->p;
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
}

/* A tracer peeks and pokes, as gdb does (GUP or vm_ops->access). */
TEST_F(dma, ptrace_peekdata)
{
	uintptr_t addr, base;
	int status;
	long word;
	pid_t pid;

	pid = fa_traced_child(self->fd, &self->rc, &addr);
	ASSERT_LT(0, pid);
	base = addr;
	addr += SZ_2M + SZ_2M - 4; /* a word across the 2 MiB pages */
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, (void *)addr, NULL);
	EXPECT_EQ(0, errno) TH_LOG("PEEKDATA: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(&word, self->data + SZ_2M - 4, sizeof(word)));
	word = 0x1122334455667788L;
	EXPECT_EQ(0, ptrace(PTRACE_POKEDATA, pid, (void *)addr, (void *)word));
	EXPECT_EQ(0, memcmp(&word, self->data + SZ_2M - 4, sizeof(word)));
	errno = 0;
	ptrace(PTRACE_PEEKDATA, pid, (void *)(base + 8), NULL);
	EXPECT_EQ(EIO, errno); /* the leading guard */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* vmsplice pins 4 KiB of each of several regions, then they go. */
TEST_F(dma, vmsplice_pins_counted_and_released)
{
	enum { ROUNDS = 3 };
	int pfd[ROUNDS][2];
	char buf[4096];

	for (int i = 0; i < ROUNDS; i++) {
		struct finalloc_region_create rc;
		struct iovec iov;
		ssize_t n;
		char *q;

		ASSERT_EQ(0, fa_create_flags(self->fd, 3 * SZ_2M, 0, 21, 1, 1, 0, variant->flags,
		                             &rc));
		q = fa_map(self->fd, &rc);
		ASSERT_NE(MAP_FAILED, q);
		memset(q + SZ_2M + i * 8192, 'a' + i, 4096);
		ASSERT_EQ(0, pipe(pfd[i]));
		iov.iov_base = q + SZ_2M + i * 8192;
		iov.iov_len = 4096;
		n = vmsplice(pfd[i][1], &iov, 1, 0);
		if (!self->gup) {
			EXPECT_EQ(-1, n);
			EXPECT_EQ(EFAULT, errno);
			munmap(q, rc.size);
			fa_destroy(self->fd, rc.id);
			close(pfd[i][0]);
			close(pfd[i][1]);
			return;
		}
		ASSERT_EQ(4096, n);
		ASSERT_EQ(0, munmap(q, rc.size));
		ASSERT_EQ(0, fa_destroy(self->fd, rc.id));
	}
	/* the fixture's region is still there: 4 MiB, plus 4 KiB a pipe */
	EXPECT_EQ(1, fa_stat("regions"));
	EXPECT_EQ(ROUNDS * 4096, fa_stat("held_bytes"));
	EXPECT_EQ((long long)DATA + ROUNDS * 4096, fa_stat("pinned_bytes"));
	for (int i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(4096, read(pfd[i][0], buf, sizeof(buf)));
		EXPECT_EQ('a' + i, buf[0]);
		EXPECT_EQ('a' + i, buf[4095]);
		close(pfd[i][0]);
		close(pfd[i][1]);
	}
	EXPECT_EQ(0, fa_wait_stat("held_bytes", 0, 5000));
	EXPECT_EQ((long long)DATA, fa_wait_stat("pinned_bytes", DATA, 5000));
}

/*
 * A pinnable region on node 1 is on node 1: the node's MemUsed grows by
 * its size (the other's far less; a round spoiled by noise is tried
 * again, a wrong node fails every one), and move_pages, which GUP-walks
 * the mapping, names node 1 for every 2 MiB page.
 */
TEST_F(dma, placement_on_node1)
{
	enum { REGION = 32 << 20, N = REGION >> 21 };
	struct finalloc_region_create rc;
	long long a0, a1, grow = 0, other_grow = 0;
	uint64_t mask;
	void *pages[N];
	int status[N];
	char *q;

	if (fa_nodes(self->fd, &mask) < 2 || !(mask & 2))
		SKIP(return, "needs node 1 with memory");
	for (int round = 0; round < 10; round++) {
		drop_caches();
		a0 = node_used(1);
		a1 = node_used(0);
		memset(&rc, 0, sizeof(rc));
		rc.argsz = sizeof(rc);
		rc.flags = variant->flags;
		rc.size = REGION;
		rc.node = 1;
		rc.page_shift = 21;
		ASSERT_EQ(0, ioctl(self->fd, FINALLOC_IOC_REGION_CREATE, &rc));
		grow = node_used(1) - a0;
		other_grow = node_used(0) - a1;
		TH_LOG("round %d: node1 MemUsed %+lld KiB, node0 %+lld KiB", round, grow / 1024,
		       other_grow / 1024);
		q = fa_map(self->fd, &rc);
		ASSERT_NE(MAP_FAILED, q);
		for (int i = 0; i < N; i++) {
			pages[i] = q + ((size_t)i << 21) + 4096 * i;
			status[i] = -1;
		}
		ASSERT_EQ(0, move_pages(0, N, pages, NULL, status, 0));
		for (int i = 0; i < N; i++) {
			if (self->gup) {
				EXPECT_EQ(1, status[i]) TH_LOG("2 MiB page %d", i);
			} else {
				EXPECT_GT(0, status[i]) TH_LOG("2 MiB page %d", i);
			}
		}
		munmap(q, REGION);
		ASSERT_EQ(0, fa_destroy(self->fd, rc.id));
		if (grow >= REGION && other_grow < REGION / 4)
			break;
	}
	EXPECT_LE(REGION, grow);
	EXPECT_GT(REGION / 4, other_grow);
}

TEST_HARNESS_MAIN
