// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's front end: the per-CPU mcache with Go's nextFreeFast fast path,
 * the tiny allocator, large objects, explicit free, and the module.
 *
 * The mcache of a CPU is used with local interrupts disabled: that keeps
 * its spans and counters consistent against interrupt handlers on the same
 * CPU that allocate too (GFP_ATOMIC from hardirq and softirq), and against
 * preemption and migration, for the price of a pushf/cli/sti - no lock
 * and no atomic read-modify-write.  See Documentation/gomm.rst for the
 * measurements behind that choice.
 */
#include <linux/cpuhotplug.h>
#include <linux/kmemleak.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/gomm.h>
#include "compat.h"

#include "gomm.h"

#define CREATE_TRACE_POINTS
#include "gomm_trace.h"
/*
 * EXPORT_TRACEPOINT_SYMBOL_GPL() for KUnit only, as EXPORT_SYMBOL_IF_KUNIT():
 * the test of the tracepoints registers probes on them, which needs just
 * the tracepoint itself.
 */
#define EXPORT_TRACEPOINT_SYMBOL_IF_KUNIT(name) \
	EXPORT_SYMBOL_IF_KUNIT(__tracepoint_##name)
EXPORT_TRACEPOINT_SYMBOL_IF_KUNIT(gomm_alloc);
EXPORT_TRACEPOINT_SYMBOL_IF_KUNIT(gomm_free);

DEFINE_PER_CPU(struct gomm_mcache, gomm_mcache);
struct gomm_errors gomm_errors;
EXPORT_SYMBOL_IF_KUNIT(gomm_errors);

#if IS_ENABLED(CONFIG_KUNIT)
struct static_key_false gomm_test_key = STATIC_KEY_FALSE_INIT;
EXPORT_SYMBOL_IF_KUNIT(gomm_test_key);
struct gomm_test_hooks gomm_test_hooks;
EXPORT_SYMBOL_IF_KUNIT(gomm_test_hooks);
#endif

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

/* gomm_report()'s rate limit; KUnit reads it (the report rate limit test) */
VISIBLE_IF_KUNIT struct ratelimit_state gomm_report_rs =
	RATELIMIT_STATE_INIT(gomm_report_rs, 5 * HZ, 10);
EXPORT_SYMBOL_IF_KUNIT(gomm_report_rs);

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

/*
 * What an allocation tells KASAN (@size usable, the rest of @usable a
 * redzone) and kmemleak; and a free.  Both compile away on a kernel
 * without KASAN and kmemleak.  The tracepoints are not here: gomm_alloc()
 * and gomm_free() test their static keys first and go to a traced copy
 * of themselves, so that the untraced fast paths keep no state for them.
 */
static __always_inline void gomm_alloc_hook(void *p, size_t size, size_t usable,
					    gfp_t gfp)
{
	gomm_kasan_unpoison((unsigned long)p, size, usable);
	kmemleak_alloc(p, size, 1, gfp);
}

static __always_inline void gomm_free_hook(const void *p, size_t usable)
{
	kmemleak_free(p);
	gomm_kasan_poison((unsigned long)p, usable, GOMM_KASAN_FREE);
}

/*
 * Span class of each request size 16..32768 for the fast path, indexed by
 * (size + 7) / 8; built at load from Go's two tables (gomm_size_to_class())
 * so that the fast path needs one load and no branch.
 */
static u8 gomm_fast_class[GOMM_MAX_SMALL_SIZE / 8 + 1] __ro_after_init;

/*
 * Go's nextFreeFast: the next free object of the span's window.  Clears
 * the object's bit in the window and sets it in alloc_bits (the owner is
 * the only writer; gomm_free() reads it), and returns NULL when the
 * window is used up.
 */
static __always_inline void *gomm_span_take_one(struct gomm_span *s, u64 cache)
{
	u64 rest = cache & (cache - 1);

	s->alloc_cache = rest;
	*s->alloc_word |= cache ^ rest;
	return (void *)(s->window + __ffs64(cache) * s->elemsize);
}

static __always_inline void *gomm_span_take(struct gomm_span *s)
{
	u64 cache = s->alloc_cache;

	return likely(cache) ? gomm_span_take_one(s, cache) : NULL;
}

/*
 * Go's mcache.nextFree + refill, for when the window of the CPU's span of
 * class @sc is used up.  In order: reuse the window's own word if frees
 * came back to it (a one-word sweep: the objects are still warm), load the
 * span's next window, sweep the whole span and start over, or swap the
 * span for one from the mcentral or a new one.  Called and returns with
 * local interrupts disabled (*@flags holds the caller's state), but
 * enables them while the heap grows, so the task may come back on another
 * CPU: *@mcp is updated to the current CPU's mcache.
 */
static __always_inline void *gomm_next_free(struct gomm_mcache **mcp,
					    unsigned int sc, gfp_t gfp,
					    unsigned long *flags)
{
	struct gomm_mcache *mc = *mcp;
	struct gomm_span *s = mc->alloc[sc], *old;
	unsigned int w;

	mc->slow++;
	if (s != &gomm_empty_span) {
		w = s->freeindex / 64;
		if (gomm_span_sweep_word(s, w)) {
			mc->sweeps++;
			if (gomm_span_window(s, w))
				goto take;
		}
		s->freeindex += 64;
		if (gomm_span_load_window(s))
			goto take;
		if (gomm_span_sweep(s)) {
			mc->sweeps++;
			if (gomm_span_load_window(s))
				goto take;
		}
		mc->alloc[sc] = &gomm_empty_span;
		gomm_mcentral_uncache(s);
	}
	s = gomm_mcentral_cache(sc);
	if (!s) {
		local_irq_restore(*flags);
		s = gomm_span_new(sc, gfp);
		local_irq_save(*flags);
		if (!s)
			return NULL;
		mc = this_cpu_ptr(&gomm_mcache);
		*mcp = mc;
		/* an interrupt, or this CPU's previous user, refilled it */
		old = mc->alloc[sc];
		if (old != &gomm_empty_span) {
			mc->nalloc[sc] -= gomm_span_unload_window(old);
			gomm_mcentral_uncache(old);
		}
	}
	mc->alloc[sc] = s;
	mc->refills++;
take:
	mc->nalloc[sc] += hweight64(s->alloc_cache);
	return gomm_span_take(s);
}

/* One object of span class @sc from this CPU's mcache; IRQs off. */
static noinline void *gomm_alloc_sc(struct gomm_mcache **mcp, unsigned int sc,
				    gfp_t gfp, unsigned long *flags)
{
	void *p = gomm_span_take((*mcp)->alloc[sc]);

	return p ? p : gomm_next_free(mcp, sc, gfp, flags);
}

/* The fast path's miss, the general case; IRQs off (@flags) until it returns. */
static noinline void *gomm_alloc_refill_slow(size_t size, unsigned int sc,
					     gfp_t gfp, unsigned long flags)
{
	struct gomm_mcache *mc = this_cpu_ptr(&gomm_mcache);
	void *p = gomm_next_free(&mc, sc, gfp, &flags);

	local_irq_restore(flags);
	if (p)
		gomm_alloc_hook(p, size, gomm_class_to_size[sc], gfp);
	return p;
}

/*
 * The fast path's miss: called with IRQs off (@flags), returns with them
 * restored.  Its common case - frees came back to the used-up window's
 * own word (a span of one to a few objects cycling, or a working set that
 * fits a window) - is a one-word sweep that reloads the same window: the
 * objects the sweep frees are exactly the window's free objects, so
 * alloc_count (less the freed, plus the window's) does not change.
 */
static noinline void *gomm_alloc_refill(size_t size, gfp_t gfp,
					unsigned long flags)
{
	unsigned int sc = gomm_fast_class[(size + 7) / 8];
	struct gomm_span *s = this_cpu_read(gomm_mcache.alloc[sc]);
	unsigned long *fw = &s->free_bits[s->freeindex / 64];
	unsigned long freed, alloc, i;
	void *p;

	if (!READ_ONCE(*fw))
		return gomm_alloc_refill_slow(size, sc, gfp, flags);
	freed = xchg(fw, 0);
	alloc = *s->alloc_word;
	if (unlikely(freed & ~alloc)) {
		/* a double free raced with a sweep: the general path reports it */
		for_each_set_bit(i, &freed, BITS_PER_LONG)
			set_bit(i, fw);
		return gomm_alloc_refill_slow(size, sc, gfp, flags);
	}
	WRITE_ONCE(*s->alloc_word, alloc & ~freed);
	s->alloc_cache = freed;
	this_cpu_inc(gomm_mcache.slow);
	this_cpu_inc(gomm_mcache.sweeps);
	this_cpu_add(gomm_mcache.nalloc[sc], hweight_long(freed));
	p = gomm_span_take_one(s, freed);
	local_irq_restore(flags);
	gomm_alloc_hook(p, size, s->elemsize, gfp);
	return p;
}

static noinline void gomm_double_free(const void *ptr)
{
	gomm_report("double free", ptr, &gomm_errors.double_free);
}

/* Free object @idx (at @ptr) of small span @s, handed out: record it for the sweep. */
static __always_inline void gomm_free_obj(struct gomm_span *s, unsigned int idx,
					  const void *ptr)
{
	if (unlikely(test_and_set_bit(idx, s->free_bits))) {
		gomm_double_free(ptr);
		return;
	}
	gomm_hook_free_published(ptr);
	/* test_and_set_bit() is fully ordered: see gomm_mcentral_put() */
	if (unlikely(data_race(s->state) == GOMM_SPAN_FULL))
		gomm_mcentral_freed(s);
}

/*
 * The tiny allocator (Go's mallocgc tiny path).  A 16-byte block from a
 * tiny span is carved into sub-objects; s->tiny[block] holds a bit per
 * live sub-object offset, GOMM_TINY_OPEN while it is this CPU's open
 * block, and a bit at the last byte of each sub-object handed out, so
 * gomm_size() can tell its extent (one atomic OR hands a sub-object out).  The block is freed when
 * the last bit goes.
 */
/* Block @b of tiny span @s has no live sub-object and is closed: free it. */
static __always_inline void gomm_tiny_release(struct gomm_span *s, unsigned int b)
{
	unsigned long block = s->start + b * GOMM_TINY_SIZE;

	gomm_kasan_poison(block, GOMM_TINY_SIZE, GOMM_KASAN_FREE);
	gomm_free_obj(s, b, (void *)block);
}

static void gomm_tiny_close(struct gomm_span *s, unsigned long block)
{
	unsigned int b = (block - s->start) / GOMM_TINY_SIZE;
	long old = atomic_long_fetch_andnot(GOMM_TINY_OPEN, &s->tiny[b]);

	if ((old & (GOMM_TINY_LIVE | GOMM_TINY_OPEN)) == GOMM_TINY_OPEN)
		gomm_tiny_release(s, b);
}

/* Go's tiny alignment as a mask: size % 8 == 0 -> 8, % 4 -> 4, % 2 -> 2 */
static const u8 gomm_tiny_align[GOMM_TINY_SIZE] = {
	0, 0, 1, 0, 3, 0, 1, 0, 7, 0, 1, 0, 3, 0, 1, 0,
};

/*
 * A tiny object of @size (1..15) bytes from a new block, when the open
 * one has no room; called with IRQs off (@flags), returns with them
 * restored.
 */
static noinline void *gomm_alloc_tiny_block(size_t size, gfp_t gfp,
					    unsigned long flags)
{
	struct gomm_mcache *mc = this_cpu_ptr(&gomm_mcache);
	struct gomm_span *s;
	unsigned int b;
	void *p;

	p = gomm_alloc_sc(&mc, GOMM_TINY_SPANCLASS, gfp, &flags);
	if (!p) {
		local_irq_restore(flags);
		return NULL;
	}
	s = mc->alloc[GOMM_TINY_SPANCLASS];
	b = ((unsigned long)p - s->start) / GOMM_TINY_SIZE;
	mc->ntiny_alloc++;
	/* keep whichever block has more room left, as Go does */
	if (size < mc->tiny_offset) {
		atomic_long_set(&s->tiny[b], GOMM_TINY_OPEN | BIT(0) |
					     GOMM_TINY_END(size - 1));
		if (mc->tiny)
			gomm_tiny_close(mc->tiny_span, mc->tiny);
		mc->tiny = (unsigned long)p;
		mc->tiny_offset = size;
		mc->tiny_span = s;
		mc->tiny_state = &s->tiny[b];
	} else {
		atomic_long_set(&s->tiny[b], BIT(0) | GOMM_TINY_END(size - 1));
	}
	gomm_kasan_unpoison((unsigned long)p, size, GOMM_TINY_SIZE);
	local_irq_restore(flags);
	kmemleak_alloc(p, size, 1, gfp);
	return p;
}

/*
 * A tiny object of @size (1..15) bytes (Go's mallocgc tiny path): the next
 * aligned offset of this CPU's open block if it has room; else, if every
 * sub-object of the open block has been freed, the block's start (only
 * its owner hands out its offsets, and a free that saw the block open
 * leaves it alone); else a new block.  gomm_alloc_slow() zeroes it for
 * __GFP_ZERO.
 */
static noinline void *gomm_alloc_tiny(size_t size, gfp_t gfp)
{
	unsigned int off, mask = gomm_tiny_align[size];
	unsigned long flags, block;
	atomic_long_t *state;

	local_irq_save(flags);
	/* tiny_offset is GOMM_TINY_SIZE when no block is open */
	off = (this_cpu_read(gomm_mcache.tiny_offset) + mask) & ~mask;
	state = this_cpu_read(gomm_mcache.tiny_state);
	if (unlikely(off + size > GOMM_TINY_SIZE)) {
		if (!this_cpu_read(gomm_mcache.tiny) ||
		    atomic_long_read(state) & GOMM_TINY_LIVE)
			return gomm_alloc_tiny_block(size, gfp, flags);
		/* the sub-object ends go too: gomm_size() reads them */
		atomic_long_set(state, GOMM_TINY_OPEN);
		off = 0;
	}
	atomic_long_or(BIT(off) | GOMM_TINY_END(off + size - 1), state);
	this_cpu_write(gomm_mcache.tiny_offset, off + size);
	this_cpu_inc(gomm_mcache.ntiny_alloc);
	block = this_cpu_read(gomm_mcache.tiny);
	/* KASAN's granules are 8 bytes: the block is usable up to here */
	gomm_kasan_unpoison(block, off + size, GOMM_TINY_SIZE);
	local_irq_restore(flags);
	kmemleak_alloc((void *)(block + off), size, 1, gfp);
	return (void *)(block + off);
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
	s = gomm_heap_alloc_large(DIV_ROUND_UP(size, GOMM_PAGE_SIZE), gfp);
	if (!s)
		return NULL;
	this_cpu_inc(gomm_mcache.nalloc[0]);
	return (void *)s->start;
}

/* Everything the fast paths do not serve: 0, __GFP_ZERO, large. */
static noinline void *gomm_alloc_slow(size_t size, gfp_t gfp)
{
	struct gomm_mcache *mc;
	unsigned long flags;
	unsigned int class;
	size_t usable;
	void *p;

	if (unlikely(!size))
		return NULL;
	if (size > GOMM_MAX_SMALL_SIZE) {
		p = gomm_alloc_large(size, gfp);
		usable = round_up(size, GOMM_PAGE_SIZE);
		if (p)
			gomm_alloc_hook(p, size, usable, gfp);
	} else if (size < GOMM_TINY_SIZE && gomm_tiny_enabled) {
		p = gomm_alloc_tiny(size, gfp);
		usable = size;
	} else {
		class = gomm_size_to_class(size);
		usable = gomm_class_to_size[class];
		local_irq_save(flags);
		mc = this_cpu_ptr(&gomm_mcache);
		p = gomm_alloc_sc(&mc, class, gfp, &flags);
		local_irq_restore(flags);
		if (p)
			gomm_alloc_hook(p, size, usable, gfp);
	}
	if (!p)
		return NULL;
	/* gomm's own write, below KASAN: the slack is a redzone by now */
	if (gfp & __GFP_ZERO)
		__memset(p, 0, usable);
	return p;
}

static __always_inline void *__gomm_alloc(size_t size, gfp_t flags)
{
	struct gomm_span *s;
	unsigned long irqs;
	unsigned int sc;
	u64 cache;
	void *p;

	/* fast path: Go's nextFreeFast on this CPU's span of the class */
	if (likely(size - GOMM_TINY_SIZE <= GOMM_MAX_SMALL_SIZE - GOMM_TINY_SIZE &&
		   !(flags & __GFP_ZERO))) {
		sc = gomm_fast_class[(size + 7) / 8];
		local_irq_save(irqs);
		s = this_cpu_read(gomm_mcache.alloc[sc]);
		cache = s->alloc_cache;
		if (unlikely(!cache))
			return gomm_alloc_refill(size, flags, irqs);
		p = gomm_span_take_one(s, cache);
		local_irq_restore(irqs);
		gomm_alloc_hook(p, size, s->elemsize, flags);
		return p;
	}
	if (size - 1 < GOMM_TINY_SIZE - 1 && !(flags & __GFP_ZERO) &&
	    gomm_tiny_enabled)
		return gomm_alloc_tiny(size, flags);
	return gomm_alloc_slow(size, flags);
}

/* gomm_alloc() with the gomm:gomm_alloc tracepoint on. */
static noinline void *gomm_alloc_traced(size_t size, gfp_t flags,
					unsigned long ip)
{
	void *p = __gomm_alloc(size, flags);
	size_t usable = 0;

	if (p && size > GOMM_MAX_SMALL_SIZE)
		usable = round_up(size, GOMM_PAGE_SIZE);
	else if (p && size < GOMM_TINY_SIZE && gomm_tiny_enabled)
		usable = size;
	else if (p)
		usable = gomm_class_to_size[gomm_size_to_class(size)];
	trace_gomm_alloc(ip, p, size, usable, flags);
	return p;
}

void *gomm_alloc(size_t size, gfp_t flags)
{
	might_alloc(flags);
	if (trace_gomm_alloc_enabled())
		return gomm_alloc_traced(size, flags, _RET_IP_);
	return __gomm_alloc(size, flags);
}
EXPORT_SYMBOL_GPL(gomm_alloc);

void *gomm_zalloc(size_t size, gfp_t flags)
{
	return gomm_alloc(size, flags | __GFP_ZERO);
}
EXPORT_SYMBOL_GPL(gomm_zalloc);

/*
 * The span of the live object at @ptr, or NULL after reporting why @ptr
 * is not one (@is_free picks the wording).  For a small or large object
 * *@idx is its index; for a tiny one *@idx is its block and *@toff its
 * offset in the block.
 */
static struct gomm_span *gomm_check(const void *ptr, unsigned int *idx,
				    unsigned int *toff, bool is_free)
{
	struct gomm_span *s = gomm_span_lookup(ptr);
	unsigned long off = (unsigned long)ptr - s->start;
	bool free_page = false;
	u64 m;

	switch (READ_ONCE(s->kind)) {
	case GOMM_KIND_TINY:
		if (off >= (unsigned long)s->nelems * GOMM_TINY_SIZE)
			break;
		*idx = off / GOMM_TINY_SIZE;
		*toff = off % GOMM_TINY_SIZE;
		if (atomic_long_read(&s->tiny[*idx]) & BIT(*toff))
			return s;
		gomm_report(is_free ? "double free (tiny)" :
			    "size query of a free tiny object", ptr,
			    &gomm_errors.double_free);
		return NULL;
	case GOMM_KIND_SMALL:
		m = (u64)off * s->divmagic;
		*idx = m >> 32;
		if (*idx >= s->nelems || !gomm_obj_exact(m, s->divmagic))
			break;
		if (test_bit(*idx, s->alloc_bits) && !test_bit(*idx, s->free_bits))
			return s;
		gomm_report(is_free ? "double free" : "size query of a free object",
			    ptr, &gomm_errors.double_free);
		return NULL;
	case GOMM_KIND_LARGE:
		*idx = 0;
		if (off)
			break;
		if (!test_bit(0, s->free_bits))
			return s;
		gomm_report(is_free ? "double free (large)" :
			    "size query of a free object", ptr,
			    &gomm_errors.double_free);
		return NULL;
	default:
		if (gomm_span_of(ptr, &free_page) || !free_page) {
			gomm_report(is_free ? "free of a pointer gomm never returned" :
				    "size query of a pointer gomm never returned",
				    ptr, &gomm_errors.bad_free);
		} else {
			gomm_report(is_free ? "double free (free page)" :
				    "size query of a free page", ptr,
				    &gomm_errors.double_free);
		}
		return NULL;
	}
	gomm_report(is_free ? "free of an interior pointer" :
		    "size query of an interior pointer", ptr, &gomm_errors.bad_free);
	return NULL;
}

/*
 * Free tiny object @ptr of tiny span @s: drop its bit, the block with the
 * last.  Ends the preempt-off section gomm_free() began (so that gomm_free()
 * can tail-call it).
 */
static noinline void gomm_free_tiny(const void *ptr, struct gomm_span *s)
{
	unsigned long off = (unsigned long)ptr - s->start;
	unsigned int b = off / GOMM_TINY_SIZE, bit = BIT(off % GOMM_TINY_SIZE);
	atomic_long_t *state = &s->tiny[b];
	long old;

	if (unlikely(!(atomic_long_read(state) & bit)))
		goto double_free;
	/*
	 * Before the bit goes: from then on the owner may hand the offset
	 * out again (an open block with no live sub-object starts over).
	 */
	kmemleak_free(ptr);
	old = atomic_long_fetch_andnot(bit, state);
	if (unlikely(!(old & bit)))
		goto double_free;	/* a second free of it raced with this one */
	if ((old & (GOMM_TINY_LIVE | GOMM_TINY_OPEN)) == bit)
		gomm_tiny_release(s, b);
	goto out;
double_free:
	gomm_report("double free (tiny)", ptr, &gomm_errors.double_free);
out:
	preempt_enable();
}

/* Everything but a handed-out small object: large, bad input, NULL. */
static void gomm_free_checked(const void *ptr)
{
	unsigned int idx, toff;
	struct gomm_span *s;

	if (!ptr)
		return;
	s = gomm_check(ptr, &idx, &toff, true);
	if (!s)
		return;
	if (s->kind == GOMM_KIND_SMALL) {
		gomm_free_hook(ptr, s->elemsize);
		gomm_free_obj(s, idx, ptr);
	} else if (s->kind == GOMM_KIND_LARGE) {
		if (unlikely(test_and_set_bit(0, s->free_bits))) {
			gomm_report("double free (large)", ptr, &gomm_errors.double_free);
			return;
		}
		gomm_free_hook(ptr, s->elemsize);
		gomm_heap_free_large(s);
	}
}

/* gomm_free_checked(), ending the preempt-off section gomm_free() began. */
static noinline void gomm_free_slow(const void *ptr)
{
	gomm_free_checked(ptr);
	preempt_enable();
}

static __always_inline void __gomm_free(const void *ptr)
{
	struct gomm_span *s;
	unsigned int idx;
	u64 m;

	/*
	 * An RCU read-side section from the lookup to the last read of the
	 * span (the span lifetime rule in gomm.h): once the free bit is
	 * published, a drain on another CPU may sweep the span and free it.
	 */
	preempt_disable();
	s = gomm_span_lookup(ptr);
	m = (u64)((unsigned long)ptr - s->start) * s->divmagic;

	/*
	 * fast path: a handed-out object of a small span, found by its exact
	 * start; divmagic is 0 in every other span, the empty one included.
	 * (The exact test comes first, on its own: then the compiler needs
	 * no copy of m or divmagic, two instructions fewer.)
	 */
	if (likely(gomm_obj_exact(m, s->divmagic))) {
		/*
		 * A valid index is below nelems; the mask only keeps the
		 * bitmap reads in bounds for a span that is torn down under a
		 * racing double free (its fields need not agree then).
		 */
		idx = (m >> 32) & (GOMM_MAX_OBJS_PER_SPAN - 1);
		if (likely(test_bit(idx, s->alloc_bits))) {
			/* before the free is published: it may be reused */
			gomm_free_hook(ptr, s->elemsize);
			gomm_free_obj(s, idx, ptr);
			preempt_enable();
			return;
		}
	}
	if (READ_ONCE(s->kind) == GOMM_KIND_TINY)
		gomm_free_tiny(ptr, s);		/* tail calls: each ends */
	else
		gomm_free_slow(ptr);		/* the section itself */
}

/* gomm_free() with the gomm:gomm_free tracepoint on. */
static noinline void gomm_free_traced(const void *ptr, unsigned long ip)
{
	trace_gomm_free(ip, ptr);
	__gomm_free(ptr);
}

void gomm_free(const void *ptr)
{
	if (trace_gomm_free_enabled())
		return gomm_free_traced(ptr, _RET_IP_);
	__gomm_free(ptr);
}
EXPORT_SYMBOL_GPL(gomm_free);

size_t gomm_size(const void *ptr)
{
	unsigned int idx, toff;
	struct gomm_span *s;
	unsigned long ends;
	size_t size = 0;

	if (!ptr)
		return 0;
	rcu_read_lock();	/* the span lifetime rule (gomm.h) */
	s = gomm_check(ptr, &idx, &toff, false);
	if (s && s->kind == GOMM_KIND_TINY) {
		/* the first sub-object end at or after the object's start */
		ends = atomic_long_read(&s->tiny[idx]) >> (32 + toff);
		size = ends ? __ffs(ends) + 1 : 0;
	} else if (s) {
		size = s->elemsize;
	}
	rcu_read_unlock();
	return size;
}
EXPORT_SYMBOL_GPL(gomm_size);

/* Give all of an mcache's spans and its tiny block back (Go's releaseAll). */
static void gomm_mcache_flush(struct gomm_mcache *mc)
{
	unsigned int sc;

	if (mc->tiny) {
		gomm_tiny_close(mc->tiny_span, mc->tiny);
		mc->tiny = 0;
		mc->tiny_offset = GOMM_TINY_SIZE;
		mc->tiny_span = NULL;
	}
	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++) {
		struct gomm_span *s = mc->alloc[sc];

		if (s != &gomm_empty_span) {
			mc->alloc[sc] = &gomm_empty_span;
			mc->nalloc[sc] -= gomm_span_unload_window(s);
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

/*
 * Serializes the reclaimers (drain, the scavenger, the shrinker), so that
 * when gomm_drain() or gomm_scavenge() returns no other reclaimer still
 * holds spans it took off the lists: the heap is in a settled state.
 * Nothing under it allocates memory.
 */
static DEFINE_MUTEX(gomm_reclaim_mutex);

/*
 * Does @cpu's mcache hold a span or an open tiny block?  A racy hint: no
 * IPI for a CPU that caches nothing.
 */
static bool gomm_cpu_caches(int cpu, void *unused)
{
	struct gomm_mcache *mc = per_cpu_ptr(&gomm_mcache, cpu);
	unsigned int sc;

	if (READ_ONCE(mc->tiny))
		return true;
	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++)
		if (READ_ONCE(mc->alloc[sc]) != &gomm_empty_span)
			return true;
	return false;
}

/*
 * Flush the CPUs that cache spans (an IPI each, waited for) and give
 * every empty span and the large-span cache back to the heap.
 */
static void __gomm_drain(void)
{
	on_each_cpu_cond(gomm_cpu_caches, gomm_flush_local, NULL, 1);
	gomm_mcentral_reclaim(0);
	gomm_heap_drain_large();
}

/**
 * gomm_drain - flush every CPU's mcache and return empty spans to the heap
 *
 * Context: process, may sleep (waits for every CPU and other reclaimers).
 */
void gomm_drain(void)
{
	mutex_lock(&gomm_reclaim_mutex);
	__gomm_drain();
	mutex_unlock(&gomm_reclaim_mutex);
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
	mutex_lock(&gomm_reclaim_mutex);
	gomm_mcentral_reclaim(READ_ONCE(gomm_keep_empty));
	gomm_heap_drain_large();
	gomm_heap_scavenge(gomm_retain_pages(), GOMM_SCAVENGE_BATCH);
	mutex_unlock(&gomm_reclaim_mutex);
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
	unsigned long n;

	mutex_lock(&gomm_reclaim_mutex);
	__gomm_drain();
	n = gomm_heap_scavenge(gomm_retain_pages(), ULONG_MAX);
	mutex_unlock(&gomm_reclaim_mutex);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_scavenge);

struct shrinker *gomm_shrinker;
EXPORT_SYMBOL_IF_KUNIT(gomm_shrinker);

/*
 * The shrinker's contract: count reports only what scan can give back
 * now - free pages held beyond the retain target, the large-span cache,
 * and the partial spans whose objects have all been freed (swept or
 * not) - and scan gives it back in the caller's context before it
 * returns: first free pages, and only if they do not cover the request,
 * a drain (the CPUs that cache spans are flushed by IPI, waited for;
 * empty spans and the large-span cache go back to the heap) and a second
 * release.  With nothing to give back count is SHRINK_EMPTY and scan is
 * not called; no work is queued.
 */
static unsigned long gomm_shrink_count(struct shrinker *sh,
				       struct shrink_control *sc)
{
	unsigned long free = READ_ONCE(gomm_heap.pages_owned) -
			     READ_ONCE(gomm_heap.pages_in_use);
	unsigned long retain = gomm_retain_pages(), n;

	free += READ_ONCE(gomm_heap.large_cached_pages) +
		gomm_mcentral_reclaimable();
	n = free > retain ? free - retain : 0;
	return n ? n * (GOMM_PAGE_SIZE / PAGE_SIZE) : SHRINK_EMPTY;
}

static unsigned long gomm_shrink_scan(struct shrinker *sh,
				      struct shrink_control *sc)
{
	unsigned long want = DIV_ROUND_UP(sc->nr_to_scan, GOMM_PAGE_SIZE / PAGE_SIZE);
	unsigned long n;

	/* nothing under the mutex allocates memory: no reclaim recursion */
	mutex_lock(&gomm_reclaim_mutex);
	n = gomm_heap_scavenge(gomm_retain_pages(), want);
	if (n < want) {
		__gomm_drain();
		n += gomm_heap_scavenge(gomm_retain_pages(), want - n);
	}
	mutex_unlock(&gomm_reclaim_mutex);
	return n ? n * (GOMM_PAGE_SIZE / PAGE_SIZE) : SHRINK_STOP;
}

static int __init gomm_init(void)
{
	unsigned int i, sc;
	int ret, cpu;

	for (i = GOMM_TINY_SIZE / 8; i < ARRAY_SIZE(gomm_fast_class); i++)
		gomm_fast_class[i] = gomm_size_to_class(i * 8);
	for_each_possible_cpu(cpu) {
		for (sc = 0; sc < GOMM_NUM_SPANCLASSES; sc++)
			per_cpu_ptr(&gomm_mcache, cpu)->alloc[sc] = &gomm_empty_span;
		per_cpu_ptr(&gomm_mcache, cpu)->tiny_offset = GOMM_TINY_SIZE;
	}
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
