// SPDX-License-Identifier: GPL-2.0
/*
 * FinAlloc: /dev/finalloc hands out regions of NUMA-node-pinned 4 KiB or
 * 2 MiB pages with guard layouts, for allocators that must never fault,
 * migrate or fall back to another node on their hot path.
 */
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "finalloc-private.h"

static int finalloc_cap_set(const char *val, const struct kernel_param *kp)
{
	return finalloc_set_cap(val);
}

static int finalloc_cap_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n",
			  (long long)atomic64_read(&finalloc_stats.pinned_cap));
}

static const struct kernel_param_ops finalloc_cap_ops = {
	.set = finalloc_cap_set,
	.get = finalloc_cap_get,
};

module_param_cb(cap, &finalloc_cap_ops, NULL, 0644);
MODULE_PARM_DESC(cap, "Bytes all regions together may pin, 0 for no cap");

unsigned int finalloc_max_regions = FINALLOC_MAX_REGIONS_DEFAULT;

static int finalloc_max_regions_set(const char *val,
				    const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	if (!n || n > FINALLOC_MAX_ID)
		return -EINVAL;
	WRITE_ONCE(finalloc_max_regions, n);
	return 0;
}

static const struct kernel_param_ops finalloc_max_regions_ops = {
	.set = finalloc_max_regions_set,
	.get = param_get_uint,
};

module_param_cb(max_regions, &finalloc_max_regions_ops,
		&finalloc_max_regions, 0644);
MODULE_PARM_DESC(max_regions, "Regions one open file may hold at a time");

static int finalloc_open(struct inode *inode, struct file *file)
{
	struct finalloc_file *ff;

	ff = kzalloc(sizeof(*ff), GFP_KERNEL_ACCOUNT);
	if (!ff)
		return -ENOMEM;
	mutex_init(&ff->lock);
	xa_init_flags(&ff->regions, XA_FLAGS_ALLOC1);
	file->private_data = ff;
	return 0;
}

/*
 * Every close of a descriptor, in the closing process.  A process that
 * exits takes the regions it created with it, even when it shares the file
 * with others (a forked child): they were its own, no one else may destroy
 * them, and a pre-forking server would otherwise keep them until it closes
 * the file.  A close before exit, or of one of several descriptors, keeps
 * them; so does the exit of one thread with a descriptor table of its own
 * (signal->live counts the group's threads still running).
 */
static int finalloc_flush(struct file *file, fl_owner_t id)
{
	struct finalloc_file *ff = file->private_data;
	struct pid *tgid = task_tgid(current);
	struct finalloc_region *r;
	unsigned long idx;

	if (!(current->flags & PF_EXITING) ||
	    atomic_read(&current->signal->live))
		return 0;
	mutex_lock(&ff->lock);
	xa_for_each(&ff->regions, idx, r) {
		if (r->owner != tgid)
			continue;
		xa_erase(&ff->regions, idx);
		ff->nr_regions--;
		finalloc_region_put(r);
	}
	mutex_unlock(&ff->lock);
	return 0;
}

/* Runs after the last fd and the last mapping (each VMA holds the file). */
static int finalloc_release(struct inode *inode, struct file *file)
{
	struct finalloc_file *ff = file->private_data;
	struct finalloc_region *r;
	unsigned long id;

	xa_for_each(&ff->regions, id, r) {
		xa_erase(&ff->regions, id);
		finalloc_region_put(r);
	}
	xa_destroy(&ff->regions);
	mutex_destroy(&ff->lock);
	kfree(ff);
	return 0;
}

static const struct file_operations finalloc_fops = {
	.owner = THIS_MODULE,
	.open = finalloc_open,
	.flush = finalloc_flush,
	.release = finalloc_release,
	/*
	 * No .compat_ioctl: a 32-bit mmap2() offset stops below 1 << 44, the
	 * first region's window, so a 32-bit caller could never map a region.
	 */
	.unlocked_ioctl = finalloc_ioctl,
	.mmap = finalloc_mmap,
	/*
	 * 2 MiB-aligned addresses (offsets are 2 MiB-aligned) for mappings of
	 * 2 MiB and more: PMDs need them on 6.12, and users carve aligned
	 * slabs out of regions on every kernel.
	 */
	.get_unmapped_area = thp_get_unmapped_area,
	.llseek = noop_llseek,
};

static struct miscdevice finalloc_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "finalloc",
	.fops = &finalloc_fops,
	.mode = 0660,
};

static int __init finalloc_init(void)
{
	int ret;

	finalloc_node_stats = kcalloc(nr_node_ids,
				      sizeof(*finalloc_node_stats), GFP_KERNEL);
	if (!finalloc_node_stats)
		return -ENOMEM;
	ret = finalloc_sysfs_init();
	if (ret)
		goto err_stats;
	ret = misc_register(&finalloc_misc);
	if (ret)
		goto err_sysfs;
	return 0;

err_sysfs:
	finalloc_sysfs_exit();
err_stats:
	kfree(finalloc_node_stats);
	return ret;
}

static void __exit finalloc_exit(void)
{
	misc_deregister(&finalloc_misc);
	finalloc_region_exit();
	finalloc_sysfs_exit();
	kfree(finalloc_node_stats);
}

module_init(finalloc_init);
module_exit(finalloc_exit);

MODULE_DESCRIPTION("NUMA-node-pinned huge pages with guard regions");
MODULE_LICENSE("GPL");
