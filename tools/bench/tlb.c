// SPDX-License-Identifier: MIT
/*
 * Workload 7: random reads over a large working set backed by 4 KiB pages,
 * by 2 MiB pages (THP, hugetlb) and by FinAlloc's page backend.  The working
 * set is far beyond the TLB's reach with 4 KiB pages, so the difference is
 * the page-walk cost that huge pages remove.  Also times populating it.
 */
#include "bench.h"

#include "finalloc.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_2M ((size_t)2 << 20)

const char *const tlb_backings[] = { "4k", "thp", "hugetlb", "finalloc", NULL };

static void skip(const char *why)
{
	printf("S %s\n", why);
}

/* Share of the process's anonymous memory in THPs, from smaps_rollup. */
static double thp_share(size_t bytes)
{
	char buf[4096], *p;
	unsigned long long kb;

	if (fa__read_text("/proc/self/smaps_rollup", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "AnonHugePages:");
	if (!p || sscanf(p, "AnonHugePages: %llu kB", &kb) != 1)
		return -1;
	return 100.0 * (double)(kb << 10) / (double)bytes;
}

static void *map_aligned(size_t bytes, int advice)
{
	size_t len = bytes + HUGE_2M;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((char *)a + bytes, (uintptr_t)p + len - a - bytes);
	if (madvise((void *)a, bytes, advice)) {
		/* MADV_NOHUGEPAGE/HUGEPAGE exist on every kernel we support;
		 * failing means THP is compiled out: 4 KiB pages regardless. */
		if (advice == MADV_HUGEPAGE) {
			munmap((void *)a, bytes);
			errno = EOPNOTSUPP;
			return NULL;
		}
	}
	return (void *)a;
}

int bench_tlb_run(const char *backing, const struct wl_params *wp)
{
	size_t bytes = wp->tlb_bytes & ~(HUGE_2M - 1);
	struct fa_mem_info info;
	uint64_t t0, t1, t2, rng = 42, sum = 0;
	long f0, f1;
	char *p = NULL;
	bool fa = false;

	if (bytes < HUGE_2M) {
		fprintf(stderr, "bench worker: tlb working set too small\n");
		return -1;
	}
	f0 = bench_minflt();
	t0 = bench_now_ns();
	if (!strcmp(backing, "4k")) {
		p = map_aligned(bytes, MADV_NOHUGEPAGE);
	} else if (!strcmp(backing, "thp")) {
		p = map_aligned(bytes, MADV_HUGEPAGE);
		if (!p && errno == EOPNOTSUPP) {
			skip("transparent huge pages unavailable");
			return 0;
		}
	} else if (!strcmp(backing, "hugetlb")) {
		uint64_t free_pages = 0;

		fa__read_u64("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
		             &free_pages);
		if (free_pages * HUGE_2M < bytes) {
			char why[128];

			snprintf(why, sizeof(why), "%llu free 2 MiB hugetlb pages, %zu needed",
			         (unsigned long long)free_pages, bytes / HUGE_2M);
			skip(why);
			return 0;
		}
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT), -1, 0);
		if (p == MAP_FAILED)
			p = NULL;
	} else if (!strcmp(backing, "finalloc")) {
		struct fa_mem_opts o = { .page_size = FA_PAGE_2M };

		fa = true;
		p = fa_mem_map(bytes, &o, &info);
	} else {
		fprintf(stderr, "bench worker: unknown page backing '%s'\n", backing);
		return -1;
	}
	if (!p) {
		fprintf(stderr, "bench worker: tlb %s: mapping %zu bytes: %s\n", backing, bytes,
		        strerror(errno));
		return -1;
	}
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
	t1 = bench_now_ns();
	f1 = bench_minflt();

	/* Independent random 8-byte loads, one cache line each. */
	{
		uint64_t mask_lines = bytes / 64;

		for (uint64_t i = 0; i < wp->ops; i++) {
			uint64_t line = wl_rand(&rng) % mask_lines;

			sum += *(volatile uint64_t *)(p + line * 64);
		}
	}
	t2 = bench_now_ns();
	wl_escape(&sum);

	bench_emit("tlb", "ns/access", (double)(t2 - t1) / (double)wp->ops);
	bench_emit("tlb.populate", "ms/GiB", (double)(t1 - t0) / 1e6 / ((double)bytes / (1 << 30)));
	bench_emit("tlb.faults", "faults/2MiB", (double)(f1 - f0) / (double)(bytes / HUGE_2M));
	if (fa) {
		printf("I finalloc pages served by the %s backend, %zu KiB pages%s\n",
		       fa_backend_name(info.backend), info.page_size >> 10,
		       info.downgraded ? " (downgraded)" : "");
		if (info.backend == FA_BACKEND_THP)
			bench_emit("tlb.huge", "%", thp_share(bytes));
		fa_mem_unmap(p, bytes);
	} else {
		if (!strcmp(backing, "thp"))
			bench_emit("tlb.huge", "%", thp_share(bytes));
		munmap(p, bytes);
	}
	return 0;
}
