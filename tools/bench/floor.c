// SPDX-License-Identifier: MIT
/*
 * The floor: a measuring instrument for `finalloc bench --alloc floor`, not
 * an allocator anyone should run.  It is a malloc drop-in with nothing but
 * the fast path: one thread-local LIFO list per 16 B class up to 4 KiB, each
 * class in its own reserved range so that free finds the class by a
 * subtraction and a shift; no pointer check, no statistics, no node, no
 * memory ever given back (a free from another thread stays with the freeing
 * thread).  Larger and aligned requests go to glibc.  What it times is what
 * a drop-in reached through the PLT costs when the allocator itself costs
 * almost nothing, so a target that the floor misses is out of reach of any
 * allocator for that workload (doc/performance.md, "The floor").
 *
 * Built as build/libfinalloc-floor.so (never installed) and preloaded in
 * the bench's workers exactly as the peers are.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define API __attribute__((visibility("default")))

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *p);

#define FLOOR_MAX     4096u
#define FLOOR_CLASSES (FLOOR_MAX / 16 + 1)
#define FLOOR_SHIFT   32 /* 4 GiB of address space a class, reserved only */
#define FLOOR_CARVE   64 /* objects a refill carves */

static __thread void *head[FLOOR_CLASSES] __attribute__((tls_model("initial-exec")));
static char *base; /* NULL until the constructor: glibc serves until then */
static _Atomic size_t used[FLOOR_CLASSES];

__attribute__((constructor)) static void floor_init(void)
{
	void *m = mmap(NULL, (size_t)FLOOR_CLASSES << FLOOR_SHIFT, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m != MAP_FAILED)
		base = m;
}

static inline size_t class_of(const void *p)
{
	size_t off = (size_t)((const char *)p - base);

	return off < ((size_t)FLOOR_CLASSES << FLOOR_SHIFT) ? off >> FLOOR_SHIFT : 0;
}

static __attribute__((noinline)) void *refill(size_t c)
{
	size_t sz = c * 16, at = atomic_fetch_add(&used[c], sz * FLOOR_CARVE);
	char *p = base + (c << FLOOR_SHIFT) + at;

	if (at + sz * FLOOR_CARVE > ((size_t)1 << FLOOR_SHIFT)) {
		errno = ENOMEM;
		return NULL;
	}
	for (int i = FLOOR_CARVE - 1; i >= 1; i--) {
		*(void **)(p + i * sz) = head[c];
		head[c] = p + i * sz;
	}
	return p;
}

API void *malloc(size_t size)
{
	if (__builtin_expect(size <= FLOOR_MAX && base != NULL, 1)) {
		size_t c = size ? (size + 15) >> 4 : 1;
		void *o = head[c];

		if (__builtin_expect(o != NULL, 1)) {
			head[c] = *(void **)o;
			return o;
		}
		return refill(c);
	}
	return __libc_malloc(size);
}

API void free(void *p)
{
	size_t c = class_of(p); /* NULL: far below base, class 0 */

	if (__builtin_expect(c != 0, 1)) {
		*(void **)p = head[c];
		head[c] = p;
		return;
	}
	__libc_free(p);
}

API void *calloc(size_t n, size_t m)
{
	return __libc_calloc(n, m);
}

API void *realloc(void *p, size_t size)
{
	size_t c = class_of(p);
	void *q;

	if (!c)
		return __libc_realloc(p, size);
	if (!size) {
		free(p);
		return NULL;
	}
	if (size <= c * 16)
		return p;
	q = malloc(size);
	if (q) {
		memcpy(q, p, c * 16);
		free(p);
	}
	return q;
}

API void *memalign(size_t align, size_t size)
{
	return __libc_memalign(align, size);
}

API void *aligned_alloc(size_t align, size_t size)
{
	return __libc_memalign(align, size);
}

API int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

API size_t malloc_usable_size(void *p)
{
	static size_t (*next)(void *);
	size_t c = class_of(p);

	if (c)
		return c * 16;
	if (!next)
		next = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
	return next && p ? next(p) : 0;
}
