// SPDX-License-Identifier: MIT
/*
 * Allocation journal, lifecycle: open (header, writer thread), flush,
 * close (END record), stats, FINALLOC_TRACE, fork.
 *
 * Contract: fa_trace_close() must not run while other threads still
 * trace (at exit the rings are left alone, only flushed).
 */
#include "trace/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A one-thread program making allocations back to back fills the ring
 * before the writer's first wake-up: 1 MiB holds 21,845 ALLOC records,
 * and the writer is woken when a ring is half full. */
#define DEF_RING ((size_t)1 << 20)
#define MAX_RING ((size_t)1 << 30)
#define REC_SIZE sizeof(struct fa_trace_rec_alloc)

static bool atexit_done;
/* FINALLOC_TRACE's opening (env_journal), reinitialised in a forked child */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;

void fa__trace_postfork_child(void)
{
	/* the writer thread did not survive the fork: the child stops
	 * journaling (its rings are shared copies it must not write) */
	if (atomic_load(&fa__trace_gen) & 1) {
		atomic_fetch_add(&fa__trace_gen, 1);
		if (J.fd >= 0)
			close(J.fd);
		J.fd = -1;
		J.rings = NULL;
	}
	pthread_mutex_init(&J.lock, NULL);
	pthread_mutex_init(&env_lock, NULL);
	pthread_cond_init(&J.wake, NULL);
	pthread_cond_init(&J.done, NULL);
	fa__trace_record_postfork();
}

static int close_journal(bool free_rings);

static void at_exit(void)
{
	if (atomic_load(&fa__trace_gen) & 1)
		close_journal(false);
}

int fa_trace_open(const char *path, const struct fa_trace_opts *opts)
{
	struct fa_trace_file_header hdr = { 0 };
	size_t rs = opts && opts->buffer_size ? opts->buffer_size : DEF_RING;
	int fd, err;

	if (!path || (opts && (opts->flags & ~FA_TRACE_BLOCK)) || rs < 4096 || rs > MAX_RING ||
	    (rs & (rs - 1)))
		return -EINVAL;
	pthread_mutex_lock(&J.lock);
	if (atomic_load(&fa__trace_gen) & 1) {
		pthread_mutex_unlock(&J.lock);
		return -EBUSY;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		pthread_mutex_unlock(&J.lock);
		return err;
	}
	J.fd = fd;
	J.ring_size = rs;
	J.flags = opts ? opts->flags : 0;
	J.interval_us = opts && opts->interval_us ? opts->interval_us : 1000;
	J.t0 = fa__trace_now_ns(CLOCK_MONOTONIC);
	J.t0_real = fa__trace_now_ns(CLOCK_REALTIME);
	J.stop = false;
	J.err = 0;
	J.off = sizeof(hdr);
	J.bytes = sizeof(hdr);
	J.writes = 1;
	J.records_dead = J.dropped_dead = J.records_writer = 0;
	J.flush_req = J.flush_done = 0;
	J.uring = io_uring_queue_init(FA__TRACE_QD, &J.ur, 0) == 0;

	memcpy(hdr.magic, FA_TRACE_MAGIC, sizeof(hdr.magic));
	hdr.version = FA_TRACE_VERSION;
	hdr.header_size = sizeof(hdr);
	hdr.start_ns = J.t0;
	hdr.start_real = J.t0_real;
	hdr.pid = (uint32_t)getpid();
	err = fa__trace_write_all(&hdr, sizeof(hdr), 0);
	if (!err)
		err = -pthread_create(&J.writer, NULL, fa__trace_writer_main, NULL);
	/* named before open returns, so top, gdb and perf (and the tests)
	 * find it as "fa-journal" */
	if (!err)
		pthread_setname_np(J.writer, "fa-journal");
	if (err) {
		if (J.uring)
			io_uring_queue_exit(&J.ur);
		close(fd);
		J.fd = -1;
		pthread_mutex_unlock(&J.lock);
		return err == -EIO ? -EIO : -EAGAIN;
	}
	atomic_fetch_add(&fa__trace_gen, 1); /* odd: open */
	if (!atexit_done) {
		atexit_done = true;
		atexit(at_exit);
	}
	pthread_mutex_unlock(&J.lock);
	return 0;
}

int fa_trace_flush(void)
{
	uint64_t gen;
	int err;

	pthread_mutex_lock(&J.lock);
	if (!(atomic_load(&fa__trace_gen) & 1)) {
		pthread_mutex_unlock(&J.lock);
		return -ENOENT;
	}
	gen = ++J.flush_req;
	pthread_cond_signal(&J.wake);
	while (J.flush_done < gen)
		pthread_cond_wait(&J.done, &J.lock);
	err = J.err;
	pthread_mutex_unlock(&J.lock);
	return err;
}

static void totals(uint64_t *records, uint64_t *dropped)
{
	*records = J.records_dead + J.records_writer;
	*dropped = J.dropped_dead;
	for (struct fa__trace_ring *r = J.rings; r; r = r->next) {
		*records += atomic_load_explicit(&r->records, memory_order_relaxed);
		*dropped += atomic_load_explicit(&r->dropped, memory_order_relaxed);
	}
}

static int close_journal(bool free_rings)
{
	struct fa_trace_rec_end end = { FA_TRACE_END, sizeof(end), 0, 0, 0, 0 };
	int err = fa_trace_flush();

	pthread_mutex_lock(&J.lock);
	J.stop = true;
	pthread_cond_signal(&J.wake);
	pthread_mutex_unlock(&J.lock);
	pthread_join(J.writer, NULL);

	pthread_mutex_lock(&J.lock);
	totals(&end.records, &end.dropped);
	end.time_ns = fa__trace_now_ns(CLOCK_MONOTONIC) - J.t0;
	if (fa__trace_write_all(&end, sizeof(end), J.off))
		err = -EIO;
	J.off += sizeof(end);
	J.bytes += sizeof(end);
	if (J.uring)
		io_uring_queue_exit(&J.ur);
	if (close(J.fd) && !err)
		err = -EIO;
	J.fd = -1;
	atomic_fetch_add(&fa__trace_gen, 1); /* even: closed */
	if (free_rings) {
		while (J.rings) {
			struct fa__trace_ring *r = J.rings;

			J.rings = r->next;
			fa__trace_ring_free(r);
		}
	}
	J.rings = NULL;
	pthread_mutex_unlock(&J.lock);
	return err;
}

int fa_trace_close(void)
{
	if (!(atomic_load(&fa__trace_gen) & 1))
		return -ENOENT;
	return close_journal(true);
}

int fa_trace_stats(struct fa_trace_stats *st)
{
	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&J.lock);
	totals(&st->records, &st->dropped);
	st->bytes = J.bytes;
	st->writes = J.writes;
	st->uring = J.uring;
	st->open = atomic_load(&fa__trace_gen) & 1;
	pthread_mutex_unlock(&J.lock);
	return 0;
}

/* The environment is read at every fa_arena_create: a bad value is
 * reported once per variable and the default used. */
enum { ENV_MIN, ENV_SAMPLE, ENV_RING, ENV_BLOCK };
static _Atomic unsigned env_warned;

static uint64_t env_num(int var, const char *name, uint64_t lo, uint64_t hi, uint64_t dflt,
                        const char *what)
{
	const char *s = getenv(name);
	uint64_t v;

	if (!s || !*s)
		return dflt;
	if (fa__parse_size(s, &v) && v >= lo && v <= hi)
		return v;
	if (!(atomic_fetch_or(&env_warned, 1u << var) & (1u << var)))
		fprintf(stderr, "finalloc: %s=%s: not %s; using %llu\n", name, s, what,
		        (unsigned long long)dflt);
	return dflt;
}

/* fa_trace_opts for a journal the library opens itself. */
static void env_opts(struct fa_trace_opts *o)
{
	uint64_t recs =
	        env_num(ENV_RING, "FINALLOC_TRACE_RING", 1, MAX_RING / REC_SIZE,
	                DEF_RING / REC_SIZE, "a ring size in records (1..22369621, k/M suffixes)");
	size_t rs = 4096;

	while (rs < recs * REC_SIZE)
		rs *= 2;
	*o = (struct fa_trace_opts){ .buffer_size = rs };
	if (env_num(ENV_BLOCK, "FINALLOC_TRACE_BLOCK", 0, 1, 0, "0 or 1"))
		o->flags |= FA_TRACE_BLOCK;
}

/*
 * FINALLOC_TRACE's journal, opened once per value of the variable: a path
 * that failed is said once and not retried at every fa_arena_create, and a
 * journal since closed (fa_trace_close, exit, or the parent's, in a forked
 * child) is not reopened, which would truncate it.  0: open; 1: none, go
 * on untraced; -EINVAL: the variable is unset.
 */
static char *env_tried; /* under env_lock; always NULL or a whole string */

static int env_journal(void)
{
	const char *p = getenv("FINALLOC_TRACE");
	struct fa_trace_opts o;
	char *old;
	int err;

	if (!p || !*p)
		return -EINVAL;
	if (atomic_load(&fa__trace_gen) & 1)
		return 0;
	pthread_mutex_lock(&env_lock);
	if (atomic_load(&fa__trace_gen) & 1) {
		pthread_mutex_unlock(&env_lock);
		return 0;
	}
	if (env_tried && !strcmp(env_tried, p)) {
		pthread_mutex_unlock(&env_lock);
		return 1;
	}
	/* swapped, not freed first: a forked child may find it mid-update */
	old = env_tried;
	env_tried = strdup(p);
	free(old);
	env_opts(&o);
	err = fa_trace_open(p, &o);
	pthread_mutex_unlock(&env_lock);
	if (!err || err == -EBUSY)
		return 0;
	fprintf(stderr,
	        "finalloc: FINALLOC_TRACE=%s: cannot open the journal: %s; not journaling\n", p,
	        strerror(-err));
	return 1;
}

bool fa__trace_env(size_t *min_size, unsigned *sample)
{
	const char *p = getenv("FINALLOC_TRACE");

	if (!p || !*p)
		return false;
	*min_size = (size_t)env_num(ENV_MIN, "FINALLOC_TRACE_MIN", 0, SIZE_MAX, 0,
	                            "a size in bytes (k/M/G suffixes)");
	*sample = (unsigned)env_num(ENV_SAMPLE, "FINALLOC_TRACE_SAMPLE", 0, UINT_MAX, 0,
	                            "a count N, for 1 in N (k/M/G suffixes)");
	return true;
}

int fa__trace_want(bool asked, bool env, size_t *min)
{
	unsigned sample;
	int err;

	*min = 0;
	env = env && fa__trace_env(min, &sample);
	if (!asked && !env)
		return 0;
	if (asked)
		*min = 0;
	err = fa__trace_ensure(NULL);
	return err < 0 ? err : !err;
}

int fa__trace_ensure(const char *path)
{
	struct fa_trace_opts o;
	int err;

	if (atomic_load(&fa__trace_gen) & 1)
		return 0;
	if (!path || !*path)
		return env_journal();
	env_opts(&o);
	err = fa_trace_open(path, &o);
	return err == -EBUSY ? 0 : err;
}
