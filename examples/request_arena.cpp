// SPDX-License-Identifier: MIT
/*
 * request_arena.cpp: one arena per request, C++ objects constructed in it.
 *
 * A gateway parses each request into objects that live exactly as long as
 * the request: construct<T> runs their constructors in the arena (a bump,
 * no free list), std::pmr containers grow in it through arena_resource,
 * and reset() at the end runs the destructors, last first, and rewinds the
 * arena for the next request.  Nothing is freed one by one.
 *
 *   g++ -std=c++17 -O2 -Iinclude examples/request_arena.cpp \
 *       build/libfinalloc.a -lnuma -luring -lpthread -o request_arena
 *
 * Exits 0 when every destructor ran once, in order, and the arena was
 * empty after each request; 1 otherwise.
 */
#include <finalloc.hpp>

#include <cstdio>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <vector>

namespace
{

long live_fields; // fields constructed and not yet destroyed
int last_destroyed = -1;
bool order_ok = true;

// A parsed FIX-like tag=value field.  Its std::string is not arena memory:
// the destructor matters, and the arena runs it at reset().
struct field {
	int seq; // position in the request
	int tag;
	std::string value;

	field(int s, int t, std::string v) : seq(s), tag(t), value(std::move(v))
	{
		live_fields++;
	}
	~field()
	{
		// reset() destroys last first: sequence numbers come down.
		if (last_destroyed >= 0 && seq >= last_destroyed)
			order_ok = false;
		last_destroyed = seq;
		live_fields--;
	}
};

// Trivially destructible: construct<T> registers no destructor for it.
struct header {
	unsigned long id;
	int nfields;
};

// Parse "tag=value|tag=value|..." into the request's arena.
header *parse(fa::arena &a, unsigned long id, const std::string &wire,
              std::pmr::vector<field *> &fields)
{
	header *h = a.construct<header>(header{ id, 0 });
	std::size_t pos = 0;

	while (pos < wire.size()) {
		std::size_t eq = wire.find('=', pos), bar = wire.find('|', pos);

		if (eq == std::string::npos || bar == std::string::npos || eq > bar)
			throw std::runtime_error("malformed request");
		int tag = std::stoi(wire.substr(pos, eq - pos));
		fields.push_back(
		        a.construct<field>(h->nfields++, tag, wire.substr(eq + 1, bar - eq - 1)));
		pos = bar + 1;
	}
	return h;
}

} // namespace

int main()
{
	fa::arena a; // throws std::system_error if the arena cannot be made
	bool ok = true;

	for (unsigned long id = 0; id < 10000; id++) {
		{
			fa::arena_resource mem(a);
			std::pmr::vector<field *> fields(&mem); // its buffer is arena memory too
			std::string wire =
			        "35=D|11=order-" + std::to_string(id) +
			        "|55=ACME|54=1|38=" + std::to_string(100 + id % 900) +
			        "|44=101.25|59=0|"
			        "58=a free-text field long enough to leave the small buffer|";
			header *h = parse(a, id, wire, fields);

			// "Handle" the request: check what was parsed.
			if (h->id != id || h->nfields != 8 || fields.size() != 8 ||
			    fields[1]->value != "order-" + std::to_string(id) ||
			    fields[2]->tag != 55)
				ok = false;
		} // the vector ends here: arena_resource's deallocate does nothing

		// End of request: every field's destructor, then the rewind.
		last_destroyed = -1;
		a.reset();
		if (live_fields != 0 || a.stats().dtors_pending != 0)
			ok = false;
	}
	// A request that fails to parse: what was made so far is destroyed too.
	try {
		fa::arena_resource mem(a);
		std::pmr::vector<field *> fields(&mem);
		parse(a, 1, "35=D|garbage", fields);
		ok = false; // should have thrown
	} catch (const std::runtime_error &) {
		last_destroyed = -1;
		a.reset();
	}
	ok = ok && order_ok && live_fields == 0;
	std::printf("request_arena: 10000 requests, arena %s after each, destructors %s\n",
	            ok ? "empty" : "NOT empty", order_ok ? "last first" : "OUT OF ORDER");
	return ok ? 0 : 1;
}
