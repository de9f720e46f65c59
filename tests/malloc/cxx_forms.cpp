// SPDX-License-Identifier: MIT
/*
 * C++ side of malloc_api: every operator new/delete form, called from C.
 * Each returns 0 or the number of the first check that failed.
 */
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

static int handler_calls;

static void handler()
{
	handler_calls++;
	std::set_new_handler(nullptr); // the next failure throws
}

static bool aligned(void *p, std::size_t a)
{
	return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

extern "C" int fa_cxx_forms(void);

extern "C" int fa_cxx_forms(void)
{
	volatile std::size_t huge = SIZE_MAX / 2; // not folded into a warning

	void *p = ::operator new(24);
	if (!p)
		return 1;
	std::memset(p, 1, 24);
	::operator delete(p);
	p = ::operator new[](100);
	::operator delete[](p);
	p = ::operator new(50, std::nothrow);
	if (!p)
		return 2;
	::operator delete(p, std::nothrow);
	p = ::operator new[](50, std::nothrow);
	::operator delete[](p, std::nothrow);
	p = ::operator new(40);
	::operator delete(p, std::size_t(40));
	p = ::operator new[](40);
	::operator delete[](p, std::size_t(40));
	for (std::size_t a = 32; a <= (std::size_t(1) << 21); a *= 4) {
		p = ::operator new(a + 8, std::align_val_t(a));
		if (!aligned(p, a))
			return 3;
		std::memset(p, 2, a + 8);
		::operator delete(p, std::align_val_t(a));
		p = ::operator new[](a, std::align_val_t(a));
		if (!aligned(p, a))
			return 4;
		::operator delete[](p, a, std::align_val_t(a));
		p = ::operator new(a, std::align_val_t(a), std::nothrow);
		if (!p || !aligned(p, a))
			return 5;
		::operator delete(p, a, std::align_val_t(a));
		p = ::operator new[](a, std::align_val_t(a), std::nothrow);
		::operator delete[](p, std::align_val_t(a), std::nothrow);
		p = ::operator new(a, std::align_val_t(a));
		::operator delete(p, std::align_val_t(a), std::nothrow);
	}
	int *v = new int[1000]();
	for (int i = 0; i < 1000; i++)
		if (v[i])
			return 6;
	delete[] v;
	// impossible sizes: nothrow gives nullptr, the others throw
	if (::operator new(huge, std::nothrow) != nullptr)
		return 7;
	if (::operator new[](huge, std::align_val_t(64), std::nothrow) != nullptr)
		return 8;
	try {
		p = ::operator new(huge);
		return 9;
	} catch (const std::bad_alloc &) {
	}
	try {
		p = ::operator new[](huge, std::align_val_t(128));
		return 10;
	} catch (const std::bad_alloc &) {
	}
	// the new-handler runs before the throw
	handler_calls = 0;
	std::set_new_handler(handler);
	try {
		p = ::operator new(huge);
		return 11;
	} catch (const std::bad_alloc &) {
	}
	if (handler_calls != 1)
		return 12;
	return 0;
}
