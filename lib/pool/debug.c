// SPDX-License-Identifier: MIT
/*
 * Pool misuse detection: reports, poison fill and verification, and the
 * debug checks for double and foreign frees (the quarantine that holds
 * freed objects back is quarantine.c).  Everything here is off the inline
 * path: pools using it take the out-of-line alloc/free.
 */
#include "pool/pool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_names[] = {
	[FA_POOL_ERR_DOUBLE_FREE] = "double free",
	[FA_POOL_ERR_FOREIGN] = "foreign pointer",
	[FA_POOL_ERR_WRITE_AFTER_FREE] = "write after free",
};

void fa__pool_reportf(struct fa_pool *p, int error, void *ptr, unsigned cls, size_t offset,
                      const char *fmt, ...)
{
	struct fa_pool_report r = {
		.error = error,
		.pool = p,
		.pool_name = p->name,
		.ptr = ptr,
		.cls = cls,
		.obj_size = cls < p->nr_classes ? p->cls[cls].size : 0,
		.offset = offset,
	};
	char detail[160], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "finalloc: pool %s: %s: %s", p->name, error_names[error],
	         detail);
	r.msg = msg;
	atomic_fetch_add(&p->reports, 1);
	if (p->report) {
		p->report(&r, p->report_arg);
		return;
	}
	fprintf(stderr, "%s\n", msg);
	abort();
}

void fa__pool_poison(void *o, size_t size)
{
	memset(o, FA_POOL_POISON_BYTE, size);
}

int fa__pool_verify(struct fa_pool *p, void *o, unsigned cls, size_t from)
{
	size_t size = p->cls[cls].size;
	const unsigned char *b = o;

	for (size_t i = from; i < size; i += sizeof(uint64_t)) {
		uint64_t w;

		if (size - i < sizeof(w)) {
			for (; i < size; i++)
				if (b[i] != FA_POOL_POISON_BYTE)
					goto bad;
			break;
		}
		memcpy(&w, b + i, sizeof(w));
		if (w != FA__POISON64) {
			while (b[i] == FA_POOL_POISON_BYTE)
				i++;
		bad:
			fa__pool_reportf(p, FA_POOL_ERR_WRITE_AFTER_FREE, o, cls, i,
			                 "object %p (class %u, %u bytes) changed at offset %zu "
			                 "(byte 0x%02x) while free",
			                 o, cls, p->cls[cls].size, i, b[i]);
			/* handler returned: the object gets reused clean */
			fa__pool_poison((char *)o + from, size - from);
			return -EFAULT;
		}
	}
	return 0;
}

/* ---- foreign and double frees ---- */

struct fa__pool_slab *fa__pool_owner(struct fa_pool *p, void *ptr, bool *large)
{
	struct fa__pool_slab *s = fa__pagemap_hdr(fa__pagemap_get(ptr));
	struct fa__pool_large *l = (struct fa__pool_large *)s;

	*large = false;
	if (!s) {
		fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, 0, 0,
		                 "%p is not memory of any pool (freed to pool %s)", ptr, p->name);
		return NULL;
	}
	switch (s->hdr.magic) {
	case FA__SLAB_MAGIC:
		if (s->hdr.pool != p)
			break;
		if (!fa__pool_at_object(s, ptr)) {
			fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, s->cls, 0,
			                 "%p is not the start of an object of class %u (%u bytes)",
			                 ptr, s->cls, p->cls[s->cls].size);
			return NULL;
		}
		return s;
	case FA__SLAB_FREE_MAGIC:
		if (s->hdr.pool != p)
			break;
		fa__pool_reportf(p, FA_POOL_ERR_DOUBLE_FREE, ptr, 0, 0,
		                 "%p freed while free (its slab was trimmed)", ptr);
		return NULL;
	case FA__LARGE_MAGIC:
	case FA__LARGE_IDLE_MAGIC:
		if (l->hdr.pool != p)
			break;
		if (l->ptr != ptr) {
			fa__pool_reportf(
			        p, FA_POOL_ERR_FOREIGN, ptr, 0, 0,
			        "%p is inside large object %p (%zu bytes), not at its start", ptr,
			        l->ptr, l->size);
			return NULL;
		}
		*large = true;
		return s; /* an idle one: fa__pool_large_free says double free */
	}
	fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, 0, 0, "%p is not an object of pool %s%s%s",
	                 ptr, p->name, s->hdr.pool ? " but of pool " : "",
	                 s->hdr.pool ? s->hdr.pool->name : "");
	return NULL;
}

/* ---- debug: foreign and double frees ---- */

enum verdict {
	NOT_IN_SLABS, /* no region holds it: a large object, or not ours */
	OBJECT,
	TRIMMED,
	INSIDE,
	FREED_TWICE,
};

static _Atomic uint64_t *obj_bit(struct fa__pool_slab *s, void *o, uint64_t *mask)
{
	size_t i = (size_t)((char *)o - s->first) / s->stride;

	*mask = 1ull << (i % 64);
	return &s->bits[i / 64];
}

/*
 * What ptr is in p's regions, with check_lock held for reading: a trim
 * cannot free the slab (rewrite its header) nor unmap its region until
 * the header and bitmap are read; reports come after the lock, whose
 * handler may free or trim.
 */
static enum verdict classify(struct fa_pool *p, void *ptr, bool freeing, unsigned *cls)
{
	unsigned n = atomic_load_explicit(&p->nr_regions, memory_order_acquire);
	struct fa__pool_slab *s = fa__pool_slab_of(ptr);

	for (unsigned r = 0; r < n; r++) {
		char *lo, *hi;
		uint64_t m;

		/* new regions fill slots meanwhile: read each one whole */
		fa__pool_region_read(p, r, &lo, &hi);
		if ((char *)ptr < lo || (char *)ptr >= hi)
			continue;
		if (s->hdr.magic == FA__SLAB_FREE_MAGIC && s->hdr.pool == p)
			return TRIMMED;
		if (s->hdr.magic != FA__SLAB_MAGIC || s->hdr.pool != p || (char *)ptr < s->first ||
		    (char *)ptr >= s->end)
			return NOT_IN_SLABS;
		*cls = s->cls;
		if ((size_t)((char *)ptr - s->first) % s->stride)
			return INSIDE;
		if (freeing) {
			_Atomic uint64_t *w = obj_bit(s, ptr, &m);

			if (!(atomic_fetch_and_explicit(w, ~m, memory_order_relaxed) & m))
				return FREED_TWICE;
		}
		return OBJECT;
	}
	return NOT_IN_SLABS;
}

/* A free of an object that is free, in a pool without a report handler
 * (one that has one gets the pool's report, as always): the memory
 * debugger reports it (ASan stops there, memcheck goes on as after a
 * double free(3)), and true, nothing more to do. */
static bool mc_bad_free(struct fa_pool *p, void *ptr, size_t n, bool freeing)
{
	if (!p->mc || !freeing || p->report)
		return false;
	atomic_fetch_add(&p->reports, 1);
	/* ASan has no report of its own for it: say what its report is */
	if (p->mc == FA__MC_ASAN)
		fprintf(stderr,
		        "finalloc: pool %s: double free of %p; AddressSanitizer reports it as a "
		        "write to the free object:\n",
		        p->name, ptr);
	fa__mc_report_bad_free(p->mc, ptr, n, __builtin_return_address(0));
	return true;
}

struct fa__pool_slab *fa__pool_check_ptr(struct fa_pool *p, void *ptr, bool *large, bool freeing,
                                         unsigned *cls)
{
	struct fa__pool_large *l;
	enum verdict v;
	unsigned c = 0;
	bool idle;

	*large = false;
	fa__rwlock_rdlock(&p->check_lock);
	v = classify(p, ptr, freeing, &c);
	fa__rwlock_rdunlock(&p->check_lock);
	*cls = c;
	switch (v) {
	case OBJECT:
		return fa__pool_slab_of(ptr);
	case TRIMMED:
		if (mc_bad_free(p, ptr, 1, freeing))
			return NULL;
		fa__pool_reportf(p, FA_POOL_ERR_DOUBLE_FREE, ptr, 0, 0,
		                 "%p freed while free (its slab was trimmed)", ptr);
		return NULL;
	case INSIDE:
		fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, c, 0,
		                 "%p is inside an object of class %u (%u bytes), not "
		                 "at its start",
		                 ptr, c, p->cls[c].size);
		return NULL;
	case FREED_TWICE:
		if (mc_bad_free(p, ptr, p->cls[c].size, freeing))
			return NULL;
		fa__pool_reportf(p, FA_POOL_ERR_DOUBLE_FREE, ptr, c, 0,
		                 "object %p (class %u, %u bytes) freed while free", ptr, c,
		                 p->cls[c].size);
		return NULL;
	case NOT_IN_SLABS:
		break;
	}
	l = fa__pool_large_find(p, ptr, &idle);
	if (l) {
		*large = true;
		return (struct fa__pool_slab *)l;
	}
	if (idle) {
		if (mc_bad_free(p, ptr, 1, freeing))
			return NULL;
		fa__pool_reportf(p, FA_POOL_ERR_DOUBLE_FREE, ptr, 0, 0,
		                 "large object %p freed while free (its mapping is cached)", ptr);
		return NULL;
	}
	fa__pool_reportf(p, FA_POOL_ERR_FOREIGN, ptr, 0, 0,
	                 "%p was not allocated by this pool (or is a large object freed "
	                 "already)",
	                 ptr);
	return NULL;
}

bool fa__pool_obj_live(struct fa__pool_slab *s, void *o)
{
	uint64_t m;
	_Atomic uint64_t *w = obj_bit(s, o, &m);

	return atomic_load_explicit(w, memory_order_relaxed) & m;
}

void fa__pool_mark_alloc(struct fa_pool *p, struct fa__pool_slab *s, void *o)
{
	uint64_t m;
	_Atomic uint64_t *w = obj_bit(s, o, &m);

	atomic_fetch_or_explicit(w, m, memory_order_relaxed);
}
