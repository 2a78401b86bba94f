// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: gomm's heap is address-ordered first fit, as Go's is.  With no
 * CPU's page cache holding pages (a drain flushes them), the next span -
 * of a large object or of a size class - takes the lowest run of free
 * pages that fits, whatever order the holes were freed in, and after a
 * scavenge too.  Cases:
 *
 * - test_large_first_fit: eight large objects on a heap that owns the
 *   pages for them, all free, come out in ascending order; free the 3rd and the 6th (in either
 *   order), drain (and scavenge, keeping every free page); two more
 *   objects of the size take the 3rd's place, then the 6th's.  For sizes
 *   served from the CPU's page cache (up to GOMM_PCACHE_MAX_NPAGES pages)
 *   and from the page allocator itself.
 * - test_span_first_fit: the same with the spans of a size class: every
 *   object of the 3rd and the 6th span freed, a drain gives the empty
 *   spans back, and the next two spans are made there.
 * - test_span_run: three neighbouring spans emptied, in ascending and in
 *   descending order, go back in one drain as one run of pages; a large
 *   object of all their pages is made there.
 * - test_node_first_fit: test_large_first_fit in each node's heap, through
 *   gomm_alloc_node() with __GFP_THISNODE (the node's page allocator, no
 *   page cache), for a size a page cache would serve and one it would
 *   not: first fit holds per node.
 * - test_large_stash: a large object freed and allocated again at the same
 *   address gets its old span struct back from the CPU's stash (heap.c),
 *   LARGE again; a double free of the object while its struct waits there
 *   is still reported; an object of another size on the same pages gets a
 *   new struct; a drain leaves no CPU holding pages or stashed spans.
 * - test_prezeroed: Go's needzero (heap.c).  With init_on_alloc, a large
 *   object on pages fresh from growth is not zeroed again; one on pages
 *   that were in a span, small or large, is, and comes out zero.  From
 *   the page allocator and from the CPU's page cache.
 */
#include <kunit/test.h>
#include <linux/gomm.h>
#include <linux/sizes.h>

#include "compat.h"
#include "gomm.h"
#include "gomm_kunit.h"

#define FF_N		8
#define FF_HOLE1	2
#define FF_HOLE2	5
/* a retain target that keeps every free page: no release in between */
#define FF_RETAIN_ALL	BIT(40)
/* a large object the CPU's page cache serves */
#define FF_PCACHE_OBJ	(5 * GOMM_PAGE_SIZE)

struct ff_case {
	const char *name;
	size_t size;		/* the objects' size (spans: of their class) */
	bool reverse;		/* free the 6th hole first */
	bool scavenge;		/* scavenge after the drain */
};

static const struct ff_case ff_large_cases[] = {
	{ "5 pages (page cache)", 5 * GOMM_PAGE_SIZE, false, false },
	{ "5 pages, reverse, scavenge", 5 * GOMM_PAGE_SIZE, true, true },
	{ "15 pages (page cache)", GOMM_PCACHE_MAX_NPAGES * GOMM_PAGE_SIZE,
	  true, false },
	{ "16 pages (page allocator)", (GOMM_PCACHE_MAX_NPAGES + 1) * GOMM_PAGE_SIZE,
	  false, true },
	{ "128 KiB + 1", SZ_128K + 1, true, false },
	{ "1 MiB", SZ_1M, false, false },
};

/* spans of one page (1024-byte objects), 10 pages (27264) and 4 (32768) */
static const struct ff_case ff_span_cases[] = {
	{ "1024-byte objects", 1024, false, false },
	{ "27264-byte objects, reverse, scavenge", 27264, true, true },
	{ "32768-byte objects, reverse", GOMM_MAX_SMALL_SIZE, true, false },
};

static void ff_desc(const struct ff_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ff_large, ff_large_cases, ff_desc);
KUNIT_ARRAY_PARAM(ff_span, ff_span_cases, ff_desc);

/*
 * No free page in the heap (drain, then scavenge with a retain target of
 * 0), so that what follows starts in fresh memory; then a retain target
 * that keeps every free page for the rest of the case.
 */
static void ff_empty_heap(struct kunit *test)
{
	gomm_kunit_set_retain(test, 0);
	gomm_scavenge();
	KUNIT_ASSERT_EQ_MSG(test, gomm_kunit_heap(pages_owned), gomm_kunit_pages_in_use(),
			    "free heap pages left after a scavenge with retain_kb=0");
	gomm_kunit_set_retain(test, FF_RETAIN_ALL);
}

/* Flush every page cache (and mcache), and scavenge if asked (keeps all). */
static void ff_settle(struct kunit *test, const struct ff_case *c)
{
	unsigned long released = gomm_kunit_heap(released);

	gomm_drain();
	if (c->scavenge) {
		gomm_scavenge();
		KUNIT_EXPECT_EQ_MSG(test, gomm_kunit_heap(released), released,
				    "%s: the scavenge released pages", c->name);
	}
}

static void ff_free_holes(void **p, const struct ff_case *c)
{
	gomm_free(p[c->reverse ? FF_HOLE2 : FF_HOLE1]);
	gomm_free(p[c->reverse ? FF_HOLE1 : FF_HOLE2]);
}

/*
 * Make the heap own enough free pages for FF_N objects of @size: a grow
 * takes its blocks wherever the buddy allocator has them, so objects that
 * grow the heap need not come out in ascending order (two chunks of 1 MiB
 * objects, the second below the first, seen on 7.3); first fit is over
 * what the heap owns.  Every page kept: FF_RETAIN_ALL.
 */
static void ff_own_pages(struct kunit *test, size_t size)
{
	void *p[FF_N];
	unsigned int i;

	for (i = 0; i < FF_N; i++) {
		p[i] = gomm_alloc(size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
	}
	for (i = 0; i < FF_N; i++)
		gomm_free(p[i]);
	gomm_drain();
}

static void test_large_first_fit(struct kunit *test)
{
	const struct ff_case *c = test->param_value;
	void *p[FF_N], *q[2];
	unsigned int i;

	ff_empty_heap(test);
	ff_own_pages(test, c->size);
	for (i = 0; i < FF_N; i++) {
		p[i] = gomm_alloc(c->size, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, p[i], "%s: object %u", c->name, i);
		if (i)
			KUNIT_EXPECT_GT_MSG(test, (unsigned long)p[i], (unsigned long)p[i - 1],
					    "%s: object %u is below the one before", c->name, i);
	}
	ff_free_holes(p, c);
	ff_settle(test, c);
	for (i = 0; i < 2; i++) {
		q[i] = gomm_alloc(c->size, GFP_KERNEL);
		KUNIT_EXPECT_PTR_EQ_MSG(test, q[i], p[i ? FF_HOLE2 : FF_HOLE1],
					"%s: allocation %u after the holes", c->name, i);
	}
	for (i = 0; i < FF_N; i++)
		if (i != FF_HOLE1 && i != FF_HOLE2)
			gomm_free(p[i]);
	gomm_free(q[0]);
	gomm_free(q[1]);
}

/* Objects of @class enough for @nspans whole spans, span by span. */
static void **ff_fill_spans(struct kunit *test, unsigned int class,
			    unsigned int nspans)
{
	unsigned int n = nspans * gomm_class_to_nelems[class], i;
	void **objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < n; i++) {
		objs[i] = gomm_alloc(gomm_class_to_size[class], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, objs[i]);
	}
	return objs;
}

static void ff_free_span(void **objs, unsigned int class, unsigned int k)
{
	unsigned int n = gomm_class_to_nelems[class], i;

	for (i = 0; i < n; i++)
		gomm_free(objs[k * n + i]);
}

static void test_span_first_fit(struct kunit *test)
{
	const struct ff_case *c = test->param_value;
	unsigned int class = gomm_size_to_class(c->size);
	unsigned int n = gomm_class_to_nelems[class], i, k;
	unsigned long start[FF_N];
	void **objs, **more;

	ff_empty_heap(test);
	objs = ff_fill_spans(test, class, FF_N);
	for (k = 0; k < FF_N; k++) {
		struct gomm_span *s = gomm_span_of(objs[k * n], NULL);

		KUNIT_ASSERT_NOT_NULL(test, s);
		start[k] = s->start;
		/* span k holds objects k * n .. k * n + n - 1: one CPU, in order */
		for (i = 1; i < n; i++)
			KUNIT_ASSERT_PTR_EQ_MSG(test, gomm_span_of(objs[k * n + i], NULL), s,
						"%s: object %u of span %u", c->name, i, k);
		if (k)
			KUNIT_EXPECT_GT_MSG(test, start[k], start[k - 1],
					    "%s: span %u is below the one before", c->name, k);
	}
	ff_free_span(objs, class, c->reverse ? FF_HOLE2 : FF_HOLE1);
	ff_free_span(objs, class, c->reverse ? FF_HOLE1 : FF_HOLE2);
	/* the drain gives the empty spans back to the heap */
	ff_settle(test, c);
	KUNIT_EXPECT_NULL(test, gomm_span_of(objs[FF_HOLE1 * n], NULL));
	KUNIT_EXPECT_NULL(test, gomm_span_of(objs[FF_HOLE2 * n], NULL));
	more = ff_fill_spans(test, class, 2);
	for (k = 0; k < 2; k++)
		KUNIT_EXPECT_EQ_MSG(test, gomm_span_of(more[k * n], NULL)->start,
				    start[k ? FF_HOLE2 : FF_HOLE1],
				    "%s: the new span %u", c->name, k);
	for (k = 0; k < FF_N; k++)
		if (k != FF_HOLE1 && k != FF_HOLE2)
			ff_free_span(objs, class, k);
	ff_free_span(more, class, 0);
	ff_free_span(more, class, 1);
}

/*
 * Spans 2..4 of FF_N neighbouring spans of 32 KiB objects (four pages
 * each), freed in ascending or descending order, go back to the heap in
 * one drain, as one run (gomm_heap_free_spans()): every one of their
 * pages is free again, and a large object of their twelve pages is made
 * on them (the lowest fit; the CPU's page cache serves twelve pages).
 */
static void ff_span_run(struct kunit *test, bool reverse)
{
	unsigned int class = gomm_size_to_class(GOMM_MAX_SMALL_SIZE);
	unsigned long step = gomm_class_to_npages[class] * GOMM_PAGE_SIZE;
	unsigned int k;
	void **objs, *p;

	ff_empty_heap(test);
	/* one object a span */
	objs = ff_fill_spans(test, class, FF_N);
	for (k = 1; k < FF_N; k++)
		KUNIT_ASSERT_PTR_EQ_MSG(test, objs[k], objs[k - 1] + step,
					"span %u does not follow the one before", k);
	for (k = 2; k <= 4; k++)
		gomm_free(objs[reverse ? 6 - k : k]);
	gomm_drain();
	for (k = 2; k <= 4; k++)
		KUNIT_EXPECT_NULL(test, gomm_span_of(objs[k], NULL));
	p = gomm_alloc(3 * step, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ_MSG(test, p, objs[2], "freed %s",
				reverse ? "descending" : "ascending");
	gomm_free(p);
	for (k = 0; k < FF_N; k++)
		if (k < 2 || k > 4)
			gomm_free(objs[k]);
}

static void test_span_run(struct kunit *test)
{
	ff_span_run(test, false);
	ff_span_run(test, true);
}

/*
 * First fit in each node's heap: the objects of @size on node @nid, in a
 * heap that owns the pages for them, ascend; the holes freed (3rd and
 * 6th) are taken again, in order, after a drain.
 */
static void ff_node(struct kunit *test, int nid, size_t size)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_THISNODE;
	void *p[FF_N], *q[2];
	unsigned int i;

	ff_empty_heap(test);
	for (i = 0; i < FF_N; i++) {
		p[i] = gomm_alloc_node(size, gfp, nid);
		KUNIT_ASSERT_NOT_NULL(test, p[i]);
	}
	for (i = 0; i < FF_N; i++)
		gomm_free(p[i]);
	gomm_drain();
	for (i = 0; i < FF_N; i++) {
		p[i] = gomm_alloc_node(size, gfp, nid);
		KUNIT_ASSERT_NOT_NULL_MSG(test, p[i], "node %d, %zu bytes: object %u",
					  nid, size, i);
		KUNIT_EXPECT_EQ(test, page_to_nid(virt_to_page(p[i])), nid);
		if (i)
			KUNIT_EXPECT_GT_MSG(test, (unsigned long)p[i], (unsigned long)p[i - 1],
					    "node %d, %zu bytes: object %u is below the one before",
					    nid, size, i);
	}
	gomm_free(p[FF_HOLE2]);
	gomm_free(p[FF_HOLE1]);
	gomm_drain();
	for (i = 0; i < 2; i++) {
		q[i] = gomm_alloc_node(size, gfp, nid);
		KUNIT_EXPECT_PTR_EQ_MSG(test, q[i], p[i ? FF_HOLE2 : FF_HOLE1],
					"node %d, %zu bytes: allocation %u after the holes",
					nid, size, i);
	}
	for (i = 0; i < FF_N; i++)
		if (i != FF_HOLE1 && i != FF_HOLE2)
			gomm_free(p[i]);
	gomm_free(q[0]);
	gomm_free(q[1]);
}

static void test_node_first_fit(struct kunit *test)
{
	static const size_t sizes[] = { 5 * GOMM_PAGE_SIZE, SZ_1M };
	struct gomm_heap *h;
	unsigned int i, hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		for (i = 0; i < ARRAY_SIZE(sizes); i++)
			ff_node(test, h->node, sizes[i]);
}

static void test_large_stash(struct kunit *test)
{
	long dbl = atomic_long_read(&gomm_errors.double_free);
	size_t size = 8 * GOMM_PAGE_SIZE;
	struct gomm_span *s, *t;
	void *p, *q;
	int cpu;

	ff_empty_heap(test);
	p = gomm_alloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	s = gomm_span_of(p, NULL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	/* if the stash failed to keep @s, a grace period is all it has */
	rcu_read_lock();
	gomm_free(p);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), GOMM_SPAN_DEAD);
	gomm_free(p);
	KUNIT_EXPECT_EQ_MSG(test, atomic_long_read(&gomm_errors.double_free), dbl + 1,
			    "a double free of a stashed large object is not reported");
	rcu_read_unlock();

	q = gomm_alloc(size, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ_MSG(test, q, p, "not the same pages again (first fit)");
	KUNIT_EXPECT_PTR_EQ_MSG(test, gomm_span_of(q, NULL), s,
				"the same pages did not get their stashed struct");
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), GOMM_SPAN_LARGE);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->kind), GOMM_KIND_LARGE);
	KUNIT_EXPECT_EQ(test, gomm_size(q), size);
	gomm_free(q);

	q = gomm_alloc(size - GOMM_PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ_MSG(test, q, p, "not the same pages again (first fit)");
	t = gomm_span_of(q, NULL);
	KUNIT_EXPECT_PTR_NE_MSG(test, t, s, "a span of another size took the stashed struct");
	KUNIT_EXPECT_EQ(test, gomm_size(q), size - GOMM_PAGE_SIZE);
	gomm_free(q);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&gomm_errors.double_free), dbl + 1);

	gomm_drain();
	for_each_online_cpu(cpu)
		KUNIT_EXPECT_FALSE_MSG(test, gomm_heap_pcache_holds(cpu),
				       "CPU %d holds pages or spans after a drain", cpu);
}

/* Are @size bytes at @p zero?  Did they count in large_prezeroed (@counted)? */
static void ff_zero(struct kunit *test, const void *p, size_t size,
		    unsigned long *count, bool counted, const char *what)
{
	unsigned long now = gomm_kunit_heap(large_prezeroed);

	KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p, 0, size), "%zu bytes, %s: not zero",
			      size, what);
	KUNIT_EXPECT_EQ_MSG(test, now - *count, counted && gomm_init_alloc ? 1UL : 0UL,
			    "%zu bytes, %s: large_prezeroed (init_on_alloc %d)",
			    size, what, gomm_init_alloc);
	*count = now;
}

/*
 * Zeroed objects of @size at @at (first fit; NULL: wherever the heap grows;
 * @fresh: on pages no span has had since the growth), written and freed;
 * the same pages again (no longer fresh); the next pages (fresh).  The
 * last two are left in @o.
 */
static void ff_reuse(struct kunit *test, void *at, size_t size, bool fresh,
		     unsigned long *count, void **o)
{
	o[0] = gomm_zalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o[0]);
	if (at)
		KUNIT_ASSERT_PTR_EQ_MSG(test, o[0], at, "%zu bytes: not the lowest pages", size);
	at = o[0];
	ff_zero(test, o[0], size, count, fresh, "first");
	memset(o[0], 0xa5, size);
	gomm_free(o[0]);
	o[0] = gomm_zalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ_MSG(test, o[0], at, "%zu bytes: not the same pages", size);
	ff_zero(test, o[0], size, count, false, "on the same pages");
	o[1] = gomm_zalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_PTR_EQ_MSG(test, o[1], at + size, "%zu bytes: not the next pages", size);
	ff_zero(test, o[1], size, count, true, "on the next pages");
}

/*
 * In one fresh chunk (4 MiB): 512 KiB objects (the page allocator's) on
 * the growth's pages, then small spans through the CPU's page cache on
 * the next 512 KiB, then 512 KiB objects there, then 5-page objects (the
 * page cache's) on the fresh pages after them.
 */
static void test_prezeroed(struct kunit *test)
{
	unsigned int i, n = 0, nv = 256;
	void **v, *a, *f[2], *m[2], *c[2];
	unsigned long count;

	v = kunit_kcalloc(test, nv, sizeof(*v), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, v);
	ff_empty_heap(test);
	count = gomm_kunit_heap(large_prezeroed);
	ff_reuse(test, NULL, SZ_512K, true, &count, f);
	a = f[0];
	KUNIT_ASSERT_TRUE_MSG(test, IS_ALIGNED(__pa(a), SZ_4M),
			      "the growth was not a whole chunk");
	for (i = 0; i < nv; i++) {
		v[i] = gomm_alloc(1024, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, v[i]);
		memset(v[i], 0xa5, 1024);
	}
	for (i = 0; i < nv; i++) {
		n += v[i] >= a + SZ_1M && v[i] < a + SZ_1M + SZ_512K;
		gomm_free(v[i]);
	}
	KUNIT_ASSERT_GT_MSG(test, n, 0U, "no small span was on the page cache's block");
	gomm_drain();
	ff_reuse(test, a + SZ_1M, SZ_512K, false, &count, m);
	ff_reuse(test, a + SZ_2M, FF_PCACHE_OBJ, true, &count, c);
	for (i = 0; i < 2; i++) {
		gomm_free(f[i]);
		gomm_free(m[i]);
		gomm_free(c[i]);
	}
}

static struct kunit_case gomm_firstfit_cases[] = {
	KUNIT_CASE_PARAM(test_large_first_fit, ff_large_gen_params),
	KUNIT_CASE_PARAM(test_span_first_fit, ff_span_gen_params),
	KUNIT_CASE(test_span_run),
	KUNIT_CASE(test_node_first_fit),
	KUNIT_CASE(test_large_stash),
	KUNIT_CASE(test_prezeroed),
	{}
};

static struct kunit_suite gomm_firstfit_suite = {
	.name = "gomm_firstfit",
	.init = gomm_kunit_pin_cpu,
	.test_cases = gomm_firstfit_cases,
};

kunit_test_suite(gomm_firstfit_suite);
