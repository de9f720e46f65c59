/* SPDX-License-Identifier: MIT */
/*
 * A writer-preferring reader/writer lock that a fork child can release.
 * pthread_rwlock_t cannot be: glibc takes an unlock by a thread whose tid
 * is not the writer's for a reader's, and a fork child's tid is not its
 * parent's, so a lock write-held across fork stays held.  Here no thread
 * holds the inner mutex between calls: the state is two counters and a
 * flag, released by whoever holds the write side, the child included.
 * For slow paths only (the pools' debug checks): each call takes a mutex.
 */
#ifndef FA_UTIL_RWLOCK_H
#define FA_UTIL_RWLOCK_H

#include <pthread.h>
#include <stdbool.h>

struct fa__rwlock {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned readers, writers_waiting;
	bool writer;
};

static inline void fa__rwlock_init(struct fa__rwlock *l)
{
	pthread_mutex_init(&l->m, NULL);
	pthread_cond_init(&l->c, NULL);
	l->readers = l->writers_waiting = 0;
	l->writer = false;
}

static inline void fa__rwlock_destroy(struct fa__rwlock *l)
{
	pthread_cond_destroy(&l->c);
	pthread_mutex_destroy(&l->m);
}

/* A waiting writer goes first: a trim waits for the checks under way, not
 * for every later one. */
static inline void fa__rwlock_rdlock(struct fa__rwlock *l)
{
	pthread_mutex_lock(&l->m);
	while (l->writer || l->writers_waiting)
		pthread_cond_wait(&l->c, &l->m);
	l->readers++;
	pthread_mutex_unlock(&l->m);
}

static inline void fa__rwlock_rdunlock(struct fa__rwlock *l)
{
	pthread_mutex_lock(&l->m);
	if (--l->readers == 0)
		pthread_cond_broadcast(&l->c);
	pthread_mutex_unlock(&l->m);
}

static inline void fa__rwlock_wrlock(struct fa__rwlock *l)
{
	pthread_mutex_lock(&l->m);
	l->writers_waiting++;
	while (l->writer || l->readers)
		pthread_cond_wait(&l->c, &l->m);
	l->writers_waiting--;
	l->writer = true;
	pthread_mutex_unlock(&l->m);
}

static inline void fa__rwlock_wrunlock(struct fa__rwlock *l)
{
	pthread_mutex_lock(&l->m);
	l->writer = false;
	pthread_cond_broadcast(&l->c);
	pthread_mutex_unlock(&l->m);
}

#endif /* FA_UTIL_RWLOCK_H */
