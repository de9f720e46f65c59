/* SPDX-License-Identifier: MIT */
/*
 * The owner map: which 64 KiB granules of the address space hold memory
 * of the pool and NUMA allocators, and how their frees go.  Read by the
 * inline free (finalloc/pool.h) and the library's frees, so that no free
 * reads memory the library does not own (tcmalloc's pagemap is the model).
 * Part of finalloc.h: never include this file directly.
 *
 * ABI of libfinalloc.so.1 like the rest of the inline paths: a two-level
 * radix over 48-bit addresses.  fa__pagemap.root[a >> 32] is the byte
 * offset from fa__pagemap.zero (a leaf that stays zero: no NULL test on
 * the fast path) to the leaf of 2^16 entries for a's 4 GiB; entry
 * [(a >> 16) & 0xffff]:
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

/* One object, so the inline path loads one address from the GOT. */
struct fa__pagemap {
	uintptr_t root[1u << FA__PAGEMAP_ROOT_BITS];
	uint64_t zero[1u << FA__PAGEMAP_LEAF_BITS];
};
extern struct fa__pagemap fa__pagemap;

#define FA__PAGEMAP_IDX(x) ((uintptr_t)(x) >> (FA__PAGEMAP_SHIFT + FA__PAGEMAP_LEAF_BITS))

/* Address of the entry for x, whose root index i is below 2^16: the zero
 * leaf's for anything not ours. */
static inline const uint64_t *fa__pagemap_slot(uintptr_t x, uintptr_t i)
{
	return (const uint64_t *)((uintptr_t)fa__pagemap.zero +
	                          __atomic_load_n(&fa__pagemap.root[i], __ATOMIC_ACQUIRE)) +
	       ((x >> FA__PAGEMAP_SHIFT) & ((1u << FA__PAGEMAP_LEAF_BITS) - 1));
}

/* The entry for address a; 0 for anything not ours (above 2^48 too). */
static inline uint64_t fa__pagemap_get(const void *a)
{
	uintptr_t i = FA__PAGEMAP_IDX(a);

	if (__builtin_expect(i >= (1u << FA__PAGEMAP_ROOT_BITS), 0))
		return 0;
	return __atomic_load_n(fa__pagemap_slot((uintptr_t)a, i), __ATOMIC_RELAXED);
}

/* Only the inline free's bin offset, the entry's high half: one load. */
static inline int32_t fa__pagemap_binoff(const void *a)
{
	uintptr_t i = FA__PAGEMAP_IDX(a);

	if (__builtin_expect(i >= (1u << FA__PAGEMAP_ROOT_BITS), 0))
		return 0;
	return __atomic_load_n((const int32_t *)fa__pagemap_slot((uintptr_t)a, i) + 1,
	                       __ATOMIC_RELAXED);
}

#endif /* FINALLOC_PAGEMAP_H */
