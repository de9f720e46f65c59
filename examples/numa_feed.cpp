// SPDX-License-Identifier: MIT
/*
 * numa_feed.cpp: a market-data feed handler with node-local memory, and the
 * profiler's report at the end.
 *
 * One handler thread per NUMA node with CPUs, pinned there.  Each keeps its
 * book of last quotes in a std::pmr::unordered_map and allocates each
 * decoded message from one fa::numa_resource: memory of the calling
 * thread's node, so a handler never reaches across the interconnect for
 * its own data.  A host without NUMA is one node 0: the program runs the
 * same.  At the end fa_numa_profile() and fa_numa_report() show, per node,
 * what the library served, the module's pinned pages (if loaded) and the
 * node's meminfo; `finalloc numa` shows the same for a whole process.
 *
 *   g++ -std=c++17 -O2 -Iinclude examples/numa_feed.cpp \
 *       build/libfinalloc.a -lnuma -luring -lpthread -o numa_feed
 *
 * Exits 0 when every message came from its handler's node and nothing is
 * left allocated; 1 otherwise.
 */
#include <finalloc.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory_resource>
#include <thread>
#include <unordered_map>
#include <vector>

namespace
{

constexpr int max_handlers = 8;
constexpr int messages = 200000;

struct quote {
	std::uint32_t symbol;
	std::int64_t bid, ask; // price in 1e-4 units
	std::uint64_t seq;
};

struct handler {
	int node;     // the node this handler runs on
	int mem_node; // the node whose memory serves it (itself, unless CPU-only)
	long wrong_node = 0, seen = 0;
};

// Decode a stream of synthetic quotes on h's node.
void run(fa::numa_resource &feed, handler &h)
{
	// Pinned, the thread's allocations come from its node's pool.  A
	// cpuset may refuse the pin: then it runs where it is, and still gets
	// its own node's memory.
	if (fa_numa_pin_thread(h.node) != 0) {
		h.node = fa_numa_thread_node();
		h.mem_node = -1; // unknown: take the first message's node as the answer
	}
	std::pmr::unordered_map<std::uint32_t, quote> book(&feed);
	std::uint64_t x = 88172645463325252ull + h.node;

	for (int i = 0; i < messages; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		// The "wire" message: decoded into a node-local buffer.
		auto *m = static_cast<quote *>(feed.allocate(sizeof(quote), alignof(quote)));
		*m = quote{ std::uint32_t(x % 500), std::int64_t(1000000 + x % 1000),
			    std::int64_t(1000100 + x % 1000), std::uint64_t(i) };

		int served = fa_numa_node_of(feed.get(), m);
		if (h.mem_node < 0)
			h.mem_node = served;
		if (served != h.mem_node)
			h.wrong_node++;
		book[m->symbol] = *m; // the book's nodes are node-local too
		h.seen++;
		feed.deallocate(m, sizeof(quote), alignof(quote));
	}
	if (book.size() != 500) // 500 symbols, every one quoted
		h.wrong_node++;
}

} // namespace

int main()
{
	// Large: off the stack.  "struct": the function of that name hides it.
	static struct fa_numa_profile prof;
	fa::numa_resource feed; // its own fa_numa, default options
	handler hs[max_handlers];
	int nh = 0;
	bool ok = true;

	if (fa_numa_profile(feed.get(), &prof) != 0) {
		std::fprintf(stderr, "numa_feed: fa_numa_profile failed\n");
		return 1;
	}
	for (int i = 0; i < prof.nr_nodes && nh < max_handlers; i++)
		if (prof.node[i].nr_cpus > 0)
			hs[nh++] = handler{ prof.node[i].node, prof.node[i].mem_node };

	std::vector<std::thread> ts;
	for (int i = 0; i < nh; i++)
		ts.emplace_back(run, std::ref(feed), std::ref(hs[i]));
	for (auto &t : ts)
		t.join();

	for (int i = 0; i < nh; i++) {
		std::printf("numa_feed: handler on node %d: %ld messages, memory of node %d, "
		            "%ld from elsewhere\n",
		            hs[i].node, hs[i].seen, hs[i].mem_node, hs[i].wrong_node);
		ok = ok && hs[i].seen == messages && hs[i].wrong_node == 0;
	}

	// The profile after the run: every node's allocations are back.
	if (fa_numa_profile(feed.get(), &prof) != 0 ||
	    fa_numa_report(&prof, FA_NUMA_REPORT_TEXT, stdout) != 0)
		ok = false;
	for (int i = 0; i < prof.nr_nodes; i++)
		if (prof.node[i].lib.live_objects != 0)
			ok = false;
	std::printf("numa_feed: %d handlers, %s\n", nh, ok ? "all node-local" : "FAILED");
	return ok && nh > 0 ? 0 : 1;
}
