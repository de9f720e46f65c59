// SPDX-License-Identifier: MIT
/*
 * finalloc: the command a user runs first.  With no arguments it gives the
 * tour (host report, a short benchmark, where to go next); subcommands give
 * each part alone.  Exit status: 0 ok, 1 failure, 2 bad usage.
 *
 * This file is the command table and its dispatch only: the top of the
 * tools.  Each subcommand is its own file (cmd_*.c, the tour included;
 * bench/ for the benchmark), and what they share is in common.c, below
 * all of them.
 */
#include "tools.h"

#include "finalloc.h"

#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
};

static void help_usage(FILE *f)
{
	fprintf(f, "usage: finalloc help [COMMAND]\n"
	           "\n"
	           "Without COMMAND: the commands of finalloc (as finalloc --help).  With\n"
	           "COMMAND: its usage and options (as finalloc COMMAND --help).\n"
	           "\n"
	           "  --help    this text\n");
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "info", cmd_info, info_usage,
	  "host report: kernel, NUMA, huge pages, THP, /dev/finalloc, io_uring" },
	{ "stats", cmd_stats, stats_usage,
	  "/sys/kernel/finalloc counters and a process's library statistics" },
	{ "numa", cmd_numa, numa_usage, "per-node memory view (terminal, SVG or HTML)" },
	{ "trace", cmd_trace, trace_usage, "decode an allocation journal (FINALLOC_TRACE=path)" },
	{ "bench", cmd_bench, bench_usage,
	  "benchmark FinAlloc against glibc, jemalloc, tcmalloc, mimalloc" },
	{ "reserve", cmd_reserve, reserve_usage, "reserve huge pages on a NUMA node (root)" },
	{ "run", cmd_run, run_usage, "run a command on the malloc drop-in (LD_PRELOAD)" },
	{ "help", cmd_help, help_usage, "this text, or a command's (finalloc help COMMAND)" },
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
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *c;
	int o = tool_getopt(argc, argv, opts);

	if (o != -1)
		return tool_opt_other("help", help_usage, o, argv);
	if (optind == argc) {
		usage(stdout);
		return 0;
	}
	if (optind + 1 < argc)
		return tool_usage_err("help", help_usage, "one COMMAND only ('%s' is extra)",
		                      argv[optind + 1]);
	c = find(argv[optind]);
	if (!c)
		return tool_usage_err(NULL, usage, "unknown command '%s'", argv[optind]);
	c->usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2)
		return cmd_tour();
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("finalloc %s\n", fa_version());
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
