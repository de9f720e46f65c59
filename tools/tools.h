/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared by the finalloc command's files, grouped by the file
 * that defines them.  common.c is the bottom (every subcommand calls it,
 * it calls none); finalloc.c, the command table, is the top.
 */
#ifndef FA_TOOLS_H
#define FA_TOOLS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h" /* lib/util: file readers, JSON writer, fmt_bytes */

/* Exit codes: 0 ok, 1 the operation failed, 2 bad usage. */
#define EXIT_USAGE 2

/* ---- common.c ---- */
extern const char *prog_name;
/* Print "finalloc CMD: msg" on stderr; returns 1 for `return tool_err(...)`. */
int tool_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: message, the command's usage on stderr, returns EXIT_USAGE. */
int tool_usage_err(const char *cmd, void (*usage)(FILE *), const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Path of the running executable (for re-exec of bench workers). */
const char *tool_self_exe(void);
/* The malloc drop-in: $FINALLOC_MALLOC_SO, else ../lib or ../build next to
 * this executable; NULL if none is readable (buf holds the last try). */
#define TOOL_MALLOC_SO "libfinalloc-malloc.so.0"
const char *tool_malloc_so(char *buf, size_t len);

/*
 * getopt_long over a subcommand's argv (argv[0] its name; a new argv starts
 * a new scan): options stop at the first operand, nothing is printed, and
 * what the command does not handle itself goes to tool_opt_other.
 */
int tool_getopt(int argc, char **argv, const struct option *opts);
/* -h/--help prints the usage on stdout and gives 0; a missing argument or
 * an unknown option is a usage error (EXIT_USAGE). */
int tool_opt_other(const char *cmd, void (*usage)(FILE *), int c, char **argv);
/* The refresh options of stats and numa: --watch, --interval S, --count N. */
enum { TOOL_O_WATCH = 512, TOOL_O_INTERVAL, TOOL_O_COUNT };
#define TOOL_WATCH_OPTIONS                                                \
	{ "watch", no_argument, NULL, TOOL_O_WATCH },                     \
	        { "interval", required_argument, NULL, TOOL_O_INTERVAL }, \
	{                                                                 \
		"count", required_argument, NULL, TOOL_O_COUNT            \
	}
struct tool_watch {
	bool on;
	double interval; /* seconds, default 1 */
	uint64_t count;  /* 0: until interrupted */
};
/* Parse one of the refresh options into w: 0, or a usage error. */
int tool_opt_watch(const char *cmd, void (*usage)(FILE *), int c, struct tool_watch *w);

/* ---- cmd_tour.c ---- */
/* finalloc with no arguments: host report, quick benchmark, next steps. */
int cmd_tour(void);

/* ---- cmd_info.c ---- */
void info_usage(FILE *f);
int cmd_info(int argc, char **argv);
/* The host report in text, as the tour prints it. */
int info_print_text(FILE *f);

/* ---- cmd_run.c ---- */
void run_usage(FILE *f);
int cmd_run(int argc, char **argv);

/* ---- cmd_stats.c ---- */
void stats_usage(FILE *f);
int cmd_stats(int argc, char **argv);

/* ---- cmd_numa.c ---- */
void numa_usage(FILE *f);
int cmd_numa(int argc, char **argv);

/* ---- cmd_trace.c ---- */
void trace_usage(FILE *f);
int cmd_trace(int argc, char **argv);

/* ---- cmd_reserve.c ---- */
void reserve_usage(FILE *f);
int cmd_reserve(int argc, char **argv);

/* ---- bench/cmd_bench.c (the rest of the benchmark lives in bench/) ---- */
void bench_usage(FILE *f);
int cmd_bench(int argc, char **argv);
/* The tour's short run: FinAlloc's allocators against the system malloc. */
int bench_tour(void);

#endif /* FA_TOOLS_H */
