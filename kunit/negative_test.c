// SPDX-License-Identifier: GPL-2.0
/*
 * A negative control for make check: a KUnit suite whose one case fails on
 * purpose.  It is its own module, gomm_negative.ko, loaded last in the
 * KUnit boot; scripts/check hands its name to scripts/ktap --negative,
 * which requires it to have failed and leaves it out of the counts.  If
 * the harness ever stops seeing a failed case, this is what shows it.
 */

#include <kunit/test.h>
#include <linux/gomm.h>
#include <linux/module.h>

static void test_must_fail(struct kunit *test)
{
	void *p = gomm_alloc(64, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	/* wrong on purpose: a 64-byte object's usable size is 64 */
	KUNIT_EXPECT_EQ(test, gomm_size(p), 65);
	gomm_free(p);
}

static struct kunit_case negative_cases[] = {
	KUNIT_CASE(test_must_fail),
	{}
};

static struct kunit_suite negative_suite = {
	.name = "gomm_negative",
	.test_cases = negative_cases,
};

kunit_test_suite(negative_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm: a KUnit case that fails on purpose (make check's negative control)");
