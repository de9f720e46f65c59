// SPDX-License-Identifier: MIT
/*
 * Thread affinity registry: which node each thread runs on, known in a few
 * loads on the allocation path (rseq cpu_id, or getcpu every few calls),
 * plus the list of registered threads and helpers to pin a thread to a node.
 */
#include "numa/numa.h"

#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct fa__numa_tls fa__numa_tls __attribute__((tls_model("initial-exec")));
const int16_t *fa__cpu_node;
unsigned fa__nr_cpu_node;

static pthread_once_t topo_once = PTHREAD_ONCE_INIT;
static struct fa_topology topo;
static int16_t *cpu_node_tab;
static unsigned nr_cpu_tab;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fa__numa_tls *reg_head;
static int reg_count;
static pthread_key_t reg_key;
static bool reg_key_ok;

void fa__count_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

static void thread_exit(void *arg)
{
	struct fa__numa_tls *t = arg;

	pthread_mutex_lock(&reg_lock);
	if (t->registered) {
		if (t->prev)
			t->prev->next = t->next;
		else
			reg_head = t->next;
		if (t->next)
			t->next->prev = t->prev;
		t->registered = false;
		reg_count--;
	}
	pthread_mutex_unlock(&reg_lock);
}

/* The child has only the forking thread: drop the others' records. */
void fa__numa_thread_postfork_child(void)
{
	struct fa__numa_tls *t = &fa__numa_tls;

	pthread_mutex_init(&reg_lock, NULL);
	reg_head = NULL;
	reg_count = 0;
	if (t->registered) {
		t->prev = t->next = NULL;
		t->tid = (int)syscall(SYS_gettid);
		reg_head = t;
		reg_count = 1;
	}
}

static void topo_init(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned n;

	if (fa_topology_read(&topo)) {
		/* sysfs unreadable: one node, as without NUMA */
		memset(&topo, 0, sizeof(topo));
		topo.nr_nodes = 1;
		topo.node[0].has_memory = 1;
		topo.distance[0][0] = 10;
	}
	if (numa_available() >= 0 && numa_num_configured_cpus() > ncpu)
		ncpu = numa_num_configured_cpus();
	n = ncpu > 0 && ncpu < 32768 ? (unsigned)ncpu : 1;
	cpu_node_tab = calloc(n, sizeof(*cpu_node_tab));
	if (cpu_node_tab) {
		for (unsigned c = 0; c < n; c++) {
			int node = fa_cpu_to_node((int)c);

			cpu_node_tab[c] = (int16_t)(node < 0 ? 0 : node);
		}
		nr_cpu_tab = n;
	}
	reg_key_ok = pthread_key_create(&reg_key, thread_exit) == 0;
	fa__cpu_node = cpu_node_tab;
	/* publish the count last: the fast path reads it before the table */
	atomic_store_explicit((_Atomic unsigned *)&fa__nr_cpu_node, nr_cpu_tab,
	                      memory_order_release);
}

const struct fa_topology *fa__numa_topo(void)
{
	pthread_once(&topo_once, topo_init);
	return &topo;
}

static int read_cpu(void)
{
	unsigned cpu = 0, node = 0;

	if (getcpu(&cpu, &node))
		return 0;
	return (int)cpu;
}

static int node_of_cpu(int cpu)
{
	if (cpu >= 0 && (unsigned)cpu < nr_cpu_tab)
		return cpu_node_tab[cpu];
	return 0;
}

static void register_thread(struct fa__numa_tls *t)
{
	uint32_t cpu_id;

	t->tid = (int)syscall(SYS_gettid);
	atomic_store_explicit(&t->pinned_node, -1, memory_order_relaxed);
	t->rseq_cpu = NULL;
	if (__rseq_size > 0) {
		const volatile struct rseq *rs =
		        (const volatile struct rseq *)((char *)__builtin_thread_pointer() +
		                                       __rseq_offset);

		/* -1/-2: not registered for this thread (e.g. under valgrind) */
		cpu_id = rs->cpu_id;
		if (cpu_id < 0x80000000u && getenv("FINALLOC_NO_RSEQ") == NULL)
			t->rseq_cpu = &rs->cpu_id;
	}
	if (reg_key_ok)
		pthread_setspecific(reg_key, t);
	pthread_mutex_lock(&reg_lock);
	t->prev = NULL;
	t->next = reg_head;
	if (reg_head)
		reg_head->prev = t;
	reg_head = t;
	reg_count++;
	t->registered = true;
	pthread_mutex_unlock(&reg_lock);
}

int fa__thread_node_slow(void)
{
	struct fa__numa_tls *t = &fa__numa_tls;
	int cpu, node;

	pthread_once(&topo_once, topo_init);
	if (fa__unlikely(!t->registered)) {
		register_thread(t);
		t->node = -1;
	}
	cpu = t->rseq_cpu ? (int)*t->rseq_cpu : read_cpu();
	if (cpu < 0 || (unsigned)cpu >= nr_cpu_tab)
		cpu = read_cpu();
	node = node_of_cpu(cpu);
	atomic_store_explicit(&t->cpu, cpu, memory_order_relaxed);
	if (node != t->node) {
		if (t->node >= 0)
			fa__count_inc(&t->migrations);
		t->node = node;
	}
	t->countdown = FA__NODE_RECHECK;
	return node;
}

int fa_numa_thread_node(void)
{
	return fa__thread_node();
}

int fa_numa_thread_refresh(void)
{
	fa__numa_tls.countdown = 0;
	fa__numa_tls.cache_id = 0;
	return fa__thread_node_slow();
}

/* CPUs of node into set; -EINVAL if the node is absent or has no CPUs. */
static int node_cpus(int node, cpu_set_t *set)
{
	const struct fa_topology *tp = fa__numa_topo();
	int found = 0;

	CPU_ZERO(set);
	if (node < 0 || node > tp->max_node)
		return -EINVAL;
	for (unsigned c = 0; c < nr_cpu_tab && c < CPU_SETSIZE; c++)
		if (cpu_node_tab[c] == node) {
			CPU_SET(c, set);
			found++;
		}
	return found ? 0 : -EINVAL;
}

int fa_numa_node_cpus(int node, int *cpus, int max)
{
	cpu_set_t set;
	int err, n = 0;

	if (max < 0 || (max > 0 && !cpus))
		return -EINVAL;
	err = node_cpus(node, &set);
	if (err)
		return err;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			if (n < max)
				cpus[n] = c;
			n++;
		}
	return n;
}

int fa_numa_pin_thread(int node)
{
	struct fa__numa_tls *t = &fa__numa_tls;
	cpu_set_t set;
	int err;

	err = node_cpus(node, &set);
	if (err)
		return err;
	/* on return the kernel has moved this thread off disallowed CPUs */
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	fa_numa_thread_refresh();
	atomic_store_explicit(&t->pinned_node, node, memory_order_relaxed);
	return 0;
}

int fa_numa_unpin_thread(void)
{
	cpu_set_t set;

	fa__numa_topo();
	CPU_ZERO(&set);
	for (unsigned c = 0; c < nr_cpu_tab && c < CPU_SETSIZE; c++)
		CPU_SET(c, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	atomic_store_explicit(&fa__numa_tls.pinned_node, -1, memory_order_relaxed);
	fa_numa_thread_refresh();
	return 0;
}

static void thread_name(int tid, char *name, size_t len)
{
	char path[64];
	FILE *f;

	name[0] = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(name, (int)len, f))
		name[strcspn(name, "\n")] = 0;
	fclose(f);
}

int fa_numa_threads(struct fa_numa_thread *out, int max)
{
	struct fa__numa_tls *t;
	int n = 0, total;

	if (max < 0 || (max > 0 && !out))
		return -EINVAL;
	fa__numa_topo();
	pthread_mutex_lock(&reg_lock);
	for (t = reg_head; t; t = t->next, n++) {
		struct fa_numa_thread *o = &out[n];
		int cpu;

		if (n >= max)
			continue;
		memset(o, 0, sizeof(*o));
		/* rseq: the thread's current CPU, else the last one it saw */
		cpu = t->rseq_cpu ? (int)*t->rseq_cpu
		                  : atomic_load_explicit(&t->cpu, memory_order_relaxed);
		o->tid = t->tid;
		o->cpu = cpu;
		o->node = node_of_cpu(cpu);
		o->pinned_node = atomic_load_explicit(&t->pinned_node, memory_order_relaxed);
		o->rseq = t->rseq_cpu != NULL;
		o->remote_allocs = atomic_load_explicit(&t->remote_allocs, memory_order_relaxed);
		o->remote_frees = atomic_load_explicit(&t->remote_frees, memory_order_relaxed);
		o->migrations = atomic_load_explicit(&t->migrations, memory_order_relaxed);
	}
	total = reg_count;
	pthread_mutex_unlock(&reg_lock);
	/* names from /proc, outside the lock; a thread gone meanwhile has none */
	for (int i = 0; i < n && i < max; i++)
		thread_name(out[i].tid, out[i].name, sizeof(out[i].name));
	return total;
}
