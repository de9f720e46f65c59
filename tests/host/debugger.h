/* SPDX-License-Identifier: MIT */
/*
 * Whether this test program's allocators run under a memory debugger:
 * valgrind's memcheck, or AddressSanitizer (this program built with it).
 * The library then describes every object to the debugger and takes its
 * out-of-line paths (finalloc(7), "Memory debuggers"), so a test of the
 * inline path, of page-fault counts or of the exact layout of objects does
 * not apply, and one that commits a memory error on purpose (to see the
 * library's own report) is the debugger's to report: such tests skip.
 */
#ifndef FA_TEST_DEBUGGER_H
#define FA_TEST_DEBUGGER_H

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

static inline const char *under_memory_debugger(void)
{
	int probe = 0;

#if defined(__SANITIZE_ADDRESS__)
	return "AddressSanitizer";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return "AddressSanitizer";
#endif
#endif
	/* only memcheck answers its own requests (callgrind does not) */
	if (RUNNING_ON_VALGRIND && VALGRIND_MAKE_MEM_DEFINED(&probe, 0) != 0)
		return "memcheck";
	return NULL;
}

/* In a kselftest TEST: skip when a memory debugger watches, saying why. */
#define SKIP_UNDER_DEBUGGER(why)                                 \
	do {                                                     \
		const char *dbg_ = under_memory_debugger();      \
		if (dbg_)                                        \
			SKIP(return, "under %s: %s", dbg_, why); \
	} while (0)

#endif /* FA_TEST_DEBUGGER_H */
