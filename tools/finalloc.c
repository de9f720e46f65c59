// SPDX-License-Identifier: MIT
/*
 * finalloc: the command a user runs first.  With no arguments it gives the
 * tour (host report, a short benchmark, where to go next); subcommands give
 * each part alone.  Exit status: 0 ok, 1 failure, 2 bad usage.
 */
#include "tools.h"

#include "finalloc.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *prog_name = "finalloc";

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
};

static const struct command commands[] = {
	{ "info", cmd_info, info_usage,
	  "host report: kernel, NUMA, huge pages, THP, /dev/finalloc, io_uring" },
	{ "stats", cmd_stats, stats_usage,
	  "/sys/kernel/finalloc counters and a process's library statistics" },
	{ "numa", cmd_numa, numa_usage, "per-node memory view (terminal, SVG or HTML)" },
	{ "trace", cmd_trace, trace_usage, "decode an allocation journal (FINALLOC_TRACE=path)" },
	{ "bench", cmd_bench, bench_usage,
	  "benchmark FinAlloc against glibc, jemalloc, tcmalloc, mimalloc" },
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc [COMMAND [OPTIONS]]\n"
	        "       finalloc COMMAND --help\n"
	        "\n"
	        "FinAlloc %s: NUMA-pinned huge-page allocators for low-latency systems.\n"
	        "With no command: host report, a short benchmark, and where to go next.\n"
	        "\n"
	        "commands:\n",
	        fa_version());
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  help    this text (or: finalloc help COMMAND)\n");
}

int tool_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", prog_name, cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int tool_usage_err(const char *cmd, void (*u)(FILE *), const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", prog_name, cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	u(stderr);
	return EXIT_USAGE;
}

const char *tool_self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return NULL;
	path[n] = '\0';
	return path;
}

static int tour(void)
{
	int ret = 0;

	printf("== FinAlloc %s: host report ==\n\n", fa_version());
	if (info_print_text(stdout))
		ret = 1;
	printf("\n== Quick benchmark: FinAlloc vs the system malloc ==\n\n");
	fflush(stdout);
	if (bench_tour())
		ret = 1;
	printf("\n== Where to go next ==\n\n"
	       "  finalloc bench           the full suite against glibc, jemalloc, tcmalloc, "
	       "mimalloc\n"
	       "  finalloc stats --watch   kernel module counters (/sys/kernel/finalloc)\n"
	       "  finalloc numa --html r.html   per-node memory report\n"
	       "  FINALLOC_TRACE=j.bin ./app; finalloc trace j.bin   allocation journal\n"
	       "  make check               every test, including the 2-node VM on 6.1 and 6.12\n"
	       "  README.md                loading the module, the API, the benchmark table\n");
	return ret;
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2)
		return tour();
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("finalloc %s\n", fa_version());
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3 || !strcmp(argv[2], "help")) {
			usage(stdout);
			return 0;
		}
		c = find(argv[2]);
		if (!c)
			return tool_usage_err(NULL, usage, "unknown command '%s'", argv[2]);
		c->usage(stdout);
		return 0;
	}
	if (argv[1][0] == '-')
		return tool_usage_err(NULL, usage, "unknown option '%s'", argv[1]);
	c = find(argv[1]);
	if (!c)
		return tool_usage_err(NULL, usage, "unknown command '%s'", argv[1]);
	/* Subcommands parse with getopt_long from argv[0] = their name. */
	return c->run(argc - 1, argv + 1);
}
