// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: pages from exactly one node, allocated, zeroed and charged when
 * the region is created, mapped with their guard layout into a single VMA.
 *
 * A region is referenced by its file's table and by each VMA mapping it;
 * the pages go back when the last reference does, which may be from a
 * deferred fput: nothing here looks at current after creation.
 */
#include <linux/capability.h>
#include <linux/cpuset.h>
#include <linux/cred.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/nospec.h>
#include <linux/pfn_t.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "finalloc-private.h"

bool finalloc_node_valid(int node)
{
	if (node < 0 || node >= nr_node_ids)
		return false;
	node = array_index_nospec(node, nr_node_ids);
	/*
	 * GFP_KERNEL never comes from ZONE_MOVABLE: a node with only movable
	 * memory could never supply a page.
	 */
	return node_state(node, N_NORMAL_MEMORY);
}

/* Index into r->pages of region page i, or -1 when i is a guard page. */
static long finalloc_data_index(struct finalloc_region *r, unsigned long i)
{
	unsigned long j, period;

	if (i < r->guard_lead || i >= r->npages - r->guard_trail)
		return -1;
	j = i - r->guard_lead;
	if (!r->guard_interval)
		return j;
	period = (unsigned long)r->guard_interval + 1;
	if (j % period == r->guard_interval)
		return -1;
	return j - j / period;
}

/* The 4 KiB page at pgoff (in PAGE_SIZE units) of r, NULL for a guard. */
struct page *finalloc_region_page(struct finalloc_region *r,
				  unsigned long pgoff)
{
	long idx;

	if (pgoff >= r->size >> PAGE_SHIFT)
		return NULL;
	idx = finalloc_data_index(r, pgoff >> r->order);
	if (idx < 0)
		return NULL;
	/* pgoff comes from userspace (NODE_OF, faults at any address). */
	idx = array_index_nospec(idx, r->ndata);
	return nth_page(r->pages[idx], pgoff & ((1UL << r->order) - 1));
}

u64 finalloc_region_data_bytes(struct finalloc_region *r)
{
	return (u64)r->ndata << r->page_shift;
}

/* Checks everything about a create request that needs no allocation. */
static int finalloc_region_check(const struct finalloc_region_create *a,
				 unsigned long *ndata)
{
	u64 npages, inner, period;

	if (a->flags & ~FINALLOC_REGION_VALID_FLAGS)
		return -EINVAL;
	if (memchr_inv(a->reserved, 0, sizeof(a->reserved)))
		return -EINVAL;
	if (a->page_shift != FINALLOC_PAGE_SHIFT_4K &&
	    a->page_shift != FINALLOC_PAGE_SHIFT_2M)
		return -EINVAL;
	if (!finalloc_node_valid(a->node))
		return -EINVAL;
	/*
	 * A cpuset's mems bound the caller's memory.  __GFP_THISNODE is no
	 * reason to step outside them; refuse before anything is charged.
	 * One bit of mems_allowed is read whole, so no seqcount is needed.
	 */
	if (!node_isset(array_index_nospec(a->node, nr_node_ids),
			cpuset_current_mems_allowed))
		return -EPERM;
	if (!a->size || a->size > FINALLOC_REGION_MAX_SIZE ||
	    a->size & ((1ULL << a->page_shift) - 1))
		return -EINVAL;
	npages = a->size >> a->page_shift;
	if ((u64)a->guard_lead + a->guard_trail >= npages)
		return -EINVAL;
	inner = npages - a->guard_lead - a->guard_trail;
	if (a->guard_interval) {
		period = (u64)a->guard_interval + 1;
		inner -= div64_u64(inner, period);
	}
	*ndata = inner;
	return 0;
}

/*
 * Charge the creator: the global cap first (ENOMEM, like a full node), then
 * RLIMIT_MEMLOCK through user->locked_vm as io_uring does (EPERM: the caller
 * needs CAP_IPC_LOCK or a larger limit).
 */
static int finalloc_charge(struct finalloc_region *r, u64 bytes)
{
	unsigned long pages = bytes >> PAGE_SHIFT;
	unsigned long limit, cur, new;
	s64 cap = atomic64_read(&finalloc_stats.pinned_cap);
	struct user_struct *user = current_user();

	if (atomic64_add_return(bytes, &finalloc_stats.pinned_bytes) > cap &&
	    cap) {
		atomic64_sub(bytes, &finalloc_stats.pinned_bytes);
		return -ENOMEM;
	}
	if (!capable(CAP_IPC_LOCK)) {
		limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
		cur = atomic_long_read(&user->locked_vm);
		do {
			new = cur + pages;
			if (new > limit || new < cur) {
				atomic64_sub(bytes,
					     &finalloc_stats.pinned_bytes);
				return -EPERM;
			}
		} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
		r->locked_pages = pages;
	}
	r->user = get_uid(user);
	return 0;
}

static void finalloc_uncharge(struct finalloc_region *r)
{
	atomic_long_sub(r->locked_pages, &r->user->locked_vm);
	free_uid(r->user);
	atomic64_sub(finalloc_region_data_bytes(r),
		     &finalloc_stats.pinned_bytes);
}

/*
 * 2 MiB pages are allocated whole and split into 4 KiB pages, each with its
 * own reference count: a GUP pin (vmsplice, O_DIRECT, RDMA; 6.1 maps with
 * refcounted PTEs) then holds the 4 KiB it pins, not the whole 2 MiB.
 */
static void finalloc_put_data_page(struct finalloc_region *r, unsigned long i)
{
	unsigned long j;

	for (j = 0; j < 1UL << r->order; j++)
		put_page(nth_page(r->pages[i], j));
}

/* Before the region was ever mapped: every page is ours alone. */
static void finalloc_free_pages(struct finalloc_region *r, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		finalloc_put_data_page(r, i);
		if (!(i & 63))
			cond_resched();
	}
}

static int finalloc_alloc_pages(struct finalloc_region *r)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_THISNODE | __GFP_HARDWALL |
		    __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	unsigned long i;

	for (i = 0; i < r->ndata; i++) {
		if (fatal_signal_pending(current)) {
			finalloc_free_pages(r, i);
			return -EINTR;
		}
		r->pages[i] = alloc_pages_node(r->node, gfp, r->order);
		if (!r->pages[i]) {
			atomic64_inc(&finalloc_stats.alloc_failures);
			finalloc_free_pages(r, i);
			return -ENOMEM;
		}
		if (r->order)
			split_page(r->pages[i], r->order);
		cond_resched();
	}
	return 0;
}

int finalloc_region_create(struct finalloc_region_create *a,
			   struct finalloc_region **out)
{
	struct finalloc_region *r;
	unsigned long ndata;
	u64 bytes;
	int ret;

	ret = finalloc_region_check(a, &ndata);
	if (ret)
		return ret;
	bytes = (u64)ndata << a->page_shift;
	if (bytes > (u64)totalram_pages() << PAGE_SHIFT) {
		atomic64_inc(&finalloc_stats.alloc_failures);
		return -ENOMEM;
	}

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	kref_init(&r->ref);
	/* Indexes finalloc_node_stats later on. */
	r->node = array_index_nospec(a->node, nr_node_ids);
	r->page_shift = a->page_shift;
	r->order = a->page_shift - PAGE_SHIFT;
	r->guard_lead = a->guard_lead;
	r->guard_trail = a->guard_trail;
	r->guard_interval = a->guard_interval;
	/* Only huge pfnmaps are beyond GUP's reach. */
	r->pinnable = !FINALLOC_HUGE_PFNMAP ||
		      (a->flags & FINALLOC_REGION_PINNABLE);
	r->size = a->size;
	r->npages = a->size >> a->page_shift;
	r->ndata = ndata;
	atomic_set(&r->nr_mappings, 0);

	ret = finalloc_charge(r, bytes);
	if (ret)
		goto err_free;
	r->pages = kvcalloc(ndata, sizeof(*r->pages),
			    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!r->pages) {
		ret = -ENOMEM;
		goto err_uncharge;
	}
	ret = finalloc_alloc_pages(r);
	if (ret)
		goto err_pages;
	r->owner = get_pid(task_tgid(current));

	atomic64_add(bytes, &finalloc_node_stats[r->node].pinned_bytes);
	if (r->page_shift == FINALLOC_PAGE_SHIFT_2M)
		atomic64_add(ndata, &finalloc_node_stats[r->node].pages_2m);
	atomic64_inc(&finalloc_stats.regions);
	*out = r;
	return 0;

err_pages:
	kvfree(r->pages);
err_uncharge:
	finalloc_uncharge(r);
err_free:
	kfree(r);
	return ret;
}

/*
 * Pages of released regions that someone outside still pins (6.1: a pipe
 * from vmsplice, an O_DIRECT or RDMA pin).  They stay charged, globally, to
 * their node and to the user's locked_vm, until the pins go: a scan every
 * 100 ms puts the pages whose only reference left is ours.  No mapping
 * exists any more, so a count only falls (or rises for a moment, under a
 * PFN walker's speculative reference, which the next scan outlives).
 */
struct finalloc_held {
	struct list_head list;
	struct user_struct *user;
	int node;
	unsigned long locked;		/* pages still in user->locked_vm */
	unsigned long nr;
	struct page *pages[];
};

static LIST_HEAD(finalloc_held_list);
static DEFINE_MUTEX(finalloc_held_lock);
static void finalloc_held_scan(struct work_struct *work);
static DECLARE_DELAYED_WORK(finalloc_held_work, finalloc_held_scan);

static void finalloc_held_uncharge(struct finalloc_held *h, unsigned long n)
{
	u64 bytes = (u64)n << PAGE_SHIFT;
	unsigned long locked = min(n, h->locked);

	atomic_long_sub(locked, &h->user->locked_vm);
	h->locked -= locked;
	atomic64_sub(bytes, &finalloc_stats.pinned_bytes);
	atomic64_sub(bytes, &finalloc_stats.held_bytes);
	atomic64_sub(bytes, &finalloc_node_stats[h->node].pinned_bytes);
}

/* Under finalloc_held_lock; force hands the pages to their pinners. */
static void finalloc_held_put(bool force)
{
	struct finalloc_held *h, *tmp;
	unsigned long i, freed;

	list_for_each_entry_safe(h, tmp, &finalloc_held_list, list) {
		for (i = 0, freed = 0; i < h->nr;) {
			if (!force && page_ref_count(h->pages[i]) > 1) {
				i++;
				continue;
			}
			put_page(h->pages[i]);
			h->pages[i] = h->pages[--h->nr];
			freed++;
		}
		finalloc_held_uncharge(h, freed);
		if (!h->nr) {
			list_del(&h->list);
			free_uid(h->user);
			kvfree(h);
		}
		cond_resched();
	}
}

static void finalloc_held_scan(struct work_struct *work)
{
	mutex_lock(&finalloc_held_lock);
	finalloc_held_put(false);
	if (!list_empty(&finalloc_held_list))
		schedule_delayed_work(&finalloc_held_work, HZ / 10);
	mutex_unlock(&finalloc_held_lock);
}

/*
 * Put the pages only the region holds; return a record of the pinned
 * rest, or NULL when nothing is pinned (or, failing memory for the
 * record, after handing the pinned pages to their pinners uncounted).
 */
static struct finalloc_held *finalloc_release_pages(struct finalloc_region *r)
{
	unsigned long i, j, n = 0, k = 0, per = 1UL << r->order;
	struct finalloc_held *h = NULL;
	struct page *page;

	for (i = 0; i < r->ndata; i++)
		for (j = 0; j < per; j++)
			n += page_ref_count(nth_page(r->pages[i], j)) > 1;
	if (n)
		h = kvzalloc(struct_size(h, pages, n), GFP_KERNEL);
	for (i = 0; i < r->ndata; i++) {
		for (j = 0; j < per; j++) {
			page = nth_page(r->pages[i], j);
			if (h && k < n && page_ref_count(page) > 1)
				h->pages[k++] = page;
			else
				put_page(page);
		}
		if (!(i & 63))
			cond_resched();
	}
	if (h && !k) {
		kvfree(h);
		h = NULL;
	}
	if (h) {
		h->nr = k;
		h->node = r->node;
	}
	return h;
}

static void finalloc_region_release(struct kref *ref)
{
	struct finalloc_region *r = container_of(ref, struct finalloc_region,
						 ref);
	struct finalloc_held *h = finalloc_release_pages(r);
	u64 bytes = finalloc_region_data_bytes(r);

	if (r->page_shift == FINALLOC_PAGE_SHIFT_2M)
		atomic64_sub(r->ndata, &finalloc_node_stats[r->node].pages_2m);
	if (h) {
		/* The held pages keep their charge; the record takes the uid. */
		h->user = r->user;
		h->locked = min(h->nr, r->locked_pages);
		r->locked_pages -= h->nr * !!r->locked_pages;
		bytes -= (u64)h->nr << PAGE_SHIFT;
		atomic64_add((u64)h->nr << PAGE_SHIFT,
			     &finalloc_stats.held_bytes);
		atomic_long_sub(r->locked_pages, &r->user->locked_vm);
		atomic64_sub(bytes, &finalloc_stats.pinned_bytes);
		mutex_lock(&finalloc_held_lock);
		list_add_tail(&h->list, &finalloc_held_list);
		schedule_delayed_work(&finalloc_held_work, HZ / 10);
		mutex_unlock(&finalloc_held_lock);
	} else {
		finalloc_uncharge(r);
	}
	atomic64_sub(bytes, &finalloc_node_stats[r->node].pinned_bytes);
	atomic64_dec(&finalloc_stats.regions);
	put_pid(r->owner);
	kvfree(r->pages);
	kfree(r);
}

/* Module exit: no file is left; the pinners free what they still hold. */
void finalloc_region_exit(void)
{
	cancel_delayed_work_sync(&finalloc_held_work);
	mutex_lock(&finalloc_held_lock);
	finalloc_held_put(true);
	mutex_unlock(&finalloc_held_lock);
}

void finalloc_region_put(struct finalloc_region *r)
{
	kref_put(&r->ref, finalloc_region_release);
}

/* Before the region is published: its id names its mmap window. */
void finalloc_region_set_id(struct finalloc_region *r, u32 id)
{
	r->id = id;
	r->pgoff = (pgoff_t)id << FINALLOC_SLOT_PGSHIFT;
}

static void finalloc_vm_open(struct vm_area_struct *vma)
{
	struct finalloc_region *r = vma->vm_private_data;

	kref_get(&r->ref);
	atomic_inc(&r->nr_mappings);
	atomic64_inc(&finalloc_stats.mappings);
}

static void finalloc_vm_close(struct vm_area_struct *vma)
{
	struct finalloc_region *r = vma->vm_private_data;

	atomic64_dec(&finalloc_stats.mappings);
	atomic_dec(&r->nr_mappings);
	finalloc_region_put(r);
}

/* A split may not cut a 2 MiB page: it is mapped whole or not at all. */
static int finalloc_vm_may_split(struct vm_area_struct *vma,
				 unsigned long addr)
{
	struct finalloc_region *r = vma->vm_private_data;
	unsigned long off = addr - vma->vm_start +
			    ((vma->vm_pgoff - r->pgoff) << PAGE_SHIFT);

	if (off & ((PAGE_SIZE << r->order) - 1))
		return -EINVAL;
	return 0;
}

/*
 * 4 KiB faults: guards get SIGSEGV (a kernel access EFAULT); data pages
 * are mapped again after a zap (6.1) or first touch (6.12 fallback).
 */
static vm_fault_t finalloc_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct finalloc_region *r = vma->vm_private_data;
	struct page *page;
	int err;

	page = finalloc_region_page(r, vmf->pgoff - r->pgoff);
	if (!page) {
		atomic64_inc(&finalloc_stats.guard_faults);
		return VM_FAULT_SIGSEGV;
	}
	atomic64_inc(&finalloc_stats.faults);
	if (!r->pinnable)
		return vmf_insert_pfn(vma, vmf->address, page_to_pfn(page));
	err = vm_insert_page(vma, vmf->address, page);
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	if (err && err != -EBUSY)
		return VM_FAULT_SIGBUS;
	return VM_FAULT_NOPAGE;
}

#if FINALLOC_HUGE_PFNMAP
static vm_fault_t finalloc_vm_huge_fault(struct vm_fault *vmf,
					 unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct finalloc_region *r = vma->vm_private_data;
	unsigned long addr = vmf->address & PMD_MASK;
	unsigned long pgoff;
	struct page *page;
	vm_fault_t ret;

	/* A pinnable region's VMA is VM_MIXEDMAP: no PMD of it, ever. */
	if (order != PMD_ORDER || r->order != PMD_ORDER || r->pinnable)
		return VM_FAULT_FALLBACK;
	/* The fault path leaves the range check to the handler. */
	if (addr < vma->vm_start || addr + PMD_SIZE > vma->vm_end)
		return VM_FAULT_FALLBACK;
	pgoff = ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff -
		r->pgoff;
	if (pgoff & (HPAGE_PMD_NR - 1))
		return VM_FAULT_FALLBACK;
	page = finalloc_region_page(r, pgoff);
	if (!page)
		return VM_FAULT_FALLBACK;	/* guard: .fault refuses it */
	ret = vmf_insert_pfn_pmd(vmf, pfn_to_pfn_t(page_to_pfn(page)),
				 vmf->flags & FAULT_FLAG_WRITE);
	if (ret == VM_FAULT_NOPAGE) {
		atomic64_inc(&finalloc_stats.faults);
		atomic64_inc(&finalloc_stats.pmd_faults);
		WRITE_ONCE(r->pmd_mapped, true);
	}
	return ret;
}
#endif

/*
 * ptrace, /proc/pid/mem and gdb: __access_remote_vm() comes here when GUP
 * cannot take the page, as on a VM_PFNMAP mapping (6.12), and for guard
 * pages.  It holds mmap_lock, and the VMA its region reference.
 */
static int finalloc_vm_access(struct vm_area_struct *vma, unsigned long addr,
			      void *buf, int len, int write)
{
	struct finalloc_region *r = vma->vm_private_data;
	unsigned long pgoff, off;
	struct page *page;
	int done = 0, n;
	void *kaddr;

	/* What GUP refuses a shared mapping without VM_WRITE. */
	if ((write & FOLL_WRITE) && !(vma->vm_flags & VM_WRITE))
		return -EFAULT;
	if (addr < vma->vm_start || addr >= vma->vm_end || len <= 0)
		return -EFAULT;
	len = min_t(unsigned long, len, vma->vm_end - addr);
	while (done < len) {
		pgoff = ((addr - vma->vm_start) >> PAGE_SHIFT) +
			vma->vm_pgoff - r->pgoff;
		page = finalloc_region_page(r, pgoff);
		if (!page)
			break;		/* a guard: the access stops there */
		off = offset_in_page(addr);
		n = min_t(unsigned long, len - done, PAGE_SIZE - off);
		kaddr = kmap_local_page(page);
		if (write & FOLL_WRITE)
			copy_to_user_page(vma, page, addr, kaddr + off,
					  buf + done, n);
		else
			copy_from_user_page(vma, page, addr, buf + done,
					    kaddr + off, n);
		kunmap_local(kaddr);
		done += n;
		addr += n;
	}
	return done ? done : -EFAULT;
}

static const struct vm_operations_struct finalloc_vm_ops = {
	.open = finalloc_vm_open,
	.close = finalloc_vm_close,
	.may_split = finalloc_vm_may_split,
	.fault = finalloc_vm_fault,
	.access = finalloc_vm_access,
#if FINALLOC_HUGE_PFNMAP
	.huge_fault = finalloc_vm_huge_fault,
#endif
};

/*
 * The first region page at or after region page i that has memory, or
 * r->npages when none does, and in *run_end the end of the run of data
 * pages it starts.  Guard runs are skipped by arithmetic: mapping a huge
 * guard-only range costs no walk over its pages.
 */
static unsigned long finalloc_data_run(struct finalloc_region *r,
				       unsigned long i, unsigned long *run_end)
{
	unsigned long last = r->npages - r->guard_trail, j, period;

	if (i < r->guard_lead)
		i = r->guard_lead;
	if (i >= last)
		return r->npages;
	*run_end = last;
	if (!r->guard_interval)
		return i;
	period = (unsigned long)r->guard_interval + 1;
	j = (i - r->guard_lead) % period;
	if (j == r->guard_interval) {
		i++;
		j = 0;
		if (i >= last)
			return r->npages;
	}
	*run_end = min(last, i + r->guard_interval - j);
	return i;
}

/* Map every data page now so first touches never fault. */
static int finalloc_prefault(struct vm_area_struct *vma,
			     struct finalloc_region *r, unsigned long start)
{
	unsigned long end = start + vma_pages(vma);
	unsigned long pg = start, first, nr, left, rpg, run_end, stop;
	struct page *batch[64];
	int ret;

	while (pg < end) {
		/* Jump to the next 4 KiB page that has memory. */
		rpg = finalloc_data_run(r, pg >> r->order, &run_end);
		if (rpg >= r->npages || (rpg << r->order) >= end)
			break;
		if ((rpg << r->order) > pg)
			pg = rpg << r->order;
		/* One batch from the run of data pages starting at pg. */
		stop = min(end, run_end << r->order);
		first = pg;
		for (nr = 0; nr < ARRAY_SIZE(batch) && pg < stop; nr++, pg++)
			batch[nr] = finalloc_region_page(r, pg);
		left = nr;
		ret = vm_insert_pages(vma, vma->vm_start +
				      ((first - start) << PAGE_SHIFT),
				      batch, &left);
		if (ret)
			return ret;
		/* mmap_lock is held: let others run, and a kill end it. */
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * vm_flags_set() came in 6.3, with the VMA lock; of the kernels built for,
 * 6.12 has it and huge pfnmaps, 6.1 neither.
 */
static void finalloc_vm_flags_set(struct vm_area_struct *vma,
				  unsigned long flags)
{
#if FINALLOC_HUGE_PFNMAP
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

int finalloc_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct finalloc_file *ff = file->private_data;
	unsigned long id = vma->vm_pgoff >> FINALLOC_SLOT_PGSHIFT;
	unsigned long start, len = vma_pages(vma), total;
	struct finalloc_region *r = NULL;
	int ret;

	/* The pfnmap contract: pinned memory is never copied on write. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	mutex_lock(&ff->lock);
	if (id && id <= FINALLOC_MAX_ID)
		r = xa_load(&ff->regions, id);
	if (r)
		kref_get(&r->ref);
	mutex_unlock(&ff->lock);
	if (!r)
		return -EINVAL;

	start = vma->vm_pgoff - r->pgoff;
	total = r->size >> PAGE_SHIFT;
	if (start >= total || len > total - start ||
	    start & ((1UL << r->order) - 1)) {
		ret = -EINVAL;
		goto err_put;
	}

	/*
	 * Pinnable: refcounted PTEs (VM_MIXEDMAP), all inserted now.  Else
	 * (6.12) a pfnmap; VM_HUGEPAGE: THP "madvise" mode still lets
	 * .huge_fault run.
	 */
	if (r->pinnable)
		finalloc_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND |
				      VM_DONTDUMP | VM_DONTCOPY);
	else
		finalloc_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND |
				      VM_DONTDUMP | VM_DONTCOPY | VM_HUGEPAGE);
	vma->vm_private_data = r;
	vma->vm_ops = &finalloc_vm_ops;

	if (r->pinnable) {
		/*
		 * On failure mmap_region() zaps what was inserted, without
		 * ->close.
		 */
		ret = finalloc_prefault(vma, r, start);
		if (ret)
			goto err_ops;
	}
	atomic_inc(&r->nr_mappings);
	atomic64_inc(&finalloc_stats.mappings);
	return 0;

err_ops:
	/* Whatever mmap_region() does with a failed VMA, it is not ours. */
	vma->vm_ops = NULL;
	vma->vm_private_data = NULL;
err_put:
	finalloc_region_put(r);
	return ret;
}
