// SPDX-License-Identifier: MIT
/*
 * The library's statistics as a text dump that `finalloc stats --file` reads:
 * FA_STATS_MAGIC, then "section.key value" lines, sections contiguous.
 * Written on request (fa_stats_dump, fa_stats_write) and, when
 * FINALLOC_STATS names a path, at exit of the process that first mapped
 * memory through the library.
 *
 * Everything is read through the live registries (backend counters, the
 * pool slot table, the NUMA allocator list, the journal), so destroyed
 * allocators are simply absent.  Pool numbers are copied under the registry
 * lock and formatted after it is dropped: slow I/O never holds up pool
 * creation or thread exit.  Scratch memory comes from the C library, never
 * from the pools being reported.
 */
#include "numa/numa.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pool_snap {
	char name[64]; /* sanitised: a section name without blanks or dots */
	char raw[64];  /* as given, newlines folded */
	struct fa_pool_stats st;
};

struct pool_set {
	unsigned n, cap, missed;
	struct pool_snap *snap;
};

/* Section names keep to [A-Za-z0-9_-]: the reader splits on the first dot
 * and on blanks. */
static void sanitise(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < len; i++) {
		char c = src[i];

		dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                         (c >= '0' && c <= '9') || c == '_' || c == '-'
		                 ? c
		                 : '_';
	}
	dst[i] = '\0';
	if (!i)
		snprintf(dst, len, "unnamed");
}

static void fold_newlines(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
	for (char *p = dst; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

/* Runs under the pool registry lock: copy, format nothing. */
static void pool_collect(struct fa_pool *p, void *arg)
{
	struct pool_set *set = arg;
	struct pool_snap *s;

	if (set->n == set->cap) {
		unsigned cap = set->cap ? set->cap * 2 : 16;
		struct pool_snap *grown = realloc(set->snap, cap * sizeof(*grown));

		if (!grown) {
			set->missed++;
			return;
		}
		set->snap = grown;
		set->cap = cap;
	}
	s = &set->snap[set->n];
	if (fa_pool_stats(p, &s->st))
		return;
	sanitise(s->name, sizeof(s->name), s->st.name);
	fold_newlines(s->raw, sizeof(s->raw), s->st.name);
	s->st.name = NULL; /* points into the pool, which may go after the lock */
	set->n++;
}

static void put_u64(FILE *f, const char *sec, const char *key, uint64_t v)
{
	fprintf(f, "%s.%s %llu\n", sec, key, (unsigned long long)v);
}

/* A blank value would make a malformed line. */
static void put_str(FILE *f, const char *sec, const char *key, const char *v)
{
	bool blank = true;

	for (const char *p = v; p && *p; p++)
		if (*p != ' ' && *p != '\t')
			blank = false;
	fprintf(f, "%s.%s %s\n", sec, key, blank ? "-" : v);
}

static void write_process(FILE *f, const char *reason)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	put_u64(f, "process", "pid", (uint64_t)getpid());
	put_str(f, "process", "command", program_invocation_short_name);
	put_str(f, "process", "version", fa_version());
	put_str(f, "process", "written", reason);
	put_u64(f, "process", "time_ns",
	        (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

static void write_backend(FILE *f)
{
	struct fa_backend_stats b;
	uint64_t total = 0;
	char key[64];

	if (fa_backend_stats(&b))
		return;
	for (int a = 0; a < FA_BACKEND_COUNT; a++)
		for (int s = 0; s < FA_BACKEND_COUNT; s++)
			total += b.maps[a][s];
	put_u64(f, "backend", "maps", total);
	/* only the (asked, served) pairs that happened */
	for (int a = 0; a < FA_BACKEND_COUNT; a++) {
		for (int s = 0; s < FA_BACKEND_COUNT; s++) {
			if (!b.maps[a][s])
				continue;
			snprintf(key, sizeof(key), "maps.%s.%s", fa_backend_name(a),
			         fa_backend_name(s));
			put_u64(f, "backend", key, b.maps[a][s]);
		}
	}
	for (int s = 1; s < FA_BACKEND_COUNT; s++) {
		snprintf(key, sizeof(key), "bytes_mapped.%s", fa_backend_name(s));
		put_u64(f, "backend", key, b.bytes_mapped[s]);
	}
	put_u64(f, "backend", "downgrades", b.downgrades);
	put_u64(f, "backend", "page_downgrades", b.page_downgrades);
	put_u64(f, "backend", "failures", b.failures);
	put_u64(f, "backend", "unmaps", b.unmaps);
	put_u64(f, "backend", "locked_bytes", b.locked_bytes);
	put_u64(f, "backend", "lock_failures", b.lock_failures);
	for (int s = 1; s < FA_BACKEND_COUNT; s++) {
		snprintf(key, sizeof(key), "available.%s", fa_backend_name(s));
		put_u64(f, "backend", key, (uint64_t)b.available[s]);
	}
}

static void write_trace(FILE *f)
{
	struct fa_trace_stats t;

	if (fa_trace_stats(&t))
		return;
	put_u64(f, "trace", "open", (uint64_t)t.open);
	put_u64(f, "trace", "records", t.records);
	put_u64(f, "trace", "dropped", t.dropped);
	put_u64(f, "trace", "bytes", t.bytes);
	put_u64(f, "trace", "writes", t.writes);
	put_u64(f, "trace", "uring", (uint64_t)t.uring);
}

static void write_arena(FILE *f)
{
	struct fa__arena_totals t;

	fa__arena_totals(&t);
	put_u64(f, "arena", "created", t.created);
	put_u64(f, "arena", "live", t.created - t.destroyed);
	put_u64(f, "arena", "chunks_mapped", t.chunks_mapped);
	put_u64(f, "arena", "chunks_reused", t.chunks_reused);
	put_u64(f, "arena", "chunks_released", t.chunks_released);
	put_u64(f, "arena", "chunks_held", t.chunks_mapped + t.chunks_reused - t.chunks_released);
	put_u64(f, "arena", "chunk_bytes_held", t.chunk_bytes);
}

static bool name_taken(const struct pool_set *set, unsigned i)
{
	for (unsigned j = 0; j < set->n; j++)
		if (j != i && !strcmp(set->snap[j].name, set->snap[i].name))
			return true;
	return false;
}

static void write_pool(FILE *f, const struct pool_set *set, unsigned i)
{
	const struct pool_snap *s = &set->snap[i];
	const struct fa_pool_stats *st = &s->st;
	char sec[96];

	/* "pool:NAME", with the listing index where names repeat */
	if (name_taken(set, i))
		snprintf(sec, sizeof(sec), "pool:%s-%u", s->name, i);
	else
		snprintf(sec, sizeof(sec), "pool:%s", s->name);
	put_str(f, sec, "name", s->raw);
	put_u64(f, sec, "flags", st->flags);
	put_u64(f, sec, "classes", st->nr_classes);
	put_u64(f, sec, "allocs", st->allocs);
	put_u64(f, sec, "frees", st->frees);
	put_u64(f, sec, "live", st->live);
	put_u64(f, sec, "bytes_requested", st->bytes_requested);
	put_u64(f, sec, "bytes_served", st->bytes_served);
	put_u64(f, sec, "bytes_live", st->bytes_live);
	put_u64(f, sec, "bytes_reserved", st->bytes_reserved);
	put_u64(f, sec, "bytes_slabs", st->bytes_slabs);
	put_u64(f, sec, "large_allocs", st->large_allocs);
	put_u64(f, sec, "large_frees", st->large_frees);
	put_u64(f, sec, "large_live", st->large_live);
	put_u64(f, sec, "large_bytes", st->large_bytes);
	put_u64(f, sec, "large_cache_hits", st->large_cache_hits);
	put_u64(f, sec, "large_cache_misses", st->large_cache_misses);
	put_u64(f, sec, "large_cache_maps", st->large_cache_maps);
	put_u64(f, sec, "large_cache_bytes", st->large_cache_bytes);
	put_u64(f, sec, "quarantined", st->quarantined);
	put_u64(f, sec, "quarantine_bytes", st->quarantine_bytes);
	put_u64(f, sec, "reports", st->reports);
	put_u64(f, sec, "threads", st->threads);
	put_u64(f, sec, "slabs_free", st->slabs_free);
	put_u64(f, sec, "trimmed_slabs", st->trimmed_slabs);
	put_u64(f, sec, "trimmed_bytes", st->trimmed_bytes);
	put_u64(f, sec, "inline_bins", st->inline_bins);
	/* one line per class that was ever used */
	for (unsigned c = 0; c < st->nr_classes && c < FA_POOL_MAX_CLASSES; c++) {
		const struct fa_pool_class_stats *k = &st->cls[c];

		if (!k->allocs && !k->carved)
			continue;
		fprintf(f,
		        "%s.class.%u allocs %llu frees %llu live %llu hwm %llu cached %llu "
		        "shared %llu slabs %llu\n",
		        sec, k->size, (unsigned long long)k->allocs, (unsigned long long)k->frees,
		        (unsigned long long)k->live, (unsigned long long)k->hwm,
		        (unsigned long long)k->cached, (unsigned long long)k->shared,
		        (unsigned long long)k->slabs);
	}
}

static int write_pools(FILE *f)
{
	struct pool_set set = { 0 };
	uint64_t allocs = 0, frees = 0, live = 0, reserved = 0;

	fa__pool_foreach(pool_collect, &set);
	if (set.missed && !set.n)
		return -ENOMEM;
	for (unsigned i = 0; i < set.n; i++) {
		allocs += set.snap[i].st.allocs;
		frees += set.snap[i].st.frees;
		live += set.snap[i].st.live;
		reserved += set.snap[i].st.bytes_reserved;
	}
	put_u64(f, "pools", "live", set.n);
	put_u64(f, "pools", "allocs", allocs);
	put_u64(f, "pools", "frees", frees);
	put_u64(f, "pools", "live_objects", live);
	put_u64(f, "pools", "bytes_reserved", reserved);
	if (set.missed) /* out of memory for their numbers */
		put_u64(f, "pools", "not_listed", set.missed);
	for (unsigned i = 0; i < set.n; i++)
		write_pool(f, &set, i);
	free(set.snap);
	return 0;
}

static int write_numa(FILE *f)
{
	struct fa_numa_profile *p = malloc(sizeof(*p));
	uint64_t ra = 0, rf = 0, spills = 0;

	if (!p)
		return -ENOMEM;
	if (fa_numa_profile(NULL, p)) {
		free(p);
		return 0; /* no topology: nothing to say */
	}
	for (int i = 0; i < p->nr_nodes; i++) {
		ra += p->node[i].lib.remote_allocs;
		rf += p->node[i].lib.remote_frees;
		spills += p->node[i].lib.spills_out;
	}
	put_u64(f, "numa", "allocators", (uint64_t)p->nr_allocators);
	put_u64(f, "numa", "nodes", (uint64_t)p->nr_nodes);
	put_u64(f, "numa", "threads", (uint64_t)p->nr_threads);
	put_u64(f, "numa", "remote_allocs", ra);
	put_u64(f, "numa", "remote_frees", rf);
	put_u64(f, "numa", "spills", spills);
	/* per node only where an allocator could have used it */
	for (int i = 0; p->nr_allocators && i < p->nr_nodes; i++) {
		const struct fa_numa_node_stats *n = &p->node[i].lib;
		char sec[32];

		snprintf(sec, sizeof(sec), "numa:node%d", p->node[i].node);
		put_u64(f, sec, "mem_node", (uint64_t)n->mem_node);
		put_u64(f, sec, "allocs", n->allocs);
		put_u64(f, sec, "frees", n->frees);
		put_u64(f, sec, "live_objects", n->live_objects);
		put_u64(f, sec, "in_use", n->in_use);
		put_u64(f, sec, "fragmented", n->fragmented);
		put_u64(f, sec, "idle", n->idle);
		put_u64(f, sec, "mapped", n->mapped);
		put_u64(f, sec, "remote_allocs", n->remote_allocs);
		put_u64(f, sec, "remote_frees", n->remote_frees);
		put_u64(f, sec, "spills_out", n->spills_out);
		put_u64(f, sec, "spills_in", n->spills_in);
		put_u64(f, sec, "exhausted", n->exhausted);
		put_u64(f, sec, "misplaced", n->misplaced);
	}
	free(p);
	return 0;
}

static int write_all(FILE *f, const char *reason)
{
	int err;

	fprintf(f, FA_STATS_MAGIC
	        "\n# libfinalloc statistics; read with: finalloc stats --file PATH\n");
	write_process(f, reason);
	write_backend(f);
	write_trace(f);
	write_arena(f);
	err = write_pools(f);
	if (!err)
		err = write_numa(f);
	if (err)
		return err;
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}

int fa_stats_write(FILE *f)
{
	if (!f)
		return -EINVAL;
	return write_all(f, "request");
}

static int write_fd(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Format in memory, then write a fresh temporary file beside path (mkstemp:
 * unique per call, never a planted link) and rename it over path: a reader
 * sees the old file or the whole new one, never half of it. */
/* umask(2) can only be read by setting it, racing other threads' creates;
 * /proc/self/status says it without changing it. */
static mode_t current_umask(void)
{
	char line[128];
	unsigned m = 022;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 022;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1)
			break;
	fclose(f);
	return (mode_t)m;
}

static int dump_to(const char *path, const char *reason)
{
	char tmp[PATH_MAX], *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int fd, err;

	if (!path || !*path)
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	mem = open_memstream(&buf, &len);
	if (!mem)
		return -ENOMEM;
	err = write_all(mem, reason);
	if (fclose(mem) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		return err;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	/* mkstemp makes it 0600; a dump is as readable as any other file */
	if (fchmod(fd, 0644 & ~current_umask()))
		err = -errno;
	else
		err = write_fd(fd, buf, len);
	free(buf);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int fa_stats_dump(const char *path)
{
	return dump_to(path ? path : getenv("FINALLOC_STATS"), "request");
}

/* ---- at exit ---- */

static pthread_once_t dump_once = PTHREAD_ONCE_INIT;
static char exit_path[PATH_MAX];
static pid_t exit_pid;

static void dump_at_exit(void)
{
	int err;

	/* a forked child that exits must not replace its parent's dump */
	if (getpid() != exit_pid)
		return;
	err = dump_to(exit_path, "exit");
	if (err)
		fprintf(stderr, "finalloc: FINALLOC_STATS: cannot write %s: %s\n", exit_path,
		        strerror(-err));
}

static void dump_init(void)
{
	const char *path = getenv("FINALLOC_STATS");

	if (!path || !*path)
		return;
	if (strlen(path) >= sizeof(exit_path) - 16) {
		fprintf(stderr, "finalloc: FINALLOC_STATS: path too long, no statistics at exit\n");
		return;
	}
	strcpy(exit_path, path);
	exit_pid = getpid();
	if (atexit(dump_at_exit))
		fprintf(stderr, "finalloc: FINALLOC_STATS: atexit failed, no statistics at exit\n");
}

static void dump_once_init(void)
{
	pthread_once(&dump_once, dump_init);
}

/*
 * FINALLOC_STATS is read when the process first asks the backend for memory
 * (it may set it after start): the backend calls back up through a hook the
 * dump installs here, so the backend layer knows nothing of the dump.
 */
__attribute__((constructor)) static void dump_register(void)
{
	fa__map_set_hook(dump_once_init);
}
