// SPDX-License-Identifier: MIT
/*
 * Arena: bump allocation over a list of chunks.  The inline fast path in
 * finalloc.h only moves cur.ptr; this file is the slow path (new chunk,
 * metadata headers, canaries, tracing, bad input) and the lifecycle.
 *
 * Chunks: head .. curc have been bumped into (curc is current), the ones
 * after curc are empty chunks kept by a reset.  Records in META mode:
 *
 *   rec: [struct hdr][front red zone][user bytes][back red zone] (16-aligned)
 *
 * and hdr.rec_len chains them, so a walk or check needs no side table.
 */
#include "arena/arena.h"
#include "util/memcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ALIGN       FA_ARENA_MIN_ALIGN
#define DEF_CHUNK       ((size_t)2 << 20)
#define DEF_MAX_CHUNK   ((size_t)64 << 20)
#define MAX_CHUNK_LIMIT ((size_t)1 << 30)
#define MAX_ALLOC       ((size_t)1 << 46)
#define RZ              16 /* red zone bytes, each side (at least) */
#define MC_RZ           16 /* under a memory debugger: after every record */
#define CANARY_BYTE     0xcb
#define HDR_MAGIC       0x46416864723a5a31ULL
#define HDR_INTERNAL    1u /* record is a destructor entry, not user data */

#define FLAGS_VALID                                                                            \
	(FA_ARENA_META | FA_ARENA_CANARY | FA_ARENA_GUARDS | FA_ARENA_DEBUG | FA_ARENA_TRACE | \
	 FA_ARENA_RESET_RELEASE)

struct hdr {
	uint64_t check;
	uint64_t size;
	uint64_t rec_len;
	uint32_t user_off;
	uint32_t line;
	const char *file;
	const char *func;
	uint64_t seq;
	uint32_t align;
	uint32_t kind;
};
_Static_assert(sizeof(struct hdr) % MIN_ALIGN == 0, "hdr keeps records aligned");

struct dtor_rec {
	struct dtor_rec *prev;
	void (*fn)(void *);
	void *obj;
};

struct fa_arena {
	struct fa_arena_cursor cur;  /* inline path; empty in slow modes */
	struct fa_arena_cursor real; /* the cursor in slow modes */
	bool slow;
	unsigned flags;
	int mc;       /* FA__MC_*: the memory debugger, at create */
	size_t mc_rz; /* MC_RZ under one, else 0 */
	/* memcheck: the live objects, freed for it at reset; held in
	 * malloc'd memory, so that objects the arena holds are never
	 * leaks */
	void **mc_obj;
	size_t mc_n, mc_cap;
	struct fa__chunk *head, *curc;
	size_t first_chunk, next_chunk, max_chunk, cap, held, nr_chunks;
	struct fa_mem_opts mem;
	struct fa_arena_group *group;
	struct fa_arena_group *tls_group; /* set: a thread's sub-arena */
	const char *owner;                /* set: destroy refuses (a NUMA node's) */
	int node;
	struct dtor_rec *dtors;
	uint64_t ndtors;
	uint64_t id, seq, sample_ctr;
	size_t trace_min;
	unsigned trace_sample;
	bool tracing;
	uint64_t resets, chunks_mapped, chunks_reused, chunks_released, slow_allocs;
	uint64_t traced, downgraded_chunks;
	struct fa_mem_info last_mem;
	void (*on_corruption)(struct fa_arena *, const struct fa_arena_corruption *, void *);
	void *corruption_arg;
} FA__ALIGNED_CL;

static _Atomic uint64_t next_arena_id = 1;

/* process-wide totals for the stats dump: slow paths only */
static struct {
	_Atomic uint64_t created, destroyed;
	_Atomic uint64_t chunks_mapped, chunks_reused, chunks_released, chunk_bytes;
} totals;

static void total_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline struct fa_arena_cursor *cursor(struct fa_arena *a)
{
	return a->slow ? &a->real : &a->cur;
}

static inline uintptr_t align_up(uintptr_t v, size_t a)
{
	return (v + a - 1) & ~(uintptr_t)(a - 1);
}

static uint64_t hdr_sum(const struct hdr *h, const void *rec)
{
	uint64_t x = HDR_MAGIC ^ (uintptr_t)rec;

	x ^= h->size * 0x9e3779b97f4a7c15ULL;
	x ^= h->rec_len * 0xc2b2ae3d27d4eb4fULL;
	x ^= ((uint64_t)h->user_off << 32 | h->align) * 0x165667b19e3779f9ULL;
	x ^= (uint64_t)h->kind << 7 ^ h->seq;
	return x;
}

static int chunk_get(struct fa_arena *a, size_t size, struct fa__chunk **out)
{
	struct fa__chunk *c;
	bool reused = false;
	int err;

	if (a->group) {
		err = fa__group_chunk_get(a->group, size, a->node, &c, &reused);
		if (err)
			return err;
	} else {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		err = fa__map_alloc(&c->map, size, &a->mem);
		if (err) {
			free(c);
			return err;
		}
	}
	if (a->cap && a->held + c->map.size > a->cap) {
		/* page rounding pushed it over the cap */
		if (a->group)
			fa__group_chunk_put(a->group, c);
		else
			fa__chunk_unmap(c);
		return -ENOMEM;
	}
	c->used = c->map.base;
	/* nothing of it is an object yet */
	fa__mc_noaccess(a->mc, c->map.base, c->map.size);
	if (reused) {
		a->chunks_reused++;
		c->reuses++;
	} else {
		a->chunks_mapped++;
	}
	total_add(reused ? &totals.chunks_reused : &totals.chunks_mapped, 1);
	total_add(&totals.chunk_bytes, c->map.size);
	fa__map_info(&c->map, &a->last_mem);
	if (a->last_mem.downgraded)
		a->downgraded_chunks++;
	*out = c;
	return 0;
}

static void chunk_put(struct fa_arena *a, struct fa__chunk *c)
{
	a->chunks_released++;
	total_add(&totals.chunks_released, 1);
	total_add(&totals.chunk_bytes, -(uint64_t)c->map.size);
	if (a->group)
		fa__group_chunk_put(a->group, c);
	else
		fa__chunk_unmap(c);
}

/* Move to a chunk with at least need bytes: a kept one or a new one. */
static int grow(struct fa_arena *a, size_t need)
{
	struct fa_arena_cursor *cr = cursor(a);
	struct fa__chunk *c = a->curc ? a->curc->next : a->head;
	size_t want;
	int err;

	if (!c || c->map.size < need) {
		bool geometric = need <= a->next_chunk;

		want = geometric ? a->next_chunk : need;
		if (a->cap && (want > a->cap || a->held > a->cap - want)) {
			/* last chance under the cap: a chunk just big enough */
			if (need > a->cap || a->held > a->cap - need)
				return -ENOMEM;
			want = need;
		}
		err = chunk_get(a, want, &c);
		if (err)
			return err;
		if (geometric && a->next_chunk < a->max_chunk)
			a->next_chunk =
			        a->next_chunk * 2 > a->max_chunk ? a->max_chunk : a->next_chunk * 2;
		a->held += c->map.size;
		a->nr_chunks++;
		if (a->curc) {
			c->next = a->curc->next;
			a->curc->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	if (a->curc)
		a->curc->used = cr->ptr;
	a->curc = c;
	cr->ptr = c->map.base;
	cr->end = (char *)c->map.base + c->map.size;
	return 0;
}

/* Where an allocation goes in [ptr, end): user pointer and record end. */
static bool place(const struct fa_arena *a, char *ptr, char *end, size_t size, size_t align,
                  uintptr_t *user, uintptr_t *rec_end)
{
	uintptr_t p = (uintptr_t)ptr, e = (uintptr_t)end, u, r;
	size_t rz = (a->flags & FA_ARENA_CANARY) ? RZ : 0;

	if (!ptr)
		return false;
	if (a->flags & FA_ARENA_META)
		p += sizeof(struct hdr) + rz;
	u = align_up(p, align);
	if (u > e || size > e - u)
		return false;
	/* a debugger's red zone after it: an overrun never lands in the
	 * next object */
	r = align_up(u + size + rz, MIN_ALIGN) + a->mc_rz;
	if (r > e)
		return false;
	*user = u;
	*rec_end = r;
	return true;
}

/* Under a debugger: room for one more live object in a->mc_obj (reset
 * frees each for memcheck, and gives ASan its freeing stack). */
static int mc_room(struct fa_arena *a)
{
	void **v;
	size_t cap;

	if (!a->mc || a->mc_n < a->mc_cap)
		return 0;
	cap = a->mc_cap ? a->mc_cap * 2 : 256;
	v = realloc(a->mc_obj, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->mc_obj = v;
	a->mc_cap = cap;
	return 0;
}

/* Every object of a dies for the debugger; its memory is inaccessible
 * again (reset, destroy). */
static void mc_free_all(struct fa_arena *a)
{
	if (!a->mc)
		return;
	for (size_t i = a->mc_n; i-- > 0;)
		fa__mc_free(a->mc, a->mc_obj[i], 0);
	a->mc_n = 0;
	for (struct fa__chunk *c = a->head; c; c = c->next)
		fa__mc_noaccess(a->mc, c->map.base, c->map.size);
}

static void *alloc_slow(struct fa_arena *a, size_t size, size_t align, uint32_t kind,
                        const char *file, int line, const char *func)
{
	struct fa_arena_cursor *cr;
	uintptr_t u, r;
	int err;

	if (!a || !size || !align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align > a->max_chunk && align > FA_PAGE_4K) {
		/* up to a page, any fresh chunk (page-aligned) can serve it */
		errno = EINVAL;
		return NULL;
	}
	if (size > MAX_ALLOC) {
		errno = ENOMEM;
		return NULL;
	}
	if (align < MIN_ALIGN)
		align = MIN_ALIGN;
	if (mc_room(a)) {
		errno = ENOMEM;
		return NULL;
	}
	a->slow_allocs++;
	cr = cursor(a);
	if (!place(a, cr->ptr, cr->end, size, align, &u, &r)) {
		/* exact for a fresh chunk (page-aligned base): a request that
		 * fits the geometric size gets no oversized chunk */
		size_t lead = ((a->flags & FA_ARENA_META) ? sizeof(struct hdr) : 0) +
		              ((a->flags & FA_ARENA_CANARY) ? RZ : 0);
		size_t tail = ((a->flags & FA_ARENA_CANARY) ? RZ : 0) + a->mc_rz;
		size_t need = align <= FA_PAGE_4K ? align_up(lead, align) : lead + align - 1;

		need += align_up(size + tail, MIN_ALIGN);

		err = grow(a, need);
		if (err) {
			errno = -err;
			return NULL;
		}
		if (!place(a, cr->ptr, cr->end, size, align, &u, &r)) {
			errno = ENOMEM; /* cannot happen: need covers the worst case */
			return NULL;
		}
	}
	if (a->flags & FA_ARENA_META) {
		struct hdr *h = (struct hdr *)cr->ptr;
		char *fz = (char *)(h + 1);

		/* the header and canaries are the library's: accessible */
		fa__mc_undefined(a->mc, h, (size_t)((char *)u - (char *)h));
		fa__mc_undefined(a->mc, (char *)u + size, (size_t)(r - a->mc_rz - u - size));

		h->size = size;
		h->rec_len = r - (uintptr_t)h;
		h->user_off = (uint32_t)(u - (uintptr_t)h);
		h->line = (uint32_t)line;
		h->file = file;
		h->func = func;
		h->seq = a->seq++;
		h->align = (uint32_t)align;
		h->kind = kind;
		h->check = hdr_sum(h, h);
		if (a->flags & FA_ARENA_CANARY) {
			memset(fz, CANARY_BYTE, (size_t)((char *)u - fz));
			memset((char *)u + size, CANARY_BYTE, (size_t)(r - a->mc_rz - u - size));
		}
	}
	cr->ptr = (char *)r;
	fa__mc_alloc(a->mc, (void *)u, size, false);
	if (a->mc)
		a->mc_obj[a->mc_n++] = (void *)u;
	if (a->tracing && kind == 0) {
		/* 1 in trace_sample of the allocations below the threshold */
		if (size >= a->trace_min ||
		    (a->trace_sample && ++a->sample_ctr % a->trace_sample == 0)) {
			fa__trace_alloc(a->id, (void *)u, size, align, file, line, func);
			a->traced++;
		}
	}
	return (void *)u;
}

void *fa_arena_alloc_site(struct fa_arena *a, size_t size, size_t align, const char *file, int line,
                          const char *func)
{
	return alloc_slow(a, size, align, 0, file, line, func);
}

void *(fa_arena_alloc)(struct fa_arena *a, size_t size)
{
	return fa__arena_bump_inl(a, size, MIN_ALIGN, NULL, 0, NULL);
}

void *(fa_arena_alloc_aligned)(struct fa_arena *a, size_t size, size_t align)
{
	return fa__arena_bump_inl(a, size, align, NULL, 0, NULL);
}

int fa_arena_on_destroy(struct fa_arena *a, void (*fn)(void *), void *obj)
{
	struct dtor_rec *d;

	if (!a || !fn)
		return -EINVAL;
	d = alloc_slow(a, sizeof(*d), _Alignof(struct dtor_rec), HDR_INTERNAL, __FILE__, __LINE__,
	               __func__);
	if (!d)
		return -errno;
	d->fn = fn;
	d->obj = obj;
	d->prev = a->dtors;
	a->dtors = d;
	a->ndtors++;
	return 0;
}

void *fa_arena_new_site(struct fa_arena *a, size_t size, size_t align, const void *init,
                        void (*dtor)(void *), const char *file, int line, const char *func)
{
	void *p;

	if (!init) {
		errno = EINVAL;
		return NULL;
	}
	p = alloc_slow(a, size, align, 0, file, line, func);
	if (!p)
		return NULL;
	memcpy(p, init, size);
	if (dtor) {
		int err = fa_arena_on_destroy(a, dtor, p);

		if (err) {
			errno = -err;
			return NULL;
		}
	}
	return p;
}

/* ---- metadata walk and check ---- */

static char *chunk_used(struct fa_arena *a, struct fa__chunk *c)
{
	return c == a->curc ? cursor(a)->ptr : c->used;
}

static bool zone_ok(const unsigned char *p, size_t n, void **bad)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != CANARY_BYTE) {
			*bad = (void *)(p + i);
			return false;
		}
	}
	return true;
}

/* Visit records; check canaries when asked.  Stops at the first damage. */
static int visit(struct fa_arena *a, bool canaries, struct fa_arena_corruption *cor,
                 int (*fn)(const struct fa_arena_block *, void *), void *arg)
{
	const struct hdr *prev = NULL;

	for (struct fa__chunk *c = a->head; c; c = c->next) {
		char *p = c->map.base, *end = chunk_used(a, c);

		while (p < end) {
			const struct hdr *h = (const struct hdr *)p;
			struct fa_arena_corruption k = { 0 };
			bool ok = true;

			if (h->check != hdr_sum(h, h) || h->rec_len < sizeof(*h) ||
			    h->rec_len > (size_t)(end - p) || h->user_off > h->rec_len ||
			    h->size > h->rec_len - h->user_off) {
				k.kind = FA_CORRUPT_HEADER;
				k.ptr = k.bad = p;
				/* the allocation before it most likely overran */
				if (prev) {
					k.file = prev->file;
					k.line = (int)prev->line;
					k.func = prev->func;
				}
				if (cor)
					*cor = k;
				return -EUCLEAN;
			}
			if (canaries) {
				char *u = p + h->user_off;
				char *fz = (char *)(h + 1);

				if (!zone_ok((unsigned char *)fz, (size_t)(u - fz), &k.bad))
					k.kind = FA_CORRUPT_FRONT, ok = false;
				else if (!zone_ok((unsigned char *)u + h->size,
				                  h->rec_len - h->user_off - h->size - a->mc_rz,
				                  &k.bad))
					k.kind = FA_CORRUPT_BACK, ok = false;
				if (!ok) {
					k.ptr = u;
					k.size = h->size;
					k.file = h->file;
					k.line = (int)h->line;
					k.func = h->func;
					if (cor)
						*cor = k;
					return -EUCLEAN;
				}
			}
			if (fn && h->kind == 0) {
				struct fa_arena_block b = {
					.ptr = p + h->user_off,
					.size = h->size,
					.align = h->align,
					.seq = h->seq,
					.file = h->file,
					.line = (int)h->line,
					.func = h->func,
				};
				int r = fn(&b, arg);

				if (r)
					return r;
			}
			prev = h;
			p += h->rec_len;
		}
		if (c == a->curc)
			break;
	}
	return 0;
}

int fa_arena_walk(struct fa_arena *a, int (*fn)(const struct fa_arena_block *b, void *arg),
                  void *arg)
{
	if (!a || !fn)
		return -EINVAL;
	if (!(a->flags & FA_ARENA_META))
		return -EOPNOTSUPP;
	return visit(a, false, NULL, fn, arg);
}

int fa_arena_check(struct fa_arena *a, struct fa_arena_corruption *c)
{
	if (!a)
		return -EINVAL;
	if (!(a->flags & FA_ARENA_META))
		return -EOPNOTSUPP;
	return visit(a, a->flags & FA_ARENA_CANARY, c, NULL, NULL);
}

static const char *const kind_names[] = { "?", "header", "front red zone", "back red zone" };

static void debug_check(struct fa_arena *a, const char *when)
{
	struct fa_arena_corruption c;

	if (!(a->flags & FA_ARENA_DEBUG) || fa_arena_check(a, &c) != -EUCLEAN)
		return;
	if (a->on_corruption) {
		a->on_corruption(a, &c, a->corruption_arg);
		return;
	}
	fprintf(stderr,
	        "finalloc: arena %llu: %s damaged at %p (allocation %p, %zu bytes, "
	        "from %s:%d %s), found by %s\n",
	        (unsigned long long)a->id, kind_names[c.kind], c.bad, c.ptr, c.size,
	        c.file ? c.file : "?", c.line, c.func ? c.func : "?", when);
	abort();
}

static void run_dtors(struct fa_arena *a)
{
	/* unlink first: a destructor may not re-enter, but a crash report
	 * must not show a half-run list */
	struct dtor_rec *d = a->dtors;

	a->dtors = NULL;
	a->ndtors = 0;
	for (; d; d = d->prev)
		d->fn(d->obj);
}

void fa_arena_reset(struct fa_arena *a)
{
	struct fa_arena_cursor *cr;

	if (!a)
		return;
	debug_check(a, "fa_arena_reset");
	run_dtors(a);
	mc_free_all(a);
	if (a->tracing)
		fa__trace_arena(a->id, FA_TRACE_EV_RESET);
	if ((a->flags & FA_ARENA_RESET_RELEASE) && a->head) {
		struct fa__chunk *c = a->head->next;

		a->head->next = NULL;
		while (c) {
			struct fa__chunk *n = c->next;

			a->held -= c->map.size;
			a->nr_chunks--;
			chunk_put(a, c);
			c = n;
		}
		a->next_chunk =
		        a->first_chunk * 2 < a->max_chunk ? a->first_chunk * 2 : a->max_chunk;
	}
	for (struct fa__chunk *c = a->head; c; c = c->next)
		c->used = c->map.base;
	a->curc = a->head;
	cr = cursor(a);
	cr->ptr = a->head ? a->head->map.base : NULL;
	cr->end = a->head ? (char *)a->head->map.base + a->head->map.size : NULL;
	a->resets++;
}

static void arena_free(struct fa_arena *a)
{
	debug_check(a, "fa_arena_destroy");
	run_dtors(a);
	mc_free_all(a);
	free(a->mc_obj);
	if (a->tracing)
		fa__trace_arena(a->id, FA_TRACE_EV_DESTROY);
	while (a->head) {
		struct fa__chunk *c = a->head;

		a->head = c->next;
		chunk_put(a, c);
	}
	if (a->group)
		fa__group_member(a->group, -1);
	total_add(&totals.destroyed, 1);
	free(a);
}

void fa_arena_destroy(struct fa_arena *a)
{
	if (!a)
		return;
	if (a->tls_group) {
		fprintf(stderr,
		        "finalloc: fa_arena_destroy: arena %llu is a thread's "
		        "sub-arena; it returns to its group at thread exit\n",
		        (unsigned long long)a->id);
		errno = EINVAL;
		return;
	}
	if (a->owner) {
		fprintf(stderr,
		        "finalloc: fa_arena_destroy: arena %llu belongs to %s, which "
		        "destroys it\n",
		        (unsigned long long)a->id, a->owner);
		errno = EINVAL;
		return;
	}
	arena_free(a);
}

void fa__arena_free(struct fa_arena *a)
{
	if (a)
		arena_free(a);
}

void fa__arena_set_owner(struct fa_arena *a, const char *owner)
{
	a->owner = owner;
}

void fa__arena_set_tls(struct fa_arena *a, struct fa_arena_group *g)
{
	a->tls_group = g;
}

struct fa_arena_group *fa__arena_tls_group(const struct fa_arena *a)
{
	return a->tls_group;
}

struct fa_arena *fa__arena_create_in(const struct fa_arena_opts *opts, struct fa_arena_group *g,
                                     int node)
{
	static const struct fa_arena_opts defaults;
	const struct fa_arena_opts *o = opts ? opts : &defaults;
	size_t env_min = 0;
	unsigned env_sample = 0;
	struct fa_arena *a;
	int err;

	if ((o->flags & ~FLAGS_VALID) || o->reserved[0] || o->reserved[1] || o->reserved[2] ||
	    o->reserved[3] || o->chunk_size > MAX_CHUNK_LIMIT ||
	    o->max_chunk_size > MAX_CHUNK_LIMIT ||
	    (o->max_chunk_size && o->chunk_size > o->max_chunk_size)) {
		errno = EINVAL;
		return NULL;
	}
	if (!g && (err = fa__mem_opts_check(&o->mem))) {
		errno = -err;
		return NULL;
	}
	if (g && (o->flags & FA_ARENA_GUARDS) && !fa__group_mem(g)->guard_size) {
		errno = EINVAL; /* the group's chunks have no guard pages */
		return NULL;
	}
	a = aligned_alloc(FA__CACHE_LINE,
	                  (sizeof(*a) + FA__CACHE_LINE - 1) & ~(size_t)(FA__CACHE_LINE - 1));
	if (!a) {
		errno = ENOMEM;
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->flags = o->flags;
	if (a->flags & FA_ARENA_DEBUG)
		a->flags |= FA_ARENA_CANARY;
	if (a->flags & FA_ARENA_CANARY)
		a->flags |= FA_ARENA_META;
	a->max_chunk = o->max_chunk_size ? o->max_chunk_size : DEF_MAX_CHUNK;
	a->first_chunk = o->chunk_size ? o->chunk_size : DEF_CHUNK;
	if (a->first_chunk > a->max_chunk)
		a->first_chunk = a->max_chunk;
	a->cap = o->cap;
	if (a->cap && a->first_chunk > a->cap)
		a->first_chunk = a->cap;
	a->next_chunk = a->first_chunk;
	a->mem = o->mem;
	if ((a->flags & FA_ARENA_GUARDS) && a->mem.guard_size < FA_PAGE_4K)
		a->mem.guard_size = FA_PAGE_4K;
	a->group = g;
	a->node = node;
	a->id = atomic_fetch_add(&next_arena_id, 1);
	a->on_corruption = o->on_corruption;
	a->corruption_arg = o->corruption_arg;
	a->trace_min = o->trace_min_size;
	a->trace_sample = o->trace_sample;

	if (fa__trace_env(&env_min, &env_sample)) {
		if (!(a->flags & FA_ARENA_TRACE)) {
			a->trace_min = env_min;
			a->trace_sample = env_sample;
		}
		a->flags |= FA_ARENA_TRACE;
	}
	if (a->flags & FA_ARENA_TRACE) {
		err = fa__trace_ensure(o->trace_path);
		if (err < 0)
			goto fail;
		/* 1: FINALLOC_TRACE's journal failed or was closed: untraced,
		 * and off the slow path */
		a->tracing = !err;
		if (!a->tracing)
			a->flags &= ~FA_ARENA_TRACE;
	}
	/* under a memory debugger every object is described to it: out of
	 * line, with a red zone after each */
	a->mc = fa__mc_mode();
	a->mc_rz = a->mc ? MC_RZ : 0;
	a->slow = (a->flags & (FA_ARENA_META | FA_ARENA_TRACE)) || a->mc;
	if (g)
		fa__group_member(g, 1);
	err = grow(a, 0);
	if (err) {
		if (g)
			fa__group_member(g, -1);
		goto fail;
	}
	if (a->tracing)
		fa__trace_arena(a->id, FA_TRACE_EV_CREATE);
	total_add(&totals.created, 1);
	return a;
fail:
	free(a);
	errno = -err;
	return NULL;
}

struct fa_arena *fa_arena_create(const struct fa_arena_opts *opts)
{
	return fa__arena_create_in(opts, opts ? opts->group : NULL, FA_NODE_ANY);
}

int fa_arena_stats(struct fa_arena *a, struct fa_arena_stats *st)
{
	struct fa_arena_cursor *cr;

	if (!a || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	cr = cursor(a);
	for (struct fa__chunk *c = a->head; c; c = c->next) {
		if (c == a->curc) {
			st->used_bytes += (size_t)(cr->ptr - (char *)c->map.base);
			break;
		}
		st->used_bytes += (size_t)(c->used - (char *)c->map.base);
	}
	st->nr_chunks = a->nr_chunks;
	st->chunk_bytes = a->held;
	st->cap = a->cap;
	st->cur_ptr = cr->ptr;
	st->cur_end = cr->end;
	st->cur_avail = (size_t)(cr->end - cr->ptr);
	st->resets = a->resets;
	st->chunks_mapped = a->chunks_mapped;
	st->chunks_reused = a->chunks_reused;
	st->chunks_released = a->chunks_released;
	st->slow_allocs = a->slow_allocs;
	st->dtors_pending = a->ndtors;
	st->traced = a->traced;
	st->downgraded_chunks = a->downgraded_chunks;
	st->mem = a->last_mem;
	return 0;
}

void fa__arena_totals(struct fa__arena_totals *t)
{
	t->created = atomic_load_explicit(&totals.created, memory_order_relaxed);
	t->destroyed = atomic_load_explicit(&totals.destroyed, memory_order_relaxed);
	t->chunks_mapped = atomic_load_explicit(&totals.chunks_mapped, memory_order_relaxed);
	t->chunks_reused = atomic_load_explicit(&totals.chunks_reused, memory_order_relaxed);
	t->chunks_released = atomic_load_explicit(&totals.chunks_released, memory_order_relaxed);
	t->chunk_bytes = atomic_load_explicit(&totals.chunk_bytes, memory_order_relaxed);
	/* read unordered: keep live counts from going negative */
	if (t->destroyed > t->created)
		t->destroyed = t->created;
	if (t->chunks_released > t->chunks_mapped + t->chunks_reused)
		t->chunks_released = t->chunks_mapped + t->chunks_reused;
}
