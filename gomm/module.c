// SPDX-License-Identifier: GPL-2.0
/*
 * gomm the module: its parameters, load and unload, and the reclaimers
 * that give memory back - the drain (every CPU's mcache flushed, empty
 * spans and the CPUs' page caches back to the heap), the background
 * scavenger (Go's bgscavenge: paced, bounded work per period), the
 * shrinker (memory pressure) and CPU hotplug (a dead CPU's mcache
 * flushed).  The allocator itself is in malloc.c (mcache), mcentral.c,
 * heap.c and pagealloc.c; debugfs in stats.c.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>
#include <linux/workqueue.h>
#include "compat.h"

#include "gomm.h"

/*
 * The kernel's init_on_alloc / init_on_free (command line or config
 * default), read once at load (the kernel fixes them at boot): when on,
 * gomm's instrumentation key sends every allocation and free to the
 * instrumented paths, which zero the object as SLUB does; the fast paths
 * pay nothing for it when they are off.  With init_on_free the tiny
 * allocator is off: a tiny block's objects have no size of their own to
 * wipe.
 */
bool gomm_init_alloc __ro_after_init;
EXPORT_SYMBOL_IF_KUNIT(gomm_init_alloc);
bool gomm_init_free __ro_after_init;
EXPORT_SYMBOL_IF_KUNIT(gomm_init_free);

static void __init gomm_init_flags(void)
{
	gomm_init_alloc = want_init_on_alloc(0);
	gomm_init_free = want_init_on_free();
	if (gomm_init_free && gomm_tiny_enabled) {
		gomm_tiny_enabled = false;
		pr_info("gomm: init_on_free is on: the tiny allocator is off\n");
	}
}

bool gomm_tiny_enabled = true;
EXPORT_SYMBOL_IF_KUNIT(gomm_tiny_enabled);
module_param_named(tiny, gomm_tiny_enabled, bool, 0444);
MODULE_PARM_DESC(tiny, "Combine requests below 16 bytes in 16-byte blocks (Go's tiny allocator)");

static unsigned int gomm_keep_empty = 2;
module_param_named(keep_empty, gomm_keep_empty, uint, 0644);
MODULE_PARM_DESC(keep_empty, "Empty spans each size class keeps before returning them to the heap");

unsigned long gomm_retain_kb = 4096;
EXPORT_SYMBOL_IF_KUNIT(gomm_retain_kb);
module_param_named(retain_kb, gomm_retain_kb, ulong, 0644);
MODULE_PARM_DESC(retain_kb, "Free heap memory (KiB) the scavenger leaves in place");

static unsigned int gomm_scavenge_ms = 1000;
module_param_named(scavenge_ms, gomm_scavenge_ms, uint, 0644);
MODULE_PARM_DESC(scavenge_ms, "Period of the background scavenger (ms)");

/* chunks the background scavenger releases per period at most */
#define GOMM_SCAVENGE_BATCH	(16 * GOMM_CHUNK_PAGES)

#if IS_ENABLED(CONFIG_KUNIT)
struct static_key_false gomm_test_key = STATIC_KEY_FALSE_INIT;
EXPORT_SYMBOL_IF_KUNIT(gomm_test_key);
struct gomm_test_hooks gomm_test_hooks;
EXPORT_SYMBOL_IF_KUNIT(gomm_test_hooks);
#endif

static unsigned long gomm_retain_pages(void)
{
	return READ_ONCE(gomm_retain_kb) * SZ_1K / GOMM_PAGE_SIZE;
}

/*
 * Serializes the reclaimers (drain, the scavenger, the shrinker), so that
 * when gomm_drain() or gomm_scavenge() returns no other reclaimer still
 * holds spans it took off the lists: the heap is in a settled state.
 * Nothing under it allocates memory.  gomm_drain() and gomm_scavenge()
 * hold cpus_read_lock() around it: a CPU that went offline keeps its
 * caches until gomm_cpu_dead() flushes them, which a drain would skip.
 */
static DEFINE_MUTEX(gomm_reclaim_mutex);

/*
 * Guest time the reclaimers spent holding gomm_reclaim_mutex (debugfs
 * heap "reclaim_ns"): the cost of the work gomm defers from its frees -
 * flushing caches, freeing empty spans, giving pages back - which SLUB
 * pays inside kfree().  Written under the mutex.
 */
u64 gomm_reclaim_ns;
static u64 gomm_reclaim_t0;

static void gomm_reclaim_lock(void)
{
	mutex_lock(&gomm_reclaim_mutex);
	gomm_reclaim_t0 = ktime_get_ns();
}

static void gomm_reclaim_unlock(void)
{
	WRITE_ONCE(gomm_reclaim_ns,
		   gomm_reclaim_ns + ktime_get_ns() - gomm_reclaim_t0);
	mutex_unlock(&gomm_reclaim_mutex);
}

/*
 * Flush the CPUs that cache spans (an IPI each, waited for) and give
 * every empty span and page cache back to the heap.
 */
static void __gomm_drain(void)
{
	lockdep_assert_held(&gomm_reclaim_mutex);
	/* the nolock frees left to irq_works (nolock.c) first */
	gomm_nolock_barrier();
	on_each_cpu_cond(gomm_cpu_caches, gomm_flush_local, NULL, 1);
	gomm_mcentral_reclaim(0);
	/* the span structs the reclaim retired on this CPU */
	local_irq_disable();
	gomm_span_retire_flush(smp_processor_id());
	local_irq_enable();
}

/**
 * gomm_drain - flush every CPU's mcache and return empty spans to the heap
 *
 * Waits for the frees deferred by gomm_free_rcu() and gomm_free_rcu_head()
 * first, when there are any, and for those gomm_free_nolock() left to an
 * irq_work, so that their objects are freed too.
 *
 * Context: process, may sleep (waits for every CPU, other reclaimers and
 * an RCU grace period).
 */
void gomm_drain(void)
{
	/* deferred frees first (rcu.c): no wait if there are none */
	gomm_rcu_barrier();
	/* no CPU between offline and gomm_cpu_dead(): it would be skipped */
	cpus_read_lock();
	gomm_reclaim_lock();
	__gomm_drain();
	gomm_reclaim_unlock();
	cpus_read_unlock();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_drain);

/**
 * gomm_scavenge - release what can be released now (debugfs "scavenge")
 *
 * Waits for deferred frees (as gomm_drain()), drains every CPU's cache,
 * frees empty spans, and gives free chunks back to the buddy allocator
 * down to the retain target.
 *
 * Context: process, may sleep.
 * Return: gomm pages given back to the buddy allocator.
 */
unsigned long gomm_scavenge(void)
{
	unsigned long n;

	gomm_rcu_barrier();
	cpus_read_lock();	/* as gomm_drain() */
	gomm_reclaim_lock();
	__gomm_drain();
	n = gomm_heap_scavenge(gomm_retain_pages(), ULONG_MAX);
	gomm_reclaim_unlock();
	cpus_read_unlock();
	return n;
}

/* for the KUnit suites and bench/ */
GOMM_EXPORT_INTERNAL(gomm_scavenge);

#if IS_ENABLED(CONFIG_KUNIT)
/* gomm_heap_scavenge() with a budget, as a reclaimer, for the KUnit suites */
unsigned long gomm_kunit_scavenge(unsigned long retain_pages,
				  unsigned long max_pages)
{
	unsigned long n;

	gomm_reclaim_lock();
	n = gomm_heap_scavenge(retain_pages, max_pages);
	gomm_reclaim_unlock();
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_kunit_scavenge);

/*
 * Hold the reclaimers off (the background scavenger sweeps partial
 * spans), for a KUnit case that reads a partial span's state
 */
void gomm_kunit_reclaim_lock(void)
{
	gomm_reclaim_lock();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_kunit_reclaim_lock);

void gomm_kunit_reclaim_unlock(void)
{
	gomm_reclaim_unlock();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_kunit_reclaim_unlock);
#endif

/* The background scavenger: paced, a bounded amount of work per period. */
static void gomm_scavenge_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(gomm_scavenger, gomm_scavenge_fn);

static void gomm_scavenge_fn(struct work_struct *work)
{
	gomm_reclaim_lock();
	gomm_mcentral_reclaim(READ_ONCE(gomm_keep_empty));
	gomm_heap_scavenge(gomm_retain_pages(), GOMM_SCAVENGE_BATCH);
	gomm_reclaim_unlock();
	schedule_delayed_work(&gomm_scavenger,
			      msecs_to_jiffies(max(READ_ONCE(gomm_scavenge_ms), 10U)));
}

struct shrinker *gomm_shrinker;
EXPORT_SYMBOL_IF_KUNIT(gomm_shrinker);

/*
 * The shrinker's contract: count reports only what scan can give back
 * now - free pages held beyond the retain target (the CPUs' page caches
 * included) and the partial spans whose objects have all been freed
 * (swept or not) - and scan gives it back in the caller's context before it
 * returns: first free pages, and only if they do not cover the request,
 * a drain (the CPUs that cache spans are flushed by IPI, waited for;
 * empty spans and the page caches go back to the heap) and a second
 * release.  With nothing to give back count is SHRINK_EMPTY and scan is
 * not called; no work is queued.
 */
static unsigned long gomm_shrink_count(struct shrinker *sh,
				       struct shrink_control *sc)
{
	unsigned long free = gomm_heap_free_estimate();
	unsigned long retain = gomm_retain_pages(), n;

	free += gomm_mcentral_reclaimable();
	n = free > retain ? free - retain : 0;
	return n ? n * (GOMM_PAGE_SIZE / PAGE_SIZE) : SHRINK_EMPTY;
}

static unsigned long gomm_shrink_scan(struct shrinker *sh,
				      struct shrink_control *sc)
{
	unsigned long want = DIV_ROUND_UP(sc->nr_to_scan, GOMM_PAGE_SIZE / PAGE_SIZE);
	unsigned long n;

	/* nothing under the mutex allocates memory: no reclaim recursion */
	gomm_reclaim_lock();
	n = gomm_heap_scavenge(gomm_retain_pages(), want);
	if (n < want) {
		__gomm_drain();
		n += gomm_heap_scavenge(gomm_retain_pages(), want - n);
	}
	gomm_reclaim_unlock();
	return n ? n * (GOMM_PAGE_SIZE / PAGE_SIZE) : SHRINK_STOP;
}

/* CPU hotplug: a dead CPU's mcache goes back to the mcentrals. */
static enum cpuhp_state gomm_cpuhp_state;

static int gomm_cpu_dead(unsigned int cpu)
{
	gomm_hook_cpu_dead(cpu);
	gomm_flush_cpu(cpu);
	return 0;
}

static int __init gomm_init(void)
{
	int ret;

	gomm_init_flags();
	gomm_malloc_init();
	gomm_nolock_init();
	gomm_rcu_init();
	ret = gomm_span_cache_init();
	if (ret)
		return ret;
	ret = gomm_heap_init();
	if (ret)
		goto out_spans;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "gomm:dead",
					NULL, gomm_cpu_dead);
	if (ret < 0)
		goto out_heap;
	gomm_cpuhp_state = ret;
	gomm_shrinker = shrinker_alloc(0, "gomm");
	if (!gomm_shrinker) {
		ret = -ENOMEM;
		goto out_cpuhp;
	}
	gomm_shrinker->count_objects = gomm_shrink_count;
	gomm_shrinker->scan_objects = gomm_shrink_scan;
	gomm_shrinker->seeks = DEFAULT_SEEKS;
	shrinker_register(gomm_shrinker);
	gomm_stats_init();
	schedule_delayed_work(&gomm_scavenger, msecs_to_jiffies(gomm_scavenge_ms));
	if (gomm_init_alloc)
		static_branch_inc(&gomm_alloc_instr_key);
	if (gomm_init_free)
		static_branch_inc(&gomm_free_instr_key);
	pr_info("gomm: ready: %u size classes, %lu KiB pages, heap range %lu chunks\n",
		GOMM_NUM_CLASSES - 1, GOMM_PAGE_SIZE / SZ_1K, gomm_map.nspanmap);
	return 0;
out_cpuhp:
	cpuhp_remove_state_nocalls(gomm_cpuhp_state);
out_heap:
	gomm_heap_exit();
out_spans:
	gomm_span_cache_exit();
	return ret;
}

static void __exit gomm_exit(void)
{
	unsigned long live, large;
	int cpu;

	if (gomm_init_free)
		static_branch_dec(&gomm_free_instr_key);
	if (gomm_init_alloc)
		static_branch_dec(&gomm_alloc_instr_key);
	gomm_stats_exit();
	gomm_callsites_exit();
	cancel_delayed_work_sync(&gomm_scavenger);
	shrinker_free(gomm_shrinker);
	cpuhp_remove_state_nocalls(gomm_cpuhp_state);
	/* the frees deferred past a grace period, before anything goes */
	gomm_rcu_barrier();
	/* and those gomm_free_nolock() left to an irq_work */
	gomm_nolock_barrier();
	/* no client is left (they depend on gomm's symbols): flush in place */
	for_each_possible_cpu(cpu)
		gomm_flush_cpu(cpu);
	live = gomm_mcentral_exit();
	large = gomm_heap_exit();
	gomm_span_cache_exit();
	if (live || large)
		pr_err("gomm: unload: %lu small and %lu large objects were still live\n",
		       live, large);
	else
		pr_info("gomm: unload: no object was live, every page returned\n");
}

module_init(gomm_init);
module_exit(gomm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm: the Go runtime's memory allocator");
