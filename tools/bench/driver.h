/* SPDX-License-Identifier: MIT */
/*
 * The benchmark driver's side: what one `finalloc bench` run is (its
 * configuration, its columns, the samples the workers sent back), shared by
 * the options (cmd_bench.c), the run loop (run.c), the worker processes
 * (child.c) and the output (report.c).  The workers' side is bench.h.
 */
#ifndef FA_BENCH_DRIVER_H
#define FA_BENCH_DRIVER_H

#include "bench.h"

#define MAX_ALLOCS  16
#define MAX_REPS    64
#define MAX_METRICS 64

/* A column: an allocator (or, for the tlb workload, a page backing). */
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

/* One "R metric unit value" name from the workers, its samples per column. */
struct metric {
	char name[32];
	char unit[16];
	int wl;
	/* samples[alloc][rep] */
	double samples[MAX_ALLOCS][MAX_REPS];
	int n[MAX_ALLOCS];
};

/* What to run: set by the options (cmd_bench.c), read by everything after. */
struct bench_cfg {
	int reps;
	double scale;
	size_t tlb_bytes;
	size_t churn_live;
	bool wl_on[WL_COUNT];
	bool json, csv, progress, tour;
	const char *html;         /* --html FILE or NULL */
	const char *alloc_filter; /* comma list or NULL */
};

/* One run: the allocators, the samples collected, the notes to print. */
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

/* ---- run.c ---- */
/* The defaults: 5 repetitions, scale 1, 1 GiB tlb set, 4096 live objects. */
void bench_cfg_init(struct bench_cfg *cfg);
/* Run every (workload, allocator) job and print the report on stdout:
 * 0, or 1 if a job failed. */
int bench_run(const struct bench_cfg *cfg);
/* Whether name is one of a comma-separated list. */
bool bench_in_list(const char *list, const char *name);
/* Whether --alloc knows name: a peer or one of FinAlloc's families. */
bool bench_known_alloc(const char *name);

/* ---- child.c ---- */
struct worker_out {
	char *text; /* stdout of the worker, NUL-terminated */
	int status; /* waitpid status */
};
/* Re-execute this program with args and LD_PRELOAD=preload (NULL: none),
 * collect its stdout and exit status: 0 or -errno. */
int bench_run_worker(char *const args[], const char *preload, struct worker_out *o);
/* A worker's waitpid status in words ("exit 1", "Alarm clock (timed out)"). */
void bench_describe_status(int status, char *buf, size_t len);
/* Ask a worker which malloc it got: sets a->available, a->impl or a->why. */
void bench_probe_peer(struct alloc_desc *a);

/* ---- report.c: the one data model every output is printed from ---- */
struct summary {
	double median, min, max;
	int n;
};
/* One result: an allocator's summary of one metric, with the best peer. */
struct result_row {
	const struct metric *m;
	int slot;
	const char *alloc;
	bool peer;
	struct summary s;
	const char *best; /* NULL: no peer to compare with */
	double best_val;
};
struct summary bench_summarize(const struct metric *m, int slot);
/* Best (lowest) peer median for m, -1 if no peer measured it. */
int bench_best_peer(const struct bench_run *r, const struct metric *m, double *val);
/* best peer / this row's median; NAN without a peer or with a 0 on a side. */
double bench_ratio(const struct result_row *row);
/* Every (metric, allocator) with samples, in table order: the JSON and CSV
 * writers and the HTML charts print the same rows. */
void bench_each_result(struct bench_run *r, void (*fn)(const struct result_row *, void *),
                       void *arg);
/* A figure as the table prints it ("-" for NAN); _cell also writes a
 * latency under the timer's resolution as "<R". */
void bench_fmt_val(char *buf, size_t len, double v);
void bench_fmt_cell(char *buf, size_t len, const struct bench_run *r, const struct metric *m,
                    double v);
bool bench_is_latency(const struct metric *m);
/* The table's name of a metric; a row of the one above starts with "  ". */
void bench_display_name(char *buf, size_t len, const char *metric);
bool bench_column_used(const struct bench_run *r, int a);
/* The text report (header, table, notes) as stdout gets it without
 * --json/--csv. */
void bench_report_text(struct bench_run *r, FILE *out);
/* The results as text (the table), JSON or CSV, as r->cfg asks. */
void bench_report(struct bench_run *r, FILE *out);

/* ---- html.c ---- */
/* The page of --html: the bar chart of ratios, the latency curves, the
 * text report; 0 or -errno (of writing f). */
int bench_report_html(struct bench_run *r, FILE *f);

#endif /* FA_BENCH_DRIVER_H */
