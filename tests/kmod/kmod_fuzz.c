// SPDX-License-Identifier: MIT
/*
 * ABI stress: several processes issue random valid and invalid ioctls
 * (every command, random argsz, flags, reserved words and pointers), mmap
 * regions whole and in part, munmap, mremap, mprotect, madvise, touch
 * (guards included), pin through vmsplice, fork, close and reopen, change
 * RLIMIT_MEMLOCK, drop CAP_IPC_LOCK, and change the module's cap.  Then:
 * every counter under /sys/kernel/finalloc is back to 0, the kernel log
 * since the start has no BUG, WARNING or oops, and the module unloads (and
 * loads again for the tests after this one).
 *
 * Bounded by operation counts, never by time.  The seed is printed;
 * FA_FUZZ_SEED=N (tests/vm/run.sh passes it on) draws the same operations
 * again, though the processes' interleaving (and so what the shared cap
 * lets through) may differ.  FA_FUZZ_OPS=N: operations a process.
 */
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmod_util.h"

/* The count of operations is the test, not their speed (TCG). */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 280

#define NPROC     4
#define OPS       4000 /* each process */
#define CHILD_OPS 40   /* each forked child */
#define MAX_REG   8
#define MAX_MAP   16
#define FUZZ_CAP  (192 * MB)

struct reg {
	bool live;
	uint32_t id;
	uint64_t offset, size;
	unsigned int shift;
};

struct map {
	char *addr;
	size_t len;
};

/* What got through, summed over every process (a shared page). */
enum {
	C_CREATE,
	C_IOCTL_OK,
	C_IOCTL_FAIL,
	C_MMAP,
	C_MUNMAP,
	C_MREMAP,
	C_MPROTECT,
	C_MADVISE,
	C_GUP,
	C_FORK,
	C_NR
};
static const char *const c_names[C_NR] = { "creates", "ioctls ok", "ioctls refused", "mmaps",
	                                   "munmaps", "mremaps",   "mprotects",      "madvises",
	                                   "gup ok",  "forks" };
static _Atomic unsigned long *counts;

static void count(int c)
{
	counts[c]++;
}

struct state {
	uint64_t rng;
	int fd[2];
	struct reg reg[MAX_REG];
	struct map map[MAX_MAP];
	int pipe[2];
	bool child;
	char *scratch; /* page-aligned ioctl buffer: 8 KiB, then a PROT_NONE page */
};

static uint64_t rnd(struct state *s)
{
	/* xorshift64*: the same seed gives the same run */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(struct state *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static sigjmp_buf touch_env;

static void touch_handler(int sig)
{
	(void)sig;
	siglongjmp(touch_env, 1);
}

/* Read or write addr; SIGSEGV and SIGBUS (guards, holes) are answers. */
static void touch(volatile char *addr, bool write)
{
	if (sigsetjmp(touch_env, 1))
		return;
	if (write)
		*addr = (char)(uintptr_t)addr;
	else
		(void)*addr;
}

static int any_fd(struct state *s)
{
	int fd = s->fd[below(s, 2)];

	return fd >= 0 ? fd : s->fd[0] >= 0 ? s->fd[0] : s->fd[1];
}

static struct reg *pick_reg(struct state *s)
{
	struct reg *r = &s->reg[below(s, MAX_REG)];

	return r->live ? r : NULL;
}

static void add_map(struct state *s, char *addr, size_t len)
{
	struct map *m = &s->map[below(s, MAX_MAP)];

	/* evicting a slot leaves its mapping to exit, as a leaky caller would */
	m->addr = addr;
	m->len = len;
}

/* A valid create, small: the cap and the VM's 2 GiB must hold NPROC of us. */
static void op_create(struct state *s)
{
	struct finalloc_region_create rc;
	unsigned int shift = below(s, 2) ? 21 : 12;
	uint64_t page = 1ULL << shift, npages = 2 + below(s, shift == 21 ? 4 : 64);
	uint32_t lead = below(s, 2), trail = below(s, 2), interval = below(s, 3);
	struct reg *r = &s->reg[below(s, MAX_REG)];

	if (r->live)
		return;
	if (fa_create_flags(any_fd(s), npages * page, (int)below(s, 3) - (below(s, 8) == 0), shift,
	                    lead, trail, interval, below(s, 2) ? FINALLOC_REGION_PINNABLE : 0, &rc))
		return;
	*r = (struct reg){ true, rc.id, rc.offset, rc.size, shift };
	count(C_CREATE);
}

static void op_destroy(struct state *s)
{
	struct reg *r = pick_reg(s);

	if (below(s, 8) == 0) {
		fa_destroy(any_fd(s), (uint32_t)rnd(s)); /* any id at all */
		return;
	}
	if (r && fa_destroy(any_fd(s), r->id) == 0)
		r->live = false;
}

/* Any command number, direction and size, over a random or a valid body. */
static void op_ioctl(struct state *s)
{
	static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE,
		                             _IOC_READ | _IOC_WRITE };
	unsigned int nr = below(s, 8), dir = dirs[below(s, 4)], size;
	uint32_t *w = (uint32_t *)s->scratch;
	struct reg *r = pick_reg(s);
	void *arg = s->scratch;
	unsigned long cmd;

	switch (below(s, 4)) {
	case 0:
		size = (unsigned int)below(s, 1u << 14);
		break;
	case 1:
		size = 16 + 8 * below(s, 12);
		break;
	default: /* the real command's size: its handler runs */
		size = 0;
		break;
	}
	for (int i = 0; i < 2048; i++)
		w[i] = below(s, 2) ? 0 : (uint32_t)rnd(s);
	if (below(s, 3)) {
		/* a plausible body: small argsz values, ids and sizes */
		memset(s->scratch, 0, 256);
		w[0] = below(s, 4) ? 128 : (uint32_t)below(s, 9000);
		w[1] = below(s, 4) ? 0 : (uint32_t)rnd(s) & (below(s, 2) ? 3 : ~0u);
		if (nr == 1) { /* create */
			struct finalloc_region_create *rc = (void *)s->scratch;

			rc->size = below(s, 4) ? (below(s, 8) + 1) << 21 : rnd(s) >> below(s, 64);
			rc->node = (int32_t)below(s, 5) - 1;
			rc->page_shift = below(s, 4) ? 21 : (uint32_t)below(s, 40);
			rc->guard_lead = (uint32_t)(below(s, 2) ? below(s, 3) : rnd(s));
			rc->guard_trail = (uint32_t)below(s, 3);
			rc->guard_interval = (uint32_t)below(s, 3);
			if (below(s, 3))
				rc->reserved[below(s, 4)] = rnd(s);
		} else if (nr >= 2) {
			w[2] = r && below(s, 2) ? r->id : (uint32_t)below(s, 64);
			w[4] = (uint32_t)below(s, 1u << 23); /* node_of offset, low word */
		}
	}
	if (!size) {
		static const unsigned long real[] = {
			FINALLOC_IOC_INFO,           FINALLOC_IOC_REGION_CREATE,
			FINALLOC_IOC_REGION_DESTROY, FINALLOC_IOC_REGION_INFO,
			FINALLOC_IOC_NODE_OF,
		};

		cmd = real[below(s, 5)];
		if (below(s, 4) == 0) /* a later version's larger struct */
			cmd = _IOC(_IOC_DIR(cmd), FINALLOC_IOC_MAGIC, _IOC_NR(cmd),
			           _IOC_SIZE(cmd) + 8 * below(s, 32));
	} else {
		cmd = _IOC(dir, below(s, 16) ? FINALLOC_IOC_MAGIC : (unsigned int)below(s, 256), nr,
		           size & _IOC_SIZEMASK);
	}
	switch (below(s, 10)) {
	case 0:
		arg = NULL;
		break;
	case 1:
		arg = (void *)(uintptr_t)below(s, 1u << 16); /* the zero page's neighbourhood */
		break;
	case 2: /* straddling the PROT_NONE page */
		arg = s->scratch + 8192 - 8 * (1 + below(s, 16));
		break;
	case 3: /* into a region's mapping, guards and holes included */
		if (s->map[0].addr)
			arg = s->map[0].addr + below(s, s->map[0].len);
		break;
	}
	if (ioctl(any_fd(s), cmd, arg)) {
		count(C_IOCTL_FAIL);
		return;
	}
	count(C_IOCTL_OK);
	if (_IOC_NR(cmd) == 1 && arg == s->scratch) {
		struct finalloc_region_create *rc = (void *)s->scratch;
		struct reg *slot = &s->reg[below(s, MAX_REG)];

		if (slot->live) /* keep the table bounded: give it back now */
			fa_destroy(any_fd(s), rc->id);
		else
			*slot = (struct reg){ true, rc->id, rc->offset, rc->size,
				              (unsigned int)rc->page_shift };
	}
}

static void op_mmap(struct state *s)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE, PROT_WRITE,
		                     PROT_READ | PROT_WRITE | PROT_EXEC };
	struct reg *r = pick_reg(s);
	uint64_t page, off = 0, len;
	int flags = below(s, 10) ? MAP_SHARED : MAP_PRIVATE;
	char *p;

	if (!r)
		return;
	page = 1ULL << r->shift;
	len = r->size;
	if (below(s, 2)) { /* part of it, sometimes not on a page boundary */
		uint64_t unit = below(s, 4) ? page : 4096;

		off = below(s, r->size / unit) * unit;
		len = (1 + below(s, (r->size - off) / 4096)) * 4096;
	}
	if (below(s, 16) == 0)
		len += 4096; /* past the region */
	if (below(s, 16) == 0)
		flags |= MAP_POPULATE;
	p = mmap(NULL, len, prots[below(s, 5)], flags, any_fd(s), (off_t)(r->offset + off));
	if (p != MAP_FAILED) {
		add_map(s, p, len);
		count(C_MMAP);
	}
}

static struct map *pick_map(struct state *s)
{
	struct map *m = &s->map[below(s, MAX_MAP)];

	return m->addr ? m : NULL;
}

/* A random page-aligned subrange of m: [*a, *a + *n). */
static void subrange(struct state *s, struct map *m, char **a, size_t *n)
{
	size_t pages = m->len / 4096, first = below(s, pages);

	if (below(s, 2)) { /* on 2 MiB boundaries of the mapping */
		size_t huge = m->len >> 21;

		if (huge) {
			first = below(s, huge) * 512;
			*a = m->addr + first * 4096;
			*n = (1 + below(s, huge - first / 512)) << 21;
			return;
		}
	}
	*a = m->addr + first * 4096;
	*n = (1 + below(s, pages - first)) * 4096;
}

static void op_munmap(struct state *s)
{
	struct map *m = pick_map(s);
	size_t n;
	char *a;

	if (!m)
		return;
	if (below(s, 2)) {
		if (munmap(m->addr, m->len) == 0) {
			m->addr = NULL;
			count(C_MUNMAP);
		}
		return;
	}
	subrange(s, m, &a, &n);
	if (munmap(a, n) == 0) /* the slot keeps the whole range: touches probe it */
		count(C_MUNMAP);
}

static void op_mremap(struct state *s)
{
	struct map *m = pick_map(s);
	size_t n = m ? m->len : 0;
	char *p;

	if (!m)
		return;
	switch (below(s, 3)) {
	case 0:
		n += 4096 << below(s, 10); /* grow: VM_DONTEXPAND refuses */
		break;
	case 1:
		n = n > 4096 ? n - 4096 * (1 + below(s, n / 4096 - 1)) : n;
		break;
	}
	p = mremap(m->addr, m->len, n, below(s, 2) ? MREMAP_MAYMOVE : 0);
	if (p != MAP_FAILED) {
		m->addr = p;
		m->len = n;
		count(C_MREMAP);
	}
}

static void op_mprotect(struct state *s)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE };
	struct map *m = pick_map(s);
	size_t n;
	char *a;

	if (!m)
		return;
	subrange(s, m, &a, &n);
	if (mprotect(a, n, prots[below(s, 4)]) == 0)
		count(C_MPROTECT);
}

static void op_madvise(struct state *s)
{
	static const int advice[] = {
		MADV_NORMAL,
		MADV_RANDOM,
		MADV_SEQUENTIAL,
		MADV_WILLNEED,
		MADV_DONTNEED,
		MADV_FREE,
		MADV_REMOVE,
		MADV_DONTFORK,
		MADV_DOFORK,
		MADV_MERGEABLE,
		MADV_HUGEPAGE,
		MADV_NOHUGEPAGE,
		MADV_DONTDUMP,
		MADV_COLD,
		MADV_PAGEOUT,
		22 /* POPULATE_READ */,
		23 /* POPULATE_WRITE */,
		25 /* COLLAPSE */,
		102 /* GUARD_INSTALL, 6.13 */,
		MADV_WIPEONFORK,
	};
	struct map *m = pick_map(s);
	size_t n;
	char *a;

	if (!m)
		return;
	subrange(s, m, &a, &n);
	if (madvise(a, n, advice[below(s, sizeof(advice) / sizeof(advice[0]))]) == 0)
		count(C_MADVISE);
}

static void op_touch(struct state *s)
{
	struct map *m = pick_map(s);

	for (int i = 0; m && i < 8; i++)
		touch(m->addr + below(s, m->len), below(s, 2));
}

/* get_user_pages and the access method: vmsplice, /proc/self/mem, process_vm_readv. */
static void op_gup(struct state *s)
{
	struct map *m = pick_map(s);
	char buf[8192];
	struct iovec local = { buf, 1 + below(s, sizeof(buf)) }, remote;
	int mem;

	if (!m)
		return;
	remote.iov_base = m->addr + below(s, m->len);
	remote.iov_len = local.iov_len;
	switch (below(s, 4)) {
	case 0:
		if (vmsplice(s->pipe[1], &remote, 1, SPLICE_F_NONBLOCK) > 0) {
			count(C_GUP);
			/* drain it now and then; the rest stays pinned to exit */
			if (below(s, 2))
				(void)!read(s->pipe[0], buf, sizeof(buf));
		}
		break;
	case 1:
		if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) > 0)
			count(C_GUP);
		break;
	case 2:
		if (process_vm_writev(getpid(), &local, 1, &remote, 1, 0) > 0)
			count(C_GUP);
		break;
	default:
		mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (mem >= 0) {
			if (below(s, 2))
				(void)!pread(mem, buf, local.iov_len,
				             (off_t)(uintptr_t)remote.iov_base);
			else
				(void)!pwrite(mem, buf, local.iov_len,
				              (off_t)(uintptr_t)remote.iov_base);
			close(mem);
		}
	}
}

static void op_reopen(struct state *s)
{
	int i = below(s, 2);

	if (s->fd[i] >= 0)
		close(s->fd[i]); /* its regions go with it; mappings keep theirs */
	s->fd[i] = open(FINALLOC_DEV_PATH, (below(s, 8) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (s->fd[!i] < 0 && s->fd[i] < 0)
		s->fd[i] = fa_open();
	for (int j = 0; j < MAX_REG; j++)
		s->reg[j].live = false; /* ids may now belong to either file */
}

static int set_ipc_lock(bool on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1U << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1U << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

static void op_limits(struct state *s)
{
	struct rlimit rl;
	char cap[32];

	switch (below(s, 3)) {
	case 0:
		rl.rlim_cur = rl.rlim_max = below(s, 2) ? RLIM_INFINITY : below(s, 64) * MB;
		setrlimit(RLIMIT_MEMLOCK, &rl);
		break;
	case 1:
		set_ipc_lock(below(s, 2));
		break;
	default:
		/* the global cap: never above FUZZ_CAP, which the VM can hold */
		snprintf(cap, sizeof(cap), "%llu",
		         (unsigned long long)(1 + below(s, 3)) * (FUZZ_CAP / 3));
		write_str(SYSFS "/cap", cap);
	}
}

static void run_ops(struct state *s, int ops);

static void op_fork(struct state *s)
{
	pid_t pid;
	int status;

	if (s->child)
		return;
	pid = fork();
	if (pid > 0)
		count(C_FORK);
	if (pid == 0) {
		s->child = true;
		rnd(s);
		/* mappings are not inherited (VM_DONTCOPY); the fds and regions are */
		run_ops(s, CHILD_OPS);
		_exit(0);
	}
	if (pid > 0 && below(s, 4))
		waitpid(pid, &status, 0); /* else reaped at the end */
}

/* Fork one time in four, else an ioctl: forks stay rare enough that the
 * process tree does not blow up. */
static void op_fork_or_ioctl(struct state *s)
{
	if (below(s, 4) == 0)
		op_fork(s);
	else
		op_ioctl(s);
}

/* Operations by weight: below(s, 32) picks an entry. */
static void (*const op_table[32])(struct state *) = {
	op_create,        op_create,        op_create, op_create,                     /* 0..3 */
	op_destroy,       op_destroy,                                                 /* 4..5 */
	op_ioctl,         op_ioctl,         op_ioctl,  op_ioctl,  op_ioctl, op_ioctl, /* 6..11 */
	op_mmap,          op_mmap,          op_mmap,   op_mmap,                       /* 12..15 */
	op_munmap,        op_munmap,                                                  /* 16..17 */
	op_mremap,                                                                    /* 18 */
	op_mprotect,      op_mprotect,                                                /* 19..20 */
	op_madvise,       op_madvise,                                                 /* 21..22 */
	op_touch,         op_touch,         op_touch,                                 /* 23..25 */
	op_gup,           op_gup,                                                     /* 26..27 */
	op_reopen,                                                                    /* 28 */
	op_limits,                                                                    /* 29 */
	op_fork_or_ioctl, op_fork_or_ioctl,                                           /* 30..31 */
};

static void run_ops(struct state *s, int ops)
{
	for (int i = 0; i < ops; i++)
		op_table[below(s, 32)](s);
}

static void worker(uint64_t seed, int ops)
{
	struct sigaction sa = { .sa_handler = touch_handler };
	struct state s = { .rng = seed | 1 };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.fd[0] = fa_open();
	s.fd[1] = below(&s, 2) ? fa_open() : -1;
	if (s.fd[0] < 0 || pipe(s.pipe))
		_exit(3);
	fcntl(s.pipe[1], F_SETPIPE_SZ, 1 << 20);
	s.scratch =
	        mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s.scratch == MAP_FAILED || mprotect(s.scratch + 8192, 4096, PROT_NONE))
		_exit(4);
	run_ops(&s, ops);
	while (waitpid(-1, NULL, 0) > 0)
		;
	_exit(0);
}

/* The kernel log from the marker on, NUL-terminated, malloc'd: each
 * read of /dev/kmsg gives one record, from the oldest still kept. */
static char *klog_since(const char *marker)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	size_t len = 0, cap = 1 << 16;
	char rec[8192], *out = malloc(cap);
	bool seen = false;
	ssize_t n;

	if (fd < 0 || !out) {
		free(out);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	out[0] = 0;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten under us: go on */
		if (n <= 0)
			break;
		rec[n] = 0;
		if (!seen && !strstr(rec, marker))
			continue;
		seen = true;
		if (len + (size_t)n + 1 > cap) {
			char *more = realloc(out, cap * 2 + (size_t)n);

			if (!more)
				break;
			out = more;
			cap = cap * 2 + (size_t)n;
		}
		memcpy(out + len, rec, (size_t)n + 1);
		len += (size_t)n;
	}
	close(fd);
	if (!seen) {
		free(out);
		return NULL;
	}
	return out;
}

TEST(processes_leave_nothing_behind)
{
	static const char *const counters[] = { "pinned_bytes", "held_bytes", "regions",
		                                "mappings" };
	static const char *const bad[] = {
		"BUG:",     "WARNING:",   "Oops",    "general protection",
		"Bad page", "Call Trace", "lockdep", "refcount_t"
	};
	const char *env = getenv("FA_FUZZ_SEED"), *envops = getenv("FA_FUZZ_OPS");
	uint64_t seed =
	        env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	int ops = envops ? atoi(envops) : OPS, status, kmsg;
	char marker[64], capbuf[32], *log;
	long long cap0 = fa_stat("cap");
	pid_t pids[NPROC];

	ASSERT_LE(0, cap0) TH_LOG("module not loaded");
	counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, counts);
	TH_LOG("seed %#llx (FA_FUZZ_SEED=%#llx reruns it), %d operations per process",
	       (unsigned long long)seed, (unsigned long long)seed, ops);
	snprintf(marker, sizeof(marker), "kmod_fuzz seed %#llx\n", (unsigned long long)seed);
	kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, kmsg);
	/* the newline ends the record: an open one is not read back */
	ASSERT_EQ((ssize_t)strlen(marker), write(kmsg, marker, strlen(marker)));
	marker[strlen(marker) - 1] = 0;
	close(kmsg);
	snprintf(capbuf, sizeof(capbuf), "%llu", (unsigned long long)FUZZ_CAP);
	ASSERT_EQ(0, write_str(SYSFS "/cap", capbuf));

	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			worker(seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1), ops);
	}
	for (int i = 0; i < NPROC; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		{
			TH_LOG("process %d: status %#x", i, status);
		}
	}

	for (int c = 0; c < C_NR; c++)
		TH_LOG("%s: %lu", c_names[c], (unsigned long)counts[c]);
	/* a run that never reached the module tests nothing */
	EXPECT_LT(0UL, (unsigned long)counts[C_CREATE]);
	EXPECT_LT(0UL, (unsigned long)counts[C_MMAP]);
	EXPECT_LT(0UL, (unsigned long)counts[C_IOCTL_OK]);

	/* pins die with their pipes; the held-page scan runs every 100 ms */
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		EXPECT_EQ(0, fa_wait_stat(counters[i], 0, 10000)) TH_LOG("%s", counters[i]);
	}
	for (int n = 0; n < 64; n++) {
		long long v = fa_node_stat(n, "pinned_bytes");

		if (v < 0)
			break;
		EXPECT_EQ(0, v) TH_LOG("node%d pinned_bytes", n);
		EXPECT_EQ(0, fa_node_stat(n, "pages_2m")) TH_LOG("node%d pages_2m", n);
	}
	snprintf(capbuf, sizeof(capbuf), "%lld", cap0);
	EXPECT_EQ(0, write_str(SYSFS "/cap", capbuf));

	log = klog_since(marker);
	ASSERT_NE(NULL, log) TH_LOG("the kernel log lost the marker");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(NULL, strstr(log, bad[i]))
		TH_LOG("kernel log: %.2000s", strstr(log, bad[i]));
	}
	free(log);

	/* nothing holds the module: it unloads, and loads again */
	EXPECT_EQ(0, fa_module_unload());
	EXPECT_EQ(0, fa_module_load());
}

TEST_HARNESS_MAIN
