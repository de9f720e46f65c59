// SPDX-License-Identifier: MIT
/*
 * `finalloc bench --html FILE`: one self-contained page (inline SVG, no
 * script, nothing fetched) drawn from the same rows as the JSON and CSV
 * (bench_each_result, bench_ratio): a bar chart of each workload's ratio
 * to the best peer, one bar per FinAlloc column, on a log scale around 1x;
 * the producer's alloc-latency percentiles, one curve per allocator, on a
 * log scale; and the text report as stdout prints it.
 */
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
	"#9c755f", "#bab0ac", "#1b9e77", "#7570b3", "#d95f02", "#e7298a", "#66a61e", "#a6761d",
};

/* An allocator's colour: by its column, the same in both charts. */
static const char *colour(int slot)
{
	return palette[slot % (int)(sizeof(palette) / sizeof(palette[0]))];
}

struct rows {
	struct result_row *row;
	int n, max;
};

static void collect(const struct result_row *row, void *arg)
{
	struct rows *c = arg;

	if (c->n < c->max)
		c->row[c->n++] = *row;
}

static void text(FILE *f, const char *s)
{
	fa__xml_text(f, s);
}

/* ---- the bar chart ---- */

#define BAR_W       960
#define BAR_LABEL   190 /* the workloads' names, left of the plot */
#define BAR_PLOT_X0 200
#define BAR_PLOT_X1 880
#define BAR_H       12
#define BAR_GAP     4
#define BAR_TOP     30

struct scale {
	double lo, hi; /* log2 of the ends */
	double x0, x1;
};

static double sx(const struct scale *s, double v)
{
	return s->x0 + (log2(v) - s->lo) / (s->hi - s->lo) * (s->x1 - s->x0);
}

/* Whether a metric gets a group: a workload's own row (not a sub-row of
 * the one above: latencies, faults), not the page-size table. */
static bool bar_metric(const struct metric *m)
{
	char name[40];

	bench_display_name(name, sizeof(name), m->name);
	return m->wl != WL_TLB && name[0] != ' ';
}

static void bar_chart(struct bench_run *r, FILE *f, const struct rows *c)
{
	double lo = 0.5, hi = 2;
	int groups = 0, bars = 0, y;
	struct scale s;

	for (int i = 0; i < c->n; i++) {
		const struct result_row *row = &c->row[i];
		double x = bench_ratio(row);

		if (row->peer || isnan(x) || !bar_metric(row->m))
			continue;
		lo = fmin(lo, x);
		hi = fmax(hi, x);
	}
	s = (struct scale){ floor(log2(lo)), ceil(log2(hi * 1.15)), BAR_PLOT_X0, BAR_PLOT_X1 };
	/* the height: one group per metric with a ratio, one bar per column */
	for (int k = 0; k < r->nr_metric; k++) {
		int n = 0;

		for (int i = 0; i < c->n; i++)
			n += c->row[i].m == &r->metric[k] && !c->row[i].peer &&
			     !isnan(bench_ratio(&c->row[i])) && bar_metric(c->row[i].m);
		groups += n > 0;
		bars += n;
	}
	fprintf(f, "<h2>Ratio to the best peer</h2>\n");
	fprintf(f, "<p>Best peer's median / FinAlloc's median, per workload and FinAlloc "
	           "column (log scale; right of 1x: FinAlloc is faster).</p>\n");
	if (!groups) {
		fprintf(f, "<p class=\"empty\">No workload has a ratio in this run (no peer "
		           "or no FinAlloc column ran).</p>\n");
		return;
	}
	fprintf(f,
	        "<svg id=\"ratios\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
	        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
	        BAR_W, BAR_TOP + groups * 2 * BAR_GAP + bars * (BAR_H + BAR_GAP) + 20, BAR_W,
	        BAR_TOP + groups * 2 * BAR_GAP + bars * (BAR_H + BAR_GAP) + 20);
	/* the grid: powers of two, 1x emphasised */
	for (double e = s.lo; e <= s.hi; e++) {
		double x = sx(&s, exp2(e));
		int h = BAR_TOP + groups * 2 * BAR_GAP + bars * (BAR_H + BAR_GAP);

		fprintf(f,
		        "<line class=\"%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
		        "<text class=\"tick\" x=\"%.1f\" y=\"%d\">%gx</text>\n",
		        e == 0 ? "one" : "grid", x, BAR_TOP - 6, x, h, x, BAR_TOP - 10, exp2(e));
	}
	y = BAR_TOP;
	for (int k = 0; k < r->nr_metric; k++) {
		const struct metric *m = &r->metric[k];
		char name[40], b[32];
		int n = 0, y0;

		for (int i = 0; i < c->n; i++)
			n += c->row[i].m == m && !c->row[i].peer &&
			     !isnan(bench_ratio(&c->row[i])) && bar_metric(m);
		if (!n)
			continue;
		bench_display_name(name, sizeof(name), m->name);
		y0 = y + BAR_GAP;
		fprintf(f, "<g class=\"workload\" data-metric=\"");
		text(f, m->name);
		fprintf(f, "\">\n<text class=\"label\" x=\"%d\" y=\"%.1f\">", BAR_LABEL,
		        y0 + n * (BAR_H + BAR_GAP) / 2.0 + 2);
		text(f, name);
		fprintf(f, "</text>\n");
		for (int i = 0; i < c->n; i++) {
			const struct result_row *row = &c->row[i];
			double x = bench_ratio(row), x1 = sx(&s, 1), xr;

			if (row->m != m || row->peer || isnan(x))
				continue;
			xr = sx(&s, x);
			bench_fmt_cell(b, sizeof(b), r, m, row->s.median);
			fprintf(f,
			        "<rect class=\"bar\" data-alloc=\"%s\" data-ratio=\"%.4g\" "
			        "x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
			        "<title>",
			        row->alloc, x, fmin(x1, xr), y0, fmax(fabs(xr - x1), 1.0), BAR_H,
			        colour(row->slot));
			fprintf(f, "%s: %.2fx (", row->alloc, x);
			text(f, b);
			fprintf(f, " %s against %s's ", m->unit, row->best);
			bench_fmt_cell(b, sizeof(b), r, m, row->best_val);
			text(f, b);
			fprintf(f,
			        ")</title></rect><text class=\"value\" x=\"%.1f\" y=\"%d\">%s "
			        "%.2fx</text>\n",
			        fmax(x1, xr) + 4, y0 + BAR_H - 2, row->alloc, x);
			y0 += BAR_H + BAR_GAP;
		}
		fprintf(f, "</g>\n");
		y = y0 + BAR_GAP;
	}
	fprintf(f, "</svg>\n");
}

/* ---- the latency curves ---- */

#define LAT_W  960
#define LAT_H  420
#define LAT_X0 90
#define LAT_X1 720
#define LAT_Y0 30 /* top */
#define LAT_Y1 370

static const char *const pct_metric[] = { "prodcons.p50", "prodcons.p99", "prodcons.p99.9",
	                                  "prodcons.p99.99", "prodcons.max" };
static const char *const pct_label[] = { "p50", "p99", "p99.9", "p99.99", "max" };
#define NR_PCT ((int)(sizeof(pct_metric) / sizeof(pct_metric[0])))

static const struct metric *find(const struct bench_run *r, const char *name)
{
	for (int i = 0; i < r->nr_metric; i++)
		if (!strcmp(r->metric[i].name, name))
			return &r->metric[i];
	return NULL;
}

static double ly(double lo, double hi, double v)
{
	return LAT_Y1 - (log10(v) - lo) / (hi - lo) * (LAT_Y1 - LAT_Y0);
}

static void latency_chart(struct bench_run *r, FILE *f, const struct rows *c)
{
	double floor_ns = r->tsc_resolution_ns > 0 ? r->tsc_resolution_ns : 1;
	double lo = floor_ns, hi = floor_ns * 10;
	const struct metric *pm[NR_PCT];
	int curves = 0, legend = 0;

	fprintf(f, "<h2>Producer's alloc latency</h2>\n");
	for (int p = 0; p < NR_PCT; p++)
		if (!(pm[p] = find(r, pct_metric[p]))) {
			fprintf(f, "<p class=\"empty\">The prodcons workload did not run: no "
			           "latencies.</p>\n");
			return;
		}
	for (int i = 0; i < c->n; i++)
		for (int p = 0; p < NR_PCT; p++)
			if (c->row[i].m == pm[p] && c->row[i].s.median > 0)
				hi = fmax(hi, c->row[i].s.median);
	lo = floor(log10(lo));
	hi = ceil(log10(hi));
	fprintf(f,
	        "<p>Each allocation of the producer timed on its own (TSC, net of the timer, "
	        "medians over the repetitions), log scale; a hollow point is below the "
	        "timer's resolution (%.1f ns) and drawn there.</p>\n",
	        r->tsc_resolution_ns);
	fprintf(f,
	        "<svg id=\"latency\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
	        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
	        LAT_W, LAT_H, LAT_W, LAT_H);
	for (double e = lo; e <= hi; e++) {
		double v = pow(10, e), y = ly(lo, hi, v);

		fprintf(f,
		        "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
		        "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g "
		        "%s</text>\n",
		        LAT_X0, y, LAT_X1, y, LAT_X0 - 6, y + 4,
		        v < 1e3   ? v
		        : v < 1e6 ? v / 1e3
		                  : v / 1e6,
		        v < 1e3   ? "ns"
		        : v < 1e6 ? "us"
		                  : "ms");
	}
	for (int p = 0; p < NR_PCT; p++) {
		double x = LAT_X0 + (LAT_X1 - LAT_X0) * (double)p / (NR_PCT - 1);

		fprintf(f,
		        "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
		        "<text class=\"tick\" x=\"%.1f\" y=\"%d\" "
		        "text-anchor=\"middle\">%s</text>\n",
		        x, LAT_Y0, x, LAT_Y1, x, LAT_Y1 + 18, pct_label[p]);
	}
	for (int a = 0; a < r->nr_alloc; a++) {
		double v[NR_PCT];
		int have = 0;

		for (int p = 0; p < NR_PCT; p++) {
			v[p] = NAN;
			for (int i = 0; i < c->n; i++)
				if (c->row[i].m == pm[p] && c->row[i].slot == a)
					v[p] = c->row[i].s.median;
			have += !isnan(v[p]);
		}
		if (have < NR_PCT)
			continue;
		fprintf(f, "<g class=\"curve\" data-alloc=\"%s\">\n<polyline points=\"",
		        r->alloc[a].name);
		for (int p = 0; p < NR_PCT; p++)
			fprintf(f, "%s%.1f,%.1f", p ? " " : "",
			        LAT_X0 + (LAT_X1 - LAT_X0) * (double)p / (NR_PCT - 1),
			        ly(lo, hi, fmax(v[p], floor_ns)));
		fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", colour(a),
		        r->alloc[a].peer ? " stroke-dasharray=\"6 3\"" : "");
		for (int p = 0; p < NR_PCT; p++) {
			char b[32];

			bench_fmt_cell(b, sizeof(b), r, pm[p], v[p]);
			fprintf(f,
			        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" stroke=\"%s\" "
			        "fill=\"%s\"><title>%s %s: ",
			        LAT_X0 + (LAT_X1 - LAT_X0) * (double)p / (NR_PCT - 1),
			        ly(lo, hi, fmax(v[p], floor_ns)), colour(a),
			        v[p] < floor_ns ? "white" : colour(a), r->alloc[a].name,
			        pct_label[p]);
			text(f, b);
			fprintf(f, " ns</title></circle>\n");
		}
		fprintf(f,
		        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
		        "stroke-width=\"2\"%s/><text class=\"legend\" x=\"%d\" "
		        "y=\"%d\">%s%s</text>\n",
		        LAT_X1 + 30, LAT_Y0 + 20 * legend, LAT_X1 + 60, LAT_Y0 + 20 * legend,
		        colour(a), r->alloc[a].peer ? " stroke-dasharray=\"6 3\"" : "", LAT_X1 + 66,
		        LAT_Y0 + 20 * legend + 4, r->alloc[a].name,
		        r->alloc[a].peer ? " (peer)" : "");
		fprintf(f, "</g>\n");
		legend++;
		curves++;
	}
	fprintf(f, "</svg>\n");
	if (!curves)
		fprintf(f, "<p class=\"empty\">No allocator has all five percentiles.</p>\n");
}

/* ---- the page ---- */

static const char style[] = "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}"
                            "h1{font-size:22px}h2{font-size:18px;margin-top:28px}"
                            ".meta{color:#555;font-size:13px}"
                            ".chart text{font-size:12px;fill:#222}"
                            ".chart .label{text-anchor:end}"
                            ".chart .tick{fill:#666;font-size:11px}"
                            ".chart .grid{stroke:#ddd;stroke-width:1}"
                            ".chart .one{stroke:#444;stroke-width:1.5}"
                            ".chart .value{font-size:11px}"
                            "pre{font-size:12px;background:#f6f6f6;padding:12px;overflow-x:auto}";

int bench_report_html(struct bench_run *r, FILE *f)
{
	struct rows c = { .max = MAX_METRICS * (MAX_ALLOCS + 8) };
	char *txt = NULL, day[64];
	size_t txt_len = 0;
	struct utsname u;
	FILE *mem;
	time_t now = time(NULL);
	struct tm tm;

	c.row = calloc((size_t)c.max, sizeof(*c.row));
	if (!c.row)
		return -ENOMEM;
	bench_each_result(r, collect, &c);
	uname(&u);
	if (!gmtime_r(&now, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(day, sizeof(day), "?");

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	           "<title>finalloc bench</title>\n<style>");
	fputs(style, f);
	fprintf(f, "</style>\n</head>\n<body>\n<h1>finalloc bench</h1>\n<p class=\"meta\">");
	fprintf(f,
	        "%s; %d repetition%s, scale %g, medians; lower is better in the table. Host: ", day,
	        r->cfg.reps, r->cfg.reps == 1 ? "" : "s", r->cfg.scale);
	text(f, u.sysname);
	fputc(' ', f);
	text(f, u.release);
	fprintf(f, ", %d CPUs, TSC %.3f GHz. Peers:", bench_nr_cpus(), r->tsc_per_ns);
	for (int a = 0; a < r->nr_alloc; a++) {
		if (!r->alloc[a].peer || !r->alloc[a].available)
			continue;
		fprintf(f, " %s (", r->alloc[a].name);
		text(f, r->alloc[a].impl);
		fputc(')', f);
	}
	fprintf(f, ".</p>\n");
	bar_chart(r, f, &c);
	latency_chart(r, f, &c);

	/* The table as stdout prints it: the same figures, in words. */
	mem = open_memstream(&txt, &txt_len);
	if (mem) {
		bench_report_text(r, mem);
		fclose(mem);
	}
	fprintf(f, "<h2>Table</h2>\n<pre id=\"table\">");
	if (txt)
		text(f, txt);
	fprintf(f, "</pre>\n</body>\n</html>\n");
	free(txt);
	free(c.row);
	return ferror(f) ? -EIO : 0;
}
