/* SPDX-License-Identifier: MIT */
/*
 * The C++ workloads (cxx.cpp) as the C families call them: bench.h is C
 * only (C11 atomics), so this header is what both languages share.  Each
 * runs one side: the standard library's (std::pmr resources,
 * std::allocator on whichever malloc the worker got) or FinAlloc's C++
 * layer over the family's context.
 */
#ifndef FA_BENCH_CXX_H
#define FA_BENCH_CXX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bench_cxx_side {
	CXX_STD,      /* the standard library's, on the process's malloc */
	CXX_FA_POOL,  /* ctx is a struct fa_pool *: pool_resource, pool_allocator */
	CXX_FA_ARENA, /* ctx is a struct fa_arena *: arena_resource */
};

/* pmr: the resources.  pmr.mono (std::pmr::monotonic_buffer_resource or
 * fa::arena_resource), pmr.unsync and pmr.sync (the std pool resources
 * or fa::pool_resource, live objects replaced at random); 0 or -1 (said
 * on stderr). */
int bench_cxx_pmr(enum bench_cxx_side side, void *ctx, uint64_t ops, size_t live);
/* map: std::unordered_map insert/erase churn on std::allocator or
 * fa::pool_allocator (map.churn). */
int bench_cxx_map(enum bench_cxx_side side, void *ctx, uint64_t ops, size_t live);

/* harness.c's, for the C++ side (bench.h declares them for C) */
void bench_emit(const char *metric, const char *unit, double value);
uint64_t bench_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* FA_BENCH_CXX_H */
