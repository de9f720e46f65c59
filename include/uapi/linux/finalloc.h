/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * FinAlloc: NUMA-node-pinned huge pages and guard layouts through /dev/finalloc.
 *
 * Every ioctl argument starts with argsz (the size userspace built the struct
 * with) and flags.  The kernel accepts a struct down to the first version's
 * size (EINVAL below it) and a larger one, up to PAGE_SIZE bytes, if the
 * bytes it does not know are zero (E2BIG otherwise, and above PAGE_SIZE).
 * Fields named reserved must be zero on input.
 */
#ifndef _UAPI_LINUX_FINALLOC_H
#define _UAPI_LINUX_FINALLOC_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define FINALLOC_ABI_VERSION	1
#define FINALLOC_IOC_MAGIC	0xFA
#define FINALLOC_DEV_PATH	"/dev/finalloc"
#define FINALLOC_SYSFS_PATH	"/sys/kernel/finalloc"

/* Page sizes, expressed as shifts, that a region may be built from. */
#define FINALLOC_PAGE_SHIFT_4K	12
#define FINALLOC_PAGE_SHIFT_2M	21

/*
 * FINALLOC_IOC_INFO: what this module and kernel offer.  No input flags.
 *
 * caps: FINALLOC_CAP_* bits.
 * page_sizes: bit n set means a region may use pages of 1 << n bytes.
 * nr_node_ids: nodes ids are < nr_node_ids.
 * node_mask: bit n set means node n has memory (nodes >= 64 not listed here,
 *   but accepted by REGION_CREATE).
 */
#define FINALLOC_CAP_PMD_MAP	(1U << 0)	/* 2 MiB pages mapped by PMDs */
#define FINALLOC_CAP_GUARDS	(1U << 1)	/* guard layouts supported */
#define FINALLOC_CAP_NODE_QUERY	(1U << 2)	/* FINALLOC_IOC_NODE_OF */
#define FINALLOC_CAP_PREFAULT	(1U << 3)	/* mmap maps every data page */
#define FINALLOC_CAP_PINNABLE	(1U << 4)	/* FINALLOC_REGION_PINNABLE */

struct finalloc_info {
	__u32 argsz;
	__u32 flags;		/* in: must be 0 */
	__u32 abi_version;	/* out: FINALLOC_ABI_VERSION */
	__u32 caps;		/* out: FINALLOC_CAP_* */
	__u64 page_sizes;	/* out */
	__u32 nr_node_ids;	/* out */
	__u32 nr_regions;	/* out: regions held by this open file */
	__u64 node_mask;	/* out */
	__u64 pinned_bytes;	/* out: pinned by the module, all users */
	__u64 pinned_cap;	/* out: global cap on pinned bytes, 0 = none */
	__u64 reserved[4];	/* in: must be 0; out: 0 */
};

/*
 * FINALLOC_IOC_REGION_CREATE: allocate a region on one node.
 *
 * size is the whole mapping, guards included, in bytes: a multiple of the
 * page size.  The region is a run of pages; page i is a guard page when
 *   i < guard_lead, or i >= npages - guard_trail, or
 *   guard_interval != 0 and (i - guard_lead) % (guard_interval + 1) ==
 *   guard_interval
 * (one guard page after every guard_interval data pages).  Guard pages
 * consume no memory; touching one raises SIGSEGV, a syscall reading or
 * writing one fails with EFAULT.  All pages are allocated, zeroed and
 * charged at creation, so mapping and touching never allocate.
 *
 * Out: id names the region in other ioctls; offset is the mmap offset to
 * pass to mmap(NULL, size, prot, MAP_SHARED, fd, offset).  A mapping may
 * also cover part of the region, starting on a page boundary; MAP_PRIVATE
 * is refused (EINVAL), and a 2 MiB page is unmapped whole or not at all.
 *
 * Errors: EINVAL for unknown flags, non-zero reserved fields, a page_shift
 * not in FINALLOC_PAGE_SHIFT_*, a node that is negative, >= nr_node_ids or
 * has no memory, size 0, not a multiple of the page size or above
 * FINALLOC_REGION_MAX_SIZE, and guards that leave no data page; ENOMEM when
 * the node cannot supply the pages (nothing is taken from another node) or
 * the module's global cap would be exceeded; EPERM when RLIMIT_MEMLOCK
 * would be exceeded and the caller lacks CAP_IPC_LOCK, or when node is not
 * in the caller's cpuset (mems_allowed; a mempolicy does not restrict it);
 * ENOSPC when the file holds the max_regions module parameter's number of
 * regions.
 *
 * Ids and offsets belong to the open file and are handed out cyclically:
 * a destroyed region's offset maps nothing (EINVAL) rather than a newer
 * region.  Regions belong to the process that created them: a process
 * sharing the file (a child after fork) may map and query them but not
 * destroy them (EPERM), and a process's regions leave the file when it
 * exits.
 */
/*
 * FINALLOC_REGION_PINNABLE: map the region with refcounted 4 KiB PTEs of
 * its pages (VM_MIXEDMAP), all installed by mmap, so get_user_pages works
 * on it: O_DIRECT, io_uring fixed buffers, vmsplice, process_vm_readv,
 * RDMA.  The 2 MiB pages stay physically contiguous and on their node.
 * Without it 6.12 maps 2 MiB pages by PMD (VM_PFNMAP), which GUP refuses;
 * 6.1 maps every region this way, flag or not.  A pin outliving the region
 * keeps the 4 KiB it pins, charged as before, until it is released.
 * FINALLOC_CAP_PINNABLE says the flag is known.
 */
#define FINALLOC_REGION_PINNABLE	(1U << 0)
#define FINALLOC_REGION_VALID_FLAGS	FINALLOC_REGION_PINNABLE
#define FINALLOC_REGION_MAX_SIZE	(1ULL << 44)

struct finalloc_region_create {
	__u32 argsz;
	__u32 flags;		/* in: FINALLOC_REGION_VALID_FLAGS */
	__u64 size;		/* in: bytes, guards included */
	__s32 node;		/* in: NUMA node with memory */
	__u32 page_shift;	/* in: FINALLOC_PAGE_SHIFT_* */
	__u32 guard_lead;	/* in: guard pages at the start */
	__u32 guard_trail;	/* in: guard pages at the end */
	__u32 guard_interval;	/* in: data pages between inner guards, 0 = none */
	__u32 id;		/* out */
	__u64 offset;		/* out: mmap offset */
	__u64 data_bytes;	/* out: bytes backed by memory */
	__u64 reserved[4];	/* in: must be 0 */
};

/*
 * FINALLOC_IOC_REGION_DESTROY: drop the file's reference to region id.
 * Live mappings keep the memory until they are unmapped.  An id this file
 * does not hold gives ENOENT, here and in the ioctls below; a region
 * another process created gives EPERM.
 */
struct finalloc_region_destroy {
	__u32 argsz;
	__u32 flags;		/* in: must be 0 */
	__u32 id;		/* in */
	__u32 reserved;		/* in: must be 0 */
};

/* FINALLOC_IOC_REGION_INFO: describe region id. */
#define FINALLOC_REGION_INFO_PMD	(1U << 0)	/* mapped by PMDs */
#define FINALLOC_REGION_INFO_PINNABLE	(1U << 1)	/* refcounted PTEs */

struct finalloc_region_info {
	__u32 argsz;
	__u32 flags;		/* in: must be 0; out: FINALLOC_REGION_INFO_* */
	__u32 id;		/* in */
	__s32 node;		/* out */
	__u64 size;		/* out: bytes, guards included */
	__u64 data_bytes;	/* out */
	__u64 offset;		/* out: mmap offset */
	__u32 page_shift;	/* out */
	__u32 guard_lead;	/* out */
	__u32 guard_trail;	/* out */
	__u32 guard_interval;	/* out */
	__u32 nr_mappings;	/* out: live VMAs mapping the region */
	__u32 reserved0;	/* out: 0 */
	__u64 reserved[4];	/* in: must be 0 */
};

/*
 * FINALLOC_IOC_NODE_OF: which node backs byte offset of region id.
 * node is -1 (and FINALLOC_NODE_OF_GUARD set) for a guard page.
 */
#define FINALLOC_NODE_OF_GUARD		(1U << 0)

struct finalloc_node_of {
	__u32 argsz;
	__u32 flags;		/* in: must be 0; out: FINALLOC_NODE_OF_* */
	__u32 id;		/* in */
	__s32 node;		/* out */
	__u64 offset;		/* in: byte offset into the region */
	__u64 pfn;		/* out: 0 unless CAP_SYS_ADMIN */
	__u64 reserved[2];	/* in: must be 0 */
};

#define FINALLOC_IOC_INFO		_IOWR(FINALLOC_IOC_MAGIC, 0x00, struct finalloc_info)
#define FINALLOC_IOC_REGION_CREATE	_IOWR(FINALLOC_IOC_MAGIC, 0x01, struct finalloc_region_create)
#define FINALLOC_IOC_REGION_DESTROY	_IOW(FINALLOC_IOC_MAGIC, 0x02, struct finalloc_region_destroy)
#define FINALLOC_IOC_REGION_INFO	_IOWR(FINALLOC_IOC_MAGIC, 0x03, struct finalloc_region_info)
#define FINALLOC_IOC_NODE_OF		_IOWR(FINALLOC_IOC_MAGIC, 0x04, struct finalloc_node_of)

#endif /* _UAPI_LINUX_FINALLOC_H */
