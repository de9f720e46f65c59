// SPDX-License-Identifier: MIT
/*
 * Which memory debugger watches the process (util/memcheck.h), the
 * debugger's report of a bad free, and under ASan the objects' allocating
 * and freeing stacks, which ASan cannot give for memory it did not
 * allocate.
 */
#include "util/memcheck.h"

#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void asan_report(const char *report);

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
	if (m == FA__MC_ASAN && __asan_set_error_report_callback &&
	    __atomic_load_n(&mode_cache, __ATOMIC_RELAXED) < 0)
		__asan_set_error_report_callback(asan_report);
	__atomic_store_n(&mode_cache, m, __ATOMIC_RELAXED);
	return m;
}

/* ---- ASan: the stacks of each object ---- */

#define STACK_MAX 12

struct obj_rec {
	uintptr_t p; /* 0: empty slot */
	size_t n;
	unsigned na, nf; /* frames in a, f; nf 0: live */
	void *a[STACK_MAX], *f[STACK_MAX];
};

/* Open addressing on the object's address; a slot is reused when the
 * address is handed out again, so the table is as large as the set of
 * addresses ever used.  Debugging only: a lock, and mmap'd memory, since
 * the library under it may be the process's malloc. */
static pthread_mutex_t obj_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj_rec *objs;
static size_t obj_cap, obj_used;

static size_t obj_hash(uintptr_t p)
{
	return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ull);
}

static struct obj_rec *obj_slot(struct obj_rec *t, size_t cap, uintptr_t p)
{
	size_t i = obj_hash(p) & (cap - 1);

	while (t[i].p && t[i].p != p)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static bool obj_grow(void)
{
	size_t cap = obj_cap ? obj_cap * 2 : 4096;
	struct obj_rec *t = mmap(NULL, cap * sizeof(*t), PROT_READ | PROT_WRITE,
	                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (t == MAP_FAILED)
		return false;
	for (size_t i = 0; i < obj_cap; i++)
		if (objs[i].p)
			*obj_slot(t, cap, objs[i].p) = objs[i];
	if (objs)
		munmap(objs, obj_cap * sizeof(*objs));
	objs = t;
	obj_cap = cap;
	return true;
}

void fa__mc_asan_note(void *p, size_t n, bool alloc)
{
	void *frames[STACK_MAX + 2];
	/* from the caller of fa__mc_alloc/free on: this frame and the return
	 * into it are not the user's */
	int k = backtrace(frames, STACK_MAX + 2) - 2;
	struct obj_rec *r;

	if (k < 0)
		k = 0;
	pthread_mutex_lock(&obj_lock);
	if ((obj_used + 1) * 2 > obj_cap && !obj_grow()) {
		pthread_mutex_unlock(&obj_lock);
		return;
	}
	r = obj_slot(objs, obj_cap, (uintptr_t)p);
	if (!r->p) {
		r->p = (uintptr_t)p;
		obj_used++;
	}
	if (alloc) {
		r->n = n;
		r->na = (unsigned)k;
		r->nf = 0;
		memcpy(r->a, frames + 2, (size_t)k * sizeof(void *));
	} else {
		r->nf = (unsigned)k;
		memcpy(r->f, frames + 2, (size_t)k * sizeof(void *));
	}
	pthread_mutex_unlock(&obj_lock);
}

static void say(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(2, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void say_stack(const char *what, void *const *f, unsigned n)
{
	char line[512];

	say(what);
	for (unsigned i = 0; i < n; i++) {
		if (__sanitizer_symbolize_pc) {
			char sym[400];

			/* ASan's symbolizer: function, file and line */
			__sanitizer_symbolize_pc(f[i], "%p in %f %L", sym, sizeof(sym));
			snprintf(line, sizeof(line), "    #%u %s\n", i, sym);
			say(line);
		} else {
			snprintf(line, sizeof(line), "    #%u %p\n", i, f[i]);
			say(line);
		}
	}
}

/* ASan's report is out: if its address is in an object of ours, say
 * which, and where it was allocated and freed.  No locking (the process
 * is dying, and the failing thread may hold obj_lock), no allocation. */
static void asan_report(const char *report)
{
	const char *a = report ? strstr(report, " address 0x") : NULL;
	struct obj_rec *best = NULL;
	uintptr_t addr;
	char line[256];

	if (!a || !objs)
		return;
	addr = (uintptr_t)strtoull(a + 9, NULL, 16);
	/* the object it is in, else the nearest below within a red zone's
	 * reach (an overrun) */
	for (size_t i = 0; i < obj_cap; i++) {
		struct obj_rec *r = &objs[i];

		if (r->p && r->p <= addr && addr < r->p + r->n + 64 && (!best || r->p > best->p))
			best = r;
	}
	if (!best)
		return;
	if (addr < best->p + best->n)
		snprintf(line, sizeof(line),
		         "finalloc: %#lx is %zu bytes inside a %zu-byte object of libfinalloc at "
		         "%#lx, %s\n",
		         (unsigned long)addr, (size_t)(addr - best->p), best->n,
		         (unsigned long)best->p, best->nf ? "freed" : "live");
	else
		snprintf(line, sizeof(line),
		         "finalloc: %#lx is %zu bytes after a %zu-byte object of libfinalloc at "
		         "%#lx, %s\n",
		         (unsigned long)addr, (size_t)(addr - best->p - best->n), best->n,
		         (unsigned long)best->p, best->nf ? "freed" : "live");
	say(line);
	if (best->nf)
		say_stack("finalloc: freed by:\n", best->f, best->nf);
	say_stack("finalloc: allocated by:\n", best->a, best->na);
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
