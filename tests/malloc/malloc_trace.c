// SPDX-License-Identifier: MIT
/*
 * malloc_trace: FINALLOC_TRACE under the drop-in (LD_PRELOAD or linked
 * statically, see preload.h).  A child started with the variable set makes
 * one large and one small allocation and exits: the journal (read here by
 * hand, from the format of finalloc/trace.h) has the large one, from a NUMA
 * source, and its free, and is ended; the small one is not journaled.
 */
#include "kselftest_harness.h"
#include "preload.h"

#include "finalloc.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#define BIG ((size_t)5 << 20)

static volatile size_t vzero;

/* The child: before the harness, so that its exit ends the journal. */
__attribute__((constructor)) static void trace_child(void)
{
	char *p, *q;

	if (!getenv("FA_TRACE_CHILD"))
		return;
	p = malloc(BIG + vzero);
	q = malloc(100 + vzero);
	if (!p || !q)
		_exit(2);
	memset(p, 1, BIG);
	printf("%p\n", (void *)p);
	fflush(stdout);
	free(q);
	free(p);
	exit(0);
}

struct jsum {
	int allocs_big, frees_big, allocs_small, numa_creates, ends;
	uint64_t big_addr;
};

static int read_journal(const char *path, struct jsum *s, char *why, size_t wl)
{
	unsigned char *buf;
	struct stat st;
	size_t off;
	int fd = open(path, O_RDONLY);

	memset(s, 0, sizeof(*s));
	if (fd < 0 || fstat(fd, &st) || st.st_size < 64) {
		snprintf(why, wl, "no journal of 64 bytes or more at %s", path);
		return -1;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size ||
	    memcmp(buf, FA_TRACE_MAGIC, 8)) {
		snprintf(why, wl, "%s: not a journal", path);
		return -1;
	}
	close(fd);
	for (off = 64; off + 4 <= (size_t)st.st_size;) {
		struct fa_trace_rec h;
		uint64_t src, addr, size;

		memcpy(&h, buf + off, sizeof(h));
		if (h.len < 8 || off + h.len > (size_t)st.st_size) {
			snprintf(why, wl, "bad record at %zu (type %u len %u)", off, h.type, h.len);
			free(buf);
			return -1;
		}
		if (h.type == FA_TRACE_ALLOC) {
			memcpy(&src, buf + off + 16, 8);
			memcpy(&addr, buf + off + 24, 8);
			memcpy(&size, buf + off + 32, 8);
			if (size == BIG && FA_TRACE_SOURCE(src) == FA_TRACE_SRC_NUMA) {
				s->allocs_big++;
				s->big_addr = addr;
			} else if (size < 4096) {
				s->allocs_small++;
			}
		} else if (h.type == FA_TRACE_FREE) {
			memcpy(&addr, buf + off + 24, 8);
			memcpy(&size, buf + off + 32, 8);
			s->frees_big += size == BIG && addr == s->big_addr;
		} else if (h.type == FA_TRACE_ARENA) {
			uint16_t ev;

			memcpy(&ev, buf + off + 4, 2);
			memcpy(&src, buf + off + 16, 8);
			s->numa_creates += ev == FA_TRACE_EV_CREATE &&
			                   FA_TRACE_SOURCE(src) == FA_TRACE_SRC_NUMA;
		} else if (h.type == FA_TRACE_END) {
			s->ends++;
		}
		off += h.len;
	}
	free(buf);
	return 0;
}

TEST(large_blocks_are_journaled)
{
	char path[] = "/tmp/fa-malloc-trace-XXXXXX", out[64] = "", why[128] = "";
	int fd = mkstemp(path), pfd[2], st;
	struct jsum s;
	pid_t pid;
	ssize_t n;

	ASSERT_TRUE(on_finalloc());
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char exe[PATH_MAX];
		ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (k < 0)
			_exit(3);
		exe[k] = 0;
		dup2(pfd[1], 1);
		setenv("FINALLOC_TRACE", path, 1);
		setenv("FA_TRACE_CHILD", "1", 1);
		execl(exe, exe, (char *)NULL);
		_exit(4);
	}
	close(pfd[1]);
	n = read(pfd[0], out, sizeof(out) - 1);
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("child status %#x", st);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, read_journal(path, &s, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(1, s.allocs_big);
	EXPECT_EQ(strtoull(out, NULL, 16), s.big_addr);
	EXPECT_EQ(1, s.frees_big);
	EXPECT_EQ(0, s.allocs_small);
	EXPECT_LE(1, s.numa_creates);
	EXPECT_EQ(1, s.ends);
	unlink(path);
}

PRELOAD_HARNESS_MAIN
