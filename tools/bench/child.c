// SPDX-License-Identifier: MIT
/*
 * The benchmark's child processes, from the driver's side: each is this
 * program re-executed (`finalloc bench --worker ...` or `--probe`), with
 * LD_PRELOAD naming a peer's malloc or cleared, so the peer's malloc really
 * replaces glibc's there and no allocator inherits another's heap.  Here:
 * starting one, reading what it prints, saying how it ended, and the probe
 * that checks a preload took (ld.so only warns when a library is missing).
 */
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define WORKER_TIMEOUT_S 120

static char **worker_env(const char *preload)
{
	static char buf[320];
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			env[k++] = *e;
	if (preload) {
		snprintf(buf, sizeof(buf), "LD_PRELOAD=%s", preload);
		env[k++] = buf;
	}
	env[k] = NULL;
	return env;
}

int bench_run_worker(char *const args[], const char *preload, struct worker_out *o)
{
	const char *self = tool_self_exe();
	char **env = worker_env(preload);
	size_t cap = 4096, len = 0;
	int pfd[2];
	pid_t pid;

	o->text = NULL;
	if (!self || !env || pipe2(pfd, O_CLOEXEC)) {
		free(env);
		return -errno ? -errno : -ENOMEM;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(pfd[0]);
		close(pfd[1]);
		free(env);
		return -e;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		/* A hung worker must not hang the suite; the alarm survives exec. */
		alarm(WORKER_TIMEOUT_S);
		execve(self, args, env);
		fprintf(stderr, "finalloc bench: exec %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	free(env);
	o->text = malloc(cap);
	for (;;) {
		ssize_t n;

		if (!o->text)
			break;
		if (len + 1024 > cap) {
			char *t = realloc(o->text, cap * 2);

			if (!t)
				break;
			o->text = t;
			cap *= 2;
		}
		n = read(pfd[0], o->text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (o->text)
		o->text[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &o->status, 0) < 0 && errno == EINTR)
		;
	return o->text ? 0 : -ENOMEM;
}

void bench_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "%s%s", strsignal(WTERMSIG(status)),
		         WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
	else
		snprintf(buf, len, "status 0x%x", status);
}

void bench_probe_peer(struct alloc_desc *a)
{
	char *args[] = { "finalloc", "bench", "--probe", NULL };
	struct worker_out o;
	char *impl;

	if (bench_run_worker(args, a->preload, &o) || !WIFEXITED(o.status) ||
	    WEXITSTATUS(o.status)) {
		snprintf(a->why, sizeof(a->why), "probe run failed");
		free(o.text);
		return;
	}
	impl = strstr(o.text, "impl ");
	if (impl) {
		impl += 5;
		impl[strcspn(impl, "\n")] = '\0';
		snprintf(a->impl, sizeof(a->impl), "%s", impl);
	}
	if (impl && strstr(impl, a->match)) {
		a->available = true;
	} else if (impl && !strcmp(impl, "static")) {
		/* Statically linked (the VM image): glibc's malloc is the one
		 * built in; no peer can be preloaded. */
		if (a->preload)
			snprintf(a->why, sizeof(a->why),
			         "this finalloc is statically linked: LD_PRELOAD cannot swap "
			         "malloc");
		else
			a->available = true;
	} else if (a->preload) {
		snprintf(a->why, sizeof(a->why), "%s not found (apt-get install %s)", a->preload,
		         a->package);
	} else {
		snprintf(a->why, sizeof(a->why), "malloc comes from %s, not %s",
		         impl ? impl : "an unknown object", a->match);
	}
	free(o.text);
}
