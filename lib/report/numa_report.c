// SPDX-License-Identifier: MIT
/*
 * NUMA profile reports: a terminal table, a standalone SVG chart and a
 * self-contained HTML page (inline SVG and CSS, no scripts, no fetches).
 * Per node two bars: the node's memory (module-pinned, other used, free)
 * and the library's memory on it (in use, fragmented, idle).
 */
#include "finalloc.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* fa__fmt_bytes, returning buf for use inside printf arguments. */
static const char *human(uint64_t b, char *buf, size_t len)
{
	fa__fmt_bytes(buf, len, b);
	return buf;
}

#define C_PINNED "#1f77b4"
#define C_USED   "#9e9e9e"
#define C_FREE   "#e6e6e6"
#define C_INUSE  "#2ca02c"
#define C_FRAG   "#ff7f0e"
#define C_IDLE   "#f2c500"
#define C_BAD    "#d62728"

static void node_label(const struct fa_numa_profile_node *pn, char *buf, size_t len)
{
	if (!pn->has_memory)
		snprintf(buf, len, "node %d: %d CPU%s, no memory (served by node %d)", pn->node,
		         pn->nr_cpus, pn->nr_cpus == 1 ? "" : "s", pn->mem_node);
	else if (!pn->nr_cpus)
		snprintf(buf, len, "node %d: memory only", pn->node);
	else
		snprintf(buf, len, "node %d: %d CPU%s", pn->node, pn->nr_cpus,
		         pn->nr_cpus == 1 ? "" : "s");
}

static uint64_t sys_other(const struct fa_numa_profile_node *pn)
{
	return pn->mem_used > pn->kmod_pinned ? pn->mem_used - pn->kmod_pinned : 0;
}

/* ---- text ---- */

static void text_bar(FILE *f, const uint64_t *part, const char *sym, int nparts, uint64_t total,
                     int width)
{
	int used = 0;

	fputc('[', f);
	for (int i = 0; i < nparts && total; i++) {
		int w = (int)((double)part[i] / (double)total * width + 0.5);

		if (used + w > width)
			w = width - used;
		for (int k = 0; k < w; k++)
			fputc(sym[i], f);
		used += w;
	}
	for (; used < width; used++)
		fputc('.', f);
	fputc(']', f);
}

static void report_text(const struct fa_numa_profile *p, FILE *f)
{
	char t[64], a[32], b[32], c[32], d[32], e[32];

	fa__fmt_time(t, sizeof(t), p->time_ns);
	fprintf(f, "FinAlloc NUMA profile, %s: %d node%s, module %s, %d allocator%s, %d thread%s\n",
	        t, p->nr_nodes, p->nr_nodes == 1 ? "" : "s",
	        p->kmod_loaded ? "loaded" : "not loaded", p->nr_allocators,
	        p->nr_allocators == 1 ? "" : "s", p->nr_threads, p->nr_threads == 1 ? "" : "s");
	for (int i = 0; i < p->nr_nodes; i++) {
		const struct fa_numa_profile_node *pn = &p->node[i];
		const struct fa_numa_node_stats *s = &pn->lib;
		uint64_t sys[3] = { pn->kmod_pinned, sys_other(pn), pn->mem_free };
		uint64_t lib[3] = { s->in_use, s->fragmented, s->idle };
		char label[96];

		node_label(pn, label, sizeof(label));
		fprintf(f, "\n%s\n", label);
		if (pn->has_memory) {
			fprintf(f, "  system  ");
			text_bar(f, sys, "P#", 2, pn->mem_total, 40);
			fprintf(f, " %s used of %s, %s free; module pinned %s\n",
			        human(pn->mem_used, a, sizeof(a)),
			        human(pn->mem_total, b, sizeof(b)),
			        human(pn->mem_free, c, sizeof(c)),
			        human(pn->kmod_pinned, d, sizeof(d)));
			fprintf(f, "  library ");
			text_bar(f, lib, "#fi", 3, s->mapped, 40);
			fprintf(f, " %s in use, %s fragmented, %s idle of %s mapped\n",
			        human(s->in_use, a, sizeof(a)), human(s->fragmented, b, sizeof(b)),
			        human(s->idle, c, sizeof(c)), human(s->mapped, e, sizeof(e)));
			fprintf(f,
			        "  objects live %llu (allocs %llu, frees %llu); hugetlb pages "
			        "%llu/%llu free\n",
			        (unsigned long long)s->live_objects, (unsigned long long)s->allocs,
			        (unsigned long long)s->frees, (unsigned long long)pn->huge_free,
			        (unsigned long long)pn->huge_total);
		}
		fprintf(f,
		        "  remote allocs %llu, remote frees %llu, spills out %llu / in %llu, "
		        "exhausted %llu, misplaced %llu%s\n",
		        (unsigned long long)s->remote_allocs, (unsigned long long)s->remote_frees,
		        (unsigned long long)s->spills_out, (unsigned long long)s->spills_in,
		        (unsigned long long)s->exhausted, (unsigned long long)s->misplaced,
		        s->misplaced ? "  <-- MISPLACED MEMORY" : "");
		if (s->chunks_in || s->chunks_out || s->slab_moves_in || s->slab_moves_out ||
		    s->move_failures)
			fprintf(f,
			        "  balance: idle maps in %llu / out %llu (refused %llu), pool "
			        "budget "
			        "in %s / out %s, share now %s\n",
			        (unsigned long long)s->chunks_in, (unsigned long long)s->chunks_out,
			        (unsigned long long)s->move_failures,
			        human(s->slab_bytes_in, a, sizeof(a)),
			        human(s->slab_bytes_out, b, sizeof(b)),
			        human(s->cap, c, sizeof(c)));
		for (int k = 0; k < pn->nr_kstats; k++)
			fprintf(f, "%s%s %llu%s", k ? ", " : "  module: ", pn->kstat[k].name,
			        (unsigned long long)pn->kstat[k].value,
			        k == pn->nr_kstats - 1 ? "\n" : "");
	}
	fprintf(f, "\nlegend: system P = module pinned, # = other used, . = free; "
	           "library # = in use, f = fragmented, i = idle, . = (none)\n");
	if (p->nr_nodes > 1) {
		fprintf(f, "distances:\n      ");
		for (int j = 0; j < p->nr_nodes; j++)
			fprintf(f, "%5d", p->node[j].node);
		fputc('\n', f);
		for (int i = 0; i < p->nr_nodes; i++) {
			fprintf(f, "  %3d ", p->node[i].node);
			for (int j = 0; j < p->nr_nodes; j++)
				fprintf(f, "%5d", p->distance[i][j]);
			fputc('\n', f);
		}
	}
}

/* ---- SVG ---- */

#define SVG_W 960
#define BAR_X 250
#define BAR_W 440
#define ROW_H 104

static void seg(FILE *f, double x, double y, double w, double h, const char *color,
                const char *what, uint64_t bytes)
{
	char hb[32];

	if (w <= 0)
		return;
	fprintf(f,
	        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
	        "<title>%s: %s (%llu bytes)</title></rect>\n",
	        x, y, w, h, color, what, human(bytes, hb, sizeof(hb)), (unsigned long long)bytes);
}

/* One stacked bar of n parts scaled so that scale bytes = BAR_W pixels. */
static void bar(FILE *f, double y, const uint64_t *part, const char *const *color,
                const char *const *what, int n, uint64_t total, uint64_t scale)
{
	double x = BAR_X, full = scale ? (double)total / (double)scale * BAR_W : 0;

	fprintf(f,
	        "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"18\" fill=\"none\" "
	        "stroke=\"#555\" stroke-width=\"0.5\"/>\n",
	        BAR_X, y, full);
	for (int i = 0; i < n && total; i++) {
		double w = (double)part[i] / (double)total * full;

		seg(f, x, y, w, 18, color[i], what[i], part[i]);
		x += w;
	}
}

static void svg_text(FILE *f, double x, double y, const char *attrs, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s>", x, y, attrs);
	fa__xml_text(f, s);
	fputs("</text>\n", f);
}

static void report_svg(const struct fa_numa_profile *p, FILE *f)
{
	static const char *const sys_c[] = { C_PINNED, C_USED, C_FREE };
	static const char *const sys_w[] = { "module pinned", "other used", "free" };
	static const char *const lib_c[] = { C_INUSE, C_FRAG, C_IDLE };
	static const char *const lib_w[] = { "in use", "fragmented", "idle" };
	uint64_t max_total = 0, max_res = 0;
	int h = 70 + p->nr_nodes * ROW_H + 60;
	char t[64], line[256], a[32], b[32], c[32], d[32];

	for (int i = 0; i < p->nr_nodes; i++) {
		if (p->node[i].mem_total > max_total)
			max_total = p->node[i].mem_total;
		if (p->node[i].lib.mapped > max_res)
			max_res = p->node[i].lib.mapped;
	}
	fa__fmt_time(t, sizeof(t), p->time_ns);
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n",
	        SVG_W, h, SVG_W, h);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W,
	        h);
	snprintf(line, sizeof(line), "FinAlloc NUMA profile, %s", t);
	svg_text(f, 16, 26, " font-size=\"18\" font-weight=\"bold\"", line);
	snprintf(line, sizeof(line),
	         "%d node%s, module %s, %d allocator%s, %d thread%s; "
	         "system bars to scale across nodes, library bars to the largest reservation",
	         p->nr_nodes, p->nr_nodes == 1 ? "" : "s", p->kmod_loaded ? "loaded" : "not loaded",
	         p->nr_allocators, p->nr_allocators == 1 ? "" : "s", p->nr_threads,
	         p->nr_threads == 1 ? "" : "s");
	svg_text(f, 16, 46, " fill=\"#444\"", line);

	for (int i = 0; i < p->nr_nodes; i++) {
		const struct fa_numa_profile_node *pn = &p->node[i];
		const struct fa_numa_node_stats *s = &pn->lib;
		double y = 70 + i * ROW_H;
		uint64_t sys[3] = { pn->kmod_pinned, sys_other(pn), pn->mem_free };
		uint64_t lib[3] = { s->in_use, s->fragmented, s->idle };

		fprintf(f, "<g id=\"node%d\">\n", pn->node);
		node_label(pn, line, sizeof(line));
		svg_text(f, 16, y + 14, " font-weight=\"bold\"", line);
		svg_text(f, 16, y + 36, "", "system memory");
		svg_text(f, 16, y + 60, "", "library memory");
		if (pn->has_memory) {
			bar(f, y + 22, sys, sys_c, sys_w, 3, pn->mem_total, max_total);
			snprintf(line, sizeof(line), "%s used of %s",
			         human(pn->mem_used, a, sizeof(a)),
			         human(pn->mem_total, b, sizeof(b)));
			svg_text(f, BAR_X + BAR_W + 12, y + 36, "", line);
			if (s->mapped) {
				bar(f, y + 46, lib, lib_c, lib_w, 3, s->mapped, max_res);
				snprintf(line, sizeof(line), "%s in use, %s frag., %s idle",
				         human(s->in_use, a, sizeof(a)),
				         human(s->fragmented, b, sizeof(b)),
				         human(s->idle, c, sizeof(c)));
				svg_text(f, BAR_X + BAR_W + 12, y + 60, "", line);
			} else {
				svg_text(f, BAR_X, y + 60, " fill=\"#777\"", "none mapped");
			}
		} else {
			svg_text(f, BAR_X, y + 36, " fill=\"#777\"", "no memory on this node");
		}
		snprintf(line, sizeof(line),
		         "remote allocs %llu, remote frees %llu, spills out %llu "
		         "/ in %llu, module pinned %s",
		         (unsigned long long)s->remote_allocs, (unsigned long long)s->remote_frees,
		         (unsigned long long)s->spills_out, (unsigned long long)s->spills_in,
		         human(pn->kmod_pinned, d, sizeof(d)));
		svg_text(f, BAR_X, y + 82, " fill=\"#333\"", line);
		if (s->misplaced) {
			snprintf(line, sizeof(line), "%llu misplaced pages",
			         (unsigned long long)s->misplaced);
			svg_text(f, BAR_X + BAR_W + 12, y + 82,
			         " fill=\"" C_BAD "\" font-weight=\"bold\"", line);
		}
		fputs("</g>\n", f);
	}
	/* legend */
	{
		static const char *const lc[] = {
			C_PINNED, C_USED, C_FREE, C_INUSE, C_FRAG, C_IDLE
		};
		static const char *const lw[] = { "module pinned",  "other used", "free",
			                          "library in use", "fragmented", "idle" };
		double y = 70 + p->nr_nodes * ROW_H + 16;

		fputs("<g id=\"legend\">\n", f);
		for (int i = 0; i < 6; i++) {
			double x = 16 + i * 150;

			fprintf(f,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
			        "fill=\"%s\" "
			        "stroke=\"#555\" stroke-width=\"0.5\"/>\n",
			        x, y, lc[i]);
			svg_text(f, x + 20, y + 12, "", lw[i]);
		}
		fputs("</g>\n", f);
	}
	fputs("</svg>\n", f);
}

/* ---- HTML ---- */

static void td_bytes(FILE *f, uint64_t b)
{
	char hb[32];

	fprintf(f, "<td title=\"%llu bytes\">%s</td>", (unsigned long long)b,
	        human(b, hb, sizeof(hb)));
}

static void report_html(const struct fa_numa_profile *p, FILE *f)
{
	char t[64], label[96];

	fa__fmt_time(t, sizeof(t), p->time_ns);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", f);
	fprintf(f, "<title>FinAlloc NUMA profile %s</title>\n", t);
	fputs("<style>\n"
	      "body{font-family:sans-serif;margin:24px;color:#222}\n"
	      "table{border-collapse:collapse;margin:12px 0}\n"
	      "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\n"
	      "th{background:#f3f3f3}\n"
	      "td.l,th.l{text-align:left}\n"
	      ".bad{color:" C_BAD ";font-weight:bold}\n"
	      "</style>\n</head>\n<body>\n",
	      f);
	fprintf(f,
	        "<h1>FinAlloc NUMA profile</h1>\n<p>%s: %d node%s, module %s, %d allocator%s, "
	        "%d registered thread%s.</p>\n",
	        t, p->nr_nodes, p->nr_nodes == 1 ? "" : "s",
	        p->kmod_loaded ? "loaded" : "not loaded", p->nr_allocators,
	        p->nr_allocators == 1 ? "" : "s", p->nr_threads, p->nr_threads == 1 ? "" : "s");
	report_svg(p, f);

	fputs("<h2>Per node</h2>\n<table>\n<tr><th class=\"l\">node</th><th>mem total</th>"
	      "<th>mem used</th><th>mem free</th><th>module pinned</th><th>library in use</th>"
	      "<th>fragmented</th><th>idle</th><th>mapped</th><th>live objects</th>"
	      "<th>remote allocs</th><th>remote frees</th><th>spills out</th><th>spills in</th>"
	      "<th>exhausted</th><th>misplaced</th><th>idle maps in/out</th>"
	      "<th>pool budget in</th><th>pool budget out</th></tr>\n",
	      f);
	for (int i = 0; i < p->nr_nodes; i++) {
		const struct fa_numa_profile_node *pn = &p->node[i];
		const struct fa_numa_node_stats *s = &pn->lib;

		node_label(pn, label, sizeof(label));
		fputs("<tr><td class=\"l\">", f);
		fa__xml_text(f, label);
		fputs("</td>", f);
		td_bytes(f, pn->mem_total);
		td_bytes(f, pn->mem_used);
		td_bytes(f, pn->mem_free);
		td_bytes(f, pn->kmod_pinned);
		td_bytes(f, s->in_use);
		td_bytes(f, s->fragmented);
		td_bytes(f, s->idle);
		td_bytes(f, s->mapped);
		fprintf(f,
		        "<td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</"
		        "td><td>%llu</td>"
		        "<td%s>%llu</td><td>%llu/%llu</td>",
		        (unsigned long long)s->live_objects, (unsigned long long)s->remote_allocs,
		        (unsigned long long)s->remote_frees, (unsigned long long)s->spills_out,
		        (unsigned long long)s->spills_in, (unsigned long long)s->exhausted,
		        s->misplaced ? " class=\"bad\"" : "", (unsigned long long)s->misplaced,
		        (unsigned long long)s->chunks_in, (unsigned long long)s->chunks_out);
		td_bytes(f, s->slab_bytes_in);
		td_bytes(f, s->slab_bytes_out);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);

	fputs("<h2>Module (/sys/kernel/finalloc)</h2>\n", f);
	if (!p->kmod_loaded) {
		fputs("<p>Not loaded.</p>\n", f);
	} else {
		fputs("<table>\n<tr><th class=\"l\">node</th><th class=\"l\">counter</th>"
		      "<th>value</th></tr>\n",
		      f);
		for (int i = 0; i < p->nr_nodes; i++)
			for (int k = 0; k < p->node[i].nr_kstats; k++) {
				fprintf(f, "<tr><td class=\"l\">%d</td><td class=\"l\">",
				        p->node[i].node);
				fa__xml_text(f, p->node[i].kstat[k].name);
				fprintf(f, "</td><td>%llu</td></tr>\n",
				        (unsigned long long)p->node[i].kstat[k].value);
			}
		fputs("</table>\n", f);
	}

	fputs("<h2>Distances</h2>\n<table>\n<tr><th class=\"l\">from \\ to</th>", f);
	for (int j = 0; j < p->nr_nodes; j++)
		fprintf(f, "<th>%d</th>", p->node[j].node);
	fputs("</tr>\n", f);
	for (int i = 0; i < p->nr_nodes; i++) {
		fprintf(f, "<tr><th class=\"l\">%d</th>", p->node[i].node);
		for (int j = 0; j < p->nr_nodes; j++)
			fprintf(f, "<td>%d</td>", p->distance[i][j]);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n<p>Fragmented: carved into slabs but free. Idle: mapped for the node, "
	      "not carved yet (and arena chunk tails). Misplaced: pages found on another node "
	      "than intended (move_pages or the device query).</p>\n</body>\n</html>\n",
	      f);
}

int fa_numa_report(const struct fa_numa_profile *p, int format, FILE *f)
{
	if (!p || !f || p->nr_nodes < 0 || p->nr_nodes > FA_MAX_NODES)
		return -EINVAL;
	switch (format) {
	case FA_NUMA_REPORT_TEXT:
		report_text(p, f);
		break;
	case FA_NUMA_REPORT_SVG:
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
		report_svg(p, f);
		break;
	case FA_NUMA_REPORT_HTML:
		report_html(p, f);
		break;
	default:
		return -EINVAL;
	}
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
