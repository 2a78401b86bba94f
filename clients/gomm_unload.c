// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_unload: a client that holds live gomm objects of known classes, for
 * the test of unloading gomm with live objects (scripts/guest/unload).
 *
 * At load it allocates, on one CPU, GOMM_UNLOAD_SMALL objects of a few
 * small classes (one class takes two spans), tiny objects that each need
 * a block of their own (with the tiny allocator on), and large objects
 * (whole chunks among them, so that gomm's pages returned at unload show
 * in MemFree), and prints what gomm must report for them when it unloads
 * while they are live:
 *
 *   gomm_unload: expect N objects of class C (S bytes)
 *   gomm_unload: expect N tiny blocks (16 bytes)
 *   gomm_unload: expect N large objects (B bytes)
 *   gomm_unload: expect S small and L large objects were
 *   gomm_unload: object at 0xADDR        (one line per object)
 *   gomm_unload: holds N objects (pid P) (last: the load worked; P is
 *                                         the loading task, kmemleak's
 *                                         "pid" of every object)
 *
 * Writing to the "drop" parameter forgets every object without freeing it
 * (the client's references are gone, gomm still has them live) and leaks
 * GOMM_UNLOAD_CONTROLS kmalloc() objects, kmemleak's controls: a scan must
 * report at least one ("gomm_unload: control at 0xADDR (N bytes)"; with
 * one control, a scan in make check's full boot missed it three times in
 * one day, and once 0 of 4 were reported: stale copies of addresses in
 * gomm's old heap pages, on long-lived threads' stacks most likely, which
 * the check's scan now leaves out).  Each is a large kmalloc()
 * (from the page allocator): on 7.x kmemleak did not report a 184-byte one
 * (a stale pointer to it somewhere, not found), and a large one was
 * missed once on 6.12: since then the task's stack is wiped after the
 * leak (gomm_client_wipe_stack()).  Unloading the module
 * frees what it still holds, so without "drop" it leaves nothing behind.
 * Built only for kernels with KUnit (clients/Kbuild): it reads
 * gomm_tiny_enabled, exported to KUnit only.
 */
#include <linux/gomm.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_client.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

/* kept scrambled: no reference for kmemleak to find after "drop" */
#define GOMM_UNLOAD_KEY		0xa5a5a5a5a5a5a5a5UL
/* the control leak's size: above KMALLOC_MAX_CACHE_SIZE, see above */
#define GOMM_UNLOAD_CONTROL	(4 * PAGE_SIZE)
#define GOMM_UNLOAD_CONTROLS	8

struct gomm_unload_set {
	unsigned int class;	/* a size class, or 0: the class of @size */
	size_t size;		/* a request size, for class 0 */
	unsigned int count;
};

/*
 * Small classes, request = the class size: the class of a 48-byte request
 * (class 5, one page), the class with the longest spans (65: three objects
 * in GOMM_MAX_CLASS_NPAGES pages; four take two spans), and the largest
 * class, one per span.
 */
static const struct gomm_unload_set gomm_unload_small[] = {
	{ .size = 48, .count = 3 },
	{ .class = GOMM_NUM_CLASSES - 3, .count = 4 },
	{ .class = GOMM_NUM_CLASSES - 1, .count = 2 },
};

/* tiny: 12 bytes, so no two share a block (12 + 12 > 16) */
#define GOMM_UNLOAD_TINY_SIZE	(GOMM_TINY_SIZE - 4)
#define GOMM_UNLOAD_TINY	2

/* large: two whole chunks and a run of pages that is not a page multiple */
static const size_t gomm_unload_large[] = {
	GOMM_MAX_LARGE_SIZE, GOMM_MAX_LARGE_SIZE, SZ_1M + 1,
};

#define GOMM_UNLOAD_MAX		64

static DEFINE_MUTEX(gomm_unload_lock);
static unsigned long gomm_unload_objs[GOMM_UNLOAD_MAX];
static unsigned int gomm_unload_n;

static int gomm_unload_hold(void *p, size_t size)
{
	if (!p) {
		pr_err("gomm_unload: allocation of %zu bytes failed\n", size);
		return -ENOMEM;
	}
	memset(p, 0x3c, size);
	gomm_unload_objs[gomm_unload_n++] = (unsigned long)p ^ GOMM_UNLOAD_KEY;
	pr_info("gomm_unload: object at 0x%lx\n", (unsigned long)p);
	return 0;
}

static void gomm_unload_free(void)
{
	while (gomm_unload_n)
		gomm_free((void *)(gomm_unload_objs[--gomm_unload_n] ^ GOMM_UNLOAD_KEY));
}

static int gomm_unload_alloc(void)
{
	unsigned long small = 0, large_bytes = 0;
	unsigned int i, k, c;
	size_t size;
	int ret = 0;

	/* one CPU: its tiny block and spans, nobody else's */
	migrate_disable();
	for (i = 0; i < ARRAY_SIZE(gomm_unload_small) && !ret; i++) {
		c = gomm_unload_small[i].class ?: gomm_size_to_class(gomm_unload_small[i].size);
		size = gomm_class_to_size[c];
		for (k = 0; k < gomm_unload_small[i].count && !ret; k++)
			ret = gomm_unload_hold(gomm_alloc(size, GFP_KERNEL), size);
		if (!ret)
			pr_info("gomm_unload: expect %u objects of class %u (%zu bytes)\n",
				gomm_unload_small[i].count, c, size);
		small += gomm_unload_small[i].count;
	}
	for (k = 0; k < GOMM_UNLOAD_TINY && !ret; k++)
		ret = gomm_unload_hold(gomm_alloc(GOMM_UNLOAD_TINY_SIZE, GFP_KERNEL),
				       GOMM_UNLOAD_TINY_SIZE);
	if (!ret && gomm_tiny_enabled)
		pr_info("gomm_unload: expect %u tiny blocks (%u bytes)\n",
			GOMM_UNLOAD_TINY, GOMM_TINY_SIZE);
	else if (!ret)
		pr_info("gomm_unload: expect %u objects of class %u (%u bytes)\n",
			GOMM_UNLOAD_TINY, gomm_size_to_class(GOMM_UNLOAD_TINY_SIZE),
			gomm_class_to_size[gomm_size_to_class(GOMM_UNLOAD_TINY_SIZE)]);
	small += GOMM_UNLOAD_TINY;
	for (k = 0; k < ARRAY_SIZE(gomm_unload_large) && !ret; k++) {
		ret = gomm_unload_hold(gomm_alloc(gomm_unload_large[k], GFP_KERNEL),
				       gomm_unload_large[k]);
		large_bytes += round_up(gomm_unload_large[k], GOMM_PAGE_SIZE);
	}
	migrate_enable();
	if (ret) {
		gomm_unload_free();
		return ret;
	}
	pr_info("gomm_unload: expect %zu large objects (%lu bytes)\n",
		ARRAY_SIZE(gomm_unload_large), large_bytes);
	pr_info("gomm_unload: expect %lu small and %zu large objects were\n",
		small, ARRAY_SIZE(gomm_unload_large));
	pr_info("gomm_unload: holds %u objects (pid %d)\n", gomm_unload_n, current->pid);
	return 0;
}

static int gomm_unload_drop(const char *val, const struct kernel_param *kp)
{
	void *control;
	int i;

	mutex_lock(&gomm_unload_lock);
	pr_info("gomm_unload: dropped %u objects without freeing them\n", gomm_unload_n);
	memset(gomm_unload_objs, 0, sizeof(gomm_unload_objs));
	gomm_unload_n = 0;
	mutex_unlock(&gomm_unload_lock);
	/*
	 * Several controls: kmemleak is conservative, and a stale copy of one
	 * address (a register an interrupt saved on an idle CPU's IRQ stack,
	 * a cached dead stack) can hide that one leak for long; the check
	 * wants at least one reported (it proves the scan works).
	 */
	for (i = 0; i < GOMM_UNLOAD_CONTROLS; i++) {
		control = kmalloc(GOMM_UNLOAD_CONTROL, GFP_KERNEL);
		if (!control)
			return -ENOMEM;
		memset(control, 0x3c, GOMM_UNLOAD_CONTROL);
		pr_info("gomm_unload: control at 0x%lx (%lu bytes)\n",
			(unsigned long)control, GOMM_UNLOAD_CONTROL);
	}
	/* no copy of the pointers left on this task's stack */
	control = NULL;
	barrier_data(&control);
	gomm_client_wipe_stack(GOMM_CLIENT_WIPE_DEPTH);
	return 0;
}

static const struct kernel_param_ops gomm_unload_drop_ops = {
	.set = gomm_unload_drop,
};
module_param_cb(drop, &gomm_unload_drop_ops, NULL, 0200);
MODULE_PARM_DESC(drop, "Write anything: forget every object without freeing it");

static int __init gomm_unload_init(void)
{
	int ret;

	mutex_lock(&gomm_unload_lock);
	ret = gomm_unload_alloc();
	mutex_unlock(&gomm_unload_lock);
	return ret;
}

static void __exit gomm_unload_exit(void)
{
	mutex_lock(&gomm_unload_lock);
	gomm_unload_free();
	mutex_unlock(&gomm_unload_lock);
}

module_init(gomm_unload_init);
module_exit(gomm_unload_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm test client that holds live objects for the unload test");
