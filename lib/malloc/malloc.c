// SPDX-License-Identifier: MIT
/*
 * libfinalloc-malloc: malloc, free and the rest of the C allocation API on
 * the NUMA allocator, for LD_PRELOAD or a static link (man
 * finalloc-malloc(3)).
 *
 * - Small sizes (up to FA_POOL_SMALL_MAX) come from the calling thread's
 *   node pool, through a fast path to its thread bins (see struct fast).
 *   Medium sizes (up to CHUNKED_MAX) and alignments above 64 come from
 *   chunks of one class shared by many objects (see "medium sizes");
 *   larger ones from the NUMA allocator's large maps (4 KiB pages below
 *   MEDIUM_MAX, from a twin allocator; kept idle per node up to idle_max,
 *   so they reuse a map without a syscall).  Alignments
 *   above 16 and up to 64 use a second allocator whose pools are
 *   64-aligned; alignments above 1 MiB, larger aligned sizes and big
 *   callocs (fresh zero pages) get a map of their own.
 * - Every free looks the pointer up in the owner map first (two loads, the
 *   pointer's memory is not touched): what the map does not know, and what
 *   is not the start of an object there, is reported and the program
 *   aborted, like glibc's "free(): invalid pointer".
 * - Bootstrap: until libnuma has run its constructor (ld.so's and libc's
 *   own first calls), while the allocator is being made, and for the
 *   library's own internal allocations (the build renames the library's
 *   calls to malloc/calloc/realloc/aligned_alloc to boot_*), memory comes
 *   from a bump allocator in one reserved range, with power-of-two free
 *   lists.  It never calls malloc, so nothing recurses.
 */
#include "numa/numa.h"

#include <errno.h>
#include <malloc.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))

/* C23 and old glibc names that this glibc's headers may not declare */
void cfree(void *p);
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

#define SMALL_MAX  FA_POOL_SMALL_MAX
#define CALLOC_MAP ((size_t)256 << 10) /* callocs from here: fresh zero pages */
/* Medium sizes (and alignments above 64) up to this come from chunks of
 * 4 KiB pages: a 2 MiB page per 20 KiB block would be most of a program's
 * RSS (cc1 made 4x glibc's).  Above it, large maps of g. */
#define MEDIUM_MAX ((size_t)1 << 20)
/* Medium sizes up to this from chunks shared by many objects; above it,
 * 4 KiB-page maps of their own, reused from an idle cache: an object of
 * hundreds of KiB is rarely one of many, and its pages, touched once, then
 * serve any size that fits (chunk classes would fault each class's in). */
#define CHUNKED_MAX ((size_t)128 << 10)
#define MAX_REQUEST ((size_t)1 << 46)

/* ---- the bootstrap allocator ---- */

#define BOOT_RESERVE ((size_t)1 << 30) /* address space, not memory */
#define BOOT_STEP    ((size_t)1 << 20) /* committed in steps */
#define BOOT_CLASSES 27                /* 16 B << 0..26: up to 1 GiB */

struct boot_hdr {
	uint32_t cls;
	uint32_t off; /* user pointer - block */
	uint64_t pad;
};

static char *_Atomic boot_base;
static size_t boot_used, boot_committed;
static void *boot_list[BOOT_CLASSES];
static atomic_flag boot_lock = ATOMIC_FLAG_INIT;
static _Atomic uint64_t boot_bytes; /* handed out, for the statistics */

static void boot_lock_take(void)
{
	while (atomic_flag_test_and_set_explicit(&boot_lock, memory_order_acquire))
		__builtin_ia32_pause();
}

static void boot_lock_drop(void)
{
	atomic_flag_clear_explicit(&boot_lock, memory_order_release);
}

static inline bool in_boot(const void *p)
{
	const char *b = atomic_load_explicit(&boot_base, memory_order_relaxed);

	return b && (const char *)p >= b && (const char *)p < b + BOOT_RESERVE;
}

/* A block of class cls, under boot_lock; NULL when the range is spent.
 * *fresh: never handed out before, so still zero pages. */
static void *boot_block(unsigned cls, bool *fresh)
{
	size_t bs = (size_t)16 << cls;
	char *base = atomic_load_explicit(&boot_base, memory_order_relaxed);
	void *b;

	*fresh = false;
	if (boot_list[cls]) {
		b = boot_list[cls];
		boot_list[cls] = *(void **)b;
		return b;
	}
	*fresh = true;
	if (!base) {
		base = mmap(NULL, BOOT_RESERVE, PROT_NONE,
		            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED)
			return NULL;
		atomic_store_explicit(&boot_base, base, memory_order_release);
	}
	/* big blocks start on their page so freeing and reuse stay simple */
	if (bs >= 4096)
		boot_used = (boot_used + 4095) & ~(size_t)4095;
	if (bs > BOOT_RESERVE - boot_used)
		return NULL;
	if (boot_used + bs > boot_committed) {
		size_t want = (boot_used + bs + BOOT_STEP - 1) & ~(BOOT_STEP - 1);

		if (want > BOOT_RESERVE)
			want = BOOT_RESERVE;
		if (mprotect(base + boot_committed, want - boot_committed, PROT_READ | PROT_WRITE))
			return NULL;
		boot_committed = want;
	}
	b = base + boot_used;
	boot_used += bs;
	return b;
}

/* *fresh (may be NULL): the block is zero pages, but for its header. */
static void *boot_alloc_z(size_t size, size_t align, bool *fresh)
{
	size_t total;
	unsigned cls = 0;
	char *b, *u;
	int saved = errno;
	bool f;

	if (align < 16)
		align = 16;
	if (size > BOOT_RESERVE) {
		errno = ENOMEM;
		return NULL;
	}
	total = size + sizeof(struct boot_hdr) + (align > 16 ? align : 0);
	while (((size_t)16 << cls) < total)
		cls++;
	if (cls >= BOOT_CLASSES) {
		errno = ENOMEM;
		return NULL;
	}
	boot_lock_take();
	b = boot_block(cls, &f);
	boot_lock_drop();
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	errno = saved;
	u = (char *)(((uintptr_t)b + sizeof(struct boot_hdr) + align - 1) &
	             ~(uintptr_t)(align - 1));
	/* a reused block's header may lie in what was its last user's */
	fa__mc_undefined(fa__mc_mode(), b, (char *)u - b);
	((struct boot_hdr *)u)[-1].cls = cls;
	((struct boot_hdr *)u)[-1].off = (uint32_t)(u - b);
	atomic_fetch_add_explicit(&boot_bytes, (size_t)16 << cls, memory_order_relaxed);
	if (fresh)
		*fresh = f;
	/* the usable size, as realloc and malloc_usable_size see it (a fresh
	 * block is mapped zeroes: defined) */
	fa__mc_alloc(fa__mc_mode(), u, ((size_t)16 << cls) - (size_t)(u - b), f);
	return u;
}

static void *boot_alloc(size_t size, size_t align)
{
	return boot_alloc_z(size, align, NULL);
}

static size_t boot_usable(const void *p)
{
	const struct boot_hdr *h = (const struct boot_hdr *)p - 1;

	return ((size_t)16 << h->cls) - h->off;
}

static void boot_free(void *p)
{
	const struct boot_hdr *h = (const struct boot_hdr *)p - 1;
	unsigned cls = h->cls;
	void *b = (char *)p - h->off;

	atomic_fetch_sub_explicit(&boot_bytes, (size_t)16 << cls, memory_order_relaxed);
	fa__mc_free(fa__mc_mode(), p, boot_usable(p));
	boot_lock_take();
	*(void **)b = boot_list[cls];
	boot_list[cls] = b;
	boot_lock_drop();
}

/* What the library's own calls get (the build renames them). */
void *fa__boot_malloc(size_t size);
void *fa__boot_calloc(size_t n, size_t m);
void *fa__boot_realloc(void *p, size_t size);
void *fa__boot_aligned_alloc(size_t align, size_t size);
int fa__boot_posix_memalign(void **out, size_t align, size_t size);

/* ---- state, knobs ---- */

enum { ST_NONE, ST_INIT, ST_READY, ST_FAILED };

static _Atomic int state;
static bool ctor_ran;
static struct fa_numa *g;            /* the allocator: set before ST_READY */
static struct fa_numa *g_med;        /* its 4 KiB-page twin for large medium sizes (or g) */
static struct fa_numa *_Atomic g_al; /* 64-aligned pools, made on first use */
static struct fa_numa_opts g_opts;   /* what both were made with */
static struct fa_mem_opts g_mem;
static struct fa_pool_opts g_pool;
static __thread int in_init __attribute__((tls_model("initial-exec")));
static bool knob_debug, knob_verbose;

/*
 * The fast path's view of the calling thread: its node's pool of g and the
 * bin offsets that pool's slabs carry in the owner map.  malloc pops that
 * pool's bin for the size while the thread stays on the CPU it was filled
 * on (rseq's cpu_id; without rseq, cpu_p points at cpu and the node is
 * looked up again on each slow call, a refill every few dozen calls).
 * free pushes on the bin the slab header names when the owner map's
 * entry is one of that pool's bins, after checking the slab's object
 * boundary: two loads for the map, one line of the slab header, no
 * division.  Everything else (not
 * ready, other sizes, an empty or full bin, other allocators, a bad
 * pointer) goes to the slow paths.  pool NULL: malloc goes slow.
 */
struct fast {
	struct fa_pool *pool;
	const volatile uint32_t *cpu_p;
	uint32_t cpu;
	int32_t lo; /* its bins' offsets: [lo, lo + span); span 0 sends free slow */
	uint32_t span;
};

static __thread struct fast fast __attribute__((tls_model("initial-exec")));
/* By (size + 7) / 8: the class's bin offset from a pool's first (every
 * node pool of g has the same classes), so the bin is one add away from
 * fast.lo and no pool memory is read; size 0 takes 8's.  Set once, before
 * ST_READY; fast_on false: no fast path (debug, or classes short of
 * SMALL_MAX). */
static uint16_t cls_off[SMALL_MAX / 8 + 1];
static bool fast_on;

static void fast_setup(void)
{
	for (int i = 0; i < g->nr_mem; i++) {
		struct fa_pool *p = g->node[g->mem_nodes[i]].pool;
		int32_t lo;

		if (!fa__pool_bin_span(p, &lo) || fa__pool_max_size(p) < SMALL_MAX)
			return;
	}
	{
		const struct fa_pool *p = g->node[g->mem_nodes[0]].pool;

		for (unsigned i = 1; i <= SMALL_MAX / 8; i++)
			cls_off[i] = (uint16_t)(p->size_cls[i] * sizeof(struct fa__pool_bin));
		cls_off[0] = cls_off[1];
	}
	fast_on = true;
}

/* "0"/"1" (empty: unset); anything else is said once and the default used. */
static bool env_bool(const char *name, bool def)
{
	const char *e = getenv(name);

	if (!e || !*e)
		return def;
	if (!strcmp(e, "0"))
		return false;
	if (!strcmp(e, "1"))
		return true;
	fprintf(stderr, "finalloc: %s=%s: not 0 or 1; using %d\n", name, e, def);
	return def;
}

/* libnuma answers only after its constructor: before that (ld.so, libc's
 * start) the bootstrap allocator serves. */
static bool numa_ready(void)
{
	return ctor_ran && numa_nodes_ptr && numa_all_nodes_ptr && numa_no_nodes_ptr &&
	       numa_all_cpus_ptr;
}

static void say_failure(const char *what, int err)
{
	fprintf(stderr,
	        "finalloc: malloc: %s failed (%s); serving from the bootstrap allocator "
	        "(1 GiB at most)\n",
	        what, strerror(err));
}

static __attribute__((noinline, cold)) bool init_slow(void)
{
	int expect = ST_NONE;
	const char *be;

	if (in_init || !numa_ready())
		return false;
	if (!atomic_compare_exchange_strong(&state, &expect, ST_INIT))
		return expect == ST_READY; /* another thread is at it: bootstrap meanwhile */
	in_init = 1;
	knob_debug = env_bool("FINALLOC_DEBUG", false);
	knob_verbose = fa__verbose();
	memset(&g_mem, 0, sizeof(g_mem));
	if (env_bool("FINALLOC_PREFAULT", false))
		g_mem.flags |= FA_MEM_PREFAULT;
	memset(&g_pool, 0, sizeof(g_pool));
	g_pool.flags = FA_POOL_FINE;
	if (knob_debug)
		g_pool.flags |= FA_POOL_DEBUG | FA_POOL_POISON | FA_POOL_QUARANTINE;
	memset(&g_opts, 0, sizeof(g_opts));
	g_opts.policy = FA_NUMA_PREFERRED;
	g_opts.mem = &g_mem;
	g_opts.pool = &g_pool;
	be = getenv("FINALLOC_BACKEND");
	/* Unless a backend is named: private anonymous memory (THP, else small
	 * pages), which a fork copies.  A forked child cannot use device
	 * memory (VM_DONTCOPY), and its copy-on-write faults on MAP_PRIVATE
	 * hugetlb pages get SIGBUS when no free huge page is left: bash died
	 * so when a peer had reserved some. */
	if (!be || !*be)
		g_mem.backend = FA_BACKEND_THP;
	g = fa__numa_create(&g_opts, false);
	if (!g && g_mem.backend == FA_BACKEND_THP) {
		g_mem.backend = FA_BACKEND_SMALL; /* THP is off */
		g = fa__numa_create(&g_opts, false);
	}
	if (!g && be && *be) {
		fprintf(stderr, "finalloc: FINALLOC_BACKEND=%s cannot serve (%s); using auto\n", be,
		        strerror(errno));
		fa__backend_env_ignore();
		g = fa__numa_create(&g_opts, false);
	}
	if (!g) {
		say_failure("creating the allocator", errno);
		atomic_store(&state, ST_FAILED);
		in_init = 0;
		return false;
	}
	{
		struct fa_mem_opts mm = g_mem;
		struct fa_numa_opts mo = g_opts;

		mm.page_size = FA_PAGE_4K;
		if (mm.backend == FA_BACKEND_THP)
			mm.backend = FA_BACKEND_SMALL;
		mo.mem = &mm;
		g_med = fa__numa_create(&mo, false);
		if (!g_med) {
			if (knob_verbose)
				fprintf(stderr,
				        "finalloc: malloc: no 4 KiB-page maps for medium sizes "
				        "(%s)\n",
				        strerror(errno));
			g_med = g;
		}
	}
	/* The first mapping runs the exit dump's hook, which registers an
	 * atexit handler (and atexit may call calloc): have it happen now,
	 * while this thread's calls go to the bootstrap allocator, not later
	 * under a pool's lock. */
	fa_numa_free(g, fa_numa_alloc(g, 16));
	fast_setup();
	if (knob_verbose)
		fprintf(stderr, "finalloc: malloc: ready, %d memory node(s)%s\n", g->nr_mem,
		        knob_debug ? ", debug" : "");
	atomic_store_explicit(&state, ST_READY, memory_order_release);
	in_init = 0;
	return true;
}

static inline bool ready(void)
{
	return fa__likely(atomic_load_explicit(&state, memory_order_acquire) == ST_READY) ||
	       init_slow();
}

__attribute__((constructor(101))) static void malloc_ctor(void);

/* ---- reports ---- */

static void put_hex(char *buf, size_t *n, uintptr_t v)
{
	char tmp[18];
	int i = 0;

	do {
		tmp[i++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[(*n)++] = '0';
	buf[(*n)++] = 'x';
	while (i)
		buf[(*n)++] = tmp[--i];
}

static void put_dec(char *buf, size_t *n, uint64_t v)
{
	char tmp[21];
	int i = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		buf[(*n)++] = tmp[--i];
}

/* glibc's wording, with the address; no stdio (its locks may be held). */
static __attribute__((noreturn, noinline, cold)) void bad_pointer(const char *fn, const void *p)
{
	char buf[160];
	size_t n = 0, l;

	l = strlen("finalloc: ");
	memcpy(buf, "finalloc: ", l);
	n += l;
	l = strlen(fn);
	if (l > 40)
		l = 40;
	memcpy(buf + n, fn, l);
	n += l;
	l = strlen("(): invalid pointer ");
	memcpy(buf + n, "(): invalid pointer ", l);
	n += l;
	put_hex(buf, &n, (uintptr_t)p);
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		_exit(127);
	abort();
}

/* ---- FINALLOC_DEBUG: canaries after every block ---- */

/* Under FINALLOC_DEBUG every block is asked DBG_ROOM bytes larger: the
 * requested size goes in the last 8 bytes of the block (its stride: the
 * class's for small and medium ones, the mapping's end for large ones),
 * DBG_BYTE fills the bytes between, at most DBG_WINDOW of them (a large
 * block's slack can be megabytes), and free checks both.  A freed medium
 * block's size word says DBG_FREED, so a second free of it is told from
 * an overrun.  malloc_usable_size says the requested size, so a program
 * that writes what it was told it may never touches them. */
#define DBG_ROOM   16
#define DBG_BYTE   0xfd
#define DBG_WINDOW 4096
#define DBG_FREED  UINT64_MAX

/* What to ask for size bytes (size <= MAX_REQUEST). */
static inline size_t dbg_ask(size_t size)
{
	return fa__unlikely(knob_debug) ? size + DBG_ROOM : size;
}

/* The end of the canary bytes after size in a block of stride bytes. */
static inline size_t dbg_end(size_t size, size_t stride)
{
	return stride - 8 - size > DBG_WINDOW ? size + DBG_WINDOW : stride - 8;
}

static void dbg_arm(void *p, size_t size, size_t stride)
{
	uint64_t sz = size;

	memset((char *)p + size, DBG_BYTE, dbg_end(size, stride) - size);
	memcpy((char *)p + stride - 8, &sz, 8);
}

/* The requested size of armed block p (stride bytes), or stride - 8 + 1
 * when its size word was overwritten. */
static size_t dbg_size(const void *p, size_t stride)
{
	uint64_t sz;

	memcpy(&sz, (const char *)p + stride - 8, 8);
	return sz <= stride - DBG_ROOM ? (size_t)sz : stride - 7;
}

static __attribute__((noreturn, noinline, cold)) void dbg_overrun(const void *p, size_t size,
                                                                  size_t stride, size_t at)
{
	uint64_t sz;
	char buf[256];
	size_t n = 0;

#define DBG_PUT(str)                      \
	do {                              \
		size_t l_ = strlen(str);  \
		memcpy(buf + n, str, l_); \
		n += l_;                  \
	} while (0)
	memcpy(&sz, (const char *)p + stride - 8, 8);
	if (sz == DBG_FREED) {
		DBG_PUT("finalloc: free(): double free of the block at ");
		put_hex(buf, &n, (uintptr_t)p);
	} else {
		DBG_PUT("finalloc: free(): heap overrun: the block at ");
		put_hex(buf, &n, (uintptr_t)p);
	}
	if (sz == DBG_FREED) {
		/* nothing more to say of it */
	} else if (size < stride - 7) {
		DBG_PUT(" (");
		put_dec(buf, &n, size);
		DBG_PUT(" bytes) was written at byte ");
		put_dec(buf, &n, at - size + 1);
		DBG_PUT(" past its end");
	} else {
		DBG_PUT(" was written past its end, over its size word");
	}
	DBG_PUT(" (size class ");
	put_dec(buf, &n, stride);
	DBG_PUT(" bytes)\n");
#undef DBG_PUT
	if (write(STDERR_FILENO, buf, n) < 0)
		_exit(127);
	abort();
}

/* Check armed block p (stride bytes) before it is freed. */
static void dbg_check(const void *p, size_t stride)
{
	size_t size = dbg_size(p, stride);
	const unsigned char *c = p;

	if (size > stride - DBG_ROOM)
		dbg_overrun(p, size, stride, stride - 8);
	for (size_t i = dbg_end(size, stride); i-- > size;)
		if (c[i] != DBG_BYTE)
			dbg_overrun(p, size, stride, i);
}

/* ---- maps of their own: big alignments, big callocs ---- */

#define BIG_MAGIC 0xfa3a11c0u

static _Atomic uint64_t big_mapped, big_live; /* bytes, for the statistics */

struct big {
	struct fa__pool_hdr hdr; /* first: pool NULL, magic BIG_MAGIC */
	void *ptr;
	size_t size;
	struct fa__map map;
};

static size_t big_usable(const struct big *b);

static void *big_alloc(size_t size, size_t align)
{
	struct fa_mem_opts mo = g_mem;
	struct fa__map m;
	uintptr_t base, hdr, ptr;
	size_t need;
	struct big *b;
	int err, node;

	if (align < 64)
		align = 64;
	if (size > MAX_REQUEST || align > MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	need = size + align + 2 * FA__SLAB_SIZE;
	node = fa__thread_node();
	mo.flags |= FA_MEM_ON_NODE;
	mo.node = g->node[node].mem_node;
	if (need < MEDIUM_MAX && !mo.page_size) {
		int be = mo.backend;

		mo.page_size = FA_PAGE_4K;
		if (be == FA_BACKEND_THP)
			mo.backend = FA_BACKEND_SMALL;
		err = fa__map_alloc(&m, need, &mo);
		mo.page_size = 0;
		mo.backend = be;
		if (err)
			err = fa__map_alloc(&m, need, &mo); /* a forced backend */
	} else {
		err = fa__map_alloc(&m, need, &mo);
	}
	if (err) {
		errno = ENOMEM;
		return NULL;
	}
	base = (uintptr_t)m.base;
	if (align >= FA__SLAB_SIZE) {
		ptr = (base + FA__SLAB_SIZE + align - 1) & ~(uintptr_t)(align - 1);
		hdr = ptr - FA__SLAB_SIZE;
	} else {
		hdr = (base + FA__SLAB_SIZE - 1) & FA__SLAB_MASK;
		ptr = hdr + ((sizeof(struct big) + align - 1) & ~(align - 1));
	}
	if (fa__pagemap_set((void *)hdr, base + m.size - hdr, fa__pagemap_entry((void *)hdr, 0))) {
		fa__map_free(&m);
		errno = ENOMEM;
		return NULL;
	}
	b = (struct big *)hdr;
	b->hdr.binoff = 0;
	b->hdr.pool = NULL;
	b->ptr = (void *)ptr;
	b->size = size;
	b->map = m;
	atomic_store_explicit((_Atomic uint32_t *)&b->hdr.magic, BIG_MAGIC, memory_order_release);
	atomic_fetch_add_explicit(&big_mapped, m.size, memory_order_relaxed);
	atomic_fetch_add_explicit(&big_live, size, memory_order_relaxed);
	/* fresh pages: zero; the slack before the header is nobody's */
	fa__mc_alloc(fa__mc_mode(), b->ptr, big_usable(b), true);
	fa__mc_noaccess(fa__mc_mode(), m.base, hdr - base);
	return b->ptr;
}

static void big_free(struct big *b)
{
	struct fa__map m = b->map;

	b->hdr.magic = 0;
	fa__mc_free(fa__mc_mode(), b->ptr, big_usable(b));
	atomic_fetch_sub_explicit(&big_mapped, m.size, memory_order_relaxed);
	atomic_fetch_sub_explicit(&big_live, b->size, memory_order_relaxed);
	fa__map_free(&m); /* clears the owner map first */
}

static size_t big_usable(const struct big *b)
{
	return (size_t)((char *)b->map.base + b->map.size - (char *)b->ptr);
}

/* ---- medium sizes and big alignments: chunks of one class ---- */

/*
 * Above SMALL_MAX and up to CHUNKED_MAX, four classes a doubling (10, 12,
 * 14, 16, 20 KiB ... 128 KiB); for alignments above 64, powers of two from
 * 128 B to 1 MiB whose objects are aligned to their size.  A class's
 * objects come from chunks of at least 2 MiB (8 objects) of 4 KiB pages
 * on the thread's node, each behind a header at a 64 KiB boundary that
 * the owner map names for all its granules; free objects are linked
 * through their first word, per chunk, under the class's lock (these sizes
 * are rare next to small ones, and each is worth kilobytes of work to its
 * caller).  The lock is a leaf: chunks are mapped and unmapped outside
 * it.  Idle memory: a chunk whose last object is freed is unmapped, except
 * the class's most recent one, kept for the next call (no syscall on a
 * malloc/free ping-pong); so at most one wholly free chunk per class and
 * node stays mapped, plus the free objects of chunks still in use.
 */
#define MED_MAGIC   0xfa3ed000u
#define MED_STEPS   16 /* 4 a doubling, 8 KiB to 128 KiB */
#define MED_POW2    14 /* 128 B << 0..13 */
#define MED_CLASSES (MED_STEPS + MED_POW2)
#define MED_CHUNK   ((size_t)2 << 20)

struct med_class;

struct med_chunk {
	struct fa__pool_hdr hdr; /* first: bin 0, magic MED_MAGIC, pool NULL */
	char *first, *end;       /* objects: [first, end) */
	uint64_t divc;           /* UINT64_MAX / stride + 1 */
	uint32_t stride, live;
	void *free;  /* freed objects */
	char *bump;  /* from here on never handed out: zero pages */
	bool listed; /* on its class's list of chunks with room */
	struct med_class *cls;
	struct med_chunk *prev, *next;
	struct fa__map map;
};

struct med_class {
	pthread_mutex_t lock;
	struct med_chunk *avail; /* chunks with room */
	struct med_chunk *empty; /* wholly free, kept mapped */
	uint32_t stride;
	int node;
} FA__ALIGNED_CL;

/* Initialised data, not set up at start: a page of it is resident only
 * once a class on it is used. */
static struct med_class med[FA_MAX_NODES][MED_CLASSES] = {
	[0 ... FA_MAX_NODES -
	 1] = { [0 ... MED_CLASSES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER } }
};
static _Atomic uint64_t med_mapped, med_live; /* bytes, for the statistics */

static inline bool med_at_object(const struct med_chunk *c, const void *p)
{
	uint64_t x = (uint64_t)((const char *)p - c->first);

	return x < (uint64_t)(c->end - c->first) && x * c->divc <= c->divc - 1;
}

static uint32_t med_stride(unsigned ci)
{
	if (ci < MED_STEPS) /* 8 KiB << (ci / 4), plus quarters */
		return (uint32_t)((8192u << (ci / 4)) / 4 * (5 + ci % 4));
	return 128u << (ci - MED_STEPS);
}

/* The class of a medium size (SMALL_MAX < size <= CHUNKED_MAX). */
static unsigned med_class(size_t size)
{
	unsigned lg = 63 - (unsigned)__builtin_clzl(size - 1); /* 2^lg < size <= 2^(lg+1) */
	size_t q = (size_t)1 << (lg - 2);

	return (lg - 13) * 4 + (unsigned)((size - 1 - ((size_t)1 << lg)) / q);
}

/* The class for an alignment above 64 (a power of two) and a size, or -1. */
static int med_class_aligned(size_t align, size_t size)
{
	size_t s = size > align ? size : align;
	unsigned lg;

	if (s > MEDIUM_MAX)
		return -1;
	lg = s <= 128 ? 7 : 64 - (unsigned)__builtin_clzl(s - 1);
	return MED_STEPS + (int)(lg - 7);
}

/* The nodes whose classes may be in use: none before the allocator is. */
static int med_nodes(void)
{
	return atomic_load_explicit(&state, memory_order_acquire) == ST_READY ? g->max_node + 1 : 0;
}

/* 4 KiB pages on node, or what a named backend gives. */
static int map_small_pages(struct fa__map *m, size_t need, int node)
{
	struct fa_mem_opts mo = g_mem;
	int err;

	mo.flags |= FA_MEM_ON_NODE;
	mo.node = node;
	if (mo.page_size)
		return fa__map_alloc(m, need, &mo); /* asked for by the user */
	mo.page_size = FA_PAGE_4K;
	if (mo.backend == FA_BACKEND_THP)
		mo.backend = FA_BACKEND_SMALL;
	err = fa__map_alloc(m, need, &mo);
	if (err) {
		mo.page_size = 0;
		mo.backend = g_mem.backend;
		err = fa__map_alloc(m, need, &mo); /* a forced backend */
	}
	return err;
}

static struct med_chunk *med_chunk_new(struct med_class *k)
{
	size_t st = k->stride, body = 8 * st > MED_CHUNK ? 8 * st : MED_CHUNK;
	uintptr_t h, lim;
	struct med_chunk *c;
	struct fa__map m;
	size_t align = st & (st - 1) ? 4096 : st; /* powers of two: aligned */

	if (align < 4096)
		align = 4096;
	if (map_small_pages(&m, body + align + 2 * FA__SLAB_SIZE, k->node))
		return NULL;
	h = ((uintptr_t)m.base + FA__SLAB_SIZE - 1) & FA__SLAB_MASK;
	lim = ((uintptr_t)m.base + m.size) & FA__SLAB_MASK; /* granules wholly inside */
	if (fa__pagemap_set((void *)h, lim - h, fa__pagemap_entry((void *)h, 0))) {
		fa__map_free(&m);
		return NULL;
	}
	c = (struct med_chunk *)h;
	memset(c, 0, sizeof(*c));
	c->hdr.binoff = fa__pool_bin_off(0);
	c->first = (char *)((h + sizeof(*c) + align - 1) & ~(uintptr_t)(align - 1));
	c->end = c->first + (lim - (uintptr_t)c->first) / st * st;
	c->stride = (uint32_t)st;
	c->divc = UINT64_MAX / st + 1;
	c->bump = c->first;
	c->cls = k;
	c->map = m;
	atomic_store_explicit((_Atomic uint32_t *)&c->hdr.magic, MED_MAGIC, memory_order_release);
	atomic_fetch_add_explicit(&med_mapped, m.size, memory_order_relaxed);
	return c;
}

static void med_chunk_free(struct med_chunk *c)
{
	struct fa__map m = c->map;

	c->hdr.magic = 0;
	atomic_fetch_sub_explicit(&med_mapped, m.size, memory_order_relaxed);
	fa__map_free(&m); /* clears the owner map first */
}

/* class lock held */
static void med_list(struct med_class *k, struct med_chunk *c)
{
	c->prev = NULL;
	c->next = k->avail;
	if (k->avail)
		k->avail->prev = c;
	k->avail = c;
	c->listed = true;
}

static void med_unlist(struct med_class *k, struct med_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		k->avail = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->listed = false;
}

/* An object of class ci on the thread's node; *zero (if not NULL): whether
 * it is known to be zero (never handed out before). */
static __attribute__((noinline)) void *med_alloc(unsigned ci, bool *zero)
{
	int node = g->node[fa__thread_node()].mem_node;
	struct med_class *k = &med[node][ci];
	struct med_chunk *c;
	void *o;

	pthread_mutex_lock(&k->lock);
	if (fa__unlikely(!k->stride)) {
		k->stride = med_stride(ci);
		k->node = node;
	}
	while (!(c = k->avail)) {
		pthread_mutex_unlock(&k->lock);
		c = med_chunk_new(k);
		if (!c) {
			errno = ENOMEM;
			return NULL;
		}
		pthread_mutex_lock(&k->lock);
		med_list(k, c);
	}
	if (c->free) {
		o = c->free;
		c->free = *(void **)o;
		if (zero)
			*zero = false;
	} else {
		o = c->bump;
		c->bump += c->stride;
		if (zero)
			*zero = true;
	}
	c->live++;
	if (c == k->empty)
		k->empty = NULL;
	if (!c->free && c->bump == c->end)
		med_unlist(k, c);
	pthread_mutex_unlock(&k->lock);
	atomic_fetch_add_explicit(&med_live, c->stride, memory_order_relaxed);
	return o;
}

static void med_free(struct med_chunk *c, void *p)
{
	struct med_class *k = c->cls;
	struct med_chunk *gone = NULL;

	pthread_mutex_lock(&k->lock);
	if (fa__unlikely(!c->live || (char *)p >= c->bump)) {
		pthread_mutex_unlock(&k->lock);
		bad_pointer("free", p); /* never handed out, or all are free */
	}
	*(void **)p = c->free;
	c->free = p;
	if (!--c->live) {
		if (k->empty && k->empty != c) {
			gone = k->empty;
			med_unlist(k, gone);
		}
		k->empty = c;
	}
	if (!c->listed)
		med_list(k, c);
	pthread_mutex_unlock(&k->lock);
	atomic_fetch_sub_explicit(&med_live, c->stride, memory_order_relaxed);
	if (gone)
		med_chunk_free(gone);
}

/* malloc_trim: the kept empty chunks go back. */
static void med_trim(void)
{
	for (int n = 0; n < med_nodes(); n++)
		for (unsigned ci = 0; ci < MED_CLASSES; ci++) {
			struct med_class *k = &med[n][ci];
			struct med_chunk *c;

			if (!__atomic_load_n(&k->empty, __ATOMIC_RELAXED))
				continue;
			pthread_mutex_lock(&k->lock);
			c = k->empty;
			if (c) {
				k->empty = NULL;
				med_unlist(k, c);
			}
			pthread_mutex_unlock(&k->lock);
			if (c)
				med_chunk_free(c);
		}
}

/* fork: every class lock of the nodes in use; the count is taken once, so
 * that the handlers after fork unlock what this one locked even if another
 * thread made the allocator ready in between. */
static int med_forked;

static void med_prefork(void)
{
	med_forked = med_nodes();
	for (int n = 0; n < med_forked; n++)
		for (unsigned ci = 0; ci < MED_CLASSES; ci++)
			pthread_mutex_lock(&med[n][ci].lock);
}

static void med_postfork(void)
{
	for (int n = med_forked - 1; n >= 0; n--)
		for (unsigned ci = MED_CLASSES; ci-- > 0;)
			pthread_mutex_unlock(&med[n][ci].lock);
}

/* ---- the 64-aligned allocator ---- */

static __attribute__((noinline)) struct fa_numa *al_make(void)
{
	struct fa_pool_opts po = g_pool;
	struct fa_numa_opts no = g_opts;
	struct fa_numa *a, *expect = NULL;

	po.flags &= ~FA_POOL_FINE; /* multiples of 64: powers of two */
	po.align = 64;
	no.pool = &po;
	a = fa__numa_create(&no, false);
	if (!a)
		return NULL;
	if (ctor_ran) /* before it is published: the large path reads it */
		fa__numa_trace_start(a, true);
	if (!atomic_compare_exchange_strong(&g_al, &expect, a)) {
		fa_numa_destroy(a);
		return expect;
	}
	return a;
}

static inline struct fa_numa *al_get(void)
{
	struct fa_numa *a = atomic_load_explicit(&g_al, memory_order_acquire);

	return fa__likely(a != NULL) ? a : al_make();
}

/* ---- what a pointer is ---- */

enum kind { K_BAD, K_SMALL, K_MED, K_LARGE, K_BIG, K_BOOT };

/* Classify p (not NULL) without reading memory that is not ours. */
static inline enum kind kind_of(const void *p, const struct fa__pool_hdr **hp)
{
	uint64_t e = fa__pagemap_get(p);
	const struct fa__pool_hdr *h;

	if (fa__unlikely(!e))
		return in_boot(p) ? K_BOOT : K_BAD;
	h = fa__pagemap_hdr(e);
	*hp = h;
	if (fa__likely(h->pool != NULL)) {
		const struct fa__pool_slab *s = (const struct fa__pool_slab *)h;

		if (fa__unlikely(h->magic != FA__SLAB_MAGIC))
			return K_BAD; /* a trimmed slab: nothing lives there */
		/* the start of an object of this slab, not inside one */
		return fa__likely(fa__pool_at_object(s, p)) ? K_SMALL : K_BAD;
	}
	if (h->magic == MED_MAGIC)
		return med_at_object((const struct med_chunk *)h, p) ? K_MED : K_BAD;
	if (h->magic == BIG_MAGIC)
		return ((const struct big *)h)->ptr == p ? K_BIG : K_BAD;
	{
		struct fa_numa *o = ((const struct fa__numa_large *)h)->owner;

		return (o == g || o == g_med) && fa__numa_large_of(o, p) ? K_LARGE : K_BAD;
	}
}

static inline struct fa_numa *small_owner(const struct fa__pool_hdr *h)
{
	return fa__unlikely(h->pool->align > 16) ? atomic_load(&g_al) : g;
}

/* The bytes block p (of kind k, header h) spans: 0 for boot blocks. */
static size_t stride_of(const void *p, enum kind k, const struct fa__pool_hdr *h)
{
	switch (k) {
	case K_SMALL:
		return ((const struct fa__pool_slab *)h)->stride;
	case K_MED:
		return ((const struct med_chunk *)h)->stride;
	case K_LARGE: {
		const struct fa__numa_large *l = (const struct fa__numa_large *)h;

		return (size_t)((char *)l->map.base + l->map.size - (const char *)p);
	}
	case K_BIG:
		return big_usable((const struct big *)h);
	default:
		return 0;
	}
}

static size_t usable_of(const void *p, const char *fn)
{
	const struct fa__pool_hdr *h = NULL;
	enum kind k = kind_of(p, &h);

	switch (k) {
	case K_BOOT:
		return boot_usable(p);
	case K_BAD:
		bad_pointer(fn, p);
	default:
		if (fa__unlikely(knob_debug))
			return dbg_size(p, stride_of(p, k, h));
		return stride_of(p, k, h);
	}
}

/* FINALLOC_DEBUG: arm p (size bytes asked, DBG_ROOM more given) unless
 * it is NULL or a boot block. */
static void dbg_arm_block(void *p, size_t size)
{
	const struct fa__pool_hdr *h = NULL;
	enum kind k = p ? kind_of(p, &h) : K_BAD;
	size_t stride = stride_of(p, k, h);

	if (stride)
		dbg_arm(p, size, stride);
}

/* ---- the API ---- */

/* Above CHUNKED_MAX, g_med by node, around fa_numa_alloc's per-thread
 * cache, which holds one allocator: alternating small and medium sizes
 * would refill it at every switch. */
static __attribute__((noinline)) void *alloc_medium(size_t size)
{
	void *p = fa_numa_alloc_onnode(g_med, size, fa__thread_node());

	if (!p)
		errno = ENOMEM;
	return p;
}

static inline void *alloc_small_large(size_t size)
{
	void *p;

	if (fa__unlikely(size > SMALL_MAX && size <= CHUNKED_MAX))
		return med_alloc(med_class(size), NULL);
	if (fa__unlikely(size > SMALL_MAX && size < MEDIUM_MAX && g_med != g))
		return alloc_medium(size);
	p = fa_numa_alloc(g, size ? size : 1);
	if (fa__unlikely(!p))
		errno = ENOMEM;
	return p;
}

/* Point the fast path at the thread's node pool of g (ready). */
static void fast_fill(void)
{
	const volatile uint32_t *rs = fa__numa_tls.rseq_cpu;
	int node = fa__thread_node();
	struct fa_pool *p = g->pool_of[node];

	fast.pool = NULL;
	fast.span = fa__pool_bin_span(p, &fast.lo);
	if (!fast.span || !fast_on)
		return; /* no bins (debug features, or they ran out) */
	if (rs) {
		uint32_t cpu = *rs;

		/* migrated between the two reads: the next call looks again */
		if (cpu >= fa__nr_cpu_node || fa__cpu_node[cpu] != node)
			return;
		fast.cpu = cpu;
		fast.cpu_p = rs;
	} else {
		fast.cpu_p = &fast.cpu;
	}
	fast.pool = p;
}

static __attribute__((noinline)) void *malloc_slow(size_t size)
{
	void *p;

	if (fa__unlikely(!ready()))
		return boot_alloc(size, 16);
	if (fa__unlikely(size > MAX_REQUEST)) {
		errno = ENOMEM;
		return NULL;
	}
	p = alloc_small_large(dbg_ask(size));
	if (fa__unlikely(knob_debug))
		dbg_arm_block(p, size);
	if (size <= SMALL_MAX)
		fast_fill();
	return p;
}

API void *malloc(size_t size)
{
	struct fa_pool *pool = fast.pool;

	if (fa__likely(size <= SMALL_MAX && pool != NULL && *fast.cpu_p == fast.cpu)) {
		__typeof__(FA__POOL_BIN(0)) b = FA__POOL_BIN(fast.lo + cls_off[(size + 7) >> 3]);
		void **sp = b->sp;
		void *o = sp[-1]; /* NULL at the bottom: empty */

		if (fa__likely(o != NULL)) {
			FA__POOL_SET(b->sp, sp - 1);
			FA__POOL_ADD(b->req, size);
			return o;
		}
	}
	return malloc_slow(size);
}

static __attribute__((noinline)) void free_slow(void *p, enum kind k, const struct fa__pool_hdr *h)
{
	int saved = errno;

	if (fa__unlikely(knob_debug) && k != K_BOOT && k != K_BAD) {
		size_t stride = stride_of(p, k, h);

		dbg_check(p, stride);
		if (k == K_MED) /* the next free of it is a double free */
			memset((char *)p + stride - 8, 0xff, 8);
	}
	switch (k) {
	case K_LARGE:
		/* g_med's straight to its node, past fa_numa_free's thread cache
		 * (see alloc_medium); its remote frees go uncounted */
		if (((struct fa__numa_large *)h)->owner != g)
			fa__numa_large_free(((struct fa__numa_large *)h)->owner,
			                    (struct fa__numa_large *)h);
		else
			fa_numa_free(g, p);
		break;
	case K_MED:
		med_free((struct med_chunk *)h, p);
		break;
	case K_BIG:
		big_free((struct big *)h);
		break;
	case K_BOOT:
		boot_free(p);
		break;
	default:
		bad_pointer("free", p);
	}
	errno = saved;
}

static __attribute__((noinline)) void free_other(void *p)
{
	const struct fa__pool_hdr *h = NULL;
	enum kind k;

	if (fa__unlikely(!p))
		return;
	k = kind_of(p, &h);
	if (fa__likely(k == K_SMALL)) {
		struct fa_numa *o = small_owner(h);

		/* a block no longer live is the pool's to report (double free) */
		if (fa__unlikely(knob_debug) && fa__pool_obj_live((struct fa__pool_slab *)h, p))
			dbg_check(p, ((const struct fa__pool_slab *)h)->stride);
		fa_numa_free(o, p);
		/* a thread that only frees (a consumer) gets the fast path too */
		if (o == g && !fast.span)
			fast_fill();
		return;
	}
	free_slow(p, k, h);
}

API void free(void *p)
{
	uint64_t e = fa__pagemap_get(p); /* NULL: the zero leaf's 0 */
	int32_t off = (int32_t)(e >> 32);

	/* a live slab of the thread's pool: bin offset 0 (not ours, a
	 * trimmed slab, large maps) is never in the range */
	if (fa__likely((uint32_t)off - (uint32_t)fast.lo < fast.span &&
	               fa__pool_at_object(fa__pool_slab_of(p), p))) {
		/* the header's copy of the bin: p's own line, not the map's
		 * two loads, on the way to the bin (a trim makes it bin 0,
		 * which is always full) */
		__typeof__(FA__POOL_BIN(0)) b = FA__POOL_BIN(fa__pool_slab_of(p)->hdr.binoff);
		void **sp = b->sp;

		if (fa__likely(sp != b->end)) {
			*sp = p;
			FA__POOL_SET(b->sp, sp + 1);
			FA__POOL_ADD(b->frees, 1);
			return;
		}
	}
	free_other(p); /* a full bin flushes there; bad pointers abort */
}

API void cfree(void *p)
{
	free(p);
}

API void free_sized(void *p, size_t size)
{
	(void)size;
	free(p);
}

API void free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	(void)size;
	free(p);
}

API void *calloc(size_t n, size_t m)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (fa__unlikely(!ready()))
		return fa__boot_calloc(1, total); /* its blocks are recycled */
	if (fa__unlikely(knob_debug))
		goto plain; /* armed by malloc */
	if (total > SMALL_MAX && total <= CHUNKED_MAX) {
		bool zero;

		p = med_alloc(med_class(total), &zero);
		if (p && !zero)
			memset(p, 0, total);
		return p;
	}
	if (total >= CALLOC_MAP && total <= MAX_REQUEST) {
		p = big_alloc(total, 64);
		if (p)
			return p; /* fresh pages are zero */
	}
plain:
	p = malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

/* In place when the new size fits the block and does not waste more than
 * half of it. */
API void *realloc(void *p, size_t size)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(size);
	if (size == 0) {
		free(p);
		return NULL;
	}
	old = usable_of(p, "realloc");
	if (size <= old && (size >= old / 2 || old <= 32)) {
		/* FINALLOC_DEBUG: the canary moves down to the new end */
		if (fa__unlikely(knob_debug))
			dbg_arm_block(p, size);
		return p;
	}
	q = malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, size < old ? size : old);
	free(p);
	return q;
}

API void *reallocarray(void *p, size_t n, size_t m)
{
	size_t total;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

/* align: a power of two above 16; size: what to map (the debug room in). */
static void *aligned_block(size_t align, size_t size)
{
	if (align <= 64) {
		struct fa_numa *a;
		void *p;

		if (size > SMALL_MAX) /* large maps are 64-aligned */
			return alloc_small_large(size);
		a = al_get();
		if (a) {
			p = fa_numa_alloc(a, size ? size : 1);
			if (p)
				return p;
		}
	} else {
		int ci = med_class_aligned(align, size);

		if (ci >= 0) /* a power-of-two class: aligned to its size */
			return med_alloc((unsigned)ci, NULL);
	}
	return big_alloc(size, align);
}

/* align: a power of two. */
static void *aligned(size_t align, size_t size)
{
	void *p;

	if (align <= 16)
		return malloc(size);
	if (fa__unlikely(!ready()))
		return boot_alloc(size, align);
	if (size > MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	p = aligned_block(align, dbg_ask(size));
	if (fa__unlikely(knob_debug))
		dbg_arm_block(p, size);
	return p;
}

static inline bool pow2(size_t a)
{
	return a && !(a & (a - 1));
}

API int posix_memalign(void **out, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!pow2(align) || align % sizeof(void *))
		return EINVAL;
	p = aligned(align, size);
	errno = saved; /* untouched, whatever happened beneath */
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

API void *aligned_alloc(size_t align, size_t size)
{
	if (!pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, size);
}

/* glibc: an alignment that is not a power of two is rounded up to one. */
API void *memalign(size_t align, size_t size)
{
	if (align > MAX_REQUEST) {
		errno = EINVAL;
		return NULL;
	}
	while (!pow2(align))
		align = align ? (size_t)1 << (64 - __builtin_clzl(align)) : 1;
	return aligned(align, size);
}

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

API void *valloc(size_t size)
{
	return aligned(page_size(), size);
}

API void *pvalloc(size_t size)
{
	size_t ps = page_size(), r;

	if (__builtin_add_overflow(size, ps - 1, &r)) {
		errno = ENOMEM;
		return NULL;
	}
	r &= ~(ps - 1);
	return aligned(ps, r ? r : ps);
}

API size_t malloc_usable_size(void *p)
{
	return p ? usable_of(p, "malloc_usable_size") : 0;
}

/* ---- glibc's entry points and statistics ---- */

API void *__libc_malloc(size_t) __attribute__((alias("malloc"), copy(malloc)));
API void __libc_free(void *) __attribute__((alias("free"), copy(free)));
API void __libc_cfree(void *) __attribute__((alias("free"), copy(free)));
API void *__libc_calloc(size_t, size_t) __attribute__((alias("calloc"), copy(calloc)));
API void *__libc_realloc(void *, size_t) __attribute__((alias("realloc"), copy(realloc)));
API void *__libc_memalign(size_t, size_t) __attribute__((alias("memalign"), copy(memalign)));
API void *__libc_valloc(size_t) __attribute__((alias("valloc"), copy(valloc)));
API void *__libc_pvalloc(size_t) __attribute__((alias("pvalloc"), copy(pvalloc)));
API int __posix_memalign(void **, size_t, size_t)
        __attribute__((alias("posix_memalign"), copy(posix_memalign)));

struct totals {
	uint64_t mapped, in_use, large, idle;
};

static void add_totals(struct fa_numa *n, struct totals *t)
{
	struct fa_numa_stats *st;

	if (!n)
		return;
	st = boot_alloc(sizeof(*st), 16);
	if (!st)
		return;
	if (fa_numa_stats(n, st) == 0)
		for (int i = 0; i < st->nr_nodes; i++) {
			t->mapped += st->node[i].mapped;
			t->in_use += st->node[i].in_use;
			t->idle += st->node[i].idle;
		}
	boot_free(st);
}

static void totals_of(struct totals *t)
{
	memset(t, 0, sizeof(*t));
	if (atomic_load(&state) == ST_READY) {
		add_totals(g, t);
		if (g_med != g)
			add_totals(g_med, t);
		add_totals(atomic_load(&g_al), t);
	}
	t->mapped += atomic_load_explicit(&big_mapped, memory_order_relaxed) + boot_committed;
	t->mapped += atomic_load_explicit(&med_mapped, memory_order_relaxed);
	t->in_use += atomic_load_explicit(&big_live, memory_order_relaxed);
	t->in_use += atomic_load_explicit(&med_live, memory_order_relaxed);
	t->in_use += atomic_load_explicit(&boot_bytes, memory_order_relaxed);
}

/* Idle large maps and idle slabs go back; 1 if the mapped total fell. */
API int malloc_trim(size_t pad)
{
	struct totals before, after;

	(void)pad;
	if (atomic_load(&state) != ST_READY)
		return 0;
	totals_of(&before);
	fa_numa_trim(g, -1);
	med_trim();
	if (g_med != g)
		fa_numa_trim(g_med, -1);
	if (atomic_load(&g_al))
		fa_numa_trim(atomic_load(&g_al), -1);
	totals_of(&after);
	return after.mapped < before.mapped;
}

API struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 mi;
	struct totals t;

	memset(&mi, 0, sizeof(mi));
	totals_of(&t);
	mi.arena = t.mapped;
	mi.uordblks = t.in_use;
	mi.fordblks = t.mapped > t.in_use ? t.mapped - t.in_use : 0;
	mi.keepcost = t.idle;
	return mi;
}

static int clamp_int(size_t v)
{
	return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

API struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo mi;

	memset(&mi, 0, sizeof(mi));
	mi.arena = clamp_int(m2.arena);
	mi.uordblks = clamp_int(m2.uordblks);
	mi.fordblks = clamp_int(m2.fordblks);
	mi.keepcost = clamp_int(m2.keepcost);
	return mi;
}

/* glibc writes its arenas' totals on stderr; so do we, in its shape. */
API void malloc_stats(void)
{
	struct totals t;

	totals_of(&t);
	fprintf(stderr,
	        "finalloc-malloc:\nsystem bytes     = %10llu\nin use bytes     = %10llu\n"
	        "idle bytes       = %10llu\n",
	        (unsigned long long)t.mapped, (unsigned long long)t.in_use,
	        (unsigned long long)t.idle);
}

/* Tunables are glibc's own: accepted, nothing to change. */
API int mallopt(int param, int value)
{
	(void)param;
	(void)value;
	return 1;
}

API int malloc_info(int options, FILE *f)
{
	struct totals t;

	if (options != 0 || !f) {
		errno = EINVAL;
		return -1;
	}
	totals_of(&t);
	fprintf(f,
	        "<malloc version=\"finalloc-1\">\n<total type=\"mapped\" size=\"%llu\"/>\n"
	        "<total type=\"in_use\" size=\"%llu\"/>\n</malloc>\n",
	        (unsigned long long)t.mapped, (unsigned long long)t.in_use);
	return 0;
}

/* ---- what the library's own calls get (renamed by the build) ---- */

void *fa__boot_malloc(size_t size)
{
	return boot_alloc(size, 16);
}

void *fa__boot_calloc(size_t n, size_t m)
{
	size_t total;
	bool fresh;
	void *p;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = boot_alloc_z(total, 16, &fresh);
	/* fresh blocks are untouched zero pages: the pools' batch chunks
	 * (half a MiB each) stay out of RSS until used */
	if (p && !fresh)
		memset(p, 0, total);
	return p;
}

void *fa__boot_aligned_alloc(size_t align, size_t size)
{
	if (!pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return boot_alloc(size, align);
}

int fa__boot_posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (!pow2(align) || align % sizeof(void *))
		return EINVAL;
	p = boot_alloc(size, align);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* The library's free is free: it tells the two kinds apart. */
void *fa__boot_realloc(void *p, size_t size)
{
	size_t old;
	void *q;

	if (!p)
		return boot_alloc(size, 16);
	if (!in_boot(p))
		return realloc(p, size); /* from libc (strdup): the public kind */
	if (size == 0) {
		boot_free(p);
		return NULL;
	}
	old = boot_usable(p);
	if (size <= old)
		return p;
	q = boot_alloc(size, 16);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	boot_free(p);
	return q;
}

/* ---- fork ---- */

static void boot_prefork(void)
{
	med_prefork();
	boot_lock_take();
}

static void boot_postfork(void)
{
	boot_lock_drop();
	med_postfork();
}

/* Priority 101: before the library's own fork registration, so this
 * prepare handler runs after the library's (the boot lock nests inside
 * every library lock: the library allocates under its locks). */
__attribute__((constructor(101))) static void malloc_ctor(void)
{
	pthread_atfork(boot_prefork, boot_postfork, boot_postfork);
	ctor_ran = true;
	/* FINALLOC_TRACE: large allocations into the journal, opened here
	 * rather than in the first malloc (ld.so's, before libc could start
	 * the journal's writer thread) */
	if (getenv("FINALLOC_TRACE") && ready()) {
		fa__numa_trace_start(g, true);
		if (g_med != g)
			fa__numa_trace_start(g_med, true);
	}
}
