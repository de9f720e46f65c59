// SPDX-License-Identifier: MIT
/*
 * Device backend: regions of node-pinned pages from /dev/finalloc, with the
 * guard pages laid out by the kernel (no VMA per guard, no memory behind it).
 */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "uapi/linux/finalloc.h"

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int dev_state; /* 0: try (again), 1: open, -1: not usable */
static int dev_fd = -1;
static int dev_err = -ENODEV; /* why dev_fd is -1: -ENODEV when absent */
static struct finalloc_info dev_info;

/* Under dev_lock.  A missing or refused device is final; a shortage of
 * descriptors or memory is not, so the next mapping tries again. */
static void dev_open(void)
{
	const char *path = getenv("FINALLOC_DEVICE");
	int fd;

	fd = open(path && *path ? path : FINALLOC_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		dev_err = (e == ENOENT || e == ENXIO || e == ENODEV) ? -ENODEV : -e;
		if (e != EMFILE && e != ENFILE && e != ENOMEM && e != EINTR && e != EAGAIN)
			atomic_store(&dev_state, -1);
		return;
	}
	memset(&dev_info, 0, sizeof(dev_info));
	dev_info.argsz = sizeof(dev_info);
	if (ioctl(fd, FINALLOC_IOC_INFO, &dev_info) || dev_info.abi_version < 1) {
		close(fd);
		dev_err = -ENODEV;
		atomic_store(&dev_state, -1);
		return;
	}
	dev_fd = fd;
	dev_err = 0;
	atomic_store(&dev_state, 1);
}

static int dev_ready(void)
{
	int st = atomic_load(&dev_state);

	if (st)
		return st;
	pthread_mutex_lock(&dev_lock);
	if (!atomic_load(&dev_state))
		dev_open();
	st = atomic_load(&dev_state);
	pthread_mutex_unlock(&dev_lock);
	return st;
}

/*
 * fork: the child gets a file of its own.  Regions belong to the open file
 * description, which fork shares: with the parent's file a child's regions
 * would be the parent's to keep until it closes the file (a pre-forking
 * server leaks with every child), and the child could not destroy what the
 * library had mapped for the parent (the kernel says EPERM).  The child's
 * mappings of the parent's regions are gone anyway (VM_DONTCOPY), so it
 * drops the inherited descriptor and opens the device again on first use.
 */
void fa__dev_prefork(void)
{
	pthread_mutex_lock(&dev_lock);
}

void fa__dev_postfork_parent(void)
{
	pthread_mutex_unlock(&dev_lock);
}

void fa__dev_postfork_child(void)
{
	if (atomic_load(&dev_state) > 0) {
		close(dev_fd);
		dev_fd = -1;
		dev_err = -ENODEV;
		atomic_store(&dev_state, 0);
	}
	pthread_mutex_unlock(&dev_lock);
}

int fa__dev_error(void)
{
	if (dev_ready() > 0)
		return 0;
	return dev_err;
}

bool fa__dev_available(void)
{
	return dev_ready() > 0;
}

uint64_t fa__dev_page_sizes(void)
{
	return fa__dev_available() ? dev_info.page_sizes : 0;
}

int fa__dev_map(struct fa__map *m, size_t size, size_t ps, const struct fa_mem_opts *o)
{
	struct finalloc_region_create rc;
	struct finalloc_region_destroy rd;
	size_t npages, gpages;
	int node, err;
	void *p;

	if (!fa__dev_available())
		return -ENODEV;
	if (!ps)
		ps = (dev_info.page_sizes & FA_PAGE_2M) ? FA_PAGE_2M : FA_PAGE_4K;
	if (!(dev_info.page_sizes & ps))
		return -EINVAL;
	if (o->guard_size && !(dev_info.caps & FINALLOC_CAP_GUARDS))
		return -EOPNOTSUPP;
	/* a module from before pinnable regions: 6.1 pins, 6.12 cannot */
	if ((o->flags & FA_MEM_PINNABLE) && !(dev_info.caps & FINALLOC_CAP_PINNABLE))
		return -EOPNOTSUPP;
	if (size > SIZE_MAX / 4)
		return -ENOMEM;
	npages = (size + ps - 1) / ps;
	gpages = (o->guard_size + ps - 1) / ps;
	if (gpages > UINT32_MAX)
		return -EINVAL;
	node = (o->flags & FA_MEM_ON_NODE) ? o->node : fa__current_node();
	if (node < 64 && !(dev_info.node_mask & (1ULL << node)))
		return -ENOMEM; /* memory-less node: nothing to pin there */

	memset(&rc, 0, sizeof(rc));
	rc.argsz = sizeof(rc);
	rc.size = (npages + 2 * gpages) * ps;
	rc.node = node;
	rc.page_shift = __builtin_ctzl(ps);
	rc.guard_lead = rc.guard_trail = (uint32_t)gpages;
	if (o->flags & FA_MEM_PINNABLE)
		rc.flags |= FINALLOC_REGION_PINNABLE;
	if (ioctl(dev_fd, FINALLOC_IOC_REGION_CREATE, &rc))
		return errno == ENOMEM || errno == EDQUOT || errno == EAGAIN ? -ENOMEM : -errno;

	p = mmap(NULL, rc.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev_fd, rc.offset);
	if (p == MAP_FAILED) {
		err = -errno;
		goto destroy;
	}
	m->map_base = p;
	m->map_size = rc.size;
	m->base = (char *)p + gpages * ps;
	m->size = npages * ps;
	m->guard_size = gpages * ps;
	m->guard_kind = gpages ? FA_GUARD_KERNEL : FA_GUARD_NONE;
	m->page_size = ps;
	m->backend = FA_BACKEND_DEVICE;
	m->region_id = rc.id;
	m->node = node;
	/* pages are allocated, zeroed and pinned at creation: nothing to lock */
	m->flags |= FA__MAP_LOCKED;
	if (o->flags & FA_MEM_PREFAULT) {
		/* install the page tables now (6.12 maps lazily by PMD) */
		for (size_t off = 0; off < m->size; off += ps)
			(void)((volatile char *)m->base)[off];
		m->flags |= FA__MAP_PREFAULTED;
	}
	if (dev_info.caps & FINALLOC_CAP_NODE_QUERY) {
		struct finalloc_node_of q;

		memset(&q, 0, sizeof(q));
		q.argsz = sizeof(q);
		q.id = rc.id;
		q.offset = gpages * ps;
		if (ioctl(dev_fd, FINALLOC_IOC_NODE_OF, &q) == 0)
			m->node = q.node;
	}
	return 0;
destroy:
	memset(&rd, 0, sizeof(rd));
	rd.argsz = sizeof(rd);
	rd.id = rc.id;
	ioctl(dev_fd, FINALLOC_IOC_REGION_DESTROY, &rd);
	return err;
}

void fa__dev_unmap(struct fa__map *m)
{
	struct finalloc_region_destroy rd;

	munmap(m->map_base, m->map_size);
	memset(&rd, 0, sizeof(rd));
	rd.argsz = sizeof(rd);
	rd.id = m->region_id;
	ioctl(dev_fd, FINALLOC_IOC_REGION_DESTROY, &rd);
}

int fa__dev_node_of(const struct fa__map *m, size_t off)
{
	struct finalloc_node_of q;

	if (!fa__dev_available() || m->backend != FA_BACKEND_DEVICE || off >= m->size)
		return -EINVAL;
	if (!(dev_info.caps & FINALLOC_CAP_NODE_QUERY))
		return -EOPNOTSUPP;
	memset(&q, 0, sizeof(q));
	q.argsz = sizeof(q);
	q.id = m->region_id;
	q.offset = (uint64_t)((const char *)m->base - (const char *)m->map_base) + off;
	if (ioctl(dev_fd, FINALLOC_IOC_NODE_OF, &q))
		return -errno;
	if (q.flags & FINALLOC_NODE_OF_GUARD)
		return -ENOENT;
	return q.node;
}
