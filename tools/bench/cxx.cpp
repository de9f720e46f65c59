// SPDX-License-Identifier: MIT
/*
 * The C++ workloads: FinAlloc's C++ layer (finalloc.hpp) against what a
 * C++ program would use otherwise, each side in its own worker like every
 * other row.  The standard side runs in the peers' workers, so its
 * std::pmr resources and std::allocator sit on each peer's malloc (what
 * operator new and new_delete_resource call there).
 *   pmr.mono    a request's worth of 16-256 B objects through a
 *               memory_resource&, then everything released at once:
 *               monotonic_buffer_resource::release() / arena reset
 *   pmr.unsync  a live set of 16-256 B objects through a memory_resource&,
 *   pmr.sync    one replaced at random: unsynchronized_pool_resource,
 *               synchronized_pool_resource / fa::pool_resource (thread-safe
 *               itself, so the same resource stands against both)
 *   map.churn   an order book's index: std::unordered_map<id, order> at a
 *               steady size, the order erased and a new one inserted at
 *               random: std::allocator / fa::pool_allocator
 * Every call to the resource is virtual on both sides, as in a program.
 */
#include "cxx.h"

#include <finalloc.hpp>

#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <memory_resource>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace
{

// bench.h's xorshift64* (wl_rand), so the sizes follow the C workloads'.
struct rng {
	std::uint64_t s;
	std::uint64_t next() noexcept
	{
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		return s * 0x2545f4914f6cdd1dull;
	}
};

inline void escape(void *p)
{
	asm volatile("" : : "r"(p) : "memory");
}

// The resource as a program holds it, a memory_resource& whose type the
// compiler cannot see: each call stays virtual, on both sides alike.
inline std::pmr::memory_resource &opaque(std::pmr::memory_resource &r)
{
	std::pmr::memory_resource *p = &r;

	asm volatile("" : "+r"(p));
	return *p;
}

inline std::size_t obj_size(std::uint64_t r) noexcept
{
	return 16 + static_cast<std::size_t>((r >> 32) % 241); // 16..256 B
}

constexpr std::size_t kAlign = alignof(std::max_align_t);
constexpr int kBatch = 1000; // objects of one request

// pmr.mono: requests of kBatch objects; release() ends each request.
template <class Release>
void mono(std::pmr::memory_resource &res, Release release, std::uint64_t ops)
{
	std::pmr::memory_resource &r = opaque(res);
	std::uint64_t rounds = ops / kBatch ? ops / kBatch : 1, t0 = 0;
	rng g{ 12345 };

	for (std::uint64_t k = 0; k < rounds + 1; k++) {
		if (k == 1)
			t0 = bench_now_ns(); // request 0 warms up
		for (int i = 0; i < kBatch; i++) {
			char *p = static_cast<char *>(r.allocate(obj_size(g.next()), kAlign));

			p[0] = static_cast<char>(i);
			escape(p);
		}
		release();
	}
	bench_emit("pmr.mono", "ns/obj",
	           static_cast<double>(bench_now_ns() - t0) / static_cast<double>(rounds * kBatch));
}

// pmr.unsync / pmr.sync: a live set, one object replaced at random.
void churn(std::pmr::memory_resource &res, const char *metric, std::uint64_t ops, std::size_t live)
{
	std::pmr::memory_resource &r = opaque(res);
	struct obj {
		void *p;
		std::size_t size;
	};
	std::vector<obj> set(live); // before the clock; from the process's malloc
	std::uint64_t warm = ops / 10 + 1, t0 = 0;
	rng g{ 0x9e3779b97f4a7c15ull };

	for (auto &o : set) {
		o.size = obj_size(g.next());
		o.p = r.allocate(o.size, kAlign);
	}
	for (std::uint64_t i = 0; i < warm + ops; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		std::uint64_t x = g.next();
		obj &o = set[x & (live - 1)];

		r.deallocate(o.p, o.size, kAlign);
		o.size = obj_size(x);
		o.p = r.allocate(o.size, kAlign);
		*static_cast<char *>(o.p) = static_cast<char>(x);
	}
	bench_emit(metric, "ns/op",
	           static_cast<double>(bench_now_ns() - t0) / static_cast<double>(ops));
	for (auto &o : set)
		r.deallocate(o.p, o.size, kAlign);
}

struct order {
	std::uint64_t px, qty, ts;
	char venue[40];
};

// map.churn: `live` orders resting; each op cancels one at random and
// inserts a new one under the next id.  The bucket array is sized up
// front, so what is timed is node allocation and the map's own work.
template <class Alloc> void map_churn(const Alloc &al, std::uint64_t ops, std::size_t live)
{
	using value = std::pair<const std::uint64_t, order>;
	using alloc_t = typename std::allocator_traits<Alloc>::template rebind_alloc<value>;
	using map_t = std::unordered_map<std::uint64_t, order, std::hash<std::uint64_t>,
	                                 std::equal_to<std::uint64_t>, alloc_t>;
	std::vector<std::uint64_t> ids(live);
	std::uint64_t next = 1, warm = ops / 10 + 1, t0 = 0;
	rng g{ 99 };
	map_t m(2 * live, std::hash<std::uint64_t>(), std::equal_to<std::uint64_t>(), alloc_t(al));

	for (auto &id : ids) {
		id = next++;
		m.emplace(id, order{ id, 1, id, {} });
	}
	for (std::uint64_t i = 0; i < warm + ops; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		std::uint64_t &id = ids[g.next() & (live - 1)];

		m.erase(id);
		id = next++;
		m.emplace(id, order{ id, 1, i, {} });
	}
	bench_emit("map.churn", "ns/op",
	           static_cast<double>(bench_now_ns() - t0) / static_cast<double>(ops));
	if (m.size() != live)
		throw std::logic_error("map.churn: the map lost orders");
}

int failed(const char *what, const std::exception &e)
{
	std::fprintf(stderr, "bench worker: %s: %s\n", what, e.what());
	return -1;
}

} // namespace

extern "C" int bench_cxx_pmr(enum bench_cxx_side side, void *ctx, std::uint64_t ops,
                             std::size_t live)
{
	try {
		if (side == CXX_STD) {
			std::pmr::monotonic_buffer_resource m(std::pmr::new_delete_resource());
			std::pmr::unsynchronized_pool_resource u(std::pmr::new_delete_resource());
			std::pmr::synchronized_pool_resource s(std::pmr::new_delete_resource());

			mono(
			        m, [&m] { m.release(); }, ops);
			churn(u, "pmr.unsync", ops, live);
			churn(s, "pmr.sync", ops, live);
		} else if (side == CXX_FA_ARENA) {
			auto *a = static_cast<fa_arena *>(ctx);
			fa::arena_resource r(a);

			mono(
			        r, [a] { fa_arena_reset(a); }, ops);
		} else {
			fa::pool_resource r(static_cast<fa_pool *>(ctx));

			churn(r, "pmr.unsync", ops, live);
			churn(r, "pmr.sync", ops, live);
		}
	} catch (const std::exception &e) {
		return failed("pmr", e);
	}
	return 0;
}

extern "C" int bench_cxx_map(enum bench_cxx_side side, void *ctx, std::uint64_t ops,
                             std::size_t live)
{
	try {
		if (side == CXX_FA_POOL)
			map_churn(fa::pool_allocator<char>(static_cast<fa_pool *>(ctx)), ops, live);
		else
			map_churn(std::allocator<char>(), ops, live);
	} catch (const std::exception &e) {
		return failed("map", e);
	}
	return 0;
}
