// SPDX-License-Identifier: MIT
/*
 * finalloc reserve: huge pages on one NUMA node, through the node's own
 * sysfs file (the global vm.nr_hugepages spreads them over all nodes).  The
 * kernel takes any count and gives what it can find, so the count is read
 * back and a short reservation is a failure the operator sees, not a silent
 * downgrade at the first allocation.  --file applies a whole reservation
 * file: finalloc-reserve.service does that at boot.
 */
#include "tools.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESERVE_MAX_LINES 256
#define SIZE_2M           (2ull << 20)
#define SIZE_1G           (1ull << 30)

struct reservation {
	unsigned node;
	uint64_t pages;
	uint64_t size; /* SIZE_2M or SIZE_1G */
	unsigned line; /* in --file, else 0 */
};

void reserve_usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc reserve --node N --pages COUNT [--size 2M|1G]\n"
	        "       finalloc reserve --file FILE\n"
	        "\n"
	        "Reserve COUNT huge pages of SIZE (default 2M) on NUMA node N, through\n"
	        "/sys/devices/system/node/nodeN/hugepages/, and say how many the kernel gave:\n"
	        "fewer than COUNT is a failure (exit 1).  COUNT 0 gives free pages back.  Needs\n"
	        "root.  --file applies each line \"NODE PAGES [SIZE]\" of FILE ('#' starts a\n"
	        "comment), 1G lines first; finalloc-reserve.service runs it at boot.\n"
	        "\n"
	        "  --node N         the node\n"
	        "  --pages COUNT    the number of huge pages the node should hold\n"
	        "  --size 2M|1G     the page size (default 2M)\n"
	        "  --file FILE      a reservation file (excludes the three above)\n"
	        "  --help           this text\n");
}

/* The directory standing for /sys: FINALLOC_SYSFS_ROOT, for tests only. */
static const char *sysfs_root(void)
{
	const char *r = getenv("FINALLOC_SYSFS_ROOT");

	return r && *r ? r : "/sys";
}

/* "2M" or "1G" (also 2048k, 1024M...): true and *size, or false. */
static bool parse_page_size(const char *s, uint64_t *size)
{
	uint64_t v;

	if (!fa__parse_size(s, &v) || (v != SIZE_2M && v != SIZE_1G))
		return false;
	*size = v;
	return true;
}

static bool parse_node(const char *s, unsigned *node)
{
	uint64_t v;

	/* Linux has at most 1 << CONFIG_NODES_SHIFT (10 on Debian) nodes. */
	if (!fa__parse_u64(s, &v) || v > 65535)
		return false;
	*node = (unsigned)v;
	return true;
}

static const char *size_name(uint64_t size)
{
	return size == SIZE_1G ? "1 GiB" : "2 MiB";
}

/* Apply one reservation: 0, or 1 when it failed or fell short (said). */
static int apply(const struct reservation *r)
{
	const char *root = sysfs_root();
	char node_dir[256], dir[320], path[352], online[64], buf[32];
	uint64_t before = 0, got;
	struct stat st;
	int fd, n, err;

	snprintf(node_dir, sizeof(node_dir), "%s/devices/system/node/node%u", root, r->node);
	if (stat(node_dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(path, sizeof(path), "%s/devices/system/node/online", root);
		if (fa__read_text(path, online, sizeof(online)) <= 0)
			snprintf(online, sizeof(online), "unknown");
		return tool_err("reserve", "node %u does not exist (online nodes: %s)", r->node,
		                online);
	}
	snprintf(dir, sizeof(dir), "%s/hugepages/hugepages-%" PRIu64 "kB", node_dir, r->size >> 10);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return tool_err("reserve", "node %u has no %s huge pages: no %s (%s)", r->node,
		                size_name(r->size), dir,
		                r->size == SIZE_1G ? "1 GiB pages need a CPU with pdpe1gb"
		                                   : "a kernel without hugetlbfs?");
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	err = fa__read_u64(path, &before);
	if (err)
		return tool_err("reserve", "cannot read %s: %s", path, strerror(-err));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		return tool_err("reserve", "cannot open %s: %s%s", path, strerror(err),
		                err == EACCES || err == EPERM ? " (reserve needs root)" : "");
	}
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", r->pages);
	if (write(fd, buf, n) != n) {
		err = errno;
		close(fd);
		return tool_err("reserve", "cannot write %" PRIu64 " to %s: %s", r->pages, path,
		                strerror(err));
	}
	close(fd);
	/* What the kernel gave, not what was asked. */
	err = fa__read_u64(path, &got);
	if (err)
		return tool_err("reserve", "cannot read back %s: %s", path, strerror(-err));
	printf("node %u: %s pages: %" PRIu64 " asked, %" PRIu64 " reserved (was %" PRIu64 ")\n",
	       r->node, size_name(r->size), r->pages, got, before);
	if (got < r->pages)
		return tool_err("reserve",
		                "node %u: the kernel gave %" PRIu64 " of %" PRIu64 " %s pages "
		                "(too little free or contiguous memory on the node)",
		                r->node, got, r->pages, size_name(r->size));
	if (got != r->pages)
		return tool_err("reserve",
		                "node %u: %" PRIu64 " %s pages stay reserved, not %" PRIu64
		                " (in use or changed meanwhile)",
		                r->node, got, size_name(r->size), r->pages);
	return 0;
}

/* Parse FILE into rs (all or nothing): the count, or -1 after saying why. */
static int read_file(const char *file, struct reservation *rs, int max)
{
	char line[512];
	unsigned no = 0;
	int n = 0;
	FILE *f = fopen(file, "r");

	if (!f) {
		tool_err("reserve", "%s: %s", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tok[4], *save = NULL, *hash = strchr(line, '#');
		struct reservation r = { .size = SIZE_2M, .line = ++no };
		int nt = 0;

		if (!strchr(line, '\n') && !feof(f)) {
			tool_err("reserve", "%s:%u: line too long", file, no);
			goto bad;
		}
		if (hash)
			*hash = '\0';
		for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 4;
		     t = strtok_r(NULL, " \t\r\n", &save))
			tok[nt++] = t;
		if (nt == 0)
			continue;
		if (nt < 2 || nt > 3) {
			tool_err("reserve", "%s:%u: want NODE PAGES [SIZE], got %d field%s", file,
			         no, nt, nt == 1 ? "" : "s");
			goto bad;
		}
		if (!parse_node(tok[0], &r.node)) {
			tool_err("reserve", "%s:%u: NODE wants a node number, not '%s'", file, no,
			         tok[0]);
			goto bad;
		}
		if (!fa__parse_u64(tok[1], &r.pages)) {
			tool_err("reserve", "%s:%u: PAGES wants a count, not '%s'", file, no,
			         tok[1]);
			goto bad;
		}
		if (nt == 3 && !parse_page_size(tok[2], &r.size)) {
			tool_err("reserve", "%s:%u: SIZE wants 2M or 1G, not '%s'", file, no,
			         tok[2]);
			goto bad;
		}
		for (int i = 0; i < n; i++)
			if (rs[i].node == r.node && rs[i].size == r.size) {
				tool_err("reserve", "%s:%u: node %u, %s pages again (line %u)",
				         file, no, r.node, size_name(r.size), rs[i].line);
				goto bad;
			}
		if (n == max) {
			tool_err("reserve", "%s:%u: more than %d reservations", file, no, max);
			goto bad;
		}
		rs[n++] = r;
	}
	if (ferror(f)) {
		tool_err("reserve", "%s: read error", file);
		goto bad;
	}
	fclose(f);
	return n;
bad:
	fclose(f);
	return -1;
}

static int reserve_file(const char *file)
{
	static struct reservation rs[RESERVE_MAX_LINES];
	int n = read_file(file, rs, RESERVE_MAX_LINES), rc = 0;

	if (n < 0)
		return 1;
	if (n == 0) {
		printf("%s asks for no huge pages\n", file);
		return 0;
	}
	/* 1 GiB pages first: they need the most contiguous memory. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++)
			if ((rs[i].size == SIZE_1G) == (pass == 0))
				rc |= apply(&rs[i]);
	return rc;
}

int cmd_reserve(int argc, char **argv)
{
	enum { O_NODE = 1, O_PAGES, O_SIZE, O_FILE };
	static const struct option opts[] = {
		{ "node", required_argument, NULL, O_NODE },
		{ "pages", required_argument, NULL, O_PAGES },
		{ "size", required_argument, NULL, O_SIZE },
		{ "file", required_argument, NULL, O_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct reservation r = { .size = SIZE_2M };
	bool have_node = false, have_pages = false, have_size = false;
	const char *file = NULL;
	int c;

	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case O_NODE:
			if (!parse_node(optarg, &r.node))
				return tool_usage_err("reserve", reserve_usage,
				                      "--node wants a node number, not '%s'",
				                      optarg);
			have_node = true;
			break;
		case O_PAGES:
			if (!fa__parse_u64(optarg, &r.pages))
				return tool_usage_err("reserve", reserve_usage,
				                      "--pages wants a count, not '%s'", optarg);
			have_pages = true;
			break;
		case O_SIZE:
			if (!parse_page_size(optarg, &r.size))
				return tool_usage_err("reserve", reserve_usage,
				                      "--size wants 2M or 1G, not '%s'", optarg);
			have_size = true;
			break;
		case O_FILE:
			file = optarg;
			break;
		default:
			return tool_opt_other("reserve", reserve_usage, c, argv);
		}
	}
	if (optind < argc)
		return tool_usage_err("reserve", reserve_usage, "unexpected argument '%s'",
		                      argv[optind]);
	if (file) {
		if (have_node || have_pages || have_size)
			return tool_usage_err("reserve", reserve_usage,
			                      "--file excludes --node, --pages and --size");
		return reserve_file(file);
	}
	if (!have_node)
		return tool_usage_err("reserve", reserve_usage, "missing --node N");
	if (!have_pages)
		return tool_usage_err("reserve", reserve_usage, "missing --pages COUNT");
	return apply(&r);
}
