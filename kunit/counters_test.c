// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gomm_counters: the cumulative counters of the cpus table
 * (gomm_stats_cpu(), gomm_stats_cpus_total()) count exactly what was
 * allocated and freed, and a drain, which unloads every CPU's windows,
 * takes nothing off them.  Before, the per-CPU allocations were the
 * windows' objects and a flush gave back the part not handed out (8913
 * -> 6771 after a drain).  Each case stays on one CPU
 * (gomm_kunit_pin_cpu()); nothing else allocates from gomm meanwhile
 * (the suites run one at a time).  The kselftest checks the same across
 * the shrinker and CPU hotplug, from debugfs.
 */
#include <kunit/test.h>
#include <linux/gomm.h>
#include <linux/smp.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_kunit.h"

#define CNT_N		10	/* fewer than a window: the window stays loaded */
#define CNT_SIZE	64
#define CNT_TINY	7
#define CNT_LARGE	(GOMM_MAX_SMALL_SIZE + 1)

/*
 * Small objects: this CPU's allocations rise by exactly what was handed
 * out; a drain (its window unloaded with objects not handed out) takes
 * nothing off; the frees are counted once the drain has swept them.
 */
static void test_counters_drain(struct kunit *test)
{
	int cpu = raw_smp_processor_id();
	struct gomm_cpu_stats a, b, c, ta, tb;
	void *p[CNT_N];
	unsigned int i;

	gomm_drain();
	gomm_stats_cpu(cpu, &a);
	gomm_stats_cpus_total(&ta);
	for (i = 0; i < CNT_N; i++) {
		p[i] = gomm_alloc(CNT_SIZE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
	}
	gomm_stats_cpu(cpu, &b);
	KUNIT_EXPECT_EQ(test, b.allocs - a.allocs, (unsigned long)CNT_N);
	/* the window has objects left: the drain unloads them */
	gomm_drain();
	gomm_stats_cpu(cpu, &c);
	KUNIT_EXPECT_EQ_MSG(test, c.allocs, b.allocs,
			    "a drain changed this CPU's allocations");
	KUNIT_EXPECT_EQ(test, c.flushes, b.flushes + 1);
	KUNIT_EXPECT_EQ(test, c.slow, b.slow);
	for (i = 0; i < CNT_N; i++)
		gomm_free(p[i]);
	gomm_drain();
	gomm_stats_cpus_total(&tb);
	KUNIT_EXPECT_EQ(test, tb.allocs - ta.allocs, (unsigned long)CNT_N);
	KUNIT_EXPECT_EQ_MSG(test, tb.frees - ta.frees, (unsigned long)CNT_N,
			    "frees swept by the drain");
}

/* Tiny and large objects are counted at allocation and at free. */
static void test_counters_tiny_large(struct kunit *test)
{
	int cpu = raw_smp_processor_id();
	struct gomm_cpu_stats a, b, c;
	void *t[CNT_N], *l;
	unsigned int i;

	gomm_stats_cpu(cpu, &a);
	for (i = 0; i < CNT_N; i++) {
		t[i] = gomm_alloc(CNT_TINY, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, t[i]);
	}
	l = gomm_alloc(CNT_LARGE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, l);
	gomm_stats_cpu(cpu, &b);
	KUNIT_EXPECT_EQ(test, b.tiny_allocs - a.tiny_allocs,
			gomm_tiny_enabled ? (unsigned long)CNT_N : 0UL);
	KUNIT_EXPECT_EQ(test, b.large_allocs - a.large_allocs, 1UL);
	for (i = 0; i < CNT_N; i++)
		gomm_free(t[i]);
	gomm_free(l);
	gomm_stats_cpu(cpu, &c);
	KUNIT_EXPECT_EQ(test, c.tiny_frees - b.tiny_frees,
			gomm_tiny_enabled ? (unsigned long)CNT_N : 0UL);
	KUNIT_EXPECT_EQ(test, c.large_frees - b.large_frees, 1UL);
}

static struct kunit_case gomm_counters_cases[] = {
	KUNIT_CASE(test_counters_drain),
	KUNIT_CASE(test_counters_tiny_large),
	{}
};

static struct kunit_suite gomm_counters_suite = {
	.name = "gomm_counters",
	.init = gomm_kunit_pin_cpu,
	.test_cases = gomm_counters_cases,
};

kunit_test_suites(&gomm_counters_suite);
