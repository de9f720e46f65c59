/* SPDX-License-Identifier: MIT */
/*
 * lib/pool: the size-class pool allocator.  Internals shared by pool.c
 * (slabs, shared lists, thread caches), debug.c (poison, quarantine, misuse
 * checks), stats.c (counters, snapshots, text/JSON) and trim.c.
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

#include "backend/backend.h"

#include <pthread.h>

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

/* Features that need the out-of-line path. */
#define FA__POOL_SLOW_FLAGS                                                                        \
	(FA_POOL_ZERO | FA_POOL_POISON | FA_POOL_QUARANTINE | FA_POOL_DEBUG | FA_POOL_CTOR_EVERY | \
	 FA_POOL_SIZE_HIST)

/* Every header at a 64 KiB boundary starts with the inline free's bin
 * offset, a magic and the pool. */
struct fa__pool_slab {
	int32_t binoff; /* first: read by the inline free */
	uint32_t magic;
	struct fa_pool *pool;
	char *first, *end; /* objects: [first, end) */
	uint32_t stride, nobj;
	uint32_t cls;
	_Atomic uint64_t bits[]; /* FA_POOL_DEBUG: bit set = allocated */
};

/* A slab fa_pool_trim freed (pool->lock): the same first fields as a slab
 * (binoff 0: a stray inline free goes out of line), then the free list;
 * the rest of the slab is garbage until slab_new rewrites the header. */
struct fa__pool_free_slab {
	int32_t binoff; /* bin 0 */
	uint32_t magic; /* FA__SLAB_FREE_MAGIC */
	struct fa_pool *pool;
	struct fa__pool_free_slab *next;
	unsigned region; /* its slot in pool->regions */
};

struct fa__pool_large {
	int32_t binoff; /* bin 0: the inline free goes slow */
	uint32_t magic;
	struct fa_pool *pool;
	struct fa__pool_large *prev, *next;
	void *ptr;
	size_t size; /* requested */
	struct fa__map map;
};

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
	                     memory could be had */
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
	bool once_hooks;    /* ctor at carve, dtor at destroy */
	char name[32];
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
	_Atomic uint64_t bfree; /* stack of free descriptors */

	struct fa__pool_tcache *all, *idle;
	_Atomic uint64_t threads;
	pthread_mutex_t shared_lock; /* pools without a TLS slot */
	struct fa__pool_tcache *shared_tc;

	struct fa__pool_large *large;
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

/* ---- pool.c ---- */
struct fa__pool_tcache *fa__pool_tcache_get(struct fa_pool *p, bool *locked);
void fa__pool_tcache_put(struct fa_pool *p, bool locked);
/* Push a freed object on tc's bin of class c; user: a free (counted),
 * else an object coming back from quarantine. */
void fa__pool_cache_push(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o,
                         bool user);
/* Carved objects of every slab, for dtor at destroy. */
void fa__pool_each_object(struct fa_pool *p, void (*fn)(struct fa_pool *, void *, size_t));
/* Objects in a thread's cache of class c: its bin and its pending batch. */
static inline uint64_t fa__pool_bin_count(const struct fa_pool *p, const struct fa__pool_tcache *tc,
                                          unsigned c)
{
	void **sp = __atomic_load_n(&tc->bins[c].sp, __ATOMIC_RELAXED);

	return p->cls[c].limit - (uint64_t)(tc->bins[c].end - sp) +
	       __atomic_load_n(&tc->pend_n[c], __ATOMIC_RELAXED);
}
uint64_t fa__pool_now_ns(void);
/* For trim.c: batch descriptor i; push i on a stack; take a whole
 * stack (its first descriptor, the rest chained by next; 0: empty). */
struct fa__pool_batch *fa__pool_bdesc(struct fa_pool *p, uint32_t i);
void fa__pool_stack_push(struct fa_pool *p, _Atomic uint64_t *top, uint32_t i);
uint32_t fa__pool_stack_take(_Atomic uint64_t *top);
/* Index in p->lcache of the idle large mapping whose object was ptr, or -1
 * (pool->lock held). */
int fa__pool_idle_find(const struct fa_pool *p, const void *ptr);

/* ---- pool_debug.c ---- */
void fa__pool_reportf(struct fa_pool *p, int error, void *ptr, unsigned cls, size_t offset,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void fa__pool_poison(void *o, size_t size);
/* Verify poison over [from, size) of a free object: 0 or report (then
 * re-poison). */
int fa__pool_verify(struct fa_pool *p, void *o, unsigned cls, size_t from);
/* Debug: slab of a pointer of this pool, or NULL after a report (a large
 * object freed into the large cache is reported as a double free). */
struct fa__pool_slab *fa__pool_check_ptr(struct fa_pool *p, void *ptr, bool *large);
/* Debug bitmap: mark allocated / free; false (after a report) if the state
 * was wrong. */
void fa__pool_mark_alloc(struct fa_pool *p, struct fa__pool_slab *s, void *o);
bool fa__pool_mark_free(struct fa_pool *p, struct fa__pool_slab *s, void *o);
int fa__pool_quarantine_init(struct fa_pool *p, const struct fa_pool_opts *o);
void fa__pool_quarantine_fini(struct fa_pool *p);
void fa__pool_quarantine_put(struct fa_pool *p, struct fa__pool_tcache *tc, unsigned c, void *o);
/* Release held objects: due ones, or all. */
void fa__pool_quarantine_drain(struct fa_pool *p, struct fa__pool_tcache *tc, bool all);

/* ---- trim.c ---- */
/* A free slab for slab_new (pool->lock held), its debug bitmap cleared
 * and its region counted as using it; NULL if there is none. */
struct fa__pool_slab *fa__pool_slab_reuse(struct fa_pool *p);
/* Bytes a trim could find idle (objects on the shared lists, free slabs),
 * from a few loads. */
uint64_t fa__pool_trimmable(struct fa_pool *p);
/* Set max_bytes (a NUMA node's share of a budget). */
void fa__pool_set_max_bytes(struct fa_pool *p, size_t max);

/* ---- pool_stats.c ---- */
int fa__pool_snap_init(struct fa_pool *p, const struct fa_pool_opts *o);
void fa__pool_snap_fini(struct fa_pool *p);
/* In a fork child (snap_lock held by fork_prepare): fresh lock and cond;
 * the sampler thread did not survive the fork, and no thread may be
 * started from a fork handler, so the pool's next slow-path call, flush or
 * snapshot starts it again (fa__pool_snap_resume: one load when not due). */
void fa__pool_snap_fork_child(struct fa_pool *p);
void fa__pool_snap_resume(struct fa_pool *p);

/* ---- pool.c ---- */
/* call fn for every live pool, oldest first, under the registry
 * lock (fn must not create or destroy pools; fa_pool_stats is fine). */
void fa__pool_foreach(void (*fn)(struct fa_pool *, void *), void *arg);
/* what a header at a 64 KiB boundary holds first for the inline
 * pool free, fa__pool_bins[i]'s offset from the thread pointer; bin 0
 * sends the free out of line. */
int32_t fa__pool_bin_off(unsigned i);

/* fork(2), called from lib/fork.c only: the registry lock, then each pool's
 * trim, shared, pool, quarantine and snapshot locks. */
void fa__pool_prefork(void);
void fa__pool_postfork_parent(void);
void fa__pool_postfork_child(void);

#endif /* FA_POOL_INTERNAL_H */
