// SPDX-License-Identifier: MIT
/*
 * NUMA allocator: one pool (and, on demand, one arena) per node with
 * memory, its slabs bound to that node.  The allocation fast path is the
 * thread's node from TLS (thread.c) and that node's pool fast path.
 * Spills go to the nearest node with memory by numa_distance (under
 * FA_NUMA_BALANCE a node at its cap first takes idle pool memory's budget,
 * balance.c); remote allocations and frees are counted per node and
 * per thread; placement is verified with move_pages or the device's node
 * query.
 */
#include "numa/numa.h"

#include <dlfcn.h>
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t next_id = 1;
static struct fa_numa *all_head;

/* fork(): all_lock is held around calls into the pools (the profiler), so
 * lib/fork.c takes it before theirs.  Then each allocator's balance lock
 * (held around pool trims), arena lock and per-node large-map locks, in the
 * order the profiler takes them under all_lock, so no fork catches one
 * held. */
static void fork_locks(void (*op)(pthread_mutex_t *))
{
	for (struct fa_numa *n = all_head; n; n = n->next) {
		op(&n->bal_lock);
		op(&n->lock);
		for (int i = 0; i <= n->max_node; i++)
			if (n->node[i].present)
				op(&n->node[i].large_lock);
	}
}

static void lock_one(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
}

static void unlock_one(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}

void fa__numa_prefork(void)
{
	pthread_mutex_lock(&all_lock);
	fork_locks(lock_one);
}

void fa__numa_postfork_parent(void)
{
	fork_locks(unlock_one);
	pthread_mutex_unlock(&all_lock);
}

void fa__numa_postfork_child(void)
{
	fa__numa_postfork_parent();
}

/* The pool owning ptr's granule, through the owner map; NULL for an
 * fa_numa large object and for memory that is not ours, which is never
 * read. */
static inline struct fa_pool *owner_pool(const void *ptr)
{
	const struct fa__pool_hdr *h = fa__pagemap_hdr(fa__pagemap_get(ptr));

	return h ? h->pool : NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "file:line" of the caller where dladdr knows it, else the address. */
static void site_name(const void *site, char *buf, size_t len)
{
	Dl_info di;

	if (site && dladdr(site, &di) && di.dli_sname)
		snprintf(buf, len, "%s+%#lx", di.dli_sname,
		         (unsigned long)((const char *)site - (const char *)di.dli_saddr));
	else
		snprintf(buf, len, "%p", site);
}

/* One stderr line per warn_ms at most; the lines skipped are counted and
 * said with the next one. */
void fa__numa_warn(struct fa_numa *n, const void *site, const char *fmt, ...)
{
	uint64_t t = now_ns(), last = atomic_load_explicit(&n->warn_last, memory_order_relaxed);
	char where[96], msg[192];
	uint64_t skipped;
	va_list ap;

	if (!(n->flags & FA_NUMA_WARN))
		return;
	if (last && t - last < n->warn_ns) {
		atomic_fetch_add_explicit(&n->warn_skipped, 1, memory_order_relaxed);
		return;
	}
	if (!atomic_compare_exchange_strong(&n->warn_last, &last, t)) {
		atomic_fetch_add_explicit(&n->warn_skipped, 1, memory_order_relaxed);
		return;
	}
	skipped = atomic_exchange(&n->warn_skipped, 0);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	site_name(site, where, sizeof(where));
	fprintf(stderr, "finalloc: numa: %s at %s", msg, where);
	if (skipped)
		fprintf(stderr, " (%llu similar not shown)", (unsigned long long)skipped);
	fputc('\n', stderr);
	atomic_fetch_add_explicit(&n->warnings, 1, memory_order_relaxed);
}

/* ---- creation ---- */

/* A forced backend that cannot serve fails here, not at every allocation. */
static int check_opts(const struct fa_numa_opts *o)
{
	if (!o)
		return fa__backend_check(NULL);
	if (o->policy < FA_NUMA_PREFERRED || o->policy > FA_NUMA_INTERLEAVE)
		return -EINVAL;
	if ((o->flags & ~FA_NUMA_VALID_FLAGS) || o->reserved0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return -EINVAL;
	if (o->pool && o->pool->mem)
		return -EINVAL; /* the allocator places slabs itself */
	return fa__backend_check(o->mem);
}

/* Memory nodes ordered by distance from node (nearest first, ties by id). */
static int spill_order(const struct fa_topology *t, int from_idx, int *out)
{
	int n = 0;

	for (int i = 0; i < t->nr_nodes; i++) {
		int d, j;

		if (i == from_idx || !t->node[i].has_memory)
			continue;
		d = t->distance[from_idx][i];
		for (j = n; j > 0; j--) {
			int pi = out[j - 1];

			if (t->distance[from_idx][pi] < d ||
			    (t->distance[from_idx][pi] == d && t->node[pi].node < t->node[i].node))
				break;
			out[j] = out[j - 1];
		}
		out[j] = i;
		n++;
	}
	/* indexes into t->node[] -> node ids */
	for (int i = 0; i < n; i++)
		out[i] = t->node[out[i]].node;
	return n;
}

static struct fa_pool *make_pool(struct fa_numa *n, int node, const struct fa_numa_opts *o)
{
	struct fa_pool_opts po;
	struct fa_mem_opts mem;
	char name[32];

	memset(&po, 0, sizeof(po));
	if (o && o->pool)
		po = *o->pool;
	memset(&mem, 0, sizeof(mem));
	if (o && o->mem)
		mem = *o->mem;
	mem.flags |= FA_MEM_ON_NODE;
	mem.node = node;
	po.mem = &mem;
	if (o && o->node_cap)
		po.max_bytes = o->node_cap;
	if (!po.name) {
		snprintf(name, sizeof(name), "numa-node%d", node);
		po.name = name;
	}
	(void)n;
	return fa__pool_create(&po, "a NUMA allocator (fa_numa_pool)");
}

int fa__numa_trace_start(struct fa_numa *n, bool env)
{
	int on;

	if (n->tracing)
		return 0;
	on = fa__trace_want(n->flags & FA_NUMA_TRACE, env, &n->trace_min);
	if (on <= 0)
		return on;
	n->trace_id = fa__trace_source_id(FA_TRACE_SRC_NUMA);
	n->tracing = true;
	fa__trace_arena(n->trace_id, FA_TRACE_EV_CREATE);
	return 0;
}

struct fa_numa *fa_numa_create(const struct fa_numa_opts *opts)
{
	return fa__numa_create(opts, true);
}

struct fa_numa *fa__numa_create(const struct fa_numa_opts *opts, bool env_trace)
{
	const struct fa_topology *t = fa__numa_topo();
	struct fa_numa *n;
	int err;

	err = check_opts(opts);
	if (err) {
		errno = -err;
		return NULL;
	}
	if (t->max_node >= FA_MAX_NODES) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	n = aligned_alloc(FA__CACHE_LINE, sizeof(*n));
	if (!n) {
		errno = ENOMEM;
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->id = atomic_fetch_add(&next_id, 1);
	n->policy = opts ? opts->policy : FA_NUMA_PREFERRED;
	n->flags = opts ? opts->flags : 0;
	n->node_cap = opts ? opts->node_cap : 0;
	n->warn_ns = (uint64_t)(opts && opts->warn_interval_ms ? opts->warn_interval_ms : 1000) *
	             1000000u;
	if (opts && opts->mem)
		n->mem = *opts->mem;
	n->mc = fa__mc_mode(); /* its pools and arenas ask for themselves */
	n->large_ok = !(opts && opts->pool &&
	                (opts->pool->obj_size || (opts->pool->flags & FA_POOL_NO_LARGE)));
	n->idle_max = n->flags & FA_NUMA_NO_IDLE ? 0
	              : opts && opts->idle_max   ? opts->idle_max
	                                         : (size_t)16 << 20;
	for (int i = 0; i < FA_MAX_NODES; i++) {
		n->node_mem[i] = n->mem;
		n->node_mem[i].flags |= FA_MEM_ON_NODE;
		n->node_mem[i].node = i;
		pthread_mutex_init(&n->node[i].large_lock, NULL);
	}
	if (opts && opts->arena)
		n->arena_opts = *opts->arena;
	pthread_mutex_init(&n->lock, NULL);
	pthread_mutex_init(&n->bal_lock, NULL);
	n->max_node = t->max_node;
	for (int i = 0; i < FA_MAX_NODES; i++)
		n->node[i].mem_node = -1;

	for (int i = 0; i < t->nr_nodes; i++) {
		struct fa__numa_node *nd = &n->node[t->node[i].node];

		nd->present = true;
		nd->has_memory = t->node[i].has_memory;
		nd->nr_spill = spill_order(t, i, nd->spill);
		if (nd->has_memory) {
			n->mem_nodes[n->nr_mem++] = t->node[i].node;
			nd->pool = make_pool(n, t->node[i].node, opts);
			if (!nd->pool) {
				err = -errno;
				goto fail;
			}
			atomic_store(&nd->cap, n->node_cap);
		}
	}
	if (!n->nr_mem) {
		err = -ENOMEM;
		goto fail;
	}
	/* CPU-only nodes are served by their nearest memory node */
	for (int node = 0; node <= n->max_node; node++) {
		struct fa__numa_node *nd = &n->node[node];

		if (!nd->present)
			continue;
		nd->mem_node = nd->has_memory ? node : nd->spill[0];
		n->pool_of[node] = n->node[nd->mem_node].pool;
	}
	/* a node id the CPU table maps to but the topology lacked: node 0's */
	for (int node = 0; node < FA_MAX_NODES; node++)
		if (!n->pool_of[node])
			n->pool_of[node] = n->node[n->mem_nodes[0]].pool;

	err = fa__numa_trace_start(n, env_trace);
	if (err)
		goto fail;
	pthread_mutex_lock(&all_lock);
	n->next = all_head;
	all_head = n;
	pthread_mutex_unlock(&all_lock);
	return n;
fail:
	for (int node = 0; node < FA_MAX_NODES; node++) {
		fa__pool_destroy(n->node[node].pool);
		pthread_mutex_destroy(&n->node[node].large_lock);
	}
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->bal_lock);
	free(n);
	errno = -err;
	return NULL;
}

void fa_numa_destroy(struct fa_numa *n)
{
	struct fa_numa **pp;

	if (!n)
		return;
	pthread_mutex_lock(&all_lock);
	for (pp = &all_head; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	pthread_mutex_unlock(&all_lock);
	if (n->tracing)
		fa__trace_arena(n->trace_id, FA_TRACE_EV_DESTROY);
	for (int node = 0; node < FA_MAX_NODES; node++) {
		fa__arena_free(n->node[node].arena);
		fa__numa_large_fini(n, node);
		fa__pool_destroy(n->node[node].pool);
		pthread_mutex_destroy(&n->node[node].large_lock);
	}
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->bal_lock);
	free(n);
}

/* ---- allocation ---- */

/* Memory of memory node `node`: the pool, or a large map. */
static inline void *node_alloc(struct fa_numa *n, int node, size_t size)
{
	if (fa__numa_is_large(n, size))
		return fa__numa_large_alloc(n, node, size);
	return fa_pool_alloc(n->node[node].pool, size);
}

/* node_alloc; under FA_NUMA_BALANCE a pool at its cap first takes idle
 * memory (its own, then the nearest nodes' budget) and tries once more. */
static void *node_alloc_bal(struct fa_numa *n, int node, size_t size)
{
	void *p = node_alloc(n, node, size);

	if (p || errno != ENOMEM || !(n->flags & FA_NUMA_BALANCE) || fa__numa_is_large(n, size))
		return p;
	/* a failed retry says why; a balance that gave nothing, ENOMEM (the
	 * trims may have left another errno) */
	if (fa__numa_balance(n, node, 2 * FA__SLAB_SIZE, true))
		return node_alloc(n, node, size);
	errno = ENOMEM;
	return NULL;
}

static void count_remote_alloc(struct fa_numa *n, int served, int home, size_t size,
                               const void *site)
{
	atomic_fetch_add_explicit(&n->node[served].remote_allocs, 1, memory_order_relaxed);
	fa__count_inc(&fa__numa_tls.remote_allocs);
	if (n->flags & FA_NUMA_WARN)
		fa__numa_warn(n, site,
		              "remote alloc of %zu bytes from node %d by a thread on node %d", size,
		              served, home);
}

/* Try the memory nodes after home's own, nearest first.  Counted. */
static void *spill(struct fa_numa *n, size_t size, int home, const void *site)
{
	struct fa__numa_node *hn = &n->node[home];
	int from = hn->mem_node;

	for (int i = 0; i < hn->nr_spill; i++) {
		int to = hn->spill[i];
		void *p;

		if (to == from)
			continue;
		p = node_alloc(n, to, size);
		if (p) {
			atomic_fetch_add_explicit(&n->node[from].spills_out, 1,
			                          memory_order_relaxed);
			atomic_fetch_add_explicit(&n->node[to].spills_in, 1, memory_order_relaxed);
			count_remote_alloc(n, to, home, size, site);
			return p;
		}
		if (errno != ENOMEM)
			return NULL;
	}
	errno = ENOMEM;
	return NULL;
}

/* The home node's pool failed (or policy is not the fast one). */
static void *alloc_slow(struct fa_numa *n, size_t size, int home, const void *site)
{
	int served;
	void *p;

	if (n->policy == FA_NUMA_INTERLEAVE) {
		struct fa__numa_tls *t = &fa__numa_tls;

		served = n->mem_nodes[t->rr++ % (unsigned)n->nr_mem];
		p = node_alloc_bal(n, served, size);
		if (p) {
			if (served != n->node[home].mem_node)
				count_remote_alloc(n, served, home, size, site);
			return p;
		}
	} else {
		p = node_alloc_bal(n, n->node[home].mem_node, size);
		if (p)
			return p;
	}
	if (errno != ENOMEM)
		return NULL;
	atomic_fetch_add_explicit(&n->node[n->node[home].mem_node].exhausted, 1,
	                          memory_order_relaxed);
	if (n->policy == FA_NUMA_STRICT)
		return NULL;
	return spill(n, size, home, site);
}

/* Out of line so that the fast paths need no stack frame. */
static __attribute__((noinline, cold)) void *null_einval(void)
{
	errno = EINVAL;
	return NULL;
}

/* Is the thread's cached pool still the one for its node?  Off the data
 * dependency chain of the pool pop: the branch is predicted and the pool
 * pointer comes straight from TLS. */
static inline bool cache_valid(const struct fa__numa_tls *t, const struct fa_numa *n)
{
	if (fa__unlikely(t->cache_id != n->id))
		return false;
	if (fa__likely(t->rseq_cpu != NULL))
		return *t->rseq_cpu == t->cache_cpu;
	return t->countdown > 0;
}

/* Fill the cache for n after looking the node up; returns the node. */
static int cache_fill(struct fa__numa_tls *t, struct fa_numa *n)
{
	int node = fa__thread_node();

	t->cache_id = n->policy == FA_NUMA_INTERLEAVE ? 0 : n->id;
	t->cache_pool = n->pool_of[node];
	t->cache_span = fa__pool_bin_span(t->cache_pool, &t->cache_lo);
	if (t->rseq_cpu) {
		uint32_t cpu = *t->rseq_cpu;

		t->cache_cpu = cpu;
		/* migrated between the two reads: the next call looks again */
		if (cpu >= fa__nr_cpu_node || fa__cpu_node[cpu] != node)
			t->cache_id = 0;
	}
	return node;
}

static __attribute__((noinline)) void *alloc_miss(struct fa_numa *n, size_t size, const void *site)
{
	struct fa__numa_tls *t = &fa__numa_tls;
	int node = cache_fill(t, n);

	if (n->policy != FA_NUMA_INTERLEAVE && !fa__numa_is_large(n, size)) {
		void *p = fa_pool_alloc(n->pool_of[node], size);

		if (fa__likely(p != NULL))
			return p;
	}
	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	return alloc_slow(n, size, node, site);
}

void *fa_numa_alloc(struct fa_numa *n, size_t size)
{
	struct fa__numa_tls *t = &fa__numa_tls;

	if (fa__likely(n != NULL)) {
		if (fa__likely(size <= FA_POOL_SMALL_MAX && cache_valid(t, n))) {
			void *p;

			if (!t->rseq_cpu)
				t->countdown--;
			/* an empty bin is alloc_miss's, which refills it:
			 * no call returns here, so this path has no frame */
			p = fa__pool_pop_inl(t->cache_pool, size);
			if (fa__likely(p != NULL))
				return p;
		}
		return alloc_miss(n, size, __builtin_return_address(0));
	}
	return null_einval();
}

void *fa_numa_alloc_site(struct fa_numa *n, size_t size, const char *file, int line,
                         const char *func)
{
	struct fa__numa_tls *t = &fa__numa_tls;
	void *p;

	if (!n || !n->tracing || !fa__numa_is_large(n, size))
		return fa_numa_alloc(n, size);
	t->site_file = file;
	t->site_line = line;
	t->site_func = func;
	p = alloc_miss(n, size, __builtin_return_address(0));
	t->site_file = t->site_func = NULL;
	t->site_line = 0;
	return p;
}

void *fa_numa_alloc_onnode(struct fa_numa *n, size_t size, int node)
{
	int home, served;
	void *p;

	if (!n || size == 0 || node < 0 || node > n->max_node || !n->node[node].present) {
		errno = EINVAL;
		return NULL;
	}
	if (!n->node[node].has_memory && n->policy == FA_NUMA_STRICT) {
		errno = ENOMEM;
		return NULL;
	}
	home = fa__thread_node();
	served = n->node[node].mem_node;
	p = node_alloc_bal(n, served, size);
	if (!p) {
		if (errno != ENOMEM)
			return NULL;
		atomic_fetch_add_explicit(&n->node[served].exhausted, 1, memory_order_relaxed);
		if (n->policy == FA_NUMA_STRICT)
			return NULL;
		/* spill from the asked node, as its own threads would */
		return spill(n, size, node, __builtin_return_address(0));
	}
	if (served != n->node[home].mem_node)
		count_remote_alloc(n, served, home, size, __builtin_return_address(0));
	return p;
}

/* Node index of pool p in n, or -1. */
static int pool_node(const struct fa_numa *n, const struct fa_pool *p)
{
	for (int i = 0; i < n->nr_mem; i++)
		if (n->node[n->mem_nodes[i]].pool == p)
			return n->mem_nodes[i];
	return -1;
}

static __attribute__((noinline)) void free_miss(struct fa_numa *n, struct fa_pool *p, void *ptr,
                                                const void *site)
{
	struct fa__numa_tls *t = &fa__numa_tls;
	int node = cache_fill(t, n), owner;
	struct fa__numa_large *l = NULL;

	if (p && p == n->pool_of[node]) {
		fa_pool_free(p, ptr);
		return;
	}
	if (p) {
		owner = pool_node(n, p);
	} else {
		l = fa__numa_large_of(n, ptr);
		owner = l ? l->node : -1;
		if (l && owner == n->node[node].mem_node) {
			fa__numa_large_free(n, l);
			return;
		}
	}
	if (owner < 0) {
		fprintf(stderr,
		        "finalloc: numa: fa_numa_free(%p): not an object of this "
		        "allocator; not freed\n",
		        ptr);
		errno = EINVAL;
		return;
	}
	atomic_fetch_add_explicit(&n->node[owner].remote_frees, 1, memory_order_relaxed);
	fa__count_inc(&t->remote_frees);
	if (n->flags & FA_NUMA_WARN)
		fa__numa_warn(n, site, "remote free of %p (node %d) by a thread on node %d", ptr,
		              owner, node);
	if (l)
		fa__numa_large_free(n, l);
	else
		fa_pool_free(p, ptr);
}

void fa_numa_free(struct fa_numa *n, void *ptr)
{
	struct fa__numa_tls *t = &fa__numa_tls;
	uint64_t e = fa__pagemap_get(ptr);
	const struct fa__pool_hdr *h;
	int32_t off = (int32_t)(e >> 32);

	if (fa__unlikely(!e)) {
		/* NULL: a no-op; else not our memory (one test for both) */
		if (ptr && !n)
			null_einval();
		else if (ptr)
			free_miss(n, NULL, ptr, __builtin_return_address(0));
		return;
	}
	if (fa__unlikely(!n)) {
		null_einval();
		return;
	}
	if (fa__likely((uint32_t)off - (uint32_t)t->cache_lo < t->cache_span &&
	               cache_valid(t, n))) {
		/* a slab of the thread's node's pool (its bins name it, the
		 * header is not read): the bin the owner map names */
		fa__pool_push_inl(t->cache_pool, ptr, off);
		return;
	}
	h = fa__pagemap_hdr(e);
	free_miss(n, h->pool, ptr, __builtin_return_address(0));
}

/* Idle memory of a node (or of all, -1) goes back: large maps, then the
 * pool's idle slabs and regions. */
int fa_numa_trim(struct fa_numa *n, int node)
{
	int err = 0;

	if (!n || node < -1 || node > n->max_node || (node >= 0 && !n->node[node].present))
		return -EINVAL;
	for (int i = 0; i < n->nr_mem; i++) {
		int m = n->mem_nodes[i];

		if (node >= 0 && m != n->node[node].mem_node)
			continue;
		fa__numa_large_trim(n, m);
		if (fa_pool_trim(n->node[m].pool, 0, NULL))
			err = -ENOMEM;
	}
	return err;
}

int fa_numa_node_of(struct fa_numa *n, const void *ptr)
{
	int node;

	struct fa_pool *p;

	if (!n || !ptr)
		return -EINVAL;
	p = owner_pool(ptr);
	if (!p) {
		const struct fa__numa_large *l = fa__numa_large_of(n, ptr);

		return l ? l->node : -EINVAL;
	}
	node = pool_node(n, p);
	return node < 0 ? -EINVAL : node;
}

size_t fa_numa_usable_size(struct fa_numa *n, const void *ptr)
{
	const struct fa__numa_large *l;

	if (!n || !ptr)
		return 0;
	if (owner_pool(ptr) == NULL)
		return (l = fa__numa_large_of(n, ptr)) ? l->size : 0;
	if (pool_node(n, owner_pool(ptr)) < 0)
		return 0;
	return fa_pool_usable_size(owner_pool(ptr), ptr);
}

struct fa_pool *fa_numa_pool(struct fa_numa *n, int node)
{
	if (!n || node < 0 || node > n->max_node || !n->node[node].present) {
		errno = EINVAL;
		return NULL;
	}
	return n->pool_of[node];
}

struct fa_arena *fa_numa_arena(struct fa_numa *n, int node)
{
	struct fa__numa_node *nd;
	struct fa_arena *a;

	if (!n || node < 0 || node > n->max_node || !n->node[node].present) {
		errno = EINVAL;
		return NULL;
	}
	nd = &n->node[n->node[node].mem_node];
	pthread_mutex_lock(&n->lock);
	a = nd->arena;
	if (!a) {
		struct fa_arena_opts ao = n->arena_opts;

		ao.mem = n->mem;
		ao.mem.flags |= FA_MEM_ON_NODE;
		ao.mem.node = n->node[node].mem_node;
		if (n->node_cap && !ao.cap)
			ao.cap = n->node_cap;
		a = nd->arena = fa_arena_create(&ao);
		if (a)
			fa__arena_set_owner(a, "a NUMA allocator (fa_numa_arena)");
	}
	pthread_mutex_unlock(&n->lock);
	return a;
}

/* ---- placement checks ---- */

/* Node backing the page at addr: move_pages (faulted pages of fallback
 * memory, and device memory mapped with refcounted PTEs), else the device
 * query for a device map.  -ENOENT: not faulted in yet. */
static int page_node(const struct fa__map *m, const void *addr)
{
	void *pages[1] = { (void *)((uintptr_t)addr & ~(uintptr_t)4095) };
	int status[1] = { -1 };

	if (numa_available() < 0)
		return 0;
	if (move_pages(0, 1, pages, NULL, status, 0) == 0 && status[0] >= 0)
		return status[0];
	if (m && m->backend == FA_BACKEND_DEVICE)
		return fa__dev_node_of(m, (size_t)((const char *)addr - (const char *)m->base));
	return status[0] < 0 ? status[0] : -EIO;
}

/* The backend map of pool p that holds ptr, under p->lock. */
static const struct fa__map *find_map(struct fa_pool *p, const void *ptr)
{
	unsigned nr = atomic_load_explicit(&p->nr_regions, memory_order_acquire);
	const char *c = ptr;

	for (unsigned i = 0; i < nr; i++) {
		const struct fa__map *m = &p->maps[i];

		if (m->base && c >= (const char *)m->base && c < (const char *)m->base + m->size)
			return m;
	}
	for (struct fa__pool_large *l = p->large; l; l = l->next)
		if (c >= (const char *)l->map.base && c < (const char *)l->map.base + l->map.size)
			return &l->map;
	return NULL;
}

static void note_misplaced(struct fa_numa *n, int want, int got, const void *addr)
{
	atomic_fetch_add_explicit(&n->node[want].misplaced, 1, memory_order_relaxed);
	if (n->flags & FA_NUMA_WARN)
		fa__numa_warn(n, addr, "memory meant for node %d found on node %d", want, got);
}

int fa_numa_page_node(struct fa_numa *n, const void *ptr)
{
	int want = -1, got = -EINVAL;

	if (!n || !ptr)
		return -EINVAL;
	/* any address inside: search every node's pool maps, then its large maps */
	for (int i = 0; i < n->nr_mem && want < 0; i++) {
		struct fa__numa_node *nd = &n->node[n->mem_nodes[i]];

		for (int large = 0; large < 2 && want < 0; large++) {
			pthread_mutex_t *lock = large ? &nd->large_lock : &nd->pool->lock;
			const struct fa__map *m;

			pthread_mutex_lock(lock);
			m = large ? fa__numa_large_find(nd, ptr) : find_map(nd->pool, ptr);
			if (m) {
				want = n->mem_nodes[i];
				got = page_node(m, ptr);
			}
			pthread_mutex_unlock(lock);
		}
	}
	if (want >= 0 && got >= 0 && got != want)
		note_misplaced(n, want, got, ptr);
	return got;
}

/* Check one address per page (at most 4096 per map) of map m. */
static void verify_map(struct fa_numa *n, int node, const struct fa__map *m,
                       struct fa_numa_verify *v)
{
	size_t step = m->page_size ? m->page_size : FA_PAGE_4K;

	if (m->size / step > 4096)
		step = m->size / 4096;
	for (size_t off = 0; off < m->size; off += step) {
		const char *a = (const char *)m->base + off;
		int got = page_node(m, a);

		v->pages++;
		if (got < 0) {
			v->unknown++;
		} else if (got != node) {
			v->misplaced++;
			note_misplaced(n, node, got, a);
		} else {
			v->on_node++;
		}
	}
}

/* Every map of node's pool, and its large maps (live and idle). */
static void verify_pool(struct fa_numa *n, int node, struct fa_numa_verify *v)
{
	struct fa__numa_node *nd = &n->node[node];
	struct fa_pool *p = nd->pool;
	unsigned nr;

	pthread_mutex_lock(&p->lock);
	nr = atomic_load_explicit(&p->nr_regions, memory_order_acquire);
	for (unsigned i = 0; i < nr; i++)
		if (p->maps[i].base) /* not a slot fa_pool_trim emptied */
			verify_map(n, node, &p->maps[i], v);
	for (struct fa__pool_large *l = p->large; l; l = l->next)
		verify_map(n, node, &l->map, v);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_lock(&nd->large_lock);
	for (int pass = 0; pass < 2; pass++)
		for (struct fa__numa_large *l = pass ? nd->idle : nd->live; l; l = l->next)
			verify_map(n, node, &l->map, v);
	pthread_mutex_unlock(&nd->large_lock);
}

int fa_numa_verify(struct fa_numa *n, int node, struct fa_numa_verify *v)
{
	if (!n || !v || node < -1 || node > n->max_node)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	if (node >= 0) {
		if (!n->node[node].present)
			return -EINVAL;
		verify_pool(n, n->node[node].mem_node, v);
		return v->misplaced ? -EREMOTE : 0;
	}
	for (int i = 0; i < n->nr_mem; i++)
		verify_pool(n, n->mem_nodes[i], v);
	return v->misplaced ? -EREMOTE : 0;
}

/* ---- statistics ---- */

int fa_numa_spill_order(struct fa_numa *n, int node, int *out, int max)
{
	const struct fa__numa_node *nd;

	if (!n || node < 0 || node > n->max_node || !n->node[node].present || max < 0 ||
	    (max > 0 && !out))
		return -EINVAL;
	nd = &n->node[node];
	for (int i = 0; i < nd->nr_spill && i < max; i++)
		out[i] = nd->spill[i];
	return nd->nr_spill;
}

/* Node numbers of one allocator, added into s. */
void fa__numa_node_usage(struct fa_numa *n, int node, struct fa_numa_node_stats *s)
{
	const struct fa__numa_node *nd = &n->node[node];

	s->remote_allocs += atomic_load_explicit(&nd->remote_allocs, memory_order_relaxed);
	s->remote_frees += atomic_load_explicit(&nd->remote_frees, memory_order_relaxed);
	s->spills_out += atomic_load_explicit(&nd->spills_out, memory_order_relaxed);
	s->spills_in += atomic_load_explicit(&nd->spills_in, memory_order_relaxed);
	s->exhausted += atomic_load_explicit(&nd->exhausted, memory_order_relaxed);
	s->misplaced += atomic_load_explicit(&nd->misplaced, memory_order_relaxed);
	if (nd->pool) {
		struct fa_pool_stats *ps = malloc(sizeof(*ps));
		uint64_t slab_bytes = 0, free_in_slabs;

		if (ps && fa_pool_stats(nd->pool, ps) == 0) {
			for (unsigned c = 0; c < ps->nr_classes; c++)
				slab_bytes += ps->cls[c].slabs * FA__SLAB_SIZE;
			/* live small objects sit in slabs; large ones are whole maps */
			free_in_slabs = ps->bytes_live - ps->large_bytes <= slab_bytes
			                        ? slab_bytes - (ps->bytes_live - ps->large_bytes)
			                        : 0;
			s->allocs += ps->allocs;
			s->frees += ps->frees;
			s->live_objects += ps->live;
			s->in_use += ps->bytes_live;
			s->fragmented += free_in_slabs;
			s->idle += ps->bytes_slabs > slab_bytes ? ps->bytes_slabs - slab_bytes : 0;
			s->mapped += ps->bytes_reserved;
		}
		free(ps);
	}
	{
		uint64_t live_b = atomic_load_explicit(&nd->large_bytes, memory_order_relaxed);
		uint64_t la = atomic_load_explicit(&nd->large_allocs, memory_order_relaxed);
		uint64_t lf = atomic_load_explicit(&nd->large_frees, memory_order_relaxed);
		uint64_t idle_b = atomic_load(&nd->idle_bytes);

		s->allocs += la;
		s->frees += lf;
		s->live_objects += la - lf;
		s->in_use += live_b;
		s->idle += idle_b;
		s->mapped += live_b + idle_b;
		s->idle_maps_bytes += idle_b;
		s->large_reused += atomic_load_explicit(&nd->large_reused, memory_order_relaxed);
		s->chunks_in += atomic_load_explicit(&nd->chunks_in, memory_order_relaxed);
		s->chunks_out += atomic_load_explicit(&nd->chunks_out, memory_order_relaxed);
		s->move_failures += atomic_load_explicit(&nd->move_failures, memory_order_relaxed);
		s->cap += atomic_load(&nd->cap);
		s->slab_moves_in += atomic_load_explicit(&nd->slab_moves_in, memory_order_relaxed);
		s->slab_moves_out +=
		        atomic_load_explicit(&nd->slab_moves_out, memory_order_relaxed);
		s->slab_bytes_in += atomic_load_explicit(&nd->slab_bytes_in, memory_order_relaxed);
		s->slab_bytes_out +=
		        atomic_load_explicit(&nd->slab_bytes_out, memory_order_relaxed);
	}
	if (nd->arena) {
		struct fa_arena_stats as;

		pthread_mutex_lock(&n->lock);
		if (fa_arena_stats(nd->arena, &as) == 0) {
			size_t used =
			        as.used_bytes < as.chunk_bytes ? as.used_bytes : as.chunk_bytes;

			s->in_use += used;
			s->idle += as.chunk_bytes - used;
			s->mapped += as.chunk_bytes;
		}
		pthread_mutex_unlock(&n->lock);
	}
}

int fa_numa_stats(struct fa_numa *n, struct fa_numa_stats *st)
{
	if (!n || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->policy = n->policy;
	st->nr_nodes = 0;
	for (int node = 0; node <= n->max_node; node++) {
		struct fa_numa_node_stats *s;

		if (!n->node[node].present)
			continue;
		s = &st->node[st->nr_nodes++];
		s->node = node;
		s->mem_node = n->node[node].mem_node;
		s->has_memory = n->node[node].has_memory;
		if (s->has_memory)
			fa__numa_node_usage(n, node, s);
		st->remote_allocs += s->remote_allocs;
		st->remote_frees += s->remote_frees;
		st->spills += s->spills_out;
		st->misplaced += s->misplaced;
	}
	st->warnings = atomic_load_explicit(&n->warnings, memory_order_relaxed);
	return 0;
}

/* Every live allocator, for the profiler: fn under the list lock. */
void fa__numa_each(void (*fn)(struct fa_numa *n, void *arg), void *arg)
{
	pthread_mutex_lock(&all_lock);
	for (struct fa_numa *n = all_head; n; n = n->next)
		fn(n, arg);
	pthread_mutex_unlock(&all_lock);
}
