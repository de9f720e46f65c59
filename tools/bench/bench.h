/* SPDX-License-Identifier: MIT */
/*
 * The benchmark workers' side: the workloads' parameters, the allocator
 * families that run them, and the timing and harness helpers, shared by
 * the worker (worker.c), the families (fa.c, prefetch.c, malloc.c), the
 * page-size workload (tlb.c), the callgrind loops (instr.c) and, below all
 * of them, the helpers (harness.c).  The driver's side is driver.h.
 *
 * Every measurement runs in a child process (`finalloc bench --worker ...`),
 * re-executed with LD_PRELOAD=<peer malloc> for the peers, so a peer's malloc
 * really replaces glibc's there and no allocator sees another's heap.
 */
#ifndef FA_BENCH_H
#define FA_BENCH_H

#include "tools.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

/* WL_PMR and WL_MAP are C++ (cxx.cpp, through cxx.h). */
enum wl_id {
	WL_PAIR,
	WL_CHURN,
	WL_PRODCONS,
	WL_BUMP,
	WL_LARSON,
	WL_LARGE,
	WL_XMALLOC,
	WL_CACHE_SCRATCH,
	WL_CACHE_THRASH,
	WL_MSTRESS,
	WL_RANDSIZE,
	WL_PMR,
	WL_MAP,
	WL_TLB,
	WL_COUNT
};

struct wl_params {
	uint64_t ops;      /* operations (messages, objects) to time */
	double tsc_per_ns; /* TSC rate measured by the driver */
	size_t tlb_bytes;  /* working set of the page-size workload */
	size_t churn_live; /* live objects of the churn workload (a power of 2) */
};

struct wl_obj {
	void *p;
	size_t size;
};

typedef int (*wl_run_fn)(void *ctx, const struct wl_params *wp);

/* An allocator family: how a worker sets it up and runs each workload. */
struct bench_family {
	const char *name;
	bool optional;               /* runs only when --alloc names it */
	int (*setup)(void **ctx);    /* 0 or -errno; may be NULL */
	void (*teardown)(void *ctx); /* may be NULL */
	wl_run_fn run[WL_COUNT];     /* NULL: the workload does not apply */
};

/* The run table of a family instantiated from workloads.h with
 * WL_FN(name) = p##name; _PAIR gives its pair workload apart, _CXX adds
 * the C++ workloads (NULL: not run). */
#define WL_RUNS_CXX(p, pair, pmr, map)                                                  \
	{                                                                               \
		[WL_PAIR] = (pair), [WL_CHURN] = p##churn, [WL_PRODCONS] = p##prodcons, \
		[WL_BUMP] = p##bump, [WL_LARSON] = p##larson, [WL_LARGE] = p##large,    \
		[WL_XMALLOC] = p##xmalloc, [WL_CACHE_SCRATCH] = p##cache_scratch,       \
		[WL_CACHE_THRASH] = p##cache_thrash, [WL_MSTRESS] = p##mstress,         \
		[WL_RANDSIZE] = p##randsize, [WL_PMR] = (pmr), [WL_MAP] = (map),        \
	}
#define WL_RUNS_PAIR(p, pair) WL_RUNS_CXX(p, pair, NULL, NULL)
#define WL_RUNS(p)            WL_RUNS_PAIR(p, p##pair)

/* ---- worker.c ---- */
int bench_worker_main(int argc, char **argv);

/* ---- instr.c ---- */
/* Instruction-count loops for `bench --instr WHAT OPS`. */
int bench_instr_main(int argc, char **argv);

/* ---- malloc.c ---- */
extern const struct bench_family bench_malloc_family;

/* ---- fa.c ---- */
/* FinAlloc's allocator families, NULL-terminated. */
extern const struct bench_family *const bench_fa_families[];

/* ---- prefetch.c ---- */
extern const struct bench_family bench_pool_prefetch_family;

/* ---- tlb.c ---- */
extern const char *const tlb_backings[]; /* NULL-terminated */
int bench_tlb_run(const char *backing, const struct wl_params *wp);

/* ---- harness.c: calls nothing above it ---- */
extern const char *const wl_names[WL_COUNT];
int wl_parse(const char *name); /* enum wl_id or -1 */
/* One result line for the driver: "R metric unit value". */
void bench_emit(const char *metric, const char *unit, double value);
/* A family's setup from its constructor's result: 0 and *ctx = made, or
 * -errno when made is NULL. */
int bench_ctx(void **ctx, void *made);
/* A default size-class pool as a family's context. */
int bench_pool_setup(void **ctx);
void bench_pool_teardown(void *ctx);
static inline uint64_t bench_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
/* Fenced reads for short intervals (Intel's "How to benchmark code execution
 * times"): the work cannot drift outside the pair. */
static inline uint64_t bench_tsc_start(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t bench_tsc_stop(void)
{
	uint32_t lo, hi, aux;

	__asm__ __volatile__("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}
uint64_t bench_now_ns(void);
/* TSC ticks per ns, measured against CLOCK_MONOTONIC over ms milliseconds. */
double bench_tsc_per_ns(unsigned ms);
/* Median cost of an empty bench_tsc_start/stop pair, in ticks. */
uint64_t bench_tsc_overhead(void);
/* Median distance of two back-to-back rdtsc reads: the precision. */
uint64_t bench_tsc_resolution(void);
long bench_minflt(void);
int bench_nr_cpus(void); /* CPUs this process may run on */
int wl_cpu_for(int i);   /* i-th allowed CPU, wrapping */
void wl_pin(int cpu);    /* no-op for cpu < 0 */
/* Harness memory comes from mmap so it never touches the measured heap. */
void *wl_buf(size_t size);
void wl_buf_free(void *p, size_t size);
int wl_fail(const char *what, size_t size); /* message, returns -1 */
void wl_die(const char *what) __attribute__((noreturn));
/* Sort the latencies (TSC ticks) and emit p50..max in ns. */
void wl_emit_latency(const char *name, uint32_t *lat, uint64_t n, double tsc_per_ns);

static inline uint64_t wl_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline size_t wl_size(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)((wl_rand(s) >> 32) % (hi - lo + 1));
}

/* Keep the compiler from proving an allocation unused and eliding it. */
static inline void wl_escape(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline void wl_relax(unsigned *spins)
{
	if (++*spins < 4096) {
		__builtin_ia32_pause();
	} else {
		*spins = 0;
		sched_yield(); /* both threads may share one CPU */
	}
}

/* Single-producer single-consumer ring; NULL is the end-of-stream marker.
 * Each side keeps its last view of the other's index and reads the shared
 * one only when the ring looks full (empty), so the harness moves few lines
 * between the cores and what is measured is mostly the allocator. */
#define WL_RING_SIZE 1024
struct wl_ring {
	_Alignas(64) _Atomic uint64_t head; /* consumer's */
	uint64_t tail_seen;                 /* consumer's view of tail */
	_Alignas(64) _Atomic uint64_t tail; /* producer's */
	uint64_t head_seen;                 /* producer's view of head */
	_Alignas(64) void *slot[WL_RING_SIZE];
};

struct wl_ring *wl_ring_new(void);
void wl_ring_free(struct wl_ring *r);
void wl_ring_drain(struct wl_ring *r); /* wait until the consumer caught up */

static inline void wl_ring_push(struct wl_ring *r, void *p)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned spins = 0;

	while (t - r->head_seen >= WL_RING_SIZE) {
		r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
		if (t - r->head_seen >= WL_RING_SIZE)
			wl_relax(&spins);
	}
	r->slot[t & (WL_RING_SIZE - 1)] = p;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

static inline void *wl_ring_pop(struct wl_ring *r)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned spins = 0;
	void *p;

	while (r->tail_seen == h) {
		r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (r->tail_seen == h)
			wl_relax(&spins);
	}
	p = r->slot[h & (WL_RING_SIZE - 1)];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return p;
}

/* Producer/consumer workload state. */
struct wl_pc {
	void *ctx;
	size_t size;
	struct wl_ring *ring;
	int producer_cpu, consumer_cpu;
};
void wl_pc_cpus(struct wl_pc *pc);

/* Larson workload state. */
#define WL_LARSON_SLOTS       1024
#define WL_LARSON_MAX_THREADS 8
struct wl_larson {
	void *ctx;
	int nthreads, rounds;
	uint64_t ops_per_round;
	_Atomic int failed;
	pthread_barrier_t barrier;
	struct wl_obj *table[WL_LARSON_MAX_THREADS];
};
struct wl_larson_thread {
	struct wl_larson *l;
	pthread_t tid;
	int id, cpu;
};
void wl_larson_init(struct wl_larson *l, const struct wl_params *wp);

#endif /* FA_BENCH_H */
