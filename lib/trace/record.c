// SPDX-License-Identifier: MIT
/*
 * Allocation journal, producer side: each tracing thread owns a
 * single-producer ring; it copies a record in and publishes it with one
 * release store of head, writing nothing shared on that path.  The journal
 * state (J) is defined here, the lowest file of lib/trace: the writer and
 * the lifecycle read it, this file calls neither.
 */
#include "trace/trace.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_NAME 1024

struct fa__trace_journal fa__trace_j = { .lock = PTHREAD_MUTEX_INITIALIZER,
	                                 .wake = PTHREAD_COND_INITIALIZER,
	                                 .done = PTHREAD_COND_INITIALIZER,
	                                 .fd = -1 };
_Atomic uint64_t fa__trace_gen;

static _Atomic uint32_t next_site = 1;
static _Atomic uint64_t next_source[FA_TRACE_SRC_NUMA + 1] = { 1, 1, 1 };
static _Thread_local struct fa__trace_ring *my_ring;
static _Thread_local uint64_t my_gen;
/* Set while this thread makes its ring: an allocation made meanwhile (by
 * the drop-in under pthread or libc internals) is not journaled, rather
 * than recursing into get_ring or waiting on J.lock that it holds. */
static _Thread_local bool in_ring;
static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;

void fa__trace_record_postfork(void)
{
	my_ring = NULL;
}

static void ring_exit(void *p)
{
	/* the journal this ring belonged to may be gone already */
	if (my_ring && my_gen == atomic_load(&fa__trace_gen))
		atomic_store_explicit(&my_ring->dead, true, memory_order_release);
	my_ring = NULL;
}

uint64_t fa__trace_source_id(unsigned kind)
{
	return (uint64_t)kind << FA_TRACE_SRC_SHIFT | atomic_fetch_add(&next_source[kind], 1);
}

/* Rings are mapped, not malloc'ed: under the malloc drop-in a malloc here
 * would come back into the journal. */
static struct fa__trace_ring *ring_new(size_t size)
{
	size_t hl = (sizeof(struct fa__trace_ring) + 4095) & ~(size_t)4095;
	char *m = mmap(NULL, hl + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct fa__trace_ring *r = (struct fa__trace_ring *)m;

	if (m == MAP_FAILED)
		return NULL;
	r->buf = m + hl;
	r->size = size;
	return r;
}

void fa__trace_ring_free(struct fa__trace_ring *r)
{
	size_t hl = (sizeof(struct fa__trace_ring) + 4095) & ~(size_t)4095;

	munmap(r, hl + r->size);
}

static void ring_key_init(void)
{
	pthread_key_create(&ring_key, ring_exit);
}

static struct fa__trace_ring *get_ring(void)
{
	uint64_t gen = atomic_load_explicit(&fa__trace_gen, memory_order_acquire);
	struct fa__trace_ring *r;

	if (fa__likely(my_ring && my_gen == gen))
		return my_ring;
	if (!(gen & 1) || in_ring)
		return NULL;
	in_ring = true;
	pthread_once(&ring_once, ring_key_init);
	pthread_mutex_lock(&J.lock);
	if (atomic_load(&fa__trace_gen) != gen) { /* closed meanwhile */
		pthread_mutex_unlock(&J.lock);
		in_ring = false;
		return NULL;
	}
	r = ring_new(J.ring_size);
	if (!r) {
		pthread_mutex_unlock(&J.lock);
		in_ring = false;
		return NULL;
	}
	r->tid = (uint32_t)gettid();
	r->next = J.rings;
	J.rings = r;
	pthread_mutex_unlock(&J.lock);
	my_ring = r;
	my_gen = gen;
	pthread_setspecific(ring_key, r);
	in_ring = false;
	return r;
}

static bool ring_put(struct fa__trace_ring *r, const void *rec, size_t len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t off = head & (r->size - 1), n1;

	if (r->size - (head - tail) < len)
		return false;
	n1 = r->size - off < len ? r->size - off : len;
	memcpy(r->buf + off, rec, n1);
	memcpy(r->buf, (const char *)rec + n1, len - n1);
	atomic_store_explicit(&r->head, head + len, memory_order_release);
	/* half full: wake the writer now rather than at its next period.
	 * Once per crossing; without the lock, so a wake-up can be missed
	 * (the writer then comes at its period), never waited for. */
	if (fa__unlikely(head - tail < r->size / 2 && head + len - tail >= r->size / 2))
		pthread_cond_signal(&J.wake);
	atomic_store_explicit(&r->records,
	                      atomic_load_explicit(&r->records, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	return true;
}

static void kick_writer(void)
{
	pthread_mutex_lock(&J.lock);
	pthread_cond_signal(&J.wake);
	pthread_mutex_unlock(&J.lock);
}

/* A DROP record owed goes first, so a reader sees the gap where it was.
 * The count is taken whole and given back if the DROP does not fit: the
 * writer may take it meanwhile (after a drain), never both. */
static bool try_put(struct fa__trace_ring *r, const void *rec, size_t len)
{
	if (fa__unlikely(atomic_load_explicit(&r->owed, memory_order_relaxed))) {
		uint64_t n = atomic_exchange_explicit(&r->owed, 0, memory_order_acq_rel);

		if (n) {
			struct fa_trace_rec_drop d = { FA_TRACE_DROP, sizeof(d), r->tid,
				                       fa__trace_now_ns(CLOCK_MONOTONIC) - J.t0,
				                       n };

			if (!ring_put(r, &d, sizeof(d))) {
				atomic_fetch_add_explicit(&r->owed, n, memory_order_acq_rel);
				return false;
			}
		}
	}
	return ring_put(r, rec, len);
}

static void count_drop(struct fa__trace_ring *r)
{
	atomic_store_explicit(&r->dropped,
	                      atomic_load_explicit(&r->dropped, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	atomic_fetch_add_explicit(&r->owed, 1, memory_order_acq_rel);
}

/* False when the record was dropped (and counted). */
static bool put_rec(struct fa__trace_ring *r, const void *rec, size_t len)
{
	if (try_put(r, rec, len))
		return true;
	if (J.flags & FA_TRACE_BLOCK) {
		/* back-pressure: wait for the writer to free room */
		do {
			kick_writer();
			sched_yield();
		} while (!try_put(r, rec, len));
		return true;
	}
	count_drop(r);
	return false;
}

/* Site id for (file, line, func), emitting a SITE record on a miss. */
static uint32_t site_id(struct fa__trace_ring *r, const char *file, int line, const char *func)
{
	unsigned h =
	        (unsigned)(((uintptr_t)file >> 3) ^ (uintptr_t)line * 31u) % FA__TRACE_SITE_CACHE;
	char rec[sizeof(struct fa_trace_rec_site) + 2 * MAX_NAME + 8];
	size_t fl, gl, len;
	uint32_t id;

	if (r->sites[h].id && r->sites[h].file == file && r->sites[h].line == line &&
	    r->sites[h].func == func)
		return r->sites[h].id;
	fl = file ? strnlen(file, MAX_NAME) : 0;
	gl = func ? strnlen(func, MAX_NAME) : 0;
	len = (24 + fl + gl + 7) & ~(size_t)7;
	id = atomic_fetch_add(&next_site, 1);
	memset(rec, 0, len);
	((uint16_t *)rec)[0] = FA_TRACE_SITE;
	((uint16_t *)rec)[1] = (uint16_t)len;
	((uint32_t *)rec)[1] = id;
	((uint32_t *)rec)[2] = (uint32_t)line;
	((uint32_t *)rec)[3] = r->tid;
	((uint16_t *)rec)[8] = (uint16_t)fl;
	((uint16_t *)rec)[9] = (uint16_t)gl;
	memcpy(rec + 24, file ? file : "", fl);
	memcpy(rec + 24 + fl, func ? func : "", gl);
	if (!put_rec(r, rec, len))
		return 0; /* not written: the ALLOC will not be either */
	r->sites[h].file = file;
	r->sites[h].func = func;
	r->sites[h].line = line;
	r->sites[h].id = id;
	return id;
}

void fa__trace_alloc(uint64_t arena, const void *p, size_t size, size_t align, const char *file,
                     int line, const char *func)
{
	struct fa__trace_ring *r = get_ring();
	struct fa_trace_rec_alloc rec;
	uint32_t site;

	if (!r)
		return;
	/* site 0: none given (the reader shows an unknown site) */
	site = file || func ? site_id(r, file, line, func) : 0;
	if (!site && (file || func)) {
		count_drop(r);
		return;
	}
	rec = (struct fa_trace_rec_alloc){ FA_TRACE_ALLOC, sizeof(rec),
		                           site,           fa__trace_now_ns(CLOCK_MONOTONIC) - J.t0,
		                           arena,          (uintptr_t)p,
		                           size,           (uint32_t)align,
		                           r->tid };
	put_rec(r, &rec, sizeof(rec));
}

void fa__trace_free(uint64_t source, const void *p, size_t size)
{
	struct fa__trace_ring *r = get_ring();
	struct fa_trace_rec_free rec;

	if (!r)
		return;
	rec = (struct fa_trace_rec_free){ FA_TRACE_FREE, sizeof(rec),
		                          r->tid,        fa__trace_now_ns(CLOCK_MONOTONIC) - J.t0,
		                          source,        (uintptr_t)p,
		                          size };
	put_rec(r, &rec, sizeof(rec));
}

void fa__trace_arena(uint64_t arena, int event)
{
	struct fa__trace_ring *r = get_ring();
	struct fa_trace_rec_arena rec;

	if (!r)
		return;
	rec = (struct fa_trace_rec_arena){ FA_TRACE_ARENA,
		                           sizeof(rec),
		                           (uint16_t)event,
		                           0,
		                           fa__trace_now_ns(CLOCK_MONOTONIC) - J.t0,
		                           arena,
		                           r->tid,
		                           0 };
	put_rec(r, &rec, sizeof(rec));
}
