/* SPDX-License-Identifier: MIT */
/*
 * Workload 6 of workloads.h on its own, so that the arena family, which
 * runs no other workload of the template, instantiates it with a reset as
 * its WL_FREE.  Uses WL_FN, WL_ALLOC and WL_FREE and leaves them defined:
 * the includer undefines them.  No include guard: included once a family.
 */

/* 6. large allocations (256 KiB - 4 MiB), every page touched: the cost of
 * getting the memory and of its page faults. */
static int WL_FN(large)(void *ctx, const struct wl_params *wp)
{
	uint64_t rng = 777, ops = wp->ops, warm = ops / 10 + 2, t0 = 0, t1;
	long f0 = 0, f1;

	for (uint64_t i = 0; i < warm + ops; i++) {
		if (i == warm) {
			f0 = bench_minflt();
			t0 = bench_now_ns();
		}
		size_t sz = ((size_t)256 << 10) * (1 + wl_rand(&rng) % 16);
		char *p = WL_ALLOC(ctx, sz);

		if (!p)
			return wl_fail("large", sz);
		for (size_t off = 0; off < sz; off += 4096)
			p[off] = 1;
		wl_escape(p);
		WL_FREE(ctx, p, sz);
	}
	t1 = bench_now_ns();
	f1 = bench_minflt();
	bench_emit("large", "us/op", (double)(t1 - t0) / 1000.0 / (double)ops);
	bench_emit("large.faults", "faults/op", (double)(f1 - f0) / (double)ops);
	return 0;
}
