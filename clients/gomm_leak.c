// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_leak: a client that leaks gomm objects on purpose, for the kmemleak
 * check of `make check` (scripts/guest/kmemleak).  Each set of leaks is
 * three objects whose addresses gomm's own metadata could also hold:
 *
 *   small  a 200-byte object (in the first set, with gomm's heap empty
 *          before, it is at the first byte of a 4 MiB chunk: the case
 *          kmemleak once missed);
 *   span   the first object of a small span (the span's start address);
 *   chunk  a large object at the first byte of a chunk.
 *
 * Loading the module leaks one set; writing to the "leak" parameter leaks
 * one more (up to GOMM_LEAK_SETS).  The pointers are kept only scrambled,
 * so a kmemleak scan finds no reference to the objects and must report
 * each, with its allocating function in the backtrace.  Unloading the
 * module frees them.  With hide_large=1 (the check's negative control) a
 * plain pointer to each large object is kept as well, as gomm's metadata
 * would if it hid a kind of object: kmemleak must then miss every one.
 * Writing "ADDR SIZE" to the "find" parameter prints the words in RAM that
 * point into that range (the check runs it on each object kmemleak missed).
 * Built only for kernels with KUnit (clients/Kbuild): it uses
 * gomm_span_of(), exported to KUnit only, to find a span's first object.
 */
#include <linux/gomm.h>
#include <linux/kernel.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/task_stack.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/string.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_client.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

#define GOMM_LEAK_KEY	0x5a5a5a5a5a5a5a5aUL
#define GOMM_LEAK_SETS	30
#define GOMM_LEAK_TRIES	512
/* a small class whose span holds a handful of objects */
#define GOMM_LEAK_SPAN_SIZE	1024
/* the smallest large object */
#define GOMM_LEAK_CHUNK_SIZE	(GOMM_MAX_SMALL_SIZE + GOMM_PAGE_SIZE)

enum { LEAK_SMALL, LEAK_SPAN, LEAK_CHUNK, LEAK_KINDS };

static const size_t gomm_leak_size[LEAK_KINDS] = {
	200, GOMM_LEAK_SPAN_SIZE, GOMM_LEAK_CHUNK_SIZE,
};

static const char *const gomm_leak_what[LEAK_KINDS] = {
	"a small object", "the first object of a span",
	"a large object at the first byte of a chunk",
};

static DEFINE_MUTEX(gomm_leak_lock);
/* objects held while looking for a place (under gomm_leak_lock) */
static void *gomm_leak_held[GOMM_LEAK_TRIES];
static unsigned long gomm_leak_hidden[GOMM_LEAK_SETS][LEAK_KINDS];
static unsigned int gomm_leak_nsets;

static bool hide_large;
module_param(hide_large, bool, 0444);
MODULE_PARM_DESC(hide_large, "Keep a plain pointer to each large object (kmemleak must miss them)");
/* with hide_large: a reference kmemleak finds in this module's data */
static void *gomm_leak_plain[GOMM_LEAK_SETS];

/*
 * Not __init, and one per kind: kmemleak's backtrace must name the
 * allocating function after the load.
 */
static noinline void *gomm_leak_small(void)
{
	return gomm_alloc(gomm_leak_size[LEAK_SMALL], GFP_KERNEL);
}

static noinline void *gomm_leak_span_try(void)
{
	return gomm_alloc(GOMM_LEAK_SPAN_SIZE, GFP_KERNEL);
}

static noinline void *gomm_leak_chunk_try(void)
{
	return gomm_alloc(GOMM_LEAK_CHUNK_SIZE, GFP_KERNEL);
}

/*
 * Free the first @n objects of gomm_leak_held and clear it: no stale copy
 * of an object kept may stay there (kmemleak would see a reference).
 */
static void gomm_leak_release_held(unsigned int n)
{
	while (n--)
		gomm_free(gomm_leak_held[n]);
	memset(gomm_leak_held, 0, sizeof(gomm_leak_held));
}

static bool gomm_leak_at_span_start(void *p)
{
	return gomm_span_of(p, NULL)->start == (unsigned long)p;
}

static bool gomm_leak_at_chunk_start(void *p)
{
	return IS_ALIGNED((unsigned long)p, BIT(GOMM_CHUNK_SHIFT));
}

/*
 * A large object at the first byte of a chunk.  The heap is address-ordered
 * first fit and its chunks are often physically contiguous, so a fresh
 * chunk's first byte is rarely where the next object lands: fill the free
 * run from the object up to the next chunk boundary (or keep an object that
 * crosses it), and the next object starts there.  Nothing is freed until
 * the end (a freed large span may stay cached for reuse).
 */
static void *gomm_leak_chunk(void)
{
	void **held = gomm_leak_held, *p = NULL;
	unsigned long rest;
	unsigned int n = 0;

	while (n + 2 <= GOMM_LEAK_TRIES) {
		p = gomm_leak_chunk_try();
		if (!p || gomm_leak_at_chunk_start(p))
			break;
		held[n++] = p;
		rest = ALIGN((unsigned long)p + 1, BIT(GOMM_CHUNK_SHIFT)) -
		       (unsigned long)p;
		rest = rest > GOMM_LEAK_CHUNK_SIZE ? rest - GOMM_LEAK_CHUNK_SIZE : 0;
		/* a filler up to the boundary, if it is a large object too */
		if (rest >= GOMM_LEAK_CHUNK_SIZE) {
			p = gomm_alloc(rest, GFP_KERNEL);
			if (p)
				held[n++] = p;
		}
		p = NULL;
	}
	gomm_leak_release_held(n);
	return p;
}

/*
 * Allocate with @try until @where accepts an object (at most
 * GOMM_LEAK_TRIES times); free the others.
 */
static void *gomm_leak_find(void *(*try)(void), bool (*where)(void *))
{
	void **held = gomm_leak_held, *found = NULL;
	unsigned int n;

	for (n = 0; n < GOMM_LEAK_TRIES; n++) {
		held[n] = try();
		if (!held[n])
			break;
		if (where(held[n])) {
			found = held[n];
			break;
		}
	}
	gomm_leak_release_held(n);
	return found;
}

static void gomm_leak_free_set(unsigned long *set)
{
	unsigned int k;

	for (k = 0; k < LEAK_KINDS; k++)
		if (set[k])
			gomm_free((void *)(set[k] ^ GOMM_LEAK_KEY));
}

static int gomm_leak_one_set(void)
{
	unsigned long *set;
	void *p[LEAK_KINDS];
	unsigned int k;
	int ret = 0;

	mutex_lock(&gomm_leak_lock);
	if (gomm_leak_nsets == GOMM_LEAK_SETS) {
		ret = -ENOSPC;
		goto out;
	}
	p[LEAK_SMALL] = gomm_leak_small();
	p[LEAK_SPAN] = gomm_leak_find(gomm_leak_span_try, gomm_leak_at_span_start);
	p[LEAK_CHUNK] = gomm_leak_chunk();
	set = gomm_leak_hidden[gomm_leak_nsets];
	for (k = 0; k < LEAK_KINDS; k++)
		set[k] = p[k] ? (unsigned long)p[k] ^ GOMM_LEAK_KEY : 0;
	for (k = 0; k < LEAK_KINDS; k++) {
		if (!p[k]) {
			pr_err("gomm_leak: no place for %s\n", gomm_leak_what[k]);
			gomm_leak_free_set(set);
			memset(set, 0, sizeof(gomm_leak_hidden[0]));
			ret = -ENOMEM;
			goto out;
		}
	}
	/* a store GCC must keep, though nothing reads the array */
	if (hide_large)
		WRITE_ONCE(gomm_leak_plain[gomm_leak_nsets], p[LEAK_CHUNK]);
	for (k = 0; k < LEAK_KINDS; k++) {
		memset(p[k], 0x6b, gomm_leak_size[k]);
		pr_info("gomm_leak: set %u: leaked %zu bytes at 0x%lx, %s\n",
			gomm_leak_nsets, gomm_leak_size[k], (unsigned long)p[k],
			gomm_leak_what[k]);
	}
	gomm_leak_nsets++;
out:
	mutex_unlock(&gomm_leak_lock);
	/* no copy of the pointers left on this task's stack */
	memzero_explicit(p, sizeof(p));
	gomm_client_wipe_stack(GOMM_CLIENT_WIPE_DEPTH);
	return ret;
}

static int gomm_leak_param_set(const char *val, const struct kernel_param *kp)
{
	return gomm_leak_one_set();
}

static const struct kernel_param_ops gomm_leak_param_ops = {
	.set = gomm_leak_param_set,
};
module_param_cb(leak, &gomm_leak_param_ops, NULL, 0200);
MODULE_PARM_DESC(leak, "Write anything: leak one more set of objects");

/*
 * The "find" parameter: "ADDR SIZE" prints where in RAM (the direct map,
 * every page that reads) a word points into [ADDR, ADDR + SIZE), with
 * the page's flags and mem_dump_obj() of the word (the slab object or
 * vmalloc area holding it, if any), this task's stack left out.  For the
 * kmemleak check's misses: kmemleak takes any such word in memory it
 * scans for a reference.  At most GOMM_LEAK_FIND_MAX hits are printed:
 * span structs (gomm_span) and kmemleak's own records (kmemleak_object),
 * which kmemleak does not scan, filled the first 16 of a miss's 31 once.
 */
#define GOMM_LEAK_FIND_MAX	64

static bool gomm_leak_own_stack(struct page *page)
{
	void *stack = task_stack_page(current);
	unsigned int i;

	for (i = 0; i < THREAD_SIZE / PAGE_SIZE; i++)
		if (page == (is_vmalloc_addr(stack) ?
			     vmalloc_to_page(stack + i * PAGE_SIZE) :
			     virt_to_page(stack + i * PAGE_SIZE)))
			return true;
	return false;
}

static void gomm_leak_find_refs(unsigned long addr, unsigned long size)
{
	unsigned long pfn, last = PHYS_PFN(__pa(high_memory - 1));
	unsigned long hits = 0, v, *w, *end;
	struct page *page;

	for (pfn = 0; pfn <= last; pfn++) {
		if (!pfn_valid(pfn))
			continue;
		page = pfn_to_page(pfn);
		w = page_address(page);
		if (!w || copy_from_kernel_nofault(&v, w, sizeof(v)))
			continue;
		for (end = w + PAGE_SIZE / sizeof(*w); w < end; w++) {
			v = READ_ONCE_NOCHECK(*w);
			/* the search's own copies of @addr */
			if (v - addr >= size || gomm_leak_own_stack(page))
				continue;
			if (++hits > GOMM_LEAK_FIND_MAX)
				continue;
			pr_info("gomm_leak: find: 0x%lx at phys 0x%llx, page flags %pGp:",
				v, (unsigned long long)page_to_phys(page) +
				offset_in_page(w), &page->flags);
			/* continues the line: what holds the word */
			mem_dump_obj(w);
		}
		cond_resched();
	}
	pr_info("gomm_leak: find: %lu words point into [0x%lx, 0x%lx)\n",
		hits, addr, addr + size);
}

static int gomm_leak_find_set(const char *val, const struct kernel_param *kp)
{
	unsigned long addr, size;

	if (sscanf(val, "%lx %lu", &addr, &size) != 2 || !size)
		return -EINVAL;
	gomm_leak_find_refs(addr, size);
	return 0;
}

static const struct kernel_param_ops gomm_leak_find_ops = {
	.set = gomm_leak_find_set,
};
module_param_cb(find, &gomm_leak_find_ops, NULL, 0200);
MODULE_PARM_DESC(find, "Write \"ADDR SIZE\": print the words in RAM that point into that range");

static int __init gomm_leak_init(void)
{
	return gomm_leak_one_set();
}

static void __exit gomm_leak_exit(void)
{
	unsigned int i;

	for (i = 0; i < gomm_leak_nsets; i++)
		gomm_leak_free_set(gomm_leak_hidden[i]);
}

module_init(gomm_leak_init);
module_exit(gomm_leak_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm test client that leaks objects for kmemleak");
