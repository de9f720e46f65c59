/* SPDX-License-Identifier: MIT */
/*
 * libfinalloc: arena, pool and NUMA allocators for low-latency systems, on
 * node-pinned huge pages from /dev/finalloc or a fallback mmap backend.
 *
 * Conventions: functions returning int give 0 or -errno; functions returning
 * a pointer give NULL and set errno.  Options structs may be NULL for the
 * defaults; zero-initialise them so fields added later keep their defaults.
 * The errno values each function can give are listed beside it.
 */
#ifndef FINALLOC_H
#define FINALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
/* fa_pool_stats() and struct fa_pool_stats (and the like) share a name, as
 * C allows; g++ -Wshadow says the function hides the struct's constructor.
 * C++ names the struct "struct fa_pool_stats", as C does. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
extern "C" {
#endif

#define FA_VERSION_MAJOR 0
#define FA_VERSION_MINOR 1
#define FA_VERSION_PATCH 0

/* Library version as "MAJOR.MINOR.PATCH". */
const char *fa_version(void);

/* ------------------------------------------------------------------------
 * Topology
 * ---------------------------------------------------------------------- */

#define FA_MAX_NODES 64

struct fa_node_info {
	int node;               /* node id */
	int has_memory;         /* node has memory (1) or is CPU-only (0) */
	int nr_cpus;            /* CPUs on the node */
	uint64_t mem_total;     /* bytes */
	uint64_t mem_free;      /* bytes */
	uint64_t huge_2m_total; /* reserved 2 MiB hugetlb pages on the node */
	uint64_t huge_2m_free;
	uint64_t huge_1g_total; /* reserved 1 GiB hugetlb pages on the node */
	uint64_t huge_1g_free;
};

struct fa_topology {
	int numa_available; /* libnuma says the kernel supports NUMA */
	int nr_nodes;       /* entries in node[] (nodes present) */
	int max_node;       /* highest node id present */
	int nr_cpus;        /* configured CPUs */
	struct fa_node_info node[FA_MAX_NODES];
	/* distance[i][j] between node[i].node and node[j].node (10 = local) */
	uint8_t distance[FA_MAX_NODES][FA_MAX_NODES];
};

/*
 * Read the machine's NUMA topology through libnuma and sysfs.  A host without
 * NUMA support is reported as one node 0 holding every CPU and all memory.
 * Unreadable hugetlb sysfs files read as zero pages.
 * Errors: -EINVAL (t is NULL), -ENOMEM.
 */
int fa_topology_read(struct fa_topology *t);

/* The node CPU cpu belongs to, or -EINVAL. */
int fa_cpu_to_node(int cpu);

/* ------------------------------------------------------------------------
 * Page backends
 * ---------------------------------------------------------------------- */

/*
 * Every allocator draws its memory from one of these backends.  AUTO picks
 * the best one present: device (/dev/finalloc: node-pinned 2 MiB pages,
 * kernel guard pages), then hugetlb (when pages of the size are reserved),
 * then THP (MADV_HUGEPAGE, unless THP is "never"), then 4 KiB pages.
 * FINALLOC_BACKEND=device|hugetlb|thp|small overrides AUTO for the process.
 *
 * A backend named explicitly (option or FINALLOC_BACKEND) is forced: if it
 * cannot serve, the call fails (ENODEV: not present, ENOMEM: exhausted).
 * Under AUTO a backend that is present but fails (e.g. reserved hugetlb
 * pages exhausted) falls back to the next one; that is a downgrade: it is
 * counted in struct fa_backend_stats and, with FINALLOC_VERBOSE set, said
 * once on stderr per (asked, served) pair.  FA_MEM_STRICT turns a downgrade
 * into a failure.
 */
enum fa_backend {
	FA_BACKEND_AUTO = 0,
	FA_BACKEND_DEVICE,  /* /dev/finalloc regions */
	FA_BACKEND_HUGETLB, /* MAP_HUGETLB 2 MiB or 1 GiB pages */
	FA_BACKEND_THP,     /* anonymous, MADV_HUGEPAGE, 2 MiB aligned */
	FA_BACKEND_SMALL,   /* anonymous, 4 KiB pages */
	FA_BACKEND_COUNT
};

#define FA_NODE_ANY (-1)

#define FA_PAGE_4K ((size_t)4 << 10)
#define FA_PAGE_2M ((size_t)2 << 20)
#define FA_PAGE_1G ((size_t)1 << 30)

/* struct fa_mem_opts.flags */
#define FA_MEM_PREFAULT (1u << 0) /* populate now; mlock too where allowed */
#define FA_MEM_STRICT   (1u << 1) /* fail rather than downgrade */
/* place on .node (else the caller's node for the device, no policy otherwise) */
#define FA_MEM_ON_NODE (1u << 2)
/* memory get_user_pages can pin (O_DIRECT, io_uring fixed buffers, RDMA,
 * vmsplice); device: a FINALLOC_REGION_PINNABLE region (4 KiB PTEs of its
 * 2 MiB pages on 6.12, where the default is PMD mapping, which GUP refuses).
 * Fallback memory is always pinnable. */
#define FA_MEM_PINNABLE (1u << 3)

struct fa_mem_opts {
	int backend;          /* enum fa_backend; 0 = AUTO */
	int node;             /* used with FA_MEM_ON_NODE */
	size_t page_size;     /* 0 = best; FA_PAGE_4K/2M/1G asks for that */
	size_t guard_size;    /* bytes of guard pages before and after the
	                         usable range; rounded up to 4 KiB (device:
	                         its page size).  Touching them: SIGSEGV. */
	unsigned flags;       /* FA_MEM_* */
	unsigned reserved[3]; /* must be 0 */
};

/* What one mapping asked for and what it got. */
struct fa_mem_info {
	int backend_asked;      /* enum fa_backend (AUTO if not forced) */
	int backend;            /* served */
	size_t page_size_asked; /* 0 = best */
	size_t page_size;       /* served (THP: 2 MiB asked of the kernel) */
	int node_asked;         /* FA_NODE_ANY if none */
	int node;               /* served as far as known, FA_NODE_ANY if not */
	size_t guard_size;      /* served, each side */
	unsigned downgraded;    /* 1 if served below the first choice */
	unsigned locked;        /* 1 if mlocked (prefault) */
	unsigned prefaulted;    /* 1 if populated */
	unsigned guard_kind;    /* FA_GUARD_* */
};

#define FA_GUARD_NONE     0
#define FA_GUARD_KERNEL   1 /* device backend guard layout */
#define FA_GUARD_MADVISE  2 /* MADV_GUARD_INSTALL, no extra VMAs */
#define FA_GUARD_MPROTECT 3 /* PROT_NONE (hugetlb: reserved hole) */

struct fa_backend_stats {
	/* maps[asked][served]: mappings by backend asked (AUTO = not forced)
	 * and backend that served them. */
	uint64_t maps[FA_BACKEND_COUNT][FA_BACKEND_COUNT];
	uint64_t bytes_mapped[FA_BACKEND_COUNT]; /* live, usable bytes */
	uint64_t downgrades;                     /* served below the first choice */
	uint64_t page_downgrades;                /* served with smaller pages than asked */
	uint64_t failures;                       /* requests that failed */
	uint64_t unmaps;
	uint64_t locked_bytes;           /* live mlocked bytes */
	uint64_t lock_failures;          /* prefault asked, mlock refused */
	int available[FA_BACKEND_COUNT]; /* 1 if present on this host */
	size_t huge_page_sizes[2];       /* hugetlb sizes reserved (0 = none) */
};

/* Name of an enum fa_backend value ("auto", "device", ...), or NULL. */
const char *fa_backend_name(int backend);

/* Parse a name as accepted by FINALLOC_BACKEND.  -EINVAL if unknown. */
int fa_backend_parse(const char *name);

/*
 * Snapshot of the process-wide backend counters.
 * Errors: -EINVAL (st is NULL).
 */
int fa_backend_stats(struct fa_backend_stats *st);

/*
 * Map size bytes (rounded up to the served page size) as the options say,
 * for callers that want raw pages; *info (may be NULL) says what was served.
 * Under AUTO a page_size no backend present offers (1 GiB, none reserved)
 * is served with smaller pages: a page downgrade, flagged in *info and
 * counted, that FA_MEM_STRICT refuses.
 * Free with fa_mem_unmap(p, size) using the same size.
 * Errors (NULL, errno): EINVAL (size 0, bad option, reserved not zero,
 * page_size not 4K/2M/1G or not served by the forced backend, guard_size
 * above 1 TiB, node out of range), ENODEV (forced backend absent),
 * EACCES (device forced, present, but the
 * caller may not open it: see the udev rule in README),
 * ENOMEM (size above 64 TiB, no memory, strict downgrade refused), EPERM
 * (device: RLIMIT_MEMLOCK exceeded without CAP_IPC_LOCK), EOPNOTSUPP (device
 * without guard pages, or FA_MEM_PINNABLE asked of a module without
 * FINALLOC_CAP_PINNABLE; under AUTO the next backend serves instead),
 * errors of mbind(2) (FA_MEM_ON_NODE fallback).
 */
void *fa_mem_map(size_t size, const struct fa_mem_opts *opts, struct fa_mem_info *info);

/* Unmap what fa_mem_map returned.  Errors: -EINVAL (unknown address/size). */
int fa_mem_unmap(void *p, size_t size);

/* ------------------------------------------------------------------------
 * Arena allocator
 * ---------------------------------------------------------------------- */

/*
 * Bump allocator over chunks from the page backends.  One arena is used by
 * one thread at a time (no locks); fa_arena_tls() gives each thread its own.
 * Memory is 16-byte aligned, uninitialised (fresh chunks are zero, recycled
 * ones are not) and lives until fa_arena_reset() or fa_arena_destroy().
 *
 * fa_arena_alloc() and fa_arena_alloc_aligned() are macros over an inline
 * bump on struct fa_arena_cursor (two pointers); everything else (new chunk,
 * metadata, canaries, tracing, bad input) is the out-of-line
 * fa_arena_alloc_site().  Arenas with META, CANARY, DEBUG or TRACE keep the
 * cursor empty so every allocation takes that path.  The functions also
 * exist as symbols: (fa_arena_alloc)(a, n) bypasses the macro.
 */
struct fa_arena;
struct fa_arena_group;

/* First member of every struct fa_arena: the state the inline path uses. */
struct fa_arena_cursor {
	char *ptr;
	char *end;
};

#define FA_ARENA_MIN_ALIGN 16

/* struct fa_arena_opts.flags */
#define FA_ARENA_META          (1u << 0) /* header per allocation: fa_arena_walk */
#define FA_ARENA_CANARY        (1u << 1) /* red zones around each allocation; implies META */
#define FA_ARENA_GUARDS        (1u << 2) /* guard pages before and after each chunk */
#define FA_ARENA_DEBUG         (1u << 3) /* check on reset/destroy; implies CANARY */
#define FA_ARENA_TRACE         (1u << 4) /* journal allocations (see fa_trace_open) */
#define FA_ARENA_RESET_RELEASE (1u << 5) /* reset gives back all chunks but the first */

/* A canary or header found damaged by fa_arena_check(). */
#define FA_CORRUPT_HEADER 1 /* allocation header overwritten */
#define FA_CORRUPT_FRONT  2 /* red zone before the allocation (underflow) */
#define FA_CORRUPT_BACK   3 /* red zone after the allocation (overflow) */

struct fa_arena_corruption {
	int kind;         /* FA_CORRUPT_* */
	void *ptr;        /* the allocation (header: the header's address) */
	size_t size;      /* its size (0 if the header is unreadable) */
	void *bad;        /* first damaged byte */
	const char *file; /* allocation site; for HEADER the site of the
	                     allocation just before it (the likely
	                     overrun), NULL if it is the first */
	int line;
	const char *func;
};

struct fa_arena_opts {
	size_t chunk_size;            /* first chunk; 0 = 2 MiB; doubles per new chunk */
	size_t max_chunk_size;        /* doubling stops here; 0 = 64 MiB; max 1 GiB.
	                                 Also the largest alignment accepted.
	                                 Larger allocations get a chunk of their own. */
	size_t cap;                   /* most chunk bytes held, 0 = no cap (ENOMEM past) */
	unsigned flags;               /* FA_ARENA_* */
	unsigned trace_sample;        /* TRACE: also journal 1 in N smaller allocations */
	size_t trace_min_size;        /* TRACE: journal allocations >= this (0 = all) */
	const char *trace_path;       /* TRACE: open the journal here if none is open */
	struct fa_mem_opts mem;       /* chunk pages; with .group the group's are used */
	struct fa_arena_group *group; /* draw chunks from and return them to */
	/* DEBUG: called on corruption found by reset/destroy (default: print
	 * the report on stderr and abort()). */
	void (*on_corruption)(struct fa_arena *a, const struct fa_arena_corruption *c, void *arg);
	void *corruption_arg;
	uint64_t reserved[4]; /* must be 0 */
};

/*
 * Create an arena and map its first chunk.
 * Errors (NULL, errno): EINVAL (unknown flag, reserved not zero, chunk sizes
 * out of range, bad mem opts, TRACE with no journal, trace_path or
 * FINALLOC_TRACE), ENOMEM (no memory, cap below one chunk), ENODEV (forced
 * backend absent), and open(2) errors of trace_path.  A FINALLOC_TRACE
 * journal that cannot be opened is said once on stderr: arenas go on
 * untraced.
 */
struct fa_arena *fa_arena_create(const struct fa_arena_opts *opts);

/*
 * Allocate size bytes (aligned to align, a power of two, for _aligned).
 * Errors (NULL, errno): EINVAL (a NULL, size 0, align 0 or not a power of
 * two, align above both max_chunk_size and 4096: so whether or not the
 * current chunk happens to hold such an address), ENOMEM (size overflows,
 * cap reached, no memory).
 */
void *(fa_arena_alloc)(struct fa_arena *a, size_t size);
void *(fa_arena_alloc_aligned)(struct fa_arena *a, size_t size, size_t align);
/* The out-of-line path, with the allocation site recorded by META/TRACE. */
void *fa_arena_alloc_site(struct fa_arena *a, size_t size, size_t align, const char *file, int line,
                          const char *func);

/* Run destructors (last registered first), check (DEBUG), rewind: O(chunks).
 * A NULL arena is ignored. */
void fa_arena_reset(struct fa_arena *a);
/* Destructors, check (DEBUG), chunks back to the group or backend, free.
 * NULL is ignored.  Refused, with a message on stderr and errno EINVAL: a
 * thread's fa_arena_tls() arena (its group frees it) and an fa_numa_arena()
 * arena (fa_numa_destroy frees it). */
void fa_arena_destroy(struct fa_arena *a);

/*
 * Call fn(obj) on reset/destroy, in reverse order of registration.
 * Errors: -EINVAL (a or fn NULL), -ENOMEM (no room for the record).
 */
int fa_arena_on_destroy(struct fa_arena *a, void (*fn)(void *), void *obj);

/* Allocate, copy *init, register dtor (may be NULL).  NULL + errno as
 * fa_arena_alloc; ENOMEM if the destructor record does not fit. */
void *fa_arena_new_site(struct fa_arena *a, size_t size, size_t align, const void *init,
                        void (*dtor)(void *), const char *file, int line, const char *func);

/* One allocation as seen by fa_arena_walk (META arenas). */
struct fa_arena_block {
	void *ptr;
	size_t size;
	size_t align;
	uint64_t seq; /* allocation number since create */
	const char *file;
	int line;
	const char *func;
};

/*
 * Call fn for every live allocation, oldest first; a non-zero return from
 * fn stops the walk and is returned.
 * Errors: -EINVAL (a or fn NULL), -EOPNOTSUPP (arena without META),
 * -EUCLEAN (a damaged header stops the walk).
 */
int fa_arena_walk(struct fa_arena *a, int (*fn)(const struct fa_arena_block *b, void *arg),
                  void *arg);

/*
 * Validate every header and red zone; on damage fill *c (may be NULL) with
 * the first one found and return -EUCLEAN.
 * Errors: -EINVAL (a NULL), -EOPNOTSUPP (arena without META).
 */
int fa_arena_check(struct fa_arena *a, struct fa_arena_corruption *c);

struct fa_arena_stats {
	size_t nr_chunks;   /* chunks held */
	size_t chunk_bytes; /* their usable bytes */
	size_t used_bytes;  /* bumped since the last reset (padding included) */
	size_t cap;         /* 0 = none */
	size_t cur_avail;   /* bytes left in the current chunk */
	void *cur_ptr;      /* current chunk's bump pointer and end */
	void *cur_end;
	uint64_t resets;
	uint64_t chunks_mapped;   /* chunks taken from the backend */
	uint64_t chunks_reused;   /* chunks taken from the group */
	uint64_t chunks_released; /* chunks given back (group or backend) */
	uint64_t slow_allocs;     /* allocations through fa_arena_alloc_site */
	uint64_t dtors_pending;
	uint64_t traced;            /* allocations journaled */
	uint64_t downgraded_chunks; /* chunks served below what was asked */
	struct fa_mem_info mem;     /* what the newest chunk got */
};

/* Errors: -EINVAL (a or st NULL). */
int fa_arena_stats(struct fa_arena *a, struct fa_arena_stats *st);

#include "finalloc/arena.h"

#define fa_arena_alloc(a, size) \
	fa__arena_bump_inl((a), (size), FA_ARENA_MIN_ALIGN, __FILE__, __LINE__, __func__)
#define fa_arena_alloc_aligned(a, size, align) \
	fa__arena_bump_inl((a), (size), (align), __FILE__, __LINE__, __func__)

/*
 * p = FA_ARENA_NEW(a, struct order, .id = 7, .qty = 100): allocate and
 * initialise one object (at least one initialiser; {0}-style "0" works).
 * FA_ARENA_NEW_DTOR(a, type, dtor, ...) also registers void dtor(void *).
 * NULL with errno as fa_arena_alloc / fa_arena_new_site.  C only: C++ has
 * fa::arena::construct<T>() in <finalloc.hpp>.
 */
#ifdef __cplusplus
/* C only (compound literals): a clear error rather than the compiler's. */
#define FA_ARENA_NEW(a, type, ...)                                                            \
	([]() -> type * {                                                                     \
		static_assert(sizeof(type) == 0, "FA_ARENA_NEW is C only: in C++ use "        \
		                                 "fa::arena::construct<T>() (finalloc.hpp)"); \
		return nullptr;                                                               \
	}())
#define FA_ARENA_NEW_DTOR(a, type, dtor, ...) FA_ARENA_NEW(a, type)
#else
#define FA_ARENA_NEW(a, type, ...)                                                             \
	((type *)fa__arena_init_inl(fa_arena_alloc_aligned((a), sizeof(type), _Alignof(type)), \
	                            &(type){ __VA_ARGS__ }, sizeof(type)))
#define FA_ARENA_NEW_DTOR(a, type, dtor, ...)                                                 \
	((type *)fa_arena_new_site((a), sizeof(type), _Alignof(type), &(type){ __VA_ARGS__ }, \
	                           (dtor), __FILE__, __LINE__, __func__))
#endif

/* ---- arena groups and thread-local sub-arenas ---- */

/* struct fa_arena_group_opts.flags */
#define FA_GROUP_NO_RETAIN (1u << 0) /* free chunks go straight back */
#define FA_GROUP_TLS_NODE  (1u << 1) /* sub-arena on its thread's node */
/* thread exit resets the sub-arena (else its memory stays valid) */
#define FA_GROUP_TLS_RESET_ON_EXIT (1u << 2)

struct fa_arena_group_opts {
	struct fa_mem_opts mem;   /* pages of every chunk in the group */
	size_t retain_max;        /* free chunk bytes kept, 0 = 256 MiB */
	unsigned flags;           /* FA_GROUP_* */
	unsigned reserved0;       /* must be 0 */
	struct fa_arena_opts tls; /* template for sub-arenas (.group, .mem ignored) */
	uint64_t reserved[4];     /* must be 0 */
};

struct fa_arena_group_stats {
	size_t retained_bytes; /* free chunks held for reuse */
	size_t retained_chunks;
	uint64_t chunks_mapped;   /* taken from the backend */
	uint64_t chunks_reused;   /* handed out again */
	uint64_t chunks_returned; /* given back by arenas */
	uint64_t chunks_unmapped; /* over retain_max, back to the backend */
	uint64_t arenas;          /* member arenas alive (sub-arenas included) */
	uint64_t tls_created;     /* sub-arenas created */
	uint64_t tls_adopted;     /* idle sub-arenas taken by a new thread */
	uint64_t tls_returned;    /* sub-arenas returned by exiting threads */
	uint64_t tls_idle;        /* sub-arenas waiting for a thread */
};

/* Errors (NULL, errno): EINVAL (bad opts), ENOMEM. */
struct fa_arena_group *fa_arena_group_create(const struct fa_arena_group_opts *opts);

/*
 * Free the group, its idle sub-arenas and retained chunks.
 * Errors: -EINVAL (g NULL), -EBUSY (arenas still use it, or a thread still
 * holds a sub-arena: it must exit or call fa_arena_tls_release first).
 */
int fa_arena_group_destroy(struct fa_arena_group *g);

/*
 * The calling thread's sub-arena of g, created (or adopted from the idle
 * ones) on first use; cache-line separated from every other thread's.
 * Returned to g when the thread exits.
 * Errors (NULL, errno): EINVAL (g NULL), ENOMEM, as fa_arena_create.
 */
struct fa_arena *fa_arena_tls(struct fa_arena_group *g);

/* Return the calling thread's sub-arena to g now, as thread exit does.
 * Errors: -EINVAL (g NULL), -ENOENT (the thread holds none). */
int fa_arena_tls_release(struct fa_arena_group *g);

/* Errors: -EINVAL (g or st NULL). */
int fa_arena_group_stats(struct fa_arena_group *g, struct fa_arena_group_stats *st);

/* ------------------------------------------------------------------------
 * Allocation journal
 * ---------------------------------------------------------------------- */

/*
 * Arenas with FA_ARENA_TRACE (or every arena, under FINALLOC_TRACE) record
 * their allocations into a per-thread ring; pools with FA_POOL_TRACE and
 * NUMA allocators with FA_NUMA_TRACE (or all, under FINALLOC_TRACE) their
 * large allocations and the frees of those.  A writer thread appends the
 * rings to one file.  The file format: finalloc/trace.h (structs) and
 * fa_trace_open(3).  A full ring drops records (counted) unless
 * FA_TRACE_BLOCK makes the thread wait.
 */
#include "finalloc/trace.h"

#define FA_TRACE_BLOCK (1u << 0) /* wait for room instead of dropping */

struct fa_trace_opts {
	size_t buffer_size;   /* per-thread ring, power of two; 0 = 1 MiB */
	unsigned flags;       /* FA_TRACE_* */
	unsigned interval_us; /* writer wake-up period, 0 = 1000 */
};

/*
 * Open the process journal (truncating path) and start the writer thread.
 * FINALLOC_TRACE=path opens it at the first fa_arena_create and traces
 * every arena (FINALLOC_TRACE_MIN / FINALLOC_TRACE_SAMPLE set thresholds,
 * FINALLOC_TRACE_RING / FINALLOC_TRACE_BLOCK the options); a path that
 * cannot be opened is said once on stderr and tracing stays off.
 * Closed by fa_trace_close() or at exit.
 * Errors: -EINVAL (path NULL, unknown flag, buffer_size not a power of two
 * in 4 KiB..1 GiB), -EBUSY (already open), open(2) errors, -EIO (header
 * write failed), -EAGAIN (no writer thread).
 */
int fa_trace_open(const char *path, const struct fa_trace_opts *opts);
/* Write everything buffered so far; returns when it is on disk (fdatasync
 * not implied).  Errors: -ENOENT (no journal), -EIO (a write failed). */
int fa_trace_flush(void);
/* Flush, write END, stop the writer, close.  Call it when no other thread
 * is journaling (their rings are freed); at exit the journal is flushed
 * and ended automatically.  A forked child stops journaling.
 * Errors: -ENOENT, -EIO. */
int fa_trace_close(void);

struct fa_trace_stats {
	uint64_t records; /* records written */
	uint64_t dropped; /* records dropped (buffer full) */
	uint64_t bytes;   /* bytes written, header included */
	uint64_t writes;  /* write requests submitted */
	int uring;        /* 1 if io_uring carries the writes */
	int open;
};
/* Errors: -EINVAL (st NULL). */
int fa_trace_stats(struct fa_trace_stats *st);

/* Decoder shared by bin/finalloc and the tests. */
struct fa_trace_reader;

struct fa_trace_event {
	int type;         /* FA_TRACE_ALLOC, _ARENA, _FREE, _DROP, _END */
	int event;        /* ARENA: FA_TRACE_EV_* */
	uint64_t time_ns; /* since the journal was opened */
	uint32_t tid;
	uint64_t arena; /* source id: FA_TRACE_SOURCE() says which kind */
	uint64_t addr;
	uint64_t size;
	uint32_t align;
	const char *file; /* ALLOC: site, valid until the reader closes */
	int line;
	const char *func;
	uint64_t count;   /* DROP: dropped; END: records written */
	uint64_t dropped; /* END */
};

struct fa_trace_header {
	uint32_t version;
	uint32_t pid;
	uint64_t start_ns;
	uint64_t start_real;
};

/*
 * Open a journal for reading: the whole regular file, read into memory.
 * Errors (NULL, errno): EINVAL (path NULL, or not a regular file: a pipe or
 * a device has no size to bound the read), open(2) and read(2) errors,
 * EBADMSG (not a journal), EPROTONOSUPPORT (newer version), EFBIG (larger
 * than half the address space), ENOMEM.
 */
struct fa_trace_reader *fa_trace_reader_open(const char *path);
/* Errors: -EINVAL. */
int fa_trace_reader_header(struct fa_trace_reader *r, struct fa_trace_header *h);
/* Next event (SITE records are folded in): 1, 0 at the end, -EBADMSG on a
 * truncated or malformed record (and from then on: the events before it
 * are the journal's good prefix; fa_trace_reader_damage says where it
 * ends), -EINVAL (r or ev NULL), -ENOMEM. */
int fa_trace_next(struct fa_trace_reader *r, struct fa_trace_event *ev);

/* Where decoding stopped, after fa_trace_next gave -EBADMSG. */
struct fa_trace_damage {
	uint64_t offset;    /* the first byte not decoded: the good prefix ends here */
	uint64_t file_size; /* bytes in the file */
	int truncated;      /* 1: the file ends inside that record (a writer killed
	                     * mid-run); 0: the record is malformed */
	int type;           /* its type, 0 when fewer than 4 bytes are left */
	uint32_t len;       /* the length its head gives (0 as for type) */
	char what[124];     /* what was expected there, one line, e.g. "a 48-byte
	                     * ALLOC record, 20 bytes left" */
};
/* Errors: -EINVAL (r or d NULL), -ENOENT (decoding has not stopped on a
 * bad record: the journal is whole so far). */
int fa_trace_reader_damage(struct fa_trace_reader *r, struct fa_trace_damage *d);
void fa_trace_reader_close(struct fa_trace_reader *r);

/* ------------------------------------------------------------------------
 * Pool allocator
 * ---------------------------------------------------------------------- */

/*
 * Small objects from 64 KiB slabs carved out of backend regions, through a
 * bounded per-thread cache per class refilled and flushed in lock-free
 * batches.  A size-class pool (opts NULL or obj_size 0) rounds requests up
 * to a class (powers of two 16..8192, or FA_POOL_FINE's four per doubling)
 * and maps larger ones one by one, keeping freed ones cached for reuse; a
 * fixed-size pool has one class and optional ctor/dtor hooks.  Objects have
 * no header and the pool never writes into a free one (except to poison).
 * Any thread may free any object.  Release-mode contract: free once, to the
 * pool that allocated it, no access after; FA_POOL_DEBUG, _POISON and
 * _QUARANTINE detect breaches.  Thread caches, inline TLS bins, fork(),
 * features and tuning: fa_pool_create(3), finalloc(7).
 */

#define FA_POOL_SMALL_MAX   8192u /* largest class */
#define FA_POOL_MAX_CLASSES 48

/* struct fa_pool_opts.flags */
#define FA_POOL_FINE           (1u << 0) /* ~4 classes per doubling, not powers of 2 */
#define FA_POOL_NO_LARGE       (1u << 1) /* requests above the largest class: E2BIG */
#define FA_POOL_ZERO           (1u << 2) /* zero the requested bytes on allocation */
#define FA_POOL_POISON         (1u << 3) /* fill freed objects, verify on reuse */
#define FA_POOL_QUARANTINE     (1u << 4) /* hold freed objects FIFO before reuse */
#define FA_POOL_DEBUG          (1u << 5) /* detect double and foreign frees */
#define FA_POOL_CTOR_EVERY     (1u << 6) /* ctor on every alloc, dtor on every free */
#define FA_POOL_SIZE_HIST      (1u << 7) /* histogram of requested sizes (log2) */
#define FA_POOL_NO_LARGE_CACHE (1u << 8) /* unmap freed large objects at once */
#define FA_POOL_TRACE          (1u << 9) /* journal large objects (see fa_trace_open) */

#define FA_POOL_POISON_BYTE 0xa5

/* What a report is about. */
enum fa_pool_error {
	FA_POOL_ERR_DOUBLE_FREE = 1,  /* freed while already free */
	FA_POOL_ERR_FOREIGN,          /* not an object of this pool */
	FA_POOL_ERR_WRITE_AFTER_FREE, /* poison changed while free */
};

struct fa_pool;

struct fa_pool_report {
	int error; /* enum fa_pool_error */
	struct fa_pool *pool;
	const char *pool_name;
	void *ptr;       /* object (or pointer) concerned */
	unsigned cls;    /* class index (0 if unknown) */
	size_t obj_size; /* class size (0 if unknown) */
	size_t offset;   /* first bad byte (write after free) */
	const char *msg; /* one line, no newline */
};

/*
 * Called on a detected misuse.  The default prints msg on stderr and
 * aborts.  If a handler returns: a double or foreign free is ignored; an
 * object with a write after free is re-poisoned and reused.
 * Report handlers and object hooks may run with the pool's locks held (a
 * quarantine drained at thread exit, a slab carved for a shared cache):
 * they must not call fork(), fa_stats_dump()/fa_stats_write(), or create,
 * destroy, allocate from or free to a pool.  Record and return.
 */
typedef void (*fa_pool_report_fn)(const struct fa_pool_report *r, void *arg);

/*
 * Object hooks, given the object and its class size.  By default ctor runs
 * once per object when its slab is carved and dtor when the pool is
 * destroyed (constructed state survives reuse: keep it valid when freeing);
 * with FA_POOL_CTOR_EVERY they run on every alloc and every free.
 */
typedef void (*fa_pool_hook_fn)(void *obj, size_t size, void *arg);

struct fa_pool_opts {
	size_t obj_size;               /* 0: size classes; else one class of this size
	                                  (multiple of align, <= FA_POOL_SMALL_MAX) */
	size_t align;                  /* power of two 8..4096; 0 = 16 (8 for a fixed
	                                  size that is not a multiple of 16) */
	unsigned flags;                /* FA_POOL_* */
	unsigned tcache_objs;          /* per thread per class cache bound, <= 4096;
	                                  0 = auto (32 KiB of objects, 8..512); a
	                                  thread may also hold the untaken rest of
	                                  one batch per class */
	unsigned batch;                /* objects per refill/flush, <= tcache_objs and
	                                  <= 512; 0 = half the bound */
	unsigned snapshot_ring;        /* snapshots kept; 0 = 64 */
	unsigned snapshot_ms;          /* > 0: a thread takes one every this many ms */
	unsigned reserved0;            /* must be 0 */
	size_t prealloc;               /* bytes of slabs mapped and carved at creation */
	size_t max_bytes;              /* cap on bytes mapped; 0 = none (then ENOMEM) */
	const struct fa_mem_opts *mem; /* where slabs come from; NULL = defaults */
	fa_pool_hook_fn ctor, dtor;
	void *hook_arg;
	/* quarantine bounds (FA_POOL_QUARANTINE); 0 = default */
	size_t quarantine_objs;   /* default 4096 */
	size_t quarantine_bytes;  /* default 4 MiB */
	uint64_t quarantine_ns;   /* default 1 s; older objects leave at the
	                             next free or fa_pool_quarantine_drain */
	fa_pool_report_fn report; /* NULL: print and abort */
	void *report_arg;
	const char *name;         /* copied; shows in reports and stats */
	size_t large_cache_bytes; /* freed large mappings kept for reuse, bytes
	                             (counted in max_bytes); 0 = 64 MiB;
	                             must be 0 with FA_POOL_NO_LARGE_CACHE */
	uint64_t reserved[3];     /* must be 0 */
};

/*
 * Create a pool (opts NULL: power-of-two size-class pool with defaults).
 * Errors (NULL, errno): EINVAL (unknown flag, reserved field set, align not
 * a power of two in 8..4096, obj_size not a multiple of align or above
 * FA_POOL_SMALL_MAX, tcache_objs > 4096, batch > 512 or > tcache_objs,
 * FINE with obj_size, hooks without CTOR_EVERY but with
 * POISON/ZERO/QUARANTINE, CTOR_EVERY without hooks, snapshot_ring > 2^20,
 * large_cache_bytes with FA_POOL_NO_LARGE_CACHE,
 * quarantine_objs > 2^24, bad mem options), ENOMEM (no memory; prealloc not
 * served or above 64 TiB), EAGAIN (no snapshot thread), others from the backend (see
 * fa_mem_map).
 */
struct fa_pool *fa_pool_create(const struct fa_pool_opts *opts);

/*
 * Destroy a pool: runs dtor on every carved object (default hook mode),
 * unmaps everything, drops every thread's cache of it.  No thread may use
 * the pool during or after the call.  NULL is a no-op.  An fa_numa_pool()
 * pool is refused (message on stderr, errno EINVAL): fa_numa_destroy frees
 * it.
 */
void fa_pool_destroy(struct fa_pool *p);

/*
 * void *fa_pool_alloc(struct fa_pool *p, size_t size);
 *   An object of at least size bytes, aligned to the pool's alignment (large
 *   ones to 64 bytes at least).  Errors (NULL, errno): EINVAL (p NULL, size
 *   0), E2BIG (size above obj_size of a fixed pool, or above
 *   FA_POOL_SMALL_MAX with FA_POOL_NO_LARGE), ENOMEM (max_bytes reached or
 *   backend exhausted).
 * void fa_pool_free(struct fa_pool *p, void *ptr);
 *   Give ptr back (NULL: no-op; p NULL: errno EINVAL, nothing freed).
 *   Any thread may free any object of p.
 * void fa_pool_free_sized(struct fa_pool *p, void *ptr, size_t size);
 *   fa_pool_free for a caller that knows the size it asked for (any size of
 *   the same class will do; in a fixed pool any size up to obj_size): the
 *   class lookup through the slab header is skipped (an alloc+free pair is
 *   16 instructions instead of 19).  A size of another class is
 *   undefined in release mode; pools with features ignore size.
 * Defined inline below; with FA_POOL_NOINLINE defined before including this
 * header they are calls to the exported functions of the same names.
 */

/* The object size of a fixed pool or the class size ptr belongs to (0 if
 * p or ptr is NULL, or ptr is below the first 64 KiB boundary; undefined
 * for another foreign ptr unless FA_POOL_DEBUG). */
size_t fa_pool_usable_size(struct fa_pool *p, const void *ptr);

/*
 * Flush the calling thread's caches of p to the shared lists, and with
 * QUARANTINE every held object that is due (all of them if all != 0); with
 * all != 0 also unmap the cached idle large mappings.
 * Errors: -EINVAL (p NULL), -ENOMEM (no memory for the thread's cache).
 */
int fa_pool_flush(struct fa_pool *p, int all);

/* fa_pool_trim flags */
#define FA_POOL_TRIM_FLUSH (1u << 0) /* fa_pool_flush(p, 0) the caller's cache first */
#define FA_POOL_TRIM_KEEP  (1u << 1) /* free idle slabs, unmap no region */

struct fa_pool_trim_info {
	uint64_t slabs;      /* slabs freed by this call */
	uint64_t objects;    /* their objects, taken off the shared lists */
	uint64_t regions;    /* regions unmapped */
	uint64_t bytes;      /* bytes unmapped: bytes_reserved fell by this */
	uint64_t free_slabs; /* free slabs the pool holds after the call */
};

/*
 * Give idle slab memory back: slabs whose every object is on its class's
 * shared list become free slabs any class takes first, then regions with no
 * slab in use are unmapped (not with FA_POOL_TRIM_KEEP).  Safe while other
 * threads allocate and free; trims of one pool run one at a time.  Hooks,
 * poison checks and what "idle" excludes: fa_pool_trim(3).
 * Returns 0, filling *info if not NULL, or -EINVAL (p NULL, unknown flag),
 * -ENOMEM (no memory for the scan or for the caller's cache: the classes
 * not examined are left as they were; *info says what was done).
 */
int fa_pool_trim(struct fa_pool *p, unsigned flags, struct fa_pool_trim_info *info);

/* Pools that get thread caches (the rest share a locked cache). */
unsigned fa_pool_max_pools(void);

struct fa_pool_class_stats {
	uint32_t size;            /* class (object) size */
	uint32_t tcache_objs;     /* per-thread cache bound */
	uint64_t allocs, frees;   /* calls served */
	uint64_t live;            /* allocs - frees */
	uint64_t hwm;             /* high-water of objects out of the shared
	                             lists (live + thread-cached), sampled at
	                             batch moves and stats reads: >= peak live */
	uint64_t cached;          /* in thread caches */
	uint64_t shared;          /* in the shared lists */
	uint64_t quarantined;     /* held in quarantine */
	uint64_t carved;          /* objects carved from slabs (those of slabs
	                             fa_pool_trim freed taken off again) */
	uint64_t slabs;           /* 64 KiB slabs of this class */
	uint64_t bytes_requested; /* sum of sizes asked, all allocs */
};

struct fa_pool_stats {
	const char *name;
	unsigned nr_classes;
	unsigned flags;
	uint64_t allocs, frees, live; /* all classes and large */
	uint64_t bytes_requested;     /* sum of sizes asked, all allocs */
	uint64_t bytes_served;        /* sum of class sizes served, all allocs */
	uint64_t bytes_live;          /* live objects x class size, + large */
	uint64_t bytes_reserved;      /* mapped from the backend (slabs + large) */
	uint64_t bytes_slabs;         /* of which slab regions */
	uint64_t large_allocs, large_frees, large_live, large_bytes;
	uint64_t large_cache_hits;                    /* large allocs served by a cached mapping */
	uint64_t large_cache_misses;                  /* large allocs that mapped afresh */
	uint64_t large_cache_maps, large_cache_bytes; /* idle mappings held (in
	                                                  bytes_reserved) */
	uint64_t quarantined, quarantine_bytes;
	uint64_t reports;       /* misuses reported */
	uint64_t threads;       /* thread caches ever made */
	uint64_t slabs_free;    /* free slabs (fa_pool_trim), any class's
	                           next (part of bytes_slabs) */
	uint64_t trimmed_slabs; /* slabs fa_pool_trim ever freed */
	uint64_t trimmed_bytes; /* bytes it ever unmapped */
	uint64_t inline_bins;   /* thread bins it holds (one per class): 0
	                           when it has no inline path (features, or
	                           made after the bins ran out) */
	uint64_t size_hist[48]; /* FA_POOL_SIZE_HIST: [k] = requests of
	                           2^k..2^(k+1)-1 bytes */
	struct fa_pool_class_stats cls[FA_POOL_MAX_CLASSES];
};

/*
 * Merge the per-thread counters into *st.  While other threads run the
 * numbers are a consistent-enough sample (each counter exact, not all taken
 * at one instant); when quiescent, exact.  Errors: -EINVAL (p or st NULL).
 */
int fa_pool_stats(struct fa_pool *p, struct fa_pool_stats *st);

struct fa_pool_snapshot {
	uint64_t time_ns; /* CLOCK_MONOTONIC */
	uint64_t allocs, frees, live;
	uint64_t bytes_requested, bytes_live, bytes_reserved;
	uint64_t cached, shared, quarantined;
};

/* Take a snapshot into the ring now.  Read while other threads run, a
 * snapshot's counters may be a few objects off, but time_ns, allocs and
 * frees never decrease from one snapshot to the next.  Errors: -EINVAL (p
 * NULL). */
int fa_pool_snapshot(struct fa_pool *p);

/*
 * Copy up to n snapshots, oldest first, into out.  Returns how many, or
 * -EINVAL (p NULL, out NULL with n > 0).
 */
int fa_pool_snapshots(struct fa_pool *p, struct fa_pool_snapshot *out, size_t n);

#define FA_POOL_FMT_TEXT 0
#define FA_POOL_FMT_JSON 1

/*
 * Write the stats (non-empty classes, histogram, snapshots) to f as text or
 * one JSON object.  Errors: -EINVAL (p or f NULL, fmt unknown), -ENOMEM,
 * -EIO (write failed).
 */
int fa_pool_print_stats(struct fa_pool *p, FILE *f, int fmt);

#include "finalloc/pagemap.h"
#include "finalloc/pool.h"

#ifdef FA_POOL_NOINLINE
void *fa_pool_alloc(struct fa_pool *p, size_t size);
void fa_pool_free(struct fa_pool *p, void *ptr);
void fa_pool_free_sized(struct fa_pool *p, void *ptr, size_t size);
#else
static inline void *fa_pool_alloc(struct fa_pool *p, size_t size)
{
	return fa__pool_alloc_inl(p, size);
}

static inline void fa_pool_free(struct fa_pool *p, void *ptr)
{
	fa__pool_free_inl(p, ptr);
}

static inline void fa_pool_free_sized(struct fa_pool *p, void *ptr, size_t size)
{
	fa__pool_free_sized_inl(p, ptr, size);
}
#endif

/* fa_pool_alloc, with the site the journal records for a large object of a
 * journaling pool (FA_POOL_TRACE, or FINALLOC_TRACE); the same as
 * fa_pool_alloc otherwise.  file and func are kept, not copied: string
 * literals (__FILE__, __func__).  Errors: those of fa_pool_alloc. */
void *fa_pool_alloc_site(struct fa_pool *p, size_t size, const char *file, int line,
                         const char *func);

/* ------------------------------------------------------------------------
 * NUMA allocator
 * ---------------------------------------------------------------------- */

/* -- thread affinity registry --
 * A thread is registered by its first fa_numa_* call.  Its node comes from
 * glibc's rseq area (the kernel keeps cpu_id current, so a migration shows
 * at the next call) or, where rseq is not registered (FINALLOC_NO_RSEQ set,
 * valgrind), from getcpu re-read every 64 calls and at once after
 * fa_numa_pin_thread / fa_numa_thread_refresh. */

struct fa_numa_thread {
	int tid;
	int cpu;                /* current CPU (rseq), else the last one seen */
	int node;               /* node of that CPU */
	int pinned_node;        /* set by fa_numa_pin_thread, else -1 */
	int rseq;               /* 1 if tracked through rseq */
	uint64_t remote_allocs; /* served from a node other than its own */
	uint64_t remote_frees;  /* freed memory of another node */
	uint64_t migrations;    /* node changes observed */
	char name[16];          /* comm, "" if the thread is gone */
};

/* The calling thread's node (registers the thread).  Never fails. */
int fa_numa_thread_node(void);

/* Re-read the CPU now, e.g. after the caller changed its own affinity;
 * returns the node. */
int fa_numa_thread_refresh(void);

/* Restrict the calling thread to node's CPUs and move it there now.
 * Errors: -EINVAL (node absent or without CPUs), -errno of sched_setaffinity. */
int fa_numa_pin_thread(int node);

/* Allow the calling thread every CPU again.  Errors: -errno of
 * sched_setaffinity. */
int fa_numa_unpin_thread(void);

/* Store up to max CPU ids of node in cpus; returns how many the node has.
 * Errors: -EINVAL (node absent or without CPUs, max < 0, cpus NULL). */
int fa_numa_node_cpus(int node, int *cpus, int max);

/* Copy up to max registered threads into out; returns how many are
 * registered (may exceed max).  Errors: -EINVAL (max < 0, out NULL). */
int fa_numa_threads(struct fa_numa_thread *out, int max);

/* -- per-node allocator --
 * One pool per node with memory, its slabs bound to the node (device
 * regions on it, or mbind'ed fallback memory); a CPU-only node is served by
 * its nearest memory node, a host without NUMA is one node 0.
 * fa_numa_alloc is the calling thread's node plus that pool's fast path.
 * When a node reaches node_cap or runs out, PREFERRED spills to the nearest
 * nodes, STRICT fails, INTERLEAVE rotates nodes per allocation.  Large
 * requests get node-bound maps, kept idle for reuse after free.
 * FA_NUMA_BALANCE lets idle maps and the node_cap budget follow demand.
 * Remote allocations and frees are counted (and said under FA_NUMA_WARN).
 * Same release-mode contract as the pool.  Details: fa_numa_create(3). */

struct fa_numa;
struct fa_pool;
struct fa_pool_opts;
struct fa_arena;
struct fa_arena_opts;

enum fa_numa_policy {
	FA_NUMA_PREFERRED = 0,
	FA_NUMA_STRICT,
	FA_NUMA_INTERLEAVE,
};

#define FA_NUMA_WARN        (1u << 0) /* say remote allocs/frees, misplacements */
#define FA_NUMA_BALANCE     (1u << 1) /* idle maps and pool budget go where needed */
#define FA_NUMA_NO_IDLE     (1u << 2) /* unmap large maps at free, keep none idle */
#define FA_NUMA_TRACE       (1u << 3) /* journal large allocations (see fa_trace_open) */
#define FA_NUMA_VALID_FLAGS (FA_NUMA_WARN | FA_NUMA_BALANCE | FA_NUMA_NO_IDLE | FA_NUMA_TRACE)

struct fa_numa_opts {
	int policy;                        /* enum fa_numa_policy */
	unsigned flags;                    /* FA_NUMA_* */
	size_t node_cap;                   /* bytes mapped per node before spilling (with
	                                      FA_NUMA_BALANCE: each node's initial share
	                                      of a shared budget); 0 = none */
	unsigned warn_interval_ms;         /* at most one warning per interval; 0 = 1000 */
	unsigned reserved0;                /* must be 0 */
	size_t idle_max;                   /* bytes of freed large maps kept per node for
	                                      reuse; 0 = 16 MiB */
	const struct fa_mem_opts *mem;     /* backend/page size/prefault for every
	                                      node (node fields ignored); NULL = AUTO */
	const struct fa_pool_opts *pool;   /* per-node pool template (its .mem must
	                                      be NULL); NULL = size-class pool */
	const struct fa_arena_opts *arena; /* template for fa_numa_arena */
	uint64_t reserved[4];              /* must be 0 */
};

/* Errors (NULL, errno): EINVAL (bad policy/flag, reserved set, pool.mem set,
 * bad mem options), ENODEV (the backend forced by mem or FINALLOC_BACKEND
 * is absent; the device's open error, e.g. EACCES, is passed on), ENOMEM,
 * EOPNOTSUPP (node ids >= FA_MAX_NODES), and those of fa_pool_create. */
struct fa_numa *fa_numa_create(const struct fa_numa_opts *opts);

/* Memory of the calling thread's node.  Errors (NULL, errno): EINVAL (n
 * NULL, size 0), E2BIG (see fa_pool_alloc), ENOMEM (no node could serve;
 * STRICT: the thread's node could not). */
void *fa_numa_alloc(struct fa_numa *n, size_t size);

/* fa_numa_alloc, with the site the journal records for a large allocation
 * of a journaling allocator (FA_NUMA_TRACE, or FINALLOC_TRACE); the same as
 * fa_numa_alloc otherwise.  file and func are kept, not copied.  Errors:
 * those of fa_numa_alloc. */
void *fa_numa_alloc_site(struct fa_numa *n, size_t size, const char *file, int line,
                         const char *func);

/* Memory of node (a CPU-only node: its nearest memory node).  Errors (NULL,
 * errno): EINVAL (n NULL, size 0, node absent or out of range), ENOMEM
 * (STRICT: node has no memory or is full; else no node could serve), E2BIG. */
void *fa_numa_alloc_onnode(struct fa_numa *n, size_t size, int node);

/* Free memory of n from any thread (NULL: no-op).  A pointer of another
 * allocator, or one below the first 64 KiB boundary, is said on stderr and
 * not freed (errno EINVAL); one that is no allocation at all is undefined. */
void fa_numa_free(struct fa_numa *n, void *ptr);

/* The node whose pool ptr came from.  Errors: -EINVAL (n or ptr NULL, not
 * an object of n). */
int fa_numa_node_of(struct fa_numa *n, const void *ptr);

/* The usable size of ptr (0 if not an object of n). */
size_t fa_numa_usable_size(struct fa_numa *n, const void *ptr);

/* Unmap the idle large maps of node's memory and trim its pool
 * (fa_pool_trim with flags 0: idle slabs freed, idle regions unmapped);
 * node -1: every node.  No budget moves (see FA_NUMA_BALANCE).  Errors:
 * -EINVAL (n NULL, node absent or out of range), -ENOMEM (a pool had no
 * memory for its scan; the others were trimmed). */
int fa_numa_trim(struct fa_numa *n, int node);

/* Destroy n and all its memory (NULL: no-op).  No thread may use it after. */
void fa_numa_destroy(struct fa_numa *n);

/* The pool serving node, or NULL with errno EINVAL.  It belongs to n:
 * fa_pool_destroy refuses it. */
struct fa_pool *fa_numa_pool(struct fa_numa *n, int node);

/* The arena of node's memory, made on first use (opts.arena, chunks bound
 * to the node, node_cap as its cap).  An arena is not thread-safe: one user
 * at a time.  It belongs to n: fa_arena_destroy refuses it (reset it
 * instead).  Errors (NULL, errno): EINVAL, those of fa_arena_create. */
struct fa_arena *fa_numa_arena(struct fa_numa *n, int node);

/* Memory nodes node spills to, nearest first (node itself excluded): stores
 * up to max, returns how many.  Errors: -EINVAL. */
int fa_numa_spill_order(struct fa_numa *n, int node, int *out, int max);

/*
 * Where the page of ptr (any address inside n's memory) really is:
 * move_pages(2), or the device's node query for /dev/finalloc memory.  A node other than the
 * intended one is counted as misplaced (and said under FA_NUMA_WARN).  Returns the node, or -ENOENT
 * (page not faulted in yet), -EINVAL (not n's memory), -errno.
 */
int fa_numa_page_node(struct fa_numa *n, const void *ptr);

struct fa_numa_verify {
	uint64_t pages;     /* pages sampled (one per page, <= 4096 a map) */
	uint64_t on_node;   /* on the intended node */
	uint64_t misplaced; /* on another node (counted, warned) */
	uint64_t unknown;   /* not faulted in, or not queryable */
};

/* Check the placement of every map of node's pool (node -1: all nodes).
 * Returns 0, -EREMOTE if something is misplaced, -EINVAL. */
int fa_numa_verify(struct fa_numa *n, int node, struct fa_numa_verify *v);

struct fa_numa_node_stats {
	int node;
	int mem_node; /* node whose memory serves it */
	int has_memory;
	uint64_t allocs, frees, live_objects;
	uint64_t in_use;          /* bytes of live objects (class sizes) + arena used */
	uint64_t fragmented;      /* carved into slabs but free */
	uint64_t idle;            /* mapped, not carved (and arena chunk tails) */
	uint64_t mapped;          /* bytes mapped for the node */
	uint64_t remote_allocs;   /* served from here to threads of other nodes */
	uint64_t remote_frees;    /* of this node's memory, by other nodes */
	uint64_t spills_out;      /* this node full: served elsewhere */
	uint64_t spills_in;       /* served here for a full node */
	uint64_t exhausted;       /* times this node's pool said ENOMEM */
	uint64_t misplaced;       /* pages found on another node */
	uint64_t idle_maps_bytes; /* idle large maps (part of idle) */
	uint64_t large_reused;    /* large requests served by an idle map */
	uint64_t chunks_in;       /* idle maps moved here (FA_NUMA_BALANCE) */
	uint64_t chunks_out;      /* idle maps moved away */
	uint64_t move_failures;   /* moves refused (pages could not migrate) */
	uint64_t cap;             /* its share of the budget now: node_cap +/-
	                             what FA_NUMA_BALANCE moved (0: no cap) */
	uint64_t slab_moves_in;   /* idle pool memory of other nodes that became
	                             budget here (FA_NUMA_BALANCE) */
	uint64_t slab_moves_out;  /* this node's that went to others */
	uint64_t slab_bytes_in;   /* bytes of budget those moves brought */
	uint64_t slab_bytes_out;  /* bytes they took away */
};

struct fa_numa_stats {
	int policy;
	int nr_nodes;
	uint64_t remote_allocs, remote_frees, spills, misplaced, warnings;
	struct fa_numa_node_stats node[FA_MAX_NODES];
};

/* Errors: -EINVAL (n or st NULL). */
int fa_numa_stats(struct fa_numa *n, struct fa_numa_stats *st);

/* -- profiler -- */

#define FA_NUMA_KSTATS 8

struct fa_numa_profile_node {
	int node;
	int has_memory;
	int nr_cpus;
	int mem_node; /* node whose memory serves it */
	/* the library: the allocators profiled (fa_numa_stats summed) */
	struct fa_numa_node_stats lib;
	/* /sys/kernel/finalloc/node<N>/: every numeric file, by name */
	int nr_kstats;
	struct {
		char name[24];
		uint64_t value;
	} kstat[FA_NUMA_KSTATS];
	uint64_t kmod_pinned; /* its pinned_bytes (0 without the module) */
	/* /sys/devices/system/node/node<N>/meminfo, bytes */
	uint64_t mem_total, mem_free, mem_used, file_pages, anon_pages;
	uint64_t huge_total, huge_free; /* default-size hugetlb pages (count) */
};

struct fa_numa_profile {
	uint64_t time_ns; /* CLOCK_REALTIME */
	int nr_nodes;
	int kmod_loaded;      /* /sys/kernel/finalloc exists */
	int nr_allocators;    /* fa_numa allocators summed */
	int nr_threads;       /* registered threads */
	uint64_t kmod_pinned; /* /sys/kernel/finalloc/pinned_bytes */
	struct fa_numa_profile_node node[FA_MAX_NODES];
	uint8_t distance[FA_MAX_NODES][FA_MAX_NODES]; /* by index into node[] */
};

/* Per-node view: n's numbers (n NULL: every live allocator of this
 * process), the module's node stats, the system's node meminfo.
 * Errors: -EINVAL (p NULL), -EIO (topology unreadable). */
int fa_numa_profile(struct fa_numa *n, struct fa_numa_profile *p);

#define FA_NUMA_REPORT_TEXT 0 /* a table for the terminal */
#define FA_NUMA_REPORT_SVG  1 /* a standalone SVG chart */
#define FA_NUMA_REPORT_HTML 2 /* self-contained page: chart, tables */

/* Write a report of p.  Errors: -EINVAL (p or f NULL, format unknown),
 * -EIO (write failed). */
int fa_numa_report(const struct fa_numa_profile *p, int format, FILE *f);

/* -- prefetch hints -- for walks over pool objects: rw 0 read, 1 write;
 * locality 0 (none, streaming) .. 3 (keep in all cache levels). */
#define fa_prefetch(addr, rw, locality) __builtin_prefetch((addr), (rw), (locality))
#define fa_prefetch_read(addr)          __builtin_prefetch((addr), 0, 3)
#define fa_prefetch_write(addr)         __builtin_prefetch((addr), 1, 3)

/* ------------------------------------------------------------------------
 * Statistics dump
 * ---------------------------------------------------------------------- */

/*
 * The library's statistics as text for `finalloc stats --file PATH`: the
 * line "FINALLOC-STATS 1", then "section.key value" lines ('#' lines are
 * comments).  Sections: process, backend (fa_backend_stats), trace
 * (fa_trace_stats), arena (process-wide totals: arenas created and live,
 * chunks mapped, reused, released and held), pools (totals) and one
 * "pool:NAME" per live pool (fa_pool_stats, one line per class used;
 * "pool:NAME-I" where names repeat), numa and one "numa:nodeN" per node when
 * fa_numa allocators exist (fa_numa_profile of all of them).
 *
 * FINALLOC_STATS=PATH: the process writes the dump to PATH when it exits
 * normally (exit() or return from main; not _exit or a signal), if it
 * mapped memory through the library.  A forked child does not write it.
 * Memory comes from the C library, never from the pools reported.
 */

/* The dump's first line, without its newline. */
#define FA_STATS_MAGIC "FINALLOC-STATS 1"

/* Write the dump to PATH (NULL: $FINALLOC_STATS) through a fresh PATH.tmp.XXXXXX and
 * rename(2): a reader sees a whole file or none.  Errors: -EINVAL (path
 * NULL and FINALLOC_STATS unset or empty), -ENAMETOOLONG, -ENOMEM, and
 * -errno of open(2), write(2) and rename(2) (e.g. -ENOENT, -EACCES). */
int fa_stats_dump(const char *path);

/* Write the dump to f.  Errors: -EINVAL (f NULL), -ENOMEM, -EIO (write or
 * flush failed). */
int fa_stats_write(FILE *f);

/* ------------------------------------------------------------------------
 * io_uring fixed buffers
 * ---------------------------------------------------------------------- */

/*
 * A set of equal buffers in one mapping from the page backends, registered
 * with a liburing ring as its fixed buffers 0..count-1, for READ_FIXED and
 * WRITE_FIXED (io_uring_prep_read_fixed(sqe, fd, buf, len, off, index)).
 * The memory is pinnable (FA_MEM_PINNABLE): a device region mapped by 4 KiB
 * PTEs, or fallback memory.  Registering pins every page and io_uring
 * charges them to the caller's RLIMIT_MEMLOCK (device memory: a second
 * time, on top of the device's own charge) unless it has CAP_IPC_LOCK; see
 * fa_uring_buffers_create(3).  A ring holds one buffer table: it must have
 * none registered, and fa_uring_buffers_destroy() unregisters it.
 */
struct io_uring;
struct fa_uring_buffers;

struct fa_uring_buffers_opts {
	unsigned count;         /* buffers; 0 = 8; at most 16384 */
	unsigned flags;         /* must be 0 */
	size_t size;            /* bytes each, rounded up to 4 KiB; 0 = 1 MiB; at most 1 GiB */
	struct fa_mem_opts mem; /* their pages (FA_MEM_PINNABLE is implied) */
	unsigned reserved[4];   /* must be 0 */
};

/*
 * Map and register the buffers (opts NULL = defaults).  Under AUTO, memory
 * io_uring refuses to register (device regions before Linux 6.5, which
 * registers no file mapping but shmem and hugetlbfs: EOPNOTSUPP) is
 * replaced by hugetlb, THP or 4 KiB pages, the first that serves.
 * Errors (NULL, errno): EINVAL (ring NULL, bad option, count or size too
 * large), EBUSY (the ring has buffers registered), ENOMEM (no memory, or
 * more than RLIMIT_MEMLOCK to pin), EOPNOTSUPP (the forced backend's
 * memory cannot be registered; a device without FINALLOC_CAP_PINNABLE),
 * the errors of fa_mem_map(3), and of io_uring_register_buffers(3) (EFAULT:
 * memory get_user_pages cannot pin).
 */
struct fa_uring_buffers *fa_uring_buffers_create(struct io_uring *ring,
                                                 const struct fa_uring_buffers_opts *opts);

/* Buffer index (its fixed-buffer index), NULL with errno EINVAL when out of
 * range or b is NULL; *size (may be NULL) gets its size. */
void *fa_uring_buffer(const struct fa_uring_buffers *b, unsigned index, size_t *size);

/* The index of the buffer holding p, or -EINVAL (none does). */
int fa_uring_buffer_index(const struct fa_uring_buffers *b, const void *p);

/* Unregister (io_uring_unregister_buffers), unmap and free.  b may be NULL.
 * Errors: -errno of io_uring_unregister_buffers(3); the memory is unmapped
 * anyway. */
int fa_uring_buffers_destroy(struct fa_uring_buffers *b);

#ifdef __cplusplus
}
#pragma GCC diagnostic pop
#endif

#endif /* FINALLOC_H */
