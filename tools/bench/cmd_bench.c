// SPDX-License-Identifier: MIT
/*
 * finalloc bench: the harness every performance claim comes from.  This
 * file is the command: its usage, its options (checked here, so a run never
 * starts on a typo) and the tour's short configuration; the run itself is
 * run.c's.  The hidden --worker, --probe and --instr forms are the child
 * processes' entry points (worker.c, instr.c).
 */
#include "driver.h"

#include <string.h>

void bench_usage(FILE *f)
{
	fprintf(f,
	        "usage: finalloc bench [--quick] [--reps N] [--scale F] [--only LIST]\n"
	        "                      [--alloc LIST] [--tlb-mib N] [--churn-live N]\n"
	        "                      [--json|--csv] [--html FILE] [--quiet]\n"
	        "\n"
	        "Runs FinAlloc's pool, arena and NUMA allocators and, through malloc/free,\n"
	        "glibc, jemalloc, tcmalloc and mimalloc (Debian's libjemalloc2,\n"
	        "libtcmalloc-minimal4, libmimalloc2.0; missing ones are skipped and said).\n"
	        "Each run is a separate process; repetitions interleave the allocators;\n"
	        "medians are reported with FinAlloc's ratio to the best peer.\n"
	        "\n"
	        "workloads (--only, comma-separated):\n"
	        "  pair      alloc+free pair of one size (16, 64, 256, 4096 B)\n"
	        "  churn     live set of 4096 objects of 16-256 B (--churn-live),\n"
	        "            replace one at random\n"
	        "  prodcons  producer allocates, consumer thread frees over an SPSC ring:\n"
	        "            ns per message and alloc latency p50..p99.99, max (TSC in ns)\n"
	        "  bump      allocate 100k objects of 16-256 B, release all (arena: reset);\n"
	        "            bump.hot: 1000 a round (cache-resident); arena: reset.1k/1M\n"
	        "  larson    larson-like server churn, tables rotate between threads\n"
	        "  large     256 KiB-4 MiB allocations, every page touched; minor faults\n"
	        "            (malloc-large's kind)\n"
	        "  xmalloc   threads in a ring, each frees what the one before allocated\n"
	        "            (xmalloc-test's kind)\n"
	        "  cache-scratch  threads free an object of the main thread's, then\n"
	        "            alloc/write/free 16 B (false sharing handed over)\n"
	        "  cache-thrash   the same without the hand-over\n"
	        "  mstress   8 B-64 KiB objects replaced or realloc'd at random, tables\n"
	        "            rotate between threads (mstress/rptest's kind)\n"
	        "  randsize  one thread, 4096 live objects, 16 B-32 KiB with a 1/size\n"
	        "            density (glibc's malloc benchmark's kind)\n"
	        "  pmr       C++ std::pmr: 1000 objects then release (monotonic_buffer_\n"
	        "            resource vs fa::arena_resource), and a live set replaced at\n"
	        "            random (unsynchronized_ and synchronized_pool_resource vs\n"
	        "            fa::pool_resource); the std side on each peer's malloc\n"
	        "  map       std::unordered_map insert/erase churn at a steady size,\n"
	        "            std::allocator (each peer's malloc) vs fa::pool_allocator\n"
	        "  tlb       random reads over a working set on 4 KiB vs 2 MiB pages\n"
	        "\n"
	        "options:\n"
	        "  --quick        the short tour: 3 repetitions, 1/5 of the operations\n"
	        "  --reps N       repetitions (default 5, at most %d)\n"
	        "  --scale F      multiply every operation count by F (default 1)\n"
	        "  --only LIST    workloads to run (default all)\n"
	        "  --alloc LIST   allocators: glibc,jemalloc,tcmalloc,mimalloc,pool,\n"
	        "                 pool-sized (frees with fa_pool_free_sized),\n"
	        "                 pool-fine (FA_POOL_FINE classes: mixed-size workloads),\n"
	        "                 arena,numa,\n"
	        "                 finalloc-malloc (the drop-in, through malloc/free\n"
	        "                 in a preloaded worker like the peers);\n"
	        "                 named only: pool-prefetch (FA_POOL_PREFETCH_NEXT),\n"
	        "                 floor (a drop-in with no checks, no stats, nothing\n"
	        "                 given back: what any allocator's malloc/free can\n"
	        "                 reach through the PLT; a yardstick, not a peer)\n"
	        "  --tlb-mib N    working set of the tlb workload (default 1024)\n"
	        "  --churn-live N live objects of the churn workload (a power of 2,\n"
	        "                 default 4096)\n"
	        "  --json, --csv  machine-readable output on stdout\n"
	        "  --html FILE    also write the results as one self-contained HTML page:\n"
	        "                 ratios to the best peer, alloc-latency curves, the table\n"
	        "  --quiet        no progress on stderr\n"
	        "  --help         this text\n"
	        "\n"
	        "Lower is better in every column; 'x' is best peer / FinAlloc (>1: FinAlloc "
	        "faster).\n"
	        "`make bench-instructions` counts instructions per op under callgrind.\n",
	        MAX_REPS);
}

static bool known_workload(const char *name)
{
	return wl_parse(name) >= 0;
}

/* The first name of a comma-separated list that known() rejects, into
 * name[32]; false when there is none. */
static bool unknown_name(const char *list, bool (*known)(const char *), char *name)
{
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');

		snprintf(name, 32, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
		if (!known(name))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

int bench_tour(void)
{
	struct bench_cfg cfg;

	bench_cfg_init(&cfg);
	cfg.tour = true;
	cfg.reps = 3;
	cfg.scale = 0.2;
	cfg.alloc_filter = "glibc,pool,arena,numa";
	cfg.wl_on[WL_PAIR] = cfg.wl_on[WL_CHURN] = cfg.wl_on[WL_PRODCONS] = true;
	cfg.wl_on[WL_BUMP] = cfg.wl_on[WL_LARSON] = true;
	printf("3 repetitions, short runs, medians; lower is better; x = glibc / FinAlloc\n\n");
	return bench_run(&cfg);
}

int cmd_bench(int argc, char **argv)
{
	enum {
		O_REPS = 256,
		O_SCALE,
		O_ONLY,
		O_ALLOC,
		O_TLB,
		O_LIVE,
		O_JSON,
		O_CSV,
		O_QUIET,
		O_QUICK,
		O_HTML
	};
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "reps", required_argument, NULL, O_REPS },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "only", required_argument, NULL, O_ONLY },
		{ "alloc", required_argument, NULL, O_ALLOC },
		{ "tlb-mib", required_argument, NULL, O_TLB },
		{ "churn-live", required_argument, NULL, O_LIVE },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "html", required_argument, NULL, O_HTML },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_cfg cfg;
	const char *only = NULL;
	bool quick = false, reps_set = false, scale_set = false, tlb_set = false;
	uint64_t v;
	char name[32];
	double d;
	int c;

	/* Hidden interfaces used by the driver and scripts/bench-instructions.sh. */
	if (argc >= 2 && (!strcmp(argv[1], "--worker") || !strcmp(argv[1], "--probe")))
		return bench_worker_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "--instr"))
		return bench_instr_main(argc - 1, argv + 1);

	bench_cfg_init(&cfg);
	while ((c = tool_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case O_QUICK:
			quick = true;
			break;
		case O_REPS:
			if (!fa__parse_u64(optarg, &v) || v < 1 || v > MAX_REPS)
				return tool_usage_err("bench", bench_usage,
				                      "--reps wants 1..%d, not '%s'", MAX_REPS,
				                      optarg);
			cfg.reps = (int)v;
			reps_set = true;
			break;
		case O_SCALE:
			if (!fa__parse_double(optarg, &d) || d <= 0 || d > 1000)
				return tool_usage_err(
				        "bench", bench_usage,
				        "--scale wants a number in (0, 1000], not '%s'", optarg);
			cfg.scale = d;
			scale_set = true;
			break;
		case O_ONLY:
			only = optarg;
			break;
		case O_ALLOC:
			cfg.alloc_filter = optarg;
			break;
		case O_TLB:
			if (!fa__parse_u64(optarg, &v) || v < 4 || v > (1u << 20))
				return tool_usage_err("bench", bench_usage,
				                      "--tlb-mib wants 4..1048576, not '%s'",
				                      optarg);
			cfg.tlb_bytes = (size_t)v << 20;
			tlb_set = true;
			break;
		case O_LIVE:
			if (!fa__parse_u64(optarg, &v) || v < 64 || v > (1u << 22) || (v & (v - 1)))
				return tool_usage_err("bench", bench_usage,
				                      "--churn-live wants a power of 2 in "
				                      "64..4194304, not '%s'",
				                      optarg);
			cfg.churn_live = (size_t)v;
			break;
		case O_JSON:
			cfg.json = true;
			break;
		case O_CSV:
			cfg.csv = true;
			break;
		case O_QUIET:
			cfg.progress = false;
			break;
		case O_HTML:
			if (!*optarg)
				return tool_usage_err("bench", bench_usage,
				                      "--html wants a file name");
			cfg.html = optarg;
			break;
		default:
			return tool_opt_other("bench", bench_usage, c, argv);
		}
	}
	if (optind < argc)
		return tool_usage_err("bench", bench_usage, "unexpected argument '%s'",
		                      argv[optind]);
	if (cfg.json && cfg.csv)
		return tool_usage_err("bench", bench_usage, "--json and --csv exclude each other");
	if (quick) {
		if (!reps_set)
			cfg.reps = 3;
		if (!scale_set)
			cfg.scale = 0.2;
		if (!tlb_set)
			cfg.tlb_bytes = (size_t)256 << 20;
	}
	for (int w = 0; w < WL_COUNT; w++)
		cfg.wl_on[w] = !only || bench_in_list(only, wl_names[w]);
	/* Reject names that match nothing rather than silently running less. */
	if (unknown_name(only, known_workload, name))
		return tool_usage_err("bench", bench_usage, "unknown workload '%s'", name);
	if (unknown_name(cfg.alloc_filter, bench_known_alloc, name))
		return tool_usage_err("bench", bench_usage, "unknown allocator '%s'", name);
	return bench_run(&cfg);
}
