// SPDX-License-Identifier: MIT
/*
 * Topology as libnuma reports it.  In the VM the rig exports FA_EXPECT_NODES
 * (2 or 4), so the test proves the guest really has that many nodes.
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>
#include <numa.h>
#include <stdlib.h>
#include <unistd.h>

TEST(reads_topology)
{
	struct fa_topology t;
	int i, cpus = 0;

	ASSERT_EQ(0, fa_topology_read(&t));
	ASSERT_GE(t.nr_nodes, 1);
	ASSERT_LE(t.nr_nodes, FA_MAX_NODES);
	for (i = 0; i < t.nr_nodes; i++) {
		cpus += t.node[i].nr_cpus;
		EXPECT_EQ(10, t.distance[i][i]);
		if (t.node[i].has_memory)
			EXPECT_GT(t.node[i].mem_total, 0);
		EXPECT_LE(t.node[i].huge_2m_free, t.node[i].huge_2m_total);
	}
	EXPECT_GE(cpus, 1);
	EXPECT_LE(cpus, t.nr_cpus);
	TH_LOG("%d node(s), %d cpu(s), numa %s", t.nr_nodes, t.nr_cpus,
	       t.numa_available ? "available" : "not available");
}

TEST(matches_libnuma)
{
	struct fa_topology t;
	int i, j;

	int mem_nodes = 0;

	ASSERT_EQ(0, fa_topology_read(&t));
	if (numa_available() < 0)
		SKIP(return, "kernel without NUMA support");
	/* libnuma counts the nodes that have memory */
	for (i = 0; i < t.nr_nodes; i++)
		mem_nodes += t.node[i].has_memory;
	ASSERT_EQ(numa_num_configured_nodes(), mem_nodes);
	ASSERT_EQ(numa_max_node(), t.max_node);
	for (i = 0; i < t.nr_nodes; i++)
		for (j = 0; j < t.nr_nodes; j++) {
			EXPECT_EQ(numa_distance(t.node[i].node, t.node[j].node), t.distance[i][j]);
			if (i != j)
				EXPECT_GT(t.distance[i][j], 10);
		}
}

TEST(expected_node_count)
{
	const char *want = getenv("FA_EXPECT_NODES");
	struct fa_topology t;
	int mem_nodes = 0, cpu_only = 0, i;

	if (!want)
		SKIP(return, "FA_EXPECT_NODES not set (host run)");
	ASSERT_EQ(0, fa_topology_read(&t));
	ASSERT_EQ(atoi(want), t.nr_nodes);
	for (i = 0; i < t.nr_nodes; i++) {
		mem_nodes += t.node[i].has_memory;
		cpu_only += !t.node[i].has_memory && t.node[i].nr_cpus > 0;
	}
	EXPECT_GE(mem_nodes, 2);
	/* the rig's 4-node machine: node 2 has a CPU and no memory */
	if (t.nr_nodes == 4) {
		EXPECT_EQ(3, mem_nodes);
		EXPECT_EQ(1, cpu_only);
		EXPECT_EQ(0, t.node[2].has_memory);
		EXPECT_EQ(1, t.node[2].nr_cpus);
		EXPECT_EQ(0, t.node[3].nr_cpus);
	}
}

TEST(cpu_to_node)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	long c;

	EXPECT_EQ(-EINVAL, fa_cpu_to_node(-1));
	EXPECT_EQ(-EINVAL, fa_cpu_to_node(1 << 20));
	for (c = 0; c < ncpu; c++)
		EXPECT_GE(fa_cpu_to_node((int)c), 0);
}

TEST(null_argument)
{
	EXPECT_EQ(-EINVAL, fa_topology_read(NULL));
}

TEST_HARNESS_MAIN
