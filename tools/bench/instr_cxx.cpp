// SPDX-License-Identifier: MIT
/*
 * The C++ layer's loops for scripts/bench-instructions.sh: `instr-cxx WHAT
 * OPS`, the same shape as `finalloc bench --instr` (instr.c) so the two
 * counts compare: 64 B objects, one word written, reset every 16384.
 *   construct       fa::arena::construct<order>(i), order trivially destructible
 *   pool_allocator  fa::pool_allocator<order>: allocate(1), write, deallocate
 *                   (compare: pool-sized, the C inline path it is built on)
 *   pool_resource   fa::pool_resource through a memory_resource& (virtual):
 *                   allocate(64, 16), write, deallocate
 */
#include <finalloc.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory_resource>

namespace
{

struct order {
	std::uint64_t id;
	char rest[56];
	explicit order(std::uint64_t i) noexcept : id(i)
	{
	}
};
static_assert(sizeof(order) == 64 && std::is_trivially_destructible_v<order>);

// Keeps the compiler from dropping the object (bench.h's wl_escape).
inline void escape(void *p)
{
	asm volatile("" : : "g"(p) : "memory");
}

int construct_loop(std::uint64_t ops)
{
	fa::arena a;

	for (std::uint64_t i = 0; i < ops; i++) {
		order *o = a.construct<order>(i);

		escape(o);
		if ((i & 16383) == 16383)
			a.reset();
	}
	return 0;
}

int pool_allocator_loop(std::uint64_t ops)
{
	fa::pool_resource r;
	fa::pool_allocator<order> al(r);

	for (std::uint64_t i = 0; i < ops; i++) {
		order *o = al.allocate(1);

		o->id = i;
		escape(o);
		al.deallocate(o, 1);
	}
	return 0;
}

int pool_resource_loop(std::uint64_t ops)
{
	fa::pool_resource pr;
	std::pmr::memory_resource *r = &pr;

	asm volatile("" : "+r"(r)); // a memory_resource& as a program holds it: virtual calls
	for (std::uint64_t i = 0; i < ops; i++) {
		auto *o = static_cast<std::uint64_t *>(r->allocate(64, 16));

		*o = i;
		escape(o);
		r->deallocate(o, 64, 16);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*loop)(std::uint64_t);
	} loops[] = {
		{ "construct", construct_loop },
		{ "pool_allocator", pool_allocator_loop },
		{ "pool_resource", pool_resource_loop },
	};
	int (*loop)(std::uint64_t) = nullptr;
	char *end;
	unsigned long long ops;

	for (const auto &l : loops)
		if (argc == 3 && !std::strcmp(argv[1], l.name))
			loop = l.loop;
	if (!loop) {
		std::fprintf(stderr,
		             "usage: instr-cxx construct|pool_allocator|pool_resource OPS\n");
		return 2;
	}
	errno = 0;
	ops = std::strtoull(argv[2], &end, 10);
	if (errno || *end || end == argv[2]) {
		std::fprintf(stderr, "instr-cxx: OPS '%s' is not a count\n", argv[2]);
		return 2;
	}
	try {
		return loop(ops);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "instr-cxx: %s\n", e.what());
		return 1;
	}
}
