// SPDX-License-Identifier: MIT
/*
 * finalloc info: what this host offers FinAlloc.  Everything is probed, not
 * assumed: the device is opened and asked, io_uring is set up for real, so a
 * "yes" here means the library will get it too.
 */
#include "tools.h"

#include "finalloc.h"
#include "uapi/linux/finalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

struct host_info {
	struct utsname uts;
	struct fa_topology topo;
	int topo_err;
	char thp[32]; /* selected THP mode, "" if unknown */
	char thp_defrag[32];
	/* /dev/finalloc */
	bool dev_present;
	int dev_open_err;  /* errno of open(), 0 when it opened */
	int dev_ioctl_err; /* errno of FINALLOC_IOC_INFO, 0 when it answered */
	struct finalloc_info dev;
	char mod_version[64]; /* /sys/kernel/finalloc/version, "" if absent */
	/* io_uring */
	int uring_err;      /* -errno of io_uring_queue_init, 0 when it worked */
	int uring_disabled; /* /proc/sys/kernel/io_uring_disabled, -1 if absent */
};

void info_usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc info [--json]\n"
	        "\n"
	        "Host report: kernel release, NUMA nodes with memory, huge pages reserved per\n"
	        "node and size, transparent huge page mode, whether /dev/finalloc is present and\n"
	        "usable (ABI version, capabilities, PMD mapping), and io_uring availability.\n"
	        "\n"
	        "  --json    machine-readable output\n"
	        "  --help    this text\n");
}

/* "always [madvise] never" -> "madvise" */
static void read_bracketed(const char *path, char *out, size_t len)
{
	char buf[256], *l, *r;

	out[0] = '\0';
	if (fa__read_text(path, buf, sizeof(buf)) < 0)
		return;
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!l || !r || (size_t)(r - l - 1) >= len)
		return;
	memcpy(out, l + 1, r - l - 1);
	out[r - l - 1] = '\0';
}

static void probe_device(struct host_info *h)
{
	struct stat st;
	int fd;

	h->dev_present = stat(FINALLOC_DEV_PATH, &st) == 0 && S_ISCHR(st.st_mode);
	h->dev_open_err = ENOENT;
	h->dev_ioctl_err = ENODEV;
	if (fa__read_text(FINALLOC_SYSFS_PATH "/version", h->mod_version, sizeof(h->mod_version)) <
	    0)
		h->mod_version[0] = '\0';
	if (!h->dev_present)
		return;
	fd = open(FINALLOC_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		h->dev_open_err = errno;
		return;
	}
	h->dev_open_err = 0;
	memset(&h->dev, 0, sizeof(h->dev));
	h->dev.argsz = sizeof(h->dev);
	h->dev_ioctl_err = ioctl(fd, FINALLOC_IOC_INFO, &h->dev) ? errno : 0;
	close(fd);
}

static void probe_uring(struct host_info *h)
{
	struct io_uring ring;
	uint64_t v;
	int r;

	h->uring_disabled =
	        fa__read_u64("/proc/sys/kernel/io_uring_disabled", &v) == 0 ? (int)v : -1;
	r = io_uring_queue_init(2, &ring, 0);
	h->uring_err = r;
	if (r == 0)
		io_uring_queue_exit(&ring);
}

static void host_probe(struct host_info *h)
{
	memset(h, 0, sizeof(*h));
	uname(&h->uts);
	h->topo_err = fa_topology_read(&h->topo);
	read_bracketed("/sys/kernel/mm/transparent_hugepage/enabled", h->thp, sizeof(h->thp));
	read_bracketed("/sys/kernel/mm/transparent_hugepage/defrag", h->thp_defrag,
	               sizeof(h->thp_defrag));
	probe_device(h);
	probe_uring(h);
}

static bool dev_usable(const struct host_info *h)
{
	return h->dev_present && !h->dev_open_err && !h->dev_ioctl_err;
}

static void print_caps(FILE *f, uint32_t caps)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ FINALLOC_CAP_PMD_MAP, "pmd-map" },       { FINALLOC_CAP_GUARDS, "guards" },
		{ FINALLOC_CAP_NODE_QUERY, "node-query" }, { FINALLOC_CAP_PREFAULT, "prefault" },
		{ FINALLOC_CAP_PINNABLE, "pinnable" },
	};
	uint32_t known = 0;
	bool any = false;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		known |= names[i].bit;
		if (caps & names[i].bit) {
			fprintf(f, "%s%s", any ? "," : "", names[i].name);
			any = true;
		}
	}
	if (caps & ~known)
		fprintf(f, "%s0x%x", any ? "," : "", caps);
	else if (!any)
		fputs("none", f);
}

int info_print_text(FILE *f)
{
	struct host_info h;
	char b1[32], b2[32];

	host_probe(&h);
	fprintf(f, "kernel        %s %s (%s)\n", h.uts.sysname, h.uts.release, h.uts.machine);
	if (h.topo_err) {
		fprintf(f, "numa          topology unreadable: %s\n", strerror(-h.topo_err));
	} else {
		int mem_nodes = 0;

		for (int i = 0; i < h.topo.nr_nodes; i++)
			mem_nodes += h.topo.node[i].has_memory;
		fprintf(f, "numa          %s, %d node%s (%d with memory), %d CPUs\n",
		        h.topo.numa_available ? "available" : "not available (one node assumed)",
		        h.topo.nr_nodes, h.topo.nr_nodes == 1 ? "" : "s", mem_nodes,
		        h.topo.nr_cpus);
		fprintf(f, "  %-5s %5s %11s %11s %15s %15s\n", "node", "cpus", "memory", "free",
		        "2M huge (free)", "1G huge (free)");
		for (int i = 0; i < h.topo.nr_nodes; i++) {
			const struct fa_node_info *n = &h.topo.node[i];
			char h2[32], h1[32];

			fa__fmt_bytes(b1, sizeof(b1), n->mem_total);
			fa__fmt_bytes(b2, sizeof(b2), n->mem_free);
			snprintf(h2, sizeof(h2), "%llu (%llu)",
			         (unsigned long long)n->huge_2m_total,
			         (unsigned long long)n->huge_2m_free);
			snprintf(h1, sizeof(h1), "%llu (%llu)",
			         (unsigned long long)n->huge_1g_total,
			         (unsigned long long)n->huge_1g_free);
			fprintf(f, "  %-5d %5d %11s %11s %15s %15s%s\n", n->node, n->nr_cpus,
			        n->has_memory ? b1 : "-", n->has_memory ? b2 : "-", h2, h1,
			        n->has_memory ? "" : "  (no memory)");
		}
	}
	fprintf(f, "thp           %s (defrag %s)\n", h.thp[0] ? h.thp : "unavailable",
	        h.thp_defrag[0] ? h.thp_defrag : "?");
	if (!h.dev_present) {
		fprintf(f, "/dev/finalloc absent (%s): the library uses its mmap fallback\n",
		        h.mod_version[0] ? "module loaded, no device node: udev/devtmpfs?"
		                         : "module not loaded");
	} else if (h.dev_open_err) {
		fprintf(f, "/dev/finalloc present, not usable: open: %s%s\n",
		        strerror(h.dev_open_err),
		        h.dev_open_err == EACCES ? " (see README: udev rule for the device group)"
		                                 : "");
	} else if (h.dev_ioctl_err) {
		fprintf(f, "/dev/finalloc present, not usable: FINALLOC_IOC_INFO: %s\n",
		        strerror(h.dev_ioctl_err));
	} else {
		fprintf(f, "/dev/finalloc usable: ABI %u%s, caps ", h.dev.abi_version,
		        h.dev.abi_version != FINALLOC_ABI_VERSION
		                ? " (this tool was built for another)"
		                : "");
		print_caps(f, h.dev.caps);
		fprintf(f, "\n              2 MiB pages mapped by %s\n",
		        (h.dev.caps & FINALLOC_CAP_PMD_MAP)
		                ? "PMDs (one fault per 2 MiB)"
		                : "4 KiB PTEs (this kernel has no huge pfnmap)");
		fa__fmt_bytes(b1, sizeof(b1), h.dev.pinned_bytes);
		if (h.dev.pinned_cap)
			fa__fmt_bytes(b2, sizeof(b2), h.dev.pinned_cap);
		fprintf(f, "              pinned %s, cap %s, node ids < %u\n", b1,
		        h.dev.pinned_cap ? b2 : "none", h.dev.nr_node_ids);
	}
	if (h.uring_err == 0)
		fprintf(f, "io_uring      available\n");
	else
		fprintf(f,
		        "io_uring      unavailable: %s%s (journal writes fall back to write(2))\n",
		        strerror(-h.uring_err),
		        h.uring_disabled > 0 ? ", kernel.io_uring_disabled is set" : "");
	return h.topo_err ? 1 : 0;
}

static int print_json(FILE *f)
{
	struct host_info h;
	struct fa__json j;

	host_probe(&h);
	fa__json_init(&j, f, true);
	fa__json_begin_obj(&j, NULL);
	fa__json_str(&j, "finalloc_version", fa_version());
	fa__json_begin_obj(&j, "kernel");
	fa__json_str(&j, "sysname", h.uts.sysname);
	fa__json_str(&j, "release", h.uts.release);
	fa__json_str(&j, "machine", h.uts.machine);
	fa__json_end_obj(&j);

	fa__json_begin_obj(&j, "numa");
	if (h.topo_err) {
		fa__json_str(&j, "error", strerror(-h.topo_err));
	} else {
		fa__json_bool(&j, "available", h.topo.numa_available);
		fa__json_int(&j, "nr_cpus", h.topo.nr_cpus);
		fa__json_begin_arr(&j, "nodes");
		for (int i = 0; i < h.topo.nr_nodes; i++) {
			const struct fa_node_info *n = &h.topo.node[i];

			fa__json_begin_obj(&j, NULL);
			fa__json_int(&j, "node", n->node);
			fa__json_bool(&j, "has_memory", n->has_memory);
			fa__json_int(&j, "nr_cpus", n->nr_cpus);
			fa__json_uint(&j, "mem_total", n->mem_total);
			fa__json_uint(&j, "mem_free", n->mem_free);
			fa__json_begin_obj(&j, "hugepages");
			fa__json_begin_obj(&j, "2048kB");
			fa__json_uint(&j, "total", n->huge_2m_total);
			fa__json_uint(&j, "free", n->huge_2m_free);
			fa__json_end_obj(&j);
			fa__json_begin_obj(&j, "1048576kB");
			fa__json_uint(&j, "total", n->huge_1g_total);
			fa__json_uint(&j, "free", n->huge_1g_free);
			fa__json_end_obj(&j);
			fa__json_end_obj(&j);
			fa__json_begin_arr(&j, "distance");
			for (int k = 0; k < h.topo.nr_nodes; k++)
				fa__json_int(&j, NULL, h.topo.distance[i][k]);
			fa__json_end_arr(&j);
			fa__json_end_obj(&j);
		}
		fa__json_end_arr(&j);
	}
	fa__json_end_obj(&j);

	fa__json_begin_obj(&j, "thp");
	fa__json_str(&j, "enabled", h.thp[0] ? h.thp : NULL);
	fa__json_str(&j, "defrag", h.thp_defrag[0] ? h.thp_defrag : NULL);
	fa__json_end_obj(&j);

	fa__json_begin_obj(&j, "device");
	fa__json_str(&j, "path", FINALLOC_DEV_PATH);
	fa__json_bool(&j, "present", h.dev_present);
	fa__json_bool(&j, "usable", dev_usable(&h));
	fa__json_str(&j, "sysfs_version", h.mod_version[0] ? h.mod_version : NULL);
	if (h.dev_present && h.dev_open_err)
		fa__json_str(&j, "error", strerror(h.dev_open_err));
	else if (h.dev_present && h.dev_ioctl_err)
		fa__json_str(&j, "error", strerror(h.dev_ioctl_err));
	if (dev_usable(&h)) {
		fa__json_uint(&j, "abi_version", h.dev.abi_version);
		fa__json_uint(&j, "caps", h.dev.caps);
		fa__json_bool(&j, "pmd_map", h.dev.caps & FINALLOC_CAP_PMD_MAP);
		fa__json_bool(&j, "guards", h.dev.caps & FINALLOC_CAP_GUARDS);
		fa__json_bool(&j, "node_query", h.dev.caps & FINALLOC_CAP_NODE_QUERY);
		fa__json_bool(&j, "pinnable", h.dev.caps & FINALLOC_CAP_PINNABLE);
		fa__json_uint(&j, "page_sizes", h.dev.page_sizes);
		fa__json_uint(&j, "nr_node_ids", h.dev.nr_node_ids);
		fa__json_uint(&j, "node_mask", h.dev.node_mask);
		fa__json_uint(&j, "pinned_bytes", h.dev.pinned_bytes);
		fa__json_uint(&j, "pinned_cap", h.dev.pinned_cap);
	}
	fa__json_end_obj(&j);

	fa__json_begin_obj(&j, "io_uring");
	fa__json_bool(&j, "available", h.uring_err == 0);
	if (h.uring_err)
		fa__json_str(&j, "error", strerror(-h.uring_err));
	if (h.uring_disabled >= 0)
		fa__json_int(&j, "io_uring_disabled", h.uring_disabled);
	else
		fa__json_str(&j, "io_uring_disabled", NULL);
	fa__json_end_obj(&j);
	fa__json_end_obj(&j);
	fa__json_end(&j);
	return h.topo_err ? 1 : 0;
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;

	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		default:
			return tool_opt_other("info", info_usage, c, argv);
		}
	}
	if (optind < argc)
		return tool_usage_err("info", info_usage, "unexpected argument '%s'", argv[optind]);
	return json ? print_json(stdout) : info_print_text(stdout);
}
