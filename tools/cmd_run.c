// SPDX-License-Identifier: MIT
/*
 * finalloc run: a command on the malloc drop-in (libfinalloc-malloc.so.0
 * through LD_PRELOAD), with the drop-in's knobs as options, and with
 * --stats a summary of its statistics dump after it exits.  The exit status
 * is the command's (128 + signal for a signal), or 1 / 2 for our failures.
 */
#include "tools.h"

#include "finalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define SO_NAME TOOL_MALLOC_SO

void run_usage(FILE *f)
{
	fprintf(f, "usage: finalloc run [--stats] [--backend B] [--debug] -- CMD [ARGS...]\n"
	           "\n"
	           "Run CMD with malloc, free and C++ new/delete from FinAlloc (the drop-in\n"
	           "" SO_NAME ", preloaded; man finalloc-malloc(3)).\n"
	           "\n"
	           "  --stats       after CMD exits, a summary on stderr: peak RSS, bytes per\n"
	           "                node, backends and huge-page share, remote frees, calls\n"
	           "                per size band (FINALLOC_STATS)\n"
	           "  --backend B   device, hugetlb, thp, small or auto (FINALLOC_BACKEND)\n"
	           "  --debug       double-free and foreign-free checks, poison, quarantine\n"
	           "                (FINALLOC_DEBUG=1)\n"
	           "  --help        this text\n"
	           "\n"
	           "The drop-in is looked for in $FINALLOC_MALLOC_SO, then next to this\n"
	           "command (../lib, ../build).\n");
}

/* ---- the summary ---- */

#define MAX_NODES 64
#define BANDS     5

struct summary {
	uint64_t mapped[FA_BACKEND_COUNT];
	int nodes;
	struct {
		int id;
		uint64_t in_use, mapped, remote_frees, remote_allocs, allocs, frees;
	} node[MAX_NODES];
	uint64_t band[BANDS]; /* allocations: <= 64, 256, 1 KiB, 8 KiB, larger */
	uint64_t pool_allocs;
};

static const char *band_name[BANDS] = { "<=64 B", "<=256 B", "<=1 KiB", "<=8 KiB", ">8 KiB" };

static int node_slot(struct summary *s, int id)
{
	for (int i = 0; i < s->nodes; i++)
		if (s->node[i].id == id)
			return i;
	if (s->nodes == MAX_NODES)
		return -1;
	s->node[s->nodes].id = id;
	return s->nodes++;
}

static void parse_line(struct summary *s, const char *line)
{
	char key[128], field[64];
	unsigned long long v, size;
	int id, i;

	if (sscanf(line, "backend.bytes_mapped.%63s %llu", field, &v) == 2) {
		int b = fa_backend_parse(field);

		if (b > 0 && b < FA_BACKEND_COUNT)
			s->mapped[b] = v;
		return;
	}
	if (sscanf(line, "numa:node%d.%63s %llu", &id, field, &v) == 3) {
		i = node_slot(s, id);
		if (i < 0)
			return;
		if (!strcmp(field, "in_use"))
			s->node[i].in_use += v;
		else if (!strcmp(field, "mapped"))
			s->node[i].mapped += v;
		else if (!strcmp(field, "remote_frees"))
			s->node[i].remote_frees += v;
		else if (!strcmp(field, "remote_allocs"))
			s->node[i].remote_allocs += v;
		else if (!strcmp(field, "allocs"))
			s->node[i].allocs += v;
		else if (!strcmp(field, "frees"))
			s->node[i].frees += v;
		return;
	}
	/* pool:NAME.class.SIZE allocs N ... */
	if (sscanf(line, "pool:%127s allocs %llu", key, &v) == 2) {
		char *c = strstr(key, ".class.");

		if (!c || sscanf(c, ".class.%llu", &size) != 1)
			return;
		s->band[size <= 64 ? 0 : size <= 256 ? 1 : size <= 1024 ? 2 : 3] += v;
		s->pool_allocs += v;
	}
}

static void print_summary(FILE *f, const struct summary *s, const struct rusage *ru)
{
	uint64_t total = 0, huge = 0, allocs = 0;
	char a[32], b[32];

	fprintf(f, "finalloc run: statistics\n");
	fa__fmt_bytes(a, sizeof(a), (uint64_t)ru->ru_maxrss * 1024);
	fprintf(f, "  peak RSS        %s\n", a);
	for (int i = 0; i < s->nodes; i++) {
		fa__fmt_bytes(a, sizeof(a), s->node[i].in_use);
		fa__fmt_bytes(b, sizeof(b), s->node[i].mapped);
		fprintf(f,
		        "  node %-3d        live %s, mapped %s, remote frees %llu, "
		        "remote allocs %llu\n",
		        s->node[i].id, a, b, (unsigned long long)s->node[i].remote_frees,
		        (unsigned long long)s->node[i].remote_allocs);
		allocs += s->node[i].allocs;
	}
	for (int k = 1; k < FA_BACKEND_COUNT; k++) {
		total += s->mapped[k];
		if (k != FA_BACKEND_SMALL)
			huge += s->mapped[k];
	}
	fprintf(f, "  backends       ");
	for (int k = 1; k < FA_BACKEND_COUNT; k++) {
		fa__fmt_bytes(a, sizeof(a), s->mapped[k]);
		fprintf(f, " %s %s%s", fa_backend_name(k), a, k + 1 < FA_BACKEND_COUNT ? "," : "");
	}
	fprintf(f, " (huge pages: %.0f%%)\n", total ? 100.0 * (double)huge / (double)total : 0.0);
	fprintf(f, "  allocations    ");
	for (int k = 0; k < BANDS; k++) {
		uint64_t n = k < BANDS - 1
		                     ? s->band[k]
		                     : (allocs > s->pool_allocs ? allocs - s->pool_allocs : 0);

		fprintf(f, " %s %llu%s", band_name[k], (unsigned long long)n,
		        k + 1 < BANDS ? "," : "\n");
	}
}

static int summarise(const char *path, const struct rusage *ru)
{
	struct summary *s = calloc(1, sizeof(*s));
	char line[512];
	FILE *f = fopen(path, "re");

	if (!s || !f || !fgets(line, sizeof(line), f) || strncmp(line, "FINALLOC-STATS 1", 16)) {
		if (f)
			fclose(f);
		free(s);
		return tool_err("run", "the command wrote no statistics (did it exit normally?)");
	}
	while (fgets(line, sizeof(line), f))
		parse_line(s, line);
	fclose(f);
	print_summary(stderr, s, ru);
	free(s);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	enum { O_STATS = 1, O_BACKEND, O_DEBUG };
	static const struct option opts[] = {
		{ "stats", no_argument, NULL, O_STATS },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "debug", no_argument, NULL, O_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char sobuf[PATH_MAX + 64], preload[2 * PATH_MAX + 128];
	char stats_path[] = "/tmp/finalloc-run-XXXXXX";
	const char *backend = NULL, *so, *old;
	bool stats = false, debug = false;
	struct rusage ru;
	int o, status, ret;
	pid_t pid;

	while ((o = tool_getopt(argc, argv, opts)) != -1) {
		switch (o) {
		case O_STATS:
			stats = true;
			break;
		case O_BACKEND:
			if (fa_backend_parse(optarg) < 0)
				return tool_usage_err("run", run_usage,
				                      "unknown backend '%s' "
				                      "(device|hugetlb|thp|small|auto)",
				                      optarg);
			backend = optarg;
			break;
		case O_DEBUG:
			debug = true;
			break;
		default:
			return tool_opt_other("run", run_usage, o, argv);
		}
	}
	if (optind >= argc)
		return tool_usage_err("run", run_usage, "no command to run");
	so = tool_malloc_so(sobuf, sizeof(sobuf));
	if (!so)
		return tool_err("run", "%s not found (make malloc, or set FINALLOC_MALLOC_SO)",
		                SO_NAME);
	if (stats) {
		int fd = mkstemp(stats_path);

		if (fd < 0)
			return tool_err("run", "mkstemp: %s", strerror(errno));
		close(fd);
	}
	old = getenv("LD_PRELOAD");
	snprintf(preload, sizeof(preload), "%s%s%s", so, old && *old ? " " : "",
	         old && *old ? old : "");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return tool_err("run", "fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("LD_PRELOAD", preload, 1);
		if (backend)
			setenv("FINALLOC_BACKEND", backend, 1);
		if (debug)
			setenv("FINALLOC_DEBUG", "1", 1);
		if (stats)
			setenv("FINALLOC_STATS", stats_path, 1);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "finalloc run: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return tool_err("run", "wait: %s", strerror(errno));
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (stats) {
		if (!(WIFEXITED(status) && WEXITSTATUS(status) == 127) &&
		    summarise(stats_path, &ru) && ret == 0)
			ret = 1;
		unlink(stats_path);
	}
	return ret;
}
