// SPDX-License-Identifier: MIT
/*
 * finalloc bench: the harness every performance claim comes from.
 *
 * Each measurement is one child process (`finalloc bench --worker ...`):
 * peers get LD_PRELOAD=<their malloc> so their malloc really replaces
 * glibc's, and no allocator inherits another's heap.  A probe run checks
 * that the preload took (ld.so only warns when a library is missing).
 * Repetitions interleave allocators, rotating the order each time, so a
 * noisy moment on this shared machine hits every allocator alike; medians
 * are reported, with FinAlloc's ratio to the best peer.
 */
#include "bench.h"

#include "finalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_ALLOCS       16
#define MAX_REPS         64
#define MAX_METRICS      64
#define WORKER_TIMEOUT_S 120

struct alloc_desc {
	const char *name; /* column name, also the worker's family */
	const char *family;
	const char *preload; /* LD_PRELOAD soname, NULL for none */
	const char *match;   /* must appear in the probed malloc provider */
	const char *package; /* Debian package that ships it */
	bool peer;
	bool available;
	char impl[256]; /* library that provides malloc (peers) */
	char why[160];  /* reason when unavailable */
};

struct metric {
	char name[32];
	char unit[16];
	int wl;
	/* samples[alloc][rep] */
	double samples[MAX_ALLOCS][MAX_REPS];
	int n[MAX_ALLOCS];
};

struct bench_cfg {
	int reps;
	double scale;
	size_t tlb_bytes;
	size_t churn_live;
	bool wl_on[WL_COUNT];
	bool json, csv, progress, tour;
	const char *alloc_filter; /* comma list or NULL */
};

struct bench_run {
	struct bench_cfg cfg;
	struct alloc_desc alloc[MAX_ALLOCS];
	int nr_alloc;
	struct alloc_desc tlb[8];
	int nr_tlb;
	struct metric *metric; /* [MAX_METRICS] */
	int nr_metric;
	double tsc_per_ns;
	double tsc_overhead_ns;
	double tsc_resolution_ns;
	int failures;
	char notes[16][200];
	int nr_notes;
	int job, nr_jobs;
};

/* Operations per workload at scale 1, sized for ~0.1-0.3 s per run here. */
static const uint64_t base_ops[WL_COUNT] = {
	[WL_PAIR] = 5000000, /* per size */
	[WL_CHURN] = 5000000, [WL_PRODCONS] = 500000,
	[WL_BUMP] = 2000000,  [WL_LARSON] = 2000000, /* per thread */
	[WL_LARGE] = 500,     [WL_TLB] = 5000000,
};

void bench_usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc bench [--quick] [--reps N] [--scale F] [--only LIST]\n"
	        "                      [--alloc LIST] [--tlb-mib N] [--churn-live N]\n"
	        "                      [--json|--csv] [--quiet]\n"
	        "\n"
	        "Runs FinAlloc's pool, arena and NUMA allocators and, through malloc/free,\n"
	        "glibc, jemalloc, tcmalloc and mimalloc (Debian's libjemalloc2,\n"
	        "libtcmalloc-minimal4, libmimalloc2.0; missing ones are skipped and said).\n"
	        "Each run is a separate process; repetitions interleave the allocators;\n"
	        "medians are reported with FinAlloc's ratio to the best peer.\n"
	        "\n"
	        "workloads (--only, comma-separated):\n"
	        "  pair      alloc+free pair of one size (16, 64, 256, 4096 B)\n"
	        "  churn     live set of 4096 objects of 16-256 B (--churn-live),\n"
	        "            replace one at random\n"
	        "  prodcons  producer allocates, consumer thread frees over an SPSC ring:\n"
	        "            ns per message and alloc latency p50..p99.99, max (TSC in ns)\n"
	        "  bump      allocate 100k objects of 16-256 B, release all (arena: reset);\n"
	        "            bump.hot: 1000 a round (cache-resident); arena: reset.1k/1M\n"
	        "  larson    larson-like server churn, tables rotate between threads\n"
	        "  large     256 KiB-4 MiB allocations, every page touched; minor faults\n"
	        "  tlb       random reads over a working set on 4 KiB vs 2 MiB pages\n"
	        "\n"
	        "options:\n"
	        "  --quick        the short tour: 3 repetitions, 1/5 of the operations\n"
	        "  --reps N       repetitions (default 5, at most %d)\n"
	        "  --scale F      multiply every operation count by F (default 1)\n"
	        "  --only LIST    workloads to run (default all)\n"
	        "  --alloc LIST   allocators: glibc,jemalloc,tcmalloc,mimalloc,pool,\n"
	        "                 pool-sized (frees with fa_pool_free_sized),\n"
	        "                 pool-fine (FA_POOL_FINE classes: mixed-size workloads),\n"
	        "                 arena,numa;\n"
	        "                 named only: pool-prefetch (FA_POOL_PREFETCH_NEXT)\n"
	        "  --tlb-mib N    working set of the tlb workload (default 1024)\n"
	        "  --churn-live N live objects of the churn workload (a power of 2,\n"
	        "                 default 4096)\n"
	        "  --json, --csv  machine-readable output on stdout\n"
	        "  --quiet        no progress on stderr\n"
	        "  --help         this text\n"
	        "\n"
	        "Lower is better in every column; 'x' is best peer / FinAlloc (>1: FinAlloc "
	        "faster).\n"
	        "`make bench-instructions` counts instructions per op under callgrind.\n",
	        MAX_REPS);
}

/* ---- allocators ---- */

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

static bool in_list(const char *list, const char *name)
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

/* ---- running a worker ---- */

static char **worker_env(const char *preload)
{
	static char buf[320];
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			env[k++] = *e;
	if (preload) {
		snprintf(buf, sizeof(buf), "LD_PRELOAD=%s", preload);
		env[k++] = buf;
	}
	env[k] = NULL;
	return env;
}

struct worker_out {
	char *text; /* stdout of the worker, NUL-terminated */
	int status; /* waitpid status */
};

static int run_worker(char *const args[], const char *preload, struct worker_out *o)
{
	const char *self = tool_self_exe();
	char **env = worker_env(preload);
	size_t cap = 4096, len = 0;
	int pfd[2];
	pid_t pid;

	o->text = NULL;
	if (!self || !env || pipe2(pfd, O_CLOEXEC)) {
		free(env);
		return -errno ? -errno : -ENOMEM;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(pfd[0]);
		close(pfd[1]);
		free(env);
		return -e;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		/* A hung worker must not hang the suite; the alarm survives exec. */
		alarm(WORKER_TIMEOUT_S);
		execve(self, args, env);
		fprintf(stderr, "finalloc bench: exec %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	free(env);
	o->text = malloc(cap);
	for (;;) {
		ssize_t n;

		if (!o->text)
			break;
		if (len + 1024 > cap) {
			char *t = realloc(o->text, cap * 2);

			if (!t)
				break;
			o->text = t;
			cap *= 2;
		}
		n = read(pfd[0], o->text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (o->text)
		o->text[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &o->status, 0) < 0 && errno == EINTR)
		;
	return o->text ? 0 : -ENOMEM;
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "%s%s", strsignal(WTERMSIG(status)),
		         WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
	else
		snprintf(buf, len, "status 0x%x", status);
}

static void probe_peer(struct alloc_desc *a)
{
	char *args[] = { "finalloc", "bench", "--probe", NULL };
	struct worker_out o;
	char *impl;

	if (run_worker(args, a->preload, &o) || !WIFEXITED(o.status) || WEXITSTATUS(o.status)) {
		snprintf(a->why, sizeof(a->why), "probe run failed");
		free(o.text);
		return;
	}
	impl = strstr(o.text, "impl ");
	if (impl) {
		impl += 5;
		impl[strcspn(impl, "\n")] = '\0';
		snprintf(a->impl, sizeof(a->impl), "%s", impl);
	}
	if (impl && strstr(impl, a->match)) {
		a->available = true;
	} else if (impl && !strcmp(impl, "static")) {
		/* Statically linked (the VM image): glibc's malloc is the one
		 * built in; no peer can be preloaded. */
		if (a->preload)
			snprintf(a->why, sizeof(a->why),
			         "this finalloc is statically linked: LD_PRELOAD cannot swap "
			         "malloc");
		else
			a->available = true;
	} else if (a->preload) {
		snprintf(a->why, sizeof(a->why), "%s not found (apt-get install %s)", a->preload,
		         a->package);
	} else {
		snprintf(a->why, sizeof(a->why), "malloc comes from %s, not %s",
		         impl ? impl : "an unknown object", a->match);
	}
	free(o.text);
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
	err = run_worker(args, a->preload, &o);
	if (err) {
		note(r, "%s/%s: cannot start the worker: %s", wl_names[wl], a->name,
		     strerror(-err));
		r->failures++;
		return;
	}
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status)) {
		describe_status(o.status, st, sizeof(st));
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

/* ---- statistics and output ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct summary {
	double median, min, max;
	int n;
};

static struct summary summarize(const struct metric *m, int slot)
{
	struct summary s = { NAN, NAN, NAN, m->n[slot] };
	double v[MAX_REPS];

	if (!s.n)
		return s;
	memcpy(v, m->samples[slot], sizeof(double) * (size_t)s.n);
	qsort(v, (size_t)s.n, sizeof(double), cmp_double);
	s.min = v[0];
	s.max = v[s.n - 1];
	s.median = s.n % 2 ? v[s.n / 2] : (v[s.n / 2 - 1] + v[s.n / 2]) / 2;
	return s;
}

/* Best (lowest) peer median for m, -1 if no peer measured it. */
static int best_peer(const struct bench_run *r, const struct metric *m, double *val)
{
	int best = -1;

	for (int a = 0; a < r->nr_alloc; a++) {
		struct summary s;

		if (!r->alloc[a].peer)
			continue;
		s = summarize(m, a);
		if (s.n && (best < 0 || s.median < *val)) {
			best = a;
			*val = s.median;
		}
	}
	return best;
}

static void fmt_val(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (fabs(v) < 10)
		snprintf(buf, len, "%.2f", v);
	else if (fabs(v) < 1000)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.0f", v);
}

static void display_name(char *buf, size_t len, const char *metric)
{
	if (!strncmp(metric, "pair.", 5))
		snprintf(buf, len, "pair %s B", metric + 5);
	else if (!strcmp(metric, "prodcons"))
		snprintf(buf, len, "prodcons (per msg)");
	else if (!strncmp(metric, "prodcons.", 9))
		snprintf(buf, len, "  alloc latency %s", metric + 9);
	else if (!strcmp(metric, "large.faults"))
		snprintf(buf, len, "  minor faults");
	else
		snprintf(buf, len, "%s", metric);
}

static bool column_used(const struct bench_run *r, int a)
{
	for (int i = 0; i < r->nr_metric; i++)
		if (r->metric[i].wl != WL_TLB && r->metric[i].n[a])
			return true;
	return false;
}

static void print_table(struct bench_run *r, FILE *f)
{
	char b[32], name[40];

	fprintf(f, "%-22s %-12s", "workload", "unit");
	for (int a = 0; a < r->nr_alloc; a++)
		if (r->alloc[a].peer && column_used(r, a))
			fprintf(f, " %9s", r->alloc[a].name);
	fprintf(f, " %9s |", "best peer");
	for (int a = 0; a < r->nr_alloc; a++)
		if (!r->alloc[a].peer && column_used(r, a))
			fprintf(f, " %15s", r->alloc[a].name);
	fputc('\n', f);
	for (int i = 0; i < r->nr_metric; i++) {
		struct metric *m = &r->metric[i];
		double bv = NAN;
		int best;

		if (m->wl == WL_TLB)
			continue;
		best = best_peer(r, m, &bv);
		display_name(name, sizeof(name), m->name);
		fprintf(f, "%-22s %-12s", name, m->unit);
		for (int a = 0; a < r->nr_alloc; a++) {
			if (!r->alloc[a].peer || !column_used(r, a))
				continue;
			fmt_val(b, sizeof(b), summarize(m, a).median);
			fprintf(f, " %9s", b);
		}
		fprintf(f, " %9s |", best >= 0 ? r->alloc[best].name : "-");
		for (int a = 0; a < r->nr_alloc; a++) {
			struct summary s;
			char ratio[16] = "";

			if (r->alloc[a].peer || !column_used(r, a))
				continue;
			s = summarize(m, a);
			fmt_val(b, sizeof(b), s.median);
			/* A ratio needs both sides non-zero (e.g. 0 faults). */
			if (best >= 0 && s.n && s.median > 0 && bv > 0)
				snprintf(ratio, sizeof(ratio), "%.2fx", bv / s.median);
			fprintf(f, " %8s %6s", b, ratio);
		}
		fputc('\n', f);
	}
	if (r->cfg.wl_on[WL_TLB] && r->nr_tlb) {
		static const char *cols[] = { "tlb", "tlb.populate", "tlb.faults", "tlb.huge" };
		static const char *heads[] = { "ns/access", "ms/GiB", "faults/2MiB", "huge %" };
		char ws[32];

		fa__fmt_bytes(ws, sizeof(ws), r->cfg.tlb_bytes);
		fprintf(f, "\nrandom 8-byte reads over %s (populate: mmap + touch every 4 KiB)\n",
		        ws);
		fprintf(f, "%-22s", "pages");
		for (size_t c = 0; c < 4; c++)
			fprintf(f, " %12s", heads[c]);
		fputc('\n', f);
		for (int t = 0; t < r->nr_tlb; t++) {
			fprintf(f, "%-22s", r->tlb[t].name);
			if (r->tlb[t].why[0]) {
				fprintf(f, " skipped: %s\n", r->tlb[t].why);
				continue;
			}
			for (size_t c = 0; c < 4; c++) {
				struct metric *m = NULL;

				for (int i = 0; i < r->nr_metric; i++)
					if (!strcmp(r->metric[i].name, cols[c]))
						m = &r->metric[i];
				fmt_val(b, sizeof(b), m ? summarize(m, t).median : NAN);
				fprintf(f, " %12s", b);
			}
			fputc('\n', f);
		}
	}
}

static void print_header(struct bench_run *r, FILE *f)
{
	struct utsname u;
	bool any_missing = false;

	uname(&u);
	fprintf(f,
	        "finalloc bench: %d repetition%s, scale %g, medians; lower is better;\n"
	        "x = best peer / FinAlloc (above 1: FinAlloc is faster)\n",
	        r->cfg.reps, r->cfg.reps == 1 ? "" : "s", r->cfg.scale);
	fprintf(f,
	        "host: %s %s, %d CPUs, TSC %.3f GHz, resolution %.1f ns; latencies are net\n"
	        "of the fenced rdtsc pair (%.1f ns), so those below the resolution read as 0\n",
	        u.sysname, u.release, bench_nr_cpus(), r->tsc_per_ns, r->tsc_resolution_ns,
	        r->tsc_overhead_ns);
	if (r->cfg.wl_on[WL_CHURN] && r->cfg.churn_live != 4096)
		fprintf(f, "churn: %zu live objects\n", r->cfg.churn_live);
	fprintf(f, "peers:");
	for (int a = 0; a < r->nr_alloc; a++)
		if (r->alloc[a].peer && r->alloc[a].available)
			fprintf(f, " %s (%s)", r->alloc[a].name, r->alloc[a].impl);
	fputc('\n', f);
	for (int a = 0; a < r->nr_alloc; a++) {
		if (r->alloc[a].available || !r->alloc[a].why[0])
			continue;
		if (!any_missing)
			fprintf(f, "skipped:");
		fprintf(f, "%s %s: %s", any_missing ? ";" : "", r->alloc[a].name, r->alloc[a].why);
		any_missing = true;
	}
	if (any_missing)
		fputc('\n', f);
	fputc('\n', f);
}

/* One result: an allocator's summary of one metric, with the best peer. */
struct result_row {
	const struct metric *m;
	int slot;
	const char *alloc;
	struct summary s;
	const char *best; /* NULL: no peer to compare with */
	double best_val;
};

/* Every (metric, allocator) with samples, in table order: the JSON and CSV
 * writers print the same rows. */
static void each_result(struct bench_run *r, void (*fn)(const struct result_row *, void *),
                        void *arg)
{
	for (int i = 0; i < r->nr_metric; i++) {
		struct metric *m = &r->metric[i];
		bool tlb = m->wl == WL_TLB;
		int nslots = tlb ? r->nr_tlb : r->nr_alloc;
		double bv = NAN;
		int best = tlb ? -1 : best_peer(r, m, &bv);

		for (int a = 0; a < nslots; a++) {
			struct result_row row = {
				.m = m,
				.slot = a,
				.alloc = tlb ? r->tlb[a].name : r->alloc[a].name,
				.s = summarize(m, a),
				.best = best >= 0 ? r->alloc[best].name : NULL,
				.best_val = bv,
			};

			if (row.s.n)
				fn(&row, arg);
		}
	}
}

static void json_row(const struct result_row *row, void *arg)
{
	struct fa__json *j = arg;
	const struct summary *s = &row->s;

	fa__json_begin_obj(j, NULL);
	fa__json_str(j, "workload", wl_names[row->m->wl]);
	fa__json_str(j, "metric", row->m->name);
	fa__json_str(j, "unit", row->m->unit);
	fa__json_str(j, "allocator", row->alloc);
	fa__json_num(j, "median", s->median);
	fa__json_num(j, "min", s->min);
	fa__json_num(j, "max", s->max);
	fa__json_begin_arr(j, "samples");
	for (int k = 0; k < s->n; k++)
		fa__json_num(j, NULL, row->m->samples[row->slot][k]);
	fa__json_end_arr(j);
	if (row->best) {
		fa__json_str(j, "best_peer", row->best);
		fa__json_num(j, "ratio_to_best_peer",
		             s->median > 0 && row->best_val > 0 ? row->best_val / s->median : NAN);
	}
	fa__json_end_obj(j);
}

static void print_json(struct bench_run *r, FILE *f)
{
	struct utsname u;
	struct fa__json j;

	uname(&u);
	fa__json_init(&j, f, true);
	fa__json_begin_obj(&j, NULL);
	fa__json_begin_obj(&j, "config");
	fa__json_int(&j, "reps", r->cfg.reps);
	fa__json_num(&j, "scale", r->cfg.scale);
	fa__json_uint(&j, "tlb_bytes", r->cfg.tlb_bytes);
	fa__json_uint(&j, "churn_live", r->cfg.churn_live);
	fa__json_end_obj(&j);
	fa__json_begin_obj(&j, "host");
	fa__json_str(&j, "kernel", u.release);
	fa__json_int(&j, "cpus", bench_nr_cpus());
	fa__json_num(&j, "tsc_ghz", r->tsc_per_ns);
	fa__json_num(&j, "rdtsc_overhead_ns", r->tsc_overhead_ns);
	fa__json_num(&j, "tsc_resolution_ns", r->tsc_resolution_ns);
	fa__json_end_obj(&j);
	fa__json_begin_arr(&j, "allocators");
	for (int a = 0; a < r->nr_alloc; a++) {
		fa__json_begin_obj(&j, NULL);
		fa__json_str(&j, "name", r->alloc[a].name);
		fa__json_bool(&j, "peer", r->alloc[a].peer);
		fa__json_bool(&j, "available", r->alloc[a].available);
		fa__json_str(&j, "impl", r->alloc[a].impl[0] ? r->alloc[a].impl : NULL);
		fa__json_str(&j, "skipped", r->alloc[a].why[0] ? r->alloc[a].why : NULL);
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	fa__json_begin_arr(&j, "results");
	each_result(r, json_row, &j);
	fa__json_end_arr(&j);
	fa__json_begin_arr(&j, "notes");
	for (int i = 0; i < r->nr_notes; i++)
		fa__json_str(&j, NULL, r->notes[i]);
	fa__json_end_arr(&j);
	fa__json_int(&j, "failures", r->failures);
	fa__json_end_obj(&j);
	fa__json_end(&j);
}

static void csv_row(const struct result_row *row, void *arg)
{
	FILE *f = arg;
	const struct summary *s = &row->s;

	fprintf(f, "%s,%s,%s,%s,%.6g,%.6g,%.6g,%d,", wl_names[row->m->wl], row->m->name,
	        row->m->unit, row->alloc, s->median, s->min, s->max, s->n);
	if (row->best && s->median > 0 && row->best_val > 0)
		fprintf(f, "%s,%.4g\n", row->best, row->best_val / s->median);
	else
		fprintf(f, "%s,\n", row->best ? row->best : "");
}

static void print_csv(struct bench_run *r, FILE *f)
{
	fprintf(f, "workload,metric,unit,allocator,median,min,max,reps,best_peer,ratio_to_best_"
	           "peer\n");
	each_result(r, csv_row, f);
}

/* ---- the run ---- */

static bool family_runs(const struct alloc_desc *a, int wl)
{
	if (a->peer)
		return bench_malloc_family.run[wl] != NULL;
	for (int i = 0; bench_fa_families[i]; i++)
		if (!strcmp(bench_fa_families[i]->name, a->family))
			return bench_fa_families[i]->run[wl] != NULL;
	return false;
}

static int bench_execute(struct bench_run *r, FILE *out)
{
	static const struct {
		const char *name, *lib, *match, *pkg;
	} peers[] = {
		{ "glibc", NULL, "libc.so", "libc6" },
		{ "jemalloc", "libjemalloc.so.2", "jemalloc", "libjemalloc2" },
		{ "tcmalloc", "libtcmalloc_minimal.so.4", "tcmalloc", "libtcmalloc-minimal4" },
		{ "mimalloc", "libmimalloc.so.2", "mimalloc", "libmimalloc2.0" },
	};
	struct bench_cfg *c = &r->cfg;
	int nr_wl_jobs = 0;

	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		if (c->alloc_filter && !in_list(c->alloc_filter, peers[i].name))
			continue;
		add_alloc(r, peers[i].name, peers[i].lib, peers[i].match, peers[i].pkg, true);
		probe_peer(&r->alloc[r->nr_alloc - 1]);
	}
	for (int i = 0; bench_fa_families[i] && r->nr_alloc < MAX_ALLOCS; i++) {
		if (c->alloc_filter ? !in_list(c->alloc_filter, bench_fa_families[i]->name)
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

	if (c->json) {
		print_json(r, out);
	} else if (c->csv) {
		print_csv(r, out);
	} else {
		if (!c->tour)
			print_header(r, out);
		print_table(r, out);
		if (r->nr_notes)
			fputc('\n', out);
		for (int i = 0; i < r->nr_notes; i++)
			fprintf(out, "note: %s\n", r->notes[i]);
	}
	fflush(out);
	return r->failures ? 1 : 0;
}

static struct bench_run *bench_new(void)
{
	struct bench_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->metric = calloc(MAX_METRICS, sizeof(*r->metric));
	if (!r->metric) {
		free(r);
		return NULL;
	}
	r->cfg.reps = 5;
	r->cfg.scale = 1.0;
	r->cfg.tlb_bytes = (size_t)1 << 30;
	r->cfg.churn_live = 4096;
	r->cfg.progress = true;
	return r;
}

static void bench_free(struct bench_run *r)
{
	if (r) {
		free(r->metric);
		free(r);
	}
}

int bench_tour(void)
{
	struct bench_run *r = bench_new();
	int ret;

	if (!r)
		return tool_err("bench", "out of memory");
	r->cfg.tour = true;
	r->cfg.reps = 3;
	r->cfg.scale = 0.2;
	r->cfg.alloc_filter = "glibc,pool,arena,numa";
	r->cfg.wl_on[WL_PAIR] = r->cfg.wl_on[WL_CHURN] = r->cfg.wl_on[WL_PRODCONS] = true;
	r->cfg.wl_on[WL_BUMP] = r->cfg.wl_on[WL_LARSON] = true;
	printf("3 repetitions, short runs, medians; lower is better; x = glibc / FinAlloc\n\n");
	ret = bench_execute(r, stdout);
	bench_free(r);
	return ret;
}

int cmd_bench(int argc, char **argv)
{
	enum {
		O_REPS = 256,
		O_SCALE,
		O_ONLY,
		O_ALLOC,
		O_TLB,
		O_LIVE,
		O_JSON,
		O_CSV,
		O_QUIET,
		O_QUICK
	};
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "reps", required_argument, NULL, O_REPS },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "only", required_argument, NULL, O_ONLY },
		{ "alloc", required_argument, NULL, O_ALLOC },
		{ "tlb-mib", required_argument, NULL, O_TLB },
		{ "churn-live", required_argument, NULL, O_LIVE },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_run *r;
	const char *only = NULL;
	bool quick = false, reps_set = false, scale_set = false, tlb_set = false;
	uint64_t v;
	double d;
	int c, ret;

	/* Hidden interfaces used by the driver and scripts/bench-instructions.sh. */
	if (argc >= 2 && (!strcmp(argv[1], "--worker") || !strcmp(argv[1], "--probe")))
		return bench_worker_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "--instr"))
		return bench_instr_main(argc - 1, argv + 1);

	r = bench_new();
	if (!r)
		return tool_err("bench", "out of memory");
	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case O_QUICK:
			quick = true;
			break;
		case O_REPS:
			if (!fa__parse_u64(optarg, &v) || v < 1 || v > MAX_REPS) {
				bench_free(r);
				return tool_usage_err("bench", bench_usage,
				                      "--reps wants 1..%d, not '%s'", MAX_REPS,
				                      optarg);
			}
			r->cfg.reps = (int)v;
			reps_set = true;
			break;
		case O_SCALE:
			if (!fa__parse_double(optarg, &d) || d <= 0 || d > 1000) {
				bench_free(r);
				return tool_usage_err(
				        "bench", bench_usage,
				        "--scale wants a number in (0, 1000], not '%s'", optarg);
			}
			r->cfg.scale = d;
			scale_set = true;
			break;
		case O_ONLY:
			only = optarg;
			break;
		case O_ALLOC:
			r->cfg.alloc_filter = optarg;
			break;
		case O_TLB:
			if (!fa__parse_u64(optarg, &v) || v < 4 || v > (1u << 20)) {
				bench_free(r);
				return tool_usage_err("bench", bench_usage,
				                      "--tlb-mib wants 4..1048576, not '%s'",
				                      optarg);
			}
			r->cfg.tlb_bytes = (size_t)v << 20;
			tlb_set = true;
			break;
		case O_LIVE:
			if (!fa__parse_u64(optarg, &v) || v < 64 || v > (1u << 22) ||
			    (v & (v - 1))) {
				bench_free(r);
				return tool_usage_err("bench", bench_usage,
				                      "--churn-live wants a power of 2 in "
				                      "64..4194304, not '%s'",
				                      optarg);
			}
			r->cfg.churn_live = (size_t)v;
			break;
		case O_JSON:
			r->cfg.json = true;
			break;
		case O_CSV:
			r->cfg.csv = true;
			break;
		case O_QUIET:
			r->cfg.progress = false;
			break;
		default:
			bench_free(r);
			return tool_opt_other("bench", bench_usage, c, argv);
		}
	}
	if (optind < argc) {
		bench_free(r);
		return tool_usage_err("bench", bench_usage, "unexpected argument '%s'",
		                      argv[optind]);
	}
	if (r->cfg.json && r->cfg.csv) {
		bench_free(r);
		return tool_usage_err("bench", bench_usage, "--json and --csv exclude each other");
	}
	if (quick) {
		if (!reps_set)
			r->cfg.reps = 3;
		if (!scale_set)
			r->cfg.scale = 0.2;
		if (!tlb_set)
			r->cfg.tlb_bytes = (size_t)256 << 20;
	}
	for (int w = 0; w < WL_COUNT; w++)
		r->cfg.wl_on[w] = !only || in_list(only, wl_names[w]);
	/* Reject names that match nothing rather than silently running less. */
	for (const char *p = only; p && *p;) {
		const char *e = strchr(p, ',');
		char name[32];

		snprintf(name, sizeof(name), "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
		if (wl_parse(name) < 0) {
			bench_free(r);
			return tool_usage_err("bench", bench_usage, "unknown workload '%s'", name);
		}
		p = e ? e + 1 : NULL;
	}
	for (const char *p = r->cfg.alloc_filter; p && *p;) {
		static const char *known_peers[] = { "glibc", "jemalloc", "tcmalloc", "mimalloc" };
		const char *e = strchr(p, ',');
		char name[32];
		bool ok = false;

		snprintf(name, sizeof(name), "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
		for (size_t i = 0; i < 4; i++)
			ok |= !strcmp(name, known_peers[i]);
		for (int i = 0; bench_fa_families[i]; i++)
			ok |= !strcmp(name, bench_fa_families[i]->name);
		if (!ok) {
			bench_free(r);
			return tool_usage_err("bench", bench_usage, "unknown allocator '%s'", name);
		}
		p = e ? e + 1 : NULL;
	}
	ret = bench_execute(r, stdout);
	bench_free(r);
	return ret;
}
