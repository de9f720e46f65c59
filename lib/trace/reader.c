// SPDX-License-Identifier: MIT
/*
 * Allocation journal (format: include/finalloc.h, "allocation journal").
 *
 * Each tracing thread owns a single-producer ring: it copies a record in
 * and publishes it with one release store of head; nothing shared is
 * written on that path.  One writer thread wakes every interval_us (or on
 * fa_trace_flush), writes [tail, head) of every ring straight from ring
 * memory with io_uring at increasing file offsets, and advances tail after
 * the completions, which is when the producer may reuse those bytes.
 *
 * Contract: fa_trace_close() must not run while other threads still
 * trace (at exit the rings are left alone, only flushed).
 */
#include "trace/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEF_RING    ((size_t)256 << 10)
#define SITE_CACHE  256
#define QD          64
#define HDR_SIZE    64
#define MAX_SITE_ID (1u << 24)
#define MAX_NAME    1024

static const char magic[8] = { 'F', 'A', 'J', 'R', 'N', 'L', 0, 1 };

struct ring {
	_Atomic uint64_t head FA__ALIGNED_CL; /* producer */
	uint64_t drop_pending;                /* producer: DROP record owed */
	_Atomic uint64_t records;             /* producer: records put */
	_Atomic uint64_t dropped;
	struct {
		const char *file, *func;
		int line;
		uint32_t id;
	} sites[SITE_CACHE];
	_Atomic uint64_t tail FA__ALIGNED_CL; /* writer */
	atomic_bool dead;
	struct ring *next; /* registry, under J.lock */
	char *buf;
	size_t size;
	uint32_t tid;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	int fd;
	bool stop, uring;
	struct ring *rings;
	pthread_t writer;
	struct io_uring ur;
	uint64_t off;
	uint64_t flush_req, flush_done;
	size_t ring_size;
	unsigned flags, interval_us;
	uint64_t t0, t0_real;
	int err;
	uint64_t bytes, writes, records_dead, dropped_dead;
} J = { .lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
	.fd = -1 };

static _Atomic uint64_t j_gen; /* odd while a journal is open */
static _Atomic uint32_t next_site = 1;
static _Thread_local struct ring *my_ring;
static _Thread_local uint64_t my_gen;
static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static bool atexit_done;

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- producer side ---- */

static void ring_exit(void *p)
{
	/* the journal this ring belonged to may be gone already */
	if (my_ring && my_gen == atomic_load(&j_gen))
		atomic_store_explicit(&my_ring->dead, true, memory_order_release);
	my_ring = NULL;
}

static void ring_key_init(void)
{
	pthread_key_create(&ring_key, ring_exit);
}

static struct ring *get_ring(void)
{
	uint64_t gen = atomic_load_explicit(&j_gen, memory_order_acquire);
	struct ring *r;

	if (fa__likely(my_ring && my_gen == gen))
		return my_ring;
	if (!(gen & 1))
		return NULL;
	pthread_once(&ring_once, ring_key_init);
	r = aligned_alloc(FA__CACHE_LINE, sizeof(*r));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&J.lock);
	if (atomic_load(&j_gen) != gen) { /* closed meanwhile */
		pthread_mutex_unlock(&J.lock);
		free(r);
		return NULL;
	}
	r->size = J.ring_size;
	r->buf = malloc(r->size);
	if (!r->buf) {
		pthread_mutex_unlock(&J.lock);
		free(r);
		return NULL;
	}
	r->tid = (uint32_t)gettid();
	r->next = J.rings;
	J.rings = r;
	pthread_mutex_unlock(&J.lock);
	my_ring = r;
	my_gen = gen;
	pthread_setspecific(ring_key, r);
	return r;
}

static bool ring_put(struct ring *r, const void *rec, size_t len)
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

struct drop_rec {
	uint16_t type, len;
	uint32_t tid;
	uint64_t time, count;
};

struct alloc_rec {
	uint16_t type, len;
	uint32_t site;
	uint64_t time, arena, addr, size;
	uint32_t align, tid;
};

struct arena_rec {
	uint16_t type, len, event, pad;
	uint64_t time, arena;
	uint32_t tid, pad2;
};

struct end_rec {
	uint16_t type, len;
	uint32_t pad;
	uint64_t records, dropped, time;
};

_Static_assert(sizeof(struct drop_rec) == 24 && sizeof(struct alloc_rec) == 48 &&
                       sizeof(struct arena_rec) == 32 && sizeof(struct end_rec) == 32,
               "record sizes are the documented format");

/* A DROP record owed goes first, so a reader sees the gap where it was. */
static bool try_put(struct ring *r, const void *rec, size_t len)
{
	if (r->drop_pending) {
		struct drop_rec d = { FA_TRACE_DROP, sizeof(d), r->tid,
			              now_ns(CLOCK_MONOTONIC) - J.t0, r->drop_pending };

		if (!ring_put(r, &d, sizeof(d)))
			return false;
		r->drop_pending = 0;
	}
	return ring_put(r, rec, len);
}

static void put_rec(struct ring *r, const void *rec, size_t len)
{
	if (try_put(r, rec, len))
		return;
	if (J.flags & FA_TRACE_BLOCK) {
		/* back-pressure: wait for the writer to free room */
		do {
			kick_writer();
			sched_yield();
		} while (!try_put(r, rec, len));
		return;
	}
	r->drop_pending++;
	atomic_store_explicit(&r->dropped,
	                      atomic_load_explicit(&r->dropped, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* Site id for (file, line, func), emitting a SITE record on a miss. */
static uint32_t site_id(struct ring *r, const char *file, int line, const char *func)
{
	unsigned h = (unsigned)(((uintptr_t)file >> 3) ^ (uintptr_t)line * 31u) % SITE_CACHE;
	char rec[24 + 2 * MAX_NAME + 8];
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
	put_rec(r, rec, len);
	if (r->drop_pending)
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
	struct ring *r = get_ring();
	struct alloc_rec rec;
	uint32_t site;

	if (!r)
		return;
	site = site_id(r, file, line, func);
	if (!site) {
		r->drop_pending++;
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return;
	}
	rec = (struct alloc_rec){ FA_TRACE_ALLOC, sizeof(rec),
		                  site,           now_ns(CLOCK_MONOTONIC) - J.t0,
		                  arena,          (uintptr_t)p,
		                  size,           (uint32_t)align,
		                  r->tid };
	put_rec(r, &rec, sizeof(rec));
}

void fa__trace_arena(uint64_t arena, int event)
{
	struct ring *r = get_ring();
	struct arena_rec rec;

	if (!r)
		return;
	rec = (struct arena_rec){ FA_TRACE_ARENA,
		                  sizeof(rec),
		                  (uint16_t)event,
		                  0,
		                  now_ns(CLOCK_MONOTONIC) - J.t0,
		                  arena,
		                  r->tid,
		                  0 };
	put_rec(r, &rec, sizeof(rec));
}

/* ---- writer ---- */

static int write_all(const void *buf, size_t len, uint64_t off)
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

			if (!sqe) { /* cannot happen: n <= QD */
				err = write_all(s[i].p, s[i].len, s[i].off);
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
				          : write_all(s[i].p + res, s[i].len - (size_t)res,
				                      s[i].off + (uint64_t)res);
		}
		return err;
	}
	for (int i = 0; i < n; i++)
		if (write_all(s[i].p, s[i].len, s[i].off))
			err = -EIO;
	return err;
}

/* One pass over every ring; returns bytes written. */
static uint64_t drain(void)
{
	struct span sp[QD];
	struct {
		struct ring *r;
		uint64_t head;
	} done[QD / 2];
	uint64_t total = 0;
	struct ring *r;
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
		if (nd == QD / 2 || (!r && nd)) {
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

/* Free rings of exited threads once drained. */
static void reap(void)
{
	pthread_mutex_lock(&J.lock);
	for (struct ring **pp = &J.rings; *pp;) {
		struct ring *r = *pp;

		if (atomic_load_explicit(&r->dead, memory_order_acquire) &&
		    atomic_load(&r->head) == atomic_load(&r->tail)) {
			*pp = r->next;
			J.records_dead += atomic_load(&r->records);
			J.dropped_dead += atomic_load(&r->dropped);
			free(r->buf);
			free(r);
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&J.lock);
}

static void *writer_main(void *unused)
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

/* ---- lifecycle ---- */

void fa__trace_postfork_child(void)
{
	/* the writer thread did not survive the fork: the child stops
	 * journaling (its rings are shared copies it must not write) */
	if (atomic_load(&j_gen) & 1) {
		atomic_fetch_add(&j_gen, 1);
		if (J.fd >= 0)
			close(J.fd);
		J.fd = -1;
		J.rings = NULL;
	}
	pthread_mutex_init(&J.lock, NULL);
	pthread_cond_init(&J.wake, NULL);
	pthread_cond_init(&J.done, NULL);
	my_ring = NULL;
}

static int close_journal(bool free_rings);

static void at_exit(void)
{
	if (atomic_load(&j_gen) & 1)
		close_journal(false);
}

int fa_trace_open(const char *path, const struct fa_trace_opts *opts)
{
	unsigned char hdr[HDR_SIZE] = { 0 };
	size_t rs = opts && opts->buffer_size ? opts->buffer_size : DEF_RING;
	uint32_t v32;
	int fd, err;

	if (!path || (opts && (opts->flags & ~FA_TRACE_BLOCK)) || rs < 4096 ||
	    rs > ((size_t)1 << 30) || (rs & (rs - 1)))
		return -EINVAL;
	pthread_mutex_lock(&J.lock);
	if (atomic_load(&j_gen) & 1) {
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
	J.t0 = now_ns(CLOCK_MONOTONIC);
	J.t0_real = now_ns(CLOCK_REALTIME);
	J.stop = false;
	J.err = 0;
	J.off = HDR_SIZE;
	J.bytes = HDR_SIZE;
	J.writes = 1;
	J.records_dead = J.dropped_dead = 0;
	J.flush_req = J.flush_done = 0;
	J.uring = io_uring_queue_init(QD, &J.ur, 0) == 0;

	memcpy(hdr, magic, 8);
	v32 = FA_TRACE_VERSION;
	memcpy(hdr + 8, &v32, 4);
	v32 = HDR_SIZE;
	memcpy(hdr + 12, &v32, 4);
	memcpy(hdr + 16, &J.t0, 8);
	memcpy(hdr + 24, &J.t0_real, 8);
	v32 = (uint32_t)getpid();
	memcpy(hdr + 32, &v32, 4);
	err = write_all(hdr, HDR_SIZE, 0);
	if (!err)
		err = -pthread_create(&J.writer, NULL, writer_main, NULL);
	if (err) {
		if (J.uring)
			io_uring_queue_exit(&J.ur);
		close(fd);
		J.fd = -1;
		pthread_mutex_unlock(&J.lock);
		return err == -EIO ? -EIO : -EAGAIN;
	}
	atomic_fetch_add(&j_gen, 1); /* odd: open */
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
	if (!(atomic_load(&j_gen) & 1)) {
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
	*records = J.records_dead;
	*dropped = J.dropped_dead;
	for (struct ring *r = J.rings; r; r = r->next) {
		*records += atomic_load_explicit(&r->records, memory_order_relaxed);
		*dropped += atomic_load_explicit(&r->dropped, memory_order_relaxed);
	}
}

static int close_journal(bool free_rings)
{
	struct end_rec end = { FA_TRACE_END, sizeof(end), 0, 0, 0, 0 };
	int err = fa_trace_flush();

	pthread_mutex_lock(&J.lock);
	J.stop = true;
	pthread_cond_signal(&J.wake);
	pthread_mutex_unlock(&J.lock);
	pthread_join(J.writer, NULL);

	pthread_mutex_lock(&J.lock);
	totals(&end.records, &end.dropped);
	end.time = now_ns(CLOCK_MONOTONIC) - J.t0;
	if (write_all(&end, sizeof(end), J.off))
		err = -EIO;
	J.off += sizeof(end);
	J.bytes += sizeof(end);
	if (J.uring)
		io_uring_queue_exit(&J.ur);
	if (close(J.fd) && !err)
		err = -EIO;
	J.fd = -1;
	atomic_fetch_add(&j_gen, 1); /* even: closed */
	if (free_rings) {
		while (J.rings) {
			struct ring *r = J.rings;

			J.rings = r->next;
			free(r->buf);
			free(r);
		}
	}
	J.rings = NULL;
	pthread_mutex_unlock(&J.lock);
	return err;
}

int fa_trace_close(void)
{
	if (!(atomic_load(&j_gen) & 1))
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
	st->open = atomic_load(&j_gen) & 1;
	pthread_mutex_unlock(&J.lock);
	return 0;
}

bool fa__trace_env(size_t *min_size, unsigned *sample)
{
	const char *p = getenv("FINALLOC_TRACE");
	const char *m = getenv("FINALLOC_TRACE_MIN");
	const char *s = getenv("FINALLOC_TRACE_SAMPLE");

	if (!p || !*p)
		return false;
	*min_size = m ? strtoull(m, NULL, 0) : 0;
	*sample = s ? (unsigned)strtoul(s, NULL, 0) : 0;
	return true;
}

int fa__trace_ensure(const char *path)
{
	int err;

	if (atomic_load(&j_gen) & 1)
		return 0;
	if (!path || !*path)
		path = getenv("FINALLOC_TRACE");
	if (!path || !*path)
		return -EINVAL;
	err = fa_trace_open(path, NULL);
	return err == -EBUSY ? 0 : err;
}

/* ---- reader ---- */

struct site {
	char *file, *func;
	int line;
};

struct fa_trace_reader {
	unsigned char *buf;
	size_t len, pos;
	struct fa_trace_header hdr;
	struct site *sites;
	uint32_t nr_sites;
};

struct fa_trace_reader *fa_trace_reader_open(const char *path)
{
	struct fa_trace_reader *r;
	size_t cap = 1 << 16;
	uint32_t hsize;
	int fd, err;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	for (;;) {
		unsigned char *nb;
		ssize_t n;

		if (r->len == cap || !r->buf) {
			cap = r->buf ? cap * 2 : cap;
			nb = realloc(r->buf, cap);
			if (!nb)
				goto nomem;
			r->buf = nb;
		}
		n = read(fd, r->buf + r->len, cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			goto fail;
		}
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	close(fd);
	fd = -1;
	err = EBADMSG;
	if (r->len < HDR_SIZE || memcmp(r->buf, magic, 8))
		goto fail;
	memcpy(&r->hdr.version, r->buf + 8, 4);
	memcpy(&hsize, r->buf + 12, 4);
	memcpy(&r->hdr.start_ns, r->buf + 16, 8);
	memcpy(&r->hdr.start_real, r->buf + 24, 8);
	memcpy(&r->hdr.pid, r->buf + 32, 4);
	if (r->hdr.version > FA_TRACE_VERSION) {
		err = EPROTONOSUPPORT;
		goto fail;
	}
	if (hsize < HDR_SIZE || hsize > r->len)
		goto fail;
	r->pos = hsize;
	return r;
nomem:
	err = ENOMEM;
fail:
	if (fd >= 0)
		close(fd);
	fa_trace_reader_close(r);
	errno = err;
	return NULL;
}

int fa_trace_reader_header(struct fa_trace_reader *r, struct fa_trace_header *h)
{
	if (!r || !h)
		return -EINVAL;
	*h = r->hdr;
	return 0;
}

static uint16_t rd16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static int add_site(struct fa_trace_reader *r, const unsigned char *p, uint16_t len)
{
	uint32_t id = rd32(p + 4);
	uint16_t fl = rd16(p + 16), gl = rd16(p + 18);
	struct site *s;

	if (24u + fl + gl > len || id == 0 || id >= MAX_SITE_ID)
		return -EBADMSG;
	if (id >= r->nr_sites) {
		uint32_t n = r->nr_sites ? r->nr_sites : 64;
		struct site *ns;

		while (n <= id)
			n *= 2;
		ns = realloc(r->sites, n * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		memset(ns + r->nr_sites, 0, (n - r->nr_sites) * sizeof(*ns));
		r->sites = ns;
		r->nr_sites = n;
	}
	s = &r->sites[id];
	free(s->file);
	free(s->func);
	s->file = strndup((const char *)p + 24, fl);
	s->func = strndup((const char *)p + 24 + fl, gl);
	s->line = (int)rd32(p + 8);
	return s->file && s->func ? 0 : -ENOMEM;
}

int fa_trace_next(struct fa_trace_reader *r, struct fa_trace_event *ev)
{
	if (!r || !ev)
		return -EINVAL;
	for (;;) {
		const unsigned char *p = r->buf + r->pos;
		uint16_t type, len;
		int err;

		if (r->pos == r->len)
			return 0;
		if (r->len - r->pos < 4)
			return -EBADMSG;
		type = rd16(p);
		len = rd16(p + 2);
		if (len < 8 || len % 8 || len > r->len - r->pos)
			return -EBADMSG;
		r->pos += len;
		memset(ev, 0, sizeof(*ev));
		ev->type = type;
		switch (type) {
		case FA_TRACE_SITE:
			if (len < 24)
				return -EBADMSG;
			err = add_site(r, p, len);
			if (err)
				return err;
			continue;
		case FA_TRACE_ALLOC: {
			uint32_t id = rd32(p + 4);

			if (len < 48)
				return -EBADMSG;
			ev->time_ns = rd64(p + 8);
			ev->arena = rd64(p + 16);
			ev->addr = rd64(p + 24);
			ev->size = rd64(p + 32);
			ev->align = rd32(p + 40);
			ev->tid = rd32(p + 44);
			if (id < r->nr_sites && r->sites[id].file) {
				ev->file = r->sites[id].file;
				ev->func = r->sites[id].func;
				ev->line = r->sites[id].line;
			}
			return 1;
		}
		case FA_TRACE_ARENA:
			if (len < 32)
				return -EBADMSG;
			ev->event = rd16(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->arena = rd64(p + 16);
			ev->tid = rd32(p + 24);
			return 1;
		case FA_TRACE_DROP:
			if (len < 24)
				return -EBADMSG;
			ev->tid = rd32(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->count = rd64(p + 16);
			return 1;
		case FA_TRACE_END:
			if (len < 32)
				return -EBADMSG;
			ev->count = rd64(p + 8);
			ev->dropped = rd64(p + 16);
			ev->time_ns = rd64(p + 24);
			return 1;
		default:
			continue; /* newer record type: skip by len */
		}
	}
}

void fa_trace_reader_close(struct fa_trace_reader *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nr_sites; i++) {
		free(r->sites[i].file);
		free(r->sites[i].func);
	}
	free(r->sites);
	free(r->buf);
	free(r);
}
