/* SPDX-License-Identifier: MIT */
/*
 * Pool test helpers: a report handler that records the last report instead
 * of aborting (set it with .report = record, .report_arg = &rec), and the
 * bytes every backend has mapped for this process.
 */
#ifndef FA_TEST_POOL_UTIL_H
#define FA_TEST_POOL_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "finalloc.h"

struct rec {
	int n;
	struct fa_pool_report last;
	char msg[256];
};

static inline void record(const struct fa_pool_report *r, void *arg)
{
	struct rec *rec = arg;

	rec->n++;
	rec->last = *r;
	snprintf(rec->msg, sizeof(rec->msg), "%s", r->msg);
}

static inline uint64_t backend_bytes(void)
{
	struct fa_backend_stats b;
	uint64_t n = 0;

	if (fa_backend_stats(&b))
		return UINT64_MAX;
	for (int i = 0; i < FA_BACKEND_COUNT; i++)
		n += b.bytes_mapped[i];
	return n;
}

#endif /* FA_TEST_POOL_UTIL_H */
