// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gomm_callsites: the per-call-site accounting (gomm/callsite.c)
 * as debugfs shows it.  Each case switches the accounting off and on
 * again (a fresh table), lets call sites of its own - noinline functions
 * below, found in the file by their %pS names - allocate known objects,
 * renders gomm/callsites with the function debugfs uses, and requires
 * exactly those live objects, live bytes and calls for each site; then
 * it frees them (in hard interrupt context, where it
 * can) and requires zero live objects and bytes with the calls kept.
 * The state of the switch before the suite is restored after it.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/gomm.h>
#include <linux/hrtimer.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "gomm.h"

#define CS_NA		5		/* site a: small objects */
#define CS_SIZE_A	100
#define CS_NB		3		/* site b: large, zeroed */
#define CS_SIZE_B	40000
#define CS_NC		6		/* site c: tiny, from hard interrupts */
#define CS_SIZE_C	5
#define CS_TEXT		(64 * 1024)

/* one row of gomm/callsites */
struct cs_row {
	long live_bytes;
	long live_objs;
	long calls;
	bool found;
};

static bool cs_was_on;

static noinline __noclone void cs_site_a(void **v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		v[i] = gomm_alloc(CS_SIZE_A, GFP_KERNEL);
}

static noinline __noclone void cs_site_b(void **v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		v[i] = gomm_zalloc(CS_SIZE_B, GFP_KERNEL);
}

struct cs_irq_work {
	void **v;
	unsigned int n;
	void (*fn)(struct cs_irq_work *w);
	struct hrtimer timer;
	struct completion done;
};

/*
 * site c: runs in a plain hrtimer, hard interrupt context (not an IPI,
 * nor a _HARD hrtimer: those stay hard on PREEMPT_RT, where a heap growth
 * - a slab allocation, as for kmalloc() - may not run; see
 * test_atomic_contexts)
 */
static noinline __noclone void cs_site_c(struct cs_irq_work *w)
{
	unsigned int i;

	for (i = 0; i < w->n; i++)
		w->v[i] = gomm_alloc(CS_SIZE_C, GFP_ATOMIC);
}

static enum hrtimer_restart cs_irq_timer(struct hrtimer *t)
{
	struct cs_irq_work *w = container_of(t, struct cs_irq_work, timer);

	w->fn(w);
	complete(&w->done);
	return HRTIMER_NORESTART;
}

/* Run @w->fn in hard interrupt context (a plain hrtimer) and wait for it. */
static void cs_in_irq(struct cs_irq_work *w)
{
	init_completion(&w->done);
	hrtimer_setup(&w->timer, cs_irq_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrtimer_start(&w->timer, ns_to_ktime(1000), HRTIMER_MODE_REL);
	wait_for_completion(&w->done);
	hrtimer_cancel(&w->timer);
}

/* site d: a call that fails (above 4 MiB) */
static noinline __noclone void *cs_site_d(void)
{
	return gomm_alloc(GOMM_MAX_LARGE_SIZE + 1, GFP_KERNEL | __GFP_NOWARN);
}

/* frees in hard interrupt context */
static void cs_free_irq(struct cs_irq_work *w)
{
	unsigned int i;

	for (i = 0; i < w->n; i++)
		gomm_free(w->v[i]);
}

/*
 * Render gomm/callsites and find the row of the call site in function
 * @fn ("fn+0x.../0x... [gomm_kunit]").  Fails the test if two rows match.
 * The sites are noinline and __noclone, so each is one function of its
 * own name.
 */
static struct cs_row cs_find(struct kunit *test, const char *fn)
{
	struct seq_file m = { .size = CS_TEXT };
	struct cs_row row = {}, r;
	char *line, *next, name[64];
	int off, n;

	m.buf = kunit_kzalloc(test, CS_TEXT + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m.buf);
	KUNIT_ASSERT_EQ(test, gomm_callsites_show(&m, NULL), 0);
	KUNIT_ASSERT_LT_MSG(test, m.count, (size_t)CS_TEXT, "gomm/callsites overflowed");
	m.buf[m.count] = '\0';
	snprintf(name, sizeof(name), "%s", fn);
	for (line = m.buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#')
			continue;
		r = (struct cs_row) { .found = true };
		n = sscanf(line, "%ld %ld %ld %n", &r.live_bytes, &r.live_objs,
			   &r.calls, &off);
		KUNIT_ASSERT_EQ_MSG(test, n, 3, "bad row: %s", line);
		/* "fn+0x..." (or a clone's "fn.constprop.0+0x...") */
		if (strncmp(line + off, name, strlen(name)) ||
		    (line[off + strlen(name)] != '+' && line[off + strlen(name)] != '.'))
			continue;
		KUNIT_EXPECT_FALSE_MSG(test, row.found, "two rows for %s", fn);
		KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line + off, "[gomm_kunit]"),
					  "row of %s does not name the module: %s",
					  fn, line);
		row = r;
	}
	return row;
}

static void cs_expect(struct kunit *test, const char *fn, long bytes,
		      long objs, long calls)
{
	struct cs_row r = cs_find(test, fn);

	KUNIT_ASSERT_TRUE_MSG(test, r.found, "no row for %s in gomm/callsites", fn);
	KUNIT_EXPECT_EQ_MSG(test, r.live_bytes, bytes, "%s: live bytes", fn);
	KUNIT_EXPECT_EQ_MSG(test, r.live_objs, objs, "%s: live objects", fn);
	KUNIT_EXPECT_EQ_MSG(test, r.calls, calls, "%s: calls", fn);
}

static long cs_bytes(void **v, unsigned int n)
{
	long b = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		b += gomm_size(v[i]);
	return b;
}

/*
 * Two call sites allocate known amounts (small objects with gomm_alloc(),
 * large ones with gomm_zalloc()); the file shows exactly those live bytes,
 * objects and calls for each; after the frees (site a's in hard
 * interrupt context) nothing is live and the calls stay.
 */
static void test_callsites_two_sites(struct kunit *test)
{
	void *a[CS_NA], *b[CS_NB];
	struct cs_irq_work w = { .v = a, .n = CS_NA, .fn = cs_free_irq };
	long bytes_a, bytes_b;
	unsigned int i;

	cs_site_a(a, CS_NA);
	cs_site_b(b, CS_NB);
	for (i = 0; i < CS_NA; i++)
		KUNIT_ASSERT_NOT_NULL(test, a[i]);
	for (i = 0; i < CS_NB; i++)
		KUNIT_ASSERT_NOT_NULL(test, b[i]);
	bytes_a = cs_bytes(a, CS_NA);
	bytes_b = cs_bytes(b, CS_NB);
	KUNIT_EXPECT_EQ(test, bytes_a, (long)(CS_NA * gomm_size(a[0])));
	KUNIT_EXPECT_EQ(test, bytes_b,
			(long)(CS_NB * round_up(CS_SIZE_B, GOMM_PAGE_SIZE)));
	cs_expect(test, "cs_site_a", bytes_a, CS_NA, CS_NA);
	cs_expect(test, "cs_site_b", bytes_b, CS_NB, CS_NB);

	cs_in_irq(&w);
	cs_expect(test, "cs_site_a", 0, 0, CS_NA);
	cs_expect(test, "cs_site_b", bytes_b, CS_NB, CS_NB);
	for (i = 0; i < CS_NB; i++)
		gomm_free(b[i]);
	cs_expect(test, "cs_site_a", 0, 0, CS_NA);
	cs_expect(test, "cs_site_b", 0, 0, CS_NB);
}

/*
 * Tiny objects allocated with GFP_ATOMIC in hard interrupt context count
 * their requested bytes (their class's size with the tiny allocator off,
 * as init_on_free turns it off); a failed call (above 4 MiB) counts as a
 * call with nothing live.
 */
static void test_callsites_tiny_irq(struct kunit *test)
{
	void *c[CS_NC];
	struct cs_irq_work w = { .v = c, .n = CS_NC, .fn = cs_site_c };
	unsigned int i;
	long each;

	cs_in_irq(&w);
	for (i = 0; i < CS_NC; i++)
		KUNIT_ASSERT_NOT_NULL(test, c[i]);
	/* with the tiny allocator off: class 1, 8 bytes */
	each = gomm_tiny_enabled ? CS_SIZE_C : round_up(CS_SIZE_C, 8);
	KUNIT_EXPECT_EQ(test, cs_bytes(c, CS_NC), (long)CS_NC * each);
	cs_expect(test, "cs_site_c", (long)CS_NC * each, CS_NC, CS_NC);
	for (i = 0; i < CS_NC; i++)
		gomm_free(c[i]);
	cs_expect(test, "cs_site_c", 0, 0, CS_NC);
	KUNIT_EXPECT_NULL(test, cs_site_d());
	cs_expect(test, "cs_site_d", 0, 0, 1);
}

/*
 * An object allocated while the accounting was off has no record: its free
 * changes no count, and no row goes negative.  Switching off and on again
 * starts from zero.
 */
static void test_callsites_unknown_free(struct kunit *test)
{
	void *a[CS_NA], *old;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, gomm_callsites_set(false), 0);
	old = gomm_alloc(CS_SIZE_A, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, old);
	KUNIT_ASSERT_EQ(test, gomm_callsites_set(true), 0);
	KUNIT_EXPECT_FALSE(test, cs_find(test, "test_callsites_unknown_free").found);
	cs_site_a(a, 1);
	KUNIT_ASSERT_NOT_NULL(test, a[0]);
	gomm_free(old);
	cs_expect(test, "cs_site_a", (long)gomm_size(a[0]), 1, 1);
	gomm_free(a[0]);
	cs_expect(test, "cs_site_a", 0, 0, 1);

	/* a fresh table: site a's call is forgotten */
	KUNIT_ASSERT_EQ(test, gomm_callsites_set(false), 0);
	KUNIT_ASSERT_EQ(test, gomm_callsites_set(true), 0);
	KUNIT_EXPECT_FALSE(test, cs_find(test, "cs_site_a").found);
	cs_site_a(a, CS_NA);
	for (i = 0; i < CS_NA; i++)
		gomm_free(a[i]);
	cs_expect(test, "cs_site_a", 0, 0, CS_NA);
}

/* Off: the file says so, lists nothing, and gomm still works. */
static void test_callsites_off(struct kunit *test)
{
	struct seq_file m = { .size = CS_TEXT };
	void *a[1];

	KUNIT_ASSERT_EQ(test, gomm_callsites_set(false), 0);
	KUNIT_EXPECT_FALSE(test, gomm_callsites_enabled());
	KUNIT_EXPECT_FALSE(test, static_key_enabled(&gomm_callsite_key));
	cs_site_a(a, 1);
	KUNIT_ASSERT_NOT_NULL(test, a[0]);
	m.buf = kunit_kzalloc(test, CS_TEXT + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m.buf);
	KUNIT_ASSERT_EQ(test, gomm_callsites_show(&m, NULL), 0);
	m.buf[m.count] = '\0';
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "# callsites: off"));
	KUNIT_EXPECT_NULL(test, strstr(m.buf, "cs_site_a"));
	gomm_free(a[0]);
	KUNIT_ASSERT_EQ(test, gomm_callsites_set(true), 0);
	KUNIT_EXPECT_TRUE(test, static_key_enabled(&gomm_callsite_key));
}

/* every case starts with a fresh table */
static int cs_init(struct kunit *test)
{
	KUNIT_ASSERT_EQ(test, gomm_callsites_set(false), 0);
	KUNIT_ASSERT_EQ(test, gomm_callsites_set(true), 0);
	return 0;
}

static int cs_suite_init(struct kunit_suite *suite)
{
	cs_was_on = gomm_callsites_enabled();
	return 0;
}

static void cs_suite_exit(struct kunit_suite *suite)
{
	gomm_callsites_set(cs_was_on);
}

static struct kunit_case gomm_callsites_cases[] = {
	KUNIT_CASE(test_callsites_two_sites),
	KUNIT_CASE(test_callsites_tiny_irq),
	KUNIT_CASE(test_callsites_unknown_free),
	KUNIT_CASE(test_callsites_off),
	{}
};

static struct kunit_suite gomm_callsites_suite = {
	.name = "gomm_callsites",
	.init = cs_init,
	.suite_init = cs_suite_init,
	.suite_exit = cs_suite_exit,
	.test_cases = gomm_callsites_cases,
};

kunit_test_suites(&gomm_callsites_suite);
