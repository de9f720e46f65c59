// SPDX-License-Identifier: MIT
/*
 * Backend selection: which page source serves a mapping, what was asked and
 * what was served, and the counters that make every downgrade visible.
 */
#include "backend/backend.h"
#include "util/memcheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <numa.h>

static const char *const backend_names[FA_BACKEND_COUNT] = {
	[FA_BACKEND_AUTO] = "auto",       [FA_BACKEND_DEVICE] = "device",
	[FA_BACKEND_HUGETLB] = "hugetlb", [FA_BACKEND_THP] = "thp",
	[FA_BACKEND_SMALL] = "small",
};

static struct {
	_Atomic uint64_t maps[FA_BACKEND_COUNT][FA_BACKEND_COUNT];
	_Atomic uint64_t bytes[FA_BACKEND_COUNT];
	_Atomic uint64_t downgrades, page_downgrades, failures, unmaps;
	_Atomic uint64_t locked_bytes, lock_failures;
	/* one stderr line per (asked, served) downgrade pair */
	atomic_bool said[FA_BACKEND_COUNT][FA_BACKEND_COUNT];
	atomic_bool said_page;
} st;

const char *fa_backend_name(int backend)
{
	if (backend < 0 || backend >= FA_BACKEND_COUNT)
		return NULL;
	return backend_names[backend];
}

int fa_backend_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (int i = 0; i < FA_BACKEND_COUNT; i++)
		if (!strcmp(name, backend_names[i]))
			return i;
	return -EINVAL;
}

bool fa__verbose(void)
{
	static _Atomic int v = -1; /* benign race: every thread computes the same */
	int r = atomic_load_explicit(&v, memory_order_relaxed);

	if (r < 0) {
		const char *e = getenv("FINALLOC_VERBOSE");

		r = e && *e && strcmp(e, "0") != 0;
		atomic_store_explicit(&v, r, memory_order_relaxed);
	}
	return r;
}

/* FINALLOC_BACKEND, parsed once; a bad value is said once and ignored. */
static _Atomic int env_b = -1;

static int env_backend(void)
{
	if (atomic_load_explicit(&env_b, memory_order_relaxed) < 0) {
		const char *e = getenv("FINALLOC_BACKEND");
		int v = FA_BACKEND_AUTO;

		if (e && *e) {
			v = fa_backend_parse(e);
			if (v < 0) {
				fprintf(stderr,
				        "finalloc: FINALLOC_BACKEND=%s unknown "
				        "(device|hugetlb|thp|small|auto); using auto\n",
				        e);
				v = FA_BACKEND_AUTO;
			}
		}
		atomic_store_explicit(&env_b, v, memory_order_relaxed);
	}
	return atomic_load_explicit(&env_b, memory_order_relaxed);
}

void fa__backend_env_ignore(void)
{
	atomic_store_explicit(&env_b, FA_BACKEND_AUTO, memory_order_relaxed);
}

int fa__mem_opts_check(const struct fa_mem_opts *o)
{
	if (!o)
		return 0;
	if (o->backend < 0 || o->backend >= FA_BACKEND_COUNT)
		return -EINVAL;
	if (o->page_size && o->page_size != FA_PAGE_4K && o->page_size != FA_PAGE_2M &&
	    o->page_size != FA_PAGE_1G)
		return -EINVAL;
	if (o->flags & ~(FA_MEM_PREFAULT | FA_MEM_STRICT | FA_MEM_ON_NODE | FA_MEM_PINNABLE))
		return -EINVAL;
	if (o->reserved[0] || o->reserved[1] || o->reserved[2])
		return -EINVAL;
	if (o->guard_size > ((size_t)1 << 40))
		return -EINVAL;
	if (o->flags & FA_MEM_ON_NODE) {
		int max = numa_available() < 0 ? 0 : numa_max_node();

		if (o->node < 0 || o->node > max)
			return -EINVAL;
	}
	return 0;
}

/* Is backend b worth trying for page size ps under AUTO? */
static bool present(int b, size_t ps)
{
	switch (b) {
	case FA_BACKEND_DEVICE:
		if (!fa__dev_available())
			return false;
		return ps == 0 || (fa__dev_page_sizes() & ps);
	case FA_BACKEND_HUGETLB:
		if (ps == FA_PAGE_4K)
			return false;
		if (ps)
			return fa__hugetlb_reserved(ps) > 0;
		return fa__hugetlb_reserved(FA_PAGE_2M) > 0 || fa__hugetlb_reserved(FA_PAGE_1G) > 0;
	case FA_BACKEND_THP:
		return (ps == 0 || ps >= FA_PAGE_2M) && fa__thp_enabled();
	case FA_BACKEND_SMALL:
		return true;
	}
	return false;
}

/* Why forced backend b cannot serve page size ps, or 0. */
static int forced_error(int b, size_t ps)
{
	if (b == FA_BACKEND_DEVICE && !fa__dev_available())
		return fa__dev_error();
	if (b == FA_BACKEND_HUGETLB && !present(b, ps))
		return -ENODEV;
	if (b == FA_BACKEND_THP && !fa__thp_enabled())
		return -ENODEV;
	if ((b == FA_BACKEND_THP && ps && ps != FA_PAGE_2M) ||
	    (b == FA_BACKEND_SMALL && ps > FA_PAGE_4K))
		return -EINVAL;
	return 0;
}

int fa__backend_check(const struct fa_mem_opts *opts)
{
	static const struct fa_mem_opts defaults;
	const struct fa_mem_opts *o = opts ? opts : &defaults;
	int err = fa__mem_opts_check(opts);
	int asked;

	if (err)
		return err;
	asked = o->backend != FA_BACKEND_AUTO ? o->backend : env_backend();
	return asked == FA_BACKEND_AUTO ? 0 : forced_error(asked, o->page_size);
}

static int serve(struct fa__map *m, size_t size, int b, size_t ps, const struct fa_mem_opts *o)
{
	switch (b) {
	case FA_BACKEND_DEVICE:
		return fa__dev_map(m, size, ps, o);
	case FA_BACKEND_HUGETLB:
		if (ps)
			return fa__mmap_map(m, size, b, ps, o);
		/* best reserved size that suits: 1 GiB only for >= 1 GiB asks */
		if (size >= FA_PAGE_1G && fa__hugetlb_reserved(FA_PAGE_1G)) {
			int r = fa__mmap_map(m, size, b, FA_PAGE_1G, o);

			if (!r || !fa__hugetlb_reserved(FA_PAGE_2M))
				return r;
		}
		return fa__mmap_map(m, size, b, FA_PAGE_2M, o);
	case FA_BACKEND_THP:
		return fa__mmap_map(m, size, b, FA_PAGE_2M, o);
	case FA_BACKEND_SMALL:
		return fa__mmap_map(m, size, b, FA_PAGE_4K, o);
	}
	return -EINVAL;
}

static void say_downgrade(const struct fa__map *m, int first, int err)
{
	if (!fa__verbose())
		return;
	if ((m->flags & FA__MAP_DOWNGRADED) && !atomic_exchange(&st.said[first][m->backend], true))
		fprintf(stderr,
		        "finalloc: downgrade: %s asked, %s served (%s); "
		        "counted in fa_backend_stats, said once\n",
		        backend_names[first], backend_names[m->backend], strerror(-err));
	if ((m->flags & FA__MAP_PAGE_DOWN) && !atomic_exchange(&st.said_page, true))
		fprintf(stderr,
		        "finalloc: downgrade: %zu KiB pages asked, %zu KiB "
		        "served by %s; said once\n",
		        m->page_size_asked >> 10, m->page_size >> 10, backend_names[m->backend]);
}

/* Unmap without touching the counters (a map never counted). */
static void map_free_raw(struct fa__map *m)
{
	if (m->backend == FA_BACKEND_DEVICE)
		fa__dev_unmap(m);
	else
		fa__mmap_unmap(m);
}

/* Called at every mapping request; set once, from above (the exit dump). */
static void (*_Atomic first_map_hook)(void);

void fa__map_set_hook(void (*fn)(void))
{
	atomic_store_explicit(&first_map_hook, fn, memory_order_release);
}

const struct fa_mem_opts *fa__mem_opts_block(const struct fa_mem_opts *opts, size_t size,
                                             struct fa_mem_opts *tmp)
{
	int b = opts && opts->backend ? opts->backend : env_backend();

	/* a page size or a hugetlb/device backend asked for (FINALLOC_BACKEND
	 * included) is kept */
	if (size >= FA_PAGE_2M || (opts && opts->page_size) ||
	    (b != FA_BACKEND_AUTO && b != FA_BACKEND_THP))
		return opts;
	if (opts)
		*tmp = *opts;
	else
		memset(tmp, 0, sizeof(*tmp));
	if (b == FA_BACKEND_THP)
		tmp->backend = FA_BACKEND_SMALL;
	else
		tmp->page_size = FA_PAGE_4K;
	return tmp;
}

int fa__map_alloc(struct fa__map *m, size_t size, const struct fa_mem_opts *opts)
{
	void (*hook)(void);
	static const struct fa_mem_opts defaults;
	const struct fa_mem_opts *o = opts ? opts : &defaults;
	struct fa__map tmp;
	int asked, first = -1, err = -ENOMEM;

	if (!m)
		return -EINVAL;
	hook = atomic_load_explicit(&first_map_hook, memory_order_acquire);
	if (hook)
		hook();
	err = fa__mem_opts_check(opts);
	if (err)
		goto fail;
	if (size == 0 || size > ((size_t)1 << 46)) {
		err = size ? -ENOMEM : -EINVAL;
		goto fail;
	}
	asked = o->backend != FA_BACKEND_AUTO ? o->backend : env_backend();

	if (asked != FA_BACKEND_AUTO) {
		/* forced: that backend or an error */
		memset(&tmp, 0, sizeof(tmp));
		err = forced_error(asked, o->page_size);
		if (!err)
			err = serve(&tmp, size, asked, o->page_size, o);
		if (err)
			goto fail;
		first = asked;
	} else {
		err = -ENOMEM;
		for (int b = FA_BACKEND_DEVICE; b < FA_BACKEND_COUNT; b++) {
			if (!present(b, o->page_size))
				continue;
			if (first < 0)
				first = b;
			else if (o->flags & FA_MEM_STRICT)
				break;
			memset(&tmp, 0, sizeof(tmp));
			err = serve(&tmp, size, b, o->page_size, o);
			if (!err)
				break;
		}
		/* small is always present: a page size no backend offers is
		 * served smaller (a page downgrade, below), never ENODEV */
		if (err)
			goto fail;
		if (tmp.backend != first)
			tmp.flags |= FA__MAP_DOWNGRADED;
	}
	tmp.backend_asked = asked;
	tmp.node_asked = (o->flags & FA_MEM_ON_NODE) ? o->node : FA_NODE_ANY;
	tmp.page_size_asked = o->page_size;
	if (o->page_size && tmp.page_size < o->page_size) {
		if (o->flags & FA_MEM_STRICT) {
			map_free_raw(&tmp);
			err = -ENOMEM;
			goto fail;
		}
		tmp.flags |= FA__MAP_PAGE_DOWN;
	}

	atomic_fetch_add(&st.maps[asked][tmp.backend], 1);
	atomic_fetch_add(&st.bytes[tmp.backend], tmp.size);
	if (tmp.flags & FA__MAP_DOWNGRADED)
		atomic_fetch_add(&st.downgrades, 1);
	if (tmp.flags & FA__MAP_PAGE_DOWN)
		atomic_fetch_add(&st.page_downgrades, 1);
	if (tmp.flags & FA__MAP_LOCKED)
		atomic_fetch_add(&st.locked_bytes, tmp.size);
	else if (o->flags & FA_MEM_PREFAULT)
		atomic_fetch_add(&st.lock_failures, 1);
	if (first >= 0)
		say_downgrade(&tmp, first, -ENOMEM);
	if (tmp.map_size > tmp.size) {
		/* guards: a memory debugger reports a touch as its own error,
		 * with the stack, before the fault */
		int mc = fa__mc_mode();
		char *lo = tmp.map_base, *hi = (char *)tmp.map_base + tmp.map_size;
		char *end = (char *)tmp.base + tmp.size;

		fa__mc_noaccess(mc, lo, (size_t)((char *)tmp.base - lo));
		fa__mc_noaccess(mc, end, (size_t)(hi - end));
	}
	*m = tmp;
	return 0;
fail:
	atomic_fetch_add(&st.failures, 1);
	if (fa__verbose())
		fprintf(stderr, "finalloc: mapping %zu bytes failed: %s\n", size, strerror(-err));
	return err;
}

void fa__map_free(struct fa__map *m)
{
	if (!m || !m->map_base)
		return;
	atomic_fetch_add(&st.unmaps, 1);
	atomic_fetch_sub(&st.bytes[m->backend], m->size);
	if (m->flags & FA__MAP_LOCKED)
		atomic_fetch_sub(&st.locked_bytes, m->size);
	fa__pagemap_clear(m->base, m->size);
	/* ASan's shadow outlives the mapping: whatever is mapped here next
	 * starts unpoisoned (memcheck follows munmap itself) */
	if (fa__mc_mode() == FA__MC_ASAN)
		__asan_unpoison_memory_region(m->map_base, m->map_size);
	map_free_raw(m);
	m->base = m->map_base = NULL;
}

void fa__map_info(const struct fa__map *m, struct fa_mem_info *info)
{
	info->backend_asked = m->backend_asked;
	info->backend = m->backend;
	info->page_size_asked = m->page_size_asked;
	info->page_size = m->page_size;
	info->node_asked = m->node_asked;
	info->node = m->node;
	info->guard_size = m->guard_size;
	info->downgraded = !!(m->flags & (FA__MAP_DOWNGRADED | FA__MAP_PAGE_DOWN));
	info->locked = !!(m->flags & FA__MAP_LOCKED);
	info->prefaulted = !!(m->flags & FA__MAP_PREFAULTED);
	info->guard_kind = m->guard_kind;
}

int fa_backend_stats(struct fa_backend_stats *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (int a = 0; a < FA_BACKEND_COUNT; a++) {
		for (int b = 0; b < FA_BACKEND_COUNT; b++)
			out->maps[a][b] = atomic_load(&st.maps[a][b]);
		out->bytes_mapped[a] = atomic_load(&st.bytes[a]);
	}
	out->downgrades = atomic_load(&st.downgrades);
	out->page_downgrades = atomic_load(&st.page_downgrades);
	out->failures = atomic_load(&st.failures);
	out->unmaps = atomic_load(&st.unmaps);
	out->locked_bytes = atomic_load(&st.locked_bytes);
	out->lock_failures = atomic_load(&st.lock_failures);
	out->available[FA_BACKEND_AUTO] = 1;
	out->available[FA_BACKEND_DEVICE] = fa__dev_available();
	out->available[FA_BACKEND_HUGETLB] = present(FA_BACKEND_HUGETLB, 0);
	out->available[FA_BACKEND_THP] = fa__thp_enabled();
	out->available[FA_BACKEND_SMALL] = 1;
	out->huge_page_sizes[0] = fa__hugetlb_reserved(FA_PAGE_2M) ? FA_PAGE_2M : 0;
	out->huge_page_sizes[1] = fa__hugetlb_reserved(FA_PAGE_1G) ? FA_PAGE_1G : 0;
	return 0;
}

/* ---- raw mappings for callers outside the library ---- */

struct raw_map {
	struct raw_map *next;
	struct fa__map m;
};

static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;
static struct raw_map *raw_maps;

void *fa_mem_map(size_t size, const struct fa_mem_opts *opts, struct fa_mem_info *info)
{
	struct raw_map *r = calloc(1, sizeof(*r));
	int err;

	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	err = fa__map_alloc(&r->m, size, opts);
	if (err) {
		free(r);
		errno = -err;
		return NULL;
	}
	if (info)
		fa__map_info(&r->m, info);
	pthread_mutex_lock(&raw_lock);
	r->next = raw_maps;
	raw_maps = r;
	pthread_mutex_unlock(&raw_lock);
	return r->m.base;
}

int fa_mem_unmap(void *p, size_t size)
{
	struct raw_map **pp, *r = NULL;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&raw_lock);
	for (pp = &raw_maps; *pp; pp = &(*pp)->next) {
		if ((*pp)->m.base == p && size && size <= (*pp)->m.size &&
		    (*pp)->m.size - size < (*pp)->m.page_size) {
			r = *pp;
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&raw_lock);
	if (!r)
		return -EINVAL;
	fa__map_free(&r->m);
	free(r);
	return 0;
}
