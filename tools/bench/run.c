// SPDX-License-Identifier: MIT
/*
 * The benchmark's run loop: which allocators take part (the peers, probed,
 * and FinAlloc's families), then every (workload, allocator) job once per
 * repetition, each in its own worker process (child.c), its "R metric unit
 * value" lines collected as samples for the report (report.c).
 * Repetitions interleave allocators, rotating the order each time, so a
 * noisy moment on this shared machine hits every allocator alike.
 */
#include "driver.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Operations per workload at scale 1, sized for ~0.1-0.3 s per run here. */
static const uint64_t base_ops[WL_COUNT] = {
	[WL_PAIR] = 5000000, /* per size */
	[WL_CHURN] = 5000000,
	[WL_PRODCONS] = 500000,
	[WL_BUMP] = 2000000,
	[WL_LARSON] = 2000000, /* per thread */
	[WL_LARGE] = 500,
	[WL_TLB] = 5000000,
	[WL_XMALLOC] = 2000000,
	[WL_CACHE_SCRATCH] = 1000000, /* over the threads */
	[WL_CACHE_THRASH] = 1000000,
	[WL_MSTRESS] = 1000000, /* per thread */
	[WL_RANDSIZE] = 2000000,
	[WL_PMR] = 2000000, /* per row */
	[WL_MAP] = 2000000,
};

/* The peers, measured through malloc/free with LD_PRELOAD. */
static const struct {
	const char *name, *lib, *match, *pkg;
} peers[] = {
	{ "glibc", NULL, "libc.so", "libc6" },
	{ "jemalloc", "libjemalloc.so.2", "jemalloc", "libjemalloc2" },
	{ "tcmalloc", "libtcmalloc_minimal.so.4", "tcmalloc", "libtcmalloc-minimal4" },
	{ "mimalloc", "libmimalloc.so.2", "mimalloc", "libmimalloc2.0" },
};

/* FinAlloc's malloc drop-in: through malloc/free in a preloaded worker,
 * exactly as the peers, but a FinAlloc column (compared with them). */
#define DROPIN "finalloc-malloc"

/* The floor (floor.c): named only, next to the drop-in in the build tree. */
#define FLOOR    "floor"
#define FLOOR_SO "libfinalloc-floor.so"

static const char *floor_so(const char *dropin, char *buf, size_t len)
{
	const char *slash = dropin ? strrchr(dropin, '/') : NULL;

	if (!slash ||
	    snprintf(buf, len, "%.*s/" FLOOR_SO, (int)(slash - dropin), dropin) >= (int)len)
		return NULL;
	return access(buf, R_OK) == 0 ? buf : NULL;
}

static void add_alloc(struct bench_run *r, const char *name, const char *preload, const char *match,
                      const char *package, bool peer)
{
	struct alloc_desc *a = &r->alloc[r->nr_alloc++];

	memset(a, 0, sizeof(*a));
	a->name = name;
	a->family = peer ? "malloc" : name;
	a->preload = preload;
	a->match = match;
	a->package = package;
	a->peer = peer;
}

bool bench_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

bool bench_known_alloc(const char *name)
{
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
		if (!strcmp(name, peers[i].name))
			return true;
	for (int i = 0; bench_fa_families[i]; i++)
		if (!strcmp(name, bench_fa_families[i]->name))
			return true;
	return !strcmp(name, DROPIN) || !strcmp(name, FLOOR);
}

static void note(struct bench_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct bench_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nr_notes >= (int)(sizeof(r->notes) / sizeof(r->notes[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(r->notes[r->nr_notes++], sizeof(r->notes[0]), fmt, ap);
	va_end(ap);
}

static struct metric *find_metric(struct bench_run *r, const char *name, const char *unit, int wl)
{
	for (int i = 0; i < r->nr_metric; i++)
		if (!strcmp(r->metric[i].name, name))
			return &r->metric[i];
	if (r->nr_metric >= MAX_METRICS)
		return NULL;
	struct metric *m = &r->metric[r->nr_metric++];

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->wl = wl;
	return m;
}

static void progress(struct bench_run *r, int rep, int wl, const char *alloc)
{
	r->job++;
	if (!r->cfg.progress)
		return;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K[%3d/%d] rep %d/%d  %-8s %-9s", r->job, r->nr_jobs,
		        rep + 1, r->cfg.reps, wl_names[wl], alloc);
	else if (r->job == 1 || (rep > 0 && r->job % (r->nr_jobs / r->cfg.reps) == 1))
		fprintf(stderr, "finalloc bench: repetition %d/%d\n", rep + 1, r->cfg.reps);
}

/* Run one (workload, allocator) pair once; results go to r->metric.  The
 * slot index is the allocator's column (alloc[] or tlb[] by workload). */
static void run_job(struct bench_run *r, int wl, struct alloc_desc *a, int slot, int rep)
{
	char ops[32], tsc[32], tlb[32], live[32], st[64];
	char *args[] = {
		"finalloc", "bench", "--worker", (char *)a->family, (char *)wl_names[wl], ops, tsc,
		tlb,        live,    NULL
	};
	uint64_t n = (uint64_t)((double)base_ops[wl] * r->cfg.scale);
	struct worker_out o;
	int err;

	progress(r, rep, wl, a->name);
	snprintf(ops, sizeof(ops), "%llu", (unsigned long long)(n ? n : 1));
	snprintf(tsc, sizeof(tsc), "%.9g", r->tsc_per_ns);
	snprintf(tlb, sizeof(tlb), "%zu", r->cfg.tlb_bytes);
	snprintf(live, sizeof(live), "%zu", r->cfg.churn_live);
	err = bench_run_worker(args, a->preload, &o);
	if (err) {
		note(r, "%s/%s: cannot start the worker: %s", wl_names[wl], a->name,
		     strerror(-err));
		r->failures++;
		return;
	}
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status)) {
		bench_describe_status(o.status, st, sizeof(st));
		note(r, "%s/%s repetition %d failed: %s", wl_names[wl], a->name, rep + 1, st);
		r->failures++;
	}
	for (char *line = strtok(o.text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[32], unit[16];
		double v;

		if (sscanf(line, "R %31s %15s %lf", name, unit, &v) == 3) {
			struct metric *m = find_metric(r, name, unit, wl);

			if (m && m->n[slot] < MAX_REPS)
				m->samples[slot][m->n[slot]++] = v;
		} else if (!strncmp(line, "S ", 2) && !a->why[0]) {
			snprintf(a->why, sizeof(a->why), "%s", line + 2);
		} else if (!strncmp(line, "I ", 2) && rep == 0) {
			note(r, "%s", line + 2);
		}
	}
	free(o.text);
}

static bool family_runs(const struct alloc_desc *a, int wl)
{
	if (a->peer || !strcmp(a->family, "malloc"))
		return bench_malloc_family.run[wl] != NULL;
	for (int i = 0; bench_fa_families[i]; i++)
		if (!strcmp(bench_fa_families[i]->name, a->family))
			return bench_fa_families[i]->run[wl] != NULL;
	return false;
}

static int bench_execute(struct bench_run *r, FILE *out, FILE *html)
{
	struct bench_cfg *c = &r->cfg;
	int nr_wl_jobs = 0;

	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		if (c->alloc_filter && !bench_in_list(c->alloc_filter, peers[i].name))
			continue;
		add_alloc(r, peers[i].name, peers[i].lib, peers[i].match, peers[i].pkg, true);
		bench_probe_peer(&r->alloc[r->nr_alloc - 1]);
	}
	if (!c->alloc_filter || bench_in_list(c->alloc_filter, DROPIN)) {
		static char so[PATH_MAX + 64];
		const char *path = tool_malloc_so(so, sizeof(so));
		struct alloc_desc *d = &r->alloc[r->nr_alloc];

		add_alloc(r, DROPIN, path, "libfinalloc-malloc", "FinAlloc's drop-in (make malloc)",
		          false);
		d->family = "malloc";
		if (path)
			bench_probe_peer(d);
		else
			snprintf(d->why, sizeof(d->why), "%s not found (make malloc)",
			         TOOL_MALLOC_SO);
	}
	if (c->alloc_filter && bench_in_list(c->alloc_filter, FLOOR)) {
		static char so[PATH_MAX + 64], fl[PATH_MAX + 64];
		const char *path = floor_so(tool_malloc_so(so, sizeof(so)), fl, sizeof(fl));
		struct alloc_desc *d = &r->alloc[r->nr_alloc];

		add_alloc(r, FLOOR, path, "libfinalloc-floor", "the bench's floor (make)", false);
		d->family = "malloc";
		if (path)
			bench_probe_peer(d);
		else
			snprintf(d->why, sizeof(d->why), "%s not found next to %s (make)", FLOOR_SO,
			         TOOL_MALLOC_SO);
	}
	for (int i = 0; bench_fa_families[i] && r->nr_alloc < MAX_ALLOCS; i++) {
		if (c->alloc_filter ? !bench_in_list(c->alloc_filter, bench_fa_families[i]->name)
		                    : bench_fa_families[i]->optional)
			continue;
		add_alloc(r, bench_fa_families[i]->name, NULL, NULL, NULL, false);
		r->alloc[r->nr_alloc - 1].available = true;
	}
	for (int i = 0; tlb_backings[i]; i++) {
		struct alloc_desc *t = &r->tlb[r->nr_tlb++];

		memset(t, 0, sizeof(*t));
		t->name = t->family = tlb_backings[i];
		t->available = true;
	}
	r->tsc_per_ns = bench_tsc_per_ns(c->tour ? 50 : 100);
	r->tsc_overhead_ns = (double)bench_tsc_overhead() / r->tsc_per_ns;
	r->tsc_resolution_ns = (double)bench_tsc_resolution() / r->tsc_per_ns;
	for (int w = 0; w < WL_COUNT; w++) {
		if (!c->wl_on[w])
			continue;
		if (w == WL_TLB) {
			nr_wl_jobs += r->nr_tlb;
			continue;
		}
		for (int a = 0; a < r->nr_alloc; a++)
			nr_wl_jobs += r->alloc[a].available && family_runs(&r->alloc[a], w);
	}
	r->nr_jobs = nr_wl_jobs * c->reps;

	for (int rep = 0; rep < c->reps; rep++) {
		for (int w = 0; w < WL_COUNT; w++) {
			int n = w == WL_TLB ? r->nr_tlb : r->nr_alloc;

			if (!c->wl_on[w])
				continue;
			/* Rotate the order each repetition: no allocator always
			 * runs first or right after the heaviest one. */
			for (int k = 0; k < n; k++) {
				int a = (k + rep) % n;
				struct alloc_desc *d = w == WL_TLB ? &r->tlb[a] : &r->alloc[a];

				if (!d->available || (w != WL_TLB && !family_runs(d, w)))
					continue;
				if (w == WL_TLB && d->why[0])
					continue; /* the backing said why it cannot run */
				run_job(r, w, d, a, rep);
			}
		}
	}
	if (c->progress && isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);

	bench_report(r, out);
	if (html) {
		int err = bench_report_html(r, html);

		if (fclose(html) && !err)
			err = -errno;
		if (err) {
			tool_err("bench", "writing %s: %s", r->cfg.html, strerror(-err));
			return 1;
		}
	}
	return r->failures ? 1 : 0;
}

void bench_cfg_init(struct bench_cfg *cfg)
{
	*cfg = (struct bench_cfg){
		.reps = 5,
		.scale = 1.0,
		.tlb_bytes = (size_t)1 << 30,
		.churn_live = 4096,
		.progress = true,
	};
}

int bench_run(const struct bench_cfg *cfg)
{
	struct bench_run *r;
	FILE *html = NULL;
	int ret;

	/* Before any job runs: a page that cannot be written is said now. */
	if (cfg->html && !(html = fopen(cfg->html, "w")))
		return tool_err("bench", "cannot write %s: %s", cfg->html, strerror(errno));
	r = calloc(1, sizeof(*r));

	if (r)
		r->metric = calloc(MAX_METRICS, sizeof(*r->metric));
	if (!r || !r->metric) {
		free(r);
		if (html)
			fclose(html);
		return tool_err("bench", "out of memory");
	}
	r->cfg = *cfg;
	ret = bench_execute(r, stdout, html);
	free(r->metric);
	free(r);
	return ret;
}
