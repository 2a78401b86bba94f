/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What gomm's KUnit suites share (all of them are one module, gomm_kunit).
 */
#ifndef _GOMM_KUNIT_H
#define _GOMM_KUNIT_H

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>

/**
 * struct race_free - a free stopped by the free_published hook
 * @size: the object's size
 * @p: the object
 * @block: the address the hook sees (@p, or its tiny block)
 * @allocated: the kthread has allocated @p
 * @start: the kthread may free @p
 * @published: the free is stopped in the hook, its bit published
 * @go: the free may go on
 * @done: the free has returned
 * @timed_out: the hook gave up waiting for @go
 */
struct race_free {
	size_t size;
	void *p;
	void *block;
	struct completion allocated;
	struct completion start;
	struct completion published;
	atomic_t go;
	struct completion done;
	bool timed_out;
};

/*
 * The size class with the longest spans (GOMM_MAX_CLASS_NPAGES pages): 3
 * objects of 27264 bytes in 10 pages, a tail of 128 bytes after the last.
 */
#define GOMM_KUNIT_LONG_SPAN_CLASS	(GOMM_NUM_CLASSES - 3)

/*
 * A counter of struct gomm_heap_stats for every node's heap together
 * (gomm_heap_stats(NUMA_NO_NODE)), e.g. gomm_kunit_heap(pages_owned)
 */
#define gomm_kunit_heap(field) ({				\
	struct gomm_heap_stats __st;				\
								\
	gomm_heap_stats(NUMA_NO_NODE, &__st);			\
	__st.field;						\
})
/* the pages in spans, every node's */
#define gomm_kunit_pages_in_use()	gomm_kunit_heap(pages_in_use)
/*
 * hardening_test.c: every heap growth made to fail (gomm_fail_grow, through
 * its debugfs files), restored when the case ends
 */
struct fault_attr;
struct hard_fault {
	struct fault_attr *attr;
	unsigned long probability, interval, verbose;
	int times, space;
	bool task_filter;
};

#ifdef CONFIG_FAULT_INJECTION
struct hard_fault *hard_fault_get(struct kunit *test);
void hard_fault_arm(struct hard_fault *f, int times);
#endif
/* a scavenge with retain_kb=0: the next allocation of a new span grows */
void hard_force_growth(struct kunit *test);

int gomm_kunit_pin_cpu(struct kunit *test);
bool gomm_race_free_drain(struct kunit *test, size_t size, bool free_now);
void gomm_kunit_set_retain(struct kunit *test, unsigned long kb);

#endif /* _GOMM_KUNIT_H */
