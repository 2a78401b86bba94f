// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for gomm's hardening: bad input (gomm_hardening_input, the
 * one suite for it) and atomic contexts beyond gomm_test.c's gomm_api
 * suite, heap growth under fault injection, the scavenger's retain target,
 * and CPU hotplug with live objects.  Every case checks the gomm_errors counter a report must bump
 * and that gomm still hands out distinct, usable objects afterwards.
 */
#include <kunit/test.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>
#include <linux/gomm.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <trace/events/printk.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_kunit.h"

struct hard_errs {
	long bad_free;
	long double_free;
	long failed_grow;
	long too_large;
};

static void hard_errs_read(struct hard_errs *e)
{
	e->bad_free = atomic_long_read(&gomm_errors.bad_free);
	e->double_free = atomic_long_read(&gomm_errors.double_free);
	e->failed_grow = atomic_long_read(&gomm_errors.failed_grow);
	e->too_large = atomic_long_read(&gomm_errors.too_large);
}

/* Each counter moved by exactly the given amount since @e0. */
static void hard_expect_errs(struct kunit *test, const char *what,
			     const struct hard_errs *e0, long bad, long dbl,
			     long grow, long big)
{
	struct hard_errs e;

	hard_errs_read(&e);
	KUNIT_EXPECT_EQ_MSG(test, e.bad_free - e0->bad_free, bad, "%s: bad_free", what);
	KUNIT_EXPECT_EQ_MSG(test, e.double_free - e0->double_free, dbl,
			    "%s: double_free", what);
	KUNIT_EXPECT_EQ_MSG(test, e.failed_grow - e0->failed_grow, grow,
			    "%s: failed_grow", what);
	KUNIT_EXPECT_EQ_MSG(test, e.too_large - e0->too_large, big, "%s: too_large", what);
}

#define HARD_OK_N	8

/*
 * After bad input: objects of @size still come out distinct and usable,
 * and a clean round of allocations and frees reports nothing.
 */
static void hard_class_ok(struct kunit *test, size_t size)
{
	struct hard_errs e0;
	u8 *p[HARD_OK_N];
	unsigned int i, j;

	hard_errs_read(&e0);
	for (i = 0; i < HARD_OK_N; i++) {
		p[i] = gomm_alloc(size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, p[i], "size %zu", size);
		KUNIT_EXPECT_GE_MSG(test, gomm_size(p[i]), size, "size %zu", size);
		memset(p[i], 0x60 + i, size);
	}
	for (i = 0; i < HARD_OK_N; i++) {
		for (j = i + 1; j < HARD_OK_N; j++)
			KUNIT_EXPECT_TRUE_MSG(test, p[i] + size <= p[j] || p[j] + size <= p[i],
					      "size %zu: objects %u and %u overlap", size, i, j);
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p[i], 0x60 + i, size),
				      "size %zu: object %u was overwritten", size, i);
	}
	for (i = 0; i < HARD_OK_N; i++)
		gomm_free(p[i]);
	hard_expect_errs(test, "clean round", &e0, 0, 0, 0, 0);
}

/*
 * Objects in use per span class 0..68 (0: large objects), and at index
 * GOMM_NUM_SPANCLASSES the tiny sub-objects (GOMM_STATS_TINY).
 */
#define HARD_NOBJS	(GOMM_NUM_SPANCLASSES + 1)

static long hard_objs(unsigned int i)
{
	return gomm_stats_in_use(i < GOMM_NUM_SPANCLASSES ? i : GOMM_STATS_TINY);
}

static void hard_kvfree(void *p)
{
	kvfree(p);
}

static unsigned long hard_pages_owned(void)
{
	return gomm_kunit_heap(pages_owned);
}

static unsigned long hard_pages_in_use(void)
{
	return gomm_kunit_pages_in_use();
}

static unsigned long hard_grows(void)
{
	return gomm_kunit_heap(grows);
}

/* Free pages of the heap (owned from the buddy allocator, in no span). */
static unsigned long hard_heap_free_pages(void)
{
	return hard_pages_owned() - hard_pages_in_use();
}

/* a retain target that keeps every free page: no background release */
#define HARD_RETAIN_ALL	BIT(40)

static void hard_restore_retain(void *saved)
{
	WRITE_ONCE(gomm_retain_kb, (unsigned long)saved);
}

/* Set gomm_retain_kb for the rest of the case; it is restored at its end. */
void gomm_kunit_set_retain(struct kunit *test, unsigned long kb)
{
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, hard_restore_retain,
							(void *)READ_ONCE(gomm_retain_kb)), 0);
	WRITE_ONCE(gomm_retain_kb, kb);
}

/*
 * Leave the heap without a free page, so that the next span needs a heap
 * growth: drain every CPU (empty spans go back to the heap) and scavenge
 * with a retain target of 0, which gives every wholly free chunk back.
 * gomm has no other user in the test VM: with nothing live every chunk is
 * wholly free.  The retain target stays 0 for the rest of the case.
 */
void hard_force_growth(struct kunit *test)
{
	gomm_kunit_set_retain(test, 0);
	gomm_scavenge();
	KUNIT_ASSERT_EQ_MSG(test, hard_heap_free_pages(), 0UL,
			    "free heap pages left after a scavenge with retain_kb=0");
}

/* ---- bad input ---- */

/* Bad input: reported, counted, ignored; gomm keeps working. */
static void test_bad_free(struct kunit *test)
{
	long bad = atomic_long_read(&gomm_errors.bad_free);
	long dbl = atomic_long_read(&gomm_errors.double_free);
	char stack_obj[16];
	void *k = kmalloc(64, GFP_KERNEL);
	void *p = gomm_alloc(64, GFP_KERNEL);
	void *l = gomm_alloc(100000, GFP_KERNEL);
	void *t;

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, l);
	gomm_free(k);			/* kmalloc'd */
	gomm_free(stack_obj);		/* on the stack */
	gomm_free(p + 8);		/* interior */
	gomm_free(l + GOMM_PAGE_SIZE);	/* interior of a large object */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.bad_free), bad + 4);
	gomm_free(p);
	gomm_free(p);			/* double free, small */
	gomm_free(l);
	gomm_free(l);			/* double free, large */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.double_free), dbl + 2);
	if (gomm_tiny_enabled) {
		t = gomm_alloc(3, GFP_KERNEL);
		gomm_free(t);
		gomm_free(t);		/* double free, tiny */
		KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.double_free), dbl + 3);
	}
	KUNIT_EXPECT_EQ(test, gomm_size(k), 0UL);
	kfree(k);
	/* and gomm still works */
	p = gomm_alloc(64, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, p);
	gomm_free(p);
}

static u8 hard_global[64];

/* Pointers gomm never returned: reported as bad frees, never touched. */
static void test_foreign_free(struct kunit *test)
{
	struct page *pg = alloc_page(GFP_KERNEL);
	void *v = vmalloc(2 * PAGE_SIZE);
	const void *ptrs[8];
	struct hard_errs e0;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, pg);
	KUNIT_ASSERT_NOT_NULL(test, v);
	ptrs[0] = hard_global;			/* module data */
	ptrs[1] = hard_global + 8;
	ptrs[2] = v;				/* vmalloc */
	ptrs[3] = v + PAGE_SIZE;
	ptrs[4] = page_address(pg);		/* direct map, not gomm's */
	ptrs[5] = (const void *)test_foreign_free;	/* module text */
	ptrs[6] = ERR_PTR(-ENOMEM);
	ptrs[7] = (const void *)0x1000UL;	/* user range */
	memset(hard_global, 0x3c, sizeof(hard_global));
	memset(v, 0x3c, 2 * PAGE_SIZE);

	hard_errs_read(&e0);
	gomm_free(NULL);
	KUNIT_EXPECT_EQ(test, gomm_size(NULL), 0UL);
	hard_expect_errs(test, "NULL", &e0, 0, 0, 0, 0);
	for (i = 0; i < ARRAY_SIZE(ptrs); i++) {
		gomm_free(ptrs[i]);
		KUNIT_EXPECT_EQ_MSG(test, gomm_size(ptrs[i]), 0UL, "pointer %u", i);
	}
	hard_expect_errs(test, "foreign pointers", &e0, 2 * ARRAY_SIZE(ptrs), 0, 0, 0);
	/* ignored: the memory behind them is untouched */
	KUNIT_EXPECT_NULL(test, memchr_inv(hard_global, 0x3c, sizeof(hard_global)));
	KUNIT_EXPECT_NULL(test, memchr_inv(v, 0x3c, 2 * PAGE_SIZE));
	vfree(v);
	__free_page(pg);
	hard_class_ok(test, 64);
	hard_class_ok(test, 3);
	hard_class_ok(test, 100000);
}

/* Interior pointers of small and large objects; the span's tail. */
static void test_interior_free(struct kunit *test)
{
	/* class sizes and whole-page large sizes: requested size = usable size */
	const size_t sizes[] = {
		gomm_class_to_size[GOMM_TINY_CLASS],	/* 16, not a tiny size */
		gomm_class_to_size[5],			/* 48 */
		gomm_class_to_size[32],			/* 1024 */
		gomm_class_to_size[41],			/* 3072, 8 in 3 pages */
		gomm_class_to_size[GOMM_KUNIT_LONG_SPAN_CLASS],	/* 27264 */
		GOMM_MAX_SMALL_SIZE,			/* the largest class */
		5 * GOMM_PAGE_SIZE, SZ_1M,		/* large */
	};
	struct hard_errs e0;
	struct gomm_span *s;
	unsigned int i, k, n;
	size_t size, off[4];
	u8 *p, *a, *b;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size = sizes[i];
		p = gomm_alloc(size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p);
		KUNIT_ASSERT_EQ(test, gomm_size(p), size);
		memset(p, 0x5c, size);
		off[0] = 1;
		off[1] = 8;
		off[2] = size / 2 + 4;
		off[3] = size - 1;
		hard_errs_read(&e0);
		for (k = 0; k < ARRAY_SIZE(off); k++) {
			gomm_free(p + off[k]);
			KUNIT_EXPECT_EQ_MSG(test, gomm_size(p + off[k]), 0UL,
					    "size %zu offset %zu", size, off[k]);
		}
		hard_expect_errs(test, "interior", &e0, 2 * ARRAY_SIZE(off), 0, 0, 0);
		/* the object is still live and intact */
		KUNIT_EXPECT_EQ(test, gomm_size(p), size);
		KUNIT_EXPECT_NULL(test, memchr_inv(p, 0x5c, size));
		gomm_free(p);
		hard_expect_errs(test, "the real free", &e0, 2 * ARRAY_SIZE(off), 0, 0, 0);
		hard_class_ok(test, size);
	}

	/*
	 * past the last object of a span whose size is not a multiple (3
	 * objects of this class in 10 pages, then 128 bytes)
	 */
	size = gomm_class_to_size[GOMM_KUNIT_LONG_SPAN_CLASS];
	a = gomm_alloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	s = gomm_span_of(a, NULL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	b = (u8 *)s->start + s->nelems * s->elemsize;
	KUNIT_ASSERT_TRUE(test, (unsigned long)b < s->start + s->npages * GOMM_PAGE_SIZE);
	hard_errs_read(&e0);
	gomm_free(b);
	KUNIT_EXPECT_EQ(test, gomm_size(b), 0UL);
	hard_expect_errs(test, "span tail", &e0, 2, 0, 0, 0);
	gomm_free(a);
	hard_class_ok(test, size);

	/*
	 * Tiny: an offset inside a block where no sub-object starts.  gomm
	 * cannot tell it from a sub-object freed earlier and counts it as a
	 * double free; either way it is one report and the object survives.
	 */
	if (!gomm_tiny_enabled)
		return;
	migrate_disable();
	gomm_drain();
	p = gomm_alloc(14, GFP_KERNEL);
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, p);
	memset(p, 0x77, 14);
	hard_errs_read(&e0);
	for (n = 1; n < 8; n += 3)
		gomm_free(p + n);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.bad_free) - e0.bad_free +
			atomic_long_read(&gomm_errors.double_free) - e0.double_free, 3L);
	KUNIT_EXPECT_EQ(test, gomm_size(p), 14UL);
	KUNIT_EXPECT_NULL(test, memchr_inv(p, 0x77, 14));
	gomm_free(p);
	hard_class_ok(test, 14);
}

/* Small double free after the first free was swept (alloc bit clear). */
static void test_double_small_swept(struct kunit *test)
{
	/* a class size (512 bytes, 16 to a span): usable size = request */
	const size_t size = gomm_class_to_size[26];
	struct hard_errs e0;
	struct gomm_span *s;
	unsigned int idx;
	u8 *a, *b;

	migrate_disable();
	gomm_drain();
	a = gomm_alloc(size, GFP_KERNEL);
	b = gomm_alloc(size, GFP_KERNEL);
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	s = gomm_span_of(a, NULL);
	KUNIT_ASSERT_PTR_EQ(test, gomm_span_of(b, NULL), s);
	idx = (a - (u8 *)s->start) / s->elemsize;
	memset(b, 0x42, size);
	hard_errs_read(&e0);
	gomm_free(a);
	/* b keeps the span alive; drain uncaches it and sweeps a's free */
	gomm_drain();
	KUNIT_ASSERT_FALSE(test, test_bit(idx, s->alloc_bits));
	KUNIT_ASSERT_FALSE(test, test_bit(idx, s->free_bits));
	gomm_free(a);
	KUNIT_EXPECT_EQ(test, gomm_size(a), 0UL);
	hard_expect_errs(test, "swept double free", &e0, 0, 2, 0, 0);
	KUNIT_EXPECT_EQ(test, gomm_size(b), size);
	KUNIT_EXPECT_NULL(test, memchr_inv(b, 0x42, size));
	gomm_free(b);
	hard_expect_errs(test, "the real free", &e0, 0, 2, 0, 0);
	hard_class_ok(test, size);
}

/*
 * Tiny double frees in a shared block: while another sub-object keeps the
 * block live, after the block is freed, and after its span is gone.
 */
static void test_double_tiny(struct kunit *test)
{
	long blocks, subs;
	struct hard_errs e0;
	u8 *a, *b;

	if (!gomm_tiny_enabled)
		kunit_skip(test, "gomm.tiny=0");
	migrate_disable();
	gomm_drain();
	blocks = gomm_stats_in_use(GOMM_TINY_SPANCLASS);
	subs = gomm_stats_in_use(GOMM_STATS_TINY);
	a = gomm_alloc(4, GFP_KERNEL);
	b = gomm_alloc(4, GFP_KERNEL);
	/* close the block: only its sub-objects keep it now */
	gomm_drain();
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_PTR_EQ(test, b, a + 4);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 1);
	memset(b, 0x99, 4);

	hard_errs_read(&e0);
	gomm_free(a);
	gomm_free(a);
	hard_expect_errs(test, "tiny, block live", &e0, 0, 1, 0, 0);
	KUNIT_EXPECT_EQ(test, gomm_size(a), 0UL);
	hard_expect_errs(test, "tiny size query", &e0, 0, 2, 0, 0);
	/* b and its block are untouched */
	KUNIT_EXPECT_EQ(test, gomm_size(b), 4UL);
	KUNIT_EXPECT_NULL(test, memchr_inv(b, 0x99, 4));
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks + 1);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_STATS_TINY), subs + 1);

	/* the last sub-object frees the block; both frees again */
	gomm_free(b);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_TINY_SPANCLASS), blocks);
	gomm_free(b);
	gomm_free(a);
	hard_expect_errs(test, "tiny, block gone", &e0, 0, 4, 0, 0);

	/*
	 * Drain frees the empty span: a now points into a free gomm page
	 * (a double free), or into a page the background scavenger already
	 * gave back (gomm cannot tell it from a foreign pointer).
	 */
	gomm_drain();
	gomm_free(a);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.bad_free) - e0.bad_free +
			atomic_long_read(&gomm_errors.double_free) - e0.double_free, 5L);
	KUNIT_EXPECT_EQ(test, gomm_stats_in_use(GOMM_STATS_TINY), subs);
	hard_class_ok(test, 4);
	hard_class_ok(test, 1);
}

/* Large double frees, of several sizes, and after the pages went back. */
static void test_double_large(struct kunit *test)
{
	static const size_t sizes[] = { GOMM_MAX_SMALL_SIZE + 1, 40960, SZ_1M, SZ_4M };
	void *p[ARRAY_SIZE(sizes)];
	unsigned long large_pages;
	struct hard_errs e0;
	unsigned int i;

	/* no background release between a free and its repeat */
	gomm_kunit_set_retain(test, HARD_RETAIN_ALL);
	large_pages = gomm_kunit_heap(large_pages);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = gomm_alloc(sizes[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
	}
	hard_errs_read(&e0);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		gomm_free(p[i]);
		gomm_free(p[i]);
	}
	hard_expect_errs(test, "large", &e0, 0, ARRAY_SIZE(sizes), 0, 0);
	gomm_drain();
	KUNIT_EXPECT_EQ(test, gomm_kunit_heap(large_pages), large_pages);

	/* every page back to the buddy allocator: gomm no longer owns it */
	hard_force_growth(test);
	gomm_free(p[3]);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.bad_free) - e0.bad_free +
			atomic_long_read(&gomm_errors.double_free) - e0.double_free,
			(long)ARRAY_SIZE(sizes) + 1);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		hard_class_ok(test, sizes[i]);
}

/* Sizes above 4 MiB, through every entry point and GFP flavour. */
static void test_too_large(struct kunit *test)
{
	struct hard_errs e0;
	void *p;

	hard_errs_read(&e0);
	KUNIT_EXPECT_NULL(test, gomm_alloc(0, GFP_ATOMIC | __GFP_ZERO));
	hard_expect_errs(test, "size 0", &e0, 0, 0, 0, 0);
	p = gomm_alloc(SZ_4M, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, gomm_size(p), (size_t)SZ_4M);
	gomm_free(p);
	KUNIT_EXPECT_NULL(test, gomm_alloc(SZ_4M + 1, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_zalloc(SZ_4M + 1, GFP_KERNEL | __GFP_NOWARN));
	KUNIT_EXPECT_NULL(test, gomm_alloc(SIZE_MAX, GFP_ATOMIC | __GFP_NOWARN));
	KUNIT_EXPECT_NULL(test, gomm_zalloc(SIZE_MAX, GFP_NOWAIT));
	KUNIT_EXPECT_NULL(test, gomm_alloc(SIZE_MAX / 2 + 1, GFP_KERNEL));
	hard_expect_errs(test, "above 4 MiB", &e0, 0, 0, 0, 5);
	hard_class_ok(test, SZ_4M);
	hard_class_ok(test, 16);
}

/*
 * What gomm prints, seen through the console tracepoint (as kasan_test.c
 * sees KASAN's reports): the warning for a request above 4 MiB, its
 * silence with __GFP_NOWARN, and gomm_report()'s rate limit.
 */
#define HARD_WARN_TAIL	"-byte request is above the 4 MiB limit"
#define HARD_REPORT	"gomm: free of a pointer gomm never returned of "

struct hard_console {
	char warn[64];		/* the warning line for the size under test */
	atomic_t warn_seen;	/* lines that are @warn */
	atomic_t any_warn;	/* lines with HARD_WARN_TAIL, any size */
	atomic_t reports;	/* report lines of a foreign pointer's free */
};

static void hard_console_probe(void *data, const char *buf, size_t len)
{
	struct hard_console *hc = data;

	if (strnstr(buf, HARD_WARN_TAIL, len)) {
		atomic_inc(&hc->any_warn);
		if (strnstr(buf, hc->warn, len))
			atomic_inc(&hc->warn_seen);
	}
	if (strnstr(buf, HARD_REPORT, len))
		atomic_inc(&hc->reports);
}

static void hard_console_unregister(void *hc)
{
	unregister_trace_console(hard_console_probe, hc);
	tracepoint_synchronize_unregister();
}

/*
 * A request above GOMM_MAX_LARGE_SIZE returns NULL, is counted, and prints
 * the warning once (pr_warn_ratelimited(): no "WARNING:" line, so no
 * splat for scripts/vm); with __GFP_NOWARN it prints nothing.  Then a
 * burst of 4 * burst bad frees: bad_free counts every one, but at most
 * gomm_report_rs.burst report lines come out per gomm_report_rs.interval
 * - exactly one burst when the frees took less than an interval, which
 * they do unless the console is very slow.  The case first sleeps a
 * whole interval (of both limits: an interval starts at a limit's first
 * print after the last one ran out) so that earlier prints cannot have
 * used up either burst.  The reports are
 * bracketed for scripts/vm ("expect-splat on gomm"), which then also
 * requires at least one of them on the console.
 */
static void test_report_ratelimit(struct kunit *test)
{
	struct hard_console *hc = kunit_kzalloc(test, sizeof(*hc), GFP_KERNEL);
	int burst = READ_ONCE(gomm_report_rs.burst);
	int interval = READ_ONCE(gomm_report_rs.interval);
	unsigned int i, n, reports, bound;
	unsigned long t0, elapsed;
	struct hard_errs e0;
	size_t big;

	KUNIT_ASSERT_NOT_NULL(test, hc);
	KUNIT_ASSERT_GT(test, burst, 0);
	KUNIT_ASSERT_GT(test, interval, 0);
	KUNIT_ASSERT_EQ(test, register_trace_console(hard_console_probe, hc), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, hard_console_unregister, hc), 0);
	/* a limit's next call after a whole interval starts a new one */
	msleep(jiffies_to_msecs(max(interval, DEFAULT_RATELIMIT_INTERVAL) + 1));

	hard_errs_read(&e0);
	big = GOMM_MAX_LARGE_SIZE + 1;
	snprintf(hc->warn, sizeof(hc->warn), "gomm: %zu" HARD_WARN_TAIL, big);
	KUNIT_EXPECT_NULL(test, gomm_alloc(big, GFP_KERNEL));
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&hc->warn_seen), 1,
			    "the warning for a %zu-byte request, times printed", big);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&hc->any_warn), 1,
			    "warnings for requests above the limit, times printed");
	hard_expect_errs(test, "above 4 MiB", &e0, 0, 0, 0, 1);

	big = GOMM_MAX_LARGE_SIZE + GOMM_PAGE_SIZE;
	snprintf(hc->warn, sizeof(hc->warn), "gomm: %zu" HARD_WARN_TAIL, big);
	KUNIT_EXPECT_NULL(test, gomm_alloc(big, GFP_KERNEL | __GFP_NOWARN));
	KUNIT_EXPECT_NULL(test, gomm_zalloc(big, GFP_ATOMIC | __GFP_NOWARN));
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&hc->any_warn), 1,
			    "__GFP_NOWARN: a warning was printed");
	hard_expect_errs(test, "above 4 MiB, __GFP_NOWARN", &e0, 0, 0, 0, 3);

	n = 4 * burst;
	hard_errs_read(&e0);
	pr_info("gomm-vm: expect-splat on gomm\n");
	t0 = jiffies;
	for (i = 0; i < n; i++)
		gomm_free(hard_global + 8);
	elapsed = jiffies - t0;
	pr_info("gomm-vm: expect-splat off\n");
	reports = atomic_read(&hc->reports);
	hard_expect_errs(test, "report burst", &e0, n, 0, 0, 0);
	/* every interval the burst took may print one burst */
	bound = burst * (1 + elapsed / interval);
	KUNIT_EXPECT_GE_MSG(test, reports, (unsigned int)burst,
			    "%u bad frees from a fresh interval: fewer reports than the burst",
			    n);
	KUNIT_EXPECT_LE_MSG(test, reports, bound,
			    "%u bad frees in %lu jiffies: more reports than %d per %d jiffies",
			    n, elapsed, burst, interval);
	hard_class_ok(test, 64);
}

/*
 * __GFP_ZERO over a dirty object that is certainly reused: a test that
 * cannot pass on fresh (already zero) memory.  For each size an object
 * is allocated, filled with HARD_ZERO_PAT and freed; a plain allocation
 * must then get the same address back with the pattern still there (the
 * memory is dirty: nothing zeroed it on the way), that object is freed
 * again, and a zeroed allocation must get the same address once more,
 * all zero.  The whole case runs on one CPU, so one mcache serves it and
 * nothing else in the test VM allocates from gomm.
 *
 * How the address is made to come back, by kind:
 * - small: hard_zero_realloc() allocates until the freed object comes
 *   back, holding the others.  The freed object's span stays this CPU's
 *   span of the class, and with everything else of it held the span runs
 *   out of other objects after at most nelems - 1 allocations, when the
 *   sweep hands the freed one out: nelems allocations are enough, and
 *   2 * nelems without it is a failure.
 * - tiny: a fresh block is filled with sub-objects of the size and all of
 *   them freed; the next request does not fit the rest of the block, so
 *   the block, open and without a live sub-object, starts over and hands
 *   out the same offsets again (hard_zero_tiny()).
 * - large: a freed large object's pages go back to the page allocator;
 *   the next request of its size takes the lowest free fit, or (up to
 *   GOMM_PCACHE_MAX_NPAGES pages) the first fit of the CPU's page cache,
 *   which is refilled from the lowest free page once it is used up: so
 *   the freed pages come back within the allocations a 64-page cache
 *   serves (holding the others), plus one.
 */
#define HARD_ZERO_PAT		0xa5
#define HARD_ZERO_LARGE_TRIES	(GOMM_PCACHE_PAGES / 5 + 2)
#define HARD_ZERO_MAX		(2 * GOMM_MAX_OBJS_PER_SPAN)

struct hard_zero {
	void **held;		/* objects hard_zero_realloc() holds */
	unsigned int nheld;
	unsigned int nonzero;	/* zeroed allocations that were not zero */
};

static void *hard_zero_alloc(size_t size, gfp_t gfp, bool zero, bool zalloc)
{
	if (zero && zalloc)
		return gomm_zalloc(size, gfp);
	return gomm_alloc(size, zero ? gfp | __GFP_ZERO : gfp);
}

/*
 * Allocate @size (zeroed if @zero, through gomm_zalloc() if @zalloc) until
 * the object at @want comes back, at most @tries times; the others are
 * held in @z (and checked for zero if @zero).
 * Return: @want, allocated, or NULL if it did not come back.
 */
static void *hard_zero_realloc(struct hard_zero *z, size_t size, gfp_t gfp,
			       bool zero, bool zalloc, const void *want,
			       unsigned int tries)
{
	unsigned int n;
	void *p;

	for (n = 0; n < tries && z->nheld < HARD_ZERO_MAX; n++) {
		p = hard_zero_alloc(size, gfp, zero, zalloc);
		if (!p || p == want)
			return p;
		if (zero && memchr_inv(p, 0, size))
			z->nonzero++;
		z->held[z->nheld++] = p;
	}
	return NULL;
}

static void hard_zero_release(struct hard_zero *z)
{
	while (z->nheld)
		gomm_free(z->held[--z->nheld]);
}

/* A small or large object of @size: dirty, freed, reused, zeroed. */
static void hard_zero_reuse(struct kunit *test, struct hard_zero *z, size_t size,
			    unsigned int tries, bool zalloc, const char *what)
{
	gfp_t gfp = zalloc ? GFP_KERNEL : GFP_ATOMIC;
	u8 *p, *q;

	p = gomm_alloc(size, GFP_KERNEL);
	if (!p) {
		KUNIT_FAIL(test, "%s: allocation failed", what);
		return;
	}
	memset(p, HARD_ZERO_PAT, size);
	gomm_free(p);
	/* the same object again, still dirty */
	q = hard_zero_realloc(z, size, GFP_KERNEL, false, false, p, tries);
	if (!q) {
		KUNIT_FAIL(test, "%s: the freed object did not come back within %u allocations",
			   what, tries);
		hard_zero_release(z);
		return;
	}
	/* with the kernel's init_on_alloc or init_on_free gomm zeroed it */
	if (!gomm_init_alloc && !gomm_init_free)
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(q, HARD_ZERO_PAT, size),
				      "%s: the reused object is not dirty: nothing to zero",
				      what);
	else
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(q, 0, size),
				      "%s: init_on_alloc/free, but the reused object is dirty",
				      what);
	gomm_free(q);
	/* and once more, zeroed */
	q = hard_zero_realloc(z, size, gfp, true, zalloc, p, tries);
	if (q)
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(q, 0, size),
				      "%s: the reused dirty object is not zeroed", what);
	else
		KUNIT_FAIL(test, "%s: not back zeroed within %u allocations", what, tries);
	gomm_free(q);
	hard_zero_release(z);
}

/* Go's tiny alignment for @size: 8, 4, 2 or 1 */
static unsigned int hard_tiny_align(size_t size)
{
	return !(size & 7) ? 8 : !(size & 3) ? 4 : !(size & 1) ? 2 : 1;
}

/*
 * Tiny objects of @size: a fresh block filled with them, all freed; the
 * same offsets again (the block starts over), dirty; then zeroed.
 */
static void hard_zero_tiny(struct kunit *test, size_t size, bool zalloc)
{
	unsigned int align = hard_tiny_align(size), i, n = 0, off;
	gfp_t gfp = zalloc ? GFP_KERNEL : GFP_ATOMIC;
	unsigned long offs[GOMM_TINY_SIZE], block = 0;
	u8 *p[GOMM_TINY_SIZE];
	int round;

	/* the offsets Go's tiny allocator hands out in one block */
	for (off = 0; off + size <= GOMM_TINY_SIZE; off = round_up(off + size, align))
		offs[n++] = off;
	gomm_drain();	/* close this CPU's open block: the next one is fresh */
	for (round = 0; round < 3; round++) {
		for (i = 0; i < n; i++) {
			p[i] = round ? hard_zero_alloc(size, gfp, round == 2, zalloc) :
				       gomm_alloc(size, GFP_KERNEL);
			if (!p[i]) {
				KUNIT_FAIL(test, "tiny size %zu, round %d: allocation failed",
					   size, round);
				continue;
			}
			if (!round && !i) {
				block = (unsigned long)p[0];
				KUNIT_EXPECT_EQ_MSG(test, block % GOMM_TINY_SIZE, 0UL,
						    "tiny size %zu: not at a block's start", size);
			}
			KUNIT_EXPECT_EQ_MSG(test, (unsigned long)p[i], block + offs[i],
					    "tiny size %zu, round %d: sub-object %u not reused",
					    size, round, i);
			if (round == 0)
				memset(p[i], HARD_ZERO_PAT, size);
			else if (round == 1 && !gomm_init_alloc)
				KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p[i], HARD_ZERO_PAT, size),
						      "tiny size %zu: sub-object %u not dirty",
						      size, i);
			else	/* asked for, or init_on_alloc */
				KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p[i], 0, size),
						      "tiny size %zu: sub-object %u not zeroed",
						      size, i);
		}
		/* all free: the next request does not fit, the block starts over */
		for (i = 0; i < n; i++)
			gomm_free(p[i]);
	}
	gomm_drain();
}

static void test_zero_all(struct kunit *test)
{
	/* large: the smallest, the largest from a CPU's page cache, and more */
	static const size_t large[] = {
		round_up(GOMM_MAX_SMALL_SIZE + 1, GOMM_PAGE_SIZE),
		GOMM_PCACHE_MAX_NPAGES * GOMM_PAGE_SIZE,
		(GOMM_PCACHE_MAX_NPAGES + 1) * GOMM_PAGE_SIZE,
	};
	struct hard_zero z = {};
	struct hard_errs e0;
	unsigned int c;
	char what[32];
	size_t size;

	z.held = kvcalloc(HARD_ZERO_MAX, sizeof(*z.held), GFP_KERNEL);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, hard_kvfree, z.held), 0);
	KUNIT_ASSERT_NOT_NULL(test, z.held);
	/* no chunk goes back to the buddy allocator in between */
	gomm_kunit_set_retain(test, HARD_RETAIN_ALL);
	hard_errs_read(&e0);
	migrate_disable();
	for (c = 1; c < GOMM_NUM_CLASSES; c++) {
		size = gomm_class_to_size[c];
		/* below 16 bytes, the sizes loop below covers it */
		if (size < GOMM_TINY_SIZE)
			continue;
		snprintf(what, sizeof(what), "class %u (%zu bytes)", c, size);
		hard_zero_reuse(test, &z, size, 2 * gomm_class_to_nelems[c], c & 1, what);
	}
	for (size = 1; size < GOMM_TINY_SIZE; size++) {
		if (gomm_tiny_size(size)) {
			hard_zero_tiny(test, size, size & 1);
			continue;
		}
		c = gomm_size_to_class(size);
		snprintf(what, sizeof(what), "size %zu (class %u)", size, c);
		hard_zero_reuse(test, &z, size, 2 * gomm_class_to_nelems[c], size & 1, what);
	}
	for (c = 0; c < ARRAY_SIZE(large); c++) {
		snprintf(what, sizeof(what), "large %zu", large[c]);
		hard_zero_reuse(test, &z, large[c], HARD_ZERO_LARGE_TRIES, c & 1, what);
	}
	migrate_enable();
	hard_expect_errs(test, "zeroing", &e0, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ_MSG(test, z.nonzero, 0U, "zeroed allocations that were not zero");
}

/*
 * GFP_ATOMIC in hard and soft interrupt context, and GFP_NOWAIT in
 * process context with preemption off, each when the heap has no free
 * page, so the allocation has to grow it from that context.
 */
static const size_t hard_irq_sizes[] = {
	3, 13, GOMM_TINY_SIZE, 200, 4096, GOMM_MAX_SMALL_SIZE, 40000, SZ_1M,
};

struct hard_irq {
	struct hrtimer hrt;
	struct timer_list tl;
	u8 *p[ARRAY_SIZE(hard_irq_sizes)];
	bool right_context;
	bool zeroed;
	struct completion done;
};

static void hard_irq_alloc(struct hard_irq *c, bool right_context)
{
	unsigned int i;

	c->right_context = right_context;
	c->zeroed = true;
	for (i = 0; i < ARRAY_SIZE(c->p); i++) {
		if (i & 1) {
			c->p[i] = gomm_zalloc(hard_irq_sizes[i], GFP_ATOMIC);
			if (c->p[i] && memchr_inv(c->p[i], 0, hard_irq_sizes[i]))
				c->zeroed = false;
		} else {
			c->p[i] = gomm_alloc(hard_irq_sizes[i], GFP_ATOMIC);
		}
		if (c->p[i])
			memset(c->p[i], 0x20 + i, hard_irq_sizes[i]);
	}
	complete(&c->done);
}

static enum hrtimer_restart hard_hrtimer_fn(struct hrtimer *t)
{
	struct hard_irq *c = container_of(t, struct hard_irq, hrt);

	hard_irq_alloc(c, in_hardirq());
	return HRTIMER_NORESTART;
}

static void hard_timer_fn(struct timer_list *t)
{
	struct hard_irq *c = timer_container_of(c, t, tl);

	hard_irq_alloc(c, in_serving_softirq() && !in_hardirq());
}

static void hard_irq_check(struct kunit *test, struct hard_irq *c,
			   const char *what, unsigned long grows)
{
	unsigned int i, j;

	KUNIT_EXPECT_TRUE_MSG(test, c->right_context, "%s: wrong context", what);
	KUNIT_EXPECT_TRUE_MSG(test, c->zeroed, "%s: __GFP_ZERO", what);
	KUNIT_EXPECT_GT_MSG(test, hard_grows(), grows,
			    "%s: the heap did not grow", what);
	for (i = 0; i < ARRAY_SIZE(c->p); i++) {
		KUNIT_EXPECT_NOT_NULL_MSG(test, c->p[i], "%s: size %zu", what,
					  hard_irq_sizes[i]);
		if (!c->p[i])
			continue;
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(c->p[i], 0x20 + i, hard_irq_sizes[i]),
				      "%s: size %zu overwritten", what, hard_irq_sizes[i]);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_TRUE(test, !c->p[j] ||
					  c->p[i] + hard_irq_sizes[i] <= c->p[j] ||
					  c->p[j] + hard_irq_sizes[j] <= c->p[i]);
	}
	/* freed in process context, away from the context that allocated */
	for (i = 0; i < ARRAY_SIZE(c->p); i++)
		gomm_free(c->p[i]);
}

static void test_atomic_growth(struct kunit *test)
{
	struct hard_irq *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct hard_errs e0;
	unsigned long grows;
	long failed;
	void *p, *q;

	KUNIT_ASSERT_NOT_NULL(test, c);
	hard_errs_read(&e0);

	/* hard interrupt: a plain hrtimer, see gomm_irq_ctx in gomm_test.c */
	hard_force_growth(test);
	grows = hard_grows();
	init_completion(&c->done);
	hrtimer_setup(&c->hrt, hard_hrtimer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrtimer_start(&c->hrt, ns_to_ktime(1000), HRTIMER_MODE_REL);
	wait_for_completion(&c->done);
	hrtimer_cancel(&c->hrt);
	hard_irq_check(test, c, "hardirq", grows);

	/* soft interrupt */
	hard_force_growth(test);
	grows = hard_grows();
	init_completion(&c->done);
	timer_setup(&c->tl, hard_timer_fn, 0);
	mod_timer(&c->tl, jiffies + 1);
	wait_for_completion(&c->done);
	timer_delete_sync(&c->tl);
	hard_irq_check(test, c, "softirq", grows);
	hard_expect_errs(test, "atomic contexts", &e0, 0, 0, 0, 0);

	/*
	 * GFP_NOWAIT with preemption off, from a heap with no free page: it
	 * never sleeps (a sleep here is a "scheduling while atomic" splat)
	 * and it grows the heap (Documentation/gomm.rst, "Hardening tests"):
	 * the 4 MiB object takes a whole new chunk, so the 64-byte one needs
	 * a growth of its own for its span.  Exactly two growths, none failed,
	 * both objects there.  (The test VM is idle with most of its memory
	 * free: the buddy allocator has order-10 blocks without reclaim.)
	 */
	hard_force_growth(test);
	grows = hard_grows();
	failed = atomic_long_read(&gomm_errors.failed_grow);
	preempt_disable();
	p = gomm_alloc(SZ_4M, GFP_NOWAIT);
	q = gomm_alloc(64, GFP_NOWAIT);
	preempt_enable();
	KUNIT_EXPECT_NOT_NULL_MSG(test, p, "GFP_NOWAIT, 4 MiB: no object");
	KUNIT_EXPECT_NOT_NULL_MSG(test, q, "GFP_NOWAIT, 64 bytes: no object");
	KUNIT_EXPECT_EQ_MSG(test, hard_grows() - grows, 2UL,
			    "GFP_NOWAIT: growths of the heap");
	KUNIT_EXPECT_EQ_MSG(test, atomic_long_read(&gomm_errors.failed_grow) - failed, 0L,
			    "GFP_NOWAIT: failed growths");
	if (p) {
		memset(p, 0x4e, SZ_4M);
		KUNIT_EXPECT_EQ(test, gomm_size(p), (size_t)SZ_4M);
	}
	if (q) {
		memset(q, 0x4e, 64);
		KUNIT_EXPECT_EQ(test, gomm_size(q), 64UL);
	}
	gomm_free(p);
	gomm_free(q);
	hard_class_ok(test, SZ_4M);
	hard_class_ok(test, 64);
}

static struct kunit_case gomm_hard_input_cases[] = {
	KUNIT_CASE(test_bad_free),
	KUNIT_CASE(test_foreign_free),
	KUNIT_CASE(test_interior_free),
	KUNIT_CASE(test_double_small_swept),
	KUNIT_CASE(test_double_tiny),
	KUNIT_CASE(test_double_large),
	KUNIT_CASE(test_too_large),
	KUNIT_CASE_SLOW(test_report_ratelimit),
	KUNIT_CASE_SLOW(test_zero_all),
	KUNIT_CASE(test_atomic_growth),
	{}
};

static struct kunit_suite gomm_hard_input_suite = {
	.name = "gomm_hardening_input",
	.test_cases = gomm_hard_input_cases,
};

/* ---- fault injection: gomm_fail_grow ---- */

#ifdef CONFIG_FAULT_INJECTION
/*
 * gomm_fail_grow is not exported to KUnit; its debugfs files are.  The
 * fault_attr is reached through the inode of gomm/fail_grow/probability,
 * whose i_private is &gomm_fail_grow.probability.
 */
static struct fault_attr *hard_fail_grow_attr(void)
{
	struct fault_attr *attr = NULL;
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	struct dentry *dir, *fg, *f;

	dir = debugfs_lookup("gomm", NULL);
	if (!dir)
		return NULL;
	fg = debugfs_lookup("fail_grow", dir);
	if (fg) {
		f = debugfs_lookup("probability", fg);
		if (f) {
			attr = container_of((unsigned long *)d_inode(f)->i_private,
					    struct fault_attr, probability);
			dput(f);
		}
		dput(fg);
	}
	dput(dir);
	if (attr && strcmp(attr->dname, "fail_grow"))
		attr = NULL;
#endif
	return attr;
}

static void hard_fault_restore(void *arg)
{
	struct hard_fault *f = arg;

	WRITE_ONCE(f->attr->probability, 0);
	f->attr->interval = f->interval;
	atomic_set(&f->attr->times, f->times);
	atomic_set(&f->attr->space, f->space);
	f->attr->verbose = f->verbose;
	f->attr->task_filter = f->task_filter;
	WRITE_ONCE(f->attr->probability, f->probability);
}

/* Every heap growth fails, @times times (-1: until lifted), silently. */
void hard_fault_arm(struct hard_fault *f, int times)
{
	WRITE_ONCE(f->attr->probability, 0);
	f->attr->verbose = 0;		/* no "FAULT_INJECTION:" notice or stack */
	f->attr->task_filter = false;
	f->attr->interval = 1;
	atomic_set(&f->attr->space, 0);
	atomic_set(&f->attr->times, times);
	WRITE_ONCE(f->attr->probability, 100);
}

struct hard_fault *hard_fault_get(struct kunit *test)
{
	struct hard_fault *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->attr = hard_fail_grow_attr();
	if (!f->attr)
		kunit_skip(test, "no debugfs gomm/fail_grow");
	f->probability = f->attr->probability;
	f->interval = f->attr->interval;
	f->times = atomic_read(&f->attr->times);
	f->space = atomic_read(&f->attr->space);
	f->verbose = f->attr->verbose;
	f->task_filter = f->attr->task_filter;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, hard_fault_restore, f), 0);
	return f;
}

struct hard_heap_snap {
	unsigned long owned, in_use, large, grows;
	long objs[HARD_NOBJS];
};

static void hard_heap_snap(struct hard_heap_snap *h)
{
	unsigned int sc;

	h->owned = hard_pages_owned();
	h->in_use = hard_pages_in_use();
	h->large = gomm_kunit_heap(nr_large);
	h->grows = hard_grows();
	for (sc = 0; sc < ARRAY_SIZE(h->objs); sc++)
		h->objs[sc] = hard_objs(sc);
}

/* Nothing leaked: the heap and every class as in @h0. */
static void hard_expect_heap(struct kunit *test, const char *what,
			     const struct hard_heap_snap *h0, bool grows_too)
{
	struct hard_heap_snap h;
	unsigned int sc;

	hard_heap_snap(&h);
	KUNIT_EXPECT_EQ_MSG(test, h.in_use, h0->in_use, "%s: pages_in_use", what);
	KUNIT_EXPECT_EQ_MSG(test, h.large, h0->large, "%s: large objects", what);
	if (grows_too) {
		KUNIT_EXPECT_EQ_MSG(test, h.owned, h0->owned, "%s: pages_owned", what);
		KUNIT_EXPECT_EQ_MSG(test, h.grows, h0->grows, "%s: grows", what);
	}
	for (sc = 0; sc < ARRAY_SIZE(h.objs); sc++)
		KUNIT_EXPECT_EQ_MSG(test, h.objs[sc], h0->objs[sc],
				    "%s: objects in use, span class %u", what, sc);
}

static const size_t hard_fault_sizes[] = {
	3, 64, 4000, GOMM_MAX_SMALL_SIZE, 100000, SZ_4M,
};

/*
 * With every growth failing, each allocation that needs a new span fails
 * cleanly: NULL, one failed_grow per allocation, no page, span or object
 * left behind, and every GFP flavour the same.
 */
static void test_fault_grow(struct kunit *test)
{
	struct hard_fault *f = hard_fault_get(test);
	struct hard_heap_snap h0;
	struct hard_errs e0;
	unsigned int i;
	void *p;

	hard_force_growth(test);
	hard_heap_snap(&h0);
	hard_errs_read(&e0);
	hard_fault_arm(f, -1);
	for (i = 0; i < ARRAY_SIZE(hard_fault_sizes); i++) {
		p = gomm_alloc(hard_fault_sizes[i], GFP_KERNEL);
		KUNIT_EXPECT_NULL_MSG(test, p, "size %zu", hard_fault_sizes[i]);
		gomm_free(p);
		p = gomm_zalloc(hard_fault_sizes[i], GFP_ATOMIC);
		KUNIT_EXPECT_NULL_MSG(test, p, "size %zu", hard_fault_sizes[i]);
		gomm_free(p);
		p = gomm_alloc(hard_fault_sizes[i], GFP_NOWAIT | __GFP_NOWARN);
		KUNIT_EXPECT_NULL_MSG(test, p, "size %zu", hard_fault_sizes[i]);
		gomm_free(p);
	}
	hard_expect_errs(test, "growth failing", &e0, 0, 0,
			 3 * ARRAY_SIZE(hard_fault_sizes), 0);
	hard_expect_heap(test, "growth failing", &h0, true);
	gomm_drain();
	hard_expect_heap(test, "growth failing, drained", &h0, true);

	/* lifted: gomm recovers, grows, and the objects are fine */
	hard_fault_restore(f);
	for (i = 0; i < ARRAY_SIZE(hard_fault_sizes); i++)
		hard_class_ok(test, hard_fault_sizes[i]);
	KUNIT_EXPECT_GT(test, hard_grows(), h0.grows);
	gomm_drain();
	hard_expect_heap(test, "recovered", &h0, false);
	hard_expect_errs(test, "recovered", &e0, 0, 0, 3 * ARRAY_SIZE(hard_fault_sizes), 0);
}

/* times=2: the next two growths fail, the third succeeds. */
static void test_fault_times(struct kunit *test)
{
	struct hard_fault *f = hard_fault_get(test);
	struct hard_heap_snap h0;
	struct hard_errs e0;
	void *p;

	hard_force_growth(test);
	hard_heap_snap(&h0);
	hard_errs_read(&e0);
	hard_fault_arm(f, 2);
	KUNIT_EXPECT_NULL(test, gomm_alloc(SZ_1M, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, gomm_alloc(128, GFP_KERNEL));
	hard_expect_errs(test, "times=2", &e0, 0, 0, 2, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&f->attr->times), 0);
	p = gomm_alloc(SZ_1M, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, p);
	KUNIT_EXPECT_GT(test, hard_grows(), h0.grows);
	gomm_free(p);
	hard_class_ok(test, 128);
	hard_expect_errs(test, "times=2 ran out", &e0, 0, 0, 2, 0);
	gomm_drain();
	hard_expect_heap(test, "times=2 ran out", &h0, false);
}
#else
static void test_fault_grow(struct kunit *test)
{
	kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
}

static void test_fault_times(struct kunit *test)
{
	kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
}
#endif

static struct kunit_case gomm_hard_fault_cases[] = {
	KUNIT_CASE(test_fault_grow),
	KUNIT_CASE(test_fault_times),
	{}
};

static struct kunit_suite gomm_hard_fault_suite = {
	.name = "gomm_hardening_fault",
	.test_cases = gomm_hard_fault_cases,
};

/* ---- memory pressure: the scavenger's retain target ---- */

static const unsigned long hard_retain_kb[] = { 0, 4096, 8192 };

static void hard_retain_desc(const unsigned long *kb, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "retain_kb=%lu", *kb);
}

KUNIT_ARRAY_PARAM(hard_retain, hard_retain_kb, hard_retain_desc);

/*
 * gomm_heap_scavenge() releases a wholly free chunk of n owned pages only
 * if free - n >= retain, walking every chunk once.  So, with nothing live
 * (every chunk wholly free) and at least retain free pages before:
 * retain <= free after < retain + GOMM_CHUNK_PAGES, since any chunk it
 * kept had n > free - retain, and n <= GOMM_CHUNK_PAGES.  (retain 0: every
 * page goes back.)
 */
static void test_scavenge_retain(struct kunit *test)
{
	unsigned long kb = *(const unsigned long *)test->param_value;
	unsigned long rp = kb * SZ_1K / GOMM_PAGE_SIZE;
	unsigned long owned, released, free, i, n;
	void **p;

	n = (rp / GOMM_CHUNK_PAGES + 3) * (SZ_4M / SZ_1M);
	p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	/* the background scavenger must not release before the test does */
	gomm_kunit_set_retain(test, HARD_RETAIN_ALL);
	gomm_drain();
	KUNIT_ASSERT_EQ_MSG(test, hard_pages_in_use(), 0UL,
			    "gomm is not idle: the bound needs every chunk wholly free");

	/* clients take more than retain + 2 chunks, then free everything */
	for (i = 0; i < n; i++) {
		p[i] = gomm_alloc(SZ_1M, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
		memset(p[i], 0xee, 64);
	}
	KUNIT_EXPECT_GE(test, hard_pages_owned(),
			n * (SZ_1M / GOMM_PAGE_SIZE));
	for (i = 0; i < n; i++)
		gomm_free(p[i]);
	gomm_drain();
	KUNIT_ASSERT_EQ(test, hard_pages_in_use(), 0UL);
	KUNIT_ASSERT_GE(test, hard_heap_free_pages(), rp + 2 * GOMM_CHUNK_PAGES);

	owned = hard_pages_owned();
	released = gomm_kunit_heap(released);
	WRITE_ONCE(gomm_retain_kb, kb);
	gomm_scavenge();
	free = hard_heap_free_pages();
	KUNIT_EXPECT_GE_MSG(test, free, rp, "below the retain target");
	KUNIT_EXPECT_LT_MSG(test, free, rp + GOMM_CHUNK_PAGES,
			    "a chunk or more above the retain target");
	if (!rp)
		KUNIT_EXPECT_EQ(test, hard_pages_owned(), 0UL);
	/* what the heap lost went back to the buddy allocator */
	KUNIT_EXPECT_GT(test, owned, hard_pages_owned());
	KUNIT_EXPECT_EQ(test, owned - hard_pages_owned(),
			gomm_kunit_heap(released) - released);
	/* a second scavenge finds nothing more to release */
	KUNIT_EXPECT_EQ(test, gomm_scavenge(), 0UL);
	hard_class_ok(test, SZ_1M);
	hard_class_ok(test, 256);
}

static struct kunit_case gomm_hard_scavenge_cases[] = {
	KUNIT_CASE_PARAM(test_scavenge_retain, hard_retain_gen_params),
	{}
};

static struct kunit_suite gomm_hard_scavenge_suite = {
	.name = "gomm_hardening_scavenge",
	.test_cases = gomm_hard_scavenge_cases,
};

/* ---- CPU hotplug with live objects ---- */

#define HP_N		192

static const size_t hard_hp_sizes[] = {
	1, 5, 8, 13, GOMM_TINY_SIZE, 48, 100, 512, 1024, 3000, 8192, 27264,
	GOMM_MAX_SMALL_SIZE, 40000, 100000,
};

struct hard_hp_obj {
	u8 *p;
	size_t size;
	u8 pat;
};

struct hard_hp {
	struct hard_hp_obj o[HP_N];
	int cpu;
};

/* Runs on the CPU under test (work_on_cpu()). */
static long hard_hp_alloc_fn(void *arg)
{
	struct hard_hp *h = arg;
	unsigned int i;

	h->cpu = raw_smp_processor_id();
	for (i = 0; i < HP_N; i++) {
		struct hard_hp_obj *o = &h->o[i];

		o->size = hard_hp_sizes[i % ARRAY_SIZE(hard_hp_sizes)];
		o->pat = 0x11 + i;
		o->p = gomm_alloc(o->size, GFP_KERNEL);
		if (!o->p)
			return -ENOMEM;
		memset(o->p, o->pat, o->size);
	}
	return 0;
}

static int hard_hp_cmp(const void *a, const void *b)
{
	const struct hard_hp_obj *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

/* Every object distinct and intact. */
static void hard_hp_check(struct kunit *test, struct hard_hp *h, const char *what)
{
	unsigned int i;

	sort(h->o, HP_N, sizeof(h->o[0]), hard_hp_cmp, NULL);
	for (i = 0; i < HP_N; i++) {
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(h->o[i].p, h->o[i].pat, h->o[i].size),
				      "%s: object of %zu bytes overwritten", what,
				      h->o[i].size);
		if (i)
			KUNIT_EXPECT_LE_MSG(test, (unsigned long)(h->o[i - 1].p + h->o[i - 1].size),
					    (unsigned long)h->o[i].p, "%s: objects overlap", what);
	}
}

/* The CPU the hotplug cases take offline: the last one, if it can go. */
static int hard_hp_cpu(struct kunit *test)
{
	int cpu;

	if (num_online_cpus() < 2)
		kunit_skip(test, "one CPU online");
	cpu = cpumask_last(cpu_online_mask);
	if (!cpu || !cpu_is_hotpluggable(cpu))
		kunit_skip(test, "CPU %d cannot go offline", cpu);
	return cpu;
}

static void test_hotplug(struct kunit *test)
{
	struct hard_hp *h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);
	long before[HARD_NOBJS];
	unsigned long in_use, flushes;
	struct gomm_mcache *mc;
	unsigned int sc, i;
	int cpu, ret;

	KUNIT_ASSERT_NOT_NULL(test, h);
	cpu = hard_hp_cpu(test);
	mc = gomm_stats_mcache(cpu);

	gomm_drain();
	in_use = hard_pages_in_use();
	for (sc = 0; sc < ARRAY_SIZE(before); sc++)
		before[sc] = hard_objs(sc);

	ret = work_on_cpu(cpu, hard_hp_alloc_fn, h);
	KUNIT_ASSERT_EQ(test, ret, 0L);
	KUNIT_ASSERT_EQ(test, h->cpu, cpu);
	/* the departing CPU's mcache holds spans and an open tiny block */
	KUNIT_EXPECT_EQ(test, mc->alloc[gomm_size_to_class(512)]->kind, GOMM_KIND_SMALL);
	if (gomm_tiny_enabled)
		KUNIT_EXPECT_NE(test, mc->tiny, 0UL);
	flushes = READ_ONCE(mc->flushes);

	ret = remove_cpu(cpu);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "remove_cpu(%d)", cpu);
	KUNIT_EXPECT_FALSE(test, cpu_online(cpu));
	/*
	 * gomm's cpuhp teardown flushed it: every span (an mcache's empty
	 * slot is gomm_empty_span, kind NONE, not exported) and the tiny block
	 */
	KUNIT_EXPECT_EQ_MSG(test, mc->flushes, flushes + 1, "CPU %d's mcache not flushed", cpu);
	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++)
		KUNIT_EXPECT_EQ_MSG(test, mc->alloc[sc]->kind, GOMM_KIND_NONE,
				    "span class %u still cached", sc);
	KUNIT_EXPECT_EQ(test, mc->tiny, 0UL);

	/* nothing lost: intact, distinct, freed from the CPUs still online */
	hard_hp_check(test, h, "after offline");
	for (i = 0; i < HP_N; i++)
		gomm_free(h->o[i].p);

	ret = add_cpu(cpu);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "add_cpu(%d)", cpu);

	/* back online, it allocates again */
	ret = work_on_cpu(cpu, hard_hp_alloc_fn, h);
	KUNIT_ASSERT_EQ(test, ret, 0L);
	hard_hp_check(test, h, "after online");
	for (i = 0; i < HP_N; i++)
		gomm_free(h->o[i].p);

	gomm_drain();
	KUNIT_EXPECT_EQ(test, hard_pages_in_use(), in_use);
	for (sc = 0; sc < ARRAY_SIZE(before); sc++)
		KUNIT_EXPECT_EQ_MSG(test, hard_objs(sc), before[sc],
				    "objects in use, span class %u", sc);
}

/*
 * A drain while a CPU is offline but not yet torn down (gomm_cpu_dead(),
 * held there by the cpu_dead hook): the CPU still caches its spans, and
 * the drain's IPIs skip it.  The drain must wait for the teardown, not
 * return with those spans in use: it once did, at once.
 */
static struct {
	unsigned int cpu;		/* whose teardown to hold */
	atomic_t entered, released;
	struct completion go, drained, removed;
	int remove_ret;
	unsigned long in_use;		/* when gomm_drain() returned */
	bool released_then;		/* ditto: was the teardown let go? */
	bool drain_seen, remove_seen;	/* the case waited for them */
} hard_dead;

static void hard_dead_hook(unsigned int cpu)
{
	unsigned long end = jiffies + 10 * HZ;

	if (cpu != READ_ONCE(hard_dead.cpu))
		return;
	atomic_set(&hard_dead.entered, 1);
	while (!atomic_read(&hard_dead.released) && time_before(jiffies, end))
		msleep(20);
}

static int hard_dead_remove_fn(void *unused)
{
	hard_dead.remove_ret = remove_cpu(hard_dead.cpu);
	kthread_complete_and_exit(&hard_dead.removed, 0);
}

static int hard_dead_drain_fn(void *unused)
{
	wait_for_completion(&hard_dead.go);
	gomm_drain();
	hard_dead.released_then = atomic_read(&hard_dead.released);
	hard_dead.in_use = hard_pages_in_use();
	kthread_complete_and_exit(&hard_dead.drained, 0);
}

/* after the case, failed or not: the hook off, both threads done, the CPU back */
static void hard_dead_off(void *started)
{
	static_branch_disable(&gomm_test_key);
	gomm_test_hooks.cpu_dead = NULL;
	atomic_set(&hard_dead.released, 1);
	complete(&hard_dead.go);
	if (started && !hard_dead.remove_seen)
		wait_for_completion_timeout(&hard_dead.removed, 60 * HZ);
	if (!hard_dead.drain_seen)
		wait_for_completion_timeout(&hard_dead.drained, 60 * HZ);
	if (!cpu_online(hard_dead.cpu))
		add_cpu(hard_dead.cpu);
}

static void test_drain_dead_cpu(struct kunit *test)
{
	struct hard_hp *h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);
	struct task_struct *r, *d;
	unsigned long in_use, done;
	unsigned int i;
	int cpu;
	long ret;

	KUNIT_ASSERT_NOT_NULL(test, h);
	cpu = hard_hp_cpu(test);
	gomm_drain();
	in_use = hard_pages_in_use();
	ret = work_on_cpu(cpu, hard_hp_alloc_fn, h);
	KUNIT_ASSERT_EQ(test, ret, 0L);
	for (i = 0; i < HP_N; i++)
		gomm_free(h->o[i].p);
	/* all freed; the CPU's mcache still caches their spans */
	KUNIT_ASSERT_GT(test, hard_pages_in_use(), in_use);

	WRITE_ONCE(hard_dead.cpu, cpu);
	atomic_set(&hard_dead.entered, 0);
	atomic_set(&hard_dead.released, 0);
	hard_dead.drain_seen = false;
	hard_dead.remove_seen = false;
	init_completion(&hard_dead.go);
	init_completion(&hard_dead.drained);
	init_completion(&hard_dead.removed);
	/* the drain's thread waits for hard_dead.go */
	d = kthread_run(hard_dead_drain_fn, NULL, "gomm_hard_drain");
	KUNIT_ASSERT_FALSE(test, IS_ERR(d));
	r = kthread_create(hard_dead_remove_fn, NULL, "gomm_hard_remove");
	if (IS_ERR(r)) {
		hard_dead_off(NULL);
		KUNIT_FAIL(test, "kthread_create: %pe", r);
		return;
	}
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, hard_dead_off, r), 0);
	gomm_test_hooks.cpu_dead = hard_dead_hook;
	static_branch_enable(&gomm_test_key);
	wake_up_process(r);
	for (i = 0; i < 1500 && !atomic_read(&hard_dead.entered); i++)
		msleep(20);
	KUNIT_ASSERT_TRUE_MSG(test, atomic_read(&hard_dead.entered),
			      "CPU %d's teardown did not reach the hook in 30 s", cpu);
	/* the drain, while the CPU is offline and its caches not flushed */
	complete(&hard_dead.go);
	/* long enough for a drain that does not wait to return */
	done = wait_for_completion_timeout(&hard_dead.drained, msecs_to_jiffies(500));
	atomic_set(&hard_dead.released, 1);
	if (!done)
		done = wait_for_completion_timeout(&hard_dead.drained, 30 * HZ);
	KUNIT_ASSERT_TRUE_MSG(test, done, "gomm_drain() still waiting 30 s after the release");
	hard_dead.drain_seen = true;
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&hard_dead.removed, 30 * HZ));
	hard_dead.remove_seen = true;
	KUNIT_EXPECT_EQ_MSG(test, hard_dead.remove_ret, 0, "remove_cpu(%d)", cpu);
	KUNIT_EXPECT_TRUE_MSG(test, hard_dead.released_then,
			      "gomm_drain() returned while CPU %d was offline and not torn down",
			      cpu);
	KUNIT_EXPECT_EQ_MSG(test, hard_dead.in_use, in_use,
			    "pages in use when gomm_drain() returned");
}

static struct kunit_case gomm_hard_hotplug_cases[] = {
	KUNIT_CASE_SLOW(test_hotplug),
	KUNIT_CASE_SLOW(test_drain_dead_cpu),
	{}
};

static struct kunit_suite gomm_hard_hotplug_suite = {
	.name = "gomm_hardening_hotplug",
	.test_cases = gomm_hard_hotplug_cases,
};

kunit_test_suites(&gomm_hard_input_suite, &gomm_hard_fault_suite,
		  &gomm_hard_scavenge_suite, &gomm_hard_hotplug_suite);
