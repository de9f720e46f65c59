// SPDX-License-Identifier: MIT
/*
 * The C++ layer (finalloc.hpp): arena construct<T> and destructor order,
 * throwing constructors, over-aligned types, moving an arena, typed pools,
 * the three std::pmr resources under vector/unordered_map/string, STL
 * containers on pool_allocator (rebind, equality, propagation), and many
 * threads each with its own pool_allocator on one pool.  Built twice, as
 * cxx17 and cxx20; tests/host/cxx/driver.c runs it under the harness.
 */
#include "finalloc.hpp"
#include "cxx/driver.h"
#include "debugger.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace
{

int failures;

void fail(int line, const char *what)
{
	std::fprintf(stderr, "# cxx.cpp:%d: check failed: %s\n", line, what);
	failures++;
}

#define CHECK(c)                            \
	do {                                \
		if (!(c))                   \
			fail(__LINE__, #c); \
	} while (0)

// Fails the check when expr does not throw E.
#define CHECK_THROWS(E, expr)                                \
	do {                                                 \
		bool thrown_ = false;                        \
		try {                                        \
			(void)(expr);                        \
		} catch (const E &) {                        \
			thrown_ = true;                      \
		}                                            \
		if (!thrown_)                                \
			fail(__LINE__, #expr " throws " #E); \
	} while (0)

bool aligned(const void *p, std::size_t a)
{
	return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

uint64_t pool_live(fa_pool *p)
{
	static struct fa_pool_stats st; // large: off the stack

	if (fa_pool_stats(p, &st) != 0)
		return ~0ull;
	return st.live;
}

std::vector<int> order; // destructor calls, by id

struct tracked {
	int id;
	explicit tracked(int i) : id(i)
	{
	}
	~tracked()
	{
		order.push_back(id);
	}
};

int alive;

struct thrower {
	std::string s;
	explicit thrower(bool t) : s("a string too long for the small buffer")
	{
		if (t)
			throw std::runtime_error("ctor");
		alive++;
	}
	~thrower()
	{
		alive--;
	}
};

struct alignas(64) line64 {
	char b[64];
	~line64()
	{
		alive--;
	}
};

struct alignas(4096) page {
	int x;
};

struct pod {
	int a;
	double b;
};

/* ---- arena ---- */

void arena_construct_order()
{
	fa::arena a;

	CHECK(a.get() != nullptr);
	order.clear();
	for (int i = 0; i < 5; i++) {
		tracked *t = a.construct<tracked>(i);
		CHECK(t->id == i);
	}
	pod *p = a.construct<pod>(pod{ 3, 2.5 });
	CHECK(p->a == 3 && p->b == 2.5);
	CHECK(a.stats().dtors_pending == 5); // pod is trivially destructible: none
	a.reset();
	CHECK((order == std::vector<int>{ 4, 3, 2, 1, 0 }));
	CHECK(a.stats().dtors_pending == 0);
	order.clear();
	{
		fa::arena b;
		b.construct<tracked>(7);
		b.construct<tracked>(8);
	}
	CHECK((order == std::vector<int>{ 8, 7 })); // destruction runs them too
	void *raw = a.allocate(100, 256);
	CHECK(aligned(raw, 256));
}

void arena_throwing_ctor()
{
	fa::arena a;

	alive = 0;
	a.construct<thrower>(false);
	struct fa_arena_stats before = a.stats();
	CHECK_THROWS(std::runtime_error, a.construct<thrower>(true));
	struct fa_arena_stats after = a.stats();
	CHECK(after.dtors_pending == before.dtors_pending); // nothing registered
	// the bump was undone (not under a memory debugger: no inline cursor)
	CHECK(under_memory_debugger() || after.used_bytes == before.used_bytes);
	CHECK(alive == 1);
	a.reset();
	CHECK(alive == 0); // only the constructed one was destroyed
}

void arena_overaligned()
{
	fa::arena a;

	alive = 0;
	for (int i = 0; i < 10; i++) {
		a.construct<pod>(pod{ i, 0 }); // misalign the cursor
		line64 *l = a.construct<line64>();
		alive++;
		CHECK(aligned(l, 64));
		page *pg = a.construct<page>(page{ i });
		CHECK(aligned(pg, 4096) && pg->x == i);
	}
	a.reset();
	CHECK(alive == 0);
}

void arena_move()
{
	order.clear();
	fa::arena a;
	tracked *t = a.construct<tracked>(1);
	fa_arena *raw = a.get();

	fa::arena b(std::move(a));
	CHECK(a.get() == nullptr && !a);
	CHECK(b.get() == raw && t->id == 1);
	CHECK_THROWS(std::bad_alloc, a.construct<tracked>(2)); // moved-from: no arena
	a.reset();                                             // harmless
	fa::arena c;
	c.construct<tracked>(3);
	c = std::move(b); // c's old arena goes: runs 3
	CHECK((order == std::vector<int>{ 3 }));
	CHECK(c.get() == raw);
	fa::arena &alias = c;
	c = std::move(alias); // self-move keeps the arena
	CHECK(c.get() == raw);
	static_assert(!std::is_copy_constructible_v<fa::arena>);
	static_assert(!std::is_copy_assignable_v<fa::arena>);
	static_assert(std::is_nothrow_move_constructible_v<fa::arena>);
	c.reset();
	CHECK((order == std::vector<int>{ 3, 1 }));
}

void arena_errors()
{
	fa_arena_opts o{};

	o.flags = 1u << 30; // unknown flag
	try {
		fa::arena a(&o);
		fail(__LINE__, "bad opts accepted");
	} catch (const std::system_error &e) {
		CHECK(e.code().value() == EINVAL);
		CHECK(e.code().category() == std::generic_category());
	}
	fa_arena_opts capped{};
	capped.chunk_size = 64 << 10;
	capped.cap = 256 << 10;
	capped.mem.backend = FA_BACKEND_SMALL; // 4 KiB pages: the cap is exact
	fa::arena a(&capped);
	CHECK_THROWS(std::bad_alloc, a.allocate(1 << 20));
	CHECK_THROWS(std::bad_alloc, (a.construct<std::array<char, 1 << 20>>()));
}

/* ---- typed pool ---- */

void pool_typed()
{
	fa::pool<tracked> p;

	order.clear();
	std::vector<tracked *> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(p.construct(i));
	CHECK(pool_live(p.get()) == 1000);
	for (tracked *t : v)
		p.destroy(t);
	CHECK(order.size() == 1000 && order[999] == 999);
	CHECK(pool_live(p.get()) == 0);
	p.destroy(nullptr);

	fa::pool<thrower> tp;
	alive = 0;
	CHECK_THROWS(std::runtime_error, tp.construct(true));
	CHECK(pool_live(tp.get()) == 0); // the slot went back
	thrower *ok = tp.construct(false);
	CHECK(alive == 1);
	tp.destroy(ok);
	CHECK(alive == 0);

	fa::pool<line64> lp;
	for (int i = 0; i < 100; i++) {
		line64 *l = lp.construct();
		alive++;
		CHECK(aligned(l, 64));
		lp.destroy(l);
	}
	fa::pool<page> pp;
	page *pg = pp.construct(page{ 5 });
	CHECK(aligned(pg, 4096) && pg->x == 5);
	pp.destroy(pg);

	fa_pool_opts bad{};
	bad.obj_size = 8; // below sizeof(thrower)
	CHECK_THROWS(std::system_error, fa::pool<thrower>(&bad));
	fa::pool<tracked> moved(std::move(p));
	CHECK(p.get() == nullptr && moved.get() != nullptr);
}

/* ---- pmr resources ---- */

// vector, unordered_map and string on r, and r's equality.
void pmr_containers(std::pmr::memory_resource &r)
{
	{
		std::pmr::vector<int> v(&r);
		for (int i = 0; i < 10000; i++)
			v.push_back(i);
		CHECK(v[9999] == 9999);
		std::pmr::unordered_map<int, std::pmr::string> m(&r);
		for (int i = 0; i < 2000; i++)
			m.emplace(i, std::pmr::string(100, char('a' + i % 26)));
		for (int i = 0; i < 2000; i += 2)
			m.erase(i);
		CHECK(m.size() == 1000 && m.at(1)[99] == 'b');
		CHECK(m.get_allocator().resource() == &r);
		std::pmr::string s("a string long enough to leave the small buffer", &r);
		s += s;
		CHECK(s.size() == 92);
	}
	CHECK(r.is_equal(r));
	CHECK(!r.is_equal(*std::pmr::new_delete_resource()));
	for (std::size_t al = 1; al <= 4096; al *= 2) {
		void *p = r.allocate(40, al);
		CHECK(aligned(p, al));
		std::memset(p, 1, 40);
		r.deallocate(p, 40, al);
	}
	void *z = r.allocate(0, 8);
	CHECK(z != nullptr);
	r.deallocate(z, 0, 8);
}

void pmr_arena_resource()
{
	fa::arena a;
	fa::arena_resource r(a), same(a.get());
	fa::arena b;
	fa::arena_resource other(b);

	pmr_containers(r);
	CHECK(r.is_equal(same) && same.is_equal(r));
	CHECK(!r.is_equal(other));
	CHECK(r.get() == a.get());
	std::pmr::monotonic_buffer_resource mono;
	CHECK(!r.is_equal(mono));
}

void pmr_pool_resource()
{
	fa::pool_resource r;
	fa::pool_resource same(r.get());
	fa::pool_resource other;

	pmr_containers(r);
	CHECK(pool_live(r.get()) == 0); // every deallocate reached the pool
	CHECK(r.is_equal(same) && !r.is_equal(other));
	fa::pool_resource wider(r.get(), 64); // the same pool, another base
	CHECK(!r.is_equal(wider));
	// over-aligned sizes across classes and the large path
	for (std::size_t sz : { 1, 100, 4000, 8192, 100000 }) {
		for (std::size_t al : { 32, 256, 4096 }) {
			void *p = r.allocate(sz, al);
			CHECK(aligned(p, al));
			std::memset(p, 0x5a, sz);
			r.deallocate(p, sz, al);
		}
	}
	CHECK(pool_live(r.get()) == 0);
	fa_pool_opts bad{};
	bad.align = 3;
	CHECK_THROWS(std::system_error, fa::pool_resource(&bad));
	CHECK_THROWS(std::bad_alloc, r.allocate(std::size_t(1) << 62));
}

void pmr_numa_resource()
{
	fa::numa_resource r;
	fa::numa_resource same(r.get());
	fa::numa_resource node0(r.get(), 0);
	fa::numa_resource other;

	pmr_containers(r);
	pmr_containers(node0);
	CHECK(r.is_equal(same) && r.is_equal(node0) && !r.is_equal(other));
	void *p = node0.allocate(1000, 128);
	CHECK(aligned(p, 128));
	r.deallocate(p, 1000, 128); // equal resources free each other's memory
	fa_numa_opts bad{};
	bad.policy = 99;
	CHECK_THROWS(std::system_error, fa::numa_resource(&bad));
}

/* ---- pool_allocator ---- */

void allocator_traits()
{
	using A = fa::pool_allocator<int>;
	using T = std::allocator_traits<A>;
	fa::pool_resource r, r2;
	A a(r);
	fa::pool_allocator<double> d(a); // rebinding copy

	static_assert(std::is_same_v<T::rebind_alloc<long>, fa::pool_allocator<long>>);
	static_assert(T::propagate_on_container_copy_assignment::value);
	static_assert(T::propagate_on_container_move_assignment::value);
	static_assert(T::propagate_on_container_swap::value);
	static_assert(!T::is_always_equal::value);
	static_assert(std::is_nothrow_copy_constructible_v<A>);
	CHECK(a == d && !(a != d));
	CHECK(a == A(r.get()));
	CHECK(a != A(r2));
	CHECK(T::select_on_container_copy_construction(a) == a);
	int *p = a.allocate(10);
	a.deallocate(p, 10);
	CHECK_THROWS(std::bad_array_new_length, a.allocate(std::size_t(-1) / 2));
	fa::pool_allocator<line64> l(a);
	line64 *lp = l.allocate(3);
	CHECK(aligned(lp, 64));
	l.deallocate(lp, 3);
	CHECK(pool_live(r.get()) == 0);
}

void allocator_containers()
{
	fa::pool_resource r;
	fa::pool_allocator<int> a(r);
	{
		std::vector<int, fa::pool_allocator<int>> v(a);
		for (int i = 0; i < 10000; i++)
			v.push_back(i);
		std::list<int, fa::pool_allocator<int>> l(a);
		for (int i = 0; i < 1000; i++)
			l.push_back(i);
		using MA = fa::pool_allocator<std::pair<const int, int>>;
		std::map<int, int, std::less<int>, MA> m{ MA(a) };
		std::unordered_map<int, int, std::hash<int>, std::equal_to<int>, MA> u(
		        16, std::hash<int>(), std::equal_to<int>(), MA(a));
		for (int i = 0; i < 5000; i++) {
			m[i] = i;
			u[i] = -i;
		}
		for (int i = 0; i < 5000; i += 3) {
			m.erase(i);
			u.erase(i);
		}
		CHECK(v[4321] == 4321 && l.back() == 999 && m.at(1) == 1 && u.at(2) == -2);
		CHECK(u.get_allocator() == a);
		using S = std::basic_string<char, std::char_traits<char>, fa::pool_allocator<char>>;
		S s("long enough to need the heap, long enough", fa::pool_allocator<char>(a));
		CHECK(s.size() == 41);
	}
	CHECK(pool_live(r.get()) == 0);
	// propagation: a moved-to container takes the source's pool
	fa::pool_resource r2;
	{
		using V = std::vector<int, fa::pool_allocator<int>>;
		V x(100, 1, fa::pool_allocator<int>(r));
		V y{ fa::pool_allocator<int>(r2) };
		y = std::move(x);
		CHECK(y.get_allocator().pool() == r.get() && y.size() == 100);
		V z{ fa::pool_allocator<int>(r2) };
		z = y; // copy assignment propagates too
		CHECK(z.get_allocator().pool() == r.get());
		V w(5, 2, fa::pool_allocator<int>(r2));
		w.swap(z);
		CHECK(w.get_allocator().pool() == r.get() && z.get_allocator().pool() == r2.get());
	}
	CHECK(pool_live(r.get()) == 0 && pool_live(r2.get()) == 0);
}

void allocator_threads()
{
	fa::pool_resource r;
	constexpr int nthreads = 8;
	std::vector<std::thread> ts;
	int bad[nthreads] = {};

	for (int t = 0; t < nthreads; t++) {
		ts.emplace_back([&r, &bad, t] {
			using MA = fa::pool_allocator<
			        std::pair<const int, std::vector<int, fa::pool_allocator<int>>>>;
			MA al(r); // each thread its own allocator
			std::unordered_map<int, std::vector<int, fa::pool_allocator<int>>,
			                   std::hash<int>, std::equal_to<int>, MA>
			        m(0, std::hash<int>(), std::equal_to<int>(), al);
			for (int round = 0; round < 20; round++) {
				for (int i = 0; i < 500; i++)
					m.emplace(i, std::vector<int, fa::pool_allocator<int>>(
					                     size_t(i % 17 + 1), t,
					                     fa::pool_allocator<int>(al)));
				for (auto &kv : m)
					if (kv.second[0] != t ||
					    kv.second.size() != size_t(kv.first % 17 + 1))
						bad[t]++;
				m.clear();
			}
		});
	}
	for (auto &th : ts)
		th.join();
	for (int t = 0; t < nthreads; t++)
		CHECK(bad[t] == 0);
	CHECK(pool_live(r.get()) == 0);
}

struct test {
	const char *name;
	void (*fn)();
};

const test tests[] = {
	{ "arena_construct_order", arena_construct_order },
	{ "arena_throwing_ctor", arena_throwing_ctor },
	{ "arena_overaligned", arena_overaligned },
	{ "arena_move", arena_move },
	{ "arena_errors", arena_errors },
	{ "pool_typed", pool_typed },
	{ "pmr_arena_resource", pmr_arena_resource },
	{ "pmr_pool_resource", pmr_pool_resource },
	{ "pmr_numa_resource", pmr_numa_resource },
	{ "allocator_traits", allocator_traits },
	{ "allocator_containers", allocator_containers },
	{ "allocator_threads", allocator_threads },
};

} // namespace

extern "C" size_t fa_cxx_count(void)
{
	return sizeof(tests) / sizeof(tests[0]);
}

extern "C" const char *fa_cxx_name(size_t i)
{
	return tests[i].name;
}

extern "C" int fa_cxx_run(const char *name)
{
	for (const test &t : tests) {
		if (std::strcmp(t.name, name) != 0)
			continue;
		failures = 0;
		try {
			t.fn();
		} catch (const std::exception &e) {
			std::fprintf(stderr, "# %s: exception: %s\n", name, e.what());
			failures++;
		}
		return failures;
	}
	std::fprintf(stderr, "# no C++ test %s\n", name);
	return 1;
}
