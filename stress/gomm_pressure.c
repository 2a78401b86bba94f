// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_pressure - does gomm give memory back when the kernel needs it?
 *
 * At load: a thread per CPU allocates its share of mb= MiB through gomm
 * in mixed sizes (64 B .. 64 KiB), then frees all of it (with cross=1,
 * each thread frees what the next CPU's thread allocated).  Then, unless
 * hold=1, a hog asks at once for hog_pct= percent of RAM as order-0
 * pages with GFP_KERNEL | __GFP_RETRY_MAYFAIL (reclaim and shrinkers
 * run, no OOM kill) and gives them back (hog_mb= asks for that many MiB
 * instead; with mb=0 the module is only a hog, as the stress loop uses
 * it).  It prints
 *
 *   gomm-pressure: allocated N objects, B bytes; freed on the same|next CPU
 *   gomm-pressure: hog got G of W pages
 *   gomm-pressure: ok | FAIL: ...
 *
 * and loads (so that the caller can read gomm's debugfs afterwards) even
 * when the hog came up short: the verdict is the last line.  With slab=1
 * it uses kmalloc()/kfree() instead, for the baseline.  Used by
 * scripts/guest/pressure.
 */
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/gomm.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

static unsigned int mb = 500;
module_param(mb, uint, 0444);
MODULE_PARM_DESC(mb, "MiB to allocate and free through gomm");
static bool cross;
module_param(cross, bool, 0444);
MODULE_PARM_DESC(cross, "Free each object on another CPU than the one that allocated it");
static unsigned int hog_pct = 70;
module_param(hog_pct, uint, 0444);
MODULE_PARM_DESC(hog_pct, "Percent of RAM the hog asks for afterwards");
static unsigned int hog_mb;
module_param(hog_mb, uint, 0444);
MODULE_PARM_DESC(hog_mb, "MiB the hog asks for (instead of hog_pct)");
static bool hold;
module_param(hold, bool, 0444);
MODULE_PARM_DESC(hold, "No hog: leave the freed memory to the caller's pressure");
static bool slab;
module_param(slab, bool, 0444);
MODULE_PARM_DESC(slab, "Use kmalloc()/kfree() instead of gomm (the baseline)");

#define GP_MIN_SHIFT	6	/* 64 bytes */
#define GP_MAX_SHIFT	16	/* 64 KiB */

struct gp_thread {
	void **obj;		/* this thread's share */
	unsigned long max;	/* slots in @obj */
	unsigned long n;	/* objects allocated */
	unsigned long bytes;	/* bytes allocated */
	unsigned long budget;	/* bytes to allocate */
	struct gp_thread *victim;	/* whose objects this thread frees */
	struct rnd_state rnd;
	bool nomem;
};

static struct gp_thread *gp;
static unsigned int gp_nthreads;	/* entries in gp[] */
static atomic_t gp_phase_left;
static struct completion gp_phase_done;
static struct completion gp_free_start;

static void *gp_alloc(size_t size)
{
	return slab ? kmalloc(size, GFP_KERNEL) : gomm_alloc(size, GFP_KERNEL);
}

static void gp_free(void *p)
{
	if (slab)
		kfree(p);
	else
		gomm_free(p);
}

static void gp_phase_end(void)
{
	if (atomic_dec_and_test(&gp_phase_left))
		complete(&gp_phase_done);
}

static int gp_thread_fn(void *arg)
{
	struct gp_thread *t = arg;
	unsigned long i;
	unsigned int e;
	size_t size;

	while (t->bytes < t->budget && t->n < t->max) {
		/* log-uniform: as many 64 B..128 B objects as 32..64 KiB ones */
		e = GP_MIN_SHIFT + prandom_u32_state(&t->rnd) %
			(GP_MAX_SHIFT - GP_MIN_SHIFT);
		size = (1UL << e) + prandom_u32_state(&t->rnd) % (1UL << e);
		t->obj[t->n] = gp_alloc(size);
		if (!t->obj[t->n]) {
			t->nomem = true;
			break;
		}
		/* touch it, as a client would */
		memset(t->obj[t->n], 0x6b, min_t(size_t, size, 256));
		t->bytes += size;
		t->n++;
		cond_resched();
	}
	gp_phase_end();
	wait_for_completion(&gp_free_start);
	for (i = 0; i < t->victim->n; i++) {
		gp_free(t->victim->obj[i]);
		cond_resched();
	}
	gp_phase_end();
	return 0;
}

/* Ask for @want order-0 pages at once; return how many were had. */
static unsigned long gp_hog(unsigned long want)
{
	unsigned long got = 0;
	struct page *page, *tmp;
	LIST_HEAD(pages);

	while (got < want) {
		page = alloc_page(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
		if (!page)
			break;
		list_add(&page->lru, &pages);
		got++;
		cond_resched();
	}
	list_for_each_entry_safe(page, tmp, &pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	return got;
}

static int __init gp_init(void)
{
	unsigned long total = 0, bytes = 0, want, got, per;
	unsigned int i, cpu, started = 0;
	struct task_struct *task;
	bool nomem = false;
	u64 seed = get_random_u64();
	int ret = 0;

	gp_nthreads = num_online_cpus();
	gp = kcalloc(gp_nthreads, sizeof(*gp), GFP_KERNEL);
	if (!gp)
		return -ENOMEM;
	per = (unsigned long)mb * SZ_1M / gp_nthreads;
	for (i = 0; i < gp_nthreads; i++) {
		gp[i].max = per / 256 + 64;
		gp[i].obj = vmalloc_array(gp[i].max, sizeof(void *));
		if (!gp[i].obj) {
			ret = -ENOMEM;
			goto out;
		}
		gp[i].budget = per;
		gp[i].victim = &gp[cross ? (i + 1) % gp_nthreads : i];
		prandom_seed_state(&gp[i].rnd, seed + i);
	}
	init_completion(&gp_phase_done);
	init_completion(&gp_free_start);
	atomic_set(&gp_phase_left, gp_nthreads);
	for_each_online_cpu(cpu) {
		if (started == gp_nthreads)
			break;
		task = kthread_create_on_cpu(gp_thread_fn, &gp[started], cpu,
					     "gomm_pressure/%u");
		if (IS_ERR(task)) {
			pr_err("gomm-pressure: FAIL: kthread: %ld\n", PTR_ERR(task));
			nomem = true;
			break;
		}
		wake_up_process(task);
		started++;
	}
	/* the threads that did not start end no phase */
	if (started < gp_nthreads &&
	    atomic_sub_return(gp_nthreads - started, &gp_phase_left) == 0)
		complete(&gp_phase_done);
	if (!started) {
		ret = -ENOMEM;
		goto out;
	}
	wait_for_completion(&gp_phase_done);
	for (i = 0; i < gp_nthreads; i++) {
		total += gp[i].n;
		bytes += gp[i].bytes;
		nomem |= gp[i].nomem;
	}
	reinit_completion(&gp_phase_done);
	atomic_set(&gp_phase_left, started);
	complete_all(&gp_free_start);
	wait_for_completion(&gp_phase_done);
	pr_info("gomm-pressure: allocated %lu objects, %lu bytes through %s; freed on the %s CPU\n",
		total, bytes, slab ? "kmalloc" : "gomm", cross ? "next" : "same");
	if (nomem) {
		pr_err("gomm-pressure: FAIL: an allocation failed\n");
		goto out;
	}
	if (hold) {
		pr_info("gomm-pressure: ok (hold: no hog)\n");
		goto out;
	}
	want = hog_mb ? (unsigned long)hog_mb * (SZ_1M / PAGE_SIZE) :
			totalram_pages() * hog_pct / 100;
	got = gp_hog(want);
	pr_info("gomm-pressure: hog got %lu of %lu pages\n", got, want);
	if (got < want)
		pr_err("gomm-pressure: FAIL: the hog was %lu pages short\n", want - got);
	else
		pr_info("gomm-pressure: ok\n");
out:
	for (i = 0; i < gp_nthreads; i++)
		vfree(gp[i].obj);
	kfree(gp);
	return ret;
}

static void __exit gp_exit(void)
{
}

module_init(gp_init);
module_exit(gp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm: memory given back under pressure");
