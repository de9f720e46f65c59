// SPDX-License-Identifier: MIT
/*
 * io_uring fixed buffers from the page backends: a set registered with a
 * ring carries WRITE_FIXED and READ_FIXED round trips through a temporary
 * file, on the fallback backends (and the device, in the VM), and bad input
 * is refused.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "kernel_version.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

FIXTURE(uring)
{
	struct io_uring ring;
	int fd;
	char path[64];
};

FIXTURE_VARIANT(uring)
{
	int backend;
	int direct; /* O_DIRECT: the file system's DMA path */
};

FIXTURE_VARIANT_ADD(uring, auto){
	.backend = FA_BACKEND_AUTO,
};

FIXTURE_VARIANT_ADD(uring, small){
	.backend = FA_BACKEND_SMALL,
};

FIXTURE_VARIANT_ADD(uring, thp_direct){
	.backend = FA_BACKEND_THP,
	.direct = 1,
};

FIXTURE_SETUP(uring)
{
	int ret = io_uring_queue_init(8, &self->ring, 0);

	self->fd = -1;
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring not available here (%s)", strerror(-ret));
	ASSERT_EQ(0, ret);
	/* /var/tmp: a disk file system where there is one (O_DIRECT) */
	strcpy(self->path, "/var/tmp/fa-uring-XXXXXX");
	self->fd = mkstemp(self->path);
	if (self->fd < 0) {
		strcpy(self->path, "/tmp/fa-uring-XXXXXX");
		self->fd = mkstemp(self->path);
	}
	ASSERT_LE(0, self->fd);
	unlink(self->path);
}

FIXTURE_TEARDOWN(uring)
{
	if (self->fd >= 0) {
		close(self->fd);
		io_uring_queue_exit(&self->ring);
	}
}

static int run_one(struct io_uring *ring, bool write, int fd, void *buf, unsigned len, off_t off,
                   int index)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, index);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, index);
	if (io_uring_submit(ring) != 1 || io_uring_wait_cqe(ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

TEST_F(uring, write_fixed_read_fixed_round_trip)
{
	struct fa_uring_buffers_opts o = { .count = 4, .size = 256 << 10 };
	struct fa_uring_buffers *b;
	size_t size = 0;
	char *w, *r;
	int fd = self->fd;

	o.mem.backend = variant->backend;
	b = fa_uring_buffers_create(&self->ring, &o);
	if (!b && errno == ENODEV)
		SKIP(return, "%s absent", fa_backend_name(variant->backend));
	ASSERT_NE(NULL, b) TH_LOG("%s", strerror(errno));
	w = fa_uring_buffer(b, 1, &size);
	r = fa_uring_buffer(b, 3, NULL);
	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, r);
	EXPECT_EQ((size_t)256 << 10, size);
	EXPECT_EQ(1, fa_uring_buffer_index(b, w));
	EXPECT_EQ(1, fa_uring_buffer_index(b, w + size - 1));
	EXPECT_EQ(3, fa_uring_buffer_index(b, r));
	EXPECT_EQ(-EINVAL, fa_uring_buffer_index(b, r + size));
	EXPECT_EQ(NULL, fa_uring_buffer(b, 4, NULL));
	EXPECT_EQ(EINVAL, errno);
	/* fresh memory is zero */
	for (size_t i = 0; i < size; i += 4096)
		EXPECT_EQ(0, w[i]);

	if (variant->direct) {
		int dfd;
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", self->fd);
		dfd = open(proc, O_RDWR | O_DIRECT);
		if (dfd >= 0)
			fd = dfd; /* else the file system has no O_DIRECT (tmpfs) */
	}
	for (size_t i = 0; i < size; i++)
		w[i] = (char)(i * 31 + 7);
	ASSERT_EQ((int)size, run_one(&self->ring, true, fd, w, size, 0, 1));
	/* and a second write from the middle of buffer 1 past its page */
	ASSERT_EQ(8192, run_one(&self->ring, true, fd, w + 4096, 8192, size, 1));
	memset(r, 0, size);
	ASSERT_EQ((int)size, run_one(&self->ring, false, fd, r, size, 0, 3));
	EXPECT_EQ(0, memcmp(w, r, size));
	ASSERT_EQ(8192, run_one(&self->ring, false, fd, r, 8192, size, 3));
	EXPECT_EQ(0, memcmp(w + 4096, r, 8192));
	/* a fixed read into the wrong buffer's range is refused */
	EXPECT_EQ(-EFAULT, run_one(&self->ring, false, fd, r, 4096, 0, 1));
	if (fd != self->fd)
		close(fd);
	EXPECT_EQ(0, fa_uring_buffers_destroy(b));
}

TEST_F(uring, one_table_per_ring)
{
	struct fa_uring_buffers *a, *b;

	a = fa_uring_buffers_create(&self->ring, NULL);
	ASSERT_NE(NULL, a) TH_LOG("%s", strerror(errno));
	b = fa_uring_buffers_create(&self->ring, NULL);
	EXPECT_EQ(NULL, b);
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, fa_uring_buffers_destroy(a));
	/* unregistered: the ring takes a new set */
	b = fa_uring_buffers_create(&self->ring, NULL);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(0, fa_uring_buffers_destroy(b));
}

TEST_F(uring, bad_input)
{
	struct fa_uring_buffers_opts o;

	errno = 0;
	EXPECT_EQ(NULL, fa_uring_buffers_create(NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.flags = 1;
	EXPECT_EQ(NULL, fa_uring_buffers_create(&self->ring, &o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.reserved[3] = 1;
	EXPECT_EQ(NULL, fa_uring_buffers_create(&self->ring, &o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.count = 16385;
	EXPECT_EQ(NULL, fa_uring_buffers_create(&self->ring, &o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.size = ((size_t)1 << 30) + 1;
	EXPECT_EQ(NULL, fa_uring_buffers_create(&self->ring, &o));
	EXPECT_EQ(EINVAL, errno);
	memset(&o, 0, sizeof(o));
	o.mem.reserved[0] = 1;
	EXPECT_EQ(NULL, fa_uring_buffers_create(&self->ring, &o));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, fa_uring_buffer(NULL, 0, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, fa_uring_buffer_index(NULL, &o));
	EXPECT_EQ(0, fa_uring_buffers_destroy(NULL));
	/* nothing was left registered by the failures */
	struct fa_uring_buffers *b = fa_uring_buffers_create(&self->ring, NULL);

	ASSERT_NE(NULL, b);
	EXPECT_EQ(0, fa_uring_buffers_destroy(b));
}

/*
 * With /dev/finalloc (the VM) AUTO takes a pinnable device region; Linux
 * before 6.5 refuses to register it, and the set comes from the fallback.
 */
TEST_F(uring, auto_takes_the_device_where_io_uring_can)
{
	struct fa_backend_stats st0, st1;
	struct fa_uring_buffers *b;
	char *p;

	if (access("/dev/finalloc", R_OK | W_OK))
		SKIP(return, "/dev/finalloc absent (runs in the VM)");
	ASSERT_EQ(0, fa_backend_stats(&st0));
	b = fa_uring_buffers_create(&self->ring, NULL);
	ASSERT_NE(NULL, b) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, fa_backend_stats(&st1));
	p = fa_uring_buffer(b, 7, NULL);
	memset(p, 'd', 4096);
	ASSERT_EQ(4096, run_one(&self->ring, true, self->fd, p, 4096, 0, 7));
	if (fa_kernel_at_least(6, 5)) {
		EXPECT_EQ(st0.bytes_mapped[FA_BACKEND_DEVICE] + (8u << 20),
		          st1.bytes_mapped[FA_BACKEND_DEVICE]);
	} else {
		EXPECT_EQ(st0.bytes_mapped[FA_BACKEND_DEVICE], st1.bytes_mapped[FA_BACKEND_DEVICE]);
		EXPECT_EQ(st0.unmaps + 1, st1.unmaps); /* the refused region */
	}
	EXPECT_EQ(0, fa_uring_buffers_destroy(b));
}

TEST_HARNESS_MAIN
