// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_leak: a client that leaks one gomm object on purpose, for the
 * kmemleak check of `make check` (scripts/guest/kmemleak).  The pointer is
 * kept only scrambled, so a kmemleak scan finds no reference to the object
 * and must report it, with gomm_leak_one() in its backtrace.  Unloading
 * the module frees it.
 */
#include <linux/gomm.h>
#include <linux/module.h>
#include <linux/string.h>

#define GOMM_LEAK_SIZE	200
#define GOMM_LEAK_KEY	0x5a5a5a5a5a5a5a5aUL

static unsigned long gomm_leak_hidden;

/* Not __init: kmemleak's backtrace must still name it after the load. */
static noinline void *gomm_leak_one(void)
{
	return gomm_alloc(GOMM_LEAK_SIZE, GFP_KERNEL);
}

static int __init gomm_leak_init(void)
{
	void *p = gomm_leak_one();

	if (!p)
		return -ENOMEM;
	memset(p, 0x6b, GOMM_LEAK_SIZE);
	pr_info("gomm_leak: leaked %d bytes at 0x%lx\n", GOMM_LEAK_SIZE,
		(unsigned long)p);
	gomm_leak_hidden = (unsigned long)p ^ GOMM_LEAK_KEY;
	return 0;
}

static void __exit gomm_leak_exit(void)
{
	gomm_free((void *)(gomm_leak_hidden ^ GOMM_LEAK_KEY));
}

module_init(gomm_leak_init);
module_exit(gomm_leak_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm test client that leaks one object for kmemleak");
