/* SPDX-License-Identifier: MIT */
/*
 * Arena fast path: the inline bump behind fa_arena_alloc() and FA_ARENA_NEW().
 * Part of finalloc.h: never include this file directly.
 *
 * ABI: the inline code below is compiled into every program that includes
 * finalloc.h, so the layout it reads is part of the ABI of
 * libfinalloc.so.1, not an implementation detail: struct fa_arena_cursor
 * (ptr, end) as the first member of struct fa_arena, and
 * FA_ARENA_MIN_ALIGN.
 * Changing any of it breaks programs built against the old header: it bumps
 * the soname (libfinalloc.so.N+1) and the version node in
 * lib/libfinalloc.map.  See finalloc(7), "Inline fast paths".
 */
#ifndef FINALLOC_ARENA_H
#define FINALLOC_ARENA_H

#ifndef FINALLOC_H
#error "include <finalloc.h>, not <finalloc/arena.h>"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FA__ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FA__ARENA_ASAN 1
#endif
#endif

static inline void *fa__arena_bump_inl(struct fa_arena *a, size_t size, size_t align,
                                       const char *file, int line, const char *func)
{
	struct fa_arena_cursor *c = (struct fa_arena_cursor *)a;

#ifdef FA__ARENA_ASAN
	/* a file built with AddressSanitizer: out of line, where the arena
	 * (found running under ASan at create) unpoisons each object and
	 * keeps a poisoned red zone after it */
	(void)c;
	return fa_arena_alloc_site(a, size, align, file, line, func);
#endif
	if (__builtin_constant_p(align) && align && !(align & (align - 1)) &&
	    align <= FA_ARENA_MIN_ALIGN) {
		size_t n = (size + (FA_ARENA_MIN_ALIGN - 1)) & ~(size_t)(FA_ARENA_MIN_ALIGN - 1);

		/* size 0 and overflow make n - 1 huge: slow path */
		if (__builtin_expect(a && n - 1 < (size_t)(c->end - c->ptr), 1)) {
			char *p = c->ptr;

			c->ptr = p + n;
			return p;
		}
	} else if (__builtin_expect(a && align && !(align & (align - 1)) && align <= 4096, 1)) {
		/* larger alignments go out of line, which refuses one above
		 * the largest chunk whether or not the current chunk happens
		 * to hold such an address */
		size_t n = (size + (FA_ARENA_MIN_ALIGN - 1)) & ~(size_t)(FA_ARENA_MIN_ALIGN - 1);
		size_t m = align > FA_ARENA_MIN_ALIGN ? align : FA_ARENA_MIN_ALIGN;
		uintptr_t p = ((uintptr_t)c->ptr + m - 1) & ~(uintptr_t)(m - 1);
		uintptr_t e = (uintptr_t)c->end;

		if (__builtin_expect(p <= e && n - 1 < e - p, 1)) {
			c->ptr = (char *)(p + n);
			return (void *)p;
		}
	}
	return fa_arena_alloc_site(a, size, align, file, line, func);
}

static inline void *fa__arena_init_inl(void *p, const void *init, size_t n)
{
	if (p)
		__builtin_memcpy(p, init, n);
	return p;
}

#endif /* FINALLOC_ARENA_H */
