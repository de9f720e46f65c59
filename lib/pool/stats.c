// SPDX-License-Identifier: MIT
/*
 * Pool metrics.  The inline path only touches the calling thread's own
 * cache (stack pointer, frees, bytes requested); everything else is derived
 * here on read, so counting costs no shared-line write:
 *   objects into a bin = frees + taken, out of it = allocs + given, and
 *   objects in it = n (from the stack pointer), so
 *   allocs = frees + taken - given - n.
 */
#include "pool/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fa_pool_stats(struct fa_pool *p, struct fa_pool_stats *st)
{
	uint64_t frees[FA_POOL_MAX_CLASSES] = { 0 }, taken[FA_POOL_MAX_CLASSES] = { 0 };
	uint64_t given[FA_POOL_MAX_CLASSES] = { 0 }, cached[FA_POOL_MAX_CLASSES] = { 0 };
	uint64_t qfrees[FA_POOL_MAX_CLASSES] = { 0 }, req[FA_POOL_MAX_CLASSES] = { 0 };

	if (!p || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->name = p->name;
	st->nr_classes = p->nr_classes;
	st->flags = p->flags & ~FA__POOL_MC;

	pthread_mutex_lock(&p->lock);
	for (struct fa__pool_tcache *tc = p->all; tc; tc = tc->next_all) {
		for (unsigned c = 0; c < p->nr_classes; c++) {
			const struct fa__pool_bin *b = &tc->bins[c];

			frees[c] += fa__pool_ld(&b->frees);
			req[c] += fa__pool_ld(&b->req);
			cached[c] += fa__pool_bin_count(p, tc, c);
			taken[c] += fa__pool_ld(&tc->taken[c]);
			given[c] += fa__pool_ld(&tc->given[c]);
			qfrees[c] += fa__pool_ld(&tc->qfrees[c]);
		}
		for (unsigned h = 0; h < FA__POOL_HIST; h++)
			st->size_hist[h] += fa__pool_ld(&tc->hist[h]);
	}
	pthread_mutex_unlock(&p->lock);

	for (unsigned c = 0; c < p->nr_classes; c++) {
		struct fa__pool_class *k = &p->cls[c];
		struct fa_pool_class_stats *cs = &st->cls[c];
		uint64_t allocs = frees[c] + taken[c] - given[c] - cached[c];

		cs->size = k->size;
		cs->tcache_objs = k->limit;
		/* racing owners can make a sum momentarily inconsistent */
		if ((int64_t)allocs < 0)
			allocs = 0;
		cs->allocs = allocs;
		cs->frees = frees[c] + qfrees[c];
		cs->live = cs->allocs > cs->frees ? cs->allocs - cs->frees : 0;
		cs->cached = cached[c];
		/* shared before carved, as fa__pool_out reads them */
		cs->shared = atomic_load_explicit(&k->shared, memory_order_acquire);
		cs->quarantined = atomic_load_explicit(&k->quarantined, memory_order_relaxed);
		cs->carved = atomic_load_explicit(&k->carved, memory_order_relaxed);
		cs->slabs = atomic_load_explicit(&k->slabs, memory_order_relaxed);
		cs->bytes_requested = req[c];
		if (cs->carved > cs->shared) {
			uint64_t out = cs->carved - cs->shared;
			uint64_t h = atomic_load_explicit(&k->hwm, memory_order_relaxed);

			while (out > h && !atomic_compare_exchange_weak(&k->hwm, &h, out))
				;
		}
		cs->hwm = atomic_load_explicit(&k->hwm, memory_order_relaxed);
		if (cs->hwm < cs->live)
			cs->hwm = cs->live;

		st->allocs += cs->allocs;
		st->frees += cs->frees;
		st->live += cs->live;
		st->bytes_requested += cs->bytes_requested;
		st->bytes_served += cs->allocs * cs->size;
		st->bytes_live += cs->live * cs->size;
		st->quarantined += cs->quarantined;
		st->quarantine_bytes += cs->quarantined * cs->size;
	}
	st->large_allocs = atomic_load(&p->large_allocs);
	st->large_frees = atomic_load(&p->large_frees);
	st->large_live = atomic_load(&p->large_live);
	st->large_bytes = atomic_load(&p->large_bytes);
	st->large_cache_hits = atomic_load_explicit(&p->large_hits, memory_order_relaxed);
	st->large_cache_misses = atomic_load_explicit(&p->large_misses, memory_order_relaxed);
	st->large_cache_maps = atomic_load_explicit(&p->idle_maps, memory_order_relaxed);
	st->large_cache_bytes = atomic_load_explicit(&p->idle_bytes, memory_order_relaxed);
	st->allocs += st->large_allocs;
	st->frees += st->large_frees;
	st->live += st->large_live;
	st->bytes_live += st->large_bytes;
	st->bytes_reserved = atomic_load(&p->bytes_mapped);
	st->bytes_slabs = atomic_load(&p->bytes_slabs);
	st->reports = atomic_load(&p->reports);
	st->threads = atomic_load(&p->threads);
	/* the sampler may run before create has given the pool its bins */
	st->inline_bins = __atomic_load_n(&p->tbin, __ATOMIC_RELAXED) ? p->nr_classes : 0;
	st->slabs_free = atomic_load_explicit(&p->nr_free_slabs, memory_order_relaxed);
	st->trimmed_slabs = atomic_load_explicit(&p->trim_slabs, memory_order_relaxed);
	st->trimmed_bytes = atomic_load_explicit(&p->trim_bytes, memory_order_relaxed);
	return 0;
}

/* ---- snapshots ---- */

static void snap_take(struct fa_pool *p)
{
	struct fa_pool_stats *st = malloc(sizeof(*st));
	struct fa_pool_snapshot s = { .time_ns = fa__pool_now_ns() };

	if (st && fa_pool_stats(p, st) == 0) {
		s.allocs = st->allocs;
		s.frees = st->frees;
		s.live = st->live;
		s.bytes_requested = st->bytes_requested;
		s.bytes_live = st->bytes_live;
		s.bytes_reserved = st->bytes_reserved;
		s.quarantined = st->quarantined;
		for (unsigned c = 0; c < st->nr_classes; c++) {
			s.cached += st->cls[c].cached;
			s.shared += st->cls[c].shared;
		}
	}
	free(st);
	pthread_mutex_lock(&p->snap_lock);
	if (p->snap_n) {
		/* allocs is derived from counters read while their owners run
		 * (fa_pool_stats), so a read can come out below the last one:
		 * a series never goes back (nor does it when two takers race) */
		const struct fa_pool_snapshot *last =
		        &p->snaps[(p->snap_head + p->snap_n - 1) % p->snap_cap];

		if (s.time_ns < last->time_ns)
			s.time_ns = last->time_ns;
		if (s.allocs < last->allocs)
			s.allocs = last->allocs;
		if (s.frees < last->frees)
			s.frees = last->frees;
	}
	p->snaps[(p->snap_head + p->snap_n) % p->snap_cap] = s;
	if (p->snap_n < p->snap_cap)
		p->snap_n++;
	else
		p->snap_head = (p->snap_head + 1) % p->snap_cap;
	pthread_mutex_unlock(&p->snap_lock);
}

static void *snap_thread(void *arg)
{
	struct fa_pool *p = arg;
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	pthread_mutex_lock(&p->snap_lock);
	while (!p->snap_stop) {
		until.tv_nsec += (long)(p->snap_ms % 1000) * 1000000;
		until.tv_sec += p->snap_ms / 1000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		while (!p->snap_stop &&
		       pthread_cond_timedwait(&p->snap_cond, &p->snap_lock, &until) != ETIMEDOUT)
			;
		if (p->snap_stop)
			break;
		pthread_mutex_unlock(&p->snap_lock);
		snap_take(p);
		pthread_mutex_lock(&p->snap_lock);
	}
	pthread_mutex_unlock(&p->snap_lock);
	return NULL;
}

/* A fresh snap_cond, on CLOCK_MONOTONIC as the sampler waits. */
static void snap_cond_init(struct fa_pool *p)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->snap_cond, &ca);
	pthread_condattr_destroy(&ca);
}

int fa__pool_snap_init(struct fa_pool *p, const struct fa_pool_opts *o)
{
	pthread_mutex_init(&p->snap_lock, NULL);
	snap_cond_init(p);
	p->snap_cap = o->snapshot_ring ? o->snapshot_ring : 64;
	if (p->snap_cap > (1u << 20))
		return -EINVAL;
	p->snaps = calloc(p->snap_cap, sizeof(*p->snaps));
	if (!p->snaps)
		return -ENOMEM;
	p->snap_ms = o->snapshot_ms;
	if (p->snap_ms) {
		int err = pthread_create(&p->snap_thread, NULL, snap_thread, p);

		if (err)
			return -err;
		p->snap_thread_on = true;
	}
	return 0;
}

void fa__pool_snap_fini(struct fa_pool *p)
{
	if (p->snap_thread_on) {
		pthread_mutex_lock(&p->snap_lock);
		p->snap_stop = true;
		pthread_cond_signal(&p->snap_cond);
		pthread_mutex_unlock(&p->snap_lock);
		pthread_join(p->snap_thread, NULL);
		p->snap_thread_on = false;
	}
	free(p->snaps);
	p->snaps = NULL;
}

/* snap_lock is held by this thread (fa__pool_prefork); the condition
 * variable's waiters are gone with their threads. */
void fa__pool_snap_fork_child(struct fa_pool *p)
{
	snap_cond_init(p);
	p->snap_thread_on = false;
	atomic_store(&p->snap_restart, p->snap_ms && !p->snap_stop);
}

void fa__pool_snap_resume(struct fa_pool *p)
{
	if (!atomic_exchange(&p->snap_restart, false))
		return;
	pthread_mutex_lock(&p->snap_lock);
	if (!p->snap_thread_on && !p->snap_stop &&
	    pthread_create(&p->snap_thread, NULL, snap_thread, p) == 0)
		p->snap_thread_on = true;
	pthread_mutex_unlock(&p->snap_lock);
}

int fa_pool_snapshot(struct fa_pool *p)
{
	if (!p)
		return -EINVAL;
	fa__pool_snap_resume(p);
	snap_take(p);
	return 0;
}

int fa_pool_snapshots(struct fa_pool *p, struct fa_pool_snapshot *out, size_t n)
{
	size_t k, skip;

	if (!p || (!out && n))
		return -EINVAL;
	pthread_mutex_lock(&p->snap_lock);
	k = n < p->snap_n ? n : p->snap_n;
	skip = p->snap_n - k;
	for (size_t i = 0; i < k; i++)
		out[i] = p->snaps[(p->snap_head + skip + i) % p->snap_cap];
	pthread_mutex_unlock(&p->snap_lock);
	return (int)k;
}

/* ---- text / JSON ---- */

static void print_text(FILE *f, const struct fa_pool_stats *st, const struct fa_pool_snapshot *sn,
                       int nsn)
{
	double waste = st->bytes_served ? 100.0 * (double)(st->bytes_served - st->bytes_requested) /
	                                          (double)st->bytes_served
	                                : 0.0;

	fprintf(f, "pool %s: %u classes, flags 0x%x, %llu thread caches, inline path %s\n",
	        st->name, st->nr_classes, st->flags, (unsigned long long)st->threads,
	        st->inline_bins ? "on" : "off");
	fprintf(f, "  allocs %llu frees %llu live %llu (%llu bytes)\n",
	        (unsigned long long)st->allocs, (unsigned long long)st->frees,
	        (unsigned long long)st->live, (unsigned long long)st->bytes_live);
	fprintf(f,
	        "  bytes requested %llu served %llu (%.1f%% class waste), reserved %llu "
	        "(slabs %llu)\n",
	        (unsigned long long)st->bytes_requested, (unsigned long long)st->bytes_served,
	        waste, (unsigned long long)st->bytes_reserved, (unsigned long long)st->bytes_slabs);
	fprintf(f,
	        "  large: allocs %llu frees %llu live %llu bytes %llu; cache hits %llu "
	        "misses %llu idle %llu (%llu bytes)\n",
	        (unsigned long long)st->large_allocs, (unsigned long long)st->large_frees,
	        (unsigned long long)st->large_live, (unsigned long long)st->large_bytes,
	        (unsigned long long)st->large_cache_hits,
	        (unsigned long long)st->large_cache_misses,
	        (unsigned long long)st->large_cache_maps,
	        (unsigned long long)st->large_cache_bytes);
	fprintf(f, "  quarantined %llu (%llu bytes), reports %llu\n",
	        (unsigned long long)st->quarantined, (unsigned long long)st->quarantine_bytes,
	        (unsigned long long)st->reports);
	if (st->slabs_free || st->trimmed_slabs)
		fprintf(f, "  trim: %llu free slabs; %llu slabs freed, %llu bytes unmapped\n",
		        (unsigned long long)st->slabs_free, (unsigned long long)st->trimmed_slabs,
		        (unsigned long long)st->trimmed_bytes);
	fprintf(f, "  %6s %12s %12s %10s %10s %8s %8s %8s %6s\n", "class", "allocs", "frees",
	        "live", "hwm", "cached", "shared", "quar", "slabs");
	for (unsigned c = 0; c < st->nr_classes; c++) {
		const struct fa_pool_class_stats *cs = &st->cls[c];

		if (!cs->allocs && !cs->carved)
			continue;
		fprintf(f, "  %6u %12llu %12llu %10llu %10llu %8llu %8llu %8llu %6llu\n", cs->size,
		        (unsigned long long)cs->allocs, (unsigned long long)cs->frees,
		        (unsigned long long)cs->live, (unsigned long long)cs->hwm,
		        (unsigned long long)cs->cached, (unsigned long long)cs->shared,
		        (unsigned long long)cs->quarantined, (unsigned long long)cs->slabs);
	}
	for (unsigned h = 0; h < FA__POOL_HIST; h++)
		if (st->size_hist[h])
			fprintf(f, "  size %llu..%llu: %llu\n", 1ull << h, (2ull << h) - 1,
			        (unsigned long long)st->size_hist[h]);
	for (int i = 0; i < nsn; i++)
		fprintf(f,
		        "  snapshot t=%llu ns: allocs %llu frees %llu live %llu reserved "
		        "%llu cached %llu shared %llu\n",
		        (unsigned long long)sn[i].time_ns, (unsigned long long)sn[i].allocs,
		        (unsigned long long)sn[i].frees, (unsigned long long)sn[i].live,
		        (unsigned long long)sn[i].bytes_reserved, (unsigned long long)sn[i].cached,
		        (unsigned long long)sn[i].shared);
}

#define U(x) ((unsigned long long)(x))

static void print_json(FILE *f, const struct fa_pool_stats *st, const struct fa_pool_snapshot *sn,
                       int nsn)
{
	struct fa__json j;

	fa__json_init(&j, f, false);
	fa__json_begin_obj(&j, NULL);
	fa__json_str(&j, "name", st->name);
	fa__json_uint(&j, "flags", st->flags);
#define F(k) fa__json_uint(&j, #k, U(st->k))
	F(threads);
	F(allocs);
	F(frees);
	F(live);
	F(bytes_requested);
	F(bytes_served);
	F(bytes_live);
	F(bytes_reserved);
	F(bytes_slabs);
	F(large_allocs);
	F(large_frees);
	F(large_live);
	F(large_bytes);
	F(large_cache_hits);
	F(large_cache_misses);
	F(large_cache_maps);
	F(large_cache_bytes);
	F(quarantined);
	F(quarantine_bytes);
	F(reports);
	F(slabs_free);
	F(trimmed_slabs);
	F(trimmed_bytes);
	F(inline_bins);
#undef F
	fa__json_begin_arr(&j, "classes");
	for (unsigned c = 0; c < st->nr_classes; c++) {
		const struct fa_pool_class_stats *cs = &st->cls[c];

		fa__json_begin_obj(&j, NULL);
#define F(k) fa__json_uint(&j, #k, U(cs->k))
		F(size);
		F(tcache_objs);
		F(allocs);
		F(frees);
		F(live);
		F(hwm);
		F(cached);
		F(shared);
		F(quarantined);
		F(carved);
		F(slabs);
		F(bytes_requested);
#undef F
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	fa__json_begin_arr(&j, "size_hist");
	for (unsigned h = 0; h < FA__POOL_HIST; h++)
		fa__json_uint(&j, NULL, U(st->size_hist[h]));
	fa__json_end_arr(&j);
	fa__json_begin_arr(&j, "snapshots");
	for (int i = 0; i < nsn; i++) {
		fa__json_begin_obj(&j, NULL);
#define F(k) fa__json_uint(&j, #k, U(sn[i].k))
		F(time_ns);
		F(allocs);
		F(frees);
		F(live);
		F(bytes_requested);
		F(bytes_live);
		F(bytes_reserved);
		F(cached);
		F(shared);
		F(quarantined);
#undef F
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	fa__json_end_obj(&j);
	fputc('\n', f);
}

int fa_pool_print_stats(struct fa_pool *p, FILE *f, int fmt)
{
	struct fa_pool_stats *st;
	struct fa_pool_snapshot *sn;
	int nsn, err = 0;

	if (!p || !f || (fmt != FA_POOL_FMT_TEXT && fmt != FA_POOL_FMT_JSON))
		return -EINVAL;
	st = malloc(sizeof(*st));
	sn = calloc(p->snap_cap, sizeof(*sn));
	if (!st || !sn) {
		err = -ENOMEM;
		goto out;
	}
	fa_pool_stats(p, st);
	nsn = fa_pool_snapshots(p, sn, p->snap_cap);
	if (fmt == FA_POOL_FMT_JSON)
		print_json(f, st, sn, nsn);
	else
		print_text(f, st, sn, nsn);
	if (fflush(f) || ferror(f))
		err = -EIO;
out:
	free(st);
	free(sn);
	return err;
}
