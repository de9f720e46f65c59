// SPDX-License-Identifier: MIT
/*
 * finalloc trace FILE: decode an allocation journal (the library's format,
 * read through its fa_trace_reader API): what each kind of allocator
 * journaled (arenas; pools' and NUMA allocators' large blocks, allocated
 * and freed), top sites by bytes and by count,
 * size histogram, largest allocations with their sites, and a timeline.
 * A foreign, newer or corrupt file is refused with a clear message.
 */
#include "tools.h"

#include "finalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMELINE_BUCKETS 20
#define HIST_BUCKETS     64

struct site {
	char *file, *func; /* copies: the reader frees a redefined site's */
	int line;
	uint64_t count, bytes;
	struct site *next; /* hash chain */
};

struct big {
	uint64_t size, addr, time_ns;
	uint32_t tid;
	const struct site *site;
};

/* What the journal says of the sources of one kind (FA_TRACE_SRC_*). */
struct src_sum {
	uint64_t ev[4]; /* ARENA records by FA_TRACE_EV_* */
	uint64_t allocs, bytes, frees, freed_bytes;
};

#define NR_SRC (FA_TRACE_SRC_NUMA + 1)

struct trace_sum {
	struct fa_trace_header hdr;
	uint64_t allocs, bytes, events;
	struct src_sum src[NR_SRC];     /* records of a newer kind: not counted */
	uint64_t drop_records, dropped; /* DROP records, what they count */
	uint64_t unplaced;              /* END counts more drops than they */
	bool ended, damaged;
	struct fa_trace_damage dmg; /* where decoding stopped, if damaged */
	uint64_t end_records, end_dropped;
	uint64_t first_ns, last_ns;
	uint64_t hist_count[HIST_BUCKETS], hist_bytes[HIST_BUCKETS];
	struct site **buckets;
	size_t nbuckets, nsites;
	struct big *big;
	int nbig, top;
	struct {
		uint64_t t, size;
	} * times; /* (time, size) of every allocation, for the timeline */
	size_t ntimes, captimes;
};

void trace_usage(FILE *f)
{
	fprintf(f, "usage: finalloc trace [--json] [--top N] FILE\n"
	           "\n"
	           "Decode an allocation journal written by libfinalloc (FINALLOC_TRACE=FILE, or\n"
	           "fa_trace_open): what each kind of allocator journaled (arenas; the large\n"
	           "blocks of pools and NUMA allocators, freed and not), top allocation sites by\n"
	           "bytes and by count, a size histogram, the largest allocations with their\n"
	           "sites, and a timeline.  A file that is not a journal or is from a newer\n"
	           "version is refused (exit 1).  A journal cut short (its program killed) or\n"
	           "with a bad record is shown up to there, and where it ends is said (exit 0\n"
	           "when cut short, 1 for a bad record).\n"
	           "\n"
	           "  --json     machine-readable output\n"
	           "  --top N    rows in the top-N lists (default 10)\n"
	           "  --help     this text\n");
}

static uint64_t hash_site(const char *file, const char *func, int line)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)line;

	for (const char *s = file ? file : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = func ? func : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static struct site *get_site(struct trace_sum *s, const struct fa_trace_event *ev)
{
	size_t b = hash_site(ev->file, ev->func, ev->line) & (s->nbuckets - 1);
	struct site *x;

	for (x = s->buckets[b]; x; x = x->next)
		if (x->line == ev->line && same(x->file, ev->file) && same(x->func, ev->func))
			return x;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->file = ev->file ? strdup(ev->file) : NULL;
	x->func = ev->func ? strdup(ev->func) : NULL;
	if ((ev->file && !x->file) || (ev->func && !x->func)) {
		free(x->file);
		free(x->func);
		free(x);
		return NULL;
	}
	x->line = ev->line;
	x->next = s->buckets[b];
	s->buckets[b] = x;
	s->nsites++;
	return x;
}

static void add_big(struct trace_sum *s, const struct fa_trace_event *ev, const struct site *st)
{
	int i;

	if (s->nbig == s->top && ev->size <= s->big[s->nbig - 1].size)
		return;
	if (s->nbig < s->top)
		s->nbig++;
	/* Insertion into a short sorted list (largest first). */
	for (i = s->nbig - 1; i > 0 && s->big[i - 1].size < ev->size; i--)
		s->big[i] = s->big[i - 1];
	s->big[i] = (struct big){ ev->size, ev->addr, ev->time_ns, ev->tid, st };
}

static int log2_bucket(uint64_t v)
{
	return v ? 63 - __builtin_clzll(v) : 0;
}

static int record(struct trace_sum *s, const struct fa_trace_event *ev)
{
	unsigned kind = FA_TRACE_SOURCE(ev->arena);
	struct src_sum *src = kind < NR_SRC ? &s->src[kind] : NULL;
	struct site *st;

	s->events++;
	if (s->events == 1 || ev->time_ns < s->first_ns)
		s->first_ns = ev->time_ns;
	if (ev->time_ns > s->last_ns)
		s->last_ns = ev->time_ns;
	switch (ev->type) {
	case FA_TRACE_ALLOC:
		st = get_site(s, ev);
		if (!st)
			return -ENOMEM;
		st->count++;
		st->bytes += ev->size;
		s->allocs++;
		s->bytes += ev->size;
		if (src) {
			src->allocs++;
			src->bytes += ev->size;
		}
		s->hist_count[log2_bucket(ev->size)]++;
		s->hist_bytes[log2_bucket(ev->size)] += ev->size;
		add_big(s, ev, st);
		if (s->ntimes == s->captimes) {
			size_t cap = s->captimes ? s->captimes * 2 : 4096;
			void *t = realloc(s->times, cap * sizeof(*s->times));

			if (!t)
				return -ENOMEM;
			s->times = t;
			s->captimes = cap;
		}
		s->times[s->ntimes].t = ev->time_ns;
		s->times[s->ntimes++].size = ev->size;
		break;
	case FA_TRACE_ARENA:
		if (src && ev->event >= 0 && ev->event < 4)
			src->ev[ev->event]++;
		break;
	case FA_TRACE_FREE:
		if (src) {
			src->frees++;
			src->freed_bytes += ev->size;
		}
		break;
	case FA_TRACE_DROP:
		s->drop_records++;
		s->dropped += ev->count;
		break;
	case FA_TRACE_END:
		s->ended = true;
		s->end_records = ev->count;
		s->end_dropped = ev->dropped;
		break;
	default:
		break;
	}
	return 0;
}

static struct site **sorted_sites(struct trace_sum *s, bool by_bytes)
{
	struct site **v = malloc((s->nsites ? s->nsites : 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return NULL;
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct site *x = s->buckets[b]; x; x = x->next)
			v[n++] = x;
	/* Selection by hand: qsort has no context argument in C11. */
	for (size_t i = 0; i < n && i < (size_t)s->top; i++) {
		size_t best = i;

		for (size_t k = i + 1; k < n; k++) {
			uint64_t a = by_bytes ? v[k]->bytes : v[k]->count;
			uint64_t c = by_bytes ? v[best]->bytes : v[best]->count;

			if (a > c)
				best = k;
		}
		struct site *t = v[i];

		v[i] = v[best];
		v[best] = t;
	}
	return v;
}

static void site_name(char *buf, size_t len, const struct site *st)
{
	if (!st || (!st->file && !st->func))
		snprintf(buf, len, "(unknown site)");
	else
		snprintf(buf, len, "%s:%d %s()", st->file ? st->file : "?", st->line,
		         st->func ? st->func : "?");
}

static void timeline(const struct trace_sum *s, uint64_t *count, uint64_t *bytes, uint64_t *width)
{
	uint64_t span = s->last_ns > s->first_ns ? s->last_ns - s->first_ns : 1;

	*width = span / TIMELINE_BUCKETS + 1;
	memset(count, 0, TIMELINE_BUCKETS * sizeof(*count));
	memset(bytes, 0, TIMELINE_BUCKETS * sizeof(*bytes));
	for (size_t i = 0; i < s->ntimes; i++) {
		uint64_t b = (s->times[i].t - s->first_ns) / *width;

		if (b >= TIMELINE_BUCKETS)
			b = TIMELINE_BUCKETS - 1;
		count[b]++;
		bytes[b] += s->times[i].size;
	}
}

static void print_text(struct trace_sum *s, const char *path)
{
	uint64_t tc[TIMELINE_BUCKETS], tb[TIMELINE_BUCKETS], width, maxc = 0;
	char b1[32], b2[96], when[64];

	fa__fmt_time(when, sizeof(when), s->hdr.start_real);
	fa__fmt_bytes(b1, sizeof(b1), s->bytes);
	printf("%s: journal v%u, pid %u, started %s\n", path, s->hdr.version, s->hdr.pid, when);
	printf("  %llu allocations, %s, %zu sites; arenas: %llu created, %llu resets, %llu "
	       "destroyed\n",
	       (unsigned long long)s->allocs, b1, s->nsites,
	       (unsigned long long)s->src[FA_TRACE_SRC_ARENA].ev[FA_TRACE_EV_CREATE],
	       (unsigned long long)s->src[FA_TRACE_SRC_ARENA].ev[FA_TRACE_EV_RESET],
	       (unsigned long long)s->src[FA_TRACE_SRC_ARENA].ev[FA_TRACE_EV_DESTROY]);
	for (unsigned k = FA_TRACE_SRC_POOL; k < NR_SRC; k++) {
		const struct src_sum *x = &s->src[k];
		char b3[32], b4[32];

		if (!x->ev[FA_TRACE_EV_CREATE] && !x->allocs && !x->frees)
			continue;
		fa__fmt_bytes(b1, sizeof(b1), x->bytes);
		fa__fmt_bytes(b3, sizeof(b3), x->freed_bytes);
		fa__fmt_bytes(b4, sizeof(b4),
		              x->bytes > x->freed_bytes ? x->bytes - x->freed_bytes : 0);
		printf("  %s: %llu created, %llu destroyed; large allocations: %llu (%s), %llu "
		       "freed (%s), %llu not freed (%s)\n",
		       k == FA_TRACE_SRC_POOL ? "pools" : "numa allocators",
		       (unsigned long long)x->ev[FA_TRACE_EV_CREATE],
		       (unsigned long long)x->ev[FA_TRACE_EV_DESTROY],
		       (unsigned long long)x->allocs, b1, (unsigned long long)x->frees, b3,
		       (unsigned long long)(x->allocs > x->frees ? x->allocs - x->frees : 0), b4);
	}
	if (s->ended)
		printf("  complete: the writer recorded %llu records, %llu dropped\n",
		       (unsigned long long)s->end_records, (unsigned long long)s->end_dropped);
	else if (!s->damaged)
		printf("  no end record: the process did not close the journal (killed?)\n");
	if (s->damaged)
		printf("  WARNING: %s at byte %llu of %llu: expected %s\n"
		       "           shown: the %llu events before it; %s\n",
		       s->dmg.truncated ? "TRUNCATED" : "CORRUPT",
		       (unsigned long long)s->dmg.offset, (unsigned long long)s->dmg.file_size,
		       s->dmg.what, (unsigned long long)s->events,
		       s->dmg.truncated ? "what came after is lost (killed?)"
		                        : "the rest is not decoded");
	if (s->dropped)
		printf("  WARNING: %llu records dropped (buffers full), counts are a lower bound\n",
		       (unsigned long long)s->dropped);
	if (s->unplaced)
		printf("  WARNING: %llu of them counted by the end record only (no DROP record "
		       "says where)\n",
		       (unsigned long long)s->unplaced);
	if (!s->allocs)
		return;

	for (int pass = 0; pass < 2; pass++) {
		struct site **v = sorted_sites(s, pass == 0);

		if (!v)
			return;
		printf("\ntop sites by %s\n  %12s %12s  %s\n", pass == 0 ? "bytes" : "count",
		       "bytes", "count", "site");
		for (size_t i = 0; i < s->nsites && i < (size_t)s->top; i++) {
			fa__fmt_bytes(b1, sizeof(b1), v[i]->bytes);
			site_name(b2, sizeof(b2), v[i]);
			printf("  %12s %12llu  %s\n", b1, (unsigned long long)v[i]->count, b2);
		}
		free(v);
	}

	printf("\nsize histogram\n  %-21s %12s %12s\n", "size", "count", "bytes");
	for (int k = 0; k < HIST_BUCKETS; k++) {
		char lo[32], hi[32];

		if (!s->hist_count[k])
			continue;
		fa__fmt_bytes(lo, sizeof(lo), k ? 1ull << k : 0);
		fa__fmt_bytes(hi, sizeof(hi), (k < 63 ? (1ull << (k + 1)) : 0) - 1);
		fa__fmt_bytes(b1, sizeof(b1), s->hist_bytes[k]);
		snprintf(b2, sizeof(b2), "%s - %s", lo, hi);
		printf("  %-21s %12llu %12s\n", b2, (unsigned long long)s->hist_count[k], b1);
	}

	printf("\nlargest allocations\n  %12s %14s %8s %12s  %s\n", "size", "address", "tid",
	       "time", "site");
	for (int i = 0; i < s->nbig; i++) {
		fa__fmt_bytes(b1, sizeof(b1), s->big[i].size);
		site_name(b2, sizeof(b2), s->big[i].site);
		printf("  %12s %#14llx %8u %9.3f ms  %s\n", b1, (unsigned long long)s->big[i].addr,
		       s->big[i].tid, (double)s->big[i].time_ns / 1e6, b2);
	}

	timeline(s, tc, tb, &width);
	for (int i = 0; i < TIMELINE_BUCKETS; i++)
		if (tc[i] > maxc)
			maxc = tc[i];
	printf("\ntimeline (%.3f ms per row)\n  %10s %10s %12s\n", (double)width / 1e6, "from ms",
	       "count", "bytes");
	for (int i = 0; i < TIMELINE_BUCKETS; i++) {
		int w = maxc ? (int)(40.0 * (double)tc[i] / (double)maxc + 0.5) : 0;

		fa__fmt_bytes(b1, sizeof(b1), tb[i]);
		printf("  %10.3f %10llu %12s  ", (double)(s->first_ns + (uint64_t)i * width) / 1e6,
		       (unsigned long long)tc[i], b1);
		for (int k = 0; k < w; k++)
			putchar('#');
		putchar('\n');
	}
}

static void json_site(struct fa__json *j, const struct site *st)
{
	fa__json_str(j, "file", st ? st->file : NULL);
	fa__json_int(j, "line", st ? st->line : 0);
	fa__json_str(j, "func", st ? st->func : NULL);
}

static void print_json(struct trace_sum *s)
{
	uint64_t tc[TIMELINE_BUCKETS], tb[TIMELINE_BUCKETS], width;
	struct fa__json j;
	char when[40];

	fa__json_init(&j, stdout, true);
	fa__json_begin_obj(&j, NULL);
	fa__json_uint(&j, "version", s->hdr.version);
	fa__json_uint(&j, "pid", s->hdr.pid);
	fa__json_uint(&j, "start_real_ns", s->hdr.start_real);
	fa__fmt_time(when, sizeof(when), s->hdr.start_real);
	fa__json_str(&j, "start", when);
	fa__json_uint(&j, "allocations", s->allocs);
	fa__json_uint(&j, "bytes", s->bytes);
	fa__json_uint(&j, "sites", s->nsites);
	fa__json_uint(&j, "arena_creates", s->src[FA_TRACE_SRC_ARENA].ev[FA_TRACE_EV_CREATE]);
	fa__json_uint(&j, "arena_resets", s->src[FA_TRACE_SRC_ARENA].ev[FA_TRACE_EV_RESET]);
	fa__json_uint(&j, "arena_destroys", s->src[FA_TRACE_SRC_ARENA].ev[FA_TRACE_EV_DESTROY]);
	for (unsigned k = FA_TRACE_SRC_POOL; k < NR_SRC; k++) {
		const struct src_sum *x = &s->src[k];

		fa__json_begin_obj(&j, k == FA_TRACE_SRC_POOL ? "pools" : "numa");
		fa__json_uint(&j, "creates", x->ev[FA_TRACE_EV_CREATE]);
		fa__json_uint(&j, "destroys", x->ev[FA_TRACE_EV_DESTROY]);
		fa__json_uint(&j, "large_allocations", x->allocs);
		fa__json_uint(&j, "large_bytes", x->bytes);
		fa__json_uint(&j, "frees", x->frees);
		fa__json_uint(&j, "freed_bytes", x->freed_bytes);
		fa__json_end_obj(&j);
	}
	fa__json_uint(&j, "dropped", s->dropped);
	fa__json_uint(&j, "dropped_unplaced", s->unplaced);
	fa__json_bool(&j, "complete", s->ended && !s->damaged);
	if (s->damaged) {
		fa__json_begin_obj(&j, "damage");
		fa__json_bool(&j, "truncated", s->dmg.truncated);
		fa__json_uint(&j, "offset", s->dmg.offset);
		fa__json_uint(&j, "file_size", s->dmg.file_size);
		fa__json_uint(&j, "events_before", s->events);
		fa__json_str(&j, "expected", s->dmg.what);
		fa__json_end_obj(&j);
	}
	for (int pass = 0; pass < 2; pass++) {
		struct site **v = sorted_sites(s, pass == 0);

		fa__json_begin_arr(&j, pass == 0 ? "top_by_bytes" : "top_by_count");
		for (size_t i = 0; v && i < s->nsites && i < (size_t)s->top; i++) {
			fa__json_begin_obj(&j, NULL);
			json_site(&j, v[i]);
			fa__json_uint(&j, "count", v[i]->count);
			fa__json_uint(&j, "bytes", v[i]->bytes);
			fa__json_end_obj(&j);
		}
		fa__json_end_arr(&j);
		free(v);
	}
	fa__json_begin_arr(&j, "size_histogram");
	for (int k = 0; k < HIST_BUCKETS; k++) {
		if (!s->hist_count[k])
			continue;
		fa__json_begin_obj(&j, NULL);
		fa__json_uint(&j, "min", k ? 1ull << k : 0);
		fa__json_uint(&j, "max", (k < 63 ? (1ull << (k + 1)) : 0) - 1);
		fa__json_uint(&j, "count", s->hist_count[k]);
		fa__json_uint(&j, "bytes", s->hist_bytes[k]);
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	fa__json_begin_arr(&j, "largest");
	for (int i = 0; i < s->nbig; i++) {
		fa__json_begin_obj(&j, NULL);
		fa__json_uint(&j, "size", s->big[i].size);
		fa__json_uint(&j, "addr", s->big[i].addr);
		fa__json_uint(&j, "tid", s->big[i].tid);
		fa__json_uint(&j, "time_ns", s->big[i].time_ns);
		json_site(&j, s->big[i].site);
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	timeline(s, tc, tb, &width);
	fa__json_begin_obj(&j, "timeline");
	fa__json_uint(&j, "start_ns", s->first_ns);
	fa__json_uint(&j, "bucket_ns", width);
	fa__json_begin_arr(&j, "count");
	for (int i = 0; i < TIMELINE_BUCKETS; i++)
		fa__json_uint(&j, NULL, tc[i]);
	fa__json_end_arr(&j);
	fa__json_begin_arr(&j, "bytes");
	for (int i = 0; i < TIMELINE_BUCKETS; i++)
		fa__json_uint(&j, NULL, tb[i]);
	fa__json_end_arr(&j);
	fa__json_end_obj(&j);
	fa__json_end_obj(&j);
	fa__json_end(&j);
}

static void sum_free(struct trace_sum *s)
{
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct site *x = s->buckets[b];

		while (x) {
			struct site *n = x->next;

			free(x->file);
			free(x->func);
			free(x);
			x = n;
		}
	}
	free(s->buckets);
	free(s->big);
	free(s->times);
}

static const char *open_error(int e)
{
	switch (e) {
	case EBADMSG:
		return "not a FinAlloc allocation journal (bad magic or header)";
	case EPROTONOSUPPORT:
		return "journal written by a newer FinAlloc (unsupported version)";
	default:
		return strerror(e);
	}
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct trace_sum s = { .top = 10 };
	struct fa_trace_reader *r;
	struct fa_trace_event ev;
	bool json = false;
	uint64_t v;
	int c, ret;

	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 't':
			if (!fa__parse_u64(optarg, &v) || v < 1 || v > 1000)
				return tool_usage_err("trace", trace_usage,
				                      "--top wants 1..1000, not '%s'", optarg);
			s.top = (int)v;
			break;
		default:
			return tool_opt_other("trace", trace_usage, c, argv);
		}
	}
	if (optind >= argc)
		return tool_usage_err("trace", trace_usage, "missing journal FILE");
	if (optind + 1 < argc)
		return tool_usage_err("trace", trace_usage, "one FILE only ('%s' is extra)",
		                      argv[optind + 1]);

	r = fa_trace_reader_open(argv[optind]);
	if (!r)
		return tool_err("trace", "%s: %s", argv[optind], open_error(errno));
	fa_trace_reader_header(r, &s.hdr);
	s.nbuckets = 4096;
	s.buckets = calloc(s.nbuckets, sizeof(*s.buckets));
	s.big = calloc((size_t)s.top, sizeof(*s.big));
	if (!s.buckets || !s.big) {
		sum_free(&s);
		fa_trace_reader_close(r);
		return tool_err("trace", "out of memory");
	}
	while ((ret = fa_trace_next(r, &ev)) == 1) {
		ret = record(&s, &ev);
		if (ret)
			break;
	}
	if (ret == -EBADMSG && !fa_trace_reader_damage(r, &s.dmg)) {
		/* the good prefix is shown, and where it ends said in every view */
		s.damaged = true;
		tool_err("trace",
		         "%s: %s at byte %llu of %llu (expected %s); showing the %llu events "
		         "before it",
		         argv[optind], s.dmg.truncated ? "truncated" : "corrupt record",
		         (unsigned long long)s.dmg.offset, (unsigned long long)s.dmg.file_size,
		         s.dmg.what, (unsigned long long)s.events);
	} else if (ret < 0) {
		tool_err("trace", "%s: %s", argv[optind], strerror(-ret));
		sum_free(&s);
		fa_trace_reader_close(r);
		return 1;
	}
	/* the END total is the authority: a drop no DROP record placed (a
	 * journal from an older library, or one lost at exit) still shows */
	if (s.ended && s.end_dropped > s.dropped) {
		s.unplaced = s.end_dropped - s.dropped;
		s.dropped = s.end_dropped;
	}
	if (json)
		print_json(&s);
	else
		print_text(&s, argv[optind]);
	sum_free(&s);
	fa_trace_reader_close(r);
	return s.damaged && !s.dmg.truncated;
}
