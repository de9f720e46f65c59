// SPDX-License-Identifier: MIT
/*
 * fork(2) in a threaded process: every lock the library owns is taken before
 * the fork, in one order written here, and released after it, in the
 * parent and in the child (where the forking thread, their owner, is the
 * one thread left; unlocking rather than reinitialising also keeps
 * ThreadSanitizer's idea of the owner right).  One
 * pthread_atfork registration, made when the library is loaded, so the order
 * never depends on which allocator a process touched first, and a process's
 * own handlers (registered later) run their prepare before ours.
 *
 * The order is the order locks nest anywhere in the library:
 *   1. NUMA allocators: the list lock is held around calls into the pools
 *      (the profiler), balance locks around pool trims.
 *   2. Pools: the registry, then each pool's locks.
 *   3. Arena groups: nothing above takes a group lock while holding another.
 *   4. The device backend's open lock: innermost, taken under any of them.
 * Child handlers run lowest module first where one depends on another
 * (a group's counts, then the thread's sub-arenas).
 * The journal and the NUMA thread registry are only reinitialised in the
 * child: their locks are never held across a call into another module.
 * The child also drops the parent's device file and opens its own on first
 * use, so its regions are never the parent's (see lib/backend/device.c).
 */
#include "backend/backend.h"
#include "numa/numa.h"

#include <pthread.h>
#include <stdio.h>

static void prefork(void)
{
	fa__numa_prefork();
	fa__pool_prefork();
	fa__group_prefork();
	fa__dev_prefork();
}

static void postfork_parent(void)
{
	fa__dev_postfork_parent();
	fa__group_postfork_parent();
	fa__pool_postfork_parent();
	fa__numa_postfork_parent();
}

static void postfork_child(void)
{
	fa__dev_postfork_child();
	fa__group_postfork_child();
	fa__arena_tls_postfork_child();
	fa__pool_postfork_child();
	fa__numa_postfork_child();
	fa__numa_thread_postfork_child();
	fa__trace_postfork_child();
}

__attribute__((constructor)) static void fork_register(void)
{
	int err = pthread_atfork(prefork, postfork_parent, postfork_child);

	if (err)
		fprintf(stderr,
		        "finalloc: pthread_atfork failed (%d): fork() in a threaded "
		        "process may deadlock its child\n",
		        err);
}
