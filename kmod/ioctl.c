// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI of include/uapi/linux/finalloc.h: argsz-versioned structs,
 * reserved fields that must be zero, -ENOTTY for unknown commands.
 *
 * The file's lock is never held across a user copy: a copy may fault on a
 * mapping whose mmap path takes that lock under mmap_lock.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/nospec.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "finalloc-private.h"

/*
 * Copy a struct whose first field is argsz: at least the first version's
 * size (ksize), and any bytes past what this module knows must be zero.
 */
static int finalloc_copy_in(void *karg, size_t ksize, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	u32 argsz;

	if (get_user(argsz, (u32 __user *)uarg))
		return -EFAULT;
	if (argsz < ksize)
		return -EINVAL;
	if (argsz > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(karg, ksize, uarg, argsz);
}

static int finalloc_copy_out(unsigned long arg, const void *karg,
			     size_t ksize)
{
	if (copy_to_user((void __user *)arg, karg, ksize))
		return -EFAULT;
	return 0;
}

/* Takes a reference on region id of this file, NULL when unknown. */
static struct finalloc_region *finalloc_file_get(struct finalloc_file *ff,
						 u32 id)
{
	struct finalloc_region *r;

	mutex_lock(&ff->lock);
	r = xa_load(&ff->regions, id);
	if (r)
		kref_get(&r->ref);
	mutex_unlock(&ff->lock);
	return r;
}

static long finalloc_ioc_info(struct file *file, unsigned long arg)
{
	struct finalloc_file *ff = file->private_data;
	struct finalloc_info info;
	int ret, nid;

	ret = finalloc_copy_in(&info, sizeof(info), arg);
	if (ret)
		return ret;
	if (info.flags || memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	info.abi_version = FINALLOC_ABI_VERSION;
	info.caps = FINALLOC_CAP_GUARDS | FINALLOC_CAP_NODE_QUERY |
		    FINALLOC_CAP_PINNABLE;
	if (FINALLOC_HUGE_PFNMAP)
		info.caps |= FINALLOC_CAP_PMD_MAP;
	else
		info.caps |= FINALLOC_CAP_PREFAULT;
	info.page_sizes = BIT_ULL(FINALLOC_PAGE_SHIFT_4K) |
			  BIT_ULL(FINALLOC_PAGE_SHIFT_2M);
	info.nr_node_ids = nr_node_ids;
	for_each_node_state(nid, N_NORMAL_MEMORY)
		if (nid < 64)
			info.node_mask |= BIT_ULL(nid);
	mutex_lock(&ff->lock);
	info.nr_regions = ff->nr_regions;
	mutex_unlock(&ff->lock);
	info.pinned_bytes = atomic64_read(&finalloc_stats.pinned_bytes);
	info.pinned_cap = atomic64_read(&finalloc_stats.pinned_cap);
	return finalloc_copy_out(arg, &info, sizeof(info));
}

/*
 * Reserve the file's next id (cyclic: a destroyed region's id, hence its
 * mmap offset, comes back only after every other one has been used), within
 * the per-file bound.  The slot reads as empty until the region is stored.
 */
static int finalloc_reserve_id(struct finalloc_file *ff, u32 *id)
{
	int ret;

	mutex_lock(&ff->lock);
	if (ff->nr_regions >= READ_ONCE(finalloc_max_regions)) {
		ret = -ENOSPC;
	} else {
		ret = xa_alloc_cyclic(&ff->regions, id, NULL,
				      XA_LIMIT(1, FINALLOC_MAX_ID),
				      &ff->next_id, GFP_KERNEL_ACCOUNT);
		if (ret >= 0) {
			ff->nr_regions++;
			ret = 0;
		} else if (ret == -EBUSY) {
			ret = -ENOSPC;
		}
	}
	mutex_unlock(&ff->lock);
	return ret;
}

static long finalloc_ioc_create(struct file *file, unsigned long arg)
{
	struct finalloc_file *ff = file->private_data;
	struct finalloc_region_create args;
	struct finalloc_region *r;
	u32 id;
	int ret;

	/* Pinning memory is a write: a read-only opener may only look. */
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	ret = finalloc_copy_in(&args, sizeof(args), arg);
	if (ret)
		return ret;
	ret = finalloc_region_create(&args, &r);
	if (ret)
		return ret;
	ret = finalloc_reserve_id(ff, &id);
	if (ret)
		goto err_put;
	finalloc_region_set_id(r, id);

	args.argsz = sizeof(args);
	args.id = r->id;
	args.offset = (u64)r->pgoff << PAGE_SHIFT;
	args.data_bytes = finalloc_region_data_bytes(r);
	/* Report before publishing, so a failed copy has nothing to undo. */
	ret = finalloc_copy_out(arg, &args, sizeof(args));

	mutex_lock(&ff->lock);
	if (ret) {
		xa_erase(&ff->regions, id);
		ff->nr_regions--;
	} else {
		/* Into the reserved slot: no allocation, cannot fail. */
		xa_store(&ff->regions, id, r, GFP_KERNEL_ACCOUNT);
	}
	mutex_unlock(&ff->lock);
	if (ret)
		goto err_put;
	return 0;

err_put:
	finalloc_region_put(r);
	return ret;
}

static long finalloc_ioc_destroy(struct file *file, unsigned long arg)
{
	struct finalloc_file *ff = file->private_data;
	struct finalloc_region_destroy args;
	struct finalloc_region *r;
	int ret;

	ret = finalloc_copy_in(&args, sizeof(args), arg);
	if (ret)
		return ret;
	if (args.flags || args.reserved)
		return -EINVAL;

	mutex_lock(&ff->lock);
	/* A slot reserved by a create in flight reads as empty: keep it. */
	r = xa_load(&ff->regions, args.id);
	if (!r) {
		ret = -ENOENT;
	} else if (r->owner != task_tgid(current)) {
		/* A child sharing the file may use, not end, what it inherited. */
		ret = -EPERM;
	} else {
		xa_erase(&ff->regions, args.id);
		ff->nr_regions--;
	}
	mutex_unlock(&ff->lock);
	if (ret)
		return ret;
	/* Live mappings keep their own references. */
	finalloc_region_put(r);
	return 0;
}

static long finalloc_ioc_region_info(struct file *file, unsigned long arg)
{
	struct finalloc_file *ff = file->private_data;
	struct finalloc_region_info info;
	struct finalloc_region *r;
	u32 id;
	int ret;

	ret = finalloc_copy_in(&info, sizeof(info), arg);
	if (ret)
		return ret;
	if (info.flags || memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;
	id = info.id;
	r = finalloc_file_get(ff, id);
	if (!r)
		return -ENOENT;

	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	info.id = id;
	/*
	 * What happened, not what might: THP "never", MADV_NOHUGEPAGE or an
	 * unaligned MAP_FIXED address leave 2 MiB pages on 4 KiB PTEs.
	 */
	if (READ_ONCE(r->pmd_mapped))
		info.flags |= FINALLOC_REGION_INFO_PMD;
	if (r->pinnable)
		info.flags |= FINALLOC_REGION_INFO_PINNABLE;
	info.node = r->node;
	info.size = r->size;
	info.data_bytes = finalloc_region_data_bytes(r);
	info.offset = (u64)r->pgoff << PAGE_SHIFT;
	info.page_shift = r->page_shift;
	info.guard_lead = r->guard_lead;
	info.guard_trail = r->guard_trail;
	info.guard_interval = r->guard_interval;
	info.nr_mappings = atomic_read(&r->nr_mappings);
	finalloc_region_put(r);
	return finalloc_copy_out(arg, &info, sizeof(info));
}

static long finalloc_ioc_node_of(struct file *file, unsigned long arg)
{
	struct finalloc_file *ff = file->private_data;
	struct finalloc_node_of args;
	struct finalloc_region *r;
	struct page *page;
	int ret;

	ret = finalloc_copy_in(&args, sizeof(args), arg);
	if (ret)
		return ret;
	if (args.flags || memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	r = finalloc_file_get(ff, args.id);
	if (!r)
		return -ENOENT;
	if (args.offset >= r->size) {
		finalloc_region_put(r);
		return -EINVAL;
	}

	args.argsz = sizeof(args);
	args.pfn = 0;
	page = finalloc_region_page(r, args.offset >> PAGE_SHIFT);
	if (page) {
		args.node = page_to_nid(page);
		/*
		 * Like /proc/pid/pagemap: the opener must have been allowed,
		 * so a privileged process cannot be made to leak PFNs through
		 * an fd handed to it.
		 */
		if (file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN) &&
		    capable(CAP_SYS_ADMIN))
			args.pfn = page_to_pfn(page);
	} else {
		args.node = -1;
		args.flags = FINALLOC_NODE_OF_GUARD;
	}
	finalloc_region_put(r);
	return finalloc_copy_out(arg, &args, sizeof(args));
}

struct finalloc_ioc {
	unsigned int dir;	/* _IOC_READ | _IOC_WRITE bits */
	unsigned int size;	/* the first version's struct */
	long (*fn)(struct file *file, unsigned long arg);
};

#define FINALLOC_IOC(_cmd, _fn) \
	[_IOC_NR(_cmd)] = { _IOC_DIR(_cmd), _IOC_SIZE(_cmd), _fn }

static const struct finalloc_ioc finalloc_iocs[] = {
	FINALLOC_IOC(FINALLOC_IOC_INFO, finalloc_ioc_info),
	FINALLOC_IOC(FINALLOC_IOC_REGION_CREATE, finalloc_ioc_create),
	FINALLOC_IOC(FINALLOC_IOC_REGION_DESTROY, finalloc_ioc_destroy),
	FINALLOC_IOC(FINALLOC_IOC_REGION_INFO, finalloc_ioc_region_info),
	FINALLOC_IOC(FINALLOC_IOC_NODE_OF, finalloc_ioc_node_of),
};

/*
 * Dispatch by type and number, not by the whole command: a caller built
 * with a later, larger struct encodes another size in cmd, and argsz tells
 * the handler what it got.  A size below the first version's is unknown.
 */
long finalloc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const struct finalloc_ioc *ioc;
	unsigned int nr = _IOC_NR(cmd);

	if (_IOC_TYPE(cmd) != FINALLOC_IOC_MAGIC ||
	    nr >= ARRAY_SIZE(finalloc_iocs))
		return -ENOTTY;
	ioc = &finalloc_iocs[array_index_nospec(nr, ARRAY_SIZE(finalloc_iocs))];
	if (!ioc->fn || _IOC_DIR(cmd) != ioc->dir || _IOC_SIZE(cmd) < ioc->size)
		return -ENOTTY;
	return ioc->fn(file, arg);
}
