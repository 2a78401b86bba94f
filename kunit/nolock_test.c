// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gomm_nolock: gomm_alloc_nolock() and gomm_free_nolock()
 * (gomm/nolock.c), from real NMI context.
 *
 * The NMIs are the test's own: an NMI_LOCAL handler (register_nmi_handler())
 * that claims only an NMI the test armed on its CPU, and an NMI IPI to its
 * own CPU (__apic_send_IPI_mask(cpumask_of(cpu), NMI_VECTOR), as the
 * kernel's NMI self-test sends its "local IPI": the x2APIC's SELF IPI
 * register, behind __apic_send_IPI_self(), carries fixed vectors only);
 * the test waits for the handler with a timeout.  The handler records in_nmi() and runs a
 * step of the case there.  Contexts covered: NMI (on top of a task with
 * interrupts on or off, and on top of a nolock call stopped in its busy
 * section by the nolock_busy test hook), task context with interrupts on,
 * and task context holding an mcentral lock with interrupts off.
 *
 *   nmi_alloc_free      an NMI allocates (classes 1..67 sizes, __GFP_ZERO)
 *                       and frees; the same step run directly is not in
 *                       NMI (the harness's negative control)
 *   nmi_alloc_task_free an object of an NMI freed by gomm_free() in a task
 *   task_alloc_nmi_free gomm_alloc()'s tiny, small and large objects freed
 *                       in NMI with interrupts off below it: the large one's
 *                       pages wait for the irq_work, which gives them back;
 *                       no freed address stays in the deferral array (a
 *                       reference kmemleak would find in per-CPU data)
 *   nmi_busy            an NMI inside a nolock call on its CPU gets NULL
 *                       (and may still free); without the hook it gets an
 *                       object
 *   full_handoff        a free into a FULL span while its mcentral lock is
 *                       held is deferred, the span goes partial after the
 *                       irq_work and its object is reused; with the lock
 *                       free it goes partial at once, nothing deferred
 *   empty_refill        a miss (mcentral locked) is NULL and the irq_work
 *                       refills the class: the next call gets an object
 *   bad_input           bad, interior and double frees in NMI are reported
 *                       and counted as gomm_free() does
 *   flags_sizes         unsupported flags, 0 and >32 KiB are NULL; tiny
 *                       sizes get class objects; __GFP_ZERO on dirty reused
 *                       objects; __GFP_ACCOUNT counted
 *   drain               a drain flushes every nolock cache and waits for
 *                       the deferred frees: nothing in use, every CPU's
 *                       allocations less frees match
 *
 * Each case stays on one CPU (gomm_kunit_pin_cpu()); nothing else uses
 * the nolock calls meanwhile, so this CPU's nolock counters move by
 * exactly what the case does.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/gomm.h>
#include <linux/irqflags.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <asm/apic.h>
#include <asm/nmi.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_kunit.h"

#define NL_LARGE	100000
/* the NMI's wait: microseconds */
#define NL_NMI_TIMEOUT_US	2000000

/* ---- the NMI harness ---- */

static struct {
	atomic_t armed;		/* 1: the next NMI_LOCAL on @cpu is the test's */
	int cpu;
	void (*fn)(void *arg);
	void *arg;
	atomic_t done;
	bool in_nmi;		/* in_nmi() as @fn began */
} nl_nmi;

static int nl_nmi_handler(unsigned int type, struct pt_regs *regs)
{
	if (!atomic_read(&nl_nmi.armed) || smp_processor_id() != READ_ONCE(nl_nmi.cpu) ||
	    atomic_cmpxchg(&nl_nmi.armed, 1, 0) != 1)
		return NMI_DONE;
	nl_nmi.in_nmi = in_nmi();
	nl_nmi.fn(nl_nmi.arg);
	atomic_set_release(&nl_nmi.done, 1);
	return NMI_HANDLED;
}

/*
 * Run @fn(@arg) in an NMI on this CPU and wait for it; false if it did
 * not come.  Any context but NMI, interrupts on or off.
 */
static bool nl_in_nmi(void (*fn)(void *arg), void *arg)
{
	unsigned int us;
	bool done;

	preempt_disable();
	nl_nmi.fn = fn;
	nl_nmi.arg = arg;
	nl_nmi.in_nmi = false;
	WRITE_ONCE(nl_nmi.cpu, smp_processor_id());
	atomic_set(&nl_nmi.done, 0);
	atomic_set_release(&nl_nmi.armed, 1);
	__apic_send_IPI_mask(cpumask_of(smp_processor_id()), NMI_VECTOR);
	for (us = 0; us < NL_NMI_TIMEOUT_US && !atomic_read_acquire(&nl_nmi.done); us++)
		udelay(1);
	done = atomic_read_acquire(&nl_nmi.done);
	atomic_set(&nl_nmi.armed, 0);
	preempt_enable();
	return done;
}

static int nl_suite_init(struct kunit_suite *suite)
{
	return register_nmi_handler(NMI_LOCAL, nl_nmi_handler, 0, "gomm_kunit");
}

static void nl_suite_exit(struct kunit_suite *suite)
{
	unregister_nmi_handler(NMI_LOCAL, "gomm_kunit");
}

/* ---- helpers ---- */

static void nl_stats(struct gomm_nolock_stats *st)
{
	gomm_nolock_stats_cpu(raw_smp_processor_id(), st);
}

/*
 * Give this CPU's nolock cache a span of @size's class: a miss asks the
 * irq_work for one, which runs as soon as interrupts are on.
 */
static void nl_prime(struct kunit *test, size_t size)
{
	void *p = gomm_alloc_nolock(size, 0);

	if (!p) {
		gomm_nolock_barrier();
		p = gomm_alloc_nolock(size, 0);
	}
	KUNIT_ASSERT_NOT_NULL_MSG(test, p, "size %zu: no object after a refill", size);
	gomm_free_nolock(p);
	gomm_nolock_barrier();
}

/* one nolock allocation, its checks and maybe its free, in whatever context */
struct nl_op {
	size_t size;
	gfp_t gfp;
	bool free_it;
	void *p;
	size_t usable;
	bool zero;		/* __GFP_ZERO: the object was zero */
	bool in_nmi;
};

static void nl_alloc_step(void *arg)
{
	struct nl_op *op = arg;

	op->in_nmi = in_nmi();
	op->p = gomm_alloc_nolock(op->size, op->gfp);
	if (!op->p)
		return;
	op->usable = gomm_size(op->p);
	/* the requested bytes: KASAN has the slack beyond them as a redzone */
	op->zero = !memchr_inv(op->p, 0, op->size);
	memset(op->p, 0x5a, op->size);
	if (op->free_it)
		gomm_free_nolock(op->p);
}

static const size_t nl_sizes[] = { 8, 16, 64, 1000, 4096, GOMM_MAX_SMALL_SIZE };

/* ---- cases ---- */

/*
 * An NMI allocates and frees objects of several classes, zeroed or not;
 * each is usable, of its class size, and free afterwards.  The same step
 * run directly records that it was not in NMI: the harness's control.
 */
static void test_nmi_alloc_free(struct kunit *test)
{
	struct gomm_nolock_stats a, b;
	struct nl_op op;
	unsigned int i, z, n = 0;

	for (i = 0; i < ARRAY_SIZE(nl_sizes); i++)
		nl_prime(test, nl_sizes[i]);
	nl_stats(&a);
	for (i = 0; i < ARRAY_SIZE(nl_sizes); i++) {
		for (z = 0; z < 2; z++) {
			op = (struct nl_op){ .size = nl_sizes[i], .free_it = true,
					     .gfp = z ? __GFP_ZERO : 0 };
			KUNIT_ASSERT_TRUE(test, nl_in_nmi(nl_alloc_step, &op));
			KUNIT_EXPECT_TRUE(test, nl_nmi.in_nmi);
			KUNIT_EXPECT_TRUE(test, op.in_nmi);
			KUNIT_ASSERT_NOT_NULL_MSG(test, op.p, "size %zu in NMI", op.size);
			n++;
			KUNIT_EXPECT_EQ(test, op.usable,
					(size_t)gomm_class_to_size[gomm_size_to_class(op.size)]);
			if (z)
				KUNIT_EXPECT_TRUE_MSG(test, op.zero, "size %zu: not zeroed",
						      op.size);
			gomm_nolock_barrier();
			KUNIT_EXPECT_FALSE_MSG(test, gomm_test_live(op.p),
					       "size %zu: live after its free in NMI", op.size);
		}
	}
	nl_stats(&b);
	KUNIT_EXPECT_EQ(test, b.allocs - a.allocs, (unsigned long)n);
	KUNIT_EXPECT_EQ(test, b.busy, a.busy);

	/* the control: the same step, not in an NMI */
	op = (struct nl_op){ .size = 64, .free_it = true };
	nl_alloc_step(&op);
	KUNIT_EXPECT_FALSE(test, op.in_nmi);
	KUNIT_EXPECT_NOT_NULL(test, op.p);
}

/* An NMI's objects are freed with gomm_free() in task context. */
static void test_nmi_alloc_task_free(struct kunit *test)
{
	struct nl_op op[ARRAY_SIZE(nl_sizes)];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nl_sizes); i++) {
		nl_prime(test, nl_sizes[i]);
		op[i] = (struct nl_op){ .size = nl_sizes[i] };
		KUNIT_ASSERT_TRUE(test, nl_in_nmi(nl_alloc_step, &op[i]));
		KUNIT_ASSERT_NOT_NULL(test, op[i].p);
	}
	for (i = 0; i < ARRAY_SIZE(nl_sizes); i++) {
		KUNIT_EXPECT_TRUE(test, gomm_test_live(op[i].p));
		KUNIT_EXPECT_NULL(test, memchr_inv(op[i].p, 0x5a, op[i].size));
		gomm_free(op[i].p);
		KUNIT_EXPECT_FALSE(test, gomm_test_live(op[i].p));
	}
}

static const size_t nl_task_sizes[] = { 5, 64, 1000, NL_LARGE };

struct nl_frees {
	void *p[ARRAY_SIZE(nl_task_sizes)];
};

static void nl_free_step(void *arg)
{
	struct nl_frees *f = arg;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(f->p); i++)
		gomm_free_nolock(f->p[i]);
}

/*
 * gomm_alloc()'s objects (tiny, small, large) freed in an NMI that came
 * while the task had interrupts off: the large object is free at once
 * for gomm (its free bit) but its pages wait for the irq_work, which can
 * only run once interrupts are on; then the heap has it back and this
 * CPU counted its free.
 */
static void test_task_alloc_nmi_free(struct kunit *test)
{
	int cpu = raw_smp_processor_id();
	struct gomm_nolock_stats a, b;
	struct gomm_cpu_stats ca, cb;
	struct nl_frees f;
	long large0, large_irqoff;
	unsigned long flags, deferred;
	bool sent;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nl_task_sizes); i++) {
		f.p[i] = gomm_alloc(nl_task_sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, f.p[i]);
		memset(f.p[i], 0x33, nl_task_sizes[i]);
	}
	gomm_nolock_barrier();
	nl_stats(&a);
	gomm_stats_cpu(cpu, &ca);
	large0 = gomm_kunit_heap(nr_large);
	local_irq_save(flags);
	sent = nl_in_nmi(nl_free_step, &f);
	large_irqoff = gomm_kunit_heap(nr_large);
	local_irq_restore(flags);
	KUNIT_ASSERT_TRUE(test, sent);
	KUNIT_EXPECT_EQ_MSG(test, large_irqoff, large0,
			    "the large object's pages went back inside the NMI");
	gomm_nolock_barrier();
	KUNIT_EXPECT_EQ(test, gomm_kunit_heap(nr_large), large0 - 1);
	for (i = 0; i < ARRAY_SIZE(nl_task_sizes); i++)
		KUNIT_EXPECT_FALSE_MSG(test, gomm_test_live(f.p[i]), "size %zu live",
				       nl_task_sizes[i]);
	nl_stats(&b);
	/* the large one; in NMI with kmemleak built in, every one */
	deferred = IS_ENABLED(CONFIG_DEBUG_KMEMLEAK) ? ARRAY_SIZE(nl_task_sizes) : 1;
	KUNIT_EXPECT_EQ(test, b.deferred - a.deferred, deferred);
	KUNIT_EXPECT_EQ(test, b.dropped, a.dropped);
	KUNIT_EXPECT_EQ_MSG(test, gomm_nolock_defer_stale(cpu), 0U,
			    "freed addresses left in the deferral array");
	gomm_stats_cpu(cpu, &cb);
	KUNIT_EXPECT_EQ(test, cb.large_frees - ca.large_frees, 1UL);
	KUNIT_EXPECT_EQ(test, cb.tiny_frees - ca.tiny_frees, gomm_tiny_enabled ? 1UL : 0UL);
}

/* ---- busy ---- */

static struct {
	bool armed;
	bool sent;
	void *q;	/* what the NMI's allocation got */
	void *free_me;	/* an object the NMI frees */
} nl_busy;

static void nl_busy_nmi(void *arg)
{
	nl_busy.q = gomm_alloc_nolock(64, 0);
	gomm_free_nolock(nl_busy.free_me);
}

/* gomm_alloc_nolock()'s busy section: send the NMI from here, once */
static void nl_busy_hook(void)
{
	if (!nl_busy.armed)
		return;
	nl_busy.armed = false;
	nl_busy.sent = nl_in_nmi(nl_busy_nmi, NULL);
}

static void nl_busy_hook_off(void *unused)
{
	static_branch_disable(&gomm_test_key);
	gomm_test_hooks.nolock_busy = NULL;
}

/*
 * An NMI that comes while a nolock call on its CPU is in its busy section
 * gets NULL, counted as busy, and its free still goes through.  The
 * control: the same NMI without the hook gets an object.
 */
static void test_nmi_busy(struct kunit *test)
{
	struct gomm_nolock_stats a, b;
	void *p;

	nl_prime(test, 64);
	nl_busy.free_me = gomm_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nl_busy.free_me);
	nl_busy.q = ERR_PTR(-EINVAL);
	nl_busy.sent = false;
	nl_stats(&a);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, nl_busy_hook_off, NULL), 0);
	gomm_test_hooks.nolock_busy = nl_busy_hook;
	nl_busy.armed = true;
	static_branch_enable(&gomm_test_key);
	p = gomm_alloc_nolock(64, 0);
	nl_busy_hook_off(NULL);
	KUNIT_ASSERT_TRUE(test, nl_busy.sent);
	KUNIT_EXPECT_NOT_NULL(test, p);
	KUNIT_EXPECT_NULL_MSG(test, nl_busy.q, "an NMI got an object from a busy cache");
	gomm_nolock_barrier();
	KUNIT_EXPECT_FALSE(test, gomm_test_live(nl_busy.free_me));
	nl_stats(&b);
	KUNIT_EXPECT_EQ(test, b.busy - a.busy, 1UL);
	KUNIT_EXPECT_EQ(test, b.allocs - a.allocs, 1UL);
	gomm_free_nolock(p);

	/* the control: not busy, the same NMI gets an object */
	nl_busy.free_me = NULL;
	nl_busy.q = NULL;
	KUNIT_ASSERT_TRUE(test, nl_in_nmi(nl_busy_nmi, NULL));
	KUNIT_EXPECT_NOT_NULL(test, nl_busy.q);
	gomm_free_nolock(nl_busy.q);
	nl_stats(&a);
	KUNIT_EXPECT_EQ(test, a.busy, b.busy);
}

/* ---- the FULL hand-off ---- */

/* The state of the span of live-or-just-freed @p (the lifetime rule). */
static u8 nl_state(const void *p)
{
	u8 st;

	rcu_read_lock();
	st = READ_ONCE(gomm_span_of(p, NULL)->state);
	rcu_read_unlock();
	return st;
}

/*
 * 32 KiB objects, one to a span: one allocated and a drain make its span
 * FULL, alone of its class (the drain returned every empty span).  A
 * gomm_free_nolock() while the class's lock is held (interrupts off, so
 * the irq_work waits too) leaves it FULL and defers the hand-off; after
 * the irq_work it is partial, and the next allocation of the class takes
 * that very object.  The control: with the lock free, the same free makes
 * it partial at once and defers nothing.
 */
static void test_full_handoff(struct kunit *test)
{
	unsigned int sc = gomm_size_to_class(GOMM_MAX_SMALL_SIZE);
	struct gomm_nolock_stats a, b;
	struct gomm_mcentral *c;
	unsigned long flags;
	u8 st_locked;
	void *p, *q;
	int round;

	KUNIT_ASSERT_EQ(test, gomm_class_to_nelems[sc], 1);
	for (round = 0; round < 2; round++) {
		bool locked = round == 0;

		gomm_drain();
		p = gomm_alloc(GOMM_MAX_SMALL_SIZE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		gomm_drain();
		KUNIT_ASSERT_EQ(test, nl_state(p), (u8)GOMM_SPAN_FULL);
		/* the span's own mcentral (its node's) */
		c = gomm_span_central(gomm_span_of(p, NULL));
		nl_stats(&a);
		if (locked) {
			raw_spin_lock_irqsave(&c->lock, flags);
			gomm_free_nolock(p);
			st_locked = READ_ONCE(gomm_span_of(p, NULL)->state);
			raw_spin_unlock_irqrestore(&c->lock, flags);
			KUNIT_EXPECT_EQ_MSG(test, st_locked, (u8)GOMM_SPAN_FULL,
					    "the span moved while its lock was held");
		} else {
			local_irq_save(flags);
			gomm_free_nolock(p);
			st_locked = READ_ONCE(gomm_span_of(p, NULL)->state);
			local_irq_restore(flags);
			KUNIT_EXPECT_EQ_MSG(test, st_locked, (u8)GOMM_SPAN_PARTIAL,
					    "the lock was free: not moved at once");
		}
		gomm_nolock_barrier();
		nl_stats(&b);
		KUNIT_EXPECT_EQ(test, b.deferred - a.deferred, locked ? 1UL : 0UL);
		KUNIT_EXPECT_EQ(test, nl_state(p), (u8)GOMM_SPAN_PARTIAL);
		q = gomm_alloc(GOMM_MAX_SMALL_SIZE, GFP_KERNEL);
		KUNIT_EXPECT_PTR_EQ_MSG(test, q, p, "the freed object was not reused");
		gomm_free(q);
	}
}

/* ---- a miss and the irq_work's refill ---- */

/*
 * With this CPU's nolock cache flushed and the class's mcentral lock held,
 * a nolock allocation cannot be served: NULL, counted empty.  Once
 * interrupts are on, the irq_work refills the class (a refill), and the
 * next call gets an object.
 */
static void test_empty_refill(struct kunit *test)
{
	unsigned int sc = gomm_size_to_class(64);
	struct gomm_nolock_stats a, b;
	unsigned long flags;
	void *p, *q;

	gomm_drain();
	KUNIT_EXPECT_FALSE(test, gomm_nolock_holds(raw_smp_processor_id()));
	nl_stats(&a);
	raw_spin_lock_irqsave(&gomm_local_heap()->central[sc].lock, flags);
	p = gomm_alloc_nolock(64, 0);
	raw_spin_unlock_irqrestore(&gomm_local_heap()->central[sc].lock, flags);
	KUNIT_EXPECT_NULL(test, p);
	gomm_nolock_barrier();
	KUNIT_EXPECT_TRUE(test, gomm_nolock_holds(raw_smp_processor_id()));
	q = gomm_alloc_nolock(64, 0);
	KUNIT_EXPECT_NOT_NULL(test, q);
	nl_stats(&b);
	KUNIT_EXPECT_EQ(test, b.empty - a.empty, 1UL);
	KUNIT_EXPECT_EQ(test, b.refills - a.refills, 1UL);
	KUNIT_EXPECT_EQ(test, b.allocs - a.allocs, q ? 1UL : 0UL);
	gomm_free_nolock(p);	/* NULL: a no-op */
	gomm_free_nolock(q);
}

/* ---- bad input ---- */

static u8 nl_global[64];

struct nl_bad {
	void *small, *large, *freed;
};

static void nl_bad_step(void *arg)
{
	struct nl_bad *b = arg;

	gomm_free_nolock(nl_global + 8);		/* not gomm's */
	gomm_free_nolock((u8 *)b->small + 8);		/* interior */
	gomm_free_nolock(b->freed);			/* freed already */
	gomm_free_nolock(b->large);
	gomm_free_nolock(b->large);			/* twice */
}

/*
 * Bad input in NMI is reported and counted as by gomm_free() (two bad
 * frees, two double frees) and changes nothing: the small object stays
 * live, the large one is freed once.
 */
static void test_bad_input(struct kunit *test)
{
	long bad0 = atomic_long_read(&gomm_errors.bad_free);
	long dbl0 = atomic_long_read(&gomm_errors.double_free);
	long large0 = gomm_kunit_heap(nr_large);
	struct nl_bad b;

	b.small = gomm_alloc(64, GFP_KERNEL);
	b.large = gomm_alloc(NL_LARGE, GFP_KERNEL);
	b.freed = gomm_alloc(64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b.small);
	KUNIT_ASSERT_NOT_NULL(test, b.large);
	KUNIT_ASSERT_NOT_NULL(test, b.freed);
	gomm_free(b.freed);
	KUNIT_ASSERT_TRUE(test, nl_in_nmi(nl_bad_step, &b));
	gomm_nolock_barrier();
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.bad_free), bad0 + 2);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.double_free), dbl0 + 2);
	KUNIT_EXPECT_TRUE(test, gomm_test_live(b.small));
	KUNIT_EXPECT_EQ(test, gomm_kunit_heap(nr_large), large0);
	gomm_free(b.small);
}

/* ---- flags and sizes ---- */

#define NL_ZERO_N	200

/*
 * Flags other than kmalloc_nolock()'s, 0 and above 32 KiB are NULL; 1..15
 * bytes are class objects; __GFP_ACCOUNT is served and counted.
 * __GFP_ZERO zeroes objects that were dirty: NL_ZERO_N dirty objects
 * freed, then as many allocated with it (the windows' word sweeps hand the
 * freed ones out again); the control, the same without __GFP_ZERO, finds
 * dirty ones (unless init_on_alloc or init_on_free zeroes every object).
 */
static void test_flags_sizes(struct kunit *test)
{
	void **v = kunit_kcalloc(test, NL_ZERO_N, sizeof(*v), GFP_KERNEL);
	long acct0 = atomic_long_read(&gomm_errors.unaccounted);
	unsigned int i, round, dirty;
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, v);
	KUNIT_EXPECT_NULL(test, gomm_alloc_nolock(64, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_alloc_nolock(64, GFP_ATOMIC));
	KUNIT_EXPECT_NULL(test, gomm_alloc_nolock(0, 0));
	KUNIT_EXPECT_NULL(test, gomm_alloc_nolock(GOMM_MAX_SMALL_SIZE + 1, 0));
	nl_prime(test, 5);
	p = gomm_alloc_nolock(5, __GFP_NOWARN);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, gomm_size(p), (size_t)8);
	gomm_free_nolock(p);
	nl_prime(test, 64);
	p = gomm_alloc_nolock(64, __GFP_ACCOUNT | __GFP_NOMEMALLOC);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.unaccounted), acct0 + 1);
	gomm_free_nolock(p);

	for (round = 0; round < 2; round++) {
		for (i = 0; i < NL_ZERO_N; i++) {
			v[i] = gomm_alloc_nolock(64, 0);
			if (!v[i]) {	/* a window ran dry: the irq_work refills */
				gomm_nolock_barrier();
				v[i] = gomm_alloc_nolock(64, 0);
			}
			KUNIT_ASSERT_NOT_NULL(test, v[i]);
			memset(v[i], 0xa5, 64);
		}
		for (i = 0; i < NL_ZERO_N; i++)
			gomm_free_nolock(v[i]);
		gomm_nolock_barrier();
		dirty = 0;
		for (i = 0; i < NL_ZERO_N; i++) {
			v[i] = gomm_alloc_nolock(64, round ? 0 : __GFP_ZERO);
			if (!v[i]) {
				gomm_nolock_barrier();
				v[i] = gomm_alloc_nolock(64, round ? 0 : __GFP_ZERO);
			}
			KUNIT_ASSERT_NOT_NULL(test, v[i]);
			dirty += !!memchr_inv(v[i], 0, 64);
		}
		for (i = 0; i < NL_ZERO_N; i++)
			gomm_free_nolock(v[i]);
		if (!round)
			KUNIT_EXPECT_EQ_MSG(test, dirty, 0U, "__GFP_ZERO: dirty objects");
		else if (!gomm_init_alloc && !gomm_init_free)
			KUNIT_EXPECT_GT_MSG(test, dirty, 0U,
					    "the control: no dirty object was reused");
	}
	gomm_nolock_barrier();
}

/* ---- the drain ---- */

static void nl_mixed_step(void *arg)
{
	void **v = arg;
	unsigned int i;

	for (i = 0; i < 32; i++) {
		v[i] = gomm_alloc_nolock(i & 1 ? 64 : 256, 0);
		if (i & 2) {	/* half freed here, half by the task */
			gomm_free_nolock(v[i]);
			v[i] = NULL;
		}
	}
}

/*
 * Nolock objects from NMIs and the task, freed in NMI, by gomm_free() and
 * by gomm_free_nolock(); a drain then leaves no CPU's nolock cache
 * holding a span, the classes' objects in use where they were, and the
 * cpus table's allocations less frees equal to that change (0).  The
 * control: before the drain, this CPU's nolock cache holds spans.
 */
static void test_drain(struct kunit *test)
{
	long in64, in256;
	struct gomm_cpu_stats ta, tb;
	void *v[32];
	unsigned int i, round;
	int cpu;

	nl_prime(test, 64);
	nl_prime(test, 256);
	gomm_drain();
	in64 = gomm_stats_in_use(gomm_size_to_class(64));
	in256 = gomm_stats_in_use(gomm_size_to_class(256));
	gomm_stats_cpus_total(&ta);
	for (round = 0; round < 4; round++) {
		if (round & 1) {
			KUNIT_ASSERT_TRUE(test, nl_in_nmi(nl_mixed_step, v));
		} else {
			gomm_nolock_barrier();
			nl_mixed_step(v);
		}
		for (i = 0; i < ARRAY_SIZE(v); i++) {
			if (round & 2)
				gomm_free(v[i]);
			else
				gomm_free_nolock(v[i]);
		}
	}
	KUNIT_EXPECT_TRUE(test, gomm_nolock_holds(raw_smp_processor_id()));
	gomm_drain();
	for_each_possible_cpu(cpu)
		KUNIT_EXPECT_FALSE_MSG(test, gomm_nolock_holds(cpu),
				       "cpu %d holds a span after a drain", cpu);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(gomm_size_to_class(64)), in64);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(gomm_size_to_class(256)), in256);
	gomm_stats_cpus_total(&tb);
	KUNIT_EXPECT_EQ(test, (long)(tb.allocs - ta.allocs) - (long)(tb.frees - ta.frees), 0L);
}

static struct kunit_case gomm_nolock_cases[] = {
	KUNIT_CASE(test_nmi_alloc_free),
	KUNIT_CASE(test_nmi_alloc_task_free),
	KUNIT_CASE(test_task_alloc_nmi_free),
	KUNIT_CASE(test_nmi_busy),
	KUNIT_CASE(test_full_handoff),
	KUNIT_CASE(test_empty_refill),
	KUNIT_CASE(test_bad_input),
	KUNIT_CASE(test_flags_sizes),
	KUNIT_CASE(test_drain),
	{}
};

static struct kunit_suite gomm_nolock_suite = {
	.name = "gomm_nolock",
	.suite_init = nl_suite_init,
	.suite_exit = nl_suite_exit,
	.init = gomm_kunit_pin_cpu,
	.test_cases = gomm_nolock_cases,
};

kunit_test_suites(&gomm_nolock_suite);
