/* SPDX-License-Identifier: MIT */
/*
 * lib/pool: the size-class pool allocator.  Internals shared by its files,
 * one concept each; each calls only the files listed before it:
 *   class.c      size classes, the inline path's TLS bins and tables
 *   stats.c      counters, snapshots, text/JSON
 *   large.c      large objects and the cache of idle large mappings
 *   debug.c      misuse reports, poison, double and foreign free checks
 *   stack.c      batch descriptors and the per-class shared lists
 *   slab.c       regions and slabs: carving objects
 *   tcache.c     a thread cache's bins: refill, flush
 *   quarantine.c freed objects held back before reuse
 *   thread.c     the calling thread's cache of a pool, thread exit
 *   alloc.c      the out-of-line alloc and free, fa_pool_flush
 *   trim.c       fa_pool_trim: idle slabs and regions go back
 *   create.c     create/destroy, the registry of pools, fork
 *
 * Memory layout: the backend maps regions (2 MiB and growing); a region is
 * cut into 64 KiB slabs aligned to 64 KiB, each holding objects of one class
 * behind a struct fa__pool_slab at its base, so the class of any object is
 * one mask and one load away.  A large object gets its own mapping with a
 * struct fa__pool_large at a 64 KiB boundary just below it; when freed, the
 * mapping may stay idle in the pool's large cache (header marked idle,
 * described by an entry in pool->lcache[], never read through the mapping
 * itself) until a large request fits it.
 *
 * fa_pool_trim (trim.c) turns slabs whose objects are all on their
 * class's shared list into free slabs (pool->free_slabs, any class takes
 * them before the bump) and unmaps regions left with no slab in use; a
 * region slot it empties (lo == hi == NULL, maps[r].base NULL) is skipped
 * by every reader and reused by the next region.
 */
#ifndef FA_POOL_INTERNAL_H
#define FA_POOL_INTERNAL_H

#include "util/memcheck.h"
#include "util/rwlock.h"
#include "backend/backend.h"

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#define FA__SLAB_SIZE           ((size_t)FA__POOL_SLAB_SIZE)
#define FA__SLAB_MASK           (~(uintptr_t)(FA__SLAB_SIZE - 1))
#define FA__SLAB_MAGIC          0xfa51ab00u
#define FA__SLAB_FREE_MAGIC     0xfa51abfeu /* trimmed, on pool->free_slabs */
#define FA__REGION_NONE         ((unsigned)-1)
#define FA__LARGE_MAGIC         0xfa1a6e00u
#define FA__LARGE_IDLE_MAGIC    0xfa1a6e1du /* freed, mapping cached */
#define FA__LARGE_CACHE_MAX     32          /* idle large mappings per pool */
#define FA__LARGE_CACHE_DEFAULT ((size_t)64 << 20)
#define FA__POOL_MAX_REGIONS    1024
#define FA__BATCH_PER_CHUNK     256u
#define FA__BATCH_CHUNKS        4096u
#define FA__STASH               8
#define FA__REFILL_PREFETCH     4   /* objects prefetched when a refill lands */
#define FA__REFILL_CHUNK        32u /* pointers a refill copies from a taken batch */
#define FA__POOL_HIST           48
#define FA__POISON64            0xa5a5a5a5a5a5a5a5ull

/* Internal: a memory debugger watches the pool (util/memcheck.h); it
 * takes the out-of-line path with the debug bitmap, which tells live
 * objects from free ones.  Never in fa_pool_stats' flags. */
#define FA__POOL_MC     (1u << 31)
#define FA__POOL_CHECKS (FA_POOL_DEBUG | FA__POOL_MC)

/* Features that need the out-of-line path. */
#define FA__POOL_SLOW_FLAGS                                                                        \
	(FA_POOL_ZERO | FA_POOL_POISON | FA_POOL_QUARANTINE | FA_POOL_DEBUG | FA_POOL_CTOR_EVERY | \
	 FA_POOL_SIZE_HIST)

/*
 * What every header at a 64 KiB boundary starts with: a slab's, a free
 * slab's, a large object's here and lib/numa's large map's.  The inline
 * free in include/finalloc.h (fa__pool_free_inl) reads the int32_t at
 * ptr & ~(FA__POOL_SLAB_SIZE - 1) as its bin's offset, so binoff comes
 * first; then a magic telling the headers apart, then the owning pool
 * (fa_numa_free reads it; NULL in a numa large map's header).
 */
struct fa__pool_hdr {
	int32_t binoff; /* first: read by the inline free; bin 0 sends it
	                   out of line */
	uint32_t magic;
	struct fa_pool *pool;
};

_Static_assert(offsetof(struct fa__pool_hdr, binoff) == 0 &&
                       sizeof(((struct fa__pool_hdr *)0)->binoff) == sizeof(int32_t),
               "the inline free reads an int32_t bin offset at the 64 KiB boundary");
_Static_assert(FA__POOL_SLAB_SIZE == 65536u, "headers sit at 64 KiB boundaries");

struct fa__pool_slab {
	struct fa__pool_hdr hdr; /* first; magic FA__SLAB_MAGIC */
	char *first, *end;       /* objects: [first, end) */
	uint32_t stride, nobj;
	uint32_t cls;
	uint64_t divc;           /* UINT64_MAX / stride + 1: fa__pool_at_object */
	_Atomic uint64_t bits[]; /* FA_POOL_DEBUG: bit set = allocated */
};

/* A slab fa_pool_trim freed (pool->lock): the same header as a slab
 * (binoff 0: a stray inline free goes out of line), then the free list;
 * the rest of the slab is garbage until slab_new rewrites the header. */
struct fa__pool_free_slab {
	struct fa__pool_hdr hdr; /* first; bin 0, magic FA__SLAB_FREE_MAGIC */
	struct fa__pool_free_slab *next;
	unsigned region; /* its slot in pool->regions */
};

struct fa__pool_large {
	struct fa__pool_hdr hdr; /* first; bin 0: the inline free goes slow */
	struct fa__pool_large *prev, *next;
	void *ptr;
	size_t size; /* requested */
	struct fa__map map;
	bool traced; /* its ALLOC is in the journal: so goes its FREE */
};

_Static_assert(offsetof(struct fa__pool_slab, hdr) == 0 &&
                       offsetof(struct fa__pool_free_slab, hdr) == 0 &&
                       offsetof(struct fa__pool_large, hdr) == 0,
               "every 64 KiB header starts with struct fa__pool_hdr");

/* An idle large mapping (pool->lock); the map is kept here, not only in the
 * header, so eviction and fork never depend on the mapping's contents. */
struct fa__pool_idle {
	struct fa__pool_large *l;
	struct fa__map map;
};

/* A batch of objects on a shared list, as an array of pointers (moving a
 * batch never touches the objects).  Descriptors are never freed before
 * the pool, so a stale reader of next is harmless (the tag catches it). */
struct fa__pool_batch {
	_Atomic uint32_t next;
	uint32_t n;
	void *obj[]; /* up to the pool's max_batch */
};

struct fa__pool_class {
	_Atomic uint64_t top;    /* batch stack: tag << 32 | index */
	_Atomic uint64_t shared; /* objects on it */
	_Atomic uint64_t carved, slabs, hwm, quarantined;
	uint32_t size, stride, limit, batch;
	uint32_t arr_off; /* its stack in a tcache's slots[] */
	uint32_t color;   /* pool->lock: slabs made, for the next one's
	                     colour (slab_new) */
	void *overflow;   /* pool->lock: objects linked through
	                     their first word when no descriptor
	                     memory could be had; stored
	                     atomically, shared_pop peeks at it */
	uint64_t noverflow;
} FA__ALIGNED_CL;

struct fa__pool_tcache {
	/* the bins of the classes: the owner thread's range of
	 * fa__pool_bins while it lives (pools with the inline path), else
	 * own[]; they change under pool->lock, where readers look */
	struct fa__pool_bin *bins;
	struct fa__pool_bin own[FA_POOL_MAX_CLASSES];
	struct fa_pool *pool;
	struct fa__pool_tcache *next_all, *next_idle;
	struct fa__pool_tcache **slot_any; /* the owner thread's TLS slot */
	/* written by the owner (FA__POOL_ADD), read by stats */
	uint64_t taken[FA_POOL_MAX_CLASSES];  /* objects into the bin, not frees */
	uint64_t given[FA_POOL_MAX_CLASSES];  /* objects out, not allocs */
	uint64_t qfrees[FA_POOL_MAX_CLASSES]; /* frees that went to quarantine */
	uint64_t hist[FA__POOL_HIST];
	/* a batch taken from the shared list, handed to the bin a chunk at a
	 * time so that no refill copies a whole batch of lines that another
	 * core wrote; counted in taken[] and as cached */
	uint32_t pend[FA_POOL_MAX_CLASSES];   /* descriptor index, 0: none */
	uint32_t pend_n[FA_POOL_MAX_CLASSES]; /* its objects not yet in the bin */
	uint32_t stash[FA__STASH];            /* spare batch descriptors */
	unsigned nstash;
	/* per class: a NULL sentinel, then the stack of limit pointers */
	void *slots[] FA__ALIGNED_CL;
} FA__ALIGNED_CL;

struct fa__pool_qent {
	void *ptr;
	uint32_t cls;
	uint64_t t;
};

struct fa__pool_quarantine {
	pthread_mutex_t lock;
	struct fa__pool_qent *ring;
	size_t cap, head, n, bytes;
	size_t max_bytes;
	uint64_t max_ns;
};

struct fa__pool_region {
	char *lo, *hi;        /* slab range; NULL: an empty slot */
	_Atomic uint32_t seq; /* odd while lo/hi change: read them
	                         with fa__pool_region_read */
	uint32_t used;        /* pool->lock: slabs carved from it
	                         and not free */
};

struct fa_pool {
	struct fa__pool_head head; /* first: read by the inline path */
	unsigned tslot;            /* TLS slot of the caches (FA__POOL_SLOTS:
	                              none, one shared locked cache) */
	unsigned tbin;             /* its first bin in fa__pool_bins; 0: none,
	                              the inline path always goes out of line */
	unsigned flags;
	unsigned nr_classes;
	uint8_t size_cls[FA_POOL_SMALL_MAX / 8 + 1]; /* class by (size + 7) / 8 */
	size_t align;
	size_t obj_size; /* fixed pool, else 0 */
	size_t slab_hdr;
	size_t tcache_size; /* bytes, slots[] included */
	size_t bstride;     /* bytes per batch descriptor */
	uint32_t max_batch; /* bytes before the first object */
	bool slow;          /* features: no inline path */
	int mc;             /* FA__MC_*: the memory debugger, at create */
	bool once_hooks;    /* ctor at carve, dtor at destroy */
	char name[32];
	const char *owner; /* set: fa_pool_destroy refuses (a NUMA node's) */
	fa_pool_hook_fn ctor, dtor;
	void *hook_arg;
	fa_pool_report_fn report;
	void *report_arg;
	struct fa_mem_opts mem;
	bool has_mem;

	struct fa__pool_class cls[FA_POOL_MAX_CLASSES];

	/* pool->lock: regions, slab bump, batch chunks, tcache lists, large */
	pthread_mutex_t lock;
	struct fa__map *maps; /* [FA__POOL_MAX_REGIONS] */
	struct fa__pool_region regions[FA__POOL_MAX_REGIONS];
	_Atomic unsigned nr_regions;
	char *bump, *bump_end;
	unsigned bump_region;                  /* the slot bump cuts from */
	struct fa__pool_free_slab *free_slabs; /* trimmed slabs, any class */
	_Atomic uint64_t nr_free_slabs;        /* written under the lock */
	size_t next_region;
	size_t max_bytes;
	_Atomic uint64_t bytes_mapped, bytes_slabs;

	_Atomic(struct fa__pool_batch *) bchunk[FA__BATCH_CHUNKS];
	unsigned nr_bchunks;
	uint32_t bnext;         /* first never used, under the lock */
	_Atomic uint64_t bfree; /* stack of free descriptors */

	struct fa__pool_tcache *all, *idle;
	_Atomic uint64_t threads;
	pthread_mutex_t shared_lock; /* pools without a TLS slot */
	struct fa__pool_tcache *shared_tc;

	struct fa__pool_large *large;
	/* the journal (lib/trace): large objects of trace_min bytes and up */
	bool tracing;
	size_t trace_min;
	uint64_t trace_id;
	_Atomic uint64_t large_allocs, large_frees, large_bytes, large_live;
	/* large cache (pool->lock): lcache[0] is the oldest */
	struct fa__pool_idle lcache[FA__LARGE_CACHE_MAX];
	unsigned nlcache;
	size_t idle_max;                        /* bytes; 0: no cache */
	_Atomic uint64_t idle_bytes, idle_maps; /* written under the lock */
	_Atomic uint64_t large_hits, large_misses;

	struct fa__pool_quarantine q;
	_Atomic uint64_t reports;

	/* fa_pool_trim: one at a time (before shared_lock in lock order) */
	pthread_mutex_t trim_lock;
	/* FA_POOL_DEBUG: the checks of freed pointers read slab headers
	 * under it (read), trim frees slabs and unmaps regions and a slab
	 * is reused under it (write); after shared_lock, before pool->lock */
	struct fa__rwlock check_lock;
	_Atomic uint64_t trim_slabs, trim_bytes; /* ever freed / unmapped */

	/* snapshots */
	pthread_mutex_t snap_lock;
	pthread_cond_t snap_cond;
	struct fa_pool_snapshot *snaps;
	size_t snap_cap, snap_head, snap_n;
	unsigned snap_ms;
	bool snap_stop, snap_thread_on;
	_Atomic bool snap_restart; /* set in a fork child */
	pthread_t snap_thread;

	struct fa_pool *fork_prev, *fork_next; /* reg_lock: every pool, for fork */
};

static inline struct fa__pool_slab *fa__pool_slab_of(const void *ptr)
{
	return (struct fa__pool_slab *)((uintptr_t)ptr & FA__SLAB_MASK);
}

/* Is p the start of one of s's objects?  No division: x is below 2^32, so
 * x * divc (mod 2^64) is below divc exactly when stride divides x
 * (Lemire, Kaser, Kurz: "Faster remainder by direct computation"). */
static inline bool fa__pool_at_object(const struct fa__pool_slab *s, const void *p)
{
	uint64_t x = (uint64_t)((const char *)p - s->first);

	return x < (uint64_t)(s->end - s->first) && x * s->divc <= s->divc - 1;
}

static inline uint64_t fa__pool_ld(const uint64_t *x)
{
	return __atomic_load_n(x, __ATOMIC_RELAXED);
}

/* Slot r's range, read without pool->lock (the debug free path): a
 * seqlock against fa__pool_region_write.  An empty slot reads NULL, NULL. */
static inline void fa__pool_region_read(struct fa_pool *p, unsigned r, char **lo, char **hi)
{
	struct fa__pool_region *g = &p->regions[r];
	uint32_t s1, s2;

	do {
		s1 = atomic_load_explicit(&g->seq, memory_order_acquire);
		*lo = __atomic_load_n(&g->lo, __ATOMIC_ACQUIRE);
		*hi = __atomic_load_n(&g->hi, __ATOMIC_ACQUIRE);
		s2 = atomic_load_explicit(&g->seq, memory_order_relaxed);
	} while ((s1 & 1) || s1 != s2);
}

/* Set slot r's range (pool->lock held). */
static inline void fa__pool_region_write(struct fa_pool *p, unsigned r, char *lo, char *hi)
{
	struct fa__pool_region *g = &p->regions[r];
	uint32_t s = atomic_load_explicit(&g->seq, memory_order_relaxed);

	atomic_store_explicit(&g->seq, s + 1, memory_order_relaxed);
	__atomic_store_n(&g->lo, lo, __ATOMIC_RELEASE);
	__atomic_store_n(&g->hi, hi, __ATOMIC_RELEASE);
	atomic_store_explicit(&g->seq, s + 2, memory_order_release);
}

/* Objects of class k out of its shared list (in caches, live, pending),
 * for the high-water mark.  shared is read first, with acquire: every add
 * to it is a release that follows the add to carved for those objects (a
 * carve's publish), so the difference counts no half-published batch; it
 * is clamped because a trim drops carved, then shared, and a read between
 * the two may find carved below shared. */
static inline uint64_t fa__pool_out(struct fa__pool_class *k)
{
	uint64_t shared = atomic_load_explicit(&k->shared, memory_order_acquire);
	uint64_t carved = atomic_load_explicit(&k->carved, memory_order_relaxed);

	return carved > shared ? carved - shared : 0;
}

static inline size_t fa__pool_round_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline uint64_t fa__pool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Objects in a thread's cache of class c: its bin and its pending batch. */
static inline uint64_t fa__pool_bin_count(const struct fa_pool *p, const struct fa__pool_tcache *tc,
                                          unsigned c)
{
	void **sp = __atomic_load_n(&tc->bins[c].sp, __ATOMIC_RELAXED);

	return p->cls[c].limit - (uint64_t)(tc->bins[c].end - sp) +
	       __atomic_load_n(&tc->pend_n[c], __ATOMIC_RELAXED);
}

/* ---- class.c ---- */
/* No cache: a bin both empty (alloc goes slow) and full (free goes slow);
 * every thread's bins start so, bin 0 stays so.  The slot is never
 * written, so it lives in read-only memory. */
extern void *const fa__pool_nullslot[1];
#define FA__NOCACHE_SLOT ((void **)&fa__pool_nullslot[1])
#define FA__NOCACHE_BIN  ((struct fa__pool_bin){ .sp = FA__NOCACHE_SLOT, .end = FA__NOCACHE_SLOT })
/* fa__pool_bins[i]'s offset from the thread pointer, what the owner map
 * holds for the inline free; bin 0 sends the free out of line. */
int32_t fa__pool_bin_off(unsigned i);
/* The inline path's bin offset for class c: bin 0 (always out of line)
 * when the pool holds no bins. */
static inline int32_t fa__pool_bin_of(const struct fa_pool *p, unsigned c)
{
	return fa__pool_bin_off(p->tbin ? p->tbin + c : 0);
}
/* The bin offsets the owner map gives p's slabs: [*lo, *lo + span), span
 * 0 when every free of p goes out of line. */
static inline uint32_t fa__pool_bin_span(const struct fa_pool *p, int32_t *lo)
{
	*lo = 0;
	if (p->slow || !p->tbin)
		return 0;
	*lo = fa__pool_bin_off(p->tbin);
	return p->nr_classes * (uint32_t)sizeof(struct fa__pool_bin);
}
static inline size_t fa__pool_max_size(const struct fa_pool *p)
{
	return p->obj_size ? p->obj_size : p->cls[p->nr_classes - 1].size;
}
/* The classes of a new pool (flags, align and obj_size set). */
void fa__pool_setup_classes(struct fa_pool *p, const struct fa_pool_opts *o);
/* The inline path's tables, once the pool holds its bins (or none). */
void fa__pool_setup_inline(struct fa_pool *p);
/* Mark p as owner's (a string literal): fa_pool_destroy refuses it and
 * only fa__pool_destroy frees it. */
/* fa_pool_create for an allocator above (owner named: fa_pool_destroy
 * refuses it; FINALLOC_TRACE does not make it journal). */
struct fa_pool *fa__pool_create(const struct fa_pool_opts *opts, const char *owner);
void fa__pool_destroy(struct fa_pool *p);
/* What the owner map holds for a slab of class c: its bin's offset, 0 for
 * a pool whose frees all go out of line. */
int32_t fa__pool_inline_binoff(const struct fa_pool *p, unsigned c);

/* ---- stats.c ---- */
int fa__pool_snap_init(struct fa_pool *p, const struct fa_pool_opts *o);
void fa__pool_snap_fini(struct fa_pool *p);
/* In a fork child (snap_lock held by fork_prepare): fresh lock and cond;
 * the sampler thread did not survive the fork, and no thread may be
 * started from a fork handler, so the pool's next slow-path call, flush or
 * snapshot starts it again (fa__pool_snap_resume: one load when not due). */
void fa__pool_snap_fork_child(struct fa_pool *p);
void fa__pool_snap_resume(struct fa_pool *p);

/* ---- large.c ---- */
/* site (file, line, func) for the journal, NULLs when the caller gave none */
void *fa__pool_large_alloc(struct fa_pool *p, size_t size, const char *file, int line,
                           const char *func);
/* Keep l's mapping idle in the cache or unmap it; false (nothing done) if
 * l is not live: the caller reports the double free. */
bool fa__pool_large_free(struct fa_pool *p, struct fa__pool_large *l);
/* Live large object ptr, or NULL (*idle: its mapping is in the cache). */
struct fa__pool_large *fa__pool_large_find(struct fa_pool *p, const void *ptr, bool *idle);
/* Unmap every idle large mapping. */
void fa__pool_large_trim(struct fa_pool *p);
/* Take the oldest idle mappings off the cache (pool->lock held) until it
 * holds at most max_n of them and max_b bytes; they go to out, to be
 * unmapped by fa__pool_idle_release once the lock is dropped. */
unsigned fa__pool_idle_evict(struct fa_pool *p, unsigned max_n, uint64_t max_b,
                             struct fa__pool_idle *out);
void fa__pool_idle_release(struct fa_pool *p, struct fa__pool_idle *v, unsigned n);
/* In a fork child: drop the idle device mappings, not inherited. */
void fa__pool_large_fork_child(struct fa_pool *p);

/* ---- debug.c ---- */
void fa__pool_reportf(struct fa_pool *p, int error, void *ptr, unsigned cls, size_t offset,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void fa__pool_poison(void *o, size_t size);
/* Verify poison over [from, size) of a free object: 0 or report (then
 * re-poison). */
int fa__pool_verify(struct fa_pool *p, void *o, unsigned cls, size_t from);
/* Debug: slab of a pointer of this pool, or NULL after a report (a large
 * object freed into the large cache is reported as a double free).  *cls:
 * its class.  freeing: a free, its bit is cleared (a double free reported);
 * the slab then stays, its object out.  Not freeing, the slab may be
 * trimmed as soon as this returns: use *cls, not the header. */
struct fa__pool_slab *fa__pool_check_ptr(struct fa_pool *p, void *ptr, bool *large, bool freeing,
                                         unsigned *cls);
/* Every mode: the slab (or large header) of an object of p, through the
 * owner map, or NULL after a report: not FinAlloc memory, another pool's,
 * not at an object's start, a trimmed slab or an idle large mapping. */
struct fa__pool_slab *fa__pool_owner(struct fa_pool *p, void *ptr, bool *large);
/* Debug bitmap: mark an object of a slab in use allocated. */
void fa__pool_mark_alloc(struct fa_pool *p, struct fa__pool_slab *s, void *o);
/* Debug bitmap: whether object o of slab s is allocated. */
bool fa__pool_obj_live(struct fa__pool_slab *s, void *o);
/* Under a memory debugger: n pointers the pool no longer holds there are
 * cleared, so a stale copy never keeps a leaked object reachable. */
static inline void fa__pool_mc_clear(const struct fa_pool *p, void **v, size_t n)
{
	if (fa__unlikely(p->mc == FA__MC_VALGRIND))
		for (size_t i = 0; i < n; i++)
			v[i] = NULL;
}

/* ---- stack.c ---- */
/* Batch descriptor i. */
static inline struct fa__pool_batch *fa__pool_bdesc(struct fa_pool *p, uint32_t i)
{
	char *ch = (char *)atomic_load_explicit(&p->bchunk[i / FA__BATCH_PER_CHUNK],
	                                        memory_order_acquire);

	return (struct fa__pool_batch *)(ch + (size_t)(i % FA__BATCH_PER_CHUNK) * p->bstride);
}

/* Treiber stack of descriptor indices; the 32-bit tag bumped on every
 * change makes a CAS fail after an A-B-A sequence (2^32 changes between
 * one thread's read and its CAS would be needed to fool it). */
static inline void fa__pool_stack_push(struct fa_pool *p, _Atomic uint64_t *top, uint32_t i)
{
	struct fa__pool_batch *d = fa__pool_bdesc(p, i);
	uint64_t old = atomic_load_explicit(top, memory_order_relaxed), nw;

	do {
		atomic_store_explicit(&d->next, (uint32_t)old, memory_order_relaxed);
		nw = (((old >> 32) + 1) << 32) | i;
	} while (!atomic_compare_exchange_weak_explicit(top, &old, nw, memory_order_release,
	                                                memory_order_relaxed));
}

static inline uint32_t fa__pool_stack_pop(struct fa_pool *p, _Atomic uint64_t *top)
{
	uint64_t old = atomic_load_explicit(top, memory_order_acquire), nw;

	do {
		uint32_t i = (uint32_t)old;

		if (!i)
			return 0;
		nw = (((old >> 32) + 1) << 32) |
		     atomic_load_explicit(&fa__pool_bdesc(p, i)->next, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(top, &old, nw, memory_order_acquire,
	                                                memory_order_acquire));
	return (uint32_t)old;
}

/* A descriptor no longer used: to tc's stash (tc may be NULL), else the
 * pool's free stack. */
static inline void fa__pool_desc_put(struct fa_pool *p, struct fa__pool_tcache *tc, uint32_t i)
{
	if (tc && tc->nstash < FA__STASH)
		tc->stash[tc->nstash++] = i;
	else
		fa__pool_stack_push(p, &p->bfree, i);
}

/* For fa_pool_trim: take a whole stack (its first descriptor, the rest
 * chained by next; 0: empty). */
uint32_t fa__pool_stack_take(_Atomic uint64_t *top);
/* Publish n objects (n <= max_batch) on class c's shared list.  0, or
 * -ENOMEM: no descriptor memory, the objects went to the overflow list. */
int fa__pool_shared_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **obj,
                         uint32_t n);
/* Take up to max objects of class c from the shared list (or the overflow
 * list) into out.  Returns how many. */
uint32_t fa__pool_shared_pop(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **out,
                             uint32_t max);

/* ---- slab.c ---- */
/* A new region of at least want bytes of slabs, the bump's (pool->lock
 * held): 0 or -errno. */
int fa__pool_region_add(struct fa_pool *p, size_t want);
/* Carve a new slab of class c: construct/poison its objects, put up to max
 * of them in out and publish the rest in batches.  Returns how many went
 * to out; 0 with errno if no slab could be had. */
uint32_t fa__pool_carve(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void **out,
                        uint32_t max);
/* Carved objects of every slab, for dtor at destroy. */
void fa__pool_each_object(struct fa_pool *p, void (*fn)(struct fa_pool *, void *, size_t));

/* ---- tcache.c ---- */
/* A new (or idle) cache of p, on p's list; NULL if none can be made. */
struct fa__pool_tcache *fa__pool_tcache_new(struct fa_pool *p);
/* Fill the empty bin c. */
void fa__pool_refill(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c);
/* Everything tc holds goes to the shared lists. */
void fa__pool_flush_all(struct fa_pool *p, struct fa__pool_tcache *tc);
/* Push a freed object on tc's bin of class c; user: a free (counted),
 * else an object coming back from quarantine. */
void fa__pool_cache_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o,
                         bool user);
/* tc's bins move back to own[], counters and all (p->lock held); the
 * thread's range of fa__pool_bins is left as it was (fork child: the
 * owner is gone). */
void fa__pool_bins_detach(struct fa_pool *p, struct fa__pool_tcache *tc);
/* The same, and the owner's range goes back to the no-cache state, so its
 * next call goes out of line (thread exit, by the owner; fa_pool_destroy,
 * by any thread; p->lock held). */
void fa__pool_bins_reset(struct fa_pool *p, struct fa__pool_tcache *tc);

/* ---- quarantine.c ---- */
int fa__pool_quarantine_init(struct fa_pool *p, const struct fa_pool_opts *o);
void fa__pool_quarantine_fini(struct fa_pool *p);
void fa__pool_quarantine_put(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o);
/* Release held objects: due ones, or all. */
void fa__pool_quarantine_drain(struct fa_pool *p, struct fa__pool_tcache *tc, bool all);

/* ---- thread.c ---- */
/* TLS slots, thread exit, destroy, the pool list (create.c) and bins: the
 * first lock in the order (see create.c). */
extern pthread_mutex_t fa__pool_reg_lock;
struct fa__pool_tcache *fa__pool_tcache_get(struct fa_pool *p, bool *locked);
void fa__pool_tcache_put(struct fa_pool *p, bool locked);
/* In a fork child (every lock held): the other threads' caches leave
 * their TLS slots. */
void fa__pool_thread_fork_child(struct fa_pool *p);

/* ---- trim.c ---- */
/* Bytes a trim could find idle (objects on the shared lists, free slabs),
 * from a few loads. */
uint64_t fa__pool_trimmable(struct fa_pool *p);
/* Set max_bytes (a NUMA node's share of a budget). */
void fa__pool_set_max_bytes(struct fa_pool *p, size_t max);

/* ---- create.c ---- */
/* call fn for every live pool, oldest first, under the registry
 * lock (fn must not create or destroy pools; fa_pool_stats is fine). */
void fa__pool_foreach(void (*fn)(struct fa_pool *, void *), void *arg);

/* fork(2), called from lib/fork.c only: the registry lock, then each pool's
 * trim, shared, check, pool, quarantine and snapshot locks. */
void fa__pool_prefork(void);
void fa__pool_postfork_parent(void);
void fa__pool_postfork_child(void);

#endif /* FA_POOL_INTERNAL_H */
