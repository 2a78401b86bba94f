// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's front end: the per-CPU mcache with Go's nextFreeFast fast path,
 * the tiny allocator, large objects, explicit free, and the module.
 *
 * The mcache of a CPU is used with local interrupts disabled: that keeps
 * its spans and counters consistent against interrupt handlers on the same
 * CPU that allocate too (GFP_ATOMIC from hardirq and softirq), and against
 * preemption and migration, for the price of a pushf/cli/popf - no lock
 * and no atomic read-modify-write.  See Documentation/gomm.rst for the
 * measurements behind that choice.
 */
#include <linux/cpuhotplug.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/gomm.h>
#include "compat.h"

#include "gomm.h"

DEFINE_PER_CPU(struct gomm_mcache, gomm_mcache);
struct gomm_errors gomm_errors;
EXPORT_SYMBOL_IF_KUNIT(gomm_errors);

bool gomm_tiny_enabled = true;
EXPORT_SYMBOL_IF_KUNIT(gomm_tiny_enabled);
module_param_named(tiny, gomm_tiny_enabled, bool, 0444);
MODULE_PARM_DESC(tiny, "Combine requests below 16 bytes in 16-byte blocks (Go's tiny allocator)");

unsigned int gomm_keep_empty = 2;
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

static DEFINE_RATELIMIT_STATE(gomm_report_rs, 5 * HZ, 10);

/**
 * gomm_report - report bad input once, with a stack trace, and count it
 * @what: what was wrong
 * @ptr: the pointer involved
 * @counter: the error counter to bump
 *
 * Context: any.
 */
void gomm_report(const char *what, const void *ptr, atomic_long_t *counter)
{
	atomic_long_inc(counter);
	if (__ratelimit(&gomm_report_rs)) {
		pr_err("gomm: %s of %p\n", what, ptr);
		dump_stack();
	}
}

static unsigned long gomm_retain_pages(void)
{
	return READ_ONCE(gomm_retain_kb) * SZ_1K / GOMM_PAGE_SIZE;
}

/* Go's nextFreeFast: the next free object from the 64-bit alloc cache. */
static __always_inline void *gomm_next_free_fast(struct gomm_span *s)
{
	u64 cache = s->alloc_cache;
	unsigned int bit, idx;

	if (unlikely(!cache))
		return NULL;
	bit = __ffs64(cache);
	idx = s->freeindex + bit;
	/* at a 64-object boundary the slow path refills the cache */
	if (unlikely(idx >= s->nelems ||
		     ((idx + 1) % 64 == 0 && idx + 1 != s->nelems)))
		return NULL;
	s->alloc_cache = (cache >> bit) >> 1;
	s->freeindex = idx + 1;
	s->alloc_count++;
	return (void *)(s->start + idx * s->elemsize);
}

/* Go's nextFreeIndex: scan alloc_bits from freeindex for a free object. */
static unsigned int gomm_next_free_index(struct gomm_span *s)
{
	unsigned int fi = s->freeindex, n = s->nelems, bit, idx;
	u64 cache = s->alloc_cache;

	if (fi == n)
		return n;
	while (!cache) {
		fi = round_down(fi + 64, 64);
		if (fi >= n) {
			s->freeindex = n;
			return n;
		}
		cache = ~(u64)s->alloc_bits[fi / 64];
	}
	bit = __ffs64(cache);
	idx = fi + bit;
	if (idx >= n) {
		s->freeindex = n;
		return n;
	}
	fi = idx + 1;
	if (fi % 64 == 0)
		cache = fi < n ? ~(u64)s->alloc_bits[fi / 64] : 0;
	else
		cache >>= bit + 1;
	s->alloc_cache = cache;
	s->freeindex = fi;
	return idx;
}

/*
 * Go's mcache.nextFree + refill: the slow path.  Called and returns with
 * local interrupts disabled (*@flags holds the caller's state), but
 * enables them while the heap grows, so the task may come back on another
 * CPU: *@mcp is updated to the current CPU's mcache.
 */
static noinline void *gomm_next_free(struct gomm_mcache **mcp,
				     unsigned int class, gfp_t gfp,
				     unsigned long *flags)
{
	struct gomm_mcache *mc = *mcp;
	struct gomm_span *s = mc->alloc[class];
	unsigned int idx;

	mc->slow++;
	if (s) {
		idx = gomm_next_free_index(s);
		if (idx == s->nelems && gomm_span_sweep(s)) {
			mc->sweeps++;
			idx = gomm_next_free_index(s);
		}
		if (idx < s->nelems)
			goto found;
		mc->alloc[class] = NULL;
		gomm_mcentral_uncache(s);
	}
	s = gomm_mcentral_cache(class);
	if (!s) {
		local_irq_restore(*flags);
		s = gomm_span_new(class, gfp);
		local_irq_save(*flags);
		if (!s)
			return NULL;
		mc = this_cpu_ptr(&gomm_mcache);
		*mcp = mc;
		/* an interrupt, or this CPU's previous user, refilled it */
		if (mc->alloc[class])
			gomm_mcentral_uncache(mc->alloc[class]);
	}
	mc->alloc[class] = s;
	mc->refills++;
	idx = gomm_next_free_index(s);
found:
	s->alloc_count++;
	return (void *)(s->start + idx * s->elemsize);
}

/* One object of @class from this CPU's mcache; IRQs off. */
static __always_inline void *gomm_alloc_irqoff(struct gomm_mcache **mcp,
					       unsigned int class, gfp_t gfp,
					       unsigned long *flags)
{
	struct gomm_span *s = (*mcp)->alloc[class];
	void *p = NULL;

	if (likely(s))
		p = gomm_next_free_fast(s);
	if (unlikely(!p))
		p = gomm_next_free(mcp, class, gfp, flags);
	if (likely(p))
		(*mcp)->nalloc[class]++;
	return p;
}

static __always_inline void *gomm_alloc_class(unsigned int class, gfp_t gfp)
{
	struct gomm_mcache *mc;
	unsigned long flags;
	void *p;

	local_irq_save(flags);
	mc = this_cpu_ptr(&gomm_mcache);
	p = gomm_alloc_irqoff(&mc, class, gfp, &flags);
	local_irq_restore(flags);
	return p;
}

static noinline void gomm_double_free(struct gomm_span *s, unsigned int idx)
{
	gomm_report("double free", (void *)(s->start + idx * s->elemsize),
		    &gomm_errors.double_free);
}

/* Free object @idx of small span @s: record it for the owner's sweep. */
static __always_inline void gomm_free_obj(struct gomm_span *s, unsigned int idx)
{
	if (unlikely(test_and_set_bit(idx, s->free_bits))) {
		gomm_double_free(s, idx);
		return;
	}
	this_cpu_inc(gomm_mcache.nfree[s->sizeclass]);
	/* test_and_set_bit() is fully ordered: see gomm_mcentral_put() */
	if (unlikely(READ_ONCE(s->state) == GOMM_SPAN_FULL))
		gomm_mcentral_freed(s);
}

/*
 * The tiny allocator (Go's mallocgc tiny path).  A 16-byte block of class
 * 2 is carved into sub-objects; s->tiny[block] holds a bit per live
 * sub-object offset plus GOMM_TINY_OPEN while it is this CPU's open block,
 * and s->tiny_ends[block] a bit at the last byte of each sub-object, so
 * gomm_size() can tell its extent.  The block is freed when the last bit
 * goes.
 */
static void gomm_tiny_close(struct gomm_span *s, unsigned long block)
{
	unsigned int b = (block - s->start) / GOMM_TINY_SIZE;

	if (atomic_fetch_andnot(GOMM_TINY_OPEN, &s->tiny[b]) == GOMM_TINY_OPEN)
		gomm_free_obj(s, b);
}

static void *gomm_alloc_tiny(size_t size, gfp_t gfp)
{
	struct gomm_mcache *mc;
	struct gomm_span *s;
	unsigned long flags;
	unsigned int off, b;
	void *p;

	local_irq_save(flags);
	mc = this_cpu_ptr(&gomm_mcache);
	off = mc->tiny_offset;
	/* Go's alignment rules for tiny sub-objects */
	if (!(size & 7))
		off = ALIGN(off, 8);
	else if (!(size & 3))
		off = ALIGN(off, 4);
	else if (!(size & 1))
		off = ALIGN(off, 2);
	if (mc->tiny && off + size <= GOMM_TINY_SIZE) {
		s = mc->tiny_span;
		b = (mc->tiny - s->start) / GOMM_TINY_SIZE;
		atomic_or(BIT(off), &s->tiny[b]);
		WRITE_ONCE(s->tiny_ends[b], s->tiny_ends[b] | BIT(off + size - 1));
		mc->tiny_offset = off + size;
		mc->ntiny_alloc++;
		p = (void *)(mc->tiny + off);
		goto out;
	}

	p = gomm_alloc_irqoff(&mc, GOMM_TINY_CLASS, gfp, &flags);
	if (!p)
		goto out;
	s = mc->alloc[GOMM_TINY_CLASS];
	b = ((unsigned long)p - s->start) / GOMM_TINY_SIZE;
	mc->ntiny_alloc++;
	WRITE_ONCE(s->tiny_ends[b], BIT(size - 1));
	/* keep whichever block has more room left, as Go does */
	if (!mc->tiny || size < mc->tiny_offset) {
		atomic_set(&s->tiny[b], GOMM_TINY_OPEN | BIT(0));
		if (mc->tiny)
			gomm_tiny_close(mc->tiny_span, mc->tiny);
		mc->tiny = (unsigned long)p;
		mc->tiny_offset = size;
		mc->tiny_span = s;
	} else {
		atomic_set(&s->tiny[b], BIT(0));
	}
out:
	local_irq_restore(flags);
	return p;
}

static void gomm_free_tiny(struct gomm_span *s, unsigned int b,
			   unsigned int off, const void *ptr)
{
	int old = atomic_fetch_andnot(BIT(off), &s->tiny[b]);

	if (unlikely(!(old & BIT(off)))) {
		gomm_report("double free (tiny)", ptr, &gomm_errors.double_free);
		return;
	}
	this_cpu_inc(gomm_mcache.ntiny_free);
	if (old == BIT(off))
		gomm_free_obj(s, b);
}

static void *gomm_alloc_large(size_t size, gfp_t gfp)
{
	struct gomm_span *s;

	if (unlikely(size > GOMM_MAX_LARGE_SIZE)) {
		atomic_long_inc(&gomm_errors.too_large);
		if (!(gfp & __GFP_NOWARN))
			pr_warn_ratelimited("gomm: %zu-byte request is above the 4 MiB limit\n",
					    size);
		return NULL;
	}
	s = gomm_heap_alloc_span(DIV_ROUND_UP(size, GOMM_PAGE_SIZE), 0, gfp);
	if (!s)
		return NULL;
	this_cpu_inc(gomm_mcache.nalloc[0]);
	return (void *)s->start;
}

static noinline void *gomm_alloc_slow(size_t size, gfp_t flags)
{
	void *p;

	if (unlikely(!size))
		return NULL;
	if (likely(size <= GOMM_MAX_SMALL_SIZE)) {
		if (size < GOMM_TINY_SIZE && gomm_tiny_enabled)
			p = gomm_alloc_tiny(size, flags);
		else
			p = gomm_alloc_class(gomm_size_to_class(size), flags);
	} else {
		p = gomm_alloc_large(size, flags);
	}
	if (unlikely(flags & __GFP_ZERO) && p)
		memset(p, 0, size);
	return p;
}

void *gomm_alloc(size_t size, gfp_t flags)
{
	struct gomm_mcache *mc;
	unsigned int class;
	unsigned long irqs;
	struct gomm_span *s;
	void *p;

	might_alloc(flags);
	/* fast path: Go's nextFreeFast on this CPU's span; the rest is slow */
	if (likely(size - GOMM_TINY_SIZE <= GOMM_MAX_SMALL_SIZE - GOMM_TINY_SIZE &&
		   !(flags & __GFP_ZERO))) {
		class = gomm_size_to_class(size);
		local_irq_save(irqs);
		mc = this_cpu_ptr(&gomm_mcache);
		s = mc->alloc[class];
		if (likely(s)) {
			p = gomm_next_free_fast(s);
			if (likely(p)) {
				mc->nalloc[class]++;
				local_irq_restore(irqs);
				return p;
			}
		}
		local_irq_restore(irqs);
	}
	return gomm_alloc_slow(size, flags);
}
EXPORT_SYMBOL_GPL(gomm_alloc);

void *gomm_zalloc(size_t size, gfp_t flags)
{
	return gomm_alloc(size, flags | __GFP_ZERO);
}
EXPORT_SYMBOL_GPL(gomm_zalloc);

/*
 * Classify a pointer that is not the start of a live object.  Returns the
 * span and object index when @ptr is a small object's start (or a tiny
 * sub-object: then *@tiny_off is its offset in the block, else -1).
 */
static struct gomm_span *gomm_lookup(const void *ptr, unsigned int *idx,
				     int *tiny_off, const char *who)
{
	bool free_page = false;
	struct gomm_span *s = gomm_span_of(ptr, &free_page);
	unsigned long off;
	unsigned int state;

	*tiny_off = -1;
	if (unlikely(!s)) {
		if (free_page)
			gomm_report(who[0] == 'f' ? "double free (free page)" :
				    "size query of a free page", ptr,
				    &gomm_errors.double_free);
		else
			gomm_report(who[0] == 'f' ? "free of a pointer gomm never returned" :
				    "size query of a pointer gomm never returned", ptr,
				    &gomm_errors.bad_free);
		return NULL;
	}
	off = (unsigned long)ptr - s->start;
	state = READ_ONCE(s->state);
	if (!s->sizeclass) {
		*idx = 0;
		if (likely(!off && state == GOMM_SPAN_LARGE))
			return s;
		goto interior;
	}
	*idx = gomm_obj_index(off, s->divmagic);
	if (unlikely(*idx >= s->nelems || state == GOMM_SPAN_DEAD))
		goto interior;
	if (unlikely(s->tiny && atomic_read(&s->tiny[*idx]))) {
		*tiny_off = off % GOMM_TINY_SIZE;
		return s;
	}
	if (likely(*idx * s->elemsize == off))
		return s;
interior:
	gomm_report(who[0] == 'f' ? "free of an interior pointer" :
		    "size query of an interior pointer", ptr, &gomm_errors.bad_free);
	return NULL;
}

static noinline void gomm_free_slow(const void *ptr)
{
	struct gomm_span *s;
	unsigned int idx;
	int tiny_off;

	s = gomm_lookup(ptr, &idx, &tiny_off, "free");
	if (unlikely(!s))
		return;
	if (unlikely(tiny_off >= 0)) {
		gomm_free_tiny(s, idx, tiny_off, ptr);
	} else if (likely(s->sizeclass)) {
		gomm_free_obj(s, idx);
	} else {
		if (unlikely(test_and_set_bit(0, s->free_bits))) {
			gomm_report("double free", ptr, &gomm_errors.double_free);
			return;
		}
		this_cpu_inc(gomm_mcache.nfree[0]);
		gomm_heap_free_span(s);
	}
}

void gomm_free(const void *ptr)
{
	struct gomm_span *s = gomm_span_of_fast(ptr);
	unsigned long off;
	unsigned int idx;

	/* fast path: the start of a small object in a span that is not tiny */
	if (likely(s && s->sizeclass && !s->tiny)) {
		off = (unsigned long)ptr - s->start;
		idx = gomm_obj_index(off, s->divmagic);
		if (likely(idx * s->elemsize == off && idx < s->nelems &&
			   READ_ONCE(s->state) != GOMM_SPAN_DEAD)) {
			gomm_free_obj(s, idx);
			return;
		}
	}
	if (ptr)
		gomm_free_slow(ptr);
}
EXPORT_SYMBOL_GPL(gomm_free);

size_t gomm_size(const void *ptr)
{
	struct gomm_span *s;
	unsigned int idx;
	int tiny_off;
	u16 ends;

	if (!ptr)
		return 0;
	s = gomm_lookup(ptr, &idx, &tiny_off, "size");
	if (!s)
		return 0;
	if (tiny_off >= 0) {
		ends = READ_ONCE(s->tiny_ends[idx]) >> tiny_off;
		return ends ? __ffs(ends) + 1 : 0;
	}
	return s->elemsize;
}
EXPORT_SYMBOL_GPL(gomm_size);

/* Give all of an mcache's spans and its tiny block back (Go's releaseAll). */
static void gomm_mcache_flush(struct gomm_mcache *mc)
{
	unsigned int class;

	if (mc->tiny) {
		gomm_tiny_close(mc->tiny_span, mc->tiny);
		mc->tiny = 0;
		mc->tiny_offset = 0;
		mc->tiny_span = NULL;
	}
	for (class = 1; class < GOMM_NUM_CLASSES; class++) {
		struct gomm_span *s = mc->alloc[class];

		if (s) {
			mc->alloc[class] = NULL;
			gomm_mcentral_uncache(s);
		}
	}
	mc->flushes++;
}

static void gomm_flush_local(void *unused)
{
	unsigned long flags;

	local_irq_save(flags);
	gomm_mcache_flush(this_cpu_ptr(&gomm_mcache));
	local_irq_restore(flags);
}

/**
 * gomm_flush_cpu - flush the mcache of a CPU that is not running
 * @cpu: a dead CPU (hotplug) or any CPU when nothing else uses gomm
 */
void gomm_flush_cpu(int cpu)
{
	gomm_mcache_flush(per_cpu_ptr(&gomm_mcache, cpu));
}

/**
 * gomm_drain - flush every CPU's mcache and return empty spans to the heap
 *
 * Context: process, may sleep (waits for every CPU).
 */
void gomm_drain(void)
{
	on_each_cpu(gomm_flush_local, NULL, 1);
	gomm_mcentral_reclaim(0);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_drain);

static int gomm_cpu_dead(unsigned int cpu)
{
	gomm_flush_cpu(cpu);
	return 0;
}

static enum cpuhp_state gomm_cpuhp_state;

/* The background scavenger: paced, a bounded amount of work per period. */
static void gomm_scavenge_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(gomm_scavenger, gomm_scavenge_fn);

static void gomm_scavenge_fn(struct work_struct *work)
{
	gomm_mcentral_reclaim(READ_ONCE(gomm_keep_empty));
	gomm_heap_scavenge(gomm_retain_pages(), GOMM_SCAVENGE_BATCH);
	schedule_delayed_work(&gomm_scavenger,
			      msecs_to_jiffies(max(READ_ONCE(gomm_scavenge_ms), 10U)));
}

/**
 * gomm_scavenge - release what can be released now (debugfs "scavenge")
 *
 * Drains every CPU's cache, frees empty spans, and gives free chunks
 * back to the buddy allocator down to the retain target.
 *
 * Context: process, may sleep.
 * Return: gomm pages given back to the buddy allocator.
 */
unsigned long gomm_scavenge(void)
{
	gomm_drain();
	return gomm_heap_scavenge(gomm_retain_pages(), ULONG_MAX);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_scavenge);

static void gomm_drain_fn(struct work_struct *work)
{
	gomm_drain();
}

static DECLARE_WORK(gomm_drain_work, gomm_drain_fn);
static struct shrinker *gomm_shrinker;

static unsigned long gomm_shrink_count(struct shrinker *sh,
				       struct shrink_control *sc)
{
	unsigned long n = gomm_heap_releasable(gomm_retain_pages());

	return n ? n * (GOMM_PAGE_SIZE / PAGE_SIZE) : SHRINK_EMPTY;
}

static unsigned long gomm_shrink_scan(struct shrinker *sh,
				      struct shrink_control *sc)
{
	unsigned long n;

	/* per-CPU caches are drained asynchronously: no IPIs from reclaim */
	schedule_work(&gomm_drain_work);
	gomm_mcentral_reclaim(0);
	n = gomm_heap_scavenge(gomm_retain_pages(),
			       DIV_ROUND_UP(sc->nr_to_scan,
					    GOMM_PAGE_SIZE / PAGE_SIZE));
	return n ? n * (GOMM_PAGE_SIZE / PAGE_SIZE) : SHRINK_STOP;
}

static int __init gomm_init(void)
{
	int ret;

	gomm_mcentral_init();
	ret = gomm_heap_init();
	if (ret)
		return ret;
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
	pr_info("gomm: ready: %u size classes, %lu KiB pages, heap range %lu chunks\n",
		GOMM_NUM_CLASSES - 1, GOMM_PAGE_SIZE / SZ_1K, gomm_heap.pa.nchunks);
	return 0;
out_cpuhp:
	cpuhp_remove_state_nocalls(gomm_cpuhp_state);
out_heap:
	gomm_heap_exit();
	return ret;
}

static void __exit gomm_exit(void)
{
	unsigned long live, large;
	int cpu;

	gomm_stats_exit();
	cancel_delayed_work_sync(&gomm_scavenger);
	shrinker_free(gomm_shrinker);
	cancel_work_sync(&gomm_drain_work);
	cpuhp_remove_state_nocalls(gomm_cpuhp_state);
	/* no client is left (they depend on gomm's symbols): flush in place */
	for_each_possible_cpu(cpu)
		gomm_flush_cpu(cpu);
	live = gomm_mcentral_exit();
	large = gomm_heap_exit();
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
