// SPDX-License-Identifier: MIT
/*
 * io_uring fixed buffers: one pinnable mapping from the page backends,
 * cut into equal buffers and registered with a liburing ring.  The kernel
 * pins every page at registration and releases them at unregistration, so
 * the mapping must outlive the registration: destroy unregisters first.
 */
#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "finalloc.h"

#define DEF_COUNT 8u
#define MAX_COUNT 16384u /* io_uring's IORING_MAX_REG_BUFFERS */
#define DEF_SIZE  ((size_t)1 << 20)
#define MAX_SIZE  ((size_t)1 << 30) /* io_uring's largest fixed buffer */

struct fa_uring_buffers {
	struct io_uring *ring;
	char *base;
	size_t map_size; /* as passed to fa_mem_map */
	size_t size;     /* each buffer */
	unsigned count;
};

static int opts_check(const struct fa_uring_buffers_opts *o)
{
	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return -EINVAL;
	if (o->flags || o->count > MAX_COUNT || o->size > MAX_SIZE)
		return -EINVAL;
	return 0;
}

/* Map with mo and register; 0 or -errno, nothing left behind on error. */
static int map_register(struct fa_uring_buffers *b, const struct fa_mem_opts *mo)
{
	struct iovec *iov;
	int ret;

	b->base = fa_mem_map(b->map_size, mo, NULL);
	if (!b->base)
		return -errno;
	iov = calloc(b->count, sizeof(*iov));
	if (!iov) {
		fa_mem_unmap(b->base, b->map_size);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < b->count; i++) {
		iov[i].iov_base = b->base + (size_t)i * b->size;
		iov[i].iov_len = b->size;
	}
	ret = io_uring_register_buffers(b->ring, iov, b->count);
	free(iov);
	if (ret) {
		fa_mem_unmap(b->base, b->map_size);
		b->base = NULL;
	}
	return ret;
}

struct fa_uring_buffers *fa_uring_buffers_create(struct io_uring *ring,
                                                 const struct fa_uring_buffers_opts *opts)
{
	static const struct fa_uring_buffers_opts defaults;
	const struct fa_uring_buffers_opts *o = opts ? opts : &defaults;
	struct fa_uring_buffers *b;
	struct fa_mem_opts mo;
	int ret;

	if (!ring || (ret = opts_check(o))) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->ring = ring;
	b->count = o->count ? o->count : DEF_COUNT;
	b->size = o->size ? (o->size + 4095) & ~(size_t)4095 : DEF_SIZE;
	b->map_size = (size_t)b->count * b->size;
	mo = o->mem;
	mo.flags |= FA_MEM_PINNABLE;
	ret = map_register(b, &mo);
	/*
	 * Linux before 6.5 registers no file mapping but shmem and hugetlbfs,
	 * so device memory is refused there: under AUTO the fallback backends
	 * serve instead, in AUTO's order.
	 */
	if (ret == -EOPNOTSUPP && mo.backend == FA_BACKEND_AUTO) {
		static const int next[] = { FA_BACKEND_HUGETLB, FA_BACKEND_THP, FA_BACKEND_SMALL };

		for (size_t i = 0; i < sizeof(next) / sizeof(next[0]) && ret; i++) {
			mo.backend = next[i];
			ret = map_register(b, &mo);
			if (ret && ret != -ENODEV && ret != -EINVAL && ret != -ENOMEM)
				break;
		}
	}
	if (ret) {
		free(b);
		errno = -ret;
		return NULL;
	}
	return b;
}

void *fa_uring_buffer(const struct fa_uring_buffers *b, unsigned index, size_t *size)
{
	if (!b || index >= b->count) {
		errno = EINVAL;
		return NULL;
	}
	if (size)
		*size = b->size;
	return b->base + (size_t)index * b->size;
}

int fa_uring_buffer_index(const struct fa_uring_buffers *b, const void *p)
{
	uintptr_t at = (uintptr_t)p, base;

	if (!b)
		return -EINVAL;
	base = (uintptr_t)b->base;
	if (at < base || at - base >= b->map_size)
		return -EINVAL;
	return (int)((at - base) / b->size);
}

int fa_uring_buffers_destroy(struct fa_uring_buffers *b)
{
	int ret;

	if (!b)
		return 0;
	ret = io_uring_unregister_buffers(b->ring);
	fa_mem_unmap(b->base, b->map_size);
	free(b);
	return ret;
}
