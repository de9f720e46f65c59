// SPDX-License-Identifier: MIT
/*
 * Helpers every subcommand shares: error and usage messages, the path of
 * the running executable, and the option handling they all do alike.  The
 * bottom of the tools: it calls nothing in tools/, so the command table
 * (finalloc.c) can call the subcommands and they can call this without a
 * loop between files.
 */
#include "tools.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *prog_name = "finalloc";

static void vreport(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s%s%s: ", prog_name, cmd ? " " : "", cmd ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int tool_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	return 1;
}

int tool_usage_err(const char *cmd, void (*u)(FILE *), const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
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

int tool_getopt(int argc, char **argv, const struct option *opts)
{
	static char **scanning;

	if (argv != scanning) {
		scanning = argv;
		opterr = 0;
		optind = 1;
	}
	return getopt_long(argc, argv, "+:h", opts, NULL);
}

int tool_opt_other(const char *cmd, void (*u)(FILE *), int c, char **argv)
{
	if (c == 'h') {
		u(stdout);
		return 0;
	}
	if (c == ':')
		return tool_usage_err(cmd, u, "option '%s' needs an argument", argv[optind - 1]);
	return tool_usage_err(cmd, u, "unknown option '%s'", argv[optind - 1]);
}

int tool_opt_watch(const char *cmd, void (*u)(FILE *), int c, struct tool_watch *w)
{
	switch (c) {
	case TOOL_O_WATCH:
		w->on = true;
		return 0;
	case TOOL_O_INTERVAL:
		if (!fa__parse_double(optarg, &w->interval) || w->interval < 0.05 ||
		    w->interval > 3600)
			return tool_usage_err(
			        cmd, u, "--interval wants 0.05..3600 seconds, not '%s'", optarg);
		return 0;
	default: /* TOOL_O_COUNT */
		if (!fa__parse_u64(optarg, &w->count) || w->count == 0)
			return tool_usage_err(cmd, u, "--count wants a positive number, not '%s'",
			                      optarg);
		return 0;
	}
}

const char *tool_malloc_so(char *buf, size_t len)
{
	const char *env = getenv("FINALLOC_MALLOC_SO"), *self = tool_self_exe();
	static const char *rel[] = { "../lib/" TOOL_MALLOC_SO, "../build/" TOOL_MALLOC_SO };
	char dir[PATH_MAX];
	char *slash;

	if (env && *env)
		return access(env, R_OK) == 0 ? env : NULL;
	if (!self || strlen(self) >= sizeof(dir))
		return NULL;
	strcpy(dir, self);
	slash = strrchr(dir, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(buf, len, "%s/%s", dir, rel[i]);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return NULL;
}
