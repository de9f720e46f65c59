// SPDX-License-Identifier: MIT
/*
 * Pool size classes: the classes of a pool and the tables of the inline
 * path (a size's bin, as an offset from the thread pointer), and the
 * calling thread's bins those offsets name (fa__pool_bins, static TLS).
 */
#include "pool/pool.h"

void *const fa__pool_nullslot[1] = { NULL };

__thread struct fa__pool_bin fa__pool_bins[FA__POOL_TLS_BINS] __attribute__((
        tls_model("initial-exec"))) = { [0 ... FA__POOL_TLS_BINS - 1] = FA__NOCACHE_BIN };

int32_t fa__pool_bin_off(unsigned i)
{
	return (int32_t)((char *)&fa__pool_bins[i] - fa__pool_tp());
}

static void setup_class(struct fa_pool *p, unsigned c, size_t size, const struct fa_pool_opts *o)
{
	struct fa__pool_class *k = &p->cls[c];
	size_t lim = 32768 / size;

	k->size = (uint32_t)size;
	k->stride = (uint32_t)fa__pool_round_up(size, p->align);
	if (lim < 8)
		lim = 8;
	if (lim > 512)
		lim = 512;
	k->limit = o && o->tcache_objs ? o->tcache_objs : (uint32_t)lim;
	k->batch = o && o->batch ? o->batch : (k->limit + 1) / 2;
	if (k->batch > k->limit)
		k->batch = k->limit;
	if (k->batch > 512)
		k->batch = 512;
}

void fa__pool_setup_classes(struct fa_pool *p, const struct fa_pool_opts *o)
{
	unsigned n = 0;

	if (p->obj_size) {
		setup_class(p, 0, p->obj_size, o);
		n = 1;
	} else {
		for (size_t s = p->align; s <= FA_POOL_SMALL_MAX && n < FA_POOL_MAX_CLASSES;) {
			size_t step;

			setup_class(p, n++, s, o);
			if (p->flags & FA_POOL_FINE) {
				step = ((size_t)1 << (63 - __builtin_clzl(s))) / 4;
				if (step < p->align)
					step = p->align;
			} else {
				step = s;
			}
			s += step;
		}
	}
	p->nr_classes = n;
	/* thread cache layout: each class's stack follows its NULL sentinel */
	for (unsigned c = 0, off = 0; c < n; c++) {
		p->cls[c].arr_off = off;
		off += 1 + p->cls[c].limit;
		p->tcache_size = fa__pool_round_up(
		        sizeof(struct fa__pool_tcache) + off * sizeof(void *), FA__CACHE_LINE);
		if (p->cls[c].batch > p->max_batch)
			p->max_batch = p->cls[c].batch;
	}
	p->bstride = fa__pool_round_up(
	        sizeof(struct fa__pool_batch) + p->max_batch * sizeof(void *), 64);
	/* a size maps to the smallest class >= it (a fixed pool: class 0,
	 * for sizes in the last 8-byte step above obj_size as well) */
	for (unsigned i = 1, c = 0; i <= FA_POOL_SMALL_MAX / 8; i++) {
		size_t s = (size_t)i * 8;

		while (c + 1 < n && p->cls[c].size < s)
			c++;
		p->size_cls[i] = (uint8_t)c;
	}
}

int32_t fa__pool_inline_binoff(const struct fa_pool *p, unsigned c)
{
	/* 0 sends every free out of line: pools with features, or none */
	return p->slow || !p->tbin ? 0 : fa__pool_bin_of(p, c);
}

void fa__pool_setup_inline(struct fa_pool *p)
{
	size_t max = fa__pool_max_size(p);

	for (unsigned i = 0; i <= FA_POOL_SMALL_MAX / 8; i++)
		p->head.binoff[i] = i && (size_t)i * 8 <= max ? fa__pool_bin_of(p, p->size_cls[i])
		                                              : fa__pool_bin_off(0);
	p->head.bin_span = fa__pool_bin_span(p, &p->head.bin_lo);
}
