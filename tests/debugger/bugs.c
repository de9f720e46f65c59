// SPDX-License-Identifier: MIT
/*
 * Deliberate memory bugs for the memory-debugger tests
 * (scripts/check-memcheck.sh): `bugs CASE` commits one, in a function named
 * after it, so the debugger's report can be checked for the kind of error
 * and the function whose allocation or access it was.  `bugs clean` does
 * the same work correctly and must draw no report.  Built twice: plain (run
 * under valgrind's memcheck) and with -fsanitize=address, both linked with
 * the ordinary libfinalloc.a.
 */
#include <finalloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static struct fa_pool *pool;
static struct fa_arena *arena;
/* keeps the compiler from dropping the bad accesses */
static volatile char sink;

static NOINLINE char *alloc_in_pool_write_after_free(void)
{
	return fa_pool_alloc(pool, 64);
}

static NOINLINE void pool_write_after_free(void)
{
	char *p = alloc_in_pool_write_after_free();

	memset(p, 1, 64);
	fa_pool_free(pool, p);
	((volatile char *)p)[8] = 2;
}

static NOINLINE char *alloc_in_arena_write_after_reset(void)
{
	return fa_arena_alloc(arena, 64);
}

static NOINLINE void arena_write_after_reset(void)
{
	char *p = alloc_in_arena_write_after_reset();

	memset(p, 1, 64);
	fa_arena_reset(arena);
	((volatile char *)p)[8] = 2;
}

static NOINLINE char *alloc_in_arena_overrun(void)
{
	return fa_arena_alloc(arena, 64);
}

static NOINLINE void arena_overrun(void)
{
	char *p = alloc_in_arena_overrun();
	char *q = fa_arena_alloc(arena, 64);

	memset(p, 1, 64);
	memset(q, 1, 64);
	((volatile char *)p)[64] = 2; /* one past p: toward q */
}

static NOINLINE char *alloc_in_pool_double_free(void)
{
	return fa_pool_alloc(pool, 64);
}

static NOINLINE void pool_double_free(void)
{
	char *p = alloc_in_pool_double_free();

	fa_pool_free(pool, p);
	fa_pool_free(pool, p);
}

static NOINLINE char *alloc_in_pool_uninit_read(void)
{
	return fa_pool_alloc(pool, 64);
}

static NOINLINE void pool_uninit_read(void)
{
	char *p = alloc_in_pool_uninit_read();

	if (p[5] == 42) /* never written */
		sink = 1;
	fa_pool_free(pool, p);
}

static NOINLINE char *alloc_in_numa_write_after_free(struct fa_numa *n, size_t size)
{
	return fa_numa_alloc(n, size);
}

/* a small object (a node's pool) and a large one (a map of its own) */
static NOINLINE void numa_write_after_free(void)
{
	struct fa_numa *n = fa_numa_create(NULL);
	char *p = n ? alloc_in_numa_write_after_free(n, 64) : NULL;
	char *big = n ? alloc_in_numa_write_after_free(n, 100000) : NULL;

	if (!p || !big)
		exit(1);
	memset(p, 1, 64);
	memset(big, 1, 100000);
	fa_numa_free(n, big);
	fa_numa_free(n, p);
	((volatile char *)p)[8] = 2;
	((volatile char *)big)[8] = 2;
	fa_numa_destroy(n);
}

/* malloc and free: the drop-in's when it is preloaded */
static NOINLINE char *alloc_in_malloc_write_after_free(void)
{
	return malloc(64);
}

static NOINLINE void malloc_write_after_free(void)
{
	/* through a volatile, which the compiler's use-after-free warning
	 * cannot follow */
	char *volatile p = alloc_in_malloc_write_after_free();

	if (!p)
		exit(1);
	memset(p, 1, 64);
	free(p);
	((volatile char *)p)[8] = 2;
}

static NOINLINE void alloc_in_pool_leak(void)
{
	char *p = fa_pool_alloc(pool, 64);

	memset(p, 1, 64);
	/* p is lost here: memcheck's leak check names this function */
}

static NOINLINE void pool_leak(void)
{
	alloc_in_pool_leak();
}

/* Everything above, done right, plus what the debuggers must not mistake
 * for a bug: zeroed memory read, a large object, reuse after free and
 * reset, a pool destroyed with an object still live. */
static NOINLINE void clean(void)
{
	struct fa_pool_opts zo = { .name = "zeroed", .flags = FA_POOL_ZERO };
	struct fa_pool *z = fa_pool_create(&zo);
	char *p, *q, *big;

	for (int i = 0; i < 1000; i++) {
		p = fa_pool_alloc(pool, 64);
		memset(p, i, 64);
		sink = p[63];
		fa_pool_free(pool, p);
	}
	p = fa_pool_alloc(z, 100);
	if (!z || !p)
		exit(1);
	for (int i = 0; i < 100; i++)
		if (p[i])
			exit(1);
	q = fa_pool_alloc(z, 64); /* live at destroy: no leak */
	memset(q, 1, 64);
	fa_pool_free(z, p);
	fa_pool_destroy(z);
	big = fa_pool_alloc(pool, 100000);
	memset(big, 1, 100000);
	fa_pool_free(pool, big);
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < 100; i++) {
			p = fa_arena_alloc(arena, 40);
			memset(p, r, 40);
		}
		fa_arena_reset(arena);
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "pool_write_after_free", pool_write_after_free },
	{ "arena_write_after_reset", arena_write_after_reset },
	{ "arena_overrun", arena_overrun },
	{ "pool_double_free", pool_double_free },
	{ "pool_uninit_read", pool_uninit_read },
	{ "pool_leak", pool_leak },
	{ "numa_write_after_free", numa_write_after_free },
	{ "malloc_write_after_free", malloc_write_after_free },
	{ "clean", clean },
};

int main(int argc, char **argv)
{
	struct fa_pool_opts po = { .name = "bugs" };

	if (argc != 2) {
		fprintf(stderr, "usage: bugs CASE\n");
		return 2;
	}
	pool = fa_pool_create(&po);
	arena = fa_arena_create(NULL);
	if (!pool || !arena) {
		perror("bugs: create");
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			/* the pool stays: a leaked object is reachable from
			 * nothing else */
			fa_arena_destroy(arena);
			return 0;
		}
	}
	fprintf(stderr, "bugs: no case %s\n", argv[1]);
	return 2;
}
