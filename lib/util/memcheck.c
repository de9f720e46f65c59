// SPDX-License-Identifier: MIT
/*
 * Which memory debugger watches the process (util/memcheck.h), and the
 * debugger's report of a bad free.
 */
#include "util/memcheck.h"

static _Atomic int mode_cache = -1;

int fa__mc_mode(void)
{
	int m = __atomic_load_n(&mode_cache, __ATOMIC_RELAXED);
	int probe = 0;

	if (m >= 0)
		return m;
	m = FA__MC_OFF;
	/* every tool runs the program "on valgrind"; only memcheck answers
	 * its own requests (-1 here, 0 from the others) */
	if (RUNNING_ON_VALGRIND && VALGRIND_MAKE_MEM_DEFINED(&probe, 0) != 0)
		m = FA__MC_VALGRIND;
	else if (__asan_poison_memory_region && __asan_unpoison_memory_region &&
	         __asan_report_error)
		m = FA__MC_ASAN;
	__atomic_store_n(&mode_cache, m, __ATOMIC_RELAXED);
	return m;
}

void fa__mc_report_bad_free(int mode, void *p, size_t n, void *pc)
{
	if (mode == FA__MC_VALGRIND) {
		/* not a live block: memcheck says "Invalid free()" and where the
		 * block was allocated and freed, and changes nothing */
		VALGRIND_FREELIKE_BLOCK(p, 0);
	} else if (mode == FA__MC_ASAN) {
		/* a free writes the object: the report of a write to poisoned
		 * memory, from the caller's frame (ASan stops there) */
		__asan_report_error(pc, __builtin_frame_address(0), __builtin_frame_address(0), p,
		                    1, n ? n : 1);
	}
}
