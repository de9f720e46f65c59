// SPDX-License-Identifier: MIT
/*
 * Allocation journal, writer thread: it wakes every interval_us (or on
 * fa_trace_flush), writes [tail, head) of every ring straight from ring
 * memory with io_uring at increasing file offsets (pwrite without it), and
 * advances tail after the completions, which is when the producer may
 * reuse those bytes.  It frees the rings of exited threads once drained.
 */
#include "trace/trace.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int fa__trace_write_all(const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(J.fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf = (const char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

struct span {
	const char *p;
	size_t len;
	uint64_t off;
};

/* Write the spans, through io_uring when it is there. */
static int write_spans(struct span *s, int n)
{
	int err = 0;

	J.writes += (uint64_t)n;
	if (J.uring) {
		int queued = 0;

		for (int i = 0; i < n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&J.ur);

			if (!sqe) { /* cannot happen: n <= FA__TRACE_QD */
				err = fa__trace_write_all(s[i].p, s[i].len, s[i].off);
				continue;
			}
			io_uring_prep_write(sqe, J.fd, s[i].p, (unsigned)s[i].len, s[i].off);
			io_uring_sqe_set_data64(sqe, (uint64_t)i);
			queued++;
		}
		if (queued && io_uring_submit_and_wait(&J.ur, (unsigned)queued) < 0)
			return -EIO;
		while (queued) {
			struct io_uring_cqe *cqe;
			int r = io_uring_wait_cqe(&J.ur, &cqe);

			if (r < 0)
				return -EIO;
			uint64_t i = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(&J.ur, cqe);
			queued--;
			if (res < 0)
				err = -EIO;
			else if ((size_t)res < s[i].len) /* short write: finish it */
				err = err ? err
				          : fa__trace_write_all(s[i].p + res,
				                                s[i].len - (size_t)res,
				                                s[i].off + (uint64_t)res);
		}
		return err;
	}
	for (int i = 0; i < n; i++)
		if (fa__trace_write_all(s[i].p, s[i].len, s[i].off))
			err = -EIO;
	return err;
}

/* One pass over every ring; returns bytes written. */
static uint64_t drain(void)
{
	struct span sp[FA__TRACE_QD];
	struct {
		struct fa__trace_ring *r;
		uint64_t head;
	} done[FA__TRACE_QD / 2];
	uint64_t total = 0;
	struct fa__trace_ring *r;
	int ns = 0, nd = 0;

	pthread_mutex_lock(&J.lock);
	r = J.rings;
	pthread_mutex_unlock(&J.lock);
	/* rings are only unlinked by this thread: walking unlocked is safe,
	 * new ones are pushed at the head */
	for (; r || nd; r = r ? r->next : NULL) {
		if (r) {
			uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
			uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

			if (head != tail) {
				size_t off = tail & (r->size - 1), len = head - tail;
				size_t n1 = r->size - off < len ? r->size - off : len;

				sp[ns++] = (struct span){ r->buf + off, n1, J.off };
				if (len > n1)
					sp[ns++] = (struct span){ r->buf, len - n1, J.off + n1 };
				J.off += len;
				total += len;
				done[nd].r = r;
				done[nd++].head = head;
			}
		}
		if (nd == FA__TRACE_QD / 2 || (!r && nd)) {
			if (write_spans(sp, ns))
				J.err = -EIO;
			for (int i = 0; i < nd; i++)
				atomic_store_explicit(&done[i].r->tail, done[i].head,
				                      memory_order_release);
			ns = nd = 0;
		}
		if (!r)
			break;
	}
	J.bytes += total;
	return total;
}

/* The DROP record a ring still owes, written after what was drained of
 * it: a producer that dropped and then put nothing more (it stopped
 * allocating, exited, or the journal is closing) would never write it. */
static int write_owed(struct fa__trace_ring *r)
{
	struct fa_trace_rec_drop d = { FA_TRACE_DROP, sizeof(d), r->tid, 0, 0 };

	if (!atomic_load_explicit(&r->owed, memory_order_relaxed))
		return 0;
	d.count = atomic_exchange_explicit(&r->owed, 0, memory_order_acq_rel);
	if (!d.count)
		return 0;
	d.time_ns = fa__trace_now_ns(CLOCK_MONOTONIC) - J.t0;
	J.writes++;
	if (fa__trace_write_all(&d, sizeof(d), J.off))
		J.err = -EIO;
	J.off += sizeof(d);
	J.bytes += sizeof(d);
	return 1;
}

/* Write what every ring owes; free rings of exited threads once drained. */
static void reap(void)
{
	struct fa__trace_ring *first;
	int n = 0;

	/* walking unlocked as in drain() */
	pthread_mutex_lock(&J.lock);
	first = J.rings;
	pthread_mutex_unlock(&J.lock);
	for (struct fa__trace_ring *r = first; r; r = r->next)
		n += write_owed(r);
	pthread_mutex_lock(&J.lock);
	J.records_writer += (uint64_t)n;
	for (struct fa__trace_ring **pp = &J.rings; *pp;) {
		struct fa__trace_ring *r = *pp;

		if (atomic_load_explicit(&r->dead, memory_order_acquire) &&
		    atomic_load(&r->head) == atomic_load(&r->tail)) {
			/* what it dropped just before it died */
			J.records_writer += (uint64_t)write_owed(r);
			*pp = r->next;
			J.records_dead += atomic_load(&r->records);
			J.dropped_dead += atomic_load(&r->dropped);
			fa__trace_ring_free(r);
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&J.lock);
}

void *fa__trace_writer_main(void *unused)
{
	for (;;) {
		uint64_t gen;
		bool stop;
		struct timespec ts;

		pthread_mutex_lock(&J.lock);
		if (!J.stop && J.flush_req == J.flush_done) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)J.interval_us * 1000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&J.wake, &J.lock, &ts);
		}
		gen = J.flush_req;
		stop = J.stop;
		pthread_mutex_unlock(&J.lock);

		while (drain())
			;
		reap();

		pthread_mutex_lock(&J.lock);
		if (J.flush_done < gen) {
			J.flush_done = gen;
			pthread_cond_broadcast(&J.done);
		}
		pthread_mutex_unlock(&J.lock);
		if (stop)
			return NULL;
	}
}
