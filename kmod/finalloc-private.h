/* SPDX-License-Identifier: GPL-2.0 */
/*
 * FinAlloc internal header, indexed by the file that owns each part.
 */
#ifndef _FINALLOC_INTERNAL_H
#define _FINALLOC_INTERNAL_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include <uapi/linux/finalloc.h>

/*
 * 6.1 has no huge_fault path for device VMAs: map 4 KiB PTEs of the 2 MiB
 * pages at mmap time.  Huge pfnmaps (6.12) let .huge_fault install PMDs.
 */
#ifdef CONFIG_ARCH_SUPPORTS_PMD_PFNMAP
#define FINALLOC_HUGE_PFNMAP	1
#else
#define FINALLOC_HUGE_PFNMAP	0
#endif

/*
 * Every region owns a window of its file's mmap offset space, named by its
 * id: offset = id << FINALLOC_SLOT_SHIFT.  Ids are per open file and
 * handed out cyclically, so a stale offset finds no region rather than a
 * newer one.  All openers share one inode mapping, so two files' windows
 * may coincide there: harmless, as the module never zaps through the
 * mapping (unmap_mapping_range), and mmap looks the id up in the caller's
 * file only.
 */
#define FINALLOC_SLOT_SHIFT	44
#define FINALLOC_SLOT_PGSHIFT	(FINALLOC_SLOT_SHIFT - PAGE_SHIFT)
#define FINALLOC_MAX_ID		((1U << (63 - FINALLOC_SLOT_SHIFT)) - 1)

/* Regions one open file may hold at a time (module parameter). */
#define FINALLOC_MAX_REGIONS_DEFAULT	65536U

/* region.c */
struct finalloc_region {
	struct kref ref;
	u32 id;				/* in its file, set when published */
	int node;
	unsigned int page_shift;	/* FINALLOC_PAGE_SHIFT_* */
	unsigned int order;		/* page_shift - PAGE_SHIFT */
	u32 guard_lead;
	u32 guard_trail;
	u32 guard_interval;
	unsigned long npages;		/* region pages, guards included */
	unsigned long ndata;		/* region pages with memory */
	u64 size;
	pgoff_t pgoff;			/* start of the mmap window */
	struct page **pages;		/* ndata head pages, in order */
	struct user_struct *user;	/* charged for locked_pages */
	struct pid *owner;		/* creating thread group */
	unsigned long locked_pages;
	atomic_t nr_mappings;
	bool pmd_mapped;		/* a PMD has mapped part of it */
	bool pinnable;			/* refcounted PTEs: GUP works */
};

struct finalloc_file {
	struct mutex lock;		/* serialises table changes */
	struct xarray regions;		/* id -> region, one ref each */
	u32 nr_regions;			/* ids taken, reserved ones too */
	u32 next_id;			/* for xa_alloc_cyclic */
};

extern unsigned int finalloc_max_regions;

int finalloc_region_create(struct finalloc_region_create *args,
			   struct finalloc_region **out);
void finalloc_region_put(struct finalloc_region *r);
struct page *finalloc_region_page(struct finalloc_region *r,
				  unsigned long pgoff);
u64 finalloc_region_data_bytes(struct finalloc_region *r);
void finalloc_region_set_id(struct finalloc_region *r, u32 id);
int finalloc_mmap(struct file *file, struct vm_area_struct *vma);
bool finalloc_node_valid(int node);
void finalloc_region_exit(void);

/* ioctl.c */
long finalloc_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* sysfs.c */
struct finalloc_stats {
	atomic64_t pinned_bytes;
	atomic64_t held_bytes;		/* of released regions, pinned */
	atomic64_t pinned_cap;		/* 0: no cap */
	atomic64_t regions;
	atomic64_t mappings;
	atomic64_t faults;
	atomic64_t pmd_faults;
	atomic64_t guard_faults;
	atomic64_t alloc_failures;
};

struct finalloc_node_stats {
	atomic64_t pinned_bytes;
	atomic64_t pages_2m;
};

extern struct finalloc_stats finalloc_stats;
extern struct finalloc_node_stats *finalloc_node_stats;

int finalloc_set_cap(const char *buf);
int finalloc_sysfs_init(void);
void finalloc_sysfs_exit(void);

#endif /* _FINALLOC_INTERNAL_H */
