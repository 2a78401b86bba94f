// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for gomm's KASAN (generic) integration: a client's
 * use-after-free and an overflow into the slack between the requested
 * size and the object's size are reported by KASAN, for small, tiny and
 * large objects, and in-bounds accesses are not.
 *
 * A KASAN report during a KUnit test marks that test failed (KASAN's
 * fail_non_kasan_kunit_test()), so every bad access is made from a kthread
 * of its own and the report is seen through the console tracepoint, the
 * way mm/kasan/kasan_test_c.c does it.  Each access is bracketed by the
 * "gomm-vm: expect-splat on kasan" / "... off" markers that tell
 * scripts/vm a KASAN report is expected there (any other splat there, or
 * none, is an error).  The debug VM boots with kasan_multi_shot so that
 * every report is printed.  A report turns lockdep off for the rest of the
 * boot (taint), so this suite is linked, and runs, last.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/gomm.h>
#include <linux/kthread.h>
#include <linux/string.h>
#include <trace/events/printk.h>

#include "gomm.h"
#include "gomm_kunit.h"

static struct {
	bool report;	/* "BUG: KASAN: " seen */
	bool uaf;	/* ... slab-use-after-free */
	bool oob;	/* ... slab-out-of-bounds */
} kasan_seen;

static void kasan_probe_console(void *ignore, const char *buf, size_t len)
{
	if (!strnstr(buf, "BUG: KASAN: ", len))
		return;
	if (strnstr(buf, "slab-use-after-free", len))
		WRITE_ONCE(kasan_seen.uaf, true);
	if (strnstr(buf, "slab-out-of-bounds", len))
		WRITE_ONCE(kasan_seen.oob, true);
	WRITE_ONCE(kasan_seen.report, true);
}

struct kasan_access {
	const char *p;
	struct completion done;
};

static int kasan_access_fn(void *arg)
{
	struct kasan_access *a = arg;

	(void)READ_ONCE(*a->p);
	complete(&a->done);
	return 0;
}

enum kasan_want { KASAN_NONE, KASAN_UAF, KASAN_OOB };

/* Read @p from a kthread; true if KASAN said what @want says it should. */
static bool kasan_read(struct kunit *test, const void *p, enum kasan_want want)
{
	struct kasan_access a = { .p = p };
	struct task_struct *t;
	int i;

	memset(&kasan_seen, 0, sizeof(kasan_seen));
	init_completion(&a.done);
	if (want != KASAN_NONE)
		pr_info("gomm-vm: expect-splat on kasan\n");
	t = kthread_run(kasan_access_fn, &a, "gomm_kasan");
	if (IS_ERR(t)) {
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return false;
	}
	wait_for_completion(&a.done);
	/* the report may reach the console from another CPU a little later */
	for (i = 0; i < 50 && want != KASAN_NONE && !READ_ONCE(kasan_seen.report); i++)
		msleep(20);
	if (want == KASAN_NONE)
		msleep(50);
	if (want != KASAN_NONE)
		pr_info("gomm-vm: expect-splat off\n");
	switch (want) {
	case KASAN_NONE:
		return !READ_ONCE(kasan_seen.report);
	case KASAN_UAF:
		return READ_ONCE(kasan_seen.uaf);
	default:
		return READ_ONCE(kasan_seen.oob);
	}
}

/* Each case on one CPU: test_tiny_object needs this CPU's open tiny block. */
static int gomm_kasan_init(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_KASAN_GENERIC))
		kunit_skip(test, "not a generic KASAN kernel");
	return gomm_kunit_pin_cpu(test);
}

static int gomm_kasan_suite_init(struct kunit_suite *suite)
{
	return register_trace_console(kasan_probe_console, NULL);
}

static void gomm_kasan_suite_exit(struct kunit_suite *suite)
{
	unregister_trace_console(kasan_probe_console, NULL);
	tracepoint_synchronize_unregister();
}

/*
 * 100 bytes in an object of its class, 112 bytes: 100..111 is slack, a
 * redzone.
 */
static void test_small_object(struct kunit *test)
{
	const size_t size = 100, objsize = gomm_class_to_size[gomm_size_to_class(size)];
	char *p = gomm_alloc(size, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, gomm_size(p), objsize);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p, KASAN_NONE));
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + size - 1, KASAN_NONE));
	KUNIT_EXPECT_TRUE_MSG(test, kasan_read(test, p + size, KASAN_OOB),
			      "overflow into the slack not reported");
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + objsize - 1, KASAN_OOB));
	gomm_free(p);
	KUNIT_EXPECT_TRUE_MSG(test, kasan_read(test, p, KASAN_UAF),
			      "use after free not reported");
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + 64, KASAN_UAF));
	/* the next object of the class is usable again, to its size */
	p = gomm_alloc(objsize, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + objsize - 1, KASAN_NONE));
	gomm_free(p);
}

/*
 * Tiny objects: the open block is usable up to the end of its last
 * sub-object; a closed block whose sub-objects are all freed is
 * poisoned; an open one that starts over is usable up to its new
 * sub-object only.
 */
static void test_tiny_object(struct kunit *test)
{
	char *a, *b, *c, *d;

	if (!gomm_tiny_enabled)
		kunit_skip(test, "gomm.tiny=0");
	gomm_drain();	/* close this CPU's tiny block: a fresh one opens */
	a = gomm_alloc(5, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_EXPECT_EQ(test, (unsigned long)a % GOMM_TINY_SIZE, 0UL);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, a + 4, KASAN_NONE));
	KUNIT_EXPECT_TRUE_MSG(test, kasan_read(test, a + 5, KASAN_OOB),
			      "tiny overflow not reported");
	b = gomm_alloc(10, GFP_KERNEL);	/* aligned to 2: at 6, to the block's end */
	KUNIT_ASSERT_PTR_EQ(test, b, a + 6);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, b + 9, KASAN_NONE));
	/* a request that does not fit closes the block (a new one opens) */
	c = gomm_alloc(12, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_PTR_NE(test, c, a);
	gomm_free(a);
	gomm_free(b);
	KUNIT_EXPECT_TRUE_MSG(test, kasan_read(test, a, KASAN_UAF),
			      "tiny use after free not reported");
	KUNIT_EXPECT_TRUE(test, kasan_read(test, b + 9, KASAN_UAF));
	gomm_free(c);
	d = gomm_alloc(6, GFP_KERNEL);	/* does not fit after c: starts over */
	KUNIT_ASSERT_PTR_EQ(test, d, c);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, d + 5, KASAN_NONE));
	KUNIT_EXPECT_TRUE_MSG(test, kasan_read(test, d + 6, KASAN_OOB),
			      "overflow into a started-over block not reported");
	gomm_free(d);
}

/* 40000 bytes in five 8 KiB pages: the rest of the last page is slack. */
static void test_large_object(struct kunit *test)
{
	char *p = gomm_alloc(40000, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + 39999, KASAN_NONE));
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + 40000, KASAN_OOB));
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p + 40959, KASAN_OOB));
	gomm_free(p);
	KUNIT_EXPECT_TRUE(test, kasan_read(test, p, KASAN_UAF));
}

/*
 * The negative control of gomm_reclaim's test_free_drain_race: with span
 * structs freed at once (the span lifetime rule off), the stopped free's
 * read of its span after the drain freed it is a use-after-free, and
 * KASAN must report it.
 */
static void test_span_lifetime_off(struct kunit *test)
{
	int i;

	memset(&kasan_seen, 0, sizeof(kasan_seen));
	pr_info("gomm-vm: expect-splat on kasan\n");
	KUNIT_EXPECT_TRUE_MSG(test, gomm_race_free_drain(test, 1024, true),
			      "the drain did not free the span while the free was stopped");
	for (i = 0; i < 50 && !READ_ONCE(kasan_seen.uaf); i++)
		msleep(20);
	pr_info("gomm-vm: expect-splat off\n");
	KUNIT_EXPECT_TRUE_MSG(test, READ_ONCE(kasan_seen.uaf),
			      "KASAN did not report the read of the freed span");
}

static struct kunit_case gomm_kasan_cases[] = {
	KUNIT_CASE(test_small_object),
	KUNIT_CASE(test_tiny_object),
	KUNIT_CASE(test_large_object),
	KUNIT_CASE(test_span_lifetime_off),
	{}
};

static struct kunit_suite gomm_kasan_suite = {
	.name = "gomm_kasan",
	.init = gomm_kasan_init,
	.suite_init = gomm_kasan_suite_init,
	.suite_exit = gomm_kasan_suite_exit,
	.test_cases = gomm_kasan_cases,
};

kunit_test_suites(&gomm_kasan_suite);
