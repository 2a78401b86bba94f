// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for gomm's public API and its span / mcache / mcentral /
 * heap machinery, including a multi-CPU stress with cross-CPU frees.
 */
#include <kunit/test.h>
#include <linux/cpu.h>
#include <linux/gomm.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/kallsyms.h>
#include <linux/kthread.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_trace.h"
#include "gomm_kunit.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_IMPORT_NS("GOMM_INTERNAL");

/**
 * gomm_kunit_pin_cpu() - a suite's .init: keep each case on one CPU
 * @test: the case
 *
 * For the suites whose cases need one mcache throughout (its spans, its
 * open tiny block) and assert on the way.  KUnit runs each case, its
 * suite's .init first, in a kthread of its own that ends with the case,
 * also where a KUNIT_ASSERT fails or the case is skipped (KUnit ends the
 * thread there); the suite's .exit and the case's deferred actions run
 * afterwards, in another kthread.  So the pin is this thread's CPU
 * affinity, which ends with the thread: nothing has to undo it, and no
 * failed assert can leave a task pinned.  Not migrate_disable(): a thread
 * that ended between migrate_disable() and migrate_enable() would leave
 * its runqueue's count of pinned tasks raised for good (a later CPU
 * offline, as in gomm_hardening_hotplug, would wait for it forever), and
 * .exit, in another thread, cannot call migrate_enable() for it.  A
 * migrate_disable() section inside a case is for a few calls with no
 * assert or skip in between.  A pinned case reads its CPU with
 * raw_smp_processor_id(): smp_processor_id()'s debug check does not know
 * this pin.
 *
 * Return: 0, or set_cpus_allowed_ptr()'s error (the case then fails).
 */
int gomm_kunit_pin_cpu(struct kunit *test)
{
	return set_cpus_allowed_ptr(current, cpumask_of(raw_smp_processor_id()));
}

/* large objects, the smallest and the largest among them */
static const size_t large_sizes[] = {
	GOMM_MAX_SMALL_SIZE + 1, 40000, 65536, 100000, 1 << 20, (1 << 20) + 1,
	3 << 20, GOMM_MAX_LARGE_SIZE - 1, GOMM_MAX_LARGE_SIZE,
};

/* gomm_size() is Go's class size for 16..32768 and whole pages above. */
static void test_usable_size(struct kunit *test)
{
	unsigned int i;
	size_t n;

	for (n = 1; n <= GOMM_MAX_SMALL_SIZE; n++) {
		void *p = gomm_alloc(n, GFP_KERNEL);
		size_t want = gomm_class_to_size[gomm_size_to_class(n)];

		KUNIT_ASSERT_NOT_NULL_MSG(test, p, "size %zu", n);
		if (!gomm_tiny_size(n))
			KUNIT_ASSERT_EQ_MSG(test, gomm_size(p), want, "size %zu", n);
		else
			KUNIT_ASSERT_GE_MSG(test, gomm_size(p), n, "size %zu", n);
		/* Go's min align for the class (tiny: Go's tiny rules) */
		if (n >= GOMM_TINY_SIZE)
			KUNIT_ASSERT_EQ_MSG(test, (unsigned long)p %
					    gomm_class_to_align[gomm_size_to_class(n)],
					    0UL, "size %zu", n);
		else if (!(n & 7))
			KUNIT_ASSERT_EQ(test, (unsigned long)p % 8, 0UL);
		memset(p, 0xa5, n);
		gomm_free(p);
	}
	for (i = 0; i < ARRAY_SIZE(large_sizes); i++) {
		void *p = gomm_alloc(large_sizes[i], GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, gomm_size(p), round_up(large_sizes[i], GOMM_PAGE_SIZE));
		KUNIT_EXPECT_EQ(test, (unsigned long)p % GOMM_PAGE_SIZE, 0UL);
		memset(p, 0x5a, large_sizes[i]);
		gomm_free(p);
	}
}

static void test_null_zero_ceiling(struct kunit *test)
{
	long too_large = atomic_long_read(&gomm_errors.too_large);

	KUNIT_EXPECT_NULL(test, gomm_alloc(0, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_zalloc(0, GFP_KERNEL));
	gomm_free(NULL);
	KUNIT_EXPECT_EQ(test, gomm_size(NULL), 0UL);
	KUNIT_EXPECT_NULL(test, gomm_alloc(GOMM_MAX_LARGE_SIZE + 1, GFP_KERNEL | __GFP_NOWARN));
	KUNIT_EXPECT_NULL(test, gomm_alloc(SIZE_MAX, GFP_KERNEL | __GFP_NOWARN));
	KUNIT_EXPECT_NULL(test, gomm_alloc(SIZE_MAX - 4096, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.too_large), too_large + 3);
}

static void test_zeroing(struct kunit *test)
{
	static const size_t sizes[] = {
		1, 7, 8, GOMM_TINY_SIZE - 1, GOMM_TINY_SIZE, 24, 100, 1024, 4000,
		GOMM_MAX_SMALL_SIZE, 40000, 1 << 20,
	};
	unsigned int i, round;
	size_t j;

	/* dirty objects first, so that zeroing has something to do */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			unsigned char *p = round ?
				gomm_zalloc(sizes[i], GFP_KERNEL) :
				gomm_alloc(sizes[i], GFP_KERNEL | __GFP_ZERO);

			KUNIT_ASSERT_NOT_NULL(test, p);
			for (j = 0; j < sizes[i]; j++)
				KUNIT_ASSERT_EQ_MSG(test, p[j], 0, "size %zu byte %zu",
						    sizes[i], j);
			memset(p, 0xff, sizes[i]);
			gomm_free(p);
		}
	}
}

static void test_cleanup_attr(struct kunit *test)
{
	long before = gomm_stats_in_use(gomm_size_to_class(100));

	{
		void *p __free(gomm) = gomm_alloc(100, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_EQ(test, gomm_stats_in_use(gomm_size_to_class(100)),
				before + 1);
	}
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(gomm_size_to_class(100)), before);
}

/*
 * GFP_ATOMIC from hard interrupt context, through an hrtimer.  Not a
 * HRTIMER_MODE_*_HARD one: those run where PREEMPT_RT runs them too, so
 * lockdep (PROVE_RAW_LOCK_NESTING) forbids any sleeping-on-RT lock there,
 * and a slab or page allocation (kmemleak's own, or heap growth) takes
 * one, as kmalloc() would.  A plain hrtimer runs in hard interrupt
 * context on a !RT kernel as well, with the rules of a device interrupt.
 */
struct gomm_irq_ctx {
	struct hrtimer timer;
	void *p[8];
	bool got[8];		/* the handler's allocation succeeded */
	bool intact[8];		/* ... and read back its pattern before a free */
	bool in_hardirq;
	struct completion done;
};

static const size_t gomm_irq_sizes[] = {
	8, GOMM_TINY_SIZE, 100, 512, 3000, GOMM_MAX_SMALL_SIZE, 65536, 5,
};

/*
 * Every allocation is checked: the handler records whether it got an
 * object; half of them (even i) it also reads back and frees right there
 * (a free in hard interrupt context), the other half the test checks and
 * frees in process context.  The in-use counters then show that both
 * kinds of free took effect.
 */
static enum hrtimer_restart gomm_irq_fn(struct hrtimer *t)
{
	struct gomm_irq_ctx *c = container_of(t, struct gomm_irq_ctx, timer);
	unsigned int i;

	c->in_hardirq = in_hardirq();
	for (i = 0; i < ARRAY_SIZE(c->p); i++) {
		c->p[i] = gomm_alloc(gomm_irq_sizes[i], GFP_ATOMIC);
		c->got[i] = c->p[i];
		if (c->p[i])
			memset(c->p[i], 0x30 + i, gomm_irq_sizes[i]);
	}
	for (i = 0; i < ARRAY_SIZE(c->p); i += 2) {
		c->intact[i] = c->p[i] &&
			       !memchr_inv(c->p[i], 0x30 + i, gomm_irq_sizes[i]);
		gomm_free(c->p[i]);
		c->p[i] = NULL;
	}
	complete(&c->done);
	return HRTIMER_NORESTART;
}

/* gomm_stats_in_use()'s counter for objects of @size */
static unsigned int gomm_irq_counter(size_t size)
{
	if (size > GOMM_MAX_SMALL_SIZE)
		return 0;
	if (gomm_tiny_size(size))
		return GOMM_STATS_TINY;
	return gomm_size_to_class(size);
}

static void test_atomic_contexts(struct kunit *test)
{
	struct gomm_irq_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	long before[ARRAY_SIZE(gomm_irq_sizes)], live[ARRAY_SIZE(gomm_irq_sizes)];
	unsigned long flags;
	unsigned int i, j;
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	BUILD_BUG_ON(ARRAY_SIZE(gomm_irq_sizes) != ARRAY_SIZE(c->p));
	/* the objects each size's counter must show while the odd ones live */
	for (i = 0; i < ARRAY_SIZE(c->p); i++) {
		before[i] = gomm_stats_in_use(gomm_irq_counter(gomm_irq_sizes[i]));
		live[i] = 0;
		for (j = 1; j < ARRAY_SIZE(c->p); j += 2)
			live[i] += gomm_irq_counter(gomm_irq_sizes[j]) ==
				   gomm_irq_counter(gomm_irq_sizes[i]);
	}
	init_completion(&c->done);
	hrtimer_setup(&c->timer, gomm_irq_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrtimer_start(&c->timer, ns_to_ktime(1000), HRTIMER_MODE_REL);
	wait_for_completion(&c->done);
	hrtimer_cancel(&c->timer);
	KUNIT_EXPECT_TRUE(test, c->in_hardirq);
	for (i = 0; i < ARRAY_SIZE(c->p); i++) {
		KUNIT_EXPECT_TRUE_MSG(test, c->got[i], "size %zu: GFP_ATOMIC in hardirq failed",
				      gomm_irq_sizes[i]);
		if (i % 2 == 0)
			KUNIT_EXPECT_TRUE_MSG(test, !c->got[i] || c->intact[i],
					      "size %zu: overwritten before its free in hardirq",
					      gomm_irq_sizes[i]);
	}
	/* the frees in hardirq took effect, the other objects are live */
	for (i = 0; i < ARRAY_SIZE(c->p); i++)
		KUNIT_EXPECT_EQ_MSG(test, gomm_stats_in_use(gomm_irq_counter(gomm_irq_sizes[i])),
				    before[i] + live[i], "size %zu: objects in use after hardirq",
				    gomm_irq_sizes[i]);
	for (i = 1; i < ARRAY_SIZE(c->p); i += 2) {
		if (!c->p[i])
			continue;
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(c->p[i], 0x30 + i, gomm_irq_sizes[i]),
				      "size %zu: allocated in hardirq, overwritten since",
				      gomm_irq_sizes[i]);
		KUNIT_EXPECT_GE(test, gomm_size(c->p[i]), gomm_irq_sizes[i]);
		gomm_free(c->p[i]);
	}
	for (i = 0; i < ARRAY_SIZE(c->p); i++)
		KUNIT_EXPECT_EQ_MSG(test, gomm_stats_in_use(gomm_irq_counter(gomm_irq_sizes[i])),
				    before[i], "size %zu: objects in use after the frees",
				    gomm_irq_sizes[i]);

	/* with interrupts off and with preemption off */
	local_irq_save(flags);
	p = gomm_alloc(200, GFP_ATOMIC);
	gomm_free(p);
	local_irq_restore(flags);
	KUNIT_EXPECT_NOT_NULL(test, p);
	preempt_disable();
	p = gomm_alloc(70000, GFP_NOWAIT);
	gomm_free(p);
	preempt_enable();
	KUNIT_EXPECT_NOT_NULL(test, p);
}

/*
 * The tracepoints gomm:gomm_alloc and gomm:gomm_free (gomm_trace.h): a
 * probe on each records what this task's calls fire, and the fields of a
 * known allocation, a failed one and a free must be exactly what was
 * asked and returned, the call site inside this function.
 */
#define TP_MAX	4

struct gomm_tp_event {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_req, bytes_alloc;
	gfp_t gfp;
};

struct gomm_tp_seen {
	struct task_struct *task;
	unsigned int nalloc, nfree;
	struct gomm_tp_event alloc[TP_MAX], free[TP_MAX];
};

static void gomm_tp_alloc_probe(void *data, unsigned long call_site, const void *ptr,
				size_t bytes_req, size_t bytes_alloc, gfp_t gfp_flags)
{
	struct gomm_tp_seen *seen = data;

	if (current != seen->task)
		return;
	if (seen->nalloc < TP_MAX)
		seen->alloc[seen->nalloc] = (struct gomm_tp_event) {
			.call_site = call_site, .ptr = ptr, .bytes_req = bytes_req,
			.bytes_alloc = bytes_alloc, .gfp = gfp_flags,
		};
	seen->nalloc++;
}

static void gomm_tp_free_probe(void *data, unsigned long call_site, const void *ptr)
{
	struct gomm_tp_seen *seen = data;

	if (current != seen->task)
		return;
	if (seen->nfree < TP_MAX)
		seen->free[seen->nfree] = (struct gomm_tp_event) {
			.call_site = call_site, .ptr = ptr,
		};
	seen->nfree++;
}

static void gomm_tp_unregister(void *seen)
{
	unregister_trace_gomm_alloc(gomm_tp_alloc_probe, seen);
	unregister_trace_gomm_free(gomm_tp_free_probe, seen);
	tracepoint_synchronize_unregister();
}

/*
 * The function @ip is in, as "%ps" prints it ("name [module]"), a part
 * the compiler split off it ("name.part.0", "name.cold") counting as it.
 */
static void gomm_tp_where(char *buf, size_t len, unsigned long ip)
{
	char *dot, *mod;

	snprintf(buf, len, "%ps", (void *)ip);
	dot = strchr(buf, '.');
	mod = strchr(buf, ' ');
	if (dot && mod && dot < mod)
		memmove(dot, mod, strlen(mod) + 1);
	else if (dot && !mod)
		*dot = '\0';
}

static void test_tracepoints(struct kunit *test)
{
	struct gomm_tp_seen *seen = kunit_kzalloc(test, sizeof(*seen), GFP_KERNEL);
	const gfp_t gfp = GFP_KERNEL | __GFP_NOWARN;
	const size_t size = 100, big = GOMM_MAX_LARGE_SIZE + 1;
	char here[KSYM_SYMBOL_LEN], site[KSYM_SYMBOL_LEN];
	unsigned int i;
	void *p, *q;

	KUNIT_ASSERT_NOT_NULL(test, seen);
	seen->task = current;
	KUNIT_ASSERT_EQ(test, register_trace_gomm_alloc(gomm_tp_alloc_probe, seen), 0);
	if (register_trace_gomm_free(gomm_tp_free_probe, seen)) {
		unregister_trace_gomm_alloc(gomm_tp_alloc_probe, seen);
		tracepoint_synchronize_unregister();
		KUNIT_FAIL_AND_ABORT(test, "register_trace_gomm_free() failed");
	}
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, gomm_tp_unregister, seen), 0);

	p = gomm_alloc(size, gfp);
	q = gomm_alloc(big, gfp);
	gomm_free(p);
	/* no event after the probes are gone */
	kunit_release_action(test, gomm_tp_unregister, seen);
	gomm_free(gomm_alloc(size, gfp));

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_NULL(test, q);
	KUNIT_ASSERT_EQ_MSG(test, seen->nalloc, 2U, "gomm_alloc events");
	KUNIT_ASSERT_EQ_MSG(test, seen->nfree, 1U, "gomm_free events");
	KUNIT_EXPECT_PTR_EQ(test, seen->alloc[0].ptr, (const void *)p);
	KUNIT_EXPECT_EQ(test, seen->alloc[0].bytes_req, size);
	KUNIT_EXPECT_EQ(test, seen->alloc[0].bytes_alloc,
			(size_t)gomm_class_to_size[gomm_size_to_class(size)]);
	KUNIT_EXPECT_EQ(test, (__force unsigned long)seen->alloc[0].gfp,
			(__force unsigned long)gfp);
	/* a failed allocation fires too, with ptr 0 and nothing allocated */
	KUNIT_EXPECT_NULL(test, seen->alloc[1].ptr);
	KUNIT_EXPECT_EQ(test, seen->alloc[1].bytes_req, big);
	KUNIT_EXPECT_EQ(test, seen->alloc[1].bytes_alloc, (size_t)0);
	KUNIT_EXPECT_EQ(test, (__force unsigned long)seen->alloc[1].gfp,
			(__force unsigned long)gfp);
	KUNIT_EXPECT_PTR_EQ(test, seen->free[0].ptr, (const void *)p);
	/* every call site is in this function, not in gomm */
	gomm_tp_where(here, sizeof(here), (unsigned long)test_tracepoints);
	for (i = 0; i < 3; i++) {
		const struct gomm_tp_event *e = i < 2 ? &seen->alloc[i] : &seen->free[0];

		gomm_tp_where(site, sizeof(site), e->call_site);
		KUNIT_EXPECT_STREQ_MSG(test, site, here, "event %u: call site %pS", i,
				       (void *)e->call_site);
	}
}

/* GFP_KERNEL grows the heap: 64 MiB in 4 KiB objects, all distinct. */
static void test_growth(struct kunit *test)
{
	const unsigned int n = (64 << 20) / 4096;
	unsigned long grows = gomm_kunit_heap(grows);
	void **v = kvcalloc(n, sizeof(*v), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, v);
	for (i = 0; i < n; i++) {
		v[i] = gomm_alloc(4096, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, v[i]);
		*(unsigned int *)v[i] = i;
		*(unsigned int *)(v[i] + 4092) = ~i;
	}
	KUNIT_EXPECT_GE(test, gomm_kunit_heap(grows), grows + 15);
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, *(unsigned int *)v[i], i);
		KUNIT_ASSERT_EQ(test, *(unsigned int *)(v[i] + 4092), ~i);
		gomm_free(v[i]);
	}
	kvfree(v);
}

static struct kunit_case gomm_api_cases[] = {
	KUNIT_CASE(test_usable_size),
	KUNIT_CASE(test_null_zero_ceiling),
	KUNIT_CASE(test_zeroing),
	KUNIT_CASE(test_cleanup_attr),
	KUNIT_CASE(test_atomic_contexts),
	KUNIT_CASE(test_tracepoints),
	KUNIT_CASE(test_growth),
	{}
};

static struct kunit_suite gomm_api_suite = {
	.name = "gomm_api",
	.test_cases = gomm_api_cases,
};

/*
 * Spans, mcache and mcentral.  SPAN_CLASS (65, 27264 bytes) has 3 objects
 * in a 10-page span and nothing else in the kernel uses gomm, so its spans
 * are the test's own.  Each case stays on one CPU (gomm_kunit_pin_cpu()) so
 * one mcache serves it.
 */
#define SPAN_CLASS	GOMM_KUNIT_LONG_SPAN_CLASS
#define SPAN_SIZE	gomm_class_to_size[SPAN_CLASS]

static void gomm_span_setup(struct kunit *test)
{
	gomm_drain();
	KUNIT_ASSERT_EQ(test, gomm_class_to_nelems[SPAN_CLASS], 3);
}

static void test_refill_sweep(struct kunit *test)
{
	struct gomm_mcache *mc;
	unsigned long refills, sweeps;
	struct gomm_span *s;
	void *p[4];
	int i;

	gomm_span_setup(test);
	mc = gomm_stats_mcache(raw_smp_processor_id());
	refills = mc->refills;
	for (i = 0; i < 3; i++)
		p[i] = gomm_alloc(SPAN_SIZE, GFP_KERNEL);
	s = gomm_span_of(p[0], NULL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, mc->refills, refills + 1);
	KUNIT_EXPECT_EQ(test, s->state, GOMM_SPAN_CACHED);
	KUNIT_EXPECT_PTR_EQ(test, gomm_span_of(p[2], NULL), s);
	/* objects are handed out in address order, like Go's freeindex */
	KUNIT_EXPECT_PTR_EQ(test, p[1], p[0] + SPAN_SIZE);
	KUNIT_EXPECT_PTR_EQ(test, p[2], p[1] + SPAN_SIZE);
	KUNIT_EXPECT_EQ(test, s->alloc_count, 3);

	/*
	 * The exhausted cached span is swept, not replaced.  A sweep of the
	 * window's own word: gomm_alloc_refill()'s rewindow counts it in
	 * rewins, gomm_next_free() (the zeroing path, with init_on_alloc) in
	 * sweeps; gomm_stats_read() adds the two.
	 */
	sweeps = mc->sweeps + mc->rewins;
	gomm_free(p[1]);
	KUNIT_EXPECT_TRUE(test, test_bit(1, s->free_bits));
	p[3] = gomm_alloc(SPAN_SIZE, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, p[3], p[1]);
	KUNIT_EXPECT_EQ(test, mc->sweeps + mc->rewins, sweeps + 1);
	KUNIT_EXPECT_EQ(test, mc->refills, refills + 1);
	KUNIT_EXPECT_FALSE(test, test_bit(1, s->free_bits));
	KUNIT_EXPECT_EQ(test, s->alloc_count, 3);

	gomm_free(p[0]);
	gomm_free(p[2]);
	gomm_free(p[3]);
}

static void test_full_partial_empty(struct kunit *test)
{
	/* the suite is pinned: the CPU's node's mcentral */
	struct gomm_mcentral *c = &gomm_local_heap()->central[SPAN_CLASS];
	unsigned long spans;
	struct gomm_span *s;
	void *p[4];
	int i;

	gomm_span_setup(test);
	spans = c->nr_spans;
	for (i = 0; i < 4; i++)
		p[i] = gomm_alloc(SPAN_SIZE, GFP_KERNEL);
	s = gomm_span_of(p[0], NULL);
	/* the fourth allocation uncached the exhausted span: it is full */
	KUNIT_EXPECT_EQ(test, s->state, GOMM_SPAN_FULL);
	KUNIT_EXPECT_PTR_NE(test, gomm_span_of(p[3], NULL), s);
	KUNIT_EXPECT_EQ(test, c->nr_spans, spans + 2);

	/*
	 * the first free of a full span makes it partial, once (the
	 * background scavenger, which sweeps partial spans, held off)
	 */
	gomm_kunit_reclaim_lock();
	gomm_free(p[1]);
	KUNIT_EXPECT_EQ(test, s->state, GOMM_SPAN_PARTIAL);
	gomm_free(p[0]);
	KUNIT_EXPECT_EQ(test, s->state, GOMM_SPAN_PARTIAL);
	KUNIT_EXPECT_EQ(test, s->alloc_count, 3);	/* not swept yet */
	gomm_kunit_reclaim_unlock();

	/* all free: drain sweeps it and gives its pages back to the heap */
	gomm_free(p[2]);
	gomm_free(p[3]);
	gomm_drain();
	KUNIT_EXPECT_NULL(test, gomm_span_of(p[0], NULL));
	KUNIT_EXPECT_NULL(test, gomm_span_of(p[3], NULL));
	KUNIT_EXPECT_EQ(test, c->nr_spans, spans);
}

/* Free chunks go back to the buddy allocator down to the retain target. */
static void test_chunk_release(struct kunit *test)
{
	unsigned long released = gomm_kunit_heap(released), retain = gomm_retain_kb;
	void *p[3];
	int i;

	for (i = 0; i < 3; i++) {
		p[i] = gomm_alloc(GOMM_MAX_LARGE_SIZE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
	}
	for (i = 0; i < 3; i++)
		gomm_free(p[i]);
	gomm_retain_kb = 0;
	gomm_scavenge();
	gomm_retain_kb = retain;
	/* the three chunks were whole and free: all of them went back */
	KUNIT_EXPECT_GE(test, gomm_kunit_heap(released), released + 3 * GOMM_CHUNK_PAGES);
	/* and so did every other free page: nothing else is live */
	KUNIT_EXPECT_EQ(test, gomm_kunit_heap(pages_owned), gomm_kunit_pages_in_use());
	/* and the heap grows again afterwards */
	p[0] = gomm_alloc(GOMM_MAX_LARGE_SIZE, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, p[0]);
	gomm_free(p[0]);
}

static struct kunit_case gomm_span_cases[] = {
	KUNIT_CASE(test_refill_sweep),
	KUNIT_CASE(test_full_partial_empty),
	KUNIT_CASE(test_chunk_release),
	{}
};

static struct kunit_suite gomm_span_suite = {
	.name = "gomm_span",
	.init = gomm_kunit_pin_cpu,
	.test_cases = gomm_span_cases,
};

/*
 * Start a test of tiny block accounting (skipped with gomm.tiny=0): this
 * CPU's open block closed by a drain (the suite keeps each case on one
 * CPU).  Return: tiny blocks in use.
 */
static long gomm_tiny_begin(struct kunit *test)
{
	if (!gomm_tiny_enabled)
		kunit_skip(test, "gomm.tiny=0");
	gomm_drain();
	return gomm_stats_in_use(GOMM_TINY_SPANCLASS);
}

/* The tiny allocator: combining, Go's alignment, block release. */
static void test_tiny_combine(struct kunit *test)
{
	long blocks = gomm_tiny_begin(test);
	unsigned char *p[GOMM_TINY_SIZE], *q;
	struct gomm_span *s;
	unsigned long block;
	int i;

	p[0] = gomm_alloc(1, GFP_KERNEL);
	block = (unsigned long)p[0] & ~(GOMM_TINY_SIZE - 1UL);
	for (i = 1; i < GOMM_TINY_SIZE; i++)
		p[i] = gomm_alloc(1, GFP_KERNEL);
	/* GOMM_TINY_SIZE 1-byte objects share one block */
	for (i = 0; i < GOMM_TINY_SIZE; i++) {
		KUNIT_EXPECT_EQ(test, (unsigned long)p[i], block + i);
		KUNIT_EXPECT_EQ(test, gomm_size(p[i]), 1UL);
		*p[i] = i;
	}
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 1);
	s = gomm_span_of(p[0], NULL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->sizeclass, GOMM_TINY_CLASS);
	/* the full block is closed when the next one opens */
	q = gomm_alloc(1, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, (unsigned long)q % GOMM_TINY_SIZE, 0UL);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 2);
	/* a closed block goes back only when its last sub-object does */
	for (i = 0; i < GOMM_TINY_SIZE; i++) {
		KUNIT_EXPECT_EQ(test, *p[i], i);
		gomm_free(p[i]);
		KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS),
				blocks + 1 + (i < GOMM_TINY_SIZE - 1));
	}
	/* the open block stays until it is closed (here: by drain) */
	gomm_free(q);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 1);
	gomm_drain();
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks);
}

/* An open block whose sub-objects have all been freed starts over. */
static void test_tiny_reuse(struct kunit *test)
{
	long blocks = gomm_tiny_begin(test);
	u8 *a, *b, *c, *d, *e;

	a = gomm_alloc(6, GFP_KERNEL);
	b = gomm_alloc(6, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_EXPECT_PTR_EQ(test, b, a + 6);
	gomm_free(a);
	gomm_free(b);
	/* the open block holds itself */
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 1);
	c = gomm_alloc(12, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, c, a);
	KUNIT_EXPECT_EQ(test, gomm_size(c), 12UL);	/* not the old end */
	d = gomm_alloc(2, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, d, a + 12);
	KUNIT_EXPECT_EQ(test, gomm_size(d), 2UL);
	memset(c, 0xc, 12);
	memset(d, 0xd, 2);
	/* a block with live sub-objects is not started over */
	e = gomm_alloc(4, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e);
	KUNIT_EXPECT_EQ(test, (unsigned long)e % GOMM_TINY_SIZE, 0UL);
	KUNIT_EXPECT_PTR_NE(test, e, a);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 2);
	KUNIT_EXPECT_EQ(test, c[11], 0xc);
	KUNIT_EXPECT_EQ(test, d[1], 0xd);
	gomm_free(c);
	gomm_free(d);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 1);
	gomm_free(e);
	gomm_drain();
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks);
}

/* An 8-byte request is an object of class 1, not a tiny sub-object. */
static void test_tiny_eight(struct kunit *test)
{
	long blocks = gomm_tiny_begin(test);
	struct gomm_span *s;
	void *p, *q;

	p = gomm_alloc(8, GFP_KERNEL);
	q = gomm_alloc(8, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, q);
	s = gomm_span_of(p, NULL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->kind, GOMM_KIND_SMALL);
	KUNIT_EXPECT_EQ(test, s->sizeclass, 1);
	KUNIT_EXPECT_EQ(test, gomm_size(p), 8UL);
	/* no tiny block was opened for them */
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks);
	gomm_free(p);
	gomm_free(q);
}

static void test_tiny_alignment(struct kunit *test)
{
	static const size_t sizes[] = { 1, 4, 2, 8, 3, 12, 6, 1, 8, 4 };
	void *p[ARRAY_SIZE(sizes)];
	unsigned int i, j;

	if (!gomm_tiny_enabled)
		kunit_skip(test, "gomm.tiny=0");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = gomm_alloc(sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		if (!(sizes[i] & 7))
			KUNIT_EXPECT_EQ(test, (unsigned long)p[i] % 8, 0UL);
		else if (!(sizes[i] & 3))
			KUNIT_EXPECT_EQ(test, (unsigned long)p[i] % 4, 0UL);
		else if (!(sizes[i] & 1))
			KUNIT_EXPECT_EQ(test, (unsigned long)p[i] % 2, 0UL);
		KUNIT_EXPECT_GE(test, gomm_size(p[i]), sizes[i]);
		memset(p[i], 0x40 + i, sizes[i]);
	}
	/* no two sub-objects overlap */
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < sizes[i]; j++)
			KUNIT_EXPECT_EQ(test, ((u8 *)p[i])[j], 0x40 + i);
		gomm_free(p[i]);
	}
}

static struct kunit_case gomm_tiny_cases[] = {
	KUNIT_CASE(test_tiny_combine),
	KUNIT_CASE(test_tiny_reuse),
	KUNIT_CASE(test_tiny_eight),
	KUNIT_CASE(test_tiny_alignment),
	{}
};

static struct kunit_suite gomm_tiny_suite = {
	.name = "gomm_tiny",
	.init = gomm_kunit_pin_cpu,
	.test_cases = gomm_tiny_cases,
};

/*
 * Stress: a kthread per CPU allocates mixed sizes (tiny, small, large),
 * stamps each object with a pattern, and hands some to the next CPU's ring
 * to be checked and freed there.  An object handed out twice, or memory
 * written after a free, shows up as a broken pattern.  Each thread counts
 * its allocations, and each CPU's own counters in its mcache must have
 * risen by at least that many: every CPU allocated, through its own cache.
 */
#define STRESS_RING	256
#define STRESS_LIVE	64

struct stress_obj {
	u8 *p;
	size_t size;
	u32 stamp;
};

struct stress_ring {
	spinlock_t lock;	/* head, tail and o[] */
	unsigned int head, tail;
	struct stress_obj o[STRESS_RING];
};

struct stress {
	struct kunit *test;
	unsigned int nthreads;
	unsigned int iters;
	atomic_t failures;
	atomic_t running;
	struct completion done;
	struct stress_ring *ring;	/* one per possible CPU id */
	unsigned long *allocs;		/* per CPU id: the thread's allocations */
};

/*
 * Objects @cpu has handed out: of the span classes (small objects and tiny
 * blocks), tiny sub-objects and large objects, from its counters
 * (gomm_stats_cpu(), which only go up).
 */
static unsigned long stress_cpu_allocs(int cpu)
{
	struct gomm_cpu_stats st;

	gomm_stats_cpu(cpu, &st);
	return st.allocs + st.tiny_allocs + st.large_allocs;
}

static size_t stress_size(struct rnd_state *r)
{
	u32 x = prandom_u32_state(r);

	switch (x % 16) {
	case 0 ... 3:		/* tiny */
		return 1 + (x >> 8) % (GOMM_TINY_SIZE - 1);
	case 4 ... 11:		/* small, up to GOMM_SMALL_SIZE_MAX */
		return GOMM_TINY_SIZE +
		       (x >> 8) % (GOMM_SMALL_SIZE_MAX - GOMM_TINY_SIZE + 1);
	case 12 ... 14:		/* medium, up to the largest class */
		return GOMM_SMALL_SIZE_MAX +
		       (x >> 8) % (GOMM_MAX_SMALL_SIZE - GOMM_SMALL_SIZE_MAX + 1);
	default:		/* large */
		return GOMM_MAX_SMALL_SIZE + 1 + (x >> 8) % (512 << 10);
	}
}

static void stress_fill(struct stress_obj *o)
{
	size_t i;

	for (i = 0; i < o->size; i++)
		o->p[i] = (u8)(o->stamp + i * 7);
}

static bool stress_check(struct stress_obj *o)
{
	size_t i;

	for (i = 0; i < o->size; i++)
		if (o->p[i] != (u8)(o->stamp + i * 7))
			return false;
	return true;
}

static void stress_release(struct stress *st, struct stress_obj *o)
{
	if (!stress_check(o))
		atomic_inc(&st->failures);
	gomm_free(o->p);
}

static bool ring_put(struct stress_ring *r, struct stress_obj *o)
{
	bool ok;

	spin_lock_bh(&r->lock);
	ok = r->head - r->tail < STRESS_RING;
	if (ok)
		r->o[r->head++ % STRESS_RING] = *o;
	spin_unlock_bh(&r->lock);
	return ok;
}

static bool ring_get(struct stress_ring *r, struct stress_obj *o)
{
	bool ok;

	spin_lock_bh(&r->lock);
	ok = r->head != r->tail;
	if (ok)
		*o = r->o[r->tail++ % STRESS_RING];
	spin_unlock_bh(&r->lock);
	return ok;
}

static int stress_fn(void *arg)
{
	struct stress *st = arg;
	unsigned int me = raw_smp_processor_id(), next, i, k;
	struct stress_obj live[STRESS_LIVE] = {}, o;
	struct rnd_state r;

	prandom_seed_state(&r, 0x90dd + me);
	next = cpumask_next(me, cpu_online_mask);
	if (next >= nr_cpu_ids)
		next = cpumask_first(cpu_online_mask);
	for (i = 0; i < st->iters; i++) {
		k = prandom_u32_state(&r) % STRESS_LIVE;
		if (live[k].p) {
			/* half of the frees cross to the next CPU */
			if (!((prandom_u32_state(&r) & 1) &&
			      ring_put(&st->ring[next], &live[k])))
				stress_release(st, &live[k]);
			live[k].p = NULL;
		}
		o.size = stress_size(&r);
		o.p = gomm_alloc(o.size, GFP_KERNEL);
		if (!o.p) {
			atomic_inc(&st->failures);
			continue;
		}
		st->allocs[me]++;
		o.stamp = prandom_u32_state(&r);
		stress_fill(&o);
		live[k] = o;
		while (ring_get(&st->ring[me], &o))
			stress_release(st, &o);
		if (!(i % 64))
			cond_resched();
	}
	for (k = 0; k < STRESS_LIVE; k++)
		if (live[k].p)
			stress_release(st, &live[k]);
	if (atomic_dec_and_test(&st->running))
		complete(&st->done);
	return 0;
}

static void test_stress_mixed(struct kunit *test)
{
	struct stress *st = kvzalloc(sizeof(*st), GFP_KERNEL);
	unsigned long *base;
	struct task_struct *t;
	struct stress_obj o;
	unsigned int cpu, c;
	cpumask_var_t ran;

	KUNIT_ASSERT_NOT_NULL(test, st);
	st->ring = kvcalloc(nr_cpu_ids, sizeof(*st->ring), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st->ring);
	st->allocs = kunit_kcalloc(test, nr_cpu_ids, sizeof(*st->allocs), GFP_KERNEL);
	base = kunit_kcalloc(test, nr_cpu_ids, sizeof(*base), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st->allocs);
	KUNIT_ASSERT_NOT_NULL(test, base);
	KUNIT_ASSERT_TRUE(test, zalloc_cpumask_var(&ran, GFP_KERNEL));
	st->test = test;
	/*
	 * KCSAN instruments each byte the threads fill and check (large
	 * objects run to 544 KiB): 20000 rounds overran KUnit's 300 s case
	 * timeout in make kcsan, which runs its own 60 s stress after this.
	 */
	st->iters = IS_ENABLED(CONFIG_KCSAN) ? 2000 : 20000;
	init_completion(&st->done);
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		spin_lock_init(&st->ring[cpu].lock);
	/* no window cached anywhere: the counters are objects handed out */
	gomm_drain();
	for_each_online_cpu(cpu)
		base[cpu] = stress_cpu_allocs(cpu);
	cpus_read_lock();
	atomic_set(&st->running, num_online_cpus());
	for_each_online_cpu(cpu) {
		cpumask_set_cpu(cpu, ran);
		t = kthread_create_on_cpu(stress_fn, st, cpu, "gomm_stress/%u");
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		wake_up_process(t);
	}
	cpus_read_unlock();
	wait_for_completion(&st->done);
	/* every CPU's thread allocated, and on that CPU's own mcache */
	for_each_cpu(cpu, ran) {
		KUNIT_EXPECT_GT_MSG(test, st->allocs[cpu], 0UL,
				    "CPU %u: its thread allocated nothing", cpu);
		KUNIT_EXPECT_GE_MSG(test, stress_cpu_allocs(cpu) - base[cpu], st->allocs[cpu],
				    "CPU %u: its mcache counted fewer objects than its thread allocated",
				    cpu);
	}
	free_cpumask_var(ran);
	/* what is still in the rings is checked and freed here */
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		while (ring_get(&st->ring[cpu], &o))
			stress_release(st, &o);
	KUNIT_EXPECT_EQ(test, atomic_read(&st->failures), 0);
	/*
	 * Nothing lost: with the open tiny blocks closed, every in-use counter
	 * is zero (gomm has no other user in the test VM) and every span went
	 * back to the heap.
	 */
	gomm_drain();
	for (c = 0; c < GOMM_NUM_SPANCLASSES; c++)
		KUNIT_EXPECT_EQ_MSG(test, gomm_stats_in_use(c), 0L, "class %u", c);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_STATS_TINY), 0L);
	KUNIT_EXPECT_EQ(test, gomm_kunit_pages_in_use(), 0UL);
	kvfree(st->ring);
	kvfree(st);
}

static struct kunit_case gomm_stress_cases[] = {
	KUNIT_CASE_SLOW(test_stress_mixed),
	{}
};

static struct kunit_suite gomm_stress_suite = {
	.name = "gomm_stress",
	.test_cases = gomm_stress_cases,
};

kunit_test_suites(&gomm_api_suite, &gomm_span_suite, &gomm_tiny_suite,
		  &gomm_stress_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for gomm");
