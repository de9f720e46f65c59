// SPDX-License-Identifier: MIT
/*
 * Helpers every subcommand shares: error and usage messages and the path of
 * the running executable.  The bottom of the tools: it calls nothing in
 * tools/, so the command table (finalloc.c) can call the subcommands and
 * they can call this without a loop between files.
 */
#include "tools.h"

#include <limits.h>
#include <stdarg.h>
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
