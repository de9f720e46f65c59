/* SPDX-License-Identifier: MIT */
/*
 * lib/arena: bump arenas and the arena groups that share chunks between
 * them.  Sits on the backend; records into the journal.
 * Sections are grouped by the file that defines them.
 */
#ifndef FA_ARENA_H
#define FA_ARENA_H

#include "backend/backend.h"
#include "trace/trace.h"

#include <pthread.h>
#include <stdlib.h>

/* ---- arena.c ---- */
/* A chunk: one backend mapping, owned by an arena or parked in a group. */
struct fa__chunk {
	struct fa__chunk *next;
	struct fa__map map;
	char *used; /* bump position when not the current chunk */
	uint64_t reuses;
};
static inline void fa__chunk_unmap(struct fa__chunk *c)
{
	fa__map_free(&c->map);
	free(c);
}
/* Mark a as a thread's sub-arena of g (destroy refuses it). */
void fa__arena_set_tls(struct fa_arena *a, struct fa_arena_group *g);
struct fa_arena_group *fa__arena_tls_group(const struct fa_arena *a);
struct fa_arena *fa__arena_create_in(const struct fa_arena_opts *opts, struct fa_arena_group *g,
                                     int node);
/* Free a whatever marks it has: for its group or its owner. */
void fa__arena_free(struct fa_arena *a);
/* Mark a as owner's (a string literal): fa_arena_destroy refuses it. */
void fa__arena_set_owner(struct fa_arena *a, const char *owner);
/* Process-wide arena totals (counted at create/destroy and chunk moves,
 * never on the bump path), for the statistics dump. */
struct fa__arena_totals {
	uint64_t created, destroyed;
	uint64_t chunks_mapped, chunks_reused, chunks_released;
	uint64_t chunk_bytes; /* usable bytes of the chunks arenas hold */
};
void fa__arena_totals(struct fa__arena_totals *t);

/* ---- group.c ---- */
struct idle_arena {
	struct idle_arena *next;
	struct fa_arena *a;
	int node;
};

struct fa_arena_group {
	pthread_mutex_t lock;
	struct fa__chunk *free; /* retained chunks */
	size_t retained, nr_retained, retain_max;
	struct idle_arena *idle; /* sub-arenas without a thread */
	uint64_t nr_idle;
	struct fa_mem_opts mem;
	struct fa_arena_opts tls;
	unsigned flags;
	uint64_t members;  /* arenas alive, sub-arenas included */
	uint64_t attached; /* sub-arenas held by threads */
	uint64_t mapped, reused, returned, unmapped;
	uint64_t tls_created, tls_adopted, tls_returned;
	struct fa_arena_group *fork_prev, *fork_next; /* groups_lock */
};

/* Unmap the retained chunks, unlist and free g (no sub-arena left). */
void fa__group_free(struct fa_arena_group *g);
/* Chunk of at least size usable bytes on node (FA_NODE_ANY: any);
 * *reused says whether it came from the pool.  0/-errno. */
int fa__group_chunk_get(struct fa_arena_group *g, size_t size, int node, struct fa__chunk **out,
                        bool *reused);
void fa__group_chunk_put(struct fa_arena_group *g, struct fa__chunk *c);
void fa__group_member(struct fa_arena_group *g, int delta);
const struct fa_mem_opts *fa__group_mem(const struct fa_arena_group *g);

/* fork(2), called from lib/fork.c only: groups_lock, then every group's lock. */
void fa__group_prefork(void);
void fa__group_postfork_parent(void);
void fa__group_postfork_child(void);

/* ---- tls.c ---- */
/* fork(2), after fa__group_postfork_child: count the forking thread's
 * sub-arenas as attached again. */
void fa__arena_tls_postfork_child(void);

#endif /* FA_ARENA_H */
