/* SPDX-License-Identifier: MIT */
/*
 * Pool test helpers: a report handler that records the last report instead
 * of aborting (set it with .report = record, .report_arg = &rec).
 */
#ifndef FA_TEST_POOL_UTIL_H
#define FA_TEST_POOL_UTIL_H

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

#endif /* FA_TEST_POOL_UTIL_H */
