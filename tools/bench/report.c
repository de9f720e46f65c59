// SPDX-License-Identifier: MIT
/*
 * The benchmark's report: each metric's samples summarised (median, min,
 * max), FinAlloc's ratio to the best peer, and the ways to print them (the
 * text table, JSON, CSV here; the HTML page in html.c).  JSON, CSV and the
 * page's charts walk the same rows (bench_each_result), the table is laid
 * out for a terminal; the page embeds it as printed.
 */
#include "driver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct summary bench_summarize(const struct metric *m, int slot)
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

int bench_best_peer(const struct bench_run *r, const struct metric *m, double *val)
{
	int best = -1;

	for (int a = 0; a < r->nr_alloc; a++) {
		struct summary s;

		if (!r->alloc[a].peer)
			continue;
		s = bench_summarize(m, a);
		if (s.n && (best < 0 || s.median < *val)) {
			best = a;
			*val = s.median;
		}
	}
	return best;
}

void bench_fmt_val(char *buf, size_t len, double v)
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

/* A latency under the timer's resolution reads "<R" (R in ns), not 0.00:
 * below it the figure is the resolution's noise, not the allocator's. */
bool bench_is_latency(const struct metric *m)
{
	const char *dot = strrchr(m->name, '.');

	return dot && !strcmp(m->unit, "ns") && (dot[1] == 'p' || !strcmp(dot, ".max"));
}

void bench_fmt_cell(char *buf, size_t len, const struct bench_run *r, const struct metric *m,
                    double v)
{
	double res = r->tsc_resolution_ns;

	if (!isnan(v) && bench_is_latency(m) && res > 0 && v < res)
		snprintf(buf, len, "<%.0f", res);
	else
		bench_fmt_val(buf, len, v);
}

void bench_display_name(char *buf, size_t len, const char *metric)
{
	size_t n = strlen(metric);

	if (n > 4 && !strcmp(metric + n - 4, ".rss"))
		snprintf(buf, len, "  peak RSS");
	else if (!strncmp(metric, "pair.", 5))
		snprintf(buf, len, "pair %s B", metric + 5);
	else if (!strcmp(metric, "prodcons"))
		snprintf(buf, len, "prodcons (per msg)");
	else if (!strncmp(metric, "prodcons.", 9))
		snprintf(buf, len, "  alloc latency %s", metric + 9);
	else if (!strcmp(metric, "large.faults"))
		snprintf(buf, len, "  minor faults");
	else if (!strcmp(metric, "pmr.mono"))
		snprintf(buf, len, "pmr monotonic");
	else if (!strcmp(metric, "pmr.unsync"))
		snprintf(buf, len, "pmr unsync pool");
	else if (!strcmp(metric, "pmr.sync"))
		snprintf(buf, len, "pmr sync pool");
	else if (!strcmp(metric, "map.churn"))
		snprintf(buf, len, "unordered_map churn");
	else
		snprintf(buf, len, "%s", metric);
}

bool bench_column_used(const struct bench_run *r, int a)
{
	for (int i = 0; i < r->nr_metric; i++)
		if (r->metric[i].wl != WL_TLB && r->metric[i].n[a])
			return true;
	return false;
}

/* Rows the geometric means take: times per operation, and peak RSS. */
static bool is_time(const struct metric *m)
{
	return !strncmp(m->unit, "ns/", 3) || !strncmp(m->unit, "us/", 3);
}

static bool is_rss(const struct metric *m)
{
	size_t n = strlen(m->name);

	return n > 4 && !strcmp(m->name + n - 4, ".rss");
}

static void print_geomean(struct bench_run *r, FILE *f, const char *what, const double *sum,
                          const int *n)
{
	fprintf(f, "%-22s %-12s", what, "x");
	for (int a = 0; a < r->nr_alloc; a++)
		if (r->alloc[a].peer && bench_column_used(r, a))
			fprintf(f, " %9s", "");
	fprintf(f, " %9s |", "");
	for (int a = 0; a < r->nr_alloc; a++) {
		char ratio[16] = "";

		if (r->alloc[a].peer || !bench_column_used(r, a))
			continue;
		if (n[a])
			snprintf(ratio, sizeof(ratio), "%.2fx", exp(sum[a] / n[a]));
		fprintf(f, " %8s %6s", "", ratio);
	}
	fputc('\n', f);
}

static void print_table(struct bench_run *r, FILE *f)
{
	char b[32], name[40];
	double lt[MAX_ALLOCS] = { 0 }, lr[MAX_ALLOCS] = { 0 };
	int nt[MAX_ALLOCS] = { 0 }, nr[MAX_ALLOCS] = { 0 };

	fprintf(f, "%-22s %-12s", "workload", "unit");
	for (int a = 0; a < r->nr_alloc; a++)
		if (r->alloc[a].peer && bench_column_used(r, a))
			fprintf(f, " %9s", r->alloc[a].name);
	fprintf(f, " %9s |", "best peer");
	for (int a = 0; a < r->nr_alloc; a++)
		if (!r->alloc[a].peer && bench_column_used(r, a))
			fprintf(f, " %15s", r->alloc[a].name);
	fputc('\n', f);
	for (int i = 0; i < r->nr_metric; i++) {
		struct metric *m = &r->metric[i];
		double bv = NAN;
		int best;

		if (m->wl == WL_TLB)
			continue;
		best = bench_best_peer(r, m, &bv);
		bench_display_name(name, sizeof(name), m->name);
		fprintf(f, "%-22s %-12s", name, m->unit);
		for (int a = 0; a < r->nr_alloc; a++) {
			if (!r->alloc[a].peer || !bench_column_used(r, a))
				continue;
			bench_fmt_cell(b, sizeof(b), r, m, bench_summarize(m, a).median);
			fprintf(f, " %9s", b);
		}
		fprintf(f, " %9s |", best >= 0 ? r->alloc[best].name : "-");
		for (int a = 0; a < r->nr_alloc; a++) {
			struct summary s;
			char ratio[16] = "";

			if (r->alloc[a].peer || !bench_column_used(r, a))
				continue;
			s = bench_summarize(m, a);
			bench_fmt_cell(b, sizeof(b), r, m, s.median);
			/* A ratio needs both sides non-zero (e.g. 0 faults) and,
			 * for latencies, both above the timer's resolution. */
			if (best >= 0 && s.n && s.median > 0 && bv > 0 &&
			    !(bench_is_latency(m) &&
			      (s.median < r->tsc_resolution_ns || bv < r->tsc_resolution_ns))) {
				snprintf(ratio, sizeof(ratio), "%.2fx", bv / s.median);
				if (is_time(m)) {
					lt[a] += log(bv / s.median);
					nt[a]++;
				} else if (is_rss(m)) {
					lr[a] += log(bv / s.median);
					nr[a]++;
				}
			}
			fprintf(f, " %8s %6s", b, ratio);
		}
		fputc('\n', f);
	}
	print_geomean(r, f, "geomean: time", lt, nt);
	print_geomean(r, f, "geomean: peak RSS", lr, nr);
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
				bench_fmt_val(b, sizeof(b), m ? bench_summarize(m, t).median : NAN);
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
	        "of the fenced rdtsc pair (%.1f ns); those below the resolution read \"<R\"\n",
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

double bench_ratio(const struct result_row *row)
{
	if (!row->best || !(row->s.median > 0) || !(row->best_val > 0))
		return NAN;
	return row->best_val / row->s.median;
}

void bench_each_result(struct bench_run *r, void (*fn)(const struct result_row *, void *),
                       void *arg)
{
	for (int i = 0; i < r->nr_metric; i++) {
		struct metric *m = &r->metric[i];
		bool tlb = m->wl == WL_TLB;
		int nslots = tlb ? r->nr_tlb : r->nr_alloc;
		double bv = NAN;
		int best = tlb ? -1 : bench_best_peer(r, m, &bv);

		for (int a = 0; a < nslots; a++) {
			struct result_row row = {
				.m = m,
				.slot = a,
				.alloc = tlb ? r->tlb[a].name : r->alloc[a].name,
				.peer = !tlb && r->alloc[a].peer,
				.s = bench_summarize(m, a),
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
		fa__json_num(j, "ratio_to_best_peer", bench_ratio(row));
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
	bench_each_result(r, json_row, &j);
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
	if (!isnan(bench_ratio(row)))
		fprintf(f, "%s,%.4g\n", row->best, bench_ratio(row));
	else
		fprintf(f, "%s,\n", row->best ? row->best : "");
}

static void print_csv(struct bench_run *r, FILE *f)
{
	fprintf(f, "workload,metric,unit,allocator,median,min,max,reps,best_peer,ratio_to_best_"
	           "peer\n");
	bench_each_result(r, csv_row, f);
}

void bench_report_text(struct bench_run *r, FILE *out)
{
	if (!r->cfg.tour)
		print_header(r, out);
	else if (r->cfg.wl_on[WL_PRODCONS])
		fprintf(out, "latencies: timer resolution %.1f ns; \"<%.0f\" is below it\n\n",
		        r->tsc_resolution_ns, r->tsc_resolution_ns);
	print_table(r, out);
	if (r->nr_notes)
		fputc('\n', out);
	for (int i = 0; i < r->nr_notes; i++)
		fprintf(out, "note: %s\n", r->notes[i]);
}

void bench_report(struct bench_run *r, FILE *out)
{
	if (r->cfg.json)
		print_json(r, out);
	else if (r->cfg.csv)
		print_csv(r, out);
	else
		bench_report_text(r, out);
	fflush(out);
}
