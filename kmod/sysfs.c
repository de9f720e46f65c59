// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/finalloc: module-wide counters, the pinned-bytes cap, and a
 * node<N>/ directory per node with memory (laid out like mm/cma_sysfs.c).
 */
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "finalloc-private.h"

struct finalloc_stats finalloc_stats;
struct finalloc_node_stats *finalloc_node_stats;

static struct kobject *finalloc_kobj;

struct finalloc_node_kobj {
	struct kobject kobj;
	int nid;
};

static struct finalloc_node_kobj **finalloc_node_kobjs;

int finalloc_set_cap(const char *buf)
{
	u64 val;
	int ret;

	ret = kstrtoull(buf, 0, &val);
	if (ret)
		return ret;
	if (val > S64_MAX)
		return -EINVAL;
	atomic64_set(&finalloc_stats.pinned_cap, val);
	return 0;
}

struct finalloc_counter_attr {
	struct kobj_attribute attr;
	atomic64_t *val;
};

static ssize_t finalloc_counter_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	struct finalloc_counter_attr *ca =
		container_of(attr, struct finalloc_counter_attr, attr);

	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(ca->val));
}

#define FINALLOC_COUNTER(_name)						\
	struct finalloc_counter_attr finalloc_##_name##_attr = {	\
		.attr = __ATTR(_name, 0444, finalloc_counter_show, NULL), \
		.val = &finalloc_stats._name,				\
	}

static FINALLOC_COUNTER(pinned_bytes);
static FINALLOC_COUNTER(held_bytes);
static FINALLOC_COUNTER(regions);
static FINALLOC_COUNTER(mappings);
static FINALLOC_COUNTER(faults);
static FINALLOC_COUNTER(pmd_faults);
static FINALLOC_COUNTER(guard_faults);
static FINALLOC_COUNTER(alloc_failures);

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", FINALLOC_ABI_VERSION);
}

static ssize_t cap_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  (long long)atomic64_read(&finalloc_stats.pinned_cap));
}

static ssize_t cap_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	int ret = finalloc_set_cap(buf);

	return ret ? ret : count;
}

static struct kobj_attribute finalloc_version_attr = __ATTR_RO(version);
static struct kobj_attribute finalloc_cap_attr = __ATTR_RW(cap);

static struct attribute *finalloc_attrs[] = {
	&finalloc_version_attr.attr,
	&finalloc_cap_attr.attr,
	&finalloc_pinned_bytes_attr.attr.attr,
	&finalloc_held_bytes_attr.attr.attr,
	&finalloc_regions_attr.attr.attr,
	&finalloc_mappings_attr.attr.attr,
	&finalloc_faults_attr.attr.attr,
	&finalloc_pmd_faults_attr.attr.attr,
	&finalloc_guard_faults_attr.attr.attr,
	&finalloc_alloc_failures_attr.attr.attr,
	NULL,
};

static const struct attribute_group finalloc_group = {
	.attrs = finalloc_attrs,
};

static int finalloc_nid(struct kobject *kobj)
{
	return container_of(kobj, struct finalloc_node_kobj, kobj)->nid;
}

static ssize_t node_pinned_bytes_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	int nid = finalloc_nid(kobj);

	return sysfs_emit(buf, "%lld\n", (long long)
			  atomic64_read(&finalloc_node_stats[nid].pinned_bytes));
}

static ssize_t node_pages_2m_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	int nid = finalloc_nid(kobj);

	return sysfs_emit(buf, "%lld\n", (long long)
			  atomic64_read(&finalloc_node_stats[nid].pages_2m));
}

static struct kobj_attribute finalloc_node_pinned_attr =
	__ATTR(pinned_bytes, 0444, node_pinned_bytes_show, NULL);
static struct kobj_attribute finalloc_node_pages_2m_attr =
	__ATTR(pages_2m, 0444, node_pages_2m_show, NULL);

static struct attribute *finalloc_node_attrs[] = {
	&finalloc_node_pinned_attr.attr,
	&finalloc_node_pages_2m_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(finalloc_node);

static void finalloc_node_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct finalloc_node_kobj, kobj));
}

static const struct kobj_type finalloc_node_ktype = {
	.release = finalloc_node_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = finalloc_node_groups,
};

static void finalloc_nodes_del(void)
{
	int nid;

	for (nid = 0; nid < nr_node_ids; nid++)
		if (finalloc_node_kobjs[nid])
			kobject_put(&finalloc_node_kobjs[nid]->kobj);
	kfree(finalloc_node_kobjs);
}

int finalloc_sysfs_init(void)
{
	struct finalloc_node_kobj *nk;
	int ret, nid;

	finalloc_kobj = kobject_create_and_add("finalloc", kernel_kobj);
	if (!finalloc_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(finalloc_kobj, &finalloc_group);
	if (ret)
		goto err_kobj;

	finalloc_node_kobjs = kcalloc(nr_node_ids, sizeof(*finalloc_node_kobjs),
				      GFP_KERNEL);
	if (!finalloc_node_kobjs) {
		ret = -ENOMEM;
		goto err_group;
	}
	for_each_node_state(nid, N_MEMORY) {
		nk = kzalloc(sizeof(*nk), GFP_KERNEL);
		if (!nk) {
			ret = -ENOMEM;
			goto err_nodes;
		}
		nk->nid = nid;
		finalloc_node_kobjs[nid] = nk;
		ret = kobject_init_and_add(&nk->kobj, &finalloc_node_ktype,
					   finalloc_kobj, "node%d", nid);
		if (ret)
			goto err_nodes;
	}
	return 0;

err_nodes:
	finalloc_nodes_del();
err_group:
	sysfs_remove_group(finalloc_kobj, &finalloc_group);
err_kobj:
	kobject_put(finalloc_kobj);
	return ret;
}

void finalloc_sysfs_exit(void)
{
	finalloc_nodes_del();
	sysfs_remove_group(finalloc_kobj, &finalloc_group);
	kobject_put(finalloc_kobj);
}
