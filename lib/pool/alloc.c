// SPDX-License-Identifier: MIT
/*
 * Pool alloc and free out of line: what the inline path in finalloc.h
 * leaves (an empty or full bin, no cache, a large size or object, a pool
 * with features: zeroing, poison, quarantine, debug checks, hooks, size
 * histogram), the non-inline entry points, and fa_pool_flush.
 */
#define FA_POOL_NOINLINE
#include "pool/pool.h"

#include <errno.h>
#include <string.h>

/* Class of a size (size <= the largest class). */
static unsigned class_of(const struct fa_pool *p, size_t size)
{
	return p->size_cls[(size + 7) >> 3];
}

void *fa__pool_alloc_slow(struct fa_pool *p, size_t size)
{
	struct fa__pool_tcache *tc;
	struct fa__pool_bin *b;
	bool locked;
	unsigned c;
	void *o;

	if (!p || !size) {
		errno = EINVAL;
		return NULL;
	}
	if (fa__unlikely(atomic_load_explicit(&p->snap_restart, memory_order_relaxed)))
		fa__pool_snap_resume(p);
	if (size > fa__pool_max_size(p)) {
		if (p->obj_size || (p->flags & FA_POOL_NO_LARGE)) {
			errno = E2BIG;
			return NULL;
		}
		return fa__pool_large_alloc(p, size, NULL, 0, NULL);
	}
	c = class_of(p, size);
	tc = fa__pool_tcache_get(p, &locked);
	if (!tc)
		return NULL;
	b = &tc->bins[c];
	if (!b->sp[-1]) {
		fa__pool_refill(p, tc, c);
		if (!b->sp[-1]) {
			fa__pool_tcache_put(p, locked);
			return NULL; /* errno from the backend */
		}
	}
	o = b->sp[-1];
	FA__POOL_SET(b->sp, b->sp - 1);
	fa__pool_mc_clear(p, b->sp, 1);
	FA__POOL_ADD(b->req, size);
	if (p->flags & FA_POOL_SIZE_HIST)
		FA__POOL_ADD(tc->hist[63 - __builtin_clzl(size)], 1);
	fa__pool_tcache_put(p, locked);
	if (p->slow) {
		struct fa__pool_class *k = &p->cls[c];

		/* the whole class is usable (fa_pool_usable_size); objects
		 * constructed once keep their contents */
		fa__mc_alloc(p->mc, o, k->size, p->once_hooks);
		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE)) {
			fa__mc_defined(p->mc, o, k->size);
			fa__pool_verify(p, o, c, 0);
			fa__mc_undefined(p->mc, o, k->size);
		}
		if (p->flags & FA__POOL_CHECKS)
			fa__pool_mark_alloc(p, fa__pool_slab_of(o), o);
		if (p->flags & FA_POOL_ZERO)
			memset(o, 0, size);
		if ((p->flags & FA_POOL_CTOR_EVERY) && p->ctor)
			p->ctor(o, k->size, p->hook_arg);
	}
	return o;
}

static void free_object(struct fa_pool *p, void *ptr)
{
	struct fa__pool_slab *s;
	struct fa__pool_tcache *tc;
	bool locked, large = false;
	unsigned c;

	if (p->flags & FA__POOL_CHECKS) {
		/* its bit cleared: a double free is reported there */
		s = fa__pool_check_ptr(p, ptr, &large, true, &c);
		if (!s)
			return;
	} else {
		s = fa__pool_owner(p, ptr, &large);
		if (!s)
			return;
	}
	if (large) {
		struct fa__pool_large *l = (struct fa__pool_large *)s;

		/* the checks found it live (FA__POOL_CHECKS) */
		fa__mc_free(p->mc, l->ptr, l->size);
		if (!fa__pool_large_free(p, l))
			fa__pool_reportf(p, FA_POOL_ERR_DOUBLE_FREE, l->ptr, 0, 0,
			                 "large object %p (%zu bytes) freed while free", l->ptr,
			                 l->size);
		return;
	}
	c = s->cls;
	if ((p->flags & FA_POOL_CTOR_EVERY) && p->dtor)
		p->dtor(ptr, p->cls[c].size, p->hook_arg);
	tc = fa__pool_tcache_get(p, &locked);
	if (!tc) {
		/* no cache memory: straight to the shared list */
		if (p->flags & (FA_POOL_POISON | FA_POOL_QUARANTINE))
			fa__pool_poison(ptr, p->cls[c].size);
		fa__mc_free(p->mc, ptr, p->cls[c].size);
		fa__pool_shared_push(p, NULL, c, &ptr, 1);
		return;
	}
	if (p->flags & FA_POOL_QUARANTINE) {
		fa__pool_quarantine_put(p, tc, c, ptr);
	} else {
		if (p->flags & FA_POOL_POISON)
			fa__pool_poison(ptr, p->cls[c].size);
		fa__mc_free(p->mc, ptr, p->cls[c].size);
		fa__pool_cache_push(p, tc, c, ptr, true);
	}
	fa__pool_tcache_put(p, locked);
}

/* The inline free found the bin full, or no cache, or a large object. */
void fa__pool_free_slow(struct fa_pool *p, void *ptr)
{
	if (!ptr)
		return;
	if (!p) {
		errno = EINVAL;
		return;
	}
	free_object(p, ptr);
}

/* The inline sized free found the bin of size is not ptr's slab's (or a
 * large object, a pool with features, a full bin): a size of another class
 * is refused, anything else freed as fa_pool_free would. */
void fa__pool_free_sized_slow(struct fa_pool *p, void *ptr, size_t size)
{
	struct fa__pool_slab *s = fa__pagemap_hdr(fa__pagemap_get(ptr));

	if (p && s && s->hdr.pool == p && s->hdr.magic == FA__SLAB_MAGIC &&
	    (size > FA_POOL_SMALL_MAX || size == 0 || p->size_cls[(size + 7) / 8] != s->cls ||
	     size > fa__pool_max_size(p))) {
		fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, s->cls, 0,
		                 "%p freed with size %zu, but it is an object of class %u (%u "
		                 "bytes)",
		                 ptr, size, s->cls, p->cls[s->cls].size);
		return;
	}
	fa__pool_free_slow(p, ptr);
}

void *fa_pool_alloc(struct fa_pool *p, size_t size)
{
	return fa__pool_alloc_inl(p, size);
}

void *fa_pool_alloc_site(struct fa_pool *p, size_t size, const char *file, int line,
                         const char *func)
{
	if (p && p->tracing && size > fa__pool_max_size(p) && !p->obj_size &&
	    !(p->flags & FA_POOL_NO_LARGE))
		return fa__pool_large_alloc(p, size, file, line, func);
	return fa__pool_alloc_inl(p, size);
}

void fa_pool_free(struct fa_pool *p, void *ptr)
{
	fa__pool_free_inl(p, ptr);
}

void fa_pool_free_sized(struct fa_pool *p, void *ptr, size_t size)
{
	fa__pool_free_sized_inl(p, ptr, size);
}

size_t fa_pool_usable_size(struct fa_pool *p, const void *ptr)
{
	struct fa__pool_slab *s;
	bool large = false;
	unsigned c;

	if (!p || !ptr)
		return 0;
	if (p->flags & FA__POOL_CHECKS) {
		/* a free object's slab may go meanwhile: its class, not s */
		s = fa__pool_check_ptr(p, (void *)ptr, &large, false, &c);
		if (!s)
			return 0;
		if (!large)
			return p->cls[c].size;
	} else {
		/* not ours, or not p's: 0, no report */
		s = fa__pagemap_hdr(fa__pagemap_get(ptr));
		if (!s || s->hdr.pool != p)
			return 0;
		if (s->hdr.magic == FA__LARGE_MAGIC)
			large = true;
		else if (s->hdr.magic != FA__SLAB_MAGIC)
			return 0;
	}
	if (large)
		return ((struct fa__pool_large *)s)->size;
	return p->cls[s->cls].size;
}

int fa_pool_flush(struct fa_pool *p, int all)
{
	struct fa__pool_tcache *tc;
	bool locked;

	if (!p)
		return -EINVAL;
	fa__pool_snap_resume(p);
	tc = fa__pool_tcache_get(p, &locked);
	if (!tc)
		return -ENOMEM;
	if (p->flags & FA_POOL_QUARANTINE)
		fa__pool_quarantine_drain(p, tc, all != 0);
	fa__pool_flush_all(p, tc);
	fa__pool_tcache_put(p, locked);
	if (all)
		fa__pool_large_trim(p);
	return 0;
}
