// SPDX-License-Identifier: MIT
/*
 * finalloc numa: the NUMA profiler's view.  The profile (library, module
 * and system numbers per node) and its text/SVG/HTML renderings are the
 * library's (fa_numa_profile, fa_numa_report); this command adds the JSON
 * form, the refresh mode and the files.
 */
#include "tools.h"

#include "finalloc.h"
#include "uapi/linux/finalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void numa_usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc numa [--json] [--svg FILE] [--html FILE] [--watch [--count N]]\n"
	        "\n"
	        "The NUMA profiler's per-node view (libfinalloc's fa_numa_profile): memory\n"
	        "total, used and free per node from the system, what the finalloc module\n"
	        "pinned there (%s/node<N>/), the library's in-use,\n"
	        "fragmented and idle bytes, remote allocations and frees, spills, misplaced\n"
	        "pages, and node distances.  The library columns count the allocators of the\n"
	        "process that reads them: from this command they are zero; a program shows\n"
	        "its own with fa_numa_profile() and fa_numa_report().\n"
	        "\n"
	        "  --json          machine-readable output\n"
	        "  --svg FILE      write an SVG chart (a stacked bar per node)\n"
	        "  --html FILE     write a self-contained HTML report\n"
	        "  --watch         refresh the terminal view every --interval seconds\n"
	        "  --interval S    seconds between refreshes (default 1)\n"
	        "  --count N       stop after N refreshes\n"
	        "  --help          this text\n",
	        FINALLOC_SYSFS_PATH);
}

static void json_node_stats(struct fa__json *j, const struct fa_numa_node_stats *s)
{
	fa__json_begin_obj(j, "library");
	fa__json_uint(j, "allocs", s->allocs);
	fa__json_uint(j, "frees", s->frees);
	fa__json_uint(j, "live_objects", s->live_objects);
	fa__json_uint(j, "in_use", s->in_use);
	fa__json_uint(j, "fragmented", s->fragmented);
	fa__json_uint(j, "idle", s->idle);
	fa__json_uint(j, "mapped", s->mapped);
	fa__json_uint(j, "remote_allocs", s->remote_allocs);
	fa__json_uint(j, "remote_frees", s->remote_frees);
	fa__json_uint(j, "spills_out", s->spills_out);
	fa__json_uint(j, "spills_in", s->spills_in);
	fa__json_uint(j, "exhausted", s->exhausted);
	fa__json_uint(j, "misplaced", s->misplaced);
	fa__json_uint(j, "idle_maps_bytes", s->idle_maps_bytes);
	fa__json_uint(j, "large_reused", s->large_reused);
	fa__json_uint(j, "chunks_in", s->chunks_in);
	fa__json_uint(j, "chunks_out", s->chunks_out);
	fa__json_uint(j, "move_failures", s->move_failures);
	fa__json_uint(j, "cap", s->cap);
	fa__json_uint(j, "slab_moves_in", s->slab_moves_in);
	fa__json_uint(j, "slab_moves_out", s->slab_moves_out);
	fa__json_uint(j, "slab_bytes_in", s->slab_bytes_in);
	fa__json_uint(j, "slab_bytes_out", s->slab_bytes_out);
	fa__json_end_obj(j);
}

static void print_json(FILE *f, const struct fa_numa_profile *p)
{
	struct fa__json j;
	char when[40];

	fa__json_init(&j, f, true);
	fa__json_begin_obj(&j, NULL);
	fa__json_uint(&j, "time_ns", p->time_ns);
	fa__fmt_time(when, sizeof(when), p->time_ns);
	fa__json_str(&j, "time", when);
	fa__json_bool(&j, "module", p->kmod_loaded);
	fa__json_uint(&j, "module_pinned", p->kmod_pinned);
	fa__json_int(&j, "allocators", p->nr_allocators);
	fa__json_int(&j, "threads", p->nr_threads);
	fa__json_begin_arr(&j, "nodes");
	for (int i = 0; i < p->nr_nodes; i++) {
		const struct fa_numa_profile_node *n = &p->node[i];

		fa__json_begin_obj(&j, NULL);
		fa__json_int(&j, "node", n->node);
		fa__json_bool(&j, "has_memory", n->has_memory);
		fa__json_int(&j, "nr_cpus", n->nr_cpus);
		fa__json_int(&j, "mem_node", n->mem_node);
		fa__json_uint(&j, "mem_total", n->mem_total);
		fa__json_uint(&j, "mem_free", n->mem_free);
		fa__json_uint(&j, "mem_used", n->mem_used);
		fa__json_uint(&j, "file_pages", n->file_pages);
		fa__json_uint(&j, "anon_pages", n->anon_pages);
		fa__json_uint(&j, "hugetlb_total", n->huge_total);
		fa__json_uint(&j, "hugetlb_free", n->huge_free);
		fa__json_uint(&j, "module_pinned", n->kmod_pinned);
		fa__json_begin_obj(&j, "module");
		for (int k = 0; k < n->nr_kstats && k < FA_NUMA_KSTATS; k++)
			fa__json_uint(&j, n->kstat[k].name, n->kstat[k].value);
		fa__json_end_obj(&j);
		json_node_stats(&j, &n->lib);
		fa__json_begin_arr(&j, "distance");
		for (int k = 0; k < p->nr_nodes; k++)
			fa__json_int(&j, NULL, p->distance[i][k]);
		fa__json_end_arr(&j);
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	fa__json_end_obj(&j);
	fa__json_end(&j);
}

static int write_file(const char *path, const struct fa_numa_profile *p, int format)
{
	FILE *f = fopen(path, "we");
	int err;

	if (!f)
		return tool_err("numa", "%s: %s", path, strerror(errno));
	err = fa_numa_report(p, format, f);
	if (ferror(f) && !err)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		return tool_err("numa", "%s: %s", path, strerror(-err));
	fprintf(stderr, "finalloc numa: wrote %s\n", path);
	return 0;
}

int cmd_numa(int argc, char **argv)
{
	enum { O_JSON = 256, O_SVG, O_HTML };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "svg", required_argument, NULL, O_SVG },
		{ "html", required_argument, NULL, O_HTML },
		TOOL_WATCH_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *svg = NULL, *html = NULL;
	struct tool_watch w = { .interval = 1 };
	bool json = false;
	struct fa_numa_profile *p;
	int c, ret = 0;

	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case O_JSON:
			json = true;
			break;
		case O_SVG:
			svg = optarg;
			break;
		case O_HTML:
			html = optarg;
			break;
		case TOOL_O_WATCH:
		case TOOL_O_INTERVAL:
		case TOOL_O_COUNT:
			if ((ret = tool_opt_watch("numa", numa_usage, c, &w)))
				return ret;
			break;
		default:
			return tool_opt_other("numa", numa_usage, c, argv);
		}
	}
	if (optind < argc)
		return tool_usage_err("numa", numa_usage, "unexpected argument '%s'", argv[optind]);
	if (w.on && (json || svg || html))
		return tool_usage_err("numa", numa_usage, "--watch is for the terminal view only");
	if (w.count && !w.on)
		return tool_usage_err("numa", numa_usage, "--count needs --watch");
	p = malloc(sizeof(*p));
	if (!p)
		return tool_err("numa", "out of memory");
	for (uint64_t n = 0;; n++) {
		int err = fa_numa_profile(NULL, p);

		if (err) {
			free(p);
			return tool_err("numa", "reading the profile: %s", strerror(-err));
		}
		if (!w.on)
			break;
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		else if (n)
			fputc('\n', stdout);
		fa_numa_report(p, FA_NUMA_REPORT_TEXT, stdout);
		fflush(stdout);
		if (w.count && n + 1 >= w.count)
			break;
		usleep((useconds_t)(w.interval * 1e6));
	}
	if (!w.on) {
		if (svg)
			ret |= write_file(svg, p, FA_NUMA_REPORT_SVG);
		if (html)
			ret |= write_file(html, p, FA_NUMA_REPORT_HTML);
		if (json)
			print_json(stdout, p);
		else if (!svg && !html)
			fa_numa_report(p, FA_NUMA_REPORT_TEXT, stdout);
	}
	free(p);
	return ret;
}
