/* SPDX-License-Identifier: MIT */
/*
 * The owner map: which 64 KiB granules of the address space hold memory
 * of the pool and NUMA allocators, and how their frees go.  Read by the
 * inline free (finalloc/pool.h) and the library's frees, so that no free
 * reads memory the library does not own (tcmalloc's pagemap is the model).
 * Part of finalloc.h: never include this file directly.
 *
 * ABI of libfinalloc.so.1 like the rest of the inline paths: a two-level
 * radix over 48-bit addresses; fa__pagemap_root[a >> 32] is NULL or a leaf
 * of 2^16 entries for a's 4 GiB, entry [(a >> 16) & 0xffff]:
 *   0                      not ours;
 *   low 32 bits            the 64 KiB header governing the granule, as
 *                          header address >> 16 (never 0);
 *   high 32 bits (int32_t) the inline free's bin offset, 0: out of line.
 */
#ifndef FINALLOC_PAGEMAP_H
#define FINALLOC_PAGEMAP_H

#ifndef FINALLOC_H
#error "include <finalloc.h>, not <finalloc/pagemap.h>"
#endif

#define FA__PAGEMAP_SHIFT     16
#define FA__PAGEMAP_LEAF_BITS 16
#define FA__PAGEMAP_ROOT_BITS 16 /* 48 - 16 - 16 */

extern uint64_t *fa__pagemap_root[1u << FA__PAGEMAP_ROOT_BITS];

/* The entry for address a; 0 for anything not ours (any address above
 * 2^48 too). */
static inline uint64_t fa__pagemap_get(const void *a)
{
	uintptr_t x = (uintptr_t)a;
	const uint64_t *leaf;

	if (__builtin_expect(
	            x >> (FA__PAGEMAP_SHIFT + FA__PAGEMAP_LEAF_BITS + FA__PAGEMAP_ROOT_BITS), 0))
		return 0;
	leaf = __atomic_load_n(&fa__pagemap_root[x >> (FA__PAGEMAP_SHIFT + FA__PAGEMAP_LEAF_BITS)],
	                       __ATOMIC_ACQUIRE);
	if (__builtin_expect(leaf == NULL, 0))
		return 0;
	return __atomic_load_n(
	        &leaf[(x >> FA__PAGEMAP_SHIFT) & ((1u << FA__PAGEMAP_LEAF_BITS) - 1)],
	        __ATOMIC_RELAXED);
}

#endif /* FINALLOC_PAGEMAP_H */
