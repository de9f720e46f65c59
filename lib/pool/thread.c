// SPDX-License-Identifier: MIT
/*
 * The calling thread's cache of a pool: found through a TLS slot per pool
 * (fa__pool_tcache_get, made on first use; pools without a slot share one
 * cache under shared_lock), given back to its pool at thread exit.
 */
#include "pool/pool.h"

#include <errno.h>
#include <string.h>

pthread_mutex_t fa__pool_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread struct fa__pool_tcache *tls_any[FA__POOL_SLOTS + 1]
        __attribute__((tls_model("initial-exec")));
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *arg);

static void exit_key_init(void)
{
	/* failure leaves caches to the pool (flushed at destroy) */
	if (pthread_key_create(&exit_key, thread_exit))
		exit_key = (pthread_key_t)-1;
}

/*
 * The calling thread's cache of p, made on first use; NULL (ENOMEM) if none
 * can be made.  Pools without a TLS slot share one cache: *locked says the
 * caller holds shared_lock and must call fa__pool_tcache_put.
 */
struct fa__pool_tcache *fa__pool_tcache_get(struct fa_pool *p, bool *locked)
{
	unsigned s = p->tslot;
	struct fa__pool_tcache *tc;

	*locked = false;
	if (fa__unlikely(s >= FA__POOL_SLOTS)) {
		pthread_mutex_lock(&p->shared_lock);
		if (!p->shared_tc)
			p->shared_tc = fa__pool_tcache_new(p);
		if (!p->shared_tc) {
			pthread_mutex_unlock(&p->shared_lock);
			errno = ENOMEM;
			return NULL;
		}
		*locked = true;
		return p->shared_tc;
	}
	tc = tls_any[s];
	if (fa__likely(tc != NULL))
		return tc;
	pthread_once(&exit_once, exit_key_init);
	tc = fa__pool_tcache_new(p);
	if (!tc) {
		errno = ENOMEM;
		return NULL;
	}
	if (exit_key != (pthread_key_t)-1)
		pthread_setspecific(exit_key, &tls_any);
	pthread_mutex_lock(&p->lock);
	tc->slot_any = &tls_any[s];
	if (p->tbin) {
		/* the inline path's bins: this thread's, at the pool's range;
		 * the state (counters included) moves there from own[] */
		memcpy(&fa__pool_bins[p->tbin], tc->own, p->nr_classes * sizeof(tc->own[0]));
		tc->bins = &fa__pool_bins[p->tbin];
	}
	pthread_mutex_unlock(&p->lock);
	tls_any[s] = tc;
	return tc;
}

void fa__pool_tcache_put(struct fa_pool *p, bool locked)
{
	if (locked)
		pthread_mutex_unlock(&p->shared_lock);
}

/* Thread exit: every cache of this thread goes back to its pool. */
static void thread_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fa__pool_reg_lock);
	for (unsigned s = 0; s < FA__POOL_SLOTS; s++) {
		struct fa__pool_tcache *tc = tls_any[s];
		struct fa_pool *p;

		if (!tc)
			continue;
		p = tc->pool;
		if (p->flags & FA_POOL_QUARANTINE)
			fa__pool_quarantine_drain(p, tc, false);
		fa__pool_flush_all(p, tc);
		tls_any[s] = NULL;
		pthread_mutex_lock(&p->lock);
		fa__pool_bins_reset(p, tc);
		tc->slot_any = NULL;
		tc->next_idle = p->idle;
		p->idle = tc;
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&fa__pool_reg_lock);
}

void fa__pool_thread_fork_child(struct fa_pool *p)
{
	for (struct fa__pool_tcache *tc = p->all; tc; tc = tc->next_all) {
		if (tc->slot_any && tc->slot_any != &tls_any[p->tslot]) {
			/* the owner's TLS is still mapped here, a copy */
			tc->slot_any = NULL;
			fa__pool_bins_detach(p, tc);
		}
	}
}
