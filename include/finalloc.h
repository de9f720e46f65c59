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
extern "C" {
#endif

#define FA_VERSION_MAJOR 0
#define FA_VERSION_MINOR 1
#define FA_VERSION_PATCH 0

/* Library version as "MAJOR.MINOR.PATCH". */
const char *fa_version(void);

/* ------------------------------------------------------------------------
 * Topology (lib/topology.c)
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
	int numa_available;     /* libnuma says the kernel supports NUMA */
	int nr_nodes;           /* entries in node[] (nodes present) */
	int max_node;           /* highest node id present */
	int nr_cpus;            /* configured CPUs */
	struct fa_node_info node[FA_MAX_NODES];
	/* distance[i][j] between node[i].node and node[j].node (10 = local) */
	uint8_t distance[FA_MAX_NODES][FA_MAX_NODES];
};

/*
 * Read the machine's NUMA topology through libnuma and sysfs.  A host without
 * NUMA support is reported as one node 0 holding every CPU and all memory.
 * Errors: -EINVAL (t is NULL), -EIO (sysfs unreadable).
 */
int fa_topology_read(struct fa_topology *t);

/* The node CPU cpu belongs to, or -EINVAL. */
int fa_cpu_to_node(int cpu);

/* ------------------------------------------------------------------------
 * Page backends (lib/backend.c)
 * ---------------------------------------------------------------------- */
/* @@BACKEND@@ */

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
	FA_BACKEND_DEVICE,      /* /dev/finalloc regions */
	FA_BACKEND_HUGETLB,     /* MAP_HUGETLB 2 MiB or 1 GiB pages */
	FA_BACKEND_THP,         /* anonymous, MADV_HUGEPAGE, 2 MiB aligned */
	FA_BACKEND_SMALL,       /* anonymous, 4 KiB pages */
	FA_BACKEND_COUNT
};

#define FA_NODE_ANY (-1)

#define FA_PAGE_4K ((size_t)4 << 10)
#define FA_PAGE_2M ((size_t)2 << 20)
#define FA_PAGE_1G ((size_t)1 << 30)

/* struct fa_mem_opts.flags */
#define FA_MEM_PREFAULT (1u << 0) /* populate now; mlock too where allowed */
#define FA_MEM_STRICT   (1u << 1) /* fail rather than downgrade */
#define FA_MEM_ON_NODE  (1u << 2) /* place on .node (else the caller's node
                                     for the device, no policy otherwise) */

struct fa_mem_opts {
	int backend;            /* enum fa_backend; 0 = AUTO */
	int node;               /* used with FA_MEM_ON_NODE */
	size_t page_size;       /* 0 = best; FA_PAGE_4K/2M/1G asks for that */
	size_t guard_size;      /* bytes of guard pages before and after the
	                           usable range; rounded up to 4 KiB (device:
	                           its page size).  Touching them: SIGSEGV. */
	unsigned flags;         /* FA_MEM_* */
	unsigned reserved[3];   /* must be 0 */
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
#define FA_GUARD_KERNEL   1     /* device backend guard layout */
#define FA_GUARD_MADVISE  2     /* MADV_GUARD_INSTALL, no extra VMAs */
#define FA_GUARD_MPROTECT 3     /* PROT_NONE (hugetlb: reserved hole) */

struct fa_backend_stats {
	/* maps[asked][served]: mappings by backend asked (AUTO = not forced)
	 * and backend that served them. */
	uint64_t maps[FA_BACKEND_COUNT][FA_BACKEND_COUNT];
	uint64_t bytes_mapped[FA_BACKEND_COUNT]; /* live, usable bytes */
	uint64_t downgrades;      /* served below the first choice */
	uint64_t page_downgrades; /* served with smaller pages than asked */
	uint64_t failures;        /* requests that failed */
	uint64_t unmaps;
	uint64_t locked_bytes;    /* live mlocked bytes */
	uint64_t lock_failures;   /* prefault asked, mlock refused */
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
 * Free with fa_mem_unmap(p, size) using the same size.
 * Errors (NULL, errno): EINVAL (size 0 or overflowing, bad option, reserved
 * not zero, page_size not 4K/2M/1G, node out of range), ENODEV (forced backend
 * absent), ENOMEM (no memory / strict downgrade refused), EACCES/EPERM
 * (device not openable when forced).
 */
void *fa_mem_map(size_t size, const struct fa_mem_opts *opts, struct fa_mem_info *info);

/* Unmap what fa_mem_map returned.  Errors: -EINVAL (unknown address/size). */
int fa_mem_unmap(void *p, size_t size);

/* ------------------------------------------------------------------------
 * Arena allocator (lib/arena.c)
 * ---------------------------------------------------------------------- */
/* @@ARENA@@ */

/* ------------------------------------------------------------------------
 * Pool allocator (lib/pool.c)
 * ---------------------------------------------------------------------- */
/* @@POOL@@ */

/* ------------------------------------------------------------------------
 * NUMA allocator (lib/numa.c)
 * ---------------------------------------------------------------------- */
/* @@NUMA@@ */

#ifdef __cplusplus
}
#endif

#endif /* FINALLOC_H */
