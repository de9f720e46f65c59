/* SPDX-License-Identifier: MIT */
/*
 * Memory-debugger annotations, written once for every allocator: under
 * valgrind's memcheck the objects are described with client requests,
 * under AddressSanitizer with its poisoning interface.
 *
 * The mode is read once per allocator, when it is created
 * (fa__mc_mode()), and kept there: the allocators' fast paths never look
 * at it.  memcheck is told apart from valgrind's other tools by a request
 * only memcheck answers, so callgrind (make bench-instructions) counts the
 * ordinary fast path.  ASan is found at run time through weak references
 * to its interface: a program built with -fsanitize=address has its
 * runtime, the ordinary library does not need to be rebuilt.
 *
 * The valgrind requests are a few instructions that do nothing natively;
 * the ASan calls are made only when the runtime is there.
 */
#ifndef FA_UTIL_MEMCHECK_H
#define FA_UTIL_MEMCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

enum {
	FA__MC_OFF = 0,
	FA__MC_VALGRIND = 1, /* memcheck */
	FA__MC_ASAN = 2,     /* the ASan runtime is linked in */
};

/* AddressSanitizer's public interface (sanitizer/asan_interface.h):
 * NULL unless the program links the runtime. */
void __asan_poison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));
int __asan_address_is_poisoned(void const volatile *addr) __attribute__((weak));
void __asan_set_error_report_callback(void (*callback)(const char *)) __attribute__((weak));
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out_buf, size_t out_buf_size)
        __attribute__((weak));
void __asan_report_error(void *pc, void *bp, void *sp, void *addr, int is_write, size_t size)
        __attribute__((weak));

/* FA__MC_OFF, FA__MC_VALGRIND or FA__MC_ASAN (found once per process;
 * no libc call, so the malloc drop-in may ask before libc is ready). */
int fa__mc_mode(void);

/* ASan keeps no stacks for memory it did not allocate: the library keeps
 * the allocating and freeing stacks of each object (p, n bytes) and adds
 * them to ASan's report of an address inside one (memcheck.c). */
void fa__mc_asan_note(void *p, size_t n, bool alloc);

/* A live object of n bytes at p; zeroed: its bytes are known zero. */
static inline void fa__mc_alloc(int mode, void *p, size_t n, bool zeroed)
{
	if (mode == FA__MC_VALGRIND) {
		VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
	} else if (mode == FA__MC_ASAN) {
		__asan_unpoison_memory_region(p, n);
		fa__mc_asan_note(p, n, true);
	}
}

/* The object at p (n bytes) is freed. */
static inline void fa__mc_free(int mode, void *p, size_t n)
{
	if (mode == FA__MC_VALGRIND) {
		VALGRIND_FREELIKE_BLOCK(p, 0);
	} else if (mode == FA__MC_ASAN) {
		__asan_poison_memory_region(p, n);
		fa__mc_asan_note(p, n, false);
	}
}

/* No access: free lists, slack, red zones, guards. */
static inline void fa__mc_noaccess(int mode, void *p, size_t n)
{
	if (mode == FA__MC_VALGRIND)
		(void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
	else if (mode == FA__MC_ASAN)
		__asan_poison_memory_region(p, n);
}

/* Accessible, contents unknown: metadata the library writes next. */
static inline void fa__mc_undefined(int mode, void *p, size_t n)
{
	if (mode == FA__MC_VALGRIND)
		(void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
	else if (mode == FA__MC_ASAN)
		__asan_unpoison_memory_region(p, n);
}

/* Accessible and defined: zeroed memory, or bytes the library reads. */
static inline void fa__mc_defined(int mode, void *p, size_t n)
{
	if (mode == FA__MC_VALGRIND)
		(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
	else if (mode == FA__MC_ASAN)
		__asan_unpoison_memory_region(p, n);
}

/*
 * A free of p (n bytes) that is not live: the debugger says so in its own
 * report, with the stack of the call (memcheck: "Invalid free()", with the
 * block's allocation and free stacks; ASan: the access report of the
 * poisoned object, which stops the program).  pc: the caller's return
 * address, where ASan's stack starts.
 */
void fa__mc_report_bad_free(int mode, void *p, size_t n, void *pc);

#endif /* FA_UTIL_MEMCHECK_H */
