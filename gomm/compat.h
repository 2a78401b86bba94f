/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel APIs gomm uses that older kernels lack.
 *
 * gomm is written against current kernels (7.x, scripts/kernel debug-7)
 * and also builds against the 6.12 LTS tree and Debian 12's own kernel,
 * 6.1 (scripts/kernel stock).  Each shim here gives an older kernel
 * the newer API in terms of what that kernel has, so the rest of gomm has
 * no version checks and a shim is deleted when its kernel is dropped.
 * See "Supported kernels" in Documentation/gomm.rst.
 */
#ifndef _GOMM_COMPAT_H
#define _GOMM_COMPAT_H

#include <linux/export.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "gomm needs Linux 6.1 or later"
#endif
#ifdef CONFIG_PREEMPT_RT
#error "gomm: no PREEMPT_RT: its mcache runs with IRQs off and may call the page allocator"
#endif
#ifndef CONFIG_X86_64
#error "gomm: x86-64 only: its free path takes ptr - PAGE_OFFSET as the physical address"
#endif

/*
 * kunit/visibility.h (EXPORT_SYMBOL_IF_KUNIT): 6.2; only later 6.1.y have
 * it, so 6.1 gets the same definitions from here: exported into the KUnit
 * namespace when KUnit is on, not exported at all when it is off.  (No
 * kernel header includes kunit/visibility.h, so they cannot clash.)
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#include <kunit/visibility.h>
#elif IS_ENABLED(CONFIG_KUNIT)
#define VISIBLE_IF_KUNIT
#define EXPORT_SYMBOL_IF_KUNIT(symbol) \
	EXPORT_SYMBOL_NS(symbol, EXPORTED_FOR_KUNIT_TESTING)
#else
#define VISIBLE_IF_KUNIT static
#define EXPORT_SYMBOL_IF_KUNIT(symbol)
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#include <linux/container_of.h>
#include <linux/printk.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

/*
 * shrinker_alloc(), shrinker_register(), shrinker_free(): 6.7.  Before it
 * the caller owned struct shrinker and register_shrinker(shrinker, fmt, ...)
 * allocated, named and registered it in one step, while 6.7 allocates in
 * shrinker_alloc() and registers (without failing) in shrinker_register().
 * Here shrinker_alloc() allocates the struct and its name, and
 * shrinker_register() calls register_shrinker(): if that fails (-ENOMEM)
 * the shrinker stays unregistered, which is reported and is otherwise
 * harmless (shrinker_free() then only frees).  unregister_shrinker() waits
 * for running scans (shrinker_rwsem), so shrinker_free() may free at once.
 */
struct gomm_compat_shrinker {
	struct shrinker shrinker;
	char *name;
};

static inline struct gomm_compat_shrinker *
gomm_compat_shrinker(struct shrinker *shrinker)
{
	return container_of(shrinker, struct gomm_compat_shrinker, shrinker);
}

static inline __printf(2, 3) struct shrinker *
shrinker_alloc(unsigned int flags, const char *fmt, ...)
{
	struct gomm_compat_shrinker *s;
	va_list ap;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	s->name = kvasprintf(GFP_KERNEL, fmt, ap);
	va_end(ap);
	if (!s->name) {
		kfree(s);
		return NULL;
	}
	s->shrinker.flags = flags;
	s->shrinker.seeks = DEFAULT_SEEKS;
	return &s->shrinker;
}

static inline void shrinker_register(struct shrinker *shrinker)
{
	struct gomm_compat_shrinker *s = gomm_compat_shrinker(shrinker);
	int err = register_shrinker(shrinker, "%s", s->name);

	if (err)
		pr_warn("%s: register_shrinker() failed (%d), running without a shrinker\n",
			s->name, err);
}

static inline void shrinker_free(struct shrinker *shrinker)
{
	struct gomm_compat_shrinker *s;

	if (!shrinker)
		return;
	s = gomm_compat_shrinker(shrinker);
	unregister_shrinker(shrinker);	/* a no-op if it never registered */
	kfree(s->name);
	kfree(s);
}
#endif /* < 6.7 */

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#include <linux/hrtimer.h>
#include <linux/module.h>

/*
 * hrtimer_setup(): 6.13 (hrtimer_init() is gone by 7.x).  Before it the
 * callback was set after hrtimer_init().
 */
static inline void hrtimer_setup(struct hrtimer *timer,
				 enum hrtimer_restart (*function)(struct hrtimer *),
				 clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}

/*
 * MODULE_IMPORT_NS() takes a string literal since 6.13
 * (MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING")); before it the bare
 * name was stringified.
 */
#undef MODULE_IMPORT_NS
#define MODULE_IMPORT_NS(ns) MODULE_INFO(import_ns, ns)
#endif /* < 6.13 */

/*
 * GOMM_EXPORT_INTERNAL(): gomm's own companion modules (the KUnit suites,
 * bench/) call a few internal functions through namespace GOMM_INTERNAL,
 * on every kernel (EXPORT_SYMBOL_IF_KUNIT() exports nothing without
 * KUnit, and the bench runs on kernels without it).  Not an API.  The
 * namespace is a string literal since 6.13, a bare name before.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define GOMM_EXPORT_INTERNAL(symbol) EXPORT_SYMBOL_NS_GPL(symbol, "GOMM_INTERNAL")
#else
#define GOMM_EXPORT_INTERNAL(symbol) EXPORT_SYMBOL_NS_GPL(symbol, GOMM_INTERNAL)
#endif

/*
 * kmalloc_nolock() and kfree_nolock(): 6.18.  Only bench/ uses them, as
 * the SLUB side of its nolock row; before 6.18 that row compares against
 * kmalloc(GFP_ATOMIC) and kfree() instead and is named apart
 * (nolock_vs_atomic).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
#define GOMM_HAVE_KMALLOC_NOLOCK	1
#else
#define GOMM_HAVE_KMALLOC_NOLOCK	0
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
#include <linux/timer.h>

/* timer_container_of(): from_timer() renamed, 6.16 */
#define timer_container_of(var, callback_timer, timer_fieldname) \
	from_timer(var, callback_timer, timer_fieldname)
#endif /* < 6.16 */

#endif /* _GOMM_COMPAT_H */
