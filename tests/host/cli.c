// SPDX-License-Identifier: MIT
/*
 * bin/finalloc end to end: every subcommand runs and says what it should,
 * --help works everywhere, bad arguments exit 2 with a message naming the
 * problem, --json output is valid JSON, and malformed or foreign journals
 * and stats dumps are refused cleanly.  Runs from the repository root
 * (FINALLOC_BIN overrides the path); skips where the binary is absent.
 */
#include "finalloc.h"
#include "kselftest_harness.h"
#include "slow_test.h"
#include "uapi/linux/finalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX (1 << 20)

struct run {
	int status; /* exit code, or 128 + signal */
	char *out, *err;
};

static const char *bin_path(void)
{
	const char *p = getenv("FINALLOC_BIN");

	return p && *p ? p : "bin/finalloc";
}

static char *slurp_fd(int fd)
{
	char *buf = malloc(OUT_MAX + 1);
	ssize_t n, len = 0;

	if (!buf)
		return NULL;
	lseek(fd, 0, SEEK_SET);
	while (len < OUT_MAX && (n = read(fd, buf + len, OUT_MAX - len)) > 0)
		len += n;
	buf[len] = '\0';
	return buf;
}

/* Run bin/finalloc with the NULL-terminated arguments; env may be NULL or
 * one "NAME=value" to add. */
static int run_env(struct run *r, const char *env, ...)
{
	char outp[] = "/tmp/fa-cli-out-XXXXXX", errp[] = "/tmp/fa-cli-err-XXXXXX";
	char *argv[32];
	int fo = mkstemp(outp), fe = mkstemp(errp), n = 1, st;
	va_list ap;
	pid_t pid;

	r->out = r->err = NULL;
	if (fo < 0 || fe < 0)
		return -1;
	unlink(outp);
	unlink(errp);
	argv[0] = "finalloc";
	va_start(ap, env);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		if (env)
			putenv((char *)env);
		execv(bin_path(), argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp_fd(fo);
	r->err = slurp_fd(fe);
	close(fo);
	close(fe);
	return r->out && r->err ? 0 : -1;
}

#define run(r, ...) run_env((r), NULL, __VA_ARGS__, (char *)NULL)

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define NEED_BIN()                                                                     \
	do {                                                                           \
		if (access(bin_path(), X_OK))                                          \
			SKIP(return, "%s not built or not in this image", bin_path()); \
	} while (0)

/* ---- a strict JSON syntax check (RFC 8259 grammar, no extensions) ---- */

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *js_number(const char *p)
{
	const char *s = p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > s ? p : NULL;
}

static const char *js_value(const char *p, int depth)
{
	p = js_ws(p);
	if (depth > 64)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = js_string(js_ws(p));
				if (!p)
					return NULL;
				p = js_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = js_value(p, depth + 1);
			if (!p)
				return NULL;
			p = js_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return js_string(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	return js_number(p);
}

static bool json_valid(const char *s)
{
	const char *e = js_value(s, 0);

	return e && *js_ws(e) == '\0';
}

/* The integer after "key": in a JSON text (first occurrence), or -1. */
static long long json_get_int(const char *s, const char *key)
{
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(s, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

TEST(json_checker_rejects_bad_json)
{
	/* The checker itself must be able to fail. */
	EXPECT_TRUE(json_valid("{\"a\": [1, 2.5e3, \"x\\n\", true, null, {}]}"));
	EXPECT_FALSE(json_valid("{\"a\": 1,}"));
	EXPECT_FALSE(json_valid("{\"a\": nan}"));
	EXPECT_FALSE(json_valid("{\"a\" 1}"));
	EXPECT_FALSE(json_valid("[1] x"));
	EXPECT_FALSE(json_valid("\"tab\there\""));
}

/* ---- help and usage ---- */

/* The command names of the top help's "commands:" list, into names[max]. */
static int help_commands(const char *help, char names[][16], int max)
{
	const char *p = strstr(help, "\ncommands:\n");
	int n = 0;

	for (p = p ? strchr(p + 1, '\n') + 1 : ""; n < max && !strncmp(p, "  ", 2);) {
		if (sscanf(p, " %15s", names[n]) == 1)
			n++;
		p = strchr(p, '\n');
		p = p ? p + 1 : "";
	}
	return n;
}

TEST(help_everywhere)
{
	static const char *known[] = { "info",  "stats",   "numa", "trace",
		                       "bench", "reserve", "run",  "help" };
	char cmds[32][16];
	struct run r;
	int n;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "--help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "usage: finalloc"));
	n = help_commands(r.out, cmds, 32);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		bool listed = false;

		for (int k = 0; k < n; k++)
			listed |= !strcmp(cmds[k], known[i]);
		EXPECT_TRUE(listed) TH_LOG("top help lacks %s: %s", known[i], r.out);
	}
	run_free(&r);

	/* Every listed command, help included: --help, -h, and help CMD. */
	for (int i = 0; i < n; i++) {
		/* CMD --help, CMD -h, help CMD */
		static const char *forms[] = { "--help", "-h", "help" };
		char want[64];

		snprintf(want, sizeof(want), "usage: finalloc %.15s", cmds[i]);
		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			if (f == 2) {
				ASSERT_EQ(0, run(&r, forms[f], cmds[i]));
			} else {
				ASSERT_EQ(0, run(&r, cmds[i], forms[f]));
			}
			EXPECT_EQ(0, r.status) TH_LOG("%s %s: %s", cmds[i], forms[f], r.err);
			EXPECT_NE(NULL, strstr(r.out, want))
			TH_LOG("%s %s: %s", cmds[i], forms[f], r.out);
			EXPECT_EQ('\0', r.err[0]);
			run_free(&r);
		}
	}
	/* help without a command is the top help */
	ASSERT_EQ(0, run(&r, "help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "usage: finalloc [COMMAND"));
	run_free(&r);
}

/* Each bad command line: exit 2, a message naming the problem, the usage. */
static void expect_usage_error(struct __test_metadata *_metadata, const char *needle, struct run *r)
{
	EXPECT_EQ(2, r->status) TH_LOG("stderr: %s", r->err);
	EXPECT_NE(NULL, strstr(r->err, needle)) TH_LOG("want '%s' in: %s", needle, r->err);
	EXPECT_NE(NULL, strstr(r->err, "usage: finalloc")) TH_LOG("no usage in: %s", r->err);
	EXPECT_EQ(NULL, strstr(r->out, "usage:")) TH_LOG("usage went to stdout");
	run_free(r);
}

TEST(bad_arguments_exit_2)
{
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "frobnicate"));
	expect_usage_error(_metadata, "unknown command 'frobnicate'", &r);
	ASSERT_EQ(0, run(&r, "--frob"));
	expect_usage_error(_metadata, "unknown option '--frob'", &r);
	ASSERT_EQ(0, run(&r, "help", "frob"));
	expect_usage_error(_metadata, "unknown command 'frob'", &r);
	ASSERT_EQ(0, run(&r, "help", "info", "stats"));
	expect_usage_error(_metadata, "one COMMAND only ('stats' is extra)", &r);
	ASSERT_EQ(0, run(&r, "help", "--frob"));
	expect_usage_error(_metadata, "unknown option '--frob'", &r);
	ASSERT_EQ(0, run(&r, "info", "--yaml"));
	expect_usage_error(_metadata, "unknown option '--yaml'", &r);
	ASSERT_EQ(0, run(&r, "info", "extra"));
	expect_usage_error(_metadata, "unexpected argument 'extra'", &r);
	ASSERT_EQ(0, run(&r, "stats", "--bogus"));
	expect_usage_error(_metadata, "unknown option '--bogus'", &r);
	ASSERT_EQ(0, run(&r, "stats", "--count", "3"));
	expect_usage_error(_metadata, "--count needs --watch", &r);
	ASSERT_EQ(0, run(&r, "stats", "--watch", "--interval", "0"));
	expect_usage_error(_metadata, "--interval wants", &r);
	ASSERT_EQ(0, run(&r, "stats", "--file"));
	expect_usage_error(_metadata, "needs an argument", &r);
	ASSERT_EQ(0, run(&r, "numa", "--svg"));
	expect_usage_error(_metadata, "needs an argument", &r);
	ASSERT_EQ(0, run(&r, "numa", "--watch", "--json"));
	expect_usage_error(_metadata, "--watch is for the terminal", &r);
	ASSERT_EQ(0, run(&r, "trace"));
	expect_usage_error(_metadata, "missing journal FILE", &r);
	ASSERT_EQ(0, run(&r, "trace", "a", "b"));
	expect_usage_error(_metadata, "one FILE only", &r);
	ASSERT_EQ(0, run(&r, "trace", "--top", "0", "x"));
	expect_usage_error(_metadata, "--top wants", &r);
	ASSERT_EQ(0, run(&r, "bench", "--reps", "0"));
	expect_usage_error(_metadata, "--reps wants", &r);
	ASSERT_EQ(0, run(&r, "bench", "--reps", "3x"));
	expect_usage_error(_metadata, "--reps wants", &r);
	ASSERT_EQ(0, run(&r, "bench", "--scale", "-1"));
	expect_usage_error(_metadata, "--scale wants", &r);
	ASSERT_EQ(0, run(&r, "bench", "--only", "pair,nosuch"));
	expect_usage_error(_metadata, "unknown workload 'nosuch'", &r);
	ASSERT_EQ(0, run(&r, "bench", "--alloc", "hoard"));
	expect_usage_error(_metadata, "unknown allocator 'hoard'", &r);
	ASSERT_EQ(0, run(&r, "bench", "--json", "--csv"));
	expect_usage_error(_metadata, "exclude each other", &r);
	ASSERT_EQ(0, run(&r, "bench", "--tlb-mib", "1"));
	expect_usage_error(_metadata, "--tlb-mib wants", &r);
	ASSERT_EQ(0, run(&r, "bench", "--html"));
	expect_usage_error(_metadata, "needs an argument", &r);
	ASSERT_EQ(0, run(&r, "bench", "--html", ""));
	expect_usage_error(_metadata, "--html wants a file name", &r);
}

/* A page that cannot be written fails the command before any job runs. */
TEST(bench_html_unwritable)
{
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "bench", "--only", "pair", "--alloc", "pool", "--reps", "1", "--scale",
	                 "0.01", "--quiet", "--html", "/nonexistent/dir/b.html"));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "cannot write /nonexistent/dir/b.html")) TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strstr(r.out, "pair 16 B")) TH_LOG("ran anyway: %s", r.out);
	run_free(&r);
}

TEST(bench_internal_interfaces_reject_garbage)
{
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "bench", "--worker", "malloc", "nosuch", "10", "1", "1", "4096"));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "bad arguments"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "bench", "--worker", "hoard", "pair", "10", "1", "4194304", "4096"));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unknown allocator 'hoard'"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "bench", "--worker", "arena", "pair", "10", "1", "4194304", "4096"));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "arena does not run pair"));
	run_free(&r);
	/* the churn's live count must be a power of 2 */
	ASSERT_EQ(0, run(&r, "bench", "--worker", "malloc", "churn", "10", "1", "4194304", "100"));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "bad arguments"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "bench", "--churn-live", "100"));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "--churn-live wants a power of 2"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "bench", "--instr", "hoard", "10"));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unknown loop 'hoard'"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "bench", "--instr", "pool", "x"));
	EXPECT_EQ(2, r.status);
	run_free(&r);
}

/* ---- info ---- */

TEST(info_text_and_json)
{
	struct utsname u;
	struct run r;
	bool dev = access(FINALLOC_DEV_PATH, F_OK) == 0;
	char want[128];

	NEED_BIN();
	ASSERT_EQ(0, uname(&u));
	ASSERT_EQ(0, run(&r, "info"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, u.release));
	EXPECT_NE(NULL, strstr(r.out, "numa "));
	EXPECT_NE(NULL, strstr(r.out, "thp "));
	EXPECT_NE(NULL, strstr(r.out, "io_uring "));
	EXPECT_TRUE(strstr(r.out, dev ? "/dev/finalloc present" : "/dev/finalloc absent") ||
	            strstr(r.out, "/dev/finalloc usable"));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "info", "--json"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("invalid JSON: %s", r.out);
	snprintf(want, sizeof(want), "\"release\": \"%s\"", u.release);
	EXPECT_NE(NULL, strstr(r.out, want));
	EXPECT_NE(NULL, strstr(r.out, dev ? "\"present\": true" : "\"present\": false"));
	EXPECT_NE(NULL, strstr(r.out, "\"io_uring\""));
	EXPECT_NE(NULL, strstr(r.out, "\"2048kB\""));
	run_free(&r);
}

TEST(info_json_node_count_matches_topology)
{
	struct fa_topology t;
	struct run r;
	int nodes = 0;

	NEED_BIN();
	ASSERT_EQ(0, fa_topology_read(&t));
	ASSERT_EQ(0, run(&r, "info", "--json"));
	for (const char *p = r.out; (p = strstr(p, "\"has_memory\"")); p++)
		nodes++;
	EXPECT_EQ(t.nr_nodes, nodes);
	run_free(&r);
}

/* In the VM the module is loaded: the device must be usable and answer. */
TEST(info_reports_usable_device)
{
	struct finalloc_info fi = { .argsz = sizeof(fi) };
	struct run r;
	char want[64];
	int fd;

	NEED_BIN();
	fd = open(FINALLOC_DEV_PATH, O_RDWR);
	if (fd < 0)
		SKIP(return, "%s not usable here (%s)", FINALLOC_DEV_PATH, strerror(errno));
	ASSERT_EQ(0, ioctl(fd, FINALLOC_IOC_INFO, &fi));
	close(fd);
	ASSERT_EQ(0, run(&r, "info", "--json"));
	EXPECT_NE(NULL, strstr(r.out, "\"usable\": true"));
	snprintf(want, sizeof(want), "\"abi_version\": %u", fi.abi_version);
	EXPECT_NE(NULL, strstr(r.out, want));
	snprintf(want, sizeof(want), "\"pmd_map\": %s",
	         fi.caps & FINALLOC_CAP_PMD_MAP ? "true" : "false");
	EXPECT_NE(NULL, strstr(r.out, want));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "info"));
	EXPECT_NE(NULL, strstr(r.out, "/dev/finalloc usable"));
	run_free(&r);
}

/* ---- stats ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A directory tree shaped like /sys/kernel/finalloc. */
static void fake_sysfs(char *dir)
{
	char p[256];

	strcpy(dir, "/tmp/fa-cli-sysfs-XXXXXX");
	if (!mkdtemp(dir))
		return;
	snprintf(p, sizeof(p), "%s/version", dir), write_file(p, "1\n");
	snprintf(p, sizeof(p), "%s/pinned_bytes", dir), write_file(p, "8388608\n");
	snprintf(p, sizeof(p), "%s/regions", dir), write_file(p, "3\n");
	snprintf(p, sizeof(p), "%s/cap", dir), write_file(p, "0\n");
	snprintf(p, sizeof(p), "%s/node1", dir), mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/node0", dir), mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/node0/pinned_bytes", dir), write_file(p, "2097152\n");
	snprintf(p, sizeof(p), "%s/node0/pages_2m", dir), write_file(p, "1\n");
	snprintf(p, sizeof(p), "%s/node1/pinned_bytes", dir), write_file(p, "6291456\n");
	snprintf(p, sizeof(p), "%s/node1/pages_2m", dir), write_file(p, "3\n");
}

static void rm_fake_sysfs(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "# could not remove %s\n", dir);
}

TEST(stats_reads_the_sysfs_layout)
{
	char dir[64], opt[96];
	struct run r;
	const char *n0, *n1;

	NEED_BIN();
	fake_sysfs(dir);
	snprintf(opt, sizeof(opt), "--sysfs-root=%s", dir);
	ASSERT_EQ(0, run(&r, "stats", opt));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "8.0 MiB (8388608)"));
	EXPECT_NE(NULL, strstr(r.out, "regions"));
	EXPECT_NE(NULL, strstr(r.out, "0 (none)"));
	/* Known counters come in reading order: pinned bytes before regions. */
	EXPECT_LT(strstr(r.out, "pinned_bytes"), strstr(r.out, "regions"));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "stats", "--json", opt));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_EQ(3, json_get_int(r.out, "regions"));
	EXPECT_EQ(8388608, json_get_int(r.out, "pinned_bytes"));
	/* Nodes sorted by id, with their own counters. */
	n0 = strstr(r.out, "\"node\": 0");
	n1 = strstr(r.out, "\"node\": 1");
	ASSERT_NE(NULL, n0);
	ASSERT_NE(NULL, n1);
	EXPECT_LT(n0, n1);
	EXPECT_EQ(3, json_get_int(n1, "pages_2m"));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "stats", "--watch", "--count", "2", "--interval", "0.05", opt));
	EXPECT_EQ(0, r.status);
	{
		const char *first = strstr(r.out, dir);

		ASSERT_NE(NULL, first);
		EXPECT_NE(NULL, strstr(first + 1, dir)) TH_LOG("one refresh only: %s", r.out);
	}
	run_free(&r);
	rm_fake_sysfs(dir);
}

TEST(stats_without_module_or_with_it)
{
	bool present = access(FINALLOC_SYSFS_PATH, F_OK) == 0;
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "stats"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, present ? "pinned_bytes" : "absent"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "stats", "--json"));
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, present ? "\"present\": true" : "\"present\": false"));
	run_free(&r);
}

/* With the module loaded, a region created here shows in `stats`. */
TEST(stats_counters_move_with_the_module)
{
	struct finalloc_region_create rc = {
		.argsz = sizeof(rc),
		.size = 2 << 20,
		.node = 0,
		.page_shift = FINALLOC_PAGE_SHIFT_2M,
	};
	struct finalloc_region_destroy rd = { .argsz = sizeof(rd) };
	long long before, during, after, pinned_before, pinned_during;
	struct run r;
	int fd;

	NEED_BIN();
	fd = open(FINALLOC_DEV_PATH, O_RDWR);
	if (fd < 0)
		SKIP(return, "%s not usable here (%s)", FINALLOC_DEV_PATH, strerror(errno));
	ASSERT_EQ(0, run(&r, "stats", "--json"));
	before = json_get_int(r.out, "regions");
	pinned_before = json_get_int(r.out, "pinned_bytes");
	run_free(&r);
	ASSERT_EQ(0, ioctl(fd, FINALLOC_IOC_REGION_CREATE, &rc)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, run(&r, "stats", "--json"));
	during = json_get_int(r.out, "regions");
	pinned_during = json_get_int(r.out, "pinned_bytes");
	run_free(&r);
	rd.id = rc.id;
	ASSERT_EQ(0, ioctl(fd, FINALLOC_IOC_REGION_DESTROY, &rd));
	close(fd);
	ASSERT_EQ(0, run(&r, "stats", "--json"));
	after = json_get_int(r.out, "regions");
	run_free(&r);
	EXPECT_EQ(before + 1, during);
	EXPECT_GE(pinned_during, pinned_before + (2 << 20));
	EXPECT_EQ(before, after);
}

TEST(stats_dump_files)
{
	char path[] = "/tmp/fa-cli-dump-XXXXXX";
	int fd = mkstemp(path);
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);
	write_file(path, "FINALLOC-STATS 1\nbackend.maps 12\nbackend.downgrades 0\n"
	                 "trace.records 77\ntrace.path /tmp/j x\n");
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "backend\n"));
	EXPECT_NE(NULL, strstr(r.out, "trace\n"));
	EXPECT_NE(NULL, strstr(r.out, "/tmp/j x"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "stats", "--json", "--file", path));
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_EQ(12, json_get_int(r.out, "maps"));
	EXPECT_EQ(77, json_get_int(r.out, "records"));
	run_free(&r);

	/* Foreign and malformed files: exit 1, named problem. */
	write_file(path, "hello\n");
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "not a FINALLOC_STATS dump"));
	run_free(&r);
	write_file(path, "FINALLOC-STATS 1\nlonely\n");
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "malformed line"));
	run_free(&r);
	/* 2^64: a counter that cannot be, refused by both views */
	write_file(path, "FINALLOC-STATS 1\nbackend.maps 18446744073709551616\n");
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL,
	          strstr(r.err, ":2: backend.maps: 18446744073709551616 does not fit 64 bits"))
	TH_LOG("%s", r.err);
	run_free(&r);
	ASSERT_EQ(0, run(&r, "stats", "--json", "--file", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "does not fit 64 bits"));
	run_free(&r);
	/* the largest one is a counter still */
	write_file(path, "FINALLOC-STATS 1\nbackend.maps 18446744073709551615\n");
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_free(&r);

	/* the dump's time reads as ISO 8601 UTC; JSON keeps time_ns too */
	write_file(path, "FINALLOC-STATS 1\nprocess.pid 7\nprocess.time_ns 1796400000123456789\n");
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "2026-12-04T16:00:00.123Z")) TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "1796400000123456789"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "stats", "--json", "--file", path));
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\"time\": \"2026-12-04T16:00:00.123Z\""));
	EXPECT_NE(NULL, strstr(r.out, "\"time_ns\": 1796400000123456789"));
	run_free(&r);
	unlink(path);
	ASSERT_EQ(0, run(&r, "stats", "--file", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "No such file"));
	run_free(&r);

	/* A command that is not linked with libfinalloc writes nothing. */
	ASSERT_EQ(0, run(&r, "stats", "--", "/bin/true"));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "wrote no statistics"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "stats", "--", "/nonexistent/cmd"));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "/nonexistent/cmd"));
	run_free(&r);
}

/* ---- numa ---- */

static char *slurp_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	char *s;

	if (fd < 0)
		return NULL;
	s = slurp_fd(fd);
	close(fd);
	return s;
}

TEST(numa_views)
{
	char svg[] = "/tmp/fa-cli-svg-XXXXXX", html[] = "/tmp/fa-cli-html-XXXXXX";
	struct fa_topology t;
	struct run r;
	char *s, want[32];
	int fs = mkstemp(svg), fh = mkstemp(html), nodes = 0;

	NEED_BIN();
	ASSERT_GE(fs, 0);
	ASSERT_GE(fh, 0);
	close(fs);
	close(fh);
	ASSERT_EQ(0, fa_topology_read(&t));

	ASSERT_EQ(0, run(&r, "numa"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "FinAlloc NUMA profile"));
	for (int i = 0; i < t.nr_nodes; i++) {
		snprintf(want, sizeof(want), "\nnode %d", t.node[i].node);
		EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("node %d missing", t.node[i].node);
	}
	run_free(&r);

	ASSERT_EQ(0, run(&r, "numa", "--json"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	for (const char *p = r.out; (p = strstr(p, "\"mem_node\"")); p++)
		nodes++;
	EXPECT_EQ(t.nr_nodes, nodes);
	EXPECT_NE(NULL, strstr(r.out, access(FINALLOC_SYSFS_PATH, F_OK) ? "\"module\": false"
	                                                                : "\"module\": true"));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "numa", "--svg", svg, "--html", html));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, svg));
	run_free(&r);
	s = slurp_path(svg);
	ASSERT_NE(NULL, s);
	EXPECT_NE(NULL, strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	EXPECT_NE(NULL, strstr(s, "</svg>\n"));
	free(s);
	s = slurp_path(html);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, strncmp(s, "<!DOCTYPE html>", 15));
	EXPECT_NE(NULL, strstr(s, "<svg"));
	EXPECT_NE(NULL, strstr(s, "</html>"));
	free(s);
	unlink(svg);
	unlink(html);

	ASSERT_EQ(0, run(&r, "numa", "--svg", "/nonexistent-dir/x.svg"));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "/nonexistent-dir/x.svg"));
	run_free(&r);
	ASSERT_EQ(0, run(&r, "numa", "--watch", "--count", "2", "--interval", "0.05"));
	EXPECT_EQ(0, r.status);
	{
		const char *first = strstr(r.out, "FinAlloc NUMA profile");

		ASSERT_NE(NULL, first);
		EXPECT_NE(NULL, strstr(first + 1, "FinAlloc NUMA profile"))
		TH_LOG("one refresh only");
	}
	run_free(&r);
}

/* ---- trace ---- */

struct jw {
	unsigned char buf[4096];
	size_t len;
};

static void jw_put(struct jw *w, const void *p, size_t n)
{
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void jw_u16(struct jw *w, uint16_t v)
{
	jw_put(w, &v, 2);
}
static void jw_u32(struct jw *w, uint32_t v)
{
	jw_put(w, &v, 4);
}
static void jw_u64(struct jw *w, uint64_t v)
{
	jw_put(w, &v, 8);
}

static void jw_header(struct jw *w, uint32_t version)
{
	static const char magic[8] = { 'F', 'A', 'J', 'R', 'N', 'L', 0, 1 };
	uint8_t zero[24] = { 0 };

	w->len = 0;
	jw_put(w, magic, 8);
	jw_u32(w, version);
	jw_u32(w, 64);
	jw_u64(w, 1000);
	jw_u64(w, 1700000000ull * 1000000000ull);
	jw_u32(w, 4242);
	jw_u32(w, 0);
	jw_put(w, zero, 24);
}

/* A journal written by hand from the format in include/finalloc.h. */
static void make_journal(struct jw *w, uint32_t version, bool end)
{
	static const char file[] = "order_book.c", func[] = "add_level";
	uint8_t zero[24] = { 0 };
	size_t names = sizeof(file) - 1 + sizeof(func) - 1, pad = (8 - (24 + names) % 8) % 8;

	jw_header(w, version);
	/* SITE 1 */
	jw_u16(w, FA_TRACE_SITE);
	jw_u16(w, (uint16_t)(24 + names + pad));
	jw_u32(w, 1);
	jw_u32(w, 88);
	jw_u32(w, 7);
	jw_u16(w, sizeof(file) - 1);
	jw_u16(w, sizeof(func) - 1);
	jw_u32(w, 0);
	jw_put(w, file, sizeof(file) - 1);
	jw_put(w, func, sizeof(func) - 1);
	jw_put(w, zero, pad);
	/* three ALLOCs at site 1: 64, 64, 1 MiB */
	for (int i = 0; i < 3; i++) {
		jw_u16(w, FA_TRACE_ALLOC);
		jw_u16(w, 48);
		jw_u32(w, 1);
		jw_u64(w, 100 + i * 1000);
		jw_u64(w, 1);
		jw_u64(w, 0x7f0000000000ull + i * 4096);
		jw_u64(w, i == 2 ? 1 << 20 : 64);
		jw_u32(w, 16);
		jw_u32(w, 7);
	}
	/* an unknown record type a reader must skip by its length */
	jw_u16(w, 99);
	jw_u16(w, 16);
	jw_u32(w, 0);
	jw_u64(w, 0);
	if (end) {
		jw_u16(w, FA_TRACE_END);
		jw_u16(w, 32);
		jw_u32(w, 0);
		jw_u64(w, 4);
		jw_u64(w, 0);
		jw_u64(w, 5000);
	}
}

static void save(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

TEST(trace_decodes_a_journal)
{
	char path[] = "/tmp/fa-cli-jrnl-XXXXXX";
	int fd = mkstemp(path);
	struct jw w;
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);
	make_journal(&w, 1, true);
	save(path, w.buf, w.len);

	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "pid 4242"));
	EXPECT_NE(NULL, strstr(r.out, "3 allocations"));
	EXPECT_NE(NULL, strstr(r.out, "order_book.c:88 add_level()"));
	EXPECT_NE(NULL, strstr(r.out, "complete"));
	EXPECT_NE(NULL, strstr(r.out, "top sites by bytes"));
	EXPECT_NE(NULL, strstr(r.out, "size histogram"));
	EXPECT_NE(NULL, strstr(r.out, "largest allocations"));
	EXPECT_NE(NULL, strstr(r.out, "timeline"));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "trace", "--json", path));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_EQ(3, json_get_int(r.out, "allocations"));
	EXPECT_EQ((1 << 20) + 128, json_get_int(r.out, "bytes"));
	EXPECT_EQ(1, json_get_int(r.out, "sites"));
	/* The largest allocation first, with its site. */
	EXPECT_EQ(1 << 20, json_get_int(strstr(r.out, "\"largest\""), "size"));
	EXPECT_EQ(88, json_get_int(strstr(r.out, "\"largest\""), "line"));
	run_free(&r);

	/* Without END: decoded, and said to be incomplete. */
	make_journal(&w, 1, false);
	save(path, w.buf, w.len);
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "no end record"));
	run_free(&r);
	unlink(path);
}

static void jw_source(struct jw *w, uint16_t event, uint64_t id)
{
	jw_u16(w, FA_TRACE_ARENA);
	jw_u16(w, 32);
	jw_u16(w, event);
	jw_u16(w, 0);
	jw_u64(w, 10);
	jw_u64(w, id);
	jw_u32(w, 7);
	jw_u32(w, 0);
}

static void jw_block(struct jw *w, uint16_t type, uint64_t id, uint64_t addr, uint64_t size)
{
	jw_u16(w, type);
	jw_u16(w, type == FA_TRACE_ALLOC ? 48 : 40);
	if (type == FA_TRACE_ALLOC) {
		jw_u32(w, 0); /* no site */
		jw_u64(w, 20);
		jw_u64(w, id);
		jw_u64(w, addr);
		jw_u64(w, size);
		jw_u32(w, 64);
		jw_u32(w, 7);
	} else {
		jw_u32(w, 7);
		jw_u64(w, 30);
		jw_u64(w, id);
		jw_u64(w, addr);
		jw_u64(w, size);
	}
}

/* Large blocks of a pool and of a NUMA allocator, one freed. */
TEST(trace_shows_pool_and_numa_sources)
{
	char path[] = "/tmp/fa-cli-jrnl-XXXXXX";
	uint64_t pool = (uint64_t)FA_TRACE_SRC_POOL << FA_TRACE_SRC_SHIFT | 1;
	uint64_t numa = (uint64_t)FA_TRACE_SRC_NUMA << FA_TRACE_SRC_SHIFT | 1;
	int fd = mkstemp(path);
	struct jw w;
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);
	jw_header(&w, 1);
	jw_source(&w, FA_TRACE_EV_CREATE, pool);
	jw_block(&w, FA_TRACE_ALLOC, pool, 0x7f0000000000ull, 1 << 20);
	jw_block(&w, FA_TRACE_FREE, pool, 0x7f0000000000ull, 1 << 20);
	jw_source(&w, FA_TRACE_EV_DESTROY, pool);
	jw_source(&w, FA_TRACE_EV_CREATE, numa);
	jw_block(&w, FA_TRACE_ALLOC, numa, 0x7f0000400000ull, 2 << 20);
	save(path, w.buf, w.len);

	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "2 allocations"));
	EXPECT_NE(NULL, strstr(r.out, "arenas: 0 created")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "pools: 1 created, 1 destroyed; large allocations: 1 "
	                              "(1.0 MiB), 1 freed (1.0 MiB), 0 not freed"))
	TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "numa allocators: 1 created, 0 destroyed; large "
	                              "allocations: 1 (2.0 MiB), 0 freed (0 B), 1 not freed "
	                              "(2.0 MiB)"))
	TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "(unknown site)"));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "trace", "--json", path));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_EQ(0, json_get_int(r.out, "arena_creates"));
	EXPECT_EQ(1, json_get_int(strstr(r.out, "\"pools\""), "frees"));
	EXPECT_EQ(1 << 20, json_get_int(strstr(r.out, "\"pools\""), "freed_bytes"));
	EXPECT_EQ(1, json_get_int(strstr(r.out, "\"numa\""), "large_allocations"));
	EXPECT_EQ(0, json_get_int(strstr(r.out, "\"numa\""), "frees"));
	run_free(&r);
	unlink(path);
}

/* END counts drops no DROP record placed: every view still says so. */
TEST(trace_shows_drops_only_the_end_counts)
{
	char path[] = "/tmp/fa-cli-drop-XXXXXX";
	int fd = mkstemp(path);
	uint64_t n = 1293;
	struct jw w;
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);
	make_journal(&w, 1, true);
	memcpy(w.buf + w.len - 16, &n, 8); /* END.dropped */
	save(path, w.buf, w.len);
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "WARNING: 1293 records dropped")) TH_LOG("%s", r.out);
	run_free(&r);
	ASSERT_EQ(0, run(&r, "trace", "--json", path));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_EQ(1293, json_get_int(r.out, "dropped"));
	EXPECT_EQ(1293, json_get_int(r.out, "dropped_unplaced"));
	run_free(&r);
	unlink(path);
}

/* A journal cut short (its program killed): the good prefix is shown and
 * every view says where it ends and what was expected there. */
TEST(trace_shows_the_prefix_of_a_cut_journal)
{
	char path[] = "/tmp/fa-cli-cut-XXXXXX";
	int fd = mkstemp(path);
	struct jw w;
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);
	make_journal(&w, 1, true);
	ASSERT_EQ(304, w.len);
	save(path, w.buf, 208 + 20); /* inside the third ALLOC, at 208 */

	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "2 allocations")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "order_book.c:88 add_level()"));
	EXPECT_NE(NULL, strstr(r.out, "WARNING: TRUNCATED at byte 208 of 228: expected a 48-byte "
	                              "ALLOC record, 20 bytes left"))
	TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.err, "truncated at byte 208 of 228")) TH_LOG("%s", r.err);
	run_free(&r);

	ASSERT_EQ(0, run(&r, "trace", "--json", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_EQ(2, json_get_int(r.out, "allocations"));
	EXPECT_NE(NULL, strstr(r.out, "\"complete\": false")) TH_LOG("%s", r.out);
	ASSERT_NE(NULL, strstr(r.out, "\"damage\"")) TH_LOG("%s", r.out);
	EXPECT_EQ(208, json_get_int(strstr(r.out, "\"damage\""), "offset"));
	EXPECT_EQ(228, json_get_int(strstr(r.out, "\"damage\""), "file_size"));
	EXPECT_NE(NULL, strstr(r.out, "\"truncated\": true"));
	EXPECT_NE(NULL, strstr(r.out, "a 48-byte ALLOC record, 20 bytes left"));
	run_free(&r);
	unlink(path);
}

TEST(trace_rejects_bad_journals)
{
	char path[] = "/tmp/fa-cli-bad-XXXXXX";
	int fd = mkstemp(path);
	struct jw w;
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);

	/* Foreign: an ELF binary and a text file. */
	ASSERT_EQ(0, run(&r, "trace", bin_path()));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "not a FinAlloc allocation journal"));
	run_free(&r);
	write_file(path, "FAJRNL but not really\n");
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "not a FinAlloc allocation journal"));
	run_free(&r);

	/* Empty. */
	save(path, "", 0);
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "not a FinAlloc allocation journal"));
	run_free(&r);

	/* Newer version. */
	make_journal(&w, 2, true);
	save(path, w.buf, w.len);
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "newer FinAlloc"));
	run_free(&r);

	/* A record length that is not a multiple of 8: nothing before it
	 * but the header, said where, exit 1. */
	make_journal(&w, 1, true);
	w.buf[64 + 2] = 13;
	save(path, w.buf, w.len);
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "corrupt record at byte 64 of 304")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "CORRUPT at byte 64 of 304")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "its head says 13")) TH_LOG("%s", r.out);
	run_free(&r);

	unlink(path);
	ASSERT_EQ(0, run(&r, "trace", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "No such file"));
	run_free(&r);
}

/* A journal the library wrote itself decodes to what was allocated. */
TEST(trace_decodes_the_library_journal)
{
	char path[] = "/tmp/fa-cli-lib-XXXXXX";
	struct fa_arena_opts ao = { .flags = FA_ARENA_TRACE };
	int fd = mkstemp(path), ret;
	struct fa_arena *a;
	struct run r;

	NEED_BIN();
	ASSERT_GE(fd, 0);
	close(fd);
	ret = fa_trace_open(path, NULL);
	ASSERT_EQ(0, ret) TH_LOG("fa_trace_open: %s", strerror(-ret));
	a = fa_arena_create(&ao);
	ASSERT_NE(NULL, a);
	for (int i = 0; i < 10; i++)
		ASSERT_NE(NULL, fa_arena_alloc(a, 100));
	ASSERT_NE(NULL, fa_arena_alloc(a, 300000));
	fa_arena_destroy(a);
	ASSERT_EQ(0, fa_trace_close());

	ASSERT_EQ(0, run(&r, "trace", "--json", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_EQ(11, json_get_int(r.out, "allocations"));
	EXPECT_EQ(301000, json_get_int(r.out, "bytes"));
	EXPECT_EQ(300000, json_get_int(strstr(r.out, "\"largest\""), "size"));
	EXPECT_NE(NULL, strstr(r.out, "cli.c"));
	EXPECT_EQ(1, json_get_int(r.out, "arena_creates"));
	run_free(&r);
	unlink(path);
}

/* ---- bench ---- */

/* finalloc run: the command runs on the drop-in, its status comes back,
 * --stats summarises the dump, bad options are usage errors. */
TEST(run_on_the_drop_in)
{
	char sorted[] = "/tmp/fa-cli-sort-XXXXXX";
	struct run r;
	int fd;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "run"));
	expect_usage_error(_metadata, "no command to run", &r);
	ASSERT_EQ(0, run(&r, "run", "--backend", "frob", "--", "true"));
	expect_usage_error(_metadata, "unknown backend 'frob'", &r);
	ASSERT_EQ(0, run(&r, "run", "--", "sh", "-c", "exit 3"));
	if (strstr(r.err, "libfinalloc-malloc.so.0 not found")) {
		run_free(&r);
		SKIP(return, "the drop-in is not built next to %s", bin_path());
	}
	EXPECT_EQ(3, r.status) TH_LOG("stderr: %s", r.err);
	run_free(&r);
	/* on the drop-in: a bad free is its report, not glibc's */
	ASSERT_EQ(0, run(&r, "run", "--", "sh", "-c", "echo \"$LD_PRELOAD\""));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "libfinalloc-malloc.so.0")) TH_LOG("stdout: %s", r.out);
	run_free(&r);
	/* a dynamic program (the VM's busybox is static), on a file of its own */
	fd = mkstemp(sorted);
	ASSERT_LE(0, fd);
	close(fd);
	write_file(sorted, "zeta\nroot:x:0:0\nalpha\n");
	ASSERT_EQ(0, run(&r, "run", "--stats", "--backend", "small", "--debug", "--",
	                 "/usr/bin/sort", sorted));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "alpha\nroot:x:0:0\nzeta\n")) TH_LOG("stdout: %s", r.out);
	EXPECT_NE(NULL, strstr(r.err, "finalloc run: statistics")) TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "peak RSS")) TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "(huge pages: 0%)")) TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "<=64 B")) TH_LOG("stderr: %s", r.err);
	run_free(&r);
	unlink(sorted);
	ASSERT_EQ(0, run(&r, "run", "--", "/nonexistent/program"));
	EXPECT_EQ(127, r.status);
	EXPECT_NE(NULL, strstr(r.err, "/nonexistent/program")) TH_LOG("stderr: %s", r.err);
	run_free(&r);
}

TEST(bench_small_run_json_and_csv)
{
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "bench", "--only", "pair,churn", "--alloc", "glibc,pool", "--reps",
	                 "2", "--scale", "0.01", "--json", "--quiet"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\"metric\": \"pair.64\""));
	EXPECT_NE(NULL, strstr(r.out, "\"metric\": \"churn\""));
	EXPECT_NE(NULL, strstr(r.out, "\"allocator\": \"pool\""));
	EXPECT_NE(NULL, strstr(r.out, "\"best_peer\": \"glibc\""));
	EXPECT_NE(NULL, strstr(r.out, "\"ratio_to_best_peer\""));
	EXPECT_EQ(0, json_get_int(r.out, "failures"));
	/* two repetitions each */
	EXPECT_NE(NULL, strstr(r.out, "\"samples\": ["));
	EXPECT_EQ(NULL, strstr(r.out, "\"allocator\": \"jemalloc\""));
	run_free(&r);

	ASSERT_EQ(0, run(&r, "bench", "--only", "bump", "--alloc", "glibc,arena", "--reps", "1",
	                 "--scale", "0.05", "--csv", "--quiet"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "workload,metric,unit,allocator,median", 37));
	EXPECT_NE(NULL, strstr(r.out, "\nbump,bump,ns/obj,glibc,"));
	EXPECT_NE(NULL, strstr(r.out, "\nbump,bump,ns/obj,arena,"));
	run_free(&r);
}

/* The C++ workloads run in the same run and print their rows: the std
 * side under the peers, the C++ layer under pool, pool-fine and arena.
 * (What they measure is not checked: no timing here.) */
TEST(bench_cxx_rows)
{
	/* CSV rows start "workload,metric,unit,allocator," */
	static const char *const rows[] = {
		"pmr,pmr.mono,ns/obj,glibc,",     "pmr,pmr.mono,ns/obj,arena,",
		"pmr,pmr.unsync,ns/op,glibc,",    "pmr,pmr.unsync,ns/op,pool,",
		"pmr,pmr.sync,ns/op,glibc,",      "pmr,pmr.sync,ns/op,pool,",
		"map,map.churn,ns/op,glibc,",     "map,map.churn,ns/op,pool,",
		"map,map.churn,ns/op,pool-fine,",
	};
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "bench", "--only", "pmr,map", "--alloc", "glibc,pool,pool-fine,arena",
	                 "--reps", "1", "--scale", "0.01", "--csv", "--quiet"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char line[96];

		snprintf(line, sizeof(line), "\n%s", rows[i]);
		EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("no row %s in: %s", rows[i], r.out);
	}
	run_free(&r);
	/* and the table names them */
	ASSERT_EQ(0, run(&r, "bench", "--only", "map", "--alloc", "glibc,pool", "--reps", "1",
	                 "--scale", "0.01", "--quiet"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "unordered_map churn")) TH_LOG("%s", r.out);
	run_free(&r);
}

/* A peer preloaded into its worker must really replace malloc there. */
TEST(bench_peers_really_preloaded)
{
	static const char *libs[][2] = {
		{ "jemalloc", "libjemalloc.so.2" },
		{ "tcmalloc", "libtcmalloc_minimal.so.4" },
		{ "mimalloc", "libmimalloc.so.2" },
	};
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "bench", "--only", "pair", "--alloc", "jemalloc,tcmalloc,mimalloc",
	                 "--reps", "1", "--scale", "0.01", "--json", "--quiet"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(json_valid(r.out));
	for (size_t i = 0; i < 3; i++) {
		char name[64];
		const char *p;

		snprintf(name, sizeof(name), "\"name\": \"%s\"", libs[i][0]);
		p = strstr(r.out, name);
		ASSERT_NE(NULL, p);
		if (strstr(p, "\"available\": true") == strstr(p, "\"available\"")) {
			const char *impl = strstr(p, "\"impl\": \"");

			ASSERT_NE(NULL, impl);
			EXPECT_NE(NULL, strstr(impl, libs[i][1]));
		} else {
			/* missing: said, with the package to install, or
			 * a static binary (the VM image) that cannot preload */
			EXPECT_TRUE(strstr(p, "apt-get install") || strstr(p, "statically linked"));
		}
	}
	run_free(&r);
}

/* The floor yardstick runs every workload but the page-size one through
 * its preloaded malloc, without a failure (what it measures is not checked). */
TEST(bench_floor_runs_every_workload)
{
	struct run r;
	const char *p, *impl;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "bench", "--only",
	                 "pair,churn,prodcons,bump,larson,large,xmalloc,cache-scratch,"
	                 "cache-thrash,mstress,randsize,pmr,map",
	                 "--alloc", "glibc,floor", "--reps", "1", "--scale", "0.01", "--json",
	                 "--quiet"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	ASSERT_TRUE(json_valid(r.out)) TH_LOG("%s", r.out);
	EXPECT_EQ(0, json_get_int(r.out, "failures")) TH_LOG("%s", r.err);
	p = strstr(r.out, "\"name\": \"floor\"");
	ASSERT_NE(NULL, p) TH_LOG("%s", r.out);
	if (strstr(p, "\"available\": true") == strstr(p, "\"available\"")) {
		impl = strstr(p, "\"impl\": \"");
		ASSERT_NE(NULL, impl);
		EXPECT_NE(NULL, strstr(impl, "libfinalloc-floor.so")) TH_LOG("%s", impl);
		EXPECT_NE(NULL, strstr(r.out, "\"metric\": \"map.churn\""));
		EXPECT_NE(NULL, strstr(r.out, "\"allocator\": \"floor\""));
	} else {
		/* an installed tree has no floor; a static binary cannot preload */
		EXPECT_TRUE(strstr(p, "not found") || strstr(p, "statically linked"))
		TH_LOG("%s", p);
	}
	run_free(&r);
}

/* ---- reserve ---- */

TEST(reserve_bad_arguments_exit_2)
{
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, "reserve"));
	expect_usage_error(_metadata, "missing --node N", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "0"));
	expect_usage_error(_metadata, "missing --pages COUNT", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--pages", "8"));
	expect_usage_error(_metadata, "missing --node N", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "x", "--pages", "8"));
	expect_usage_error(_metadata, "--node wants a node number, not 'x'", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "-1", "--pages", "8"));
	expect_usage_error(_metadata, "--node wants a node number, not '-1'", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "0", "--pages", "-8"));
	expect_usage_error(_metadata, "--pages wants a count, not '-8'", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "0", "--pages", "8", "--size", "4M"));
	expect_usage_error(_metadata, "--size wants 2M or 1G, not '4M'", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "0", "--pages", "8", "--size", "2"));
	expect_usage_error(_metadata, "--size wants 2M or 1G, not '2'", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "0", "--pages", "8", "extra"));
	expect_usage_error(_metadata, "unexpected argument 'extra'", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--file", "/etc/hostname", "--node", "0"));
	expect_usage_error(_metadata, "--file excludes --node, --pages and --size", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--node"));
	expect_usage_error(_metadata, "needs an argument", &r);
	ASSERT_EQ(0, run(&r, "reserve", "--frob"));
	expect_usage_error(_metadata, "unknown option '--frob'", &r);
}

/* A tree shaped like /sys/devices/system/node (FINALLOC_SYSFS_ROOT stands
 * for /sys): node 0 with 2 MiB pages only, node 1 with both sizes. */
static const char *const fake_hp[] = {
	"node0/hugepages/hugepages-2048kB",
	"node1/hugepages/hugepages-2048kB",
	"node1/hugepages/hugepages-1048576kB",
};

static void fake_nodes(char *dir, char *env, size_t envlen)
{
	char p[512];

	strcpy(dir, "/tmp/fa-cli-nodes-XXXXXX");
	if (!mkdtemp(dir))
		return;
	snprintf(env, envlen, "FINALLOC_SYSFS_ROOT=%s", dir);
	for (size_t i = 0; i < sizeof(fake_hp) / sizeof(fake_hp[0]); i++) {
		snprintf(p, sizeof(p), "mkdir -p '%s/devices/system/node/%s'", dir, fake_hp[i]);
		if (system(p))
			return;
		snprintf(p, sizeof(p), "%s/devices/system/node/%s/nr_hugepages", dir, fake_hp[i]);
		write_file(p, "0\n");
	}
	snprintf(p, sizeof(p), "%s/devices/system/node/online", dir);
	write_file(p, "0-1\n");
}

/* The count in the fake tree's file i of fake_hp, or -1. */
static long long fake_count(const char *dir, size_t i)
{
	char p[512], buf[64] = "";
	FILE *f;

	snprintf(p, sizeof(p), "%s/devices/system/node/%s/nr_hugepages", dir, fake_hp[i]);
	f = fopen(p, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] >= '0' && buf[0] <= '9' ? strtoll(buf, NULL, 10) : -1;
}

TEST(reserve_writes_the_node_file_and_reads_it_back)
{
	char dir[64], env[128], conf[128], p[512];
	struct run r;

	NEED_BIN();
	fake_nodes(dir, env, sizeof(env));
	ASSERT_EQ(0, fake_count(dir, 2));

	ASSERT_EQ(0, run_env(&r, env, "reserve", "--node", "1", "--pages", "16", (char *)NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "node 1: 2 MiB pages: 16 asked, 16 reserved (was 0)"))
	TH_LOG("%s", r.out);
	EXPECT_EQ(16, fake_count(dir, 1));
	EXPECT_EQ(0, fake_count(dir, 0));
	run_free(&r);

	ASSERT_EQ(0, run_env(&r, env, "reserve", "--node", "1", "--pages", "2", "--size", "1G",
	                     (char *)NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "node 1: 1 GiB pages: 2 asked, 2 reserved"));
	EXPECT_EQ(2, fake_count(dir, 2));
	run_free(&r);

	/* A size the node lacks, a node that is not there: exit 1, said. */
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--node", "0", "--pages", "1", "--size", "1G",
	                     (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "node 0 has no 1 GiB huge pages")) TH_LOG("%s", r.err);
	run_free(&r);
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--node", "5", "--pages", "1", (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "node 5 does not exist (online nodes: 0-1)"))
	TH_LOG("%s", r.err);
	run_free(&r);

	/* A file the kernel would not give as a number. */
	snprintf(p, sizeof(p), "%s/devices/system/node/%s/nr_hugepages", dir, fake_hp[0]);
	write_file(p, "many\n");
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--node", "0", "--pages", "1", (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "cannot read")) TH_LOG("%s", r.err);
	run_free(&r);
	write_file(p, "0\n");

	/* --file: every line, 1 GiB pages first, comments and blanks skipped. */
	snprintf(conf, sizeof(conf), "%s/reserve.conf", dir);
	write_file(conf, "# node pages size\n\n0 8\n1 3 1G   # the big ones\n1\t4\t2M\n");
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--file", conf, (char *)NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(8, fake_count(dir, 0));
	EXPECT_EQ(4, fake_count(dir, 1));
	EXPECT_EQ(3, fake_count(dir, 2));
	ASSERT_NE(NULL, strstr(r.out, "node 1: 1 GiB pages: 3 asked"));
	ASSERT_NE(NULL, strstr(r.out, "node 0: 2 MiB pages: 8 asked"));
	EXPECT_LT(strstr(r.out, "node 1: 1 GiB"), strstr(r.out, "node 0: 2 MiB"));
	run_free(&r);

	/* A bad line anywhere: nothing applied. */
	write_file(conf, "0 9\n1 5 4M\n");
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--file", conf, (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "reserve.conf:2: SIZE wants 2M or 1G, not '4M'"))
	TH_LOG("%s", r.err);
	EXPECT_EQ(8, fake_count(dir, 0));
	run_free(&r);
	write_file(conf, "0 9\n0 10 2M\n");
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--file", conf, (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "reserve.conf:2: node 0, 2 MiB pages again (line 1)"))
	TH_LOG("%s", r.err);
	run_free(&r);
	write_file(conf, "0 9 2M extra\n");
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--file", conf, (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "want NODE PAGES [SIZE], got 4 fields")) TH_LOG("%s", r.err);
	run_free(&r);
	EXPECT_EQ(8, fake_count(dir, 0));

	/* Only comments: nothing to do, not an error. */
	write_file(conf, "# nothing yet\n");
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--file", conf, (char *)NULL));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "asks for no huge pages"));
	run_free(&r);
	ASSERT_EQ(0,
	          run_env(&r, env, "reserve", "--file", "/nonexistent/reserve.conf", (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "No such file")) TH_LOG("%s", r.err);
	run_free(&r);
	rm_fake_sysfs(dir);
}

TEST(reserve_without_permission_says_root)
{
	char dir[64], env[128], p[512];
	struct run r;

	NEED_BIN();
	if (geteuid() == 0)
		SKIP(return, "root may write a 0444 file");
	fake_nodes(dir, env, sizeof(env));
	snprintf(p, sizeof(p), "%s/devices/system/node/%s/nr_hugepages", dir, fake_hp[0]);
	ASSERT_EQ(0, chmod(p, 0444));
	ASSERT_EQ(0, run_env(&r, env, "reserve", "--node", "0", "--pages", "1", (char *)NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "Permission denied (reserve needs root)"))
	TH_LOG("%s", r.err);
	run_free(&r);
	rm_fake_sysfs(dir);
}

/* The real kernel: one 2 MiB page more on node 0, then the old count back.
 * The kernel may give less (memory fragmented): then reserve must say so
 * and exit 1; either way it must report what the node file says. */
TEST(reserve_reports_what_the_kernel_gave)
{
	static const char path[] =
	        "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
	unsigned long long before, asked, said = 0, now;
	char pages[32];
	const char *p;
	struct run r;
	FILE *f;

	NEED_BIN();
	if (geteuid() != 0 || access(path, W_OK))
		SKIP(return, "needs root and a writable %s", path);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%llu", &before));
	fclose(f);
	asked = before + 1;
	snprintf(pages, sizeof(pages), "%llu", asked);
	ASSERT_EQ(0, run(&r, "reserve", "--node", "0", "--pages", pages));
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%llu", &now));
	fclose(f);
	p = strstr(r.out, " asked, ");
	ASSERT_NE(NULL, p) TH_LOG("%s%s", r.out, r.err);
	EXPECT_EQ(1, sscanf(p, " asked, %llu reserved", &said));
	EXPECT_EQ(now, said);
	if (now == asked) {
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	} else {
		EXPECT_EQ(1, r.status);
		EXPECT_NE(NULL, strstr(r.err, "the kernel gave")) TH_LOG("%s", r.err);
	}
	run_free(&r);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%llu\n", before);
	ASSERT_EQ(0, fclose(f));
}

/* The tour's quick benchmark runs every family: 30-40 s under the VM's TCG. */
SLOW_TEST(tour, runs, 240)
{
	struct run r;

	NEED_BIN();
	ASSERT_EQ(0, run(&r, (char *)NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "host report"));
	EXPECT_NE(NULL, strstr(r.out, "Quick benchmark"));
	EXPECT_NE(NULL, strstr(r.out, "pair 64 B"));
	EXPECT_NE(NULL, strstr(r.out, "Where to go next"));

	/* Latencies below the timer's resolution say so ("<R"), never 0.00. */
	{
		const char *p = strstr(r.out, "timer resolution ");
		double res = 0;

		ASSERT_NE(NULL, p) TH_LOG("%s", r.out);
		ASSERT_EQ(1, sscanf(p, "timer resolution %lf", &res));
		for (p = strstr(r.out, "  alloc latency p"); p;
		     p = strstr(p + 1, "  alloc latency p")) {
			const char *eol = strchr(p, '\n');
			char line[256], *tok, *save;

			snprintf(line, sizeof(line), "%.*s", (int)(eol ? eol - p : 255), p);
			/* "  alloc latency p50    ns  <cells> best | <cells>" */
			strtok_r(line, " ", &save);
			strtok_r(NULL, " ", &save);
			strtok_r(NULL, " ", &save);
			strtok_r(NULL, " ", &save);
			while ((tok = strtok_r(NULL, " |", &save))) {
				char *end;
				double v = strtod(tok, &end);

				if (end == tok || *end != '\0')
					continue;
				EXPECT_LE(res, v) TH_LOG("cell '%s' below %.1f ns", tok, res);
			}
		}
	}
	run_free(&r);
}

TEST_HARNESS_MAIN
