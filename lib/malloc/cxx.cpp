// SPDX-License-Identifier: MIT
/*
 * libfinalloc-malloc: every C++ operator new and delete, on malloc and
 * memalign of lib/malloc/malloc.c.  A failed new calls the new-handler
 * until it succeeds or there is none, then throws std::bad_alloc (the
 * nothrow forms return nullptr instead).  The only C++ of the drop-in.
 */
#include <cstddef>
#include <cstdlib>
#include <malloc.h>
#include <new>

#define API __attribute__((visibility("default")))

namespace
{

void *try_alloc(std::size_t n, std::size_t al)
{
	if (n == 0)
		n = 1;
	return al > alignof(std::max_align_t) ? memalign(al, n) : malloc(n);
}

void *new_throw(std::size_t n, std::size_t al)
{
	for (;;) {
		void *p = try_alloc(n, al);

		if (p)
			return p;
		std::new_handler h = std::get_new_handler();
		if (!h)
			throw std::bad_alloc();
		h();
	}
}

void *new_nothrow(std::size_t n, std::size_t al) noexcept
{
	try {
		return new_throw(n, al);
	} catch (...) {
		return nullptr;
	}
}

} // namespace

API void *operator new(std::size_t n)
{
	void *p = try_alloc(n, 0);

	return p ? p : new_throw(n, 0);
}
API void *operator new[](std::size_t n)
{
	void *p = try_alloc(n, 0);

	return p ? p : new_throw(n, 0);
}
API void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
	void *p = try_alloc(n, 0);

	return p ? p : new_nothrow(n, 0);
}
API void *operator new[](std::size_t n, const std::nothrow_t &) noexcept
{
	void *p = try_alloc(n, 0);

	return p ? p : new_nothrow(n, 0);
}
API void *operator new(std::size_t n, std::align_val_t al)
{
	return new_throw(n, static_cast<std::size_t>(al));
}
API void *operator new[](std::size_t n, std::align_val_t al)
{
	return new_throw(n, static_cast<std::size_t>(al));
}
API void *operator new(std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept
{
	return new_nothrow(n, static_cast<std::size_t>(al));
}
API void *operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept
{
	return new_nothrow(n, static_cast<std::size_t>(al));
}

API void operator delete(void *p) noexcept
{
	free(p);
}
API void operator delete[](void *p) noexcept
{
	free(p);
}
API void operator delete(void *p, const std::nothrow_t &) noexcept
{
	free(p);
}
API void operator delete[](void *p, const std::nothrow_t &) noexcept
{
	free(p);
}
API void operator delete(void *p, std::size_t) noexcept
{
	free(p);
}
API void operator delete[](void *p, std::size_t) noexcept
{
	free(p);
}
API void operator delete(void *p, std::align_val_t) noexcept
{
	free(p);
}
API void operator delete[](void *p, std::align_val_t) noexcept
{
	free(p);
}
API void operator delete(void *p, std::size_t, std::align_val_t) noexcept
{
	free(p);
}
API void operator delete[](void *p, std::size_t, std::align_val_t) noexcept
{
	free(p);
}
API void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	free(p);
}
API void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	free(p);
}
