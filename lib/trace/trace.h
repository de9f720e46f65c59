/* SPDX-License-Identifier: MIT */
/*
 * lib/trace: the allocation journal.  Arenas, and pools and NUMA
 * allocators for their large blocks, record into it; it writes
 * records to a file from its own thread and reads journals back.  It calls
 * nothing of the allocators.
 * Sections are grouped by the file that defines them; calls point down
 * only: journal.c -> writer.c -> record.c, and reader.c stands alone.
 */
#ifndef FA_TRACE_H
#define FA_TRACE_H

#include "finalloc.h"
#include "util/util.h"

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define FA__TRACE_QD          64         /* io_uring depth; spans per drain pass */
#define FA__TRACE_SITE_CACHE  256        /* per-ring site id cache */
#define FA__TRACE_MAX_SITE_ID (1u << 24) /* the reader refuses larger ids */

/* The on-disk structs of finalloc/trace.h are what record.c and journal.c
 * write and what reader.c reads at these offsets. */
_Static_assert(sizeof(struct fa_trace_file_header) == 64 &&
                       offsetof(struct fa_trace_file_header, version) == 8 &&
                       offsetof(struct fa_trace_file_header, header_size) == 12 &&
                       offsetof(struct fa_trace_file_header, start_ns) == 16 &&
                       offsetof(struct fa_trace_file_header, start_real) == 24 &&
                       offsetof(struct fa_trace_file_header, pid) == 32 &&
                       offsetof(struct fa_trace_file_header, flags) == 36 &&
                       sizeof(FA_TRACE_MAGIC) - 1 == 8,
               "journal header layout");
_Static_assert(sizeof(struct fa_trace_rec) == 4 && offsetof(struct fa_trace_rec, len) == 2,
               "record head layout");
_Static_assert(sizeof(struct fa_trace_rec_site) == 24 &&
                       offsetof(struct fa_trace_rec_site, site) == 4 &&
                       offsetof(struct fa_trace_rec_site, line) == 8 &&
                       offsetof(struct fa_trace_rec_site, tid) == 12 &&
                       offsetof(struct fa_trace_rec_site, file_len) == 16 &&
                       offsetof(struct fa_trace_rec_site, func_len) == 18,
               "SITE record layout");
_Static_assert(sizeof(struct fa_trace_rec_alloc) == 48 &&
                       offsetof(struct fa_trace_rec_alloc, site) == 4 &&
                       offsetof(struct fa_trace_rec_alloc, time_ns) == 8 &&
                       offsetof(struct fa_trace_rec_alloc, arena) == 16 &&
                       offsetof(struct fa_trace_rec_alloc, addr) == 24 &&
                       offsetof(struct fa_trace_rec_alloc, size) == 32 &&
                       offsetof(struct fa_trace_rec_alloc, align) == 40 &&
                       offsetof(struct fa_trace_rec_alloc, tid) == 44,
               "ALLOC record layout");
_Static_assert(sizeof(struct fa_trace_rec_arena) == 32 &&
                       offsetof(struct fa_trace_rec_arena, event) == 4 &&
                       offsetof(struct fa_trace_rec_arena, time_ns) == 8 &&
                       offsetof(struct fa_trace_rec_arena, arena) == 16 &&
                       offsetof(struct fa_trace_rec_arena, tid) == 24,
               "ARENA record layout");
_Static_assert(sizeof(struct fa_trace_rec_free) == 40 &&
                       offsetof(struct fa_trace_rec_free, tid) == 4 &&
                       offsetof(struct fa_trace_rec_free, time_ns) == 8 &&
                       offsetof(struct fa_trace_rec_free, arena) == 16 &&
                       offsetof(struct fa_trace_rec_free, addr) == 24 &&
                       offsetof(struct fa_trace_rec_free, size) == 32,
               "FREE record layout");
_Static_assert(sizeof(struct fa_trace_rec_drop) == 24 &&
                       offsetof(struct fa_trace_rec_drop, tid) == 4 &&
                       offsetof(struct fa_trace_rec_drop, time_ns) == 8 &&
                       offsetof(struct fa_trace_rec_drop, count) == 16,
               "DROP record layout");
_Static_assert(sizeof(struct fa_trace_rec_end) == 32 &&
                       offsetof(struct fa_trace_rec_end, records) == 8 &&
                       offsetof(struct fa_trace_rec_end, dropped) == 16 &&
                       offsetof(struct fa_trace_rec_end, time_ns) == 24,
               "END record layout");

static inline uint64_t fa__trace_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- record.c: producer side, and the journal state ---- */

/* One tracing thread's single-producer ring. */
struct fa__trace_ring {
	_Atomic uint64_t head FA__ALIGNED_CL; /* producer */
	_Atomic uint64_t records;             /* producer: records put */
	_Atomic uint64_t dropped;             /* producer: records dropped */
	struct {
		const char *file, *func;
		int line;
		uint32_t id;
	} sites[FA__TRACE_SITE_CACHE];
	_Atomic uint64_t tail FA__ALIGNED_CL; /* writer */
	/* Drops no DROP record covers yet: added to by the producer as it
	 * drops, taken whole (exchange) by whoever writes the DROP record,
	 * the producer before its next record or the writer after a drain,
	 * so each drop is in exactly one.  Next to tail: the producer reads
	 * that line on every put anyway. */
	_Atomic uint64_t owed;
	atomic_bool dead;
	struct fa__trace_ring *next; /* registry, under J.lock */
	char *buf;
	size_t size;
	uint32_t tid;
};

/* The process journal, written by journal.c under lock (open, close),
 * read by the producer and the writer. */
struct fa__trace_journal {
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	int fd;
	bool stop, uring;
	struct fa__trace_ring *rings;
	pthread_t writer;
	struct io_uring ur;
	uint64_t off;
	uint64_t flush_req, flush_done;
	size_t ring_size;
	unsigned flags, interval_us;
	uint64_t t0, t0_real;
	int err;
	uint64_t bytes, writes, records_dead, dropped_dead;
	uint64_t records_writer; /* DROP records the writer wrote */
};

/* Hidden: reached PC-relative from the producer, as when they were static. */
extern struct fa__trace_journal fa__trace_j __attribute__((visibility("hidden")));
#define J fa__trace_j
/* Odd while a journal is open; a thread's ring belongs to one generation. */
extern _Atomic uint64_t fa__trace_gen __attribute__((visibility("hidden")));

void fa__trace_alloc(uint64_t arena, const void *p, size_t size, size_t align, const char *file,
                     int line, const char *func);
void fa__trace_arena(uint64_t arena, int event);
/* A journaled large block freed. */
void fa__trace_free(uint64_t source, const void *p, size_t size);
/* A new source id of kind FA_TRACE_SRC_* (see finalloc/trace.h). */
uint64_t fa__trace_source_id(unsigned kind);
/* Unmap a ring (the writer and close, once it is drained or dead). */
void fa__trace_ring_free(struct fa__trace_ring *r);
/* Forget the calling thread's ring (the forked child's only thread). */
void fa__trace_record_postfork(void);

/* ---- writer.c: the writer thread ---- */

/* pwrite all of buf at off.  -EIO on failure. */
int fa__trace_write_all(const void *buf, size_t len, uint64_t off);
/* The writer thread: drains every ring each interval_us or on a flush
 * request, reaps the rings of exited threads, returns after J.stop. */
void *fa__trace_writer_main(void *unused);

/* ---- journal.c: lifecycle ---- */

/* Open the journal at path (an arena's trace_path) if none is open: 0,
 * or fa_trace_open's error.  With path NULL, FINALLOC_TRACE's journal:
 * 0 when open, 1 when it cannot be (said once on stderr) or was closed
 * (the arena goes on untraced), -EINVAL when the variable is unset. */
int fa__trace_ensure(const char *path);
/* FINALLOC_TRACE set: every arena traces (thresholds from the env), if
 * fa__trace_ensure opens its journal. */
bool fa__trace_env(size_t *min_size, unsigned *sample);

/* Does a pool or NUMA allocator journal its large blocks: asked (its TRACE
 * flag: all of them) or, with env, under FINALLOC_TRACE (its threshold in
 * *min)?  1 (a journal is open), 0 (no, or FINALLOC_TRACE's journal could
 * not be opened: said), -EINVAL (asked with no journal). */
int fa__trace_want(bool asked, bool env, size_t *min);

/* fork(2), from lib/fork.c: the child stops journaling (the writer thread
 * did not survive) and reinitialises the journal's lock.  No prefork: the
 * lock is held around file writes, and fork must not wait for I/O. */
void fa__trace_postfork_child(void);

/* ---- reader.c: fa_trace_reader_*, fa_trace_next ---- */

#endif /* FA_TRACE_H */
