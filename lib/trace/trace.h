/* SPDX-License-Identifier: MIT */
/*
 * lib/trace: the allocation journal.  Arenas record into it; it writes
 * records to a file from its own thread and reads journals back.  It calls
 * nothing of the allocators.
 * Sections are grouped by the file that defines them.
 */
#ifndef FA_TRACE_H
#define FA_TRACE_H

#include "finalloc.h"
#include "util/util.h"

#include <stdbool.h>

/* ---- trace.c ---- */
/* Open the journal at path, or FINALLOC_TRACE when path is NULL; 0 if
 * already open.  -ENOENT when neither names one. */
int fa__trace_ensure(const char *path);
/* FINALLOC_TRACE set: every arena traces (thresholds from the env). */
bool fa__trace_env(size_t *min_size, unsigned *sample);
void fa__trace_alloc(uint64_t arena, const void *p, size_t size, size_t align, const char *file,
                     int line, const char *func);
void fa__trace_arena(uint64_t arena, int event);

/* fork(2), from lib/fork.c: the child stops journaling (the writer thread
 * did not survive) and reinitialises the journal's lock.  No prefork: the
 * lock is held around file writes, and fork must not wait for I/O. */
void fa__trace_postfork_child(void);

#endif /* FA_TRACE_H */
