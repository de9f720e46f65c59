// SPDX-License-Identifier: MIT
/*
 * Pins outliving their region (refcounted PTEs: every region on 6.1, a
 * FINALLOC_REGION_PINNABLE one on 6.12): a pipe holding one vmspliced
 * 4 KiB page of a destroyed 2 MiB region keeps that 4 KiB, not the whole
 * 2 MiB page, and what it keeps stays counted (pinned_bytes, held_bytes)
 * until the pipe lets go.  A default 6.12 region (VM_PFNMAP) cannot be
 * pinned at all: kmod_dma checks vmsplice fails on it with EFAULT.
 */
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

#define ROUNDS 4

TEST(pipe_pin_keeps_only_its_page_counted)
{
	int pfd[ROUNDS][2], fd = fa_open();
	char buf[4096];

	ASSERT_LE(0, fd);
	for (int i = 0; i < ROUNDS; i++) {
		struct finalloc_region_create rc;
		struct iovec iov;
		char *p;
		ssize_t n;

		ASSERT_EQ(0, fa_create_flags(fd, SZ_2M, 0, 21, 0, 0, 0, FINALLOC_REGION_PINNABLE,
		                             &rc));
		p = fa_map(fd, &rc);
		ASSERT_NE(MAP_FAILED, p);
		memset(p + i * 8192, 'a' + i, 4096);
		ASSERT_EQ(0, pipe(pfd[i]));
		iov.iov_base = p + i * 8192;
		iov.iov_len = 4096;
		n = vmsplice(pfd[i][1], &iov, 1, 0);
		ASSERT_EQ(4096, n) TH_LOG("vmsplice: %s", strerror(errno));
		ASSERT_EQ(0, munmap(p, SZ_2M));
		ASSERT_EQ(0, fa_destroy(fd, rc.id));
	}
	EXPECT_EQ(0, fa_stat("regions"));
	/* each pipe keeps 4 KiB, counted; the rest of each 2 MiB went back */
	EXPECT_EQ(ROUNDS * 4096, fa_stat("held_bytes"));
	EXPECT_EQ(ROUNDS * 4096, fa_stat("pinned_bytes"));
	EXPECT_EQ(ROUNDS * 4096, fa_node_stat(0, "pinned_bytes"));
	EXPECT_EQ(0, fa_node_stat(0, "pages_2m"));
	for (int i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(4096, read(pfd[i][0], buf, sizeof(buf)));
		EXPECT_EQ('a' + i, buf[0]);
		EXPECT_EQ('a' + i, buf[4095]);
		close(pfd[i][0]);
		close(pfd[i][1]);
	}
	EXPECT_EQ(0, fa_wait_stat("held_bytes", 0, 5000));
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 5000));
	EXPECT_EQ(0, fa_node_stat(0, "pinned_bytes"));
	close(fd);
}

/* A pin still held when the file closes is counted the same way. */
TEST(pin_past_close_is_counted)
{
	struct finalloc_region_create rc;
	int pfd[2], fd = fa_open();
	struct iovec iov;
	char *p;
	ssize_t n;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fa_create_flags(fd, 4 * 4096, 0, 12, 1, 1, 0, FINALLOC_REGION_PINNABLE, &rc));
	p = fa_map(fd, &rc);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = p + 4096;
	iov.iov_len = 8192;
	n = vmsplice(pfd[1], &iov, 1, 0);
	ASSERT_EQ(8192, n) TH_LOG("vmsplice: %s", strerror(errno));
	munmap(p, 4 * 4096);
	close(fd);
	EXPECT_EQ(8192, fa_stat("held_bytes"));
	EXPECT_EQ(8192, fa_stat("pinned_bytes"));
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_EQ(0, fa_wait_stat("pinned_bytes", 0, 5000));
	EXPECT_EQ(0, fa_stat("held_bytes"));
}

TEST_HARNESS_MAIN
