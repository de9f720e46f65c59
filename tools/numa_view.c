// SPDX-License-Identifier: MIT
/*
 * finalloc numa: per-node memory at a glance.  Merges the topology (CPUs,
 * distances, huge page reserves), each node's meminfo, and the module's
 * per-node counters (/sys/kernel/finalloc/node<N>/): where memory is, how
 * much FinAlloc pinned, what is reserved for hugetlb.  Terminal view, or an
 * SVG / self-contained HTML report with a stacked bar per node.
 */
#include "tools.h"

#include "finalloc.h"
#include "uapi/linux/finalloc.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct node_view {
	int node, nr_cpus;
	bool has_memory;
	uint64_t total, free, used, anon, file, slab;
	uint64_t hugetlb;       /* reserved hugetlb bytes (2 MiB + 1 GiB) */
	uint64_t hugetlb_free;
	uint64_t fa_pinned;     /* /sys/kernel/finalloc/node<N>/pinned_bytes */
	uint64_t fa_pages_2m;
	bool fa_present;
	uint64_t other;         /* used - hugetlb - pinned */
};

struct numa_view {
	struct fa_topology topo;
	struct node_view n[FA_MAX_NODES];
	int nr;
	bool module;
};

void numa_usage(FILE *f)
{
	fprintf(f,
		"usage: finalloc numa [--json] [--svg FILE] [--html FILE] [--watch [--count N]]\n"
		"\n"
		"Per-node memory: total, free, used by the system, reserved for hugetlb, and\n"
		"pinned by the finalloc module (%s/node<N>/), with node\n"
		"distances.  --svg and --html write a report with a stacked bar per node\n"
		"(the HTML file is self-contained).\n"
		"\n"
		"  --json          machine-readable output\n"
		"  --svg FILE      write an SVG chart\n"
		"  --html FILE     write an HTML report (chart, table, distances)\n"
		"  --watch         refresh the terminal view every --interval seconds\n"
		"  --interval S    seconds between refreshes (default 1)\n"
		"  --count N       stop after N refreshes\n"
		"  --help          this text\n",
		FINALLOC_SYSFS_PATH);
}

static uint64_t meminfo_field(const char *buf, const char *field)
{
	const char *p = strstr(buf, field);
	unsigned long long kb;

	if (!p || sscanf(p + strlen(field), " %llu kB", &kb) != 1)
		return 0;
	return (uint64_t)kb << 10;
}

static int view_read(struct numa_view *v)
{
	int ret = fa_topology_read(&v->topo);
	char path[256];

	if (ret)
		return ret;
	v->nr = v->topo.nr_nodes;
	v->module = access(FINALLOC_SYSFS_PATH, F_OK) == 0;
	for (int i = 0; i < v->nr; i++) {
		const struct fa_node_info *t = &v->topo.node[i];
		struct node_view *n = &v->n[i];
		char buf[8192];

		memset(n, 0, sizeof(*n));
		n->node = t->node;
		n->nr_cpus = t->nr_cpus;
		n->has_memory = t->has_memory;
		n->total = t->mem_total;
		n->free = t->mem_free;
		n->hugetlb = t->huge_2m_total * (2ull << 20) + t->huge_1g_total * (1ull << 30);
		n->hugetlb_free = t->huge_2m_free * (2ull << 20) + t->huge_1g_free * (1ull << 30);
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", t->node);
		if (read_text(path, buf, sizeof(buf)) > 0) {
			n->used = meminfo_field(buf, "MemUsed:");
			n->anon = meminfo_field(buf, "AnonPages:");
			n->file = meminfo_field(buf, "FilePages:");
			n->slab = meminfo_field(buf, "Slab:");
		} else {
			n->used = n->total > n->free ? n->total - n->free : 0;
		}
		snprintf(path, sizeof(path), FINALLOC_SYSFS_PATH "/node%d/pinned_bytes", t->node);
		n->fa_present = read_u64(path, &n->fa_pinned) == 0;
		snprintf(path, sizeof(path), FINALLOC_SYSFS_PATH "/node%d/pages_2m", t->node);
		read_u64(path, &n->fa_pages_2m);
		n->other = n->used;
		n->other -= n->other > n->hugetlb ? n->hugetlb : n->other;
		n->other -= n->other > n->fa_pinned ? n->fa_pinned : n->other;
	}
	return 0;
}

static void bar(FILE *f, const struct node_view *n, int width)
{
	/* o = other used, F = finalloc pinned, H = hugetlb reserve, . = free */
	uint64_t parts[3] = { n->other, n->fa_pinned, n->hugetlb };
	const char sym[3] = { 'o', 'F', 'H' };
	int drawn = 0;

	fputc('[', f);
	for (int k = 0; k < 3 && n->total; k++) {
		int w = (int)((double)parts[k] / (double)n->total * width + 0.5);

		if (parts[k] && w == 0)
			w = 1;
		for (int i = 0; i < w && drawn < width; i++, drawn++)
			fputc(sym[k], f);
	}
	for (; drawn < width; drawn++)
		fputc('.', f);
	fputc(']', f);
}

static void print_text(FILE *f, const struct numa_view *v)
{
	char b[6][32];

	fprintf(f, "%d node%s%s; module counters %s\n", v->nr, v->nr == 1 ? "" : "s",
		v->topo.numa_available ? "" : " (no NUMA support: one node)",
		v->module ? "from " FINALLOC_SYSFS_PATH : "absent (module not loaded)");
	fprintf(f, "%-5s %4s %10s %10s %10s %10s %10s %10s\n", "node", "cpus", "total", "free",
		"used", "hugetlb", "finalloc", "other");
	for (int i = 0; i < v->nr; i++) {
		const struct node_view *n = &v->n[i];

		if (!n->has_memory) {
			fprintf(f, "%-5d %4d %10s  (CPU-only node)\n", n->node, n->nr_cpus, "-");
			continue;
		}
		fmt_bytes(b[0], sizeof(b[0]), n->total);
		fmt_bytes(b[1], sizeof(b[1]), n->free);
		fmt_bytes(b[2], sizeof(b[2]), n->used);
		fmt_bytes(b[3], sizeof(b[3]), n->hugetlb);
		fmt_bytes(b[4], sizeof(b[4]), n->fa_pinned);
		fmt_bytes(b[5], sizeof(b[5]), n->other);
		fprintf(f, "%-5d %4d %10s %10s %10s %10s %10s %10s\n", n->node, n->nr_cpus, b[0], b[1],
			b[2], b[3], n->fa_present ? b[4] : "-", b[5]);
	}
	fputc('\n', f);
	for (int i = 0; i < v->nr; i++) {
		if (!v->n[i].has_memory)
			continue;
		fprintf(f, "node %-3d ", v->n[i].node);
		bar(f, &v->n[i], 60);
		fputc('\n', f);
	}
	fprintf(f, "         o used by the system  F pinned by finalloc  H hugetlb reserve  . free\n");
	if (v->nr > 1) {
		fprintf(f, "\ndistances\n     ");
		for (int k = 0; k < v->nr; k++)
			fprintf(f, " %4d", v->n[k].node);
		fputc('\n', f);
		for (int i = 0; i < v->nr; i++) {
			fprintf(f, "%4d ", v->n[i].node);
			for (int k = 0; k < v->nr; k++)
				fprintf(f, " %4d", v->topo.distance[i][k]);
			fputc('\n', f);
		}
	}
}

static void print_json(FILE *f, const struct numa_view *v)
{
	struct json j;

	json_init(&j, f);
	json_begin_obj(&j, NULL);
	json_bool(&j, "numa_available", v->topo.numa_available);
	json_bool(&j, "module", v->module);
	json_begin_arr(&j, "nodes");
	for (int i = 0; i < v->nr; i++) {
		const struct node_view *n = &v->n[i];

		json_begin_obj(&j, NULL);
		json_int(&j, "node", n->node);
		json_int(&j, "nr_cpus", n->nr_cpus);
		json_bool(&j, "has_memory", n->has_memory);
		json_uint(&j, "total", n->total);
		json_uint(&j, "free", n->free);
		json_uint(&j, "used", n->used);
		json_uint(&j, "anon", n->anon);
		json_uint(&j, "file", n->file);
		json_uint(&j, "slab", n->slab);
		json_uint(&j, "hugetlb_reserved", n->hugetlb);
		json_uint(&j, "hugetlb_free", n->hugetlb_free);
		if (n->fa_present) {
			json_uint(&j, "finalloc_pinned", n->fa_pinned);
			json_uint(&j, "finalloc_pages_2m", n->fa_pages_2m);
		} else {
			json_str(&j, "finalloc_pinned", NULL);
		}
		json_uint(&j, "other_used", n->other);
		json_begin_arr(&j, "distance");
		for (int k = 0; k < v->nr; k++)
			json_int(&j, NULL, v->topo.distance[i][k]);
		json_end_arr(&j);
		json_end_obj(&j);
	}
	json_end_arr(&j);
	json_end_obj(&j);
	json_end(&j);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void write_svg(FILE *f, const struct numa_view *v)
{
	static const struct { const char *label, *color; } seg[] = {
		{ "used by the system", "#8c8c8c" },
		{ "pinned by finalloc", "#d9480f" },
		{ "hugetlb reserve", "#1971c2" },
		{ "free", "#e9ecef" },
	};
	const int bar_w = 600, left = 90, row = 46, top = 40;
	int rows = 0, h;
	char b[32], title[128];

	for (int i = 0; i < v->nr; i++)
		rows += v->n[i].has_memory;
	h = top + rows * row + 60;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n",
		left + bar_w + 150, h, left + bar_w + 150, h);
	fprintf(f, "<title>FinAlloc per-node memory</title>\n");
	fprintf(f, "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">"
		   "Memory per NUMA node</text>\n");
	int y = top;

	for (int i = 0; i < v->nr; i++) {
		const struct node_view *n = &v->n[i];
		uint64_t parts[4] = { n->other, n->fa_pinned, n->hugetlb, n->free };
		double x = left;

		if (!n->has_memory)
			continue;
		fprintf(f, "<text x=\"10\" y=\"%d\">node %d</text>\n", y + 18, n->node);
		for (int k = 0; k < 4; k++) {
			double w = n->total ? (double)parts[k] / (double)n->total * bar_w : 0;

			if (w <= 0)
				continue;
			if (x + w > left + bar_w)
				w = left + bar_w - x;
			fmt_bytes(b, sizeof(b), parts[k]);
			snprintf(title, sizeof(title), "node %d: %s %s", n->node, seg[k].label, b);
			fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"26\" fill=\"%s\">"
				   "<title>", x, y, w, seg[k].color);
			xml_text(f, title);
			fprintf(f, "</title></rect>\n");
			x += w;
		}
		fmt_bytes(b, sizeof(b), n->total);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"26\" fill=\"none\" "
			   "stroke=\"#343a40\"/>\n", left, y, bar_w);
		fprintf(f, "<text x=\"%d\" y=\"%d\">", left + bar_w + 10, y + 18);
		xml_text(f, b);
		if (n->fa_pinned) {
			char pb[32];

			fmt_bytes(pb, sizeof(pb), n->fa_pinned);
			fprintf(f, ", pinned ");
			xml_text(f, pb);
		}
		fprintf(f, "</text>\n");
		y += row;
	}
	for (int k = 0; k < 4; k++) {
		int lx = 10 + k * 170;

		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\" "
			   "stroke=\"#343a40\"/>\n", lx, y + 8, seg[k].color);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", lx + 20, y + 20, seg[k].label);
	}
	fprintf(f, "</svg>\n");
}

static void write_html(FILE *f, const struct numa_view *v)
{
	char b[6][32], when[64];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<title>FinAlloc NUMA report</title>\n<style>\n"
		   "body{font-family:sans-serif;margin:2em;color:#212529}\n"
		   "table{border-collapse:collapse;margin:1em 0}\n"
		   "td,th{border:1px solid #adb5bd;padding:4px 10px;text-align:right}\n"
		   "th{background:#f1f3f5}\n</style>\n</head>\n<body>\n"
		   "<h1>FinAlloc NUMA report</h1>\n<p>%s, %d node%s, module counters %s.</p>\n",
		when, v->nr, v->nr == 1 ? "" : "s", v->module ? "present" : "absent");
	write_svg(f, v);
	fprintf(f, "<table>\n<tr><th>node</th><th>CPUs</th><th>total</th><th>free</th>"
		   "<th>used</th><th>hugetlb reserve</th><th>finalloc pinned</th>"
		   "<th>2 MiB pages (finalloc)</th><th>other used</th></tr>\n");
	for (int i = 0; i < v->nr; i++) {
		const struct node_view *n = &v->n[i];

		fmt_bytes(b[0], sizeof(b[0]), n->total);
		fmt_bytes(b[1], sizeof(b[1]), n->free);
		fmt_bytes(b[2], sizeof(b[2]), n->used);
		fmt_bytes(b[3], sizeof(b[3]), n->hugetlb);
		fmt_bytes(b[4], sizeof(b[4]), n->fa_pinned);
		fmt_bytes(b[5], sizeof(b[5]), n->other);
		fprintf(f, "<tr><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
			   "<td>%s</td><td>%llu</td><td>%s</td></tr>\n",
			n->node, n->nr_cpus, n->has_memory ? b[0] : "-", n->has_memory ? b[1] : "-",
			b[2], b[3], n->fa_present ? b[4] : "-", (unsigned long long)n->fa_pages_2m, b[5]);
	}
	fprintf(f, "</table>\n<h2>Distances</h2>\n<table>\n<tr><th></th>");
	for (int k = 0; k < v->nr; k++)
		fprintf(f, "<th>%d</th>", v->n[k].node);
	fprintf(f, "</tr>\n");
	for (int i = 0; i < v->nr; i++) {
		fprintf(f, "<tr><th>%d</th>", v->n[i].node);
		for (int k = 0; k < v->nr; k++)
			fprintf(f, "<td>%d</td>", v->topo.distance[i][k]);
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n</body>\n</html>\n");
}

static int write_file(const char *path, const struct numa_view *v, bool html)
{
	FILE *f = fopen(path, "we");
	int err;

	if (!f)
		return tool_err("numa", "%s: %s", path, strerror(errno));
	if (html)
		write_html(f, v);
	else
		write_svg(f, v);
	err = ferror(f);
	if (fclose(f) || err)
		return tool_err("numa", "%s: write failed", path);
	fprintf(stderr, "finalloc numa: wrote %s\n", path);
	return 0;
}

int cmd_numa(int argc, char **argv)
{
	enum { O_JSON = 256, O_SVG, O_HTML, O_WATCH, O_INTERVAL, O_COUNT };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "svg", required_argument, NULL, O_SVG },
		{ "html", required_argument, NULL, O_HTML },
		{ "watch", no_argument, NULL, O_WATCH },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "count", required_argument, NULL, O_COUNT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *svg = NULL, *html = NULL;
	bool json = false, do_watch = false;
	double interval = 1;
	uint64_t count = 0;
	struct numa_view *v;
	int c, ret = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = true; break;
		case O_SVG: svg = optarg; break;
		case O_HTML: html = optarg; break;
		case O_WATCH: do_watch = true; break;
		case O_INTERVAL:
			if (!parse_double(optarg, &interval) || interval < 0.05 || interval > 3600)
				return tool_usage_err("numa", numa_usage,
						      "--interval wants 0.05..3600 seconds, not '%s'",
						      optarg);
			break;
		case O_COUNT:
			if (!parse_u64(optarg, &count) || count == 0)
				return tool_usage_err("numa", numa_usage,
						      "--count wants a positive number, not '%s'", optarg);
			break;
		case 'h':
			numa_usage(stdout);
			return 0;
		case ':':
			return tool_usage_err("numa", numa_usage, "option '%s' needs an argument",
					      argv[optind - 1]);
		default:
			return tool_usage_err("numa", numa_usage, "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (optind < argc)
		return tool_usage_err("numa", numa_usage, "unexpected argument '%s'", argv[optind]);
	if (do_watch && (json || svg || html))
		return tool_usage_err("numa", numa_usage, "--watch is for the terminal view only");
	if (count && !do_watch)
		return tool_usage_err("numa", numa_usage, "--count needs --watch");
	v = malloc(sizeof(*v));
	if (!v)
		return tool_err("numa", "out of memory");
	for (uint64_t n = 0; ; n++) {
		int err = view_read(v);

		if (err) {
			free(v);
			return tool_err("numa", "reading the topology: %s", strerror(-err));
		}
		if (!do_watch)
			break;
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		else if (n)
			fputc('\n', stdout);
		print_text(stdout, v);
		fflush(stdout);
		if (count && n + 1 >= count)
			break;
		usleep((useconds_t)(interval * 1e6));
	}
	if (!do_watch) {
		if (svg)
			ret |= write_file(svg, v, false);
		if (html)
			ret |= write_file(html, v, true);
		if (json)
			print_json(stdout, v);
		else if (!svg && !html)
			print_text(stdout, v);
	}
	free(v);
	return ret;
}
