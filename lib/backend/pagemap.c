// SPDX-License-Identifier: MIT
/*
 * The owner map (include/finalloc/pagemap.h): written when an allocator
 * carves a slab or maps a large object, cleared when memory is unmapped,
 * read by every free.  Leaves are 512 KiB of anonymous memory each, made
 * on first use and never freed: untouched parts cost nothing, and a reader
 * racing with an unmap reads a valid (zero) entry, never freed memory.
 */
#include "backend/backend.h"

#include <errno.h>
#include <sys/mman.h>

#define LEAF_N     (1u << FA__PAGEMAP_LEAF_BITS)
#define LEAF_SHIFT (FA__PAGEMAP_SHIFT + FA__PAGEMAP_LEAF_BITS)
#define ADDR_BITS  (LEAF_SHIFT + FA__PAGEMAP_ROOT_BITS)

struct fa__pagemap fa__pagemap;

/* The leaf of address x, made if need be; NULL if there is no memory. */
static uint64_t *leaf_of(uintptr_t off)
{
	return off ? (uint64_t *)((uintptr_t)fa__pagemap.zero + off) : NULL;
}

static uint64_t *leaf_get(uintptr_t x)
{
	uintptr_t *slot = &fa__pagemap.root[x >> LEAF_SHIFT];
	uintptr_t expect = 0, off = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	uint64_t *leaf;

	if (off)
		return leaf_of(off);
	leaf = mmap(NULL, LEAF_N * sizeof(uint64_t), PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (leaf == MAP_FAILED)
		return NULL;
	/* never 0: the leaf is not the zero leaf */
	off = (uintptr_t)leaf - (uintptr_t)fa__pagemap.zero;
	if (!__atomic_compare_exchange_n(slot, &expect, off, false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE)) {
		munmap(leaf, LEAF_N * sizeof(uint64_t));
		return leaf_of(expect); /* another thread's */
	}
	return leaf;
}

uint64_t fa__pagemap_entry(const void *hdr, int32_t binoff)
{
	return (uint64_t)(uint32_t)binoff << 32 | (uint64_t)((uintptr_t)hdr >> FA__PAGEMAP_SHIFT);
}

/* Store entry in every granule wholly inside [base, base + size): a
 * granule shared with a neighbouring mapping is never set, so clearing one
 * mapping cannot wipe another's entries. */
static int range_store(const void *base, size_t size, uint64_t entry, bool make)
{
	const uintptr_t g = (uintptr_t)1 << FA__PAGEMAP_SHIFT;
	uintptr_t x = ((uintptr_t)base + g - 1) & ~(g - 1);
	uintptr_t end = ((uintptr_t)base + size) & ~(g - 1);

	if ((uintptr_t)base + size < (uintptr_t)base ||
	    (uintptr_t)base + size > (uintptr_t)1 << ADDR_BITS)
		return -EINVAL;
	while (x < end) {
		uintptr_t next = (x | (((uintptr_t)1 << LEAF_SHIFT) - 1)) + 1;
		uint64_t *leaf = make ? leaf_get(x)
		                      : leaf_of(__atomic_load_n(&fa__pagemap.root[x >> LEAF_SHIFT],
		                                                __ATOMIC_ACQUIRE));

		if (!leaf && make)
			return -ENOMEM;
		for (; leaf && x < end && x < next; x += g)
			__atomic_store_n(&leaf[(x >> FA__PAGEMAP_SHIFT) & (LEAF_N - 1)], entry,
			                 __ATOMIC_RELEASE);
		x = next;
	}
	return 0;
}

int fa__pagemap_set(const void *base, size_t size, uint64_t entry)
{
	return range_store(base, size, entry, true);
}

void fa__pagemap_clear(const void *base, size_t size)
{
	range_store(base, size, 0, false);
}
