// SPDX-License-Identifier: MIT
/*
 * Pool large objects: a request above the classes gets its own mapping,
 * with a struct fa__pool_large at a 64 KiB boundary just below the object
 * (bin 0: every free of it goes out of line).  A freed mapping may stay
 * idle in the pool's cache (pool->lcache, oldest first) until a request
 * fits it, within idle_max bytes; max_bytes makes idle mappings give way.
 */
#include "pool/pool.h"
#include "trace/trace.h"

#include <errno.h>
#include <string.h>

static size_t large_hdr(const struct fa_pool *p)
{
	return fa__pool_round_up(sizeof(struct fa__pool_large), p->align > 64 ? p->align : 64);
}

/* Bytes to map for a large request: room to put the header on a 64 KiB
 * boundary, rounded to a class (powers of two below 2 MiB, 2 MiB steps
 * above) so that a freed mapping fits the requests that follow: below
 * 2 MiB blocks have 4 KiB pages, and a miss faults every page in. */
static size_t large_need(const struct fa_pool *p, size_t size)
{
	size_t need = size + large_hdr(p) + FA__SLAB_SIZE;

	if (need >= FA_PAGE_2M)
		return fa__pool_round_up(need, FA_PAGE_2M);
	return (size_t)1 << (64 - __builtin_clzl(need - 1));
}

/* Can idle mapping e hold size bytes (class need) without much waste: at
 * most twice need, or within the 2 MiB a fresh map of need would take on
 * huge pages?  Maps below 2 MiB have 4 KiB pages (fa__mem_opts_block), and
 * a reuse costs no page faults where a fresh map of the exact size would. */
static bool idle_fits(const struct fa_pool *p, const struct fa__pool_idle *e, size_t size,
                      size_t need)
{
	size_t used = (size_t)((char *)e->l - (char *)e->map.base) + large_hdr(p) + size;
	size_t ps = e->map.page_size > FA_PAGE_2M ? e->map.page_size : FA_PAGE_2M;

	return used <= e->map.size &&
	       (e->map.size / 2 <= need || e->map.size <= fa__pool_round_up(need, ps));
}

static void idle_count(struct fa_pool *p, int64_t bytes)
{
	atomic_store_explicit(&p->idle_maps, p->nlcache, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->idle_bytes, (uint64_t)bytes, memory_order_relaxed);
}

unsigned fa__pool_idle_evict(struct fa_pool *p, unsigned max_n, uint64_t max_b,
                             struct fa__pool_idle *out)
{
	uint64_t bytes = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed), freed = 0;
	unsigned k = 0;

	while (k < p->nlcache && (p->nlcache - k > max_n || bytes - freed > max_b)) {
		out[k] = p->lcache[k];
		freed += p->lcache[k].map.size;
		k++;
	}
	if (k) {
		memmove(p->lcache, p->lcache + k, (p->nlcache - k) * sizeof(p->lcache[0]));
		p->nlcache -= k;
		idle_count(p, -(int64_t)freed);
	}
	return k;
}

void fa__pool_idle_release(struct fa_pool *p, struct fa__pool_idle *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		atomic_fetch_sub(&p->bytes_mapped, v[i].map.size);
		fa__map_free(&v[i].map);
	}
}

void fa__pool_large_trim(struct fa_pool *p)
{
	struct fa__pool_idle ev[FA__LARGE_CACHE_MAX];
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = fa__pool_idle_evict(p, 0, 0, ev);
	pthread_mutex_unlock(&p->lock);
	fa__pool_idle_release(p, ev, n);
}

/* Make l live (pool->lock held). */
static void large_link(struct fa_pool *p, struct fa__pool_large *l)
{
	l->hdr.magic = FA__LARGE_MAGIC;
	l->prev = NULL;
	l->next = p->large;
	if (p->large)
		p->large->prev = l;
	p->large = l;
}

/* l handed out: into the journal if the pool journals its size. */
static void *large_out(struct fa_pool *p, struct fa__pool_large *l, const char *file, int line,
                       const char *func)
{
	l->traced = p->tracing && l->size >= p->trace_min;
	if (l->traced)
		fa__trace_alloc(p->trace_id, l->ptr, l->size, p->align, file, line, func);
	return l->ptr;
}

/* Under a memory debugger: l's object is handed out, the rest of its
 * mapping inaccessible (the header stays the pool's). */
static void mc_large(struct fa_pool *p, struct fa__pool_large *l, bool zeroed)
{
	char *base = l->map.base, *end = base + l->map.size, *o = l->ptr;

	if (!p->mc)
		return;
	fa__mc_alloc(p->mc, o, l->size, zeroed);
	fa__mc_noaccess(p->mc, base, (size_t)((char *)l - base));
	fa__mc_noaccess(p->mc, o + l->size, (size_t)(end - o) - l->size);
}

void *fa__pool_large_alloc(struct fa_pool *p, size_t size, const char *file, int line,
                           const char *func)
{
	size_t hdr = large_hdr(p), need, maxb;
	struct fa__pool_idle ev[FA__LARGE_CACHE_MAX];
	struct fa__pool_large *l;
	struct fa_mem_opts mo;
	struct fa__map m;
	unsigned nev = 0;
	int err, best = -1;

	if (size > ((size_t)1 << 46)) {
		errno = ENOMEM;
		return NULL;
	}
	need = large_need(p, size);
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nlcache; i++)
		if (idle_fits(p, &p->lcache[i], size, need) &&
		    (best < 0 || p->lcache[i].map.size < p->lcache[best].map.size))
			best = (int)i;
	if (best >= 0) {
		/* a cached mapping: its pages are mapped and faulted in */
		l = p->lcache[best].l;
		m = p->lcache[best].map;
		memmove(&p->lcache[best], &p->lcache[best + 1],
		        (p->nlcache - (unsigned)best - 1) * sizeof(p->lcache[0]));
		p->nlcache--;
		idle_count(p, -(int64_t)m.size);
		l->size = size;
		large_link(p, l);
		pthread_mutex_unlock(&p->lock);
		atomic_fetch_add_explicit(&p->large_hits, 1, memory_order_relaxed);
		atomic_fetch_add(&p->large_allocs, 1);
		atomic_fetch_add(&p->large_live, 1);
		atomic_fetch_add(&p->large_bytes, m.size);
		mc_large(p, l, false);
		if (p->flags & FA_POOL_ZERO)
			memset(l->ptr, 0, size);
		return large_out(p, l, file, line, func);
	}
	maxb = p->max_bytes; /* NUMA balancing moves it, under the lock */
	if (maxb) {
		/* idle mappings give way to the new one */
		uint64_t mapped = atomic_load(&p->bytes_mapped);
		uint64_t idle = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed);

		if (mapped + need > maxb) {
			uint64_t over = mapped + need - maxb;

			nev = fa__pool_idle_evict(p, FA__LARGE_CACHE_MAX,
			                          idle > over ? idle - over : 0, ev);
		}
	}
	pthread_mutex_unlock(&p->lock);
	fa__pool_idle_release(p, ev, nev);
	if (maxb && atomic_load(&p->bytes_mapped) + need > maxb) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_fetch_add_explicit(&p->large_misses, 1, memory_order_relaxed);
	err = fa__map_alloc(&m, need, fa__mem_opts_block(p->has_mem ? &p->mem : NULL, need, &mo));
	if (err) {
		errno = -err;
		return NULL;
	}
	l = (struct fa__pool_large *)fa__pool_round_up((uintptr_t)m.base, FA__SLAB_SIZE);
	err = fa__pagemap_set(l, (size_t)((char *)m.base + m.size - (char *)l),
	                      fa__pagemap_entry(l, 0));
	if (err) {
		fa__map_free(&m);
		errno = -err;
		return NULL;
	}
	l->hdr.binoff = fa__pool_bin_off(0);
	l->hdr.pool = p;
	l->ptr = (char *)l + hdr;
	l->size = size;
	l->map = m;
	pthread_mutex_lock(&p->lock);
	large_link(p, l);
	pthread_mutex_unlock(&p->lock);
	atomic_fetch_add(&p->bytes_mapped, m.size);
	atomic_fetch_add(&p->large_allocs, 1);
	atomic_fetch_add(&p->large_live, 1);
	atomic_fetch_add(&p->large_bytes, m.size);
	mc_large(p, l, true); /* fresh pages */
	return large_out(p, l, file, line, func);
}

/* Oldest idle mappings make room.  binoff stays 0, so a free of an idle
 * one still reaches here and finds it idle. */
bool fa__pool_large_free(struct fa_pool *p, struct fa__pool_large *l)
{
	struct fa__pool_idle ev[FA__LARGE_CACHE_MAX + 1];
	struct fa__map m;
	unsigned nev = 0;

	/* before the lock (a journal's first record from this thread takes
	 * the journal's lock, under which the drop-in may allocate), and so
	 * before any reuse's ALLOC */
	if (l->traced && l->hdr.magic == FA__LARGE_MAGIC)
		fa__trace_free(p->trace_id, l->ptr, l->size);
	pthread_mutex_lock(&p->lock);
	if (l->hdr.magic != FA__LARGE_MAGIC) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	l->traced = false;
	if (l->prev)
		l->prev->next = l->next;
	else
		p->large = l->next;
	if (l->next)
		l->next->prev = l->prev;
	m = l->map;
	if (m.size <= p->idle_max) {
		nev = fa__pool_idle_evict(p, FA__LARGE_CACHE_MAX - 1, p->idle_max - m.size, ev);
		l->hdr.magic = FA__LARGE_IDLE_MAGIC;
		l->prev = l->next = NULL;
		p->lcache[p->nlcache].l = l;
		p->lcache[p->nlcache].map = m;
		p->nlcache++;
		idle_count(p, (int64_t)m.size);
	} else {
		l->hdr.magic = 0;
		ev[nev].l = l;
		ev[nev++].map = m;
	}
	pthread_mutex_unlock(&p->lock);
	atomic_fetch_add(&p->large_frees, 1);
	atomic_fetch_sub(&p->large_live, 1);
	atomic_fetch_sub(&p->large_bytes, m.size);
	fa__pool_idle_release(p, ev, nev);
	return true;
}

/* Index in p->lcache of the idle large mapping whose object was ptr, or -1
 * (pool->lock held). */
static int idle_find(const struct fa_pool *p, const void *ptr)
{
	for (unsigned i = 0; i < p->nlcache; i++)
		if (p->lcache[i].l->ptr == ptr)
			return (int)i;
	return -1;
}

struct fa__pool_large *fa__pool_large_find(struct fa_pool *p, const void *ptr, bool *idle)
{
	struct fa__pool_large *l;

	pthread_mutex_lock(&p->lock);
	for (l = p->large; l && l->ptr != ptr; l = l->next)
		;
	*idle = !l && idle_find(p, ptr) >= 0;
	pthread_mutex_unlock(&p->lock);
	return l;
}

/* Idle device mappings were not inherited (VM_DONTCOPY): their address
 * range is free in the child, never to be unmapped. */
void fa__pool_large_fork_child(struct fa_pool *p)
{
	for (unsigned i = 0; i < p->nlcache;) {
		size_t sz = p->lcache[i].map.size;

		if (p->lcache[i].map.backend != FA_BACKEND_DEVICE) {
			i++;
			continue;
		}
		fa__pagemap_clear(p->lcache[i].map.base, sz);
		memmove(&p->lcache[i], &p->lcache[i + 1],
		        (p->nlcache - i - 1) * sizeof(p->lcache[0]));
		p->nlcache--;
		idle_count(p, -(int64_t)sz);
		atomic_fetch_sub(&p->bytes_mapped, sz);
	}
}
