/* SPDX-License-Identifier: MIT */
/*
 * The drop-in's test programs run on it twice: built plainly and run with
 * LD_PRELOAD (main re-executes itself with build/libfinalloc-malloc.so
 * preloaded, found next to the program's directory), and linked with
 * libfinalloc-malloc.a first (FA_MALLOC_STATIC: nothing to do).
 * on_finalloc() says whether this process's free is the drop-in's.
 */
#ifndef FA_TESTS_MALLOC_PRELOAD_H
#define FA_TESTS_MALLOC_PRELOAD_H

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int preload(int argc, char **argv)
{
#ifndef FA_MALLOC_STATIC
	char exe[PATH_MAX], so[PATH_MAX + 64];
	ssize_t n;
	char *slash;

	(void)argc;
	if (getenv("FA_MALLOC_PRELOADED"))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	*slash = 0;
	snprintf(so, sizeof(so), "%s/../libfinalloc-malloc.so.0", exe);
	if (access(so, R_OK)) {
		fprintf(stderr, "not built: %s\n", so);
		return -1;
	}
	setenv("LD_PRELOAD", so, 1);
	setenv("FA_MALLOC_PRELOADED", "1", 1);
	*slash = '/';
	execv(exe, argv);
	perror("execv");
	return -1;
#else
	(void)argc;
	(void)argv;
	return 0;
#endif
}

/* Run fn in a child; its stderr comes back in buf.  Returns the wait status. */
static int child_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
	int fd[2], st = 0;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	while (got + 1 < len && (r = read(fd[0], buf + got, len - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = 0;
	close(fd[0]);
	waitpid(pid, &st, 0);
	return st;
}

static void free_static(void *arg)
{
	free(arg);
}

/* The drop-in says "finalloc: free(): invalid pointer ADDR" and aborts. */
static int on_finalloc(void)
{
	static int x;
	char buf[256], want[64];
	int st = child_stderr(free_static, &x, buf, sizeof(buf));

	snprintf(want, sizeof(want), "finalloc: free(): invalid pointer %p", (void *)&x);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(buf, want) != NULL;
}

#define PRELOAD_HARNESS_MAIN                         \
	int main(int argc, char **argv)              \
	{                                            \
		if (preload(argc, argv))             \
			return 1;                    \
		return test_harness_run(argc, argv); \
	}

#endif
