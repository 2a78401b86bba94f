// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's statistics in debugfs (gomm/), in the spirit of /proc/slabinfo:
 *
 *   classes   per size class: object size, objects and pages per span,
 *             spans, objects in use and free, bytes in use and held, waste
 *   heap      chunks, pages owned / in use / free / released, largest free
 *             run, growths: every NUMA node's heap together
 *   nodes     the same per node, and the spans of its mcentrals
 *   cpus      per CPU: fast-path hits, slow paths, refills, sweeps, flushes,
 *             frees; and the sum over every CPU, offline ones included
 *   errors    bad frees, double frees, failed growths, oversized requests,
 *             __GFP_ACCOUNT requests served uncharged
 *   callsites live objects, live bytes and calls per call site (callsite.c)
 *   nolock    per CPU: gomm_alloc_nolock()'s objects, refills and NULLs, and
 *             gomm_free_nolock()'s deferred frees (nolock.c)
 *   drain     (write) flush every CPU's cache, free empty spans
 *   scavenge  (write) drain, then give free chunks back to the kernel
 *   fail_grow fault injection for heap growth (CONFIG_FAULT_INJECTION)
 *
 * Counters are summed without locks: a table is a snapshot that may be off
 * by the operations that ran while it was printed.
 */
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include "compat.h"

#include "gomm.h"

static struct dentry *gomm_debugfs;

/* Live sub-objects of the blocks of tiny span @s. */
static unsigned long gomm_tiny_live(struct gomm_span *s)
{
	unsigned long n = 0;
	unsigned int b;

	for (b = 0; b < s->nelems; b++)
		n += hweight_long(atomic_long_read(&s->tiny[b]) & GOMM_TINY_LIVE);
	return n;
}

/* One walker of the mcentrals' all lists at a time, with one cursor. */
static DEFINE_MUTEX(gomm_stats_mutex);
static struct list_head gomm_stats_cursor;

/**
 * gomm_stats_in_use - objects handed out and not freed
 * @sc: span class (1..68), 0 for large objects, GOMM_STATS_TINY for tiny
 *	sub-objects
 *
 * Counts from the spans themselves, of every node: a span's alloc_count
 * less the objects
 * of its window that are not handed out yet and the frees not yet swept.
 * Cached spans are read while their CPU may be using them, so the count
 * is a snapshot; it is exact when gomm is idle.  The walk drops the
 * class's lock every GOMM_LOCK_BATCH spans, keeping its place with a
 * cursor entry in the class's all list (no other code walks that list).
 *
 * Context: process; takes the class's mcentral lock.
 */
long gomm_stats_in_use(unsigned int sc)
{
	bool tiny = sc == GOMM_STATS_TINY;
	struct gomm_mcentral *c;
	unsigned int batch = 0;
	struct gomm_span *s;
	struct gomm_heap *h;
	unsigned long flags;
	long n = 0;
	unsigned int hi;

	if (!sc) {
		for (hi = 0; (h = gomm_heap_at(hi)); hi++)
			n += atomic_long_read(&h->nr_large);
		return n;
	}
	mutex_lock(&gomm_stats_mutex);
	for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
		c = &h->central[tiny ? GOMM_TINY_SPANCLASS : sc];
		raw_spin_lock_irqsave(&c->lock, flags);
		list_add(&gomm_stats_cursor, &c->all);
		while (gomm_stats_cursor.next != &c->all) {
			s = list_entry(gomm_stats_cursor.next, struct gomm_span, all);
			n += tiny ? gomm_tiny_live(s) : gomm_span_live(s);
			list_move(&gomm_stats_cursor, &s->all);
			if (++batch == GOMM_LOCK_BATCH) {
				raw_spin_unlock_irqrestore(&c->lock, flags);
				batch = 0;
				raw_spin_lock_irqsave(&c->lock, flags);
			}
		}
		list_del(&gomm_stats_cursor);
		raw_spin_unlock_irqrestore(&c->lock, flags);
	}
	mutex_unlock(&gomm_stats_mutex);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_stats_in_use);

/**
 * gomm_stats_mcache - a CPU's mcache, for its counters (tests)
 * @cpu: the CPU
 */
struct gomm_mcache *gomm_stats_mcache(int cpu)
{
	return per_cpu_ptr(&gomm_mcache, cpu);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_stats_mcache);

static unsigned long gomm_pct(unsigned long part, unsigned long whole)
{
	return whole ? part * 100 / whole : 0;
}

/* One row of the classes table: span class @sc, labelled @label. */
static void gomm_class_row(struct seq_file *m, const char *label, unsigned int sc,
			   unsigned long *total_used, unsigned long *total_held)
{
	unsigned int class = gomm_sizeclass_of(sc);
	unsigned int size = gomm_class_to_size[class];
	unsigned int nelems = gomm_class_to_nelems[class];
	unsigned long held, in_use, spans = 0;
	struct gomm_heap *h;
	long used;
	unsigned int hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		spans += READ_ONCE(h->central[sc].nr_spans);
	held = spans * gomm_class_to_npages[class] * GOMM_PAGE_SIZE;
	used = gomm_stats_in_use(sc);
	in_use = used > 0 ? used : 0;

	*total_held += held;
	*total_used += in_use * size;
	seq_printf(m, "%7s %5u %9u %10u %6lu %7lu %7lu %13lu %11lu %6lu\n",
		   label, size, nelems, gomm_class_to_npages[class],
		   spans, in_use, spans * nelems - min(in_use, spans * nelems),
		   in_use * size, held,
		   gomm_pct(held - min(held, in_use * size), held));
}

static int gomm_classes_show(struct seq_file *m, void *v)
{
	unsigned long spans, in_use, total_held = 0, total_used = 0;
	struct gomm_heap_stats st;
	unsigned int class;
	char label[8];
	long used;

	seq_puts(m, "# class  size objs/span pages/span  spans  in_use    free  bytes_in_use  bytes_held waste%\n");
	for (class = 1; class < GOMM_NUM_CLASSES; class++) {
		snprintf(label, sizeof(label), "%u", class);
		gomm_class_row(m, label, class, &total_used, &total_held);
	}
	gomm_heap_stats(NUMA_NO_NODE, &st);
	spans = st.large_pages;
	used = gomm_stats_in_use(0);
	in_use = used > 0 ? used : 0;
	seq_printf(m, "  large     -         1          -      %lu %7lu       0 %13lu %11lu      0\n",
		   in_use, in_use, spans * GOMM_PAGE_SIZE, spans * GOMM_PAGE_SIZE);
	gomm_class_row(m, "tiny", GOMM_TINY_SPANCLASS, &total_used, &total_held);
	used = gomm_stats_in_use(GOMM_STATS_TINY);
	seq_printf(m, "# tiny sub-objects in use: %ld (in the tiny row's blocks)\n", used);
	seq_printf(m, "# small: bytes in use %lu, bytes held %lu\n", total_used, total_held);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gomm_classes);

/* Every node's heap together; largest_free_run: the longest of any node. */
static int gomm_heap_show(struct seq_file *m, void *v)
{
	struct gomm_heap_stats st;

	gomm_heap_stats(NUMA_NO_NODE, &st);
	seq_printf(m, "page_size          %lu\n", GOMM_PAGE_SIZE);
	seq_printf(m, "chunks             %lu\n", st.chunks);
	seq_printf(m, "pages_owned        %lu\n", st.pages_owned);
	seq_printf(m, "pages_in_use       %lu\n", st.pages_in_use);
	seq_printf(m, "pages_large        %lu\n", st.large_pages);
	seq_printf(m, "pages_free         %lu\n", st.pages_owned - st.pages_in_use);
	seq_printf(m, "pages_released     %lu\n", st.released);
	seq_printf(m, "blocks_released    %lu\n", st.blocks_released);
	seq_printf(m, "large_prezeroed    %lu\n", st.large_prezeroed);
	seq_printf(m, "largest_free_run   %lu\n", st.largest_free);
	seq_printf(m, "grows              %lu\n", st.grows);
	seq_printf(m, "bytes_held         %lu\n", st.pages_owned * GOMM_PAGE_SIZE);
	seq_printf(m, "reclaim_ns         %llu\n", READ_ONCE(gomm_reclaim_ns));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gomm_heap);

/* A row per node with a heap: its heap's counters and its mcentrals' spans. */
static int gomm_nodes_show(struct seq_file *m, void *v)
{
	struct gomm_heap_stats st;
	struct gomm_heap *h;
	unsigned int hi;

	seq_puts(m, "# node  chunks pages_owned pages_in_use pages_large  pages_free pages_released largest_free_run      grows  spans large_objs\n");
	for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
		gomm_heap_stats(h->node, &st);
		seq_printf(m, "%6d %7lu %11lu %12lu %11lu %11lu %14lu %16lu %10lu %6lu %10lu\n",
			   h->node, st.chunks, st.pages_owned, st.pages_in_use,
			   st.large_pages, st.pages_owned - st.pages_in_use,
			   st.released, st.largest_free, st.grows, st.spans,
			   st.nr_large);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gomm_nodes);

/* The counters of mcache @mc, read by its own CPU or with it offline. */
static void gomm_stats_read(struct gomm_mcache *mc, struct gomm_cpu_stats *st)
{
	unsigned long loaded = READ_ONCE(mc->nrewin), window = 0;
	unsigned int sc;

	/*
	 * What the windows loaded, less what the current windows have not
	 * handed out yet: exactly the objects handed out.  Unloading a
	 * window takes its rest off nalloc and off the window at once, so
	 * the difference only goes up.
	 */
	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++) {
		loaded += READ_ONCE(mc->nalloc[sc]);
		window += hweight64(READ_ONCE(READ_ONCE(mc->alloc[sc])->alloc_cache));
	}
	st->allocs = loaded - window;
	st->frees = READ_ONCE(mc->nrewin) + READ_ONCE(mc->nswept);
	st->slow = READ_ONCE(mc->slow) + READ_ONCE(mc->rewins);
	st->refills = READ_ONCE(mc->refills);
	st->sweeps = READ_ONCE(mc->sweeps) + READ_ONCE(mc->rewins);
	st->flushes = READ_ONCE(mc->flushes);
	st->tiny_allocs = READ_ONCE(mc->ntiny_alloc);
	st->tiny_frees = READ_ONCE(mc->ntiny_free);
	st->large_allocs = READ_ONCE(mc->nalloc[0]);
	st->large_frees = READ_ONCE(mc->nlarge_free);
}

/* smp_call_function_single()'s half: interrupts are off on the CPU */
static void gomm_stats_read_local(void *st)
{
	gomm_stats_read(this_cpu_ptr(&gomm_mcache), st);
	gomm_nolock_cpu_add(smp_processor_id(), st);
}

/* gomm_stats_cpu() with cpus_read_lock() held by the caller */
static void __gomm_stats_cpu(int cpu, struct gomm_cpu_stats *st)
{
	if (cpu_online(cpu)) {
		smp_call_function_single(cpu, gomm_stats_read_local, st, 1);
	} else {
		gomm_stats_read(per_cpu_ptr(&gomm_mcache, cpu), st);
		gomm_nolock_cpu_add(cpu, st);
	}
}

/* Add every counter of @st to @total's. */
static void gomm_stats_add(struct gomm_cpu_stats *total,
			   const struct gomm_cpu_stats *st)
{
	unsigned long *t = (unsigned long *)total;
	const unsigned long *c = (const unsigned long *)st;
	unsigned int i;

	for (i = 0; i < sizeof(*st) / sizeof(*c); i++)
		t[i] += c[i];
}

/**
 * gomm_stats_cpu - a consistent snapshot of one CPU's counters
 * @cpu: any possible CPU
 * @st: filled in
 *
 * An online CPU reads its own mcache (an IPI, interrupts off there), so
 * its windows and counters agree; an offline CPU's mcache is idle (the
 * cpuhp teardown flushed it) and is read in place.  Each value only goes
 * up between two calls.
 *
 * Context: process; takes cpus_read_lock() (no CPU comes or goes).
 */
void gomm_stats_cpu(int cpu, struct gomm_cpu_stats *st)
{
	cpus_read_lock();
	__gomm_stats_cpu(cpu, st);
	cpus_read_unlock();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_stats_cpu);

/**
 * gomm_stats_cpus_total - the counters of every possible CPU, summed
 * @total: filled in
 *
 * Offline CPUs included: a CPU that goes away keeps its counters, which
 * stay in the totals (as /proc/vmstat folds a dead CPU's counts into the
 * global ones), so every total only goes up.
 *
 * Context: process; takes cpus_read_lock().
 */
void gomm_stats_cpus_total(struct gomm_cpu_stats *total)
{
	struct gomm_cpu_stats st;
	int cpu;

	memset(total, 0, sizeof(*total));
	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		__gomm_stats_cpu(cpu, &st);
		gomm_stats_add(total, &st);
	}
	cpus_read_unlock();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_stats_cpus_total);

static void gomm_cpus_row(struct seq_file *m, const char *label,
			  const struct gomm_cpu_stats *st)
{
	seq_printf(m, "%5s %11lu %11lu %11lu %11lu %11lu %12lu %11lu %11lu %12lu %12lu\n",
		   label, st->allocs - st->slow, st->slow, st->refills,
		   st->sweeps, st->flushes, st->tiny_allocs, st->frees,
		   st->tiny_frees, st->large_allocs, st->large_frees);
}

/* A row per online CPU, then the sum over every possible CPU: one read each. */
static int gomm_cpus_show(struct seq_file *m, void *v)
{
	struct gomm_cpu_stats st, total = {};
	char label[12];
	int cpu;

	seq_puts(m, "# cpu   fast_hits        slow     refills      sweeps     flushes  tiny_allocs       frees  tiny_frees large_allocs  large_frees\n");
	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		__gomm_stats_cpu(cpu, &st);
		gomm_stats_add(&total, &st);
		if (!cpu_online(cpu))
			continue;
		snprintf(label, sizeof(label), "%d", cpu);
		gomm_cpus_row(m, label, &st);
	}
	cpus_read_unlock();
	gomm_cpus_row(m, "all", &total);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gomm_cpus);

static int gomm_errors_show(struct seq_file *m, void *v)
{
	seq_printf(m, "bad_free     %ld\n", atomic_long_read(&gomm_errors.bad_free));
	seq_printf(m, "double_free  %ld\n", atomic_long_read(&gomm_errors.double_free));
	seq_printf(m, "failed_grow  %ld\n", atomic_long_read(&gomm_errors.failed_grow));
	seq_printf(m, "too_large    %ld\n", atomic_long_read(&gomm_errors.too_large));
	seq_printf(m, "unaccounted  %ld\n", atomic_long_read(&gomm_errors.unaccounted));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gomm_errors);

static ssize_t gomm_drain_write(struct file *f, const char __user *buf,
				size_t len, loff_t *pos)
{
	gomm_drain();
	return len;
}

static const struct file_operations gomm_drain_fops = {
	.write = gomm_drain_write,
};

static ssize_t gomm_scavenge_write(struct file *f, const char __user *buf,
				   size_t len, loff_t *pos)
{
	gomm_scavenge();
	return len;
}

static const struct file_operations gomm_scavenge_fops = {
	.write = gomm_scavenge_write,
};

/**
 * gomm_stats_init - create gomm's debugfs directory
 *
 * Context: module init.  Failure is not fatal (debugfs may be off).
 */
void gomm_stats_init(void)
{
	gomm_debugfs = debugfs_create_dir("gomm", NULL);
	debugfs_create_file("classes", 0444, gomm_debugfs, NULL, &gomm_classes_fops);
	debugfs_create_file("heap", 0444, gomm_debugfs, NULL, &gomm_heap_fops);
	debugfs_create_file("nodes", 0444, gomm_debugfs, NULL, &gomm_nodes_fops);
	debugfs_create_file("cpus", 0444, gomm_debugfs, NULL, &gomm_cpus_fops);
	debugfs_create_file("errors", 0444, gomm_debugfs, NULL, &gomm_errors_fops);
	debugfs_create_file("drain", 0200, gomm_debugfs, NULL, &gomm_drain_fops);
	debugfs_create_file("scavenge", 0200, gomm_debugfs, NULL, &gomm_scavenge_fops);
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	fault_create_debugfs_attr("fail_grow", gomm_debugfs, &gomm_fail_grow);
#endif
	gomm_callsites_init(gomm_debugfs);
	gomm_nolock_debugfs_init(gomm_debugfs);
}

/**
 * gomm_stats_exit - remove gomm's debugfs directory
 */
void gomm_stats_exit(void)
{
	debugfs_remove_recursive(gomm_debugfs);
}
