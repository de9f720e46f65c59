// SPDX-License-Identifier: MIT
/*
 * Fallback backend: anonymous mmap backed by hugetlb (2 MiB / 1 GiB when
 * reserved), THP or 4 KiB pages, placed with mbind, guarded with
 * MADV_GUARD_INSTALL (no VMA split) or mprotect where the kernel lacks it.
 */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <numa.h>
#include <numaif.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

uint64_t fa__hugetlb_reserved(size_t page_size)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%zukB/nr_hugepages",
	         page_size >> 10);
	uint64_t v = 0;

	fa__read_u64(path, &v);
	return v;
}

bool fa__thp_enabled(void)
{
	static _Atomic int on = -1;

	if (atomic_load_explicit(&on, memory_order_relaxed) < 0) {
		char buf[128];
		int n = fa__read_text("/sys/kernel/mm/transparent_hugepage/enabled", buf,
		                      sizeof(buf));

		atomic_store_explicit(&on, n > 0 && !strstr(buf, "[never]"), memory_order_relaxed);
	}
	return atomic_load_explicit(&on, memory_order_relaxed);
}

/* Guard [p, p + len) of an anonymous private mapping. */
static unsigned install_guard(void *p, size_t len)
{
	if (madvise(p, len, MADV_GUARD_INSTALL) == 0)
		return FA_GUARD_MADVISE;
	if (mprotect(p, len, PROT_NONE) == 0)
		return FA_GUARD_MPROTECT;
	return FA_GUARD_NONE;
}

static int bind_node(void *p, size_t len, int node)
{
	unsigned long mask[16] = { 0 };

	if (numa_available() < 0)
		return node == 0 ? 0 : -EINVAL;
	if (node < 0 || (size_t)node >= sizeof(mask) * 8)
		return -EINVAL;
	mask[node / 64] = 1UL << (node % 64);
	if (mbind(p, len, MPOL_BIND, mask, sizeof(mask) * 8, MPOL_MF_STRICT))
		return -errno;
	return 0;
}

static int populate(void *p, size_t len, size_t ps)
{
	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return -ENOMEM;
	/* pre-5.14 kernel: touch (hugetlb faults may SIGBUS, kernels that old
	 * are not supported for hugetlb prefault) */
	for (size_t off = 0; off < len; off += ps)
		((volatile char *)p)[off] = 0;
	return 0;
}

/*
 * Put a hugetlb mapping at data, in the middle of our PROT_NONE reservation
 * (whose rest, guard bytes each side, stays as the guard).  Never MAP_FIXED
 * over the reservation: a hugetlb mmap that fails (no free huge page) has
 * already unmapped the range, and another thread's mmap may take the hole
 * before we could munmap it, so that munmap would unmap a live neighbour.
 * The middle is given back first and mapped with MAP_FIXED_NOREPLACE; on
 * failure only the guards, still ours, are unmapped.  -EEXIST: the middle
 * was taken meanwhile (the caller reserves afresh).
 */
static int place_hugetlb(char *data, size_t usable, size_t guard, size_t ps)
{
	int shift = __builtin_ctzl(ps);
	void *h;

	munmap(data, usable);
	h = mmap(data, usable, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_HUGETLB |
	                 (shift << MAP_HUGE_SHIFT),
	         -1, 0);
	if (h != MAP_FAILED && h != data)
		munmap(h, usable); /* a kernel before 4.17 took it as a hint */
	if (h == data)
		return 0;
	if (guard) {
		munmap(data - guard, guard);
		munmap(data + usable, guard);
	}
	/* EEXIST: another thread's mmap took the middle; try afresh */
	return h == MAP_FAILED && errno == EEXIST ? -EEXIST : -ENOMEM;
}

int fa__mmap_map(struct fa__map *m, size_t size, int backend, size_t ps,
                 const struct fa_mem_opts *o)
{
	size_t usable, guard, slack, total;
	char *res, *data;
	int err, tries = 0;

	if (size > SIZE_MAX / 2 - ps)
		return -ENOMEM;
	usable = round_up(size, ps);
	guard = round_up(o->guard_size, FA_PAGE_4K);
	slack = backend == FA_BACKEND_SMALL ? 0 : ps;
	total = usable + 2 * guard + slack;
again:
	res = mmap(NULL, total, backend == FA_BACKEND_HUGETLB ? PROT_NONE : PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS |
	                   (backend == FA_BACKEND_HUGETLB ? MAP_NORESERVE : 0),
	           -1, 0);
	if (res == MAP_FAILED)
		return -ENOMEM;
	data = (char *)round_up((uintptr_t)res + guard, slack ? slack : FA_PAGE_4K);
	/* give back the alignment slack on both sides */
	if (data - guard > res)
		munmap(res, (size_t)(data - guard - res));
	if (data + usable + guard < res + total)
		munmap(data + usable + guard, (size_t)(res + total - (data + usable + guard)));
	m->map_base = data - guard;
	m->map_size = usable + 2 * guard;

	if (backend == FA_BACKEND_HUGETLB) {
		err = place_hugetlb(data, usable, guard, ps);
		if (err) {
			m->map_base = NULL;
			if (err == -EEXIST && ++tries < 4)
				goto again;
			return -ENOMEM;
		}
		/* the PROT_NONE reservation around it is the guard */
		m->guard_kind = guard ? FA_GUARD_MPROTECT : FA_GUARD_NONE;
	} else {
		/* private anonymous memory: charge it only when touched */
		if (backend == FA_BACKEND_THP)
			madvise(data, usable, MADV_HUGEPAGE);
		m->guard_kind = FA_GUARD_NONE;
		if (guard) {
			unsigned k1 = install_guard(data - guard, guard);
			unsigned k2 = install_guard(data + usable, guard);

			if (k1 == FA_GUARD_NONE || k2 == FA_GUARD_NONE) {
				err = -ENOMEM;
				goto unmap;
			}
			m->guard_kind = k1 > k2 ? k1 : k2;
		}
	}

	m->node = FA_NODE_ANY;
	if (o->flags & FA_MEM_ON_NODE) {
		err = bind_node(data, usable, o->node);
		if (err)
			goto unmap;
		m->node = o->node;
	}
	/* hugetlb is always populated: a node without free huge pages must
	 * fail here, not SIGBUS at the first touch */
	if ((o->flags & FA_MEM_PREFAULT) || backend == FA_BACKEND_HUGETLB) {
		err = populate(data, usable, ps);
		if (err)
			goto unmap;
		m->flags |= FA__MAP_PREFAULTED;
		if (numa_available() >= 0) {
			int node = -1;

			if (get_mempolicy(&node, NULL, 0, data, MPOL_F_NODE | MPOL_F_ADDR) == 0)
				m->node = node;
		}
	}
	if ((o->flags & FA_MEM_PREFAULT) && mlock(data, usable) == 0)
		m->flags |= FA__MAP_LOCKED;

	m->base = data;
	m->size = usable;
	m->guard_size = guard;
	m->page_size = ps;
	m->backend = backend;
	return 0;
unmap:
	munmap(m->map_base, m->map_size);
	m->map_base = NULL;
	return err;
}

void fa__mmap_unmap(struct fa__map *m)
{
	munmap(m->map_base, m->map_size);
}
