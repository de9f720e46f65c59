// SPDX-License-Identifier: MIT
/*
 * The C++ layer's loops for scripts/bench-instructions.sh: `instr-cxx WHAT
 * OPS`, the same shape as `finalloc bench --instr` (instr.c) so the two
 * counts compare: 64 B objects, one word written, reset every 16384.
 *   construct   fa::arena::construct<order>(i), order trivially destructible
 */
#include <finalloc.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

} // namespace

int main(int argc, char **argv)
{
	char *end;
	unsigned long long ops;

	if (argc != 3 || std::strcmp(argv[1], "construct")) {
		std::fprintf(stderr, "usage: instr-cxx construct OPS\n");
		return 2;
	}
	errno = 0;
	ops = std::strtoull(argv[2], &end, 10);
	if (errno || *end || end == argv[2]) {
		std::fprintf(stderr, "instr-cxx: OPS '%s' is not a count\n", argv[2]);
		return 2;
	}
	try {
		return construct_loop(ops);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "instr-cxx: %s\n", e.what());
		return 1;
	}
}
