// SPDX-License-Identifier: MIT
/* NUMA topology from libnuma, huge page reservations from sysfs. */
#include "backend/backend.h"

#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fa__read_node_hugepages(int node, unsigned long page_kb, uint64_t *total, uint64_t *free_pages)
{
	char path[160];
	int err;

	*total = *free_pages = 0;
	snprintf(path, sizeof(path),
	         "/sys/devices/system/node/node%d/hugepages/hugepages-%lukB/nr_hugepages", node,
	         page_kb);
	err = fa__read_u64(path, total);
	if (err == -ENOENT && node == 0) {
		/* No per-node directory: a kernel without NUMA. */
		snprintf(path, sizeof(path),
		         "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", page_kb);
		err = fa__read_u64(path, total);
		if (err)
			return err;
		snprintf(path, sizeof(path),
		         "/sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages", page_kb);
		return fa__read_u64(path, free_pages);
	}
	if (err)
		return err;
	snprintf(path, sizeof(path),
	         "/sys/devices/system/node/node%d/hugepages/hugepages-%lukB/free_hugepages", node,
	         page_kb);
	return fa__read_u64(path, free_pages);
}

int fa__current_node(void)
{
	unsigned cpu, node;

	if (getcpu(&cpu, &node) == 0)
		return fa__mem_node_of((int)node);
	return 0;
}

static void fill_hugepages(struct fa_node_info *ni)
{
	/* A size the kernel does not offer reads as zero pages. */
	fa__read_node_hugepages(ni->node, 2048, &ni->huge_2m_total, &ni->huge_2m_free);
	fa__read_node_hugepages(ni->node, 1048576, &ni->huge_1g_total, &ni->huge_1g_free);
}

static int read_one_node(struct fa_topology *t)
{
	struct fa_node_info *ni = &t->node[0];
	long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
	long psz = sysconf(_SC_PAGESIZE);

	t->nr_nodes = 1;
	t->max_node = 0;
	ni->node = 0;
	ni->has_memory = 1;
	ni->nr_cpus = t->nr_cpus;
	ni->mem_total = (uint64_t)pages * (uint64_t)psz;
	ni->mem_free = (uint64_t)avail * (uint64_t)psz;
	fill_hugepages(ni);
	t->distance[0][0] = 10;
	return 0;
}

int fa_topology_read(struct fa_topology *t)
{
	struct bitmask *cpus;
	int n, i, j;

	if (!t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->nr_cpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	t->numa_available = numa_available() >= 0;
	if (!t->numa_available)
		return read_one_node(t);

	cpus = numa_allocate_cpumask();
	if (!cpus)
		return -ENOMEM;
	t->max_node = numa_max_node();
	for (n = 0; n <= t->max_node && t->nr_nodes < FA_MAX_NODES; n++) {
		struct fa_node_info *ni;
		long long free_b = 0, size;
		unsigned int c;

		if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned int)n))
			continue;
		ni = &t->node[t->nr_nodes++];
		ni->node = n;
		size = numa_node_size64(n, &free_b);
		ni->mem_total = size > 0 ? (uint64_t)size : 0;
		ni->mem_free = free_b > 0 ? (uint64_t)free_b : 0;
		ni->has_memory = size > 0;
		if (numa_node_to_cpus(n, cpus) == 0)
			for (c = 0; c < cpus->size; c++)
				ni->nr_cpus += numa_bitmask_isbitset(cpus, c);
		fill_hugepages(ni);
	}
	numa_free_cpumask(cpus);
	for (i = 0; i < t->nr_nodes; i++)
		for (j = 0; j < t->nr_nodes; j++)
			t->distance[i][j] =
			        (uint8_t)numa_distance(t->node[i].node, t->node[j].node);
	return 0;
}

int fa_cpu_to_node(int cpu)
{
	int node;

	if (cpu < 0)
		return -EINVAL;
	if (numa_available() < 0)
		return cpu < sysconf(_SC_NPROCESSORS_CONF) ? 0 : -EINVAL;
	node = numa_node_of_cpu(cpu);
	return node < 0 ? -EINVAL : node;
}

/* Nearest node with memory for each node (itself when it has memory). */
static int mem_node_of[FA_MAX_NODES];
static pthread_once_t mem_node_once = PTHREAD_ONCE_INIT;

static void mem_node_init(void)
{
	struct fa_topology *t = malloc(sizeof(*t));
	int i, j;

	for (i = 0; i < FA_MAX_NODES; i++)
		mem_node_of[i] = i;
	if (!t || fa_topology_read(t)) {
		free(t);
		return;
	}
	for (i = 0; i < t->nr_nodes; i++) {
		int best = -1, best_d = 0;

		if (t->node[i].has_memory || t->node[i].node >= FA_MAX_NODES)
			continue;
		for (j = 0; j < t->nr_nodes; j++) {
			if (!t->node[j].has_memory)
				continue;
			if (best < 0 || t->distance[i][j] < best_d) {
				best = t->node[j].node;
				best_d = t->distance[i][j];
			}
		}
		if (best >= 0)
			mem_node_of[t->node[i].node] = best;
	}
	free(t);
}

int fa__mem_node_of(int node)
{
	if (node < 0 || node >= FA_MAX_NODES)
		return node;
	pthread_once(&mem_node_once, mem_node_init);
	return mem_node_of[node];
}
