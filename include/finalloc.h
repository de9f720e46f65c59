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
