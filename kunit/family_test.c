// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gomm_family: the kmalloc family beyond the four calls, and
 * the GFP flags that mean what they say.
 *
 *   GFP      __GFP_NOFAIL retried through failing heap growths (and not
 *            without it, nor without direct reclaim, which WARNs), the
 *            orders and flags each growth attempt uses (SLUB's
 *            allocate_slab() rule), __GFP_ACCOUNT served, counted
 *            and not charged
 *   realloc  NULL and 0, in place and moved, contents kept, __GFP_ZERO as
 *            krealloc(), tiny and large objects, bad pointers reported
 *   RCU      an object stays allocated for a reader inside rcu_read_lock()
 *            and is freed after the grace period; the frees of one CPU in
 *            one grace period are one batch; gomm_rcu_barrier() waits for
 *            a callback that is freeing its batch; bad pointers reported
 *            at once
 *   bulk     whole windows, and windows with holes: distinct live
 *            objects, no overlap with live ones, the per-CPU counters
 *            exact, all-or-nothing on failure, zeroing, and a bulk free of
 *            mixed, shuffled and bad pointers that frees exactly the good
 *   node     gomm_alloc_node(): for each node with memory, small, tiny,
 *            4 KiB, 32 KiB and large objects of that node's pages, with
 *            and without __GFP_THISNODE; NUMA_NO_NODE and the CPU's own
 *            node are gomm_alloc()'s fast path; another node's objects
 *            come from its own mcentral and heap, are freed back to them
 *            from this CPU, and a drain and a scavenge leave that node's
 *            heap holding nothing (skipped with one node); a node that
 *            cannot grow fails __GFP_THISNODE and falls back to the local
 *            node without it
 *
 * Whether an object is free is read from gomm's own state
 * (gomm_test_live()), never from the freed memory.  Each case stays on
 * one CPU (gomm_kunit_pin_cpu()).
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/gomm.h>
#include <linux/kasan.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/sort.h>
#include <linux/string.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_kunit.h"

#define FAM_LARGE	100000
#define FAM_BULK_N	200

static long fam_err(atomic_long_t *c)
{
	return atomic_long_read(c);
}

/* ---- GFP ---- */

#ifdef CONFIG_FAULT_INJECTION
/*
 * __GFP_NOFAIL: with the next three growths failing, a small and a large
 * allocation each come back (after three failed growths each), where the
 * same allocation without it returns NULL at the first.
 */
static void test_gfp_nofail(struct kunit *test)
{
	static const size_t sizes[] = { 64, FAM_LARGE };
	struct hard_fault *f = hard_fault_get(test);
	long fail0;
	unsigned int i;
	void *p;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		hard_force_growth(test);
		hard_fault_arm(f, 1);
		fail0 = fam_err(&gomm_errors.failed_grow);
		KUNIT_EXPECT_NULL_MSG(test, gomm_alloc(sizes[i], GFP_KERNEL),
				      "size %zu, growth failing, no __GFP_NOFAIL",
				      sizes[i]);
		KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.failed_grow), fail0 + 1);

		hard_force_growth(test);
		hard_fault_arm(f, 3);
		fail0 = fam_err(&gomm_errors.failed_grow);
		p = gomm_alloc(sizes[i], GFP_KERNEL | __GFP_NOFAIL);
		KUNIT_EXPECT_NOT_NULL_MSG(test, p, "size %zu, __GFP_NOFAIL", sizes[i]);
		KUNIT_EXPECT_EQ_MSG(test, fam_err(&gomm_errors.failed_grow), fail0 + 3,
				    "size %zu: the failed growths before success",
				    sizes[i]);
		KUNIT_EXPECT_EQ(test, atomic_read(&f->attr->times), 0);
		if (p)
			KUNIT_EXPECT_GE(test, gomm_size(p), sizes[i]);
		gomm_free(p);
	}
	/* above the 4 MiB limit __GFP_NOFAIL cannot help: NULL, no loop */
	KUNIT_EXPECT_NULL(test, gomm_alloc(GOMM_MAX_LARGE_SIZE + 1,
					   GFP_KERNEL | __GFP_NOFAIL | __GFP_NOWARN));
}

/*
 * __GFP_NOFAIL without direct reclaim: the page allocator's WARN (once per
 * load: this is the only case that asks for it), and no retry - the first
 * failed growth gives NULL.  The bracket makes scripts/vm fail the boot if
 * the WARN does not come, or if anything else splats meanwhile.
 */
static void test_gfp_nofail_noreclaim(struct kunit *test)
{
	struct hard_fault *f = hard_fault_get(test);
	long fail0;

	hard_force_growth(test);
	hard_fault_arm(f, 1);
	fail0 = fam_err(&gomm_errors.failed_grow);
	pr_info("gomm-vm: expect-splat on warn\n");
	KUNIT_EXPECT_NULL(test, gomm_alloc(64, GFP_NOWAIT | __GFP_NOFAIL));
	pr_info("gomm-vm: expect-splat off\n");
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.failed_grow), fail0 + 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&f->attr->times), 0);
}
#else
static void test_gfp_nofail(struct kunit *test)
{
	kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
}

static void test_gfp_nofail_noreclaim(struct kunit *test)
{
	kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
}
#endif

/* The growth attempts seen by the grow_fail hook. */
static struct {
	unsigned int n;
	unsigned int order[16];
	gfp_t gfp[16];
	unsigned int min_order;	/* attempts above it fail */
} fam_grow;

static bool fam_grow_fail(unsigned int order, gfp_t gfp)
{
	if (fam_grow.n < ARRAY_SIZE(fam_grow.order)) {
		fam_grow.order[fam_grow.n] = order;
		fam_grow.gfp[fam_grow.n] = gfp;
	}
	fam_grow.n++;
	return order > fam_grow.min_order;
}

static void fam_grow_hook_off(void *unused)
{
	static_branch_disable(&gomm_test_key);
	gomm_test_hooks.grow_fail = NULL;
}

/*
 * One growth of a 1-page span (order 1 in kernel pages) for each caller's
 * flags, every higher order made to fail: orders 10 down to 1 are tried;
 * every one above 1 with the caller's flags made opportunistic (no
 * warning, no retry; for a caller that may reclaim, no reclaim and no
 * reserves), order 1 with the caller's flags less the ones gomm strips.
 * With init_on_alloc every order asks for __GFP_ZERO (the buddy allocator
 * zeroes the block anyway, and heap.c then knows it is zero); without, none.
 */
static void test_gfp_grow_orders(struct kunit *test)
{
	static const gfp_t flags[] = {
		GFP_KERNEL, GFP_ATOMIC, GFP_NOWAIT,
		GFP_KERNEL | __GFP_NOWARN | __GFP_ZERO | __GFP_ACCOUNT,
	};
	gfp_t zero = gomm_init_alloc ? __GFP_ZERO : 0, want, g;
	unsigned int i, j;
	void *p;

	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fam_grow_hook_off, NULL), 0);
	fam_grow.min_order = 1;		/* 8 KiB: two kernel pages */
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		hard_force_growth(test);
		fam_grow.n = 0;
		gomm_test_hooks.grow_fail = fam_grow_fail;
		static_branch_enable(&gomm_test_key);
		/* 64 bytes: class 5, one page a span */
		p = gomm_alloc(64, flags[i]);
		fam_grow_hook_off(NULL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, p, "flags %pGg", &flags[i]);
		gomm_free(p);
		KUNIT_ASSERT_EQ_MSG(test, fam_grow.n, 10U, "attempts, flags %pGg",
				    &flags[i]);
		for (j = 0; j < fam_grow.n; j++) {
			g = fam_grow.gfp[j];
			KUNIT_EXPECT_EQ(test, fam_grow.order[j], 10 - j);
			if (fam_grow.order[j] == 1) {
				want = (flags[i] & ~(__GFP_ZERO | __GFP_ACCOUNT)) | zero;
				KUNIT_EXPECT_EQ_MSG(test, (__force u32)g, (__force u32)want,
						    "order 1: %pGg, caller %pGg",
						    &g, &flags[i]);
				continue;
			}
			KUNIT_EXPECT_TRUE_MSG(test, g & __GFP_NOWARN,
					      "order %u: %pGg", fam_grow.order[j], &g);
			KUNIT_EXPECT_TRUE_MSG(test, g & __GFP_NORETRY,
					      "order %u: %pGg", fam_grow.order[j], &g);
			KUNIT_EXPECT_FALSE_MSG(test, g & __GFP_DIRECT_RECLAIM,
					       "order %u: %pGg", fam_grow.order[j], &g);
			KUNIT_EXPECT_FALSE(test, g & (__GFP_NOFAIL | __GFP_ACCOUNT));
			KUNIT_EXPECT_EQ_MSG(test, (__force u32)(g & __GFP_ZERO), (__force u32)zero,
					    "order %u: %pGg", fam_grow.order[j], &g);
			if (flags[i] & __GFP_DIRECT_RECLAIM) {
				KUNIT_EXPECT_TRUE_MSG(test, g & __GFP_NOMEMALLOC,
						      "order %u: %pGg", fam_grow.order[j], &g);
				KUNIT_EXPECT_FALSE_MSG(test, g & __GFP_KSWAPD_RECLAIM,
						       "order %u: %pGg", fam_grow.order[j], &g);
			} else {
				/* no reclaim asked for: only the three added */
				want = flags[i] | __GFP_NOWARN | __GFP_NORETRY |
				       __GFP_THISNODE | zero;
				KUNIT_EXPECT_EQ_MSG(test, (__force u32)g, (__force u32)want,
						    "order %u: %pGg",
						    fam_grow.order[j], &g);
			}
		}
	}
}

/*
 * __GFP_ACCOUNT: every path serves the object (uncharged), counts it in
 * errors/unaccounted, and the bulk path counts each object.
 */
static void test_gfp_account(struct kunit *test)
{
	static const size_t sizes[] = { 7, 64, 3000, FAM_LARGE };
	long u0 = fam_err(&gomm_errors.unaccounted);
	void *p[ARRAY_SIZE(sizes)], *b[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = gomm_alloc(sizes[i], GFP_KERNEL_ACCOUNT);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_EXPECT_GE(test, gomm_size(p[i]), sizes[i]);
		memset(p[i], 0x6b, sizes[i]);
	}
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.unaccounted),
			u0 + (long)ARRAY_SIZE(sizes));
	KUNIT_ASSERT_EQ(test, gomm_alloc_bulk(64, GFP_KERNEL_ACCOUNT, ARRAY_SIZE(b), b),
			(int)ARRAY_SIZE(b));
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.unaccounted),
			u0 + (long)(ARRAY_SIZE(sizes) + ARRAY_SIZE(b)));
	gomm_free_bulk(ARRAY_SIZE(b), b);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		gomm_free(p[i]);
	/* without the flag nothing is counted */
	u0 = fam_err(&gomm_errors.unaccounted);
	gomm_free(gomm_alloc(64, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.unaccounted), u0);
}

/* ---- realloc ---- */

static void fam_fill(void *p, size_t n, u8 seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		((u8 *)p)[i] = (u8)(seed + i);
}

static bool fam_filled(const void *p, size_t n, u8 seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((const u8 *)p)[i] != (u8)(seed + i))
			return false;
	return true;
}

/* NULL is gomm_alloc(); 0 frees and gives NULL, for every kind of object. */
static void test_realloc_null_zero(struct kunit *test)
{
	static const size_t sizes[] = { 5, 64, 4000, FAM_LARGE };
	unsigned int i;
	void *p;

	KUNIT_EXPECT_NULL(test, gomm_realloc(NULL, 0, GFP_KERNEL));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p = gomm_realloc(NULL, sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, gomm_test_live(p));
		KUNIT_EXPECT_GE(test, gomm_size(p), sizes[i]);
		KUNIT_EXPECT_NULL(test, gomm_realloc(p, 0, GFP_KERNEL));
		KUNIT_EXPECT_FALSE_MSG(test, gomm_test_live(p),
				       "size %zu: realloc to 0 did not free", sizes[i]);
	}
}

/*
 * Within the usable size the object stays where it is, shrinking too;
 * beyond it the object moves, keeps its whole old contents, and the old
 * one is freed.  Small and large objects.
 */
static void test_realloc_in_place_and_move(struct kunit *test)
{
	static const struct { size_t from, to; } steps[] = {
		{ 100, 112 }, { 112, 50 }, { 50, 113 }, { 113, 4000 },
		{ 4000, 40000 }, { 40000, 40960 }, { 40960, 100 },
		{ 100, 200000 },
	};
	size_t ks, keep;
	void *p, *q;
	unsigned int i;

	p = gomm_alloc(steps[0].from, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		ks = gomm_size(p);
		/* what KASAN lets the caller touch: the size it asked for */
		keep = min(steps[i].from, steps[i].to);
		fam_fill(p, keep, (u8)i);
		q = gomm_realloc(p, steps[i].to, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, q);
		KUNIT_EXPECT_GE(test, gomm_size(q), steps[i].to);
		if (ks >= steps[i].to) {
			KUNIT_EXPECT_PTR_EQ_MSG(test, q, p, "%zu -> %zu (usable %zu) moved",
						steps[i].from, steps[i].to, ks);
			KUNIT_EXPECT_EQ(test, gomm_size(q), ks);
		} else {
			KUNIT_EXPECT_PTR_NE_MSG(test, q, p, "%zu -> %zu (usable %zu)",
						steps[i].from, steps[i].to, ks);
			KUNIT_EXPECT_FALSE_MSG(test, gomm_test_live(p),
					       "%zu -> %zu: the old object is live",
					       steps[i].from, steps[i].to);
		}
		KUNIT_EXPECT_TRUE_MSG(test, fam_filled(q, keep, (u8)i),
				      "%zu -> %zu: contents lost", steps[i].from,
				      steps[i].to);
		p = q;
	}
	gomm_free(p);
}

/*
 * __GFP_ZERO as krealloc(): in place the spare from the new size to the
 * usable size is zeroed, so a later growth in place reads zeroes; moved,
 * the new object is zero beyond the old one.
 */
static void test_realloc_zero(struct kunit *test)
{
	const gfp_t gz = GFP_KERNEL | __GFP_ZERO;
	u8 *p, *q;
	size_t ks;

	/* a dirty object of class 112 first, so zeroes are gomm's doing */
	p = gomm_alloc(100, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	memset(p, 0xa5, 100);
	gomm_free(p);
	p = gomm_zalloc(100, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	ks = gomm_size(p);
	KUNIT_ASSERT_EQ(test, ks, (size_t)112);
	memset(p, 0x3c, 100);
	q = gomm_realloc(p, 40, gz);
	KUNIT_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_NULL(test, memchr_inv(p, 0x3c, 40));
	q = gomm_realloc(p, ks, gz);	/* grows back in place */
	KUNIT_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_NULL(test, memchr_inv(p, 0x3c, 40));
	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p + 40, 0, ks - 40),
			      "the spare of a __GFP_ZERO shrink is not zero");
	q = gomm_realloc(p, 1000, gz);	/* moves */
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_EXPECT_PTR_NE(test, q, p);
	KUNIT_EXPECT_NULL(test, memchr_inv(q, 0x3c, 40));
	KUNIT_EXPECT_NULL(test, memchr_inv(q + 40, 0, 1000 - 40));
	gomm_free(q);
}

/* A tiny object grows into another object; a shrink keeps it in place. */
static void test_realloc_tiny(struct kunit *test)
{
	u8 *p, *q;

	p = gomm_alloc(6, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	fam_fill(p, 6, 9);
	q = gomm_realloc(p, 3, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_TRUE(test, fam_filled(q, 3, 9));
	q = gomm_realloc(p, 14, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_EXPECT_GE(test, gomm_size(q), (size_t)14);
	/* usable 6 (tiny: its requested size) or 8 (gomm.tiny=0): moved */
	KUNIT_EXPECT_PTR_NE(test, q, p);
	KUNIT_EXPECT_FALSE(test, gomm_test_live(p));
	KUNIT_EXPECT_TRUE(test, fam_filled(q, 3, 9));
	gomm_free(q);
}

/*
 * Bad pointers are reported (realloc's texts), counted, and nothing is
 * touched: an interior pointer's object stays live with its contents.
 */
static void test_realloc_bad(struct kunit *test)
{
	long bad = fam_err(&gomm_errors.bad_free);
	long dbl = fam_err(&gomm_errors.double_free);
	void *k = kmalloc(64, GFP_KERNEL);
	u8 *p = gomm_alloc(64, GFP_KERNEL), *f = gomm_alloc(64, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, k);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, f);
	fam_fill(p, 64, 1);
	gomm_free(f);
	KUNIT_EXPECT_NULL(test, gomm_realloc(f, 128, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_realloc(p + 8, 128, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_realloc(k, 128, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_realloc(p + 8, 8, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.double_free), dbl + 1);
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.bad_free), bad + 3);
	KUNIT_EXPECT_TRUE(test, gomm_test_live(p));
	KUNIT_EXPECT_TRUE(test, fam_filled(p, 64, 1));
	KUNIT_EXPECT_FALSE(test, gomm_test_live(f));
	gomm_free(p);
	kfree(k);
}

/* ---- RCU ---- */

struct fam_reader {
	u8 *p;
	size_t size;
	struct completion in;
	atomic_t go;
	bool intact;
	struct completion done;
};

/* A reader that holds rcu_read_lock() until told, then checks @p. */
static int fam_reader_fn(void *arg)
{
	struct fam_reader *r = arg;
	unsigned long end = jiffies + 10 * HZ;

	rcu_read_lock();
	complete(&r->in);
	while (!atomic_read(&r->go) && time_before(jiffies, end))
		cpu_relax();
	r->intact = !memchr_inv(r->p, 0x5a, r->size);
	rcu_read_unlock();
	complete(&r->done);
	return 0;
}

/*
 * gomm_free_rcu() while a reader is inside rcu_read_lock(): the object
 * stays allocated (gomm's state) and intact (read by the reader, inside
 * its section) however long the reader stays; after the reader is gone,
 * synchronize_rcu() and gomm's barrier, it is free.
 */
static void test_rcu_reader(struct kunit *test)
{
	static const size_t sizes[] = { 64, 700, FAM_LARGE };
	struct fam_reader *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct task_struct *t;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, r);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		r->size = sizes[i];
		r->p = gomm_alloc(sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r->p);
		memset(r->p, 0x5a, sizes[i]);
		init_completion(&r->in);
		init_completion(&r->done);
		atomic_set(&r->go, 0);
		t = kthread_run(fam_reader_fn, r, "gomm_fam_reader");
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		wait_for_completion(&r->in);
		gomm_free_rcu(r->p);
		/* long enough for grace periods the reader did not hold up */
		msleep(100);
		KUNIT_EXPECT_TRUE_MSG(test, gomm_test_live(r->p),
				      "size %zu: freed under a reader", sizes[i]);
		atomic_set(&r->go, 1);
		wait_for_completion(&r->done);
		KUNIT_EXPECT_TRUE_MSG(test, r->intact, "size %zu: changed under a reader",
				      sizes[i]);
		synchronize_rcu();
		gomm_rcu_barrier();
		KUNIT_EXPECT_FALSE_MSG(test, gomm_test_live(r->p),
				       "size %zu: not freed after the grace period",
				       sizes[i]);
	}
}

struct fam_rcu_obj {
	struct rcu_head rcu;
	u64 payload[6];
};

#define FAM_RCU_N	1000

/*
 * gomm_free_rcu_head() with interrupts off, inside one read-side section:
 * nothing is freed before the section ends, and the frees of this CPU
 * during the grace period form at most two batches (the first free's,
 * and everything after it), not one callback each.
 */
static void test_rcu_head_batched(struct kunit *test)
{
	struct fam_rcu_obj **o = kunit_kcalloc(test, FAM_RCU_N, sizeof(*o), GFP_KERNEL);
	unsigned long flags;
	long b0, live = 0;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, o);
	for (i = 0; i < FAM_RCU_N; i++) {
		o[i] = gomm_alloc(sizeof(*o[i]), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, o[i]);
	}
	gomm_rcu_barrier();
	b0 = atomic_long_read(&gomm_rcu_batches);
	rcu_read_lock();
	local_irq_save(flags);
	for (i = 0; i < FAM_RCU_N; i++)
		gomm_free_rcu_field(o[i], rcu);
	local_irq_restore(flags);
	for (i = 0; i < FAM_RCU_N; i++)
		live += gomm_test_live(o[i]);
	rcu_read_unlock();
	KUNIT_EXPECT_EQ_MSG(test, live, (long)FAM_RCU_N, "freed inside the section");
	synchronize_rcu();
	gomm_rcu_barrier();
	KUNIT_EXPECT_LE_MSG(test, atomic_long_read(&gomm_rcu_batches) - b0, 2L,
			    "call_rcu()s for %u frees of one CPU", FAM_RCU_N);
	live = 0;
	for (i = 0; i < FAM_RCU_N; i++)
		live += gomm_test_live(o[i]);
	KUNIT_EXPECT_EQ_MSG(test, live, 0L, "live after the grace period");
}

/*
 * A callback held between taking its batch and freeing it (the
 * rcu_freeing hook, on another CPU); gomm_rcu_barrier(), called meanwhile
 * from a thread of its own, must not return before the object is freed:
 * the drain and the unload rely on it.  It once did, at once: the
 * callback cleared its CPU's in_flight before freeing the batch.  Both
 * threads are made before the callback is held: making a thread may wait
 * for the held CPU.
 */
static struct {
	unsigned int cpu;	/* the CPU whose callback to hold */
	atomic_t armed;		/* its next callback to reach the hook stops */
	atomic_t entered;	/* it stopped */
	atomic_t released;	/* let it go on */
	atomic_t timed_out;	/* it went on alone, after 5 s */
} fam_hold;

/* static: a barrier thread that outlives a failed case still has it */
static struct fam_barrier {
	void *p;
	bool live;		/* when gomm_rcu_barrier() returned */
	bool released;		/* ditto: had the callback been let go? */
	struct completion go, done;
} fam_barrier;

static void fam_rcu_freeing(void)
{
	unsigned long end = jiffies + 5 * HZ;

	if (raw_smp_processor_id() != READ_ONCE(fam_hold.cpu) ||
	    !atomic_xchg(&fam_hold.armed, 0))
		return;
	atomic_set(&fam_hold.entered, 1);
	while (!atomic_read(&fam_hold.released)) {
		if (time_after(jiffies, end)) {
			atomic_set(&fam_hold.timed_out, 1);
			break;
		}
		cpu_relax();
	}
}

static void fam_rcu_hook_off(void *unused)
{
	static_branch_disable(&gomm_test_key);
	gomm_test_hooks.rcu_freeing = NULL;
	atomic_set(&fam_hold.armed, 0);
	atomic_set(&fam_hold.released, 1);
	complete(&fam_barrier.go);	/* if the case failed before */
}

static int fam_barrier_fn(void *arg)
{
	struct fam_barrier *b = arg;

	wait_for_completion(&b->go);
	gomm_rcu_barrier();
	b->released = atomic_read(&fam_hold.released);
	b->live = gomm_test_live(b->p);
	kthread_complete_and_exit(&b->done, 0);
}

static int fam_free_rcu_fn(void *p)
{
	gomm_free_rcu(p);
	return 0;
}

static void test_rcu_barrier_waits(struct kunit *test)
{
	unsigned int me = raw_smp_processor_id(), other;
	struct fam_barrier *b = &fam_barrier;
	struct task_struct *t, *f;
	unsigned long end, done;

	memset(b, 0, sizeof(*b));
	init_completion(&b->go);
	init_completion(&b->done);
	other = cpumask_any_but(cpu_online_mask, me);
	if (other >= nr_cpu_ids)
		kunit_skip(test, "one CPU online");
	b->p = gomm_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->p);
	gomm_rcu_barrier();	/* no batch of before in flight */
	atomic_set(&fam_hold.armed, 0);
	WRITE_ONCE(fam_hold.cpu, other);
	atomic_set(&fam_hold.entered, 0);
	atomic_set(&fam_hold.released, 0);
	atomic_set(&fam_hold.timed_out, 0);
	/* from here on, a failed assert lets both go (fam_rcu_hook_off()) */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fam_rcu_hook_off, NULL), 0);
	/* the barrier's thread, on this CPU, waits for b->go */
	t = kthread_create(fam_barrier_fn, b, "gomm_fam_barrier");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	kthread_bind(t, me);
	wake_up_process(t);
	/* the free, on another CPU, whose callback then holds that CPU */
	f = kthread_create(fam_free_rcu_fn, b->p, "gomm_fam_free");
	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	kthread_bind(f, other);
	gomm_test_hooks.rcu_freeing = fam_rcu_freeing;
	static_branch_enable(&gomm_test_key);
	atomic_set(&fam_hold.armed, 1);
	wake_up_process(f);
	end = jiffies + 30 * HZ;
	while (!atomic_read(&fam_hold.entered) && time_before(jiffies, end))
		msleep(20);
	KUNIT_ASSERT_TRUE_MSG(test, atomic_read(&fam_hold.entered),
			      "the callback of CPU %u did not reach the hook in 30 s", other);
	/* the barrier, while the callback is held on its CPU */
	complete(&b->go);
	/* long enough for a barrier that does not wait to return */
	done = wait_for_completion_timeout(&b->done, msecs_to_jiffies(500));
	atomic_set(&fam_hold.released, 1);
	if (!done)
		done = wait_for_completion_timeout(&b->done, 30 * HZ);
	KUNIT_ASSERT_TRUE_MSG(test, done,
			      "gomm_rcu_barrier() still waiting 30 s after the release");
	KUNIT_EXPECT_FALSE_MSG(test, atomic_read(&fam_hold.timed_out),
			       "the callback was held 5 s: the test was too slow");
	KUNIT_EXPECT_TRUE_MSG(test, b->released,
			      "gomm_rcu_barrier() returned while a callback was freeing its batch");
	KUNIT_EXPECT_FALSE_MSG(test, b->live,
			       "the object was live when gomm_rcu_barrier() returned");
}

/* Bad pointers are reported when they are given, and nothing is queued. */
static void test_rcu_bad(struct kunit *test)
{
	struct fam_rcu_obj *o = gomm_alloc(sizeof(*o), GFP_KERNEL);
	long dbl = fam_err(&gomm_errors.double_free);
	long bad = fam_err(&gomm_errors.bad_free);
	char stack_obj[16];
	long b0;

	KUNIT_ASSERT_NOT_NULL(test, o);
	gomm_rcu_barrier();
	b0 = atomic_long_read(&gomm_rcu_batches);
	gomm_free_rcu(NULL);
	gomm_free_rcu(stack_obj);
	gomm_free_rcu((u8 *)o + 8);
	gomm_free(o);
	gomm_free_rcu(o);
	gomm_free_rcu_head(o, &o->rcu);
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.bad_free), bad + 2);
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.double_free), dbl + 2);
	KUNIT_EXPECT_FALSE(test, gomm_rcu_pending());
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_rcu_batches), b0);
}

/* ---- bulk ---- */

static int fam_cmp_ptr(const void *a, const void *b)
{
	unsigned long x = *(unsigned long *)a, y = *(unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * FAM_BULK_N 64-byte objects (several windows): distinct, live, aligned,
 * of the class's size; this CPU's allocations counted exactly; a bulk
 * free frees every one, and the frees are counted once swept.
 */
static void test_bulk_windows(struct kunit *test)
{
	void **v = kunit_kcalloc(test, FAM_BULK_N, sizeof(*v), GFP_KERNEL);
	void **sorted = kunit_kcalloc(test, FAM_BULK_N, sizeof(*v), GFP_KERNEL);
	int cpu = raw_smp_processor_id();
	struct gomm_cpu_stats a, b, c, ta, tb;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, v);
	KUNIT_ASSERT_NOT_NULL(test, sorted);
	gomm_drain();
	gomm_stats_cpu(cpu, &a);
	gomm_stats_cpus_total(&ta);
	KUNIT_ASSERT_EQ(test, gomm_alloc_bulk(64, GFP_KERNEL, FAM_BULK_N, v), FAM_BULK_N);
	gomm_stats_cpu(cpu, &b);
	KUNIT_EXPECT_EQ(test, b.allocs - a.allocs, (unsigned long)FAM_BULK_N);
	for (i = 0; i < FAM_BULK_N; i++) {
		KUNIT_EXPECT_TRUE(test, gomm_test_live(v[i]));
		KUNIT_EXPECT_EQ(test, gomm_size(v[i]), (size_t)64);
		KUNIT_EXPECT_TRUE(test, IS_ALIGNED((unsigned long)v[i], 64));
		memset(v[i], i, 64);
	}
	memcpy(sorted, v, FAM_BULK_N * sizeof(*v));
	sort(sorted, FAM_BULK_N, sizeof(*sorted), fam_cmp_ptr, NULL);
	for (i = 1; i < FAM_BULK_N; i++)
		KUNIT_EXPECT_GE_MSG(test, (unsigned long)sorted[i],
				    (unsigned long)sorted[i - 1] + 64,
				    "objects overlap");
	for (i = 0; i < FAM_BULK_N; i++)
		KUNIT_EXPECT_NULL(test, memchr_inv(v[i], i & 0xff, 64));
	gomm_free_bulk(FAM_BULK_N, v);
	for (i = 0; i < FAM_BULK_N; i++)
		KUNIT_EXPECT_FALSE(test, gomm_test_live(v[i]));
	gomm_drain();
	gomm_stats_cpus_total(&tb);
	KUNIT_EXPECT_EQ_MSG(test, tb.frees - ta.frees, (unsigned long)FAM_BULK_N,
			    "frees swept by the drain");
	gomm_stats_cpu(cpu, &c);
	KUNIT_EXPECT_EQ_MSG(test, c.allocs - a.allocs, (unsigned long)FAM_BULK_N,
			    "a drain changed the allocations");
}

/*
 * Windows with holes: 64-byte objects taken one by one, every third one
 * and a run of ten freed, then bulk requests of 1 to 257 objects, so the
 * windows they take start mid-word and hold runs of every length.  Each
 * bulk object is live and distinct from every other live object (the
 * ones kept included), and the kept ones keep their contents.
 */
static void test_bulk_runs(struct kunit *test)
{
	static const unsigned int counts[] = { 1, 2, 3, 63, 64, 65, 257 };
	unsigned int nkeep = 0, nall = 0, i, j, total = 0;
	void **keep, **v, **all;

	for (i = 0; i < ARRAY_SIZE(counts); i++)
		total += counts[i];
	keep = kunit_kcalloc(test, 512, sizeof(*keep), GFP_KERNEL);
	v = kunit_kcalloc(test, total, sizeof(*v), GFP_KERNEL);
	all = kunit_kcalloc(test, 512 + total, sizeof(*all), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, keep);
	KUNIT_ASSERT_NOT_NULL(test, v);
	KUNIT_ASSERT_NOT_NULL(test, all);
	for (i = 0; i < 512; i++) {
		void *p = gomm_alloc(64, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		if (i % 3 == 1 || (i >= 200 && i < 210)) {
			gomm_free(p);
		} else {
			fam_fill(p, 64, nkeep);
			keep[nkeep++] = p;
		}
	}
	/* the frees swept: the holes are the next windows' free bits */
	gomm_drain();
	for (i = 0, j = 0; i < ARRAY_SIZE(counts); j += counts[i++])
		KUNIT_ASSERT_EQ(test, gomm_alloc_bulk(64, GFP_KERNEL, counts[i], v + j),
				(int)counts[i]);
	for (i = 0; i < total; i++) {
		KUNIT_EXPECT_TRUE(test, gomm_test_live(v[i]));
		memset(v[i], 0xa5, 64);
		all[nall++] = v[i];
	}
	for (i = 0; i < nkeep; i++) {
		KUNIT_EXPECT_TRUE_MSG(test, fam_filled(keep[i], 64, i),
				      "kept object %u overwritten", i);
		all[nall++] = keep[i];
	}
	sort(all, nall, sizeof(*all), fam_cmp_ptr, NULL);
	for (i = 1; i < nall; i++)
		KUNIT_EXPECT_GE_MSG(test, (unsigned long)all[i],
				    (unsigned long)all[i - 1] + 64,
				    "objects overlap");
	gomm_free_bulk(total, v);
	gomm_free_bulk(nkeep, keep);
	for (i = 0; i < total; i++)
		KUNIT_EXPECT_FALSE(test, gomm_test_live(v[i]));
	for (i = 0; i < nkeep; i++)
		KUNIT_EXPECT_FALSE(test, gomm_test_live(keep[i]));
}

/*
 * Every path: tiny, small, large, with __GFP_ZERO on objects that were
 * dirty, and gomm.tiny=0's class 1; each object live and usable.
 */
static void test_bulk_sizes_zero(struct kunit *test)
{
	static const size_t sizes[] = { 3, 8, 64, 3000, GOMM_MAX_SMALL_SIZE, FAM_LARGE };
	void *v[40];
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		KUNIT_ASSERT_EQ(test, gomm_alloc_bulk(sizes[i], GFP_KERNEL,
						      ARRAY_SIZE(v), v), (int)ARRAY_SIZE(v));
		for (j = 0; j < ARRAY_SIZE(v); j++) {
			KUNIT_EXPECT_GE(test, gomm_size(v[j]), sizes[i]);
			memset(v[j], 0xee, sizes[i]);
		}
		gomm_free_bulk(ARRAY_SIZE(v), v);
		KUNIT_ASSERT_EQ(test, gomm_alloc_bulk(sizes[i], GFP_KERNEL | __GFP_ZERO,
						      ARRAY_SIZE(v), v), (int)ARRAY_SIZE(v));
		for (j = 0; j < ARRAY_SIZE(v); j++)
			KUNIT_EXPECT_NULL_MSG(test, memchr_inv(v[j], 0, sizes[i]),
					      "size %zu: not zeroed", sizes[i]);
		gomm_free_bulk(ARRAY_SIZE(v), v);
		for (j = 0; j < ARRAY_SIZE(v); j++)
			KUNIT_EXPECT_FALSE(test, gomm_test_live(v[j]));
	}
	KUNIT_EXPECT_EQ(test, gomm_alloc_bulk(64, GFP_KERNEL, 0, v), 0);
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * All or nothing: with growth failing, a request that needs new spans
 * returns 0 and leaves no object in use behind.
 */
static void test_bulk_failure(struct kunit *test)
{
	void **v = kunit_kcalloc(test, 2000, sizeof(*v), GFP_KERNEL);
	struct hard_fault *f = hard_fault_get(test);
	unsigned int sc = gomm_size_to_class(64);
	long in_use;
	int got;

	KUNIT_ASSERT_NOT_NULL(test, v);
	hard_force_growth(test);
	in_use = gomm_stats_in_use(sc);
	/*
	 * One object can be had; then the heap's free pages go back (a grow
	 * takes a whole chunk, whose pages would serve the next spans), so
	 * what the bulk call needs past that object's span must grow it.
	 */
	KUNIT_ASSERT_EQ(test, gomm_alloc_bulk(64, GFP_KERNEL, 1, v), 1);
	hard_force_growth(test);
	hard_fault_arm(f, -1);
	got = gomm_alloc_bulk(64, GFP_KERNEL | __GFP_NOWARN, 1999, v + 1);
	hard_fault_arm(f, 0);		/* no more failures */
	KUNIT_EXPECT_EQ(test, got, 0);
	if (got)			/* leave no object to the next tests */
		gomm_free_bulk(got, v + 1);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(sc), in_use + 1);
	gomm_free(v[0]);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(sc), in_use);
}
#else
static void test_bulk_failure(struct kunit *test)
{
	kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
}
#endif

/*
 * A bulk free of mixed input: objects of two classes interleaved, large
 * and tiny ones, NULL, a pointer twice, an interior pointer and memory
 * gomm never returned.  The good objects are all freed, once; each bad
 * entry is reported once and changes nothing.
 */
static void test_bulk_free_mixed(struct kunit *test)
{
	long bad = fam_err(&gomm_errors.bad_free);
	long dbl = fam_err(&gomm_errors.double_free);
	void *k = kmalloc(64, GFP_KERNEL), *good[70], *v[80];
	unsigned int i, n = 0;
	u8 *keep;

	KUNIT_ASSERT_NOT_NULL(test, k);
	keep = gomm_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, keep);
	for (i = 0; i < 60; i++) {
		good[i] = gomm_alloc(i & 1 ? 256 : 64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, good[i]);
	}
	for (; i < 65; i++) {
		good[i] = gomm_alloc(5, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, good[i]);
	}
	for (; i < ARRAY_SIZE(good); i++) {
		good[i] = gomm_alloc(FAM_LARGE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, good[i]);
	}
	/* backwards, so the 64s of a span come in descending order */
	for (i = ARRAY_SIZE(good); i-- > 0;) {
		v[n++] = good[i];
		if (i == 30) {
			v[n++] = NULL;
			v[n++] = good[40];	/* twice */
			v[n++] = keep + 16;	/* interior */
			v[n++] = k;		/* not gomm's */
		}
	}
	gomm_free_bulk(n, v);
	for (i = 0; i < ARRAY_SIZE(good); i++)
		KUNIT_EXPECT_FALSE_MSG(test, gomm_test_live(good[i]), "object %u live", i);
	KUNIT_EXPECT_TRUE(test, gomm_test_live(keep));
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.double_free), dbl + 1);
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.bad_free), bad + 2);
	gomm_free(keep);
	kfree(k);
}

/*
 * The kernel's init_on_alloc and init_on_free (make check boots the tiny0
 * run with both on): every object comes zeroed, whatever was written to
 * its slot before, and a freed object is zero before its slot is reused
 * (read with KASAN quiet: it is freed memory).  With init_on_free the
 * tiny allocator is off.  Skipped on a boot with both off.
 */
static void test_init_on_alloc_free(struct kunit *test)
{
	static const size_t sizes[] = { 8, 64, 1000, 32768, 100000 };
	bool on_alloc = want_init_on_alloc(0), on_free = want_init_on_free();
	unsigned int i, round;
	size_t usable;
	void *p;

	if (!on_alloc && !on_free)
		kunit_skip(test, "init_on_alloc and init_on_free are off on this boot");
	KUNIT_EXPECT_EQ(test, gomm_init_alloc, on_alloc);
	KUNIT_EXPECT_EQ(test, gomm_init_free, on_free);
	if (on_free)
		KUNIT_EXPECT_FALSE_MSG(test, gomm_tiny_enabled,
				       "the tiny allocator is on with init_on_free");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (round = 0; round < 8; round++) {
			p = gomm_alloc(sizes[i], GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, p);
			if (on_alloc)
				KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p, 0, sizes[i]),
						      "%zu bytes: not zeroed (round %u)",
						      sizes[i], round);
			memset(p, 0xa5, sizes[i]);
			usable = gomm_size(p);
			gomm_free(p);
			if (!on_free)
				continue;
			/* the CPU is pinned and nothing here allocates */
			kasan_disable_current();
			KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p, 0, usable),
					      "%zu bytes: not zero once freed (round %u)",
					      sizes[i], round);
			kasan_enable_current();
		}
	}
}

/* ---- NUMA nodes: gomm_alloc_node() ---- */

static const size_t fam_node_sizes[] = {
	8, 64, 1000, SZ_4K, GOMM_MAX_SMALL_SIZE, FAM_LARGE, SZ_1M,
};

/*
 * Is @p an object of node @node: its page's node, and the node gomm's
 * span of it records (where it goes back to)?  The negative control in
 * test_node_remote() shows it can say no.
 */
static bool fam_on_node(const void *p, int node)
{
	struct gomm_span *s = gomm_span_of(p, NULL);

	return page_to_nid(virt_to_page(p)) == node && s && s->node == node;
}

/*
 * Every node with memory, every size, with __GFP_THISNODE (the node's
 * mcentral or heap, always) and without (the CPU's node takes the fast
 * path; another node is a preference, and the test VM's nodes have memory
 * free): the object is of the node, usable, and freed.  Runs with one
 * node too (then of the CPU's node, through both paths).
 */
static void test_node_each(struct kunit *test)
{
	static const gfp_t flags[] = { GFP_KERNEL | __GFP_THISNODE, GFP_KERNEL };
	unsigned int i, f, hi;
	struct gomm_heap *h;
	int nid, n = 0;
	void *p;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
		nid = h->node;
		n++;
		for (f = 0; f < ARRAY_SIZE(flags); f++) {
			for (i = 0; i < ARRAY_SIZE(fam_node_sizes); i++) {
				p = gomm_alloc_node(fam_node_sizes[i], flags[f], nid);
				KUNIT_ASSERT_NOT_NULL_MSG(test, p, "node %d, %zu bytes, flags %#x",
							  nid, fam_node_sizes[i],
							  (__force u32)flags[f]);
				KUNIT_EXPECT_TRUE_MSG(test, fam_on_node(p, nid),
						      "node %d, %zu bytes, flags %#x: page on node %d",
						      nid, fam_node_sizes[i], (__force u32)flags[f],
						      page_to_nid(virt_to_page(p)));
				KUNIT_EXPECT_GE(test, gomm_size(p), fam_node_sizes[i]);
				memset(p, 0x5a, fam_node_sizes[i]);
				gomm_free(p);
				KUNIT_EXPECT_FALSE(test, gomm_test_live(p));
			}
		}
		/*
		 * __GFP_ZERO on the node path too, over the requested bytes
		 * (the slack is a KASAN redzone)
		 */
		p = gomm_alloc_node(1000, GFP_KERNEL | __GFP_THISNODE | __GFP_ZERO, nid);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_NULL(test, memchr_inv(p, 0, 1000));
		gomm_free(p);
	}
	KUNIT_EXPECT_EQ_MSG(test, n, num_node_state(N_NORMAL_MEMORY),
			    "a node with memory has no gomm heap");
	KUNIT_EXPECT_TRUE(test, gomm_node_heap(numa_mem_id()));
}

/*
 * NUMA_NO_NODE and the CPU's own node are gomm_alloc(): the object is the
 * next one of the window of this CPU's span (the fast path), of
 * numa_mem_id()'s node; with __GFP_THISNODE too when that span is of the
 * CPU's node (with init_on_alloc too, zeroed); a large object is of that
 * node too.
 */
static void test_node_local(struct kunit *test)
{
	static const int nodes[] = { NUMA_NO_NODE, 0 };
	unsigned int sc = gomm_size_to_class(64), i;
	int node, local = numa_mem_id();
	struct gomm_mcache *mc;
	struct gomm_span *s;
	void *p, *q, *r, *want;
	u64 cache;

	gomm_drain();	/* no span of an earlier test in this CPU's mcache */
	mc = gomm_stats_mcache(raw_smp_processor_id());
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		node = nodes[i] == NUMA_NO_NODE ? NUMA_NO_NODE : local;
		p = gomm_alloc(64, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		s = READ_ONCE(mc->alloc[sc]);
		cache = READ_ONCE(s->alloc_cache);
		want = cache ? (void *)(s->window + __ffs64(cache) * s->elemsize) : NULL;
		q = gomm_alloc_node(64, GFP_KERNEL, node);
		KUNIT_ASSERT_NOT_NULL(test, q);
		if (want)
			KUNIT_EXPECT_PTR_EQ_MSG(test, q, want,
						"node %d: not the next object of the CPU's window",
						node);
		/* __GFP_THISNODE too, the window's span being of this node */
		s = READ_ONCE(mc->alloc[sc]);
		cache = READ_ONCE(s->alloc_cache);
		want = cache && s->node == local ?
		       (void *)(s->window + __ffs64(cache) * s->elemsize) : NULL;
		/* dirty it: a free object, below KASAN (gomm's own clients only here) */
		if (want)
			__memset(want, 0x5a, 64);
		r = gomm_alloc_node(64, GFP_KERNEL | __GFP_THISNODE, node);
		KUNIT_ASSERT_NOT_NULL(test, r);
		if (want)
			KUNIT_EXPECT_PTR_EQ_MSG(test, r, want,
						"node %d, __GFP_THISNODE: not the next object of the CPU's window",
						node);
		if (gomm_init_alloc)
			KUNIT_EXPECT_NULL_MSG(test, memchr_inv(r, 0, 64),
					      "node %d, __GFP_THISNODE: not zeroed with init_on_alloc",
					      node);
		KUNIT_EXPECT_TRUE(test, fam_on_node(r, local));
		gomm_free(r);
		KUNIT_EXPECT_TRUE_MSG(test, fam_on_node(q, local),
				      "node %d: object of node %d, the CPU's is %d", node,
				      page_to_nid(virt_to_page(q)), local);
		gomm_free(p);
		gomm_free(q);
		p = gomm_alloc_node(FAM_LARGE, GFP_KERNEL, node);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, fam_on_node(p, local));
		gomm_free(p);
		/* the slow path with __GFP_THISNODE (it once refused -1) */
		p = gomm_alloc_node(FAM_LARGE, GFP_KERNEL | __GFP_THISNODE, node);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, fam_on_node(p, local));
		gomm_free(p);
	}
}

/* Spans of @sc of node @nid's mcentral, and its full ones. */
static void fam_node_spans(int nid, unsigned int sc, unsigned long *spans,
			   unsigned long *full)
{
	struct gomm_mcentral *c = &gomm_heaps[nid]->central[sc];
	unsigned long flags;

	raw_spin_lock_irqsave(&c->lock, flags);
	*spans = c->nr_spans;
	*full = c->nr_full;
	raw_spin_unlock_irqrestore(&c->lock, flags);
}

#define FAM_NODE_SPANS	3

/*
 * Another node's objects: of its pages, in its spans, which no mcache
 * holds (never CACHED) and which its own mcentral lists; this CPU's node
 * is not touched.  Freed from this CPU, each full span goes back to the
 * other node's partial list, the large object to that node's heap; a drain
 * and a scavenge (retain_kb=0) leave the node's heap with what it had
 * before, and owning no page that is not in use.  The negative control:
 * fam_on_node() says no for the other node's objects against this node.
 */
static void test_node_remote(struct kunit *test)
{
	unsigned int sc = gomm_size_to_class(1024);
	unsigned int n = FAM_NODE_SPANS * gomm_class_to_nelems[sc], i, wrong = 0;
	unsigned long spans0, full0, lspans0, lfull0, spans, full, lspans;
	struct gomm_heap_stats st0, st;
	int local = numa_mem_id(), remote = NUMA_NO_NODE;
	struct gomm_span *s;
	struct gomm_heap *h;
	void **p, *big;
	unsigned int hi;
	u8 state;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		if (h->node != local && remote == NUMA_NO_NODE)
			remote = h->node;
	if (remote == NUMA_NO_NODE)
		kunit_skip(test, "one node with memory (boot with numa=fake=2 for two)");
	p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	gomm_drain();
	fam_node_spans(remote, sc, &spans0, &full0);
	fam_node_spans(local, sc, &lspans0, &lfull0);
	gomm_heap_stats(remote, &st0);

	for (i = 0; i < n; i++) {
		p[i] = gomm_alloc_node(1024, GFP_KERNEL | __GFP_THISNODE, remote);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		KUNIT_EXPECT_TRUE_MSG(test, fam_on_node(p[i], remote),
				      "object %u: page of node %d", i,
				      page_to_nid(virt_to_page(p[i])));
		KUNIT_EXPECT_NE(test, READ_ONCE(gomm_span_of(p[i], NULL)->state),
				GOMM_SPAN_CACHED);
		/* the negative control: the check tells the nodes apart */
		wrong += fam_on_node(p[i], local);
	}
	KUNIT_EXPECT_EQ_MSG(test, wrong, 0U,
			    "fam_on_node() took objects of node %d for node %d's",
			    remote, local);
	big = gomm_alloc_node(FAM_LARGE, GFP_KERNEL | __GFP_THISNODE, remote);
	KUNIT_ASSERT_NOT_NULL(test, big);
	KUNIT_EXPECT_TRUE(test, fam_on_node(big, remote));
	KUNIT_EXPECT_FALSE(test, fam_on_node(big, local));

	fam_node_spans(remote, sc, &spans, &full);
	KUNIT_EXPECT_EQ(test, spans, spans0 + FAM_NODE_SPANS);
	KUNIT_EXPECT_EQ(test, full, full0 + FAM_NODE_SPANS);
	fam_node_spans(local, sc, &lspans, &full);
	KUNIT_EXPECT_EQ_MSG(test, lspans, lspans0, "node %d's own spans changed", local);
	gomm_heap_stats(remote, &st);
	KUNIT_EXPECT_EQ(test, st.nr_large, st0.nr_large + 1);
	KUNIT_EXPECT_EQ(test, st.pages_in_use, st0.pages_in_use + FAM_NODE_SPANS *
			gomm_class_to_npages[sc] + DIV_ROUND_UP(FAM_LARGE, GOMM_PAGE_SIZE));

	/*
	 * The first free of each full span moves it to its node's partial
	 * list (the background scavenger may free an emptied span: the
	 * struct stays readable in the RCU section, DEAD)
	 */
	for (i = 0; i < n; i++) {
		rcu_read_lock();
		s = gomm_span_of(p[i], NULL);
		gomm_free(p[i]);
		state = READ_ONCE(s->state);
		rcu_read_unlock();
		KUNIT_EXPECT_TRUE_MSG(test, state == GOMM_SPAN_PARTIAL ||
				      (state == GOMM_SPAN_DEAD &&
				       (i + 1) % gomm_class_to_nelems[sc] == 0),
				      "object %u: span state %u", i, state);
	}
	fam_node_spans(remote, sc, &spans, &full);
	KUNIT_EXPECT_EQ(test, full, full0);
	gomm_free(big);
	gomm_heap_stats(remote, &st);
	KUNIT_EXPECT_EQ(test, st.nr_large, st0.nr_large);

	/* the drain gives the empty spans back to their node's heap */
	gomm_drain();
	fam_node_spans(remote, sc, &spans, &full);
	KUNIT_EXPECT_EQ(test, spans, spans0);
	gomm_heap_stats(remote, &st);
	KUNIT_EXPECT_EQ(test, st.pages_in_use, st0.pages_in_use);
	gomm_kunit_set_retain(test, 0);
	gomm_scavenge();
	gomm_heap_stats(remote, &st);
	KUNIT_EXPECT_EQ_MSG(test, st.pages_owned, st.pages_in_use,
			    "node %d's heap holds free pages after a scavenge with retain_kb=0",
			    remote);
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * A node whose heap cannot grow: with __GFP_THISNODE the allocation fails
 * (one failed growth, nothing else tried); without it, on another node,
 * the object comes from the local path instead (kmalloc_node()'s
 * fallback), of the CPU's node.  The second half needs two nodes.
 */
static void test_node_fallback(struct kunit *test)
{
	struct hard_fault *f = hard_fault_get(test);
	int local = numa_mem_id(), remote = NUMA_NO_NODE;
	struct gomm_heap *h;
	unsigned int hi;
	long fail0;
	void *p;

	hard_force_growth(test);
	hard_fault_arm(f, 1);
	fail0 = fam_err(&gomm_errors.failed_grow);
	p = gomm_alloc_node(FAM_LARGE, GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN, local);
	KUNIT_EXPECT_NULL_MSG(test, p, "__GFP_THISNODE: an object although node %d cannot grow",
			      local);
	gomm_free(p);
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.failed_grow), fail0 + 1);
	p = gomm_alloc_node(FAM_LARGE, GFP_KERNEL | __GFP_THISNODE, local);
	KUNIT_EXPECT_NOT_NULL(test, p);
	gomm_free(p);

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		if (h->node != local && remote == NUMA_NO_NODE)
			remote = h->node;
	if (remote == NUMA_NO_NODE)
		kunit_skip(test, "one node with memory: no other node to fall back from");
	hard_force_growth(test);
	hard_fault_arm(f, 1);
	fail0 = fam_err(&gomm_errors.failed_grow);
	p = gomm_alloc_node(FAM_LARGE, GFP_KERNEL, remote);
	KUNIT_ASSERT_NOT_NULL_MSG(test, p, "no fallback from node %d", remote);
	KUNIT_EXPECT_TRUE_MSG(test, fam_on_node(p, local),
			      "the fallback's object is of node %d, not the CPU's %d",
			      page_to_nid(virt_to_page(p)), local);
	KUNIT_EXPECT_EQ(test, fam_err(&gomm_errors.failed_grow), fail0 + 1);
	gomm_free(p);
}
#else
static void test_node_fallback(struct kunit *test)
{
	kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
}
#endif

static struct kunit_case gomm_family_cases[] = {
	KUNIT_CASE(test_gfp_nofail),
	KUNIT_CASE(test_gfp_nofail_noreclaim),
	KUNIT_CASE(test_gfp_grow_orders),
	KUNIT_CASE(test_gfp_account),
	KUNIT_CASE(test_realloc_null_zero),
	KUNIT_CASE(test_realloc_in_place_and_move),
	KUNIT_CASE(test_realloc_zero),
	KUNIT_CASE(test_realloc_tiny),
	KUNIT_CASE(test_realloc_bad),
	KUNIT_CASE(test_rcu_reader),
	KUNIT_CASE(test_rcu_head_batched),
	KUNIT_CASE(test_rcu_barrier_waits),
	KUNIT_CASE(test_rcu_bad),
	KUNIT_CASE(test_bulk_windows),
	KUNIT_CASE(test_bulk_runs),
	KUNIT_CASE(test_bulk_sizes_zero),
	KUNIT_CASE(test_bulk_failure),
	KUNIT_CASE(test_bulk_free_mixed),
	KUNIT_CASE(test_init_on_alloc_free),
	KUNIT_CASE(test_node_each),
	KUNIT_CASE(test_node_local),
	KUNIT_CASE(test_node_remote),
	KUNIT_CASE(test_node_fallback),
	{}
};

static struct kunit_suite gomm_family_suite = {
	.name = "gomm_family",
	.init = gomm_kunit_pin_cpu,
	.test_cases = gomm_family_cases,
};

kunit_test_suites(&gomm_family_suite);
