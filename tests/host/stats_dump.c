// SPDX-License-Identifier: MIT
/*
 * FINALLOC_STATS and fa_stats_dump/fa_stats_write: a process that exits
 * with the variable set leaves a dump whose pool counts are what it did
 * (a forked child does not overwrite it, destroyed pools are absent);
 * dumps on demand replace the file whole and say -errno for bad paths;
 * bin/finalloc stats reads what the library wrote (skipped where the
 * binary is absent; FINALLOC_BIN overrides bin/finalloc).
 */
#include "finalloc.h"
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_ALLOC 100
#define M_FREE  37

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	if (buf) {
		n = fread(buf, 1, (1 << 20) - 1, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* The value of "key value" at the start of a line, or -1. */
static long long value_of(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

static bool has_line_prefix(const char *text, const char *prefix)
{
	size_t l = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, l))
			return true;
	return false;
}

/* Every line after the header is a comment or "key value". */
static bool well_formed(const char *text)
{
	const char *p;

	if (strncmp(text, "FINALLOC-STATS 1\n", 17))
		return false;
	for (p = text + 17; *p;) {
		const char *e = strchr(p, '\n'), *sp;

		if (!e)
			return false; /* every line ends */
		sp = memchr(p, ' ', (size_t)(e - p));
		if (*p != '#' && (!sp || sp == p || sp + 1 >= e))
			return false;
		p = e + 1;
	}
	return true;
}

static struct fa_pool *make_pool(const char *name)
{
	struct fa_mem_opts mem = { .backend = FA_BACKEND_SMALL };
	struct fa_pool_opts o = { .name = name, .mem = &mem };

	return fa_pool_create(&o);
}

/* N allocations of 64 bytes, M frees. */
static int churn(struct fa_pool *p, void **v)
{
	for (int i = 0; i < N_ALLOC; i++)
		if (!(v[i] = fa_pool_alloc(p, 64)))
			return -1;
	for (int i = 0; i < M_FREE; i++)
		fa_pool_free(p, v[i]);
	return 0;
}

FIXTURE(dump)
{
	char dir[64];
	char path[128];
};

FIXTURE_SETUP(dump)
{
	strcpy(self->dir, "/tmp/fa-stats-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/dump", self->dir);
	unsetenv("FINALLOC_STATS");
}

FIXTURE_TEARDOWN(dump)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

/* Nothing but the dump itself in the directory (no PATH.tmp.PID left). */
static int dir_entries(const char *dir)
{
	char cmd[160], buf[16] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	pclose(f);
	return atoi(buf);
}

static int wait_exit(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST_F(dump, written_at_exit)
{
	struct stat sb;
	char *text;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static void *v[N_ALLOC];
		struct fa_pool *p;
		pid_t gc;

		setenv("FINALLOC_STATS", self->path, 1);
		p = make_pool("orders");
		if (!p || churn(p, v))
			_exit(10);
		/* a forked child exiting normally must not write the parent's dump */
		gc = fork();
		if (gc == 0)
			exit(0);
		if (wait_exit(gc) != 0)
			_exit(11);
		if (access(self->path, F_OK) == 0)
			_exit(12);
		exit(0); /* atexit: the dump */
	}
	ASSERT_EQ(0, wait_exit(pid));
	ASSERT_EQ(0, stat(self->path, &sb)) TH_LOG("no dump at %s", self->path);
	EXPECT_EQ(0644, sb.st_mode & 0777);
	EXPECT_EQ(1, dir_entries(self->dir));
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_TRUE(well_formed(text)) TH_LOG("%s", text);
	EXPECT_EQ(pid, value_of(text, "process.pid"));
	EXPECT_NE(NULL, strstr(text, "\nprocess.written exit\n"));
	EXPECT_EQ(N_ALLOC, value_of(text, "pool:orders.allocs")) TH_LOG("%s", text);
	EXPECT_EQ(M_FREE, value_of(text, "pool:orders.frees"));
	EXPECT_EQ(N_ALLOC - M_FREE, value_of(text, "pool:orders.live"));
	EXPECT_EQ((N_ALLOC - M_FREE) * 64, value_of(text, "pool:orders.bytes_live"));
	EXPECT_GT(value_of(text, "pool:orders.bytes_reserved"), 0);
	EXPECT_TRUE(has_line_prefix(text, "pool:orders.class.64 allocs 100 frees 37 live 63 "));
	EXPECT_EQ(1, value_of(text, "pools.live"));
	EXPECT_GE(value_of(text, "backend.maps"), 1);
	EXPECT_GE(value_of(text, "backend.maps.small.small"), 1);
	EXPECT_EQ(0, value_of(text, "arena.created"));
	EXPECT_GE(value_of(text, "trace.open"), 0);
	EXPECT_GE(value_of(text, "numa.nodes"), 1);
	free(text);
}

/* Allocators destroyed before exit: absent from the dump, no crash. */
TEST_F(dump, destroyed_allocators_are_absent)
{
	char *text;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static void *v[N_ALLOC];
		struct fa_arena_opts ao = { .chunk_size = 64 << 10,
			                    .mem = { .backend = FA_BACKEND_SMALL } };
		struct fa_pool *p, *keep;
		struct fa_arena *a, *b;
		struct fa_numa *n;

		setenv("FINALLOC_STATS", self->path, 1);
		p = make_pool("gone");
		keep = make_pool("kept");
		a = fa_arena_create(&ao);
		b = fa_arena_create(&ao);
		n = fa_numa_create(NULL);
		if (!p || !keep || !a || !b || !n || churn(p, v) || !fa_arena_alloc(a, 100) ||
		    !fa_numa_alloc(n, 64) || !fa_pool_alloc(keep, 100))
			_exit(10);
		fa_pool_destroy(p);
		fa_arena_destroy(a);
		fa_numa_destroy(n);
		exit(0);
	}
	ASSERT_EQ(0, wait_exit(pid));
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_TRUE(well_formed(text));
	EXPECT_FALSE(has_line_prefix(text, "pool:gone.")) TH_LOG("%s", text);
	EXPECT_FALSE(has_line_prefix(text, "pool:numa-node"));
	EXPECT_EQ(1, value_of(text, "pool:kept.allocs"));
	EXPECT_EQ(1, value_of(text, "pools.live"));
	EXPECT_EQ(2, value_of(text, "arena.created"));
	EXPECT_EQ(1, value_of(text, "arena.live"));
	EXPECT_EQ(1, value_of(text, "arena.chunks_held"));
	EXPECT_EQ(64 << 10, value_of(text, "arena.chunk_bytes_held"));
	EXPECT_EQ(0, value_of(text, "numa.allocators"));
	EXPECT_FALSE(has_line_prefix(text, "numa:node"));
	free(text);
}

/* No FINALLOC_STATS: nothing written at exit. */
TEST_F(dump, unset_writes_nothing)
{
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct fa_pool *p = make_pool("quiet");

		if (!p || !fa_pool_alloc(p, 64))
			_exit(10);
		exit(0);
	}
	ASSERT_EQ(0, wait_exit(pid));
	EXPECT_EQ(0, dir_entries(self->dir));
}

TEST_F(dump, on_demand)
{
	static void *v[N_ALLOC];
	struct fa_pool *p = make_pool("book");
	char *text;
	FILE *f;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, churn(p, v));

	/* replaces what was there, whole */
	f = fopen(self->path, "we");
	ASSERT_NE(NULL, f);
	fputs("old contents\n", f);
	fclose(f);
	ASSERT_EQ(0, fa_stats_dump(self->path));
	EXPECT_EQ(1, dir_entries(self->dir));
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_TRUE(well_formed(text)) TH_LOG("%s", text);
	EXPECT_EQ(NULL, strstr(text, "old contents"));
	EXPECT_NE(NULL, strstr(text, "\nprocess.written request\n"));
	EXPECT_EQ(N_ALLOC, value_of(text, "pool:book.allocs"));
	EXPECT_EQ(M_FREE, value_of(text, "pool:book.frees"));
	EXPECT_EQ(N_ALLOC - M_FREE, value_of(text, "pool:book.live"));
	free(text);

	/* more frees show in the next dump */
	for (int i = M_FREE; i < N_ALLOC; i++)
		fa_pool_free(p, v[i]);
	/* NULL: the environment's path */
	EXPECT_EQ(-EINVAL, fa_stats_dump(NULL));
	setenv("FINALLOC_STATS", "", 1);
	EXPECT_EQ(-EINVAL, fa_stats_dump(NULL));
	setenv("FINALLOC_STATS", self->path, 1);
	ASSERT_EQ(0, fa_stats_dump(NULL));
	unsetenv("FINALLOC_STATS");
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(N_ALLOC, value_of(text, "pool:book.frees"));
	EXPECT_EQ(0, value_of(text, "pool:book.live"));
	free(text);

	/* same-named pools get distinct sections */
	{
		struct fa_pool *q = make_pool("book");
		char *t;

		ASSERT_NE(NULL, q);
		ASSERT_EQ(0, fa_stats_dump(self->path));
		t = slurp(self->path);
		ASSERT_NE(NULL, t);
		EXPECT_FALSE(has_line_prefix(t, "pool:book."));
		EXPECT_TRUE(has_line_prefix(t, "pool:book-"));
		EXPECT_EQ(2, value_of(t, "pools.live"));
		free(t);
		fa_pool_destroy(q);
	}
	fa_pool_destroy(p);
}

/* Past the pools with thread-cache slots, every live pool is listed. */
TEST_F(dump, every_pool_listed)
{
	unsigned n = fa_pool_max_pools() + 6;
	struct fa_pool **p = calloc(n, sizeof(*p));
	char key[64], *text;

	ASSERT_NE(NULL, p);
	for (unsigned i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "p%u", i);
		p[i] = make_pool(key);
		ASSERT_NE(NULL, p[i]);
		ASSERT_NE(NULL, fa_pool_alloc(p[i], 16));
	}
	fa_pool_destroy(p[3]);
	ASSERT_EQ(0, fa_stats_dump(self->path));
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(n - 1, value_of(text, "pools.live"));
	EXPECT_EQ(n - 1, value_of(text, "pools.allocs"));
	for (unsigned i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "pool:p%u.allocs", i);
		EXPECT_EQ(i == 3 ? -1 : 1, value_of(text, key)) TH_LOG("%s", key);
	}
	/* oldest first */
	EXPECT_LT(strstr(text, "pool:p0."), strstr(text, "pool:p1."));
	free(text);
	for (unsigned i = 0; i < n; i++)
		if (i != 3)
			fa_pool_destroy(p[i]);
	free(p);
}

TEST_F(dump, write_to_stream)
{
	struct fa_pool *p = make_pool("stream pool\nsecond line");
	char buf[1 << 16];
	size_t n;
	FILE *f;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, fa_pool_alloc(p, 32));
	EXPECT_EQ(-EINVAL, fa_stats_write(NULL));
	f = tmpfile();
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fa_stats_write(f));
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	EXPECT_TRUE(well_formed(buf)) TH_LOG("%s", buf);
	/* blanks, dots and newlines leave the section name, the raw name stays
	 * on one line */
	EXPECT_EQ(1, value_of(buf, "pool:stream_pool_second_line.allocs"));
	EXPECT_NE(NULL,
	          strstr(buf, "\npool:stream_pool_second_line.name stream pool second line\n"));

	/* a stream that cannot be written */
	f = fopen("/dev/null", "re");
	ASSERT_NE(NULL, f);
	EXPECT_EQ(-EIO, fa_stats_write(f));
	fclose(f);
	fa_pool_destroy(p);
}

TEST_F(dump, bad_paths)
{
	char longp[PATH_MAX + 16], tmp_left[160];
	int saved;

	EXPECT_EQ(-EINVAL, fa_stats_dump(""));
	EXPECT_EQ(-ENOENT, fa_stats_dump("/nonexistent-finalloc-dir/x/dump"));
	/* a directory cannot be replaced by the file: rename says so, and the
	 * temporary file is gone */
	saved = fa_stats_dump(self->dir);
	EXPECT_EQ(-EISDIR, saved);
	snprintf(tmp_left, sizeof(tmp_left), "%s.tmp.%d", self->dir, (int)getpid());
	EXPECT_NE(0, access(tmp_left, F_OK));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, fa_stats_dump(longp));
	/* a read-only directory (root ignores the mode: checked as non-root) */
	if (geteuid() != 0) {
		char ro[160];

		snprintf(ro, sizeof(ro), "%s/ro", self->dir);
		ASSERT_EQ(0, mkdir(ro, 0555));
		strcat(ro, "/dump");
		EXPECT_EQ(-EACCES, fa_stats_dump(ro));
	}
}

/* ---- bin/finalloc reads what the library wrote ---- */

static const char *bin_path(void)
{
	const char *p = getenv("FINALLOC_BIN");

	return p && *p ? p : "bin/finalloc";
}

/* A key and value as `finalloc stats --file` prints them. */
static const char *shown(const char *key, const char *val)
{
	static char line[128];

	snprintf(line, sizeof(line), "  %-32s %s\n", key, val);
	return line;
}

/* Run bin/finalloc with argv (NULL-terminated), stdout into out. */
static int run_bin(char *const argv[], char *out, size_t len)
{
	char outp[] = "/tmp/fa-stats-out-XXXXXX";
	int fd = mkstemp(outp), st;
	ssize_t n;
	pid_t pid;

	if (fd < 0)
		return -1;
	unlink(outp);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd, 1);
		execv(bin_path(), argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST_F(dump, cli_reads_library_dump)
{
	static char out[1 << 16];
	static void *v[N_ALLOC];
	struct fa_pool *p;

	if (access(bin_path(), X_OK))
		SKIP(return, "%s not built or not in this image", bin_path());
	p = make_pool("cli");
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, churn(p, v));
	ASSERT_EQ(0, fa_stats_dump(self->path));

	ASSERT_EQ(0, run_bin((char *[]){ "finalloc", "stats", "--file", self->path, NULL }, out,
	                     sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\npool:cli\n")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\nbackend\n"));
	EXPECT_NE(NULL, strstr(out, "\narena\n"));
	EXPECT_NE(NULL, strstr(out, "\npools\n"));
	EXPECT_TRUE(has_line_prefix(out, shown("allocs", "100")));
	EXPECT_TRUE(has_line_prefix(out, shown("frees", "37")));

	ASSERT_EQ(0,
	          run_bin((char *[]){ "finalloc", "stats", "--json", "--file", self->path, NULL },
	                  out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"pool:cli\": {")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"live\": 63")) TH_LOG("%s", out);
	fa_pool_destroy(p);
}

/* `finalloc stats -- CMD`: CMD linked with the library writes at exit. */
TEST_F(dump, cli_runs_command)
{
	static char out[1 << 16];

	if (access(bin_path(), X_OK))
		SKIP(return, "%s not built or not in this image", bin_path());
	ASSERT_EQ(0, run_bin((char *[]){ "finalloc", "stats", "--", (char *)bin_path(), "bench",
	                                 "--only", "pair", "--alloc", "pool", "--reps", "1",
	                                 "--scale", "0.001", "--quiet", NULL },
	                     out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\nprocess\n")) TH_LOG("%s", out);
	EXPECT_TRUE(has_line_prefix(out, shown("written", "exit"))) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\npools\n"));
}

TEST_HARNESS_MAIN
