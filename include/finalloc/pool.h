/* SPDX-License-Identifier: MIT */
/*
 * Pool fast path: the inline thread-cache pop and push behind fa_pool_alloc(),
 * fa_pool_free() and fa_pool_free_sized().
 * Part of finalloc.h: never include this file directly.
 *
 * ABI: the inline code below is compiled into every program that includes
 * finalloc.h, so the layout it reads is part of the ABI of
 * libfinalloc.so.1, not an implementation detail: the fa__pool_bins TLS
 * array (initial-exec, FA__POOL_TLS_BINS entries of struct fa__pool_bin:
 * sp, end, frees, req); struct fa__pool_head at the start of struct
 * fa_pool (bin_lo, bin_span, binoff[]); the owner map (finalloc/pagemap.h), whose
 * entries give each slab's bin offset; FA__POOL_SLOTS and
 * FA__POOL_SLAB_SIZE; and that the bottom of a bin's stack is NULL.
 * Changing any of it breaks programs built against the old header: it bumps
 * the soname (libfinalloc.so.N+1) and the version node in
 * lib/libfinalloc.map.  See finalloc(7), "Inline fast paths".
 */
#ifndef FINALLOC_POOL_H
#define FINALLOC_POOL_H

#ifndef FINALLOC_H
#error "include <finalloc.h>, not <finalloc/pool.h>"
#endif

#define FA__POOL_SLAB_SIZE 65536u
#define FA__POOL_SLOTS     64
#define FA__POOL_TLS_BINS  256 /* per thread, shared by the pools' classes */

struct fa__pool_bin { /* a thread's cache of one class */
	void **sp;    /* stack of free objects: sp[-1] is the top,
	                 NULL at the bottom (empty) */
	void **end;   /* sp == end: full */
	uint64_t frees;
	uint64_t req; /* bytes requested */
};

/*
 * The calling thread's bins.  Static TLS: a bin is at the same offset from
 * the thread pointer in every thread, so a pool's tables hold those offsets
 * and the inline path reaches its bin with one segment-relative load.  A
 * pool holds a range of them; pools with features, or made when the bins
 * ran out, hold none: their offsets name bin 0, always empty and full.
 */
extern __thread struct fa__pool_bin fa__pool_bins[FA__POOL_TLS_BINS]
        __attribute__((tls_model("initial-exec")));

struct fa__pool_head { /* first member of struct fa_pool */
	/* the bin offsets of its slabs in the owner map, [lo, lo + span):
	 * span 0 (pools with features) sends every free out of line */
	int32_t bin_lo;
	uint32_t bin_span;
	/* the bin's offset from the thread pointer for a size, by
	 * (size + 7) / 8; [0] names bin 0 */
	int32_t binoff[FA_POOL_SMALL_MAX / 8 + 1];
};

#if defined(__SANITIZE_THREAD__)
#define FA__POOL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FA__POOL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FA__POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FA__POOL_ASAN 1
#endif
#endif
/* The thread pointer the bin offsets are taken from. */
static inline char *fa__pool_tp(void)
{
#if defined(__x86_64__)
	char *tp;

	__asm__("mov %%fs:0, %0" : "=r"(tp)); /* the TCB points to itself */
	return tp;
#else
	return (char *)__builtin_thread_pointer();
#endif
}

/* %fs-relative: GNU C (gcc in a gnu dialect, the default) or clang; not
 * under sanitizers, which would check the offset as an address */
#if defined(__x86_64__) && defined(__SEG_FS) && !defined(__cplusplus) &&                \
        (defined(__clang__) || !defined(__STRICT_ANSI__)) && !defined(FA__POOL_ASAN) && \
        !defined(FA__POOL_TSAN)
#define FA__POOL_BIN(off) ((struct fa__pool_bin __seg_fs *)(intptr_t)(off))
#else
#define FA__POOL_BIN(off) ((struct fa__pool_bin *)(fa__pool_tp() + (off)))
#endif

void *fa__pool_alloc_slow(struct fa_pool *p, size_t size);
void fa__pool_free_slow(struct fa_pool *p, void *ptr);
void fa__pool_free_sized_slow(struct fa_pool *p, void *ptr, size_t size);

/* Counters other threads read while the owner writes them: single-copy
 * atomic stores of aligned words; TSan builds say so explicitly. */
#ifdef FA__POOL_TSAN
#define FA__POOL_ADD(x, v) \
	__atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define FA__POOL_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#else
#define FA__POOL_ADD(x, v) ((x) += (v))
#define FA__POOL_SET(x, v) ((x) = (v))
#endif

/* The thread cache's pop for a size <= FA_POOL_SMALL_MAX of pool p (not
 * NULL); NULL when the bin is empty or the pool has none (features). */
static inline void *fa__pool_pop_inl(struct fa_pool *p, size_t size)
{
	const struct fa__pool_head *h = (const struct fa__pool_head *)p;
	__typeof__(FA__POOL_BIN(0)) b = FA__POOL_BIN(h->binoff[(size + 7) >> 3]);
	void **sp = b->sp;
	void *o = sp[-1]; /* the object itself is not touched */

	if (__builtin_expect(o != NULL, 1)) {
#ifdef FA_POOL_PREFETCH_NEXT
		/* the next object out (or the NULL sentinel below the stack:
		 * a prefetch never faults) */
		__builtin_prefetch(sp[-2], 1, 3);
#endif
		FA__POOL_SET(b->sp, sp - 1);
		FA__POOL_ADD(b->req, size);
	}
	return o;
}

/*
 * A file built with AddressSanitizer calls the out-of-line paths: the
 * library, found running under ASan at fa_pool_create, poisons every free
 * object and unpoisons it when handed out (finalloc(7), "Memory
 * debuggers"), which an inline pop or push would skip.
 */
static inline void *fa__pool_alloc_inl(struct fa_pool *p, size_t size)
{
#ifdef FA__POOL_ASAN
	return fa__pool_alloc_slow(p, size);
#endif
	if (__builtin_expect(p != NULL && size <= FA_POOL_SMALL_MAX, 1)) {
		void *o = fa__pool_pop_inl(p, size);

		if (__builtin_expect(o != NULL, 1))
			return o;
	}
	return fa__pool_alloc_slow(p, size);
}

static inline void fa__pool_push_inl(struct fa_pool *p, void *ptr, int32_t off)
{
	__typeof__(FA__POOL_BIN(0)) b = FA__POOL_BIN(off);
	void **sp = b->sp;

	if (__builtin_expect(sp != b->end, 1)) {
		*sp = ptr;
		/* a store from the register: sp is not read back */
		FA__POOL_SET(b->sp, sp + 1);
		FA__POOL_ADD(b->frees, 1);
		return;
	}
	fa__pool_free_slow(p, ptr); /* full: flush a batch; or no cache */
}

static inline void fa__pool_free_inl(struct fa_pool *p, void *ptr)
{
#ifdef FA__POOL_ASAN
	fa__pool_free_slow(p, ptr);
	return;
#endif
	if (__builtin_expect(p != NULL, 1)) {
		/* the owner map names the bin of ptr's slab; one not of p's
		 * (not ours, NULL, a large object, another pool's, a pool
		 * with features) goes out of line, is checked and reported */
		const struct fa__pool_head *h = (const struct fa__pool_head *)p;
		int32_t off = fa__pagemap_binoff(ptr);

		if (__builtin_expect((uint32_t)off - (uint32_t)h->bin_lo < h->bin_span, 1)) {
			fa__pool_push_inl(p, ptr, off);
			return;
		}
	}
	fa__pool_free_slow(p, ptr);
}

static inline void fa__pool_free_sized_inl(struct fa_pool *p, void *ptr, size_t size)
{
#ifdef FA__POOL_ASAN
	fa__pool_free_sized_slow(p, ptr, size);
	return;
#endif
	if (__builtin_expect(p != NULL && size <= FA_POOL_SMALL_MAX, 1)) {
		/* the bin the size names must be the one of ptr's slab: a
		 * size of another class, or another pool's object, goes out
		 * of line and is reported there */
		int32_t off = ((const struct fa__pool_head *)p)->binoff[(size + 7) >> 3];

		if (__builtin_expect(fa__pagemap_binoff(ptr) == off, 1)) {
			fa__pool_push_inl(p, ptr, off);
			return;
		}
	}
	fa__pool_free_sized_slow(p, ptr, size);
}

#endif /* FINALLOC_POOL_H */
