// SPDX-License-Identifier: MIT
/*
 * Timing and harness helpers for the benchmark, at the bottom of bench/:
 * every other file may call them and they call nothing in tools/, so the
 * calls between files never go round a loop.  Latencies are read with
 * rdtsc (a few ns, no syscall) and converted with a TSC rate the driver
 * measures once against CLOCK_MONOTONIC, so every row shares one
 * conversion.  Harness buffers come from mmap: the allocator under test
 * only ever sees the workload's own requests.  Also the workload names,
 * the result line and the default pool context the pool families share.
 */
#include "bench.h"

#include "finalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_tsc_per_ns(unsigned ms)
{
	uint64_t t0, t1, c0, c1, deadline;

	t0 = bench_now_ns();
	c0 = bench_rdtsc();
	deadline = t0 + (uint64_t)ms * 1000000ull;
	do {
		t1 = bench_now_ns();
	} while (t1 < deadline);
	c1 = bench_rdtsc();
	return (double)(c1 - c0) / (double)(t1 - t0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t bench_tsc_overhead(void)
{
	uint64_t d[1001];

	/* The median: the minimum is sometimes a meaningless 1 tick. */
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		uint64_t a = bench_tsc_start();
		uint64_t b = bench_tsc_stop();

		d[i] = b - a;
	}
	qsort(d, sizeof(d) / sizeof(d[0]), sizeof(d[0]), cmp_u64);
	return d[sizeof(d) / sizeof(d[0]) / 2];
}

uint64_t bench_tsc_resolution(void)
{
	uint64_t d[1001];

	/* Under a hypervisor that traps rdtsc, two reads are ~26 ticks apart
	 * however little runs between them: that is the precision. */
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		uint64_t a = bench_rdtsc();

		d[i] = bench_rdtsc() - a;
	}
	qsort(d, sizeof(d) / sizeof(d[0]), sizeof(d[0]), cmp_u64);
	return d[sizeof(d) / sizeof(d[0]) / 2];
}

long bench_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int allowed_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n;
}

int bench_nr_cpus(void)
{
	int cpus[CPU_SETSIZE];
	int n = allowed_cpus(cpus, CPU_SETSIZE);

	return n > 0 ? n : 1;
}

int wl_cpu_for(int i)
{
	static int cpus[CPU_SETSIZE], n = -1;

	/* Read once, before any pinning narrows the mask. */
	if (n < 0)
		n = allowed_cpus(cpus, CPU_SETSIZE);
	return n > 0 ? cpus[i % n] : -1;
}

void wl_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Not fatal: an unpinned run is noisier, not wrong. */
	(void)sched_setaffinity(0, sizeof(set), &set);
}

void *wl_buf(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "bench worker: mmap %zu bytes: %s\n", size, strerror(errno));
		return NULL;
	}
	return p;
}

void wl_buf_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int wl_fail(const char *what, size_t size)
{
	fprintf(stderr, "bench worker: %s: allocation of %zu bytes failed: %s\n", what, size,
	        strerror(errno));
	return -1;
}

void wl_die(const char *what)
{
	fprintf(stderr, "bench worker: %s failed\n", what);
	_exit(1);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void wl_emit_latency(const char *name, uint32_t *lat, uint64_t n, double tsc_per_ns)
{
	static const struct {
		const char *suffix;
		double q;
	} pct[] = {
		{ "p50", 0.50 },
		{ "p99", 0.99 },
		{ "p99.9", 0.999 },
		{ "p99.99", 0.9999 },
	};
	/* Latencies are net of the timer's own cost, or every fast allocator
	 * would read as the rdtsc pair (~10 ns on this host). */
	uint64_t ovh = bench_tsc_overhead();
	char metric[64];

	if (!n)
		return;
	qsort(lat, n, sizeof(*lat), cmp_u32);
	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		uint64_t idx = (uint64_t)(pct[i].q * (double)(n - 1));
		uint64_t t = lat[idx] > ovh ? lat[idx] - ovh : 0;

		snprintf(metric, sizeof(metric), "%s.%s", name, pct[i].suffix);
		bench_emit(metric, "ns", (double)t / tsc_per_ns);
	}
	snprintf(metric, sizeof(metric), "%s.max", name);
	bench_emit(metric, "ns", (double)(lat[n - 1] > ovh ? lat[n - 1] - ovh : 0) / tsc_per_ns);
}

struct wl_ring *wl_ring_new(void)
{
	struct wl_ring *r = wl_buf(sizeof(*r));

	if (r) {
		atomic_init(&r->head, 0);
		atomic_init(&r->tail, 0);
		r->head_seen = r->tail_seen = 0;
	}
	return r;
}

void wl_ring_free(struct wl_ring *r)
{
	wl_buf_free(r, sizeof(*r));
}

void wl_ring_drain(struct wl_ring *r)
{
	unsigned spins = 0;

	while (atomic_load_explicit(&r->head, memory_order_acquire) !=
	       atomic_load_explicit(&r->tail, memory_order_relaxed))
		wl_relax(&spins);
}

void wl_pc_cpus(struct wl_pc *pc)
{
	if (bench_nr_cpus() >= 2) {
		pc->producer_cpu = wl_cpu_for(0);
		pc->consumer_cpu = wl_cpu_for(1);
	} else {
		pc->producer_cpu = pc->consumer_cpu = -1;
	}
}

void wl_larson_init(struct wl_larson *l, const struct wl_params *wp)
{
	int n = bench_nr_cpus();

	l->nthreads = n < 2 ? 2 : n > WL_LARSON_MAX_THREADS ? WL_LARSON_MAX_THREADS : n;
	l->rounds = 20;
	l->ops_per_round = wp->ops / (uint64_t)l->rounds + 1;
	atomic_init(&l->failed, 0);
	pthread_barrier_init(&l->barrier, NULL, (unsigned)l->nthreads);
}

const char *const wl_names[WL_COUNT] = {
	[WL_PAIR] = "pair",
	[WL_CHURN] = "churn",
	[WL_PRODCONS] = "prodcons",
	[WL_BUMP] = "bump",
	[WL_LARSON] = "larson",
	[WL_LARGE] = "large",
	[WL_XMALLOC] = "xmalloc",
	[WL_CACHE_SCRATCH] = "cache-scratch",
	[WL_CACHE_THRASH] = "cache-thrash",
	[WL_MSTRESS] = "mstress",
	[WL_RANDSIZE] = "randsize",
	[WL_PMR] = "pmr",
	[WL_MAP] = "map",
	[WL_TLB] = "tlb",
};

int wl_parse(const char *name)
{
	for (int i = 0; i < WL_COUNT; i++)
		if (!strcmp(name, wl_names[i]))
			return i;
	return -1;
}

void bench_emit(const char *metric, const char *unit, double value)
{
	printf("R %s %s %.6g\n", metric, unit, value);
}

/* A default size-class pool as a family's context (pool, pool-sized and
 * pool-prefetch share it). */
int bench_ctx(void **ctx, void *made)
{
	if (!made)
		return -errno;
	*ctx = made;
	return 0;
}

int bench_pool_setup(void **ctx)
{
	return bench_ctx(ctx, fa_pool_create(NULL));
}

void bench_pool_teardown(void *ctx)
{
	fa_pool_destroy(ctx);
}
