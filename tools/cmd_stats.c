// SPDX-License-Identifier: MIT
/*
 * finalloc stats: the kernel module's counters (/sys/kernel/finalloc, global
 * and node<N>/) as a table, JSON or a refreshing view; and the library
 * statistics a process dumps at exit when FINALLOC_STATS=path is set
 * (--file reads such a dump, `-- CMD...` runs CMD with it set and shows it).
 */
#include "tools.h"

#include "finalloc.h"
#include "uapi/linux/finalloc.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ATTRS       32
#define MAX_NODES_SHOWN 64

struct attr {
	char name[48];
	char text[64];
	uint64_t val;
	bool numeric;
};

struct attr_set {
	int n;
	struct attr a[MAX_ATTRS];
};

struct sysfs_snap {
	bool present;
	struct attr_set global;
	int nr_nodes;
	int node_id[MAX_NODES_SHOWN];
	struct attr_set node[MAX_NODES_SHOWN];
};

/* Known counters first, in a reading order; unknown ones follow sorted. */
static const char *const order[] = {
	"version", "pinned_bytes", "cap",          "regions",        "mappings",
	"faults",  "pmd_faults",   "guard_faults", "alloc_failures", "pages_2m",
};

void stats_usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc stats [--json] [--watch [--interval SECS] [--count N]]\n"
	        "       finalloc stats --file DUMP [--json]\n"
	        "       finalloc stats [--json] -- COMMAND [ARGS...]\n"
	        "\n"
	        "Without --file or COMMAND: the kernel module's counters from\n"
	        "%s (pinned bytes, cap, regions, mappings, faults, PMD\n"
	        "faults, guard faults, allocation failures) and per node (pinned bytes, 2 MiB\n"
	        "pages).  With --watch the table refreshes and shows each counter's change.\n"
	        "\n"
	        "A process linked with libfinalloc writes its library statistics (backends,\n"
	        "journal, arenas, pools, NUMA nodes) at exit when FINALLOC_STATS=PATH is set\n"
	        "(or on demand with fa_stats_dump()); --file shows such a dump,\n"
	        "and `finalloc stats -- COMMAND` runs COMMAND with it set and shows it.\n"
	        "\n"
	        "  --json          machine-readable output\n"
	        "  --watch         refresh until interrupted\n"
	        "  --interval S    seconds between refreshes (default 1)\n"
	        "  --count N       stop after N refreshes\n"
	        "  --file DUMP     show a FINALLOC_STATS dump\n"
	        "  --help          this text\n",
	        FINALLOC_SYSFS_PATH);
}

static int order_of(const char *name)
{
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (!strcmp(name, order[i]))
			return (int)i;
	return (int)(sizeof(order) / sizeof(order[0]));
}

static int cmp_attr(const void *x, const void *y)
{
	const struct attr *a = x, *b = y;
	int oa = order_of(a->name), ob = order_of(b->name);

	return oa != ob ? oa - ob : strcmp(a->name, b->name);
}

static void read_attrs(const char *dir, struct attr_set *set)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	set->n = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && set->n < MAX_ATTRS) {
		char path[512];
		struct attr *a;

		if (e->d_name[0] == '.' || e->d_type == DT_DIR)
			continue;
		if (strlen(e->d_name) >= sizeof(a->name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		a = &set->a[set->n];
		/* Write-only or unreadable attributes are not counters. */
		if (fa__read_text(path, a->text, sizeof(a->text)) < 0)
			continue;
		snprintf(a->name, sizeof(a->name), "%s", e->d_name);
		a->numeric = fa__parse_u64(a->text, &a->val);
		set->n++;
	}
	closedir(d);
	qsort(set->a, (size_t)set->n, sizeof(set->a[0]), cmp_attr);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void sysfs_read(const char *root, struct sysfs_snap *s)
{
	DIR *d;
	struct dirent *e;

	memset(s, 0, sizeof(*s));
	d = opendir(root);
	if (!d)
		return;
	s->present = true;
	read_attrs(root, &s->global);
	while ((e = readdir(d)) && s->nr_nodes < MAX_NODES_SHOWN) {
		int nid;
		char tail;

		if (sscanf(e->d_name, "node%d%c", &nid, &tail) == 1 && nid >= 0)
			s->node_id[s->nr_nodes++] = nid;
	}
	closedir(d);
	qsort(s->node_id, (size_t)s->nr_nodes, sizeof(int), cmp_int);
	for (int i = 0; i < s->nr_nodes; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/node%d", root, s->node_id[i]);
		read_attrs(path, &s->node[i]);
	}
}

static bool is_bytes(const char *name)
{
	size_t n = strlen(name);

	return !strcmp(name, "cap") || (n > 6 && !strcmp(name + n - 6, "_bytes"));
}

static const struct attr *find_attr(const struct attr_set *set, const char *name)
{
	for (int i = 0; i < set->n; i++)
		if (!strcmp(set->a[i].name, name))
			return &set->a[i];
	return NULL;
}

static void value_text(const struct attr *a, char *buf, size_t len)
{
	if (a->numeric && is_bytes(a->name) && a->val >= 1024) {
		char b[32];

		fa__fmt_bytes(b, sizeof(b), a->val);
		snprintf(buf, len, "%s (%llu)", b, (unsigned long long)a->val);
	} else if (a->numeric && !strcmp(a->name, "cap") && a->val == 0) {
		snprintf(buf, len, "0 (none)");
	} else {
		snprintf(buf, len, "%s", a->text);
	}
}

static void print_delta(FILE *f, const struct attr *a, const struct attr *prev, double secs)
{
	if (!prev || !a->numeric || !prev->numeric || !strcmp(a->name, "version") ||
	    !strcmp(a->name, "cap"))
		return;
	if (a->val != prev->val)
		fprintf(f, "  %+lld (%.0f/s)", (long long)(a->val - prev->val),
		        (double)(int64_t)(a->val - prev->val) / secs);
}

static void print_text(FILE *f, const char *root, const struct sysfs_snap *s,
                       const struct sysfs_snap *prev, double secs)
{
	char buf[96];

	if (!s->present) {
		fprintf(f, "%s: absent (the finalloc module is not loaded)\n", root);
		return;
	}
	fprintf(f, "%s\n", root);
	for (int i = 0; i < s->global.n; i++) {
		const struct attr *a = &s->global.a[i];

		value_text(a, buf, sizeof(buf));
		fprintf(f, "  %-16s %s", a->name, buf);
		if (prev)
			print_delta(f, a, find_attr(&prev->global, a->name), secs);
		fputc('\n', f);
	}
	if (!s->nr_nodes)
		return;
	/* Per-node table: columns are the union of node attributes. */
	fprintf(f, "\n  %-6s", "node");
	for (int k = 0; k < s->node[0].n; k++)
		fprintf(f, " %22s", s->node[0].a[k].name);
	fputc('\n', f);
	for (int i = 0; i < s->nr_nodes; i++) {
		fprintf(f, "  %-6d", s->node_id[i]);
		for (int k = 0; k < s->node[0].n; k++) {
			const struct attr *a = find_attr(&s->node[i], s->node[0].a[k].name);
			const struct attr *pa = NULL;
			char cell[64];

			if (prev)
				for (int p = 0; p < prev->nr_nodes; p++)
					if (prev->node_id[p] == s->node_id[i])
						pa = find_attr(&prev->node[p],
						               s->node[0].a[k].name);
			if (!a) {
				snprintf(cell, sizeof(cell), "-");
			} else if (a->numeric && is_bytes(a->name)) {
				fa__fmt_bytes(cell, sizeof(cell), a->val);
			} else {
				snprintf(cell, sizeof(cell), "%s", a->text);
			}
			if (a && pa && a->numeric && pa->numeric && a->val != pa->val) {
				size_t l = strlen(cell);

				snprintf(cell + l, sizeof(cell) - l, " (%+lld)",
				         (long long)(a->val - pa->val));
			}
			fprintf(f, " %22s", cell);
		}
		fputc('\n', f);
	}
}

static void json_attrs(struct fa__json *j, const struct attr_set *set)
{
	for (int i = 0; i < set->n; i++) {
		if (set->a[i].numeric)
			fa__json_uint(j, set->a[i].name, set->a[i].val);
		else
			fa__json_str(j, set->a[i].name, set->a[i].text);
	}
}

static void print_json(FILE *f, const char *root, const struct sysfs_snap *s)
{
	struct fa__json j;

	fa__json_init(&j, f, true);
	fa__json_begin_obj(&j, NULL);
	fa__json_str(&j, "path", root);
	fa__json_bool(&j, "present", s->present);
	fa__json_begin_obj(&j, "global");
	json_attrs(&j, &s->global);
	fa__json_end_obj(&j);
	fa__json_begin_arr(&j, "nodes");
	for (int i = 0; i < s->nr_nodes; i++) {
		fa__json_begin_obj(&j, NULL);
		fa__json_int(&j, "node", s->node_id[i]);
		json_attrs(&j, &s->node[i]);
		fa__json_end_obj(&j);
	}
	fa__json_end_arr(&j);
	fa__json_end_obj(&j);
	fa__json_end(&j);
}

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static int watch(const char *root, bool json, double interval, uint64_t count)
{
	struct sysfs_snap *cur = calloc(2, sizeof(*cur)), *prev;
	struct sigaction sa = { .sa_handler = on_sigint };
	bool tty = isatty(STDOUT_FILENO) && !json;
	uint64_t t_prev = 0;

	if (!cur)
		return tool_err("stats", "out of memory");
	prev = cur + 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (uint64_t n = 0; !stop && (!count || n < count); n++) {
		struct timespec ts;
		uint64_t now;
		struct sysfs_snap *t;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		sysfs_read(root, cur);
		if (json) {
			print_json(stdout, root, cur);
		} else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			else if (n)
				fputc('\n', stdout);
			print_text(stdout, root, cur, n ? prev : NULL,
			           (double)(now - t_prev) / 1e9);
			fflush(stdout);
		}
		t_prev = now;
		t = prev;
		prev = cur;
		cur = t;
		if (count && n + 1 >= count)
			break;
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
		while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	free(cur < prev ? cur : prev);
	return 0;
}

/* ---- FINALLOC_STATS dumps: FA_STATS_MAGIC then "key value" lines ---- */

static int show_dump(const char *path, bool json)
{
	FILE *f = fopen(path, "re");
	char line[512], section[128] = "";
	struct fa__json j;
	int lineno = 0;

	if (!f)
		return tool_err("stats", "%s: %s", path, strerror(errno));
	if (!fgets(line, sizeof(line), f) || strcmp(line, FA_STATS_MAGIC "\n")) {
		fclose(f);
		return tool_err("stats",
		                "%s: not a FINALLOC_STATS dump (no '" FA_STATS_MAGIC "' header)",
		                path);
	}
	if (json) {
		fa__json_init(&j, stdout, true);
		fa__json_begin_obj(&j, NULL);
	}
	while (fgets(line, sizeof(line), f)) {
		char key[128], line_key[128], val[256], when[40], *dot;
		uint64_t v;

		lineno++;
		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (sscanf(line, "%127s %255[^\n]", key, val) != 2) {
			if (json)
				fa__json_end_obj(&j), fa__json_end(&j);
			fclose(f);
			return tool_err("stats", "%s:%d: malformed line", path, lineno + 1);
		}
		/* Digits only is a counter: one that does not fit 64 bits is a
		 * damaged dump, not a string to show. */
		if (val[strspn(val, "0123456789")] == '\0' && !fa__parse_u64(val, &v)) {
			if (json)
				fa__json_end_obj(&j), fa__json_end(&j);
			fclose(f);
			return tool_err("stats", "%s:%d: %s: %s does not fit 64 bits", path,
			                lineno + 1, key, val);
		}
		snprintf(line_key, sizeof(line_key), "%s", key);
		dot = strchr(key, '.');
		if (dot)
			*dot = '\0';
		if (strcmp(section, key)) {
			if (json) {
				if (section[0])
					fa__json_end_obj(&j);
				fa__json_begin_obj(&j, key);
			} else {
				printf("%s%s\n", section[0] ? "\n" : "", key);
			}
			snprintf(section, sizeof(section), "%s", key);
		}
		if (json) {
			if (fa__parse_u64(val, &v))
				fa__json_uint(&j, dot ? dot + 1 : key, v);
			else
				fa__json_str(&j, dot ? dot + 1 : key, val);
			if (!strcmp(line_key, "process.time_ns") && fa__parse_u64(val, &v)) {
				fa__fmt_time(when, sizeof(when), v);
				fa__json_str(&j, "time", when);
			}
		} else if (!strcmp(line_key, "process.time_ns") && fa__parse_u64(val, &v)) {
			fa__fmt_time(when, sizeof(when), v);
			printf("  %-32s %s\n", "time", when);
		} else {
			printf("  %-32s %s\n", dot ? dot + 1 : key, val);
		}
	}
	if (json) {
		if (section[0])
			fa__json_end_obj(&j);
		fa__json_end_obj(&j);
		fa__json_end(&j);
	}
	fclose(f);
	return 0;
}

static int run_with_dump(char **cmd, bool json)
{
	char path[] = "/tmp/finalloc-stats-XXXXXX";
	int fd = mkstemp(path), status, ret;
	pid_t pid;

	if (fd < 0)
		return tool_err("stats", "mkstemp: %s", strerror(errno));
	close(fd);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		unlink(path);
		return tool_err("stats", "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		setenv("FINALLOC_STATS", path, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "finalloc stats: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		unlink(path);
		return 1;
	}
	{
		char probe[1];
		FILE *f = fopen(path, "re");
		bool empty = !f || !fread(probe, 1, 1, f);

		if (f)
			fclose(f);
		if (empty) {
			unlink(path);
			return tool_err("stats",
			                "%s wrote no statistics (is it linked with libfinalloc, "
			                "and did it exit normally?)",
			                cmd[0]);
		}
	}
	ret = show_dump(path, json);
	unlink(path);
	if (!ret && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fprintf(stderr, "finalloc stats: note: %s exited with status %d\n", cmd[0],
		        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return ret;
}

int cmd_stats(int argc, char **argv)
{
	enum { O_JSON = 256, O_FILE, O_ROOT };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		TOOL_WATCH_OPTIONS,
		{ "file", required_argument, NULL, O_FILE },
		/* Hidden: read another tree with the same layout (tests). */
		{ "sysfs-root", required_argument, NULL, O_ROOT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *root = FINALLOC_SYSFS_PATH;
	struct tool_watch w = { .interval = 1.0 };
	bool json = false;
	struct sysfs_snap *s;
	int c, ret;

	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case O_JSON:
			json = true;
			break;
		case TOOL_O_WATCH:
		case TOOL_O_INTERVAL:
		case TOOL_O_COUNT:
			if ((ret = tool_opt_watch("stats", stats_usage, c, &w)))
				return ret;
			break;
		case O_FILE:
			file = optarg;
			break;
		case O_ROOT:
			root = optarg;
			break;
		default:
			return tool_opt_other("stats", stats_usage, c, argv);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return tool_usage_err("stats", stats_usage,
		                      "unexpected argument '%s' (use -- COMMAND)", argv[optind]);
	if (optind < argc) {
		if (file || w.on)
			return tool_usage_err("stats", stats_usage,
			                      "-- COMMAND excludes --file and --watch");
		return run_with_dump(argv + optind, json);
	}
	if (file) {
		if (w.on)
			return tool_usage_err("stats", stats_usage, "--file excludes --watch");
		return show_dump(file, json);
	}
	if (w.on)
		return watch(root, json, w.interval, w.count);
	if (w.count)
		return tool_usage_err("stats", stats_usage, "--count needs --watch");
	s = malloc(sizeof(*s));
	if (!s)
		return tool_err("stats", "out of memory");
	sysfs_read(root, s);
	if (json)
		print_json(stdout, root, s);
	else
		print_text(stdout, root, s, NULL, 1);
	free(s);
	return 0;
}
