// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's front end: the per-CPU mcache with Go's nextFreeFast fast path,
 * the tiny allocator, large objects, free, gomm_size(), and the reports of
 * bad input.
 *
 * The big picture (Go's runtime -> gomm; Documentation/gomm.rst has the
 * detail):
 *
 *   mallocgc, mcache   gomm_alloc(), struct gomm_mcache  malloc.c
 *   mspan, sweep       struct gomm_span, free protocol   span.h, span.c
 *   mcentral           struct gomm_mcentral              mcentral.c
 *   mheap              struct gomm_heap, the span map    heap.c
 *   pageAlloc          summaries, address-ordered fit   pagealloc.c
 *   sizeclasses.go     Go's 67 classes, generated        sizeclasses.h
 *   bgscavenge         scavenger, shrinker, drain        module.c
 *
 * The life of an allocation: gomm_alloc() picks the path for the size
 * (gomm_size_path(): tiny, a size class, or large).  For a size class it
 * takes the next object of the window of this CPU's span of that class (a
 * 64-bit cache of free objects: find-first-set and two stores), with
 * local interrupts off.  When the window is used up, gomm_alloc_refill()
 * first sweeps the frees that came back to the window's own word; failing
 * that, gomm_next_free() loads the span's next window, sweeps the whole
 * span, or swaps it for one from the class's mcentral
 * (gomm_mcentral_cache()) or a new one (gomm_mcentral_grow(): pages from
 * the heap, which grows with alloc_pages()).  Requests of 1..15 bytes but 8
 * share 16-byte blocks (Go's tiny allocator: gomm_tiny_size()); above
 * 32 KiB an object is a span of its own (gomm_heap_alloc_span() with span
 * class 0).
 *
 * The life of a free: gomm_free() finds the span in the page->span map
 * (gomm_span_lookup()), checks that the pointer is the start of an object
 * that is handed out, and sets the object's free bit on whichever CPU it
 * runs (gomm_span_free_obj()); the span's owner folds the bit into its
 * allocation bitmap when it next sweeps.  A span that was full goes back
 * to its mcentral's partial list; an empty one goes back to the heap when
 * a reclaimer (module.c) sweeps it, and the scavenger and the shrinker
 * give free pages back to the kernel.  Anything else - a pointer gomm
 * never returned, an interior pointer, a double free - is reported
 * (gomm_check(), gomm_report()) and changes nothing.
 *
 * The mcache of a CPU is used with local interrupts disabled: that keeps
 * its spans and counters consistent against interrupt handlers on the same
 * CPU that allocate too (GFP_ATOMIC from hardirq and softirq), and against
 * preemption and migration, for the price of a pushf/cli/sti - no lock
 * and no atomic read-modify-write.  See Documentation/gomm.rst for the
 * measurements behind that choice.
 */
#include <linux/kmemleak.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/gomm.h>
#include "compat.h"

#include "gomm.h"

#define CREATE_TRACE_POINTS
#include "gomm_trace.h"

/*
 * On while the gomm_alloc tracepoint has a probe, the call-site
 * accounting is on or init_on_alloc is (a count of those): gomm_alloc(),
 * gomm_zalloc() and the family's allocations then go to their
 * instrumented copies.  Its twin for frees is on for the gomm_free
 * tracepoint, the call-site accounting and init_on_free: with
 * init_on_alloc alone (a distribution kernel's default) frees keep their
 * fast path.  Each fast path pays one jump-label nop.
 */
DEFINE_STATIC_KEY_FALSE(gomm_alloc_instr_key);
DEFINE_STATIC_KEY_FALSE(gomm_free_instr_key);

/* The gomm_alloc tracepoint got its first probe (TRACE_EVENT_FN's reg). */
int gomm_trace_alloc_reg(void)
{
	static_branch_inc(&gomm_alloc_instr_key);
	return 0;
}

/* ... and lost its last one. */
void gomm_trace_alloc_unreg(void)
{
	static_branch_dec(&gomm_alloc_instr_key);
}

/* The same for the gomm_free tracepoint. */
int gomm_trace_free_reg(void)
{
	static_branch_inc(&gomm_free_instr_key);
	return 0;
}

void gomm_trace_free_unreg(void)
{
	static_branch_dec(&gomm_free_instr_key);
}

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

/* gomm_report()'s rate limit; KUnit reads it (the report rate limit test) */
VISIBLE_IF_KUNIT struct ratelimit_state gomm_report_rs =
	RATELIMIT_STATE_INIT(gomm_report_rs, 5 * HZ, 10);
EXPORT_SYMBOL_IF_KUNIT(gomm_report_rs);

/*
 * What gomm_report() says of each enum gomm_bad, for each enum gomm_op (a
 * free, a size query, a realloc), and the error counter it bumps.
 */
static const struct {
	const char *text[3];
	atomic_long_t *counter;
} gomm_bad_report[] = {
	[GOMM_BAD_DOUBLE_FREE] = { { "double free", "size query of a free object",
				     "realloc of a free object" },
				   &gomm_errors.double_free },
	[GOMM_BAD_DOUBLE_TINY] = { { "double free (tiny)",
				     "size query of a free tiny object",
				     "realloc of a free tiny object" },
				   &gomm_errors.double_free },
	[GOMM_BAD_DOUBLE_LARGE] = { { "double free (large)",
				      "size query of a free object",
				      "realloc of a free object" },
				    &gomm_errors.double_free },
	[GOMM_BAD_FREE_PAGE] = { { "double free (free page)",
				   "size query of a free page",
				   "realloc of a free page" },
				 &gomm_errors.double_free },
	[GOMM_BAD_UNKNOWN] = { { "free of a pointer gomm never returned",
				 "size query of a pointer gomm never returned",
				 "realloc of a pointer gomm never returned" },
			       &gomm_errors.bad_free },
	[GOMM_BAD_INTERIOR] = { { "free of an interior pointer",
				  "size query of an interior pointer",
				  "realloc of an interior pointer" },
				&gomm_errors.bad_free },
};

/**
 * gomm_report - report bad input, with a stack trace, and count it
 * @why: what is wrong (not GOMM_BAD_NONE)
 * @ptr: the pointer involved
 * @op: what it was given to: a free, gomm_size() or gomm_realloc()
 *
 * Every report is counted; the messages are rate-limited.
 *
 * Context: any.
 */
void gomm_report(enum gomm_bad why, const void *ptr, enum gomm_op op)
{
	atomic_long_inc(gomm_bad_report[why].counter);
	if (__ratelimit(&gomm_report_rs)) {
		pr_err("gomm: %s of %p\n", gomm_bad_report[why].text[op], ptr);
		dump_stack();
	}
}

/**
 * gomm_report_double_free - gomm_report() of a small object's double free
 * @ptr: the object
 *
 * Out of line, for the free path's inline code (span.h).
 *
 * Context: any.
 */
noinline void gomm_report_double_free(const void *ptr)
{
	gomm_report(GOMM_BAD_DOUBLE_FREE, ptr, GOMM_OP_FREE);
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
 * init_on_free: zero a live object before its free is published (gomm's
 * own write, below KASAN: the slack past the requested size is a
 * redzone).  Every free takes gomm_free_traced() or a slow path then.
 */
static __always_inline void gomm_free_wipe(const void *p, size_t usable)
{
	if (unlikely(gomm_init_free))
		__memset((void *)p, 0, usable);
}

/*
 * Span class of each request size 1..32768 for the fast path, indexed by
 * (size + 7) / 8; built at load from Go's two tables (gomm_size_to_class())
 * so that the fast path needs one load and no branch.  (1..15 come here
 * when gomm_tiny_size() says no: 8, or every one with gomm.tiny=0.)
 */
u8 gomm_fast_class[GOMM_MAX_SMALL_SIZE / 8 + 1] __ro_after_init;

/* The paths an allocation takes; gomm_size_path() picks one. */
enum gomm_path {
	GOMM_PATH_NONE,		/* 0 bytes: NULL */
	GOMM_PATH_TINY,		/* gomm_tiny_size(): a tiny block */
	GOMM_PATH_CLASS,	/* up to 32 KiB: an object of a size class */
	GOMM_PATH_LARGE,	/* above: a span of its own (NULL above 4 MiB) */
};

/*
 * The one place that decides the path of a request of @size bytes: the
 * fast path, the slow path and the traced path all ask it.
 */
static __always_inline enum gomm_path gomm_size_path(size_t size)
{
	if (likely(size - GOMM_TINY_SIZE <= GOMM_MAX_SMALL_SIZE - GOMM_TINY_SIZE))
		return GOMM_PATH_CLASS;
	if (size - 1 < GOMM_TINY_SIZE - 1)
		return gomm_tiny_size(size) ? GOMM_PATH_TINY : GOMM_PATH_CLASS;
	return size ? GOMM_PATH_LARGE : GOMM_PATH_NONE;
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
	struct gomm_span *s = mc->alloc[sc], *spent = NULL, *old;
	unsigned int w, n;

	if (s != &gomm_empty_span) {
		w = s->freeindex / 64;
		n = gomm_span_sweep_word(s, w);
		if (n) {
			mc->sweeps++;
			mc->nswept += n;
			if (gomm_span_window(s, w))
				goto take;
		}
		/* a span of one word: gomm_span_sweep_word() just swept it all */
		if (s->nelems > BITS_PER_LONG) {
			s->freeindex += 64;
			if (gomm_span_load_window(s))
				goto take;
			if (gomm_span_sweep(s)) {
				mc->sweeps++;
				if (gomm_span_load_window(s))
					goto take;
			}
		}
		mc->alloc[sc] = &gomm_empty_span;
		spent = s;
	}
	/* @spent goes back to its mcentral there */
	s = gomm_mcentral_cache(sc, spent);
	if (!s) {
		local_irq_restore(*flags);
		s = gomm_mcentral_grow(sc, gfp);
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
	/* counted where the object is taken: the grow may have moved CPUs */
	mc->slow++;
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
static noinline void *gomm_alloc_refill_slow(size_t size, gfp_t gfp,
					     unsigned long flags)
{
	unsigned int sc = gomm_class_of(size);
	struct gomm_mcache *mc = this_cpu_ptr(&gomm_mcache);
	void *p = gomm_next_free(&mc, sc, gfp, &flags);

	local_irq_restore(flags);
	if (p)
		gomm_alloc_hook(p, size, gomm_class_to_size[sc], gfp);
	return p;
}

/*
 * The fast path's miss on span @s, this CPU's of the class (the fast
 * path passes it on in its register): called with IRQs off (@flags),
 * returns with them restored.  Its common case, frees back in the
 * window's own word, is gomm_span_rewindow() (span.h); everything else
 * gomm_next_free().
 */
static noinline void *gomm_alloc_refill(size_t size, gfp_t gfp,
					unsigned long flags,
					struct gomm_span *s)
{
	u64 freed;
	void *p;

	if (!gomm_span_rewindow(s, &freed, true))
		return gomm_alloc_refill_slow(size, gfp, flags);
	this_cpu_inc(gomm_mcache.rewins);
	/* objects loaded and frees swept alike (gomm_stats_cpu()) */
	this_cpu_add(gomm_mcache.nrewin, hweight64(freed));
	p = gomm_span_obj(s, freed);
	local_irq_restore(flags);
	gomm_alloc_hook(p, size, s->elemsize, gfp);
	return p;
}

/*
 * The tiny allocator (Go's mallocgc tiny path).  A 16-byte block from a
 * tiny span is carved into sub-objects; s->tiny[block] holds a bit per
 * live sub-object offset, GOMM_TINY_OPEN while it is this CPU's open
 * block, and a bit at the last byte of each sub-object handed out, so
 * gomm_size() can tell its extent (one atomic OR hands a sub-object out).
 * The block is freed when the last bit goes.
 */
/* Block @b of tiny span @s has no live sub-object and is closed: free it. */
static __always_inline void gomm_tiny_release(struct gomm_span *s, unsigned int b)
{
	unsigned long block = s->start + b * GOMM_TINY_SIZE;

	gomm_kasan_poison(block, GOMM_TINY_SIZE, GOMM_KASAN_FREE);
	gomm_span_free_obj(s, b, (void *)block);
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

/*
 * A large object, of @node's memory (NUMA_NO_NODE: the local heap's),
 * zeroed for __GFP_ZERO unless its pages are zero already (init_on_alloc
 * zeroed them in the buddy allocator and no span had them since: Go's
 * needzero).
 */
static void *gomm_alloc_large(size_t size, gfp_t gfp, int node)
{
	struct gomm_span *s;

	if (unlikely(size > GOMM_MAX_LARGE_SIZE)) {
		atomic_long_inc(&gomm_errors.too_large);
		if (!(gfp & __GFP_NOWARN))
			pr_warn_ratelimited("gomm: %zu-byte request is above the 4 MiB limit\n",
					    size);
		return NULL;
	}
	s = gomm_heap_alloc_span(DIV_ROUND_UP(size, GOMM_PAGE_SIZE), 0, gfp, node);
	if (!s)
		return NULL;
	this_cpu_inc(gomm_mcache.nalloc[0]);
	/* gomm's own write, below KASAN (the caller unpoisons the object) */
	if ((gfp & __GFP_ZERO) && s->needzero)
		__memset((void *)s->start, 0, s->npages * GOMM_PAGE_SIZE);
	else if (gfp & __GFP_ZERO)
		atomic_long_inc(&gomm_heaps[s->node]->large_prezeroed);
	return (void *)s->start;
}

/*
 * __GFP_ACCOUNT: the kernel exports nothing a module can charge a memcg
 * with (obj_cgroup_charge(), __memcg_kmem_charge_page() and
 * current_obj_cgroup() are not exported, on 6.12 and 7.x alike), and
 * gomm's chunks are shared by every cgroup.  The allocation is served
 * uncharged, counted in errors/unaccounted, and the first one is warned
 * about (gomm_alloc()'s kernel-doc).
 */
noinline void gomm_account_unsupported(void)
{
	atomic_long_inc(&gomm_errors.unaccounted);
	pr_warn_once("gomm: __GFP_ACCOUNT is not supported (no memcg charging is exported to modules): gomm objects are not charged\n");
}

/*
 * Does a failed allocation of @size bytes retry?  __GFP_NOFAIL, as the
 * page allocator honours it: only with direct reclaim (without, it fails
 * after gomm_alloc_slow()'s warning), and never above the 4 MiB limit.
 */
static bool gomm_nofail_retry(size_t size, gfp_t gfp)
{
	return (gfp & __GFP_NOFAIL) && (gfp & __GFP_DIRECT_RECLAIM) &&
	       size && size <= GOMM_MAX_LARGE_SIZE;
}

/* One attempt of gomm_alloc_slow(): the object, zeroed for __GFP_ZERO. */
static void *gomm_alloc_path(size_t size, gfp_t gfp)
{
	struct gomm_mcache *mc;
	unsigned long flags;
	unsigned int class;
	size_t usable;
	void *p;

	switch (gomm_size_path(size)) {
	case GOMM_PATH_TINY:
		p = gomm_alloc_tiny(size, gfp);
		usable = size;
		break;
	case GOMM_PATH_CLASS:
		class = gomm_size_to_class(size);
		usable = gomm_class_to_size[class];
		local_irq_save(flags);
		mc = this_cpu_ptr(&gomm_mcache);
		p = gomm_alloc_sc(&mc, class, gfp, &flags);
		local_irq_restore(flags);
		if (p)
			gomm_alloc_hook(p, size, usable, gfp);
		break;
	case GOMM_PATH_LARGE:
		/* zeroed there, if its pages are not zero already */
		p = gomm_alloc_large(size, gfp, NUMA_NO_NODE);
		if (p)
			gomm_alloc_hook(p, size, round_up(size, GOMM_PAGE_SIZE), gfp);
		return p;
	default:
		return NULL;
	}
	/* gomm's own write, below KASAN: the slack is a redzone by now */
	if (p && (gfp & __GFP_ZERO))
		__memset(p, 0, usable);
	return p;
}

/*
 * Everything the fast paths do not serve: 0, large, the GOMM_GFP_SLOW
 * flags (__GFP_NOFAIL, __GFP_ACCOUNT, and __GFP_ZERO but from gomm_zalloc()
 * and init_on_alloc, whose fast paths zero) and a zeroing fast path's
 * used-up window.
 */
static noinline void *gomm_alloc_slow(size_t size, gfp_t gfp)
{
	void *p;

	if (unlikely(gfp & __GFP_ACCOUNT))
		gomm_account_unsupported();
	/* the page allocator's warning: __GFP_NOFAIL needs reclaim */
	if (unlikely(gfp & __GFP_NOFAIL))
		WARN_ON_ONCE(!(gfp & __GFP_DIRECT_RECLAIM));
	for (;;) {
		p = gomm_alloc_path(size, gfp);
		if (likely(p) || !gomm_nofail_retry(size, gfp))
			break;
		/* as the page allocator's slow path retries __GFP_NOFAIL */
		memalloc_retry_wait(gfp);
	}
	return p;
}

/*
 * gomm_alloc()'s paths.  @zero (a constant): the caller set __GFP_ZERO
 * (gomm_zalloc(), init_on_alloc), which then takes the fast paths too and
 * zeroes the object there, as SLUB's fast path does; without @zero it
 * goes to gomm_alloc_slow().  A window that is used up takes the slow
 * path with @zero, which zeroes what it returns.
 */
static __always_inline void *__gomm_alloc_flags(size_t size, gfp_t flags,
						bool zero)
{
	gfp_t slow = zero ? GOMM_GFP_SLOW & ~__GFP_ZERO : GOMM_GFP_SLOW;
	enum gomm_path path = gomm_size_path(size);
	struct gomm_span *s;
	unsigned long irqs;
	unsigned int sc;
	u64 cache;
	void *p;

	/* fast path: Go's nextFreeFast on this CPU's span of the class */
	if (likely(path == GOMM_PATH_CLASS && !(flags & slow))) {
		sc = gomm_class_of(size);
		local_irq_save(irqs);
		s = this_cpu_read(gomm_mcache.alloc[sc]);
		cache = s->alloc_cache;
		if (unlikely(!cache)) {
			if (!zero)
				return gomm_alloc_refill(size, flags, irqs, s);
			local_irq_restore(irqs);
			return gomm_alloc_slow(size, flags);
		}
		p = gomm_span_take_one(s, cache);
		local_irq_restore(irqs);
		gomm_alloc_hook(p, size, s->elemsize, flags);
		/* gomm's own write, below KASAN: the slack is a redzone */
		if (zero)
			return __memset(p, 0, s->elemsize);
		return p;
	}
	if (!(flags & slow) && path == GOMM_PATH_TINY) {
		p = gomm_alloc_tiny(size, flags);
		if (zero && p)
			__memset(p, 0, size);
		return p;
	}
	return gomm_alloc_slow(size, flags);
}

static __always_inline void *__gomm_alloc(size_t size, gfp_t flags)
{
	return __gomm_alloc_flags(size, flags, false);
}

/* gomm_alloc() with __GFP_ZERO: on the fast paths too */
static __always_inline void *__gomm_alloc_zero(size_t size, gfp_t flags)
{
	return __gomm_alloc_flags(size, flags | __GFP_ZERO, true);
}

/*
 * Does gomm_alloc_traced() record the allocation (a probe on the
 * gomm:gomm_alloc tracepoint, the call-site accounting)?  Not when
 * init_on_alloc alone turned gomm_alloc_instr_key on.
 */
static __always_inline bool gomm_alloc_recorded(void)
{
	return gomm_callsites_on() || trace_gomm_alloc_enabled();
}

/*
 * gomm_alloc() with the gomm:gomm_alloc tracepoint, the call-site
 * accounting (callsite.c) or init_on_alloc on; @ip is the caller's return
 * address.
 */
static noinline void *gomm_alloc_traced(size_t size, gfp_t flags,
					unsigned long ip)
{
	size_t usable;
	void *p;

	/* init_on_alloc: every allocation comes here (module.c) */
	if (gomm_init_alloc || (flags & __GFP_ZERO))
		p = __gomm_alloc_zero(size, flags);
	else
		p = __gomm_alloc(size, flags);
	/*
	 * Nothing records: the key went on for a probe or the call-site
	 * accounting that is not on yet (init_on_alloc alone goes to
	 * gomm_alloc_zeroed() before here)
	 */
	if (!gomm_alloc_recorded())
		return p;
	/* the usable size as gomm_size() gives it, tiny objects' too */
	usable = p ? gomm_size(p) : 0;
	if (gomm_callsites_on())
		gomm_callsite_alloc(p, usable, ip);
	trace_gomm_alloc(ip, p, size, usable, flags);
	return p;
}

/*
 * gomm_alloc() with init_on_alloc, or gomm_zalloc(), while the key is on
 * but nothing records allocations: the zeroing copy of the fast path,
 * without gomm_alloc_traced()'s frame (it ends in a tail call of
 * __memset()).
 */
static noinline void *gomm_alloc_zeroed(size_t size, gfp_t flags)
{
	return __gomm_alloc_zero(size, flags);
}

/*
 * gomm_alloc() and gomm_zalloc() each take _RET_IP_ inside the branch:
 * passed down from the top, it was loaded on the fast path too.
 */
void *gomm_alloc(size_t size, gfp_t flags)
{
	might_alloc(flags);
	if (gomm_alloc_instrumented()) {
		if (gomm_init_alloc && !gomm_alloc_recorded())
			return gomm_alloc_zeroed(size, flags);
		return gomm_alloc_traced(size, flags, _RET_IP_);
	}
	return __gomm_alloc(size, flags);
}
EXPORT_SYMBOL_GPL(gomm_alloc);

/* its own copy, so that the call site is its caller's, not gomm_alloc()'s */
void *gomm_zalloc(size_t size, gfp_t flags)
{
	flags |= __GFP_ZERO;
	might_alloc(flags);
	if (gomm_alloc_instrumented()) {
		if (!gomm_alloc_recorded())
			return gomm_alloc_zeroed(size, flags);
		return gomm_alloc_traced(size, flags, _RET_IP_);
	}
	return __gomm_alloc_zero(size, flags);
}
EXPORT_SYMBOL_GPL(gomm_zalloc);

/**
 * gomm_check_ptr - what is wrong with @ptr, if anything
 * @ptr: any pointer
 * @sp: set to the span the map gives for @ptr
 * @idx: for a small or large object its index; for a tiny one its block
 * @toff: for a tiny object its offset in the block
 *
 * Reads only: no lock, no report (gomm_check() reports).
 *
 * Context: any, NMI included; an RCU read-side section (the span
 * lifetime rule) from here to the caller's last read of *@sp.
 * Return: GOMM_BAD_NONE if @ptr is a live object of span *@sp.
 */
enum gomm_bad gomm_check_ptr(const void *ptr, struct gomm_span **sp,
			     unsigned int *idx, unsigned int *toff)
{
	struct gomm_span *s = gomm_span_lookup(ptr);
	unsigned long off = (unsigned long)ptr - s->start;
	bool free_page = false;
	u64 m;

	*sp = s;
	switch (READ_ONCE(s->kind)) {
	case GOMM_KIND_TINY:
		if (off >= (unsigned long)s->nelems * GOMM_TINY_SIZE)
			return GOMM_BAD_INTERIOR;
		*idx = off / GOMM_TINY_SIZE;
		*toff = off % GOMM_TINY_SIZE;
		if (atomic_long_read(&s->tiny[*idx]) & BIT(*toff))
			return GOMM_BAD_NONE;
		return GOMM_BAD_DOUBLE_TINY;
	case GOMM_KIND_SMALL:
		m = (u64)off * s->divmagic;
		*idx = m >> 32;
		if (*idx >= s->nelems || !gomm_obj_exact(m, s->divmagic))
			return GOMM_BAD_INTERIOR;
		if (test_bit(*idx, s->alloc_bits) && !test_bit(*idx, s->free_bits))
			return GOMM_BAD_NONE;
		return GOMM_BAD_DOUBLE_FREE;
	case GOMM_KIND_LARGE:
		*idx = 0;
		if (off)
			return GOMM_BAD_INTERIOR;
		if (!test_bit(0, s->free_bits))
			return GOMM_BAD_NONE;
		return GOMM_BAD_DOUBLE_LARGE;
	default:
		if (gomm_span_of(ptr, &free_page) || !free_page)
			return GOMM_BAD_UNKNOWN;
		return GOMM_BAD_FREE_PAGE;
	}
}

/*
 * The span of the live object at @ptr, or NULL after reporting why @ptr
 * is not one (to @op); *@idx and *@toff as gomm_check_ptr() sets them.
 */
static struct gomm_span *gomm_check(const void *ptr, unsigned int *idx,
				    unsigned int *toff, enum gomm_op op)
{
	struct gomm_span *s;
	enum gomm_bad why = gomm_check_ptr(ptr, &s, idx, toff);

	if (likely(why == GOMM_BAD_NONE))
		return s;
	gomm_report(why, ptr, op);
	return NULL;
}

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * gomm_test_live - is @ptr a live object, as gomm's own state says?
 * @ptr: any pointer
 *
 * For tests that must tell whether gomm freed an object (an RCU-deferred
 * free, a bulk free) without reading the object: gomm_check_ptr() without
 * a report.  A free not swept yet counts as freed.
 *
 * Context: any.
 */
bool gomm_test_live(const void *ptr)
{
	unsigned int idx, toff;
	struct gomm_span *s;
	bool live;

	rcu_read_lock();	/* the span lifetime rule (span.h) */
	live = gomm_check_ptr(ptr, &s, &idx, &toff) == GOMM_BAD_NONE;
	rcu_read_unlock();
	return live;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_test_live);
#endif

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
	this_cpu_inc(gomm_mcache.ntiny_free);
	if ((old & (GOMM_TINY_LIVE | GOMM_TINY_OPEN)) == bit)
		gomm_tiny_release(s, b);
	goto out;
double_free:
	gomm_report(GOMM_BAD_DOUBLE_TINY, ptr, GOMM_OP_FREE);
out:
	preempt_enable();
}

/**
 * gomm_free_large_claimed - free a large object whose free bit is set
 * @ptr: the object
 * @s: its span, whose free bit 0 the caller set (test_and_set_bit():
 *	the caller is its one freer)
 *
 * The rest of a large object's free: wipe, KASAN and kmemleak, the pages
 * back to the heap.  gomm_free() calls it at once; gomm_free_nolock()
 * from its irq_work (nolock.c), since the heap takes locks.
 *
 * Context: any but NMI; the caller is in an RCU read-side section from
 * its lookup of @s.
 */
void gomm_free_large_claimed(const void *ptr, struct gomm_span *s)
{
	gomm_free_wipe(ptr, s->elemsize);
	gomm_free_hook(ptr, s->elemsize);
	gomm_heap_free_span(s);
	this_cpu_inc(gomm_mcache.nlarge_free);
}

/* Large object @ptr, the start of LARGE span @s: claimed by its one freer. */
static void gomm_free_large(const void *ptr, struct gomm_span *s)
{
	if (unlikely(test_and_set_bit(0, s->free_bits))) {
		gomm_report(GOMM_BAD_DOUBLE_LARGE, ptr, GOMM_OP_FREE);
		return;
	}
	gomm_free_large_claimed(ptr, s);
}

/* Everything but a handed-out small object: large, bad input, NULL. */
static void gomm_free_checked(const void *ptr)
{
	unsigned int idx, toff;
	struct gomm_span *s;

	if (!ptr)
		return;
	s = gomm_check(ptr, &idx, &toff, GOMM_OP_FREE);
	if (!s)
		return;
	if (s->kind == GOMM_KIND_SMALL) {
		gomm_free_wipe(ptr, s->elemsize);
		gomm_free_hook(ptr, s->elemsize);
		gomm_span_free_obj(s, idx, ptr);
	} else if (s->kind == GOMM_KIND_LARGE) {
		gomm_free_large(ptr, s);
	}
}

/* gomm_free_checked(), ending the preempt-off section gomm_free() began. */
static noinline void gomm_free_slow(const void *ptr)
{
	gomm_free_checked(ptr);
	preempt_enable();
}

/*
 * gomm_free_large() for gomm_free(), which found @s by @ptr's page and
 * saw it LARGE: no second lookup and classification (gomm_check_ptr()
 * makes the same two tests).  Ends the preempt-off section.
 */
static noinline void gomm_free_large_fast(const void *ptr,
					  struct gomm_span *s)
{
	gomm_free_large(ptr, s);
	preempt_enable();
}

static __always_inline void __gomm_free(const void *ptr, bool wipe)
{
	struct gomm_span *s;
	unsigned int idx;

	/*
	 * An RCU read-side section from the lookup to the last read of the
	 * span (the span lifetime rule in span.h): once the free bit is
	 * published, a drain on another CPU may sweep the span and free it.
	 */
	preempt_disable();
	if (likely(gomm_small_live(ptr, &s, &idx))) {
		/* before the free is published: it may be reused */
		if (wipe)
			gomm_free_wipe(ptr, s->elemsize);
		gomm_free_hook(ptr, s->elemsize);
		gomm_span_free_obj(s, idx, ptr);
		preempt_enable();
		return;
	}
	/* tail calls: each ends the section itself */
	switch (READ_ONCE(s->kind)) {
	case GOMM_KIND_TINY:
		gomm_free_tiny(ptr, s);
		break;
	case GOMM_KIND_LARGE:
		if ((unsigned long)ptr == s->start) {
			gomm_free_large_fast(ptr, s);
			break;
		}
		fallthrough;
	default:
		gomm_free_slow(ptr);
	}
}

/*
 * gomm_free() with the gomm:gomm_free tracepoint, the call-site
 * accounting or init_on_free on.  The object leaves its call site before
 * it is freed: once freed, its address may be handed out and recorded
 * again.
 */
static noinline void gomm_free_traced(const void *ptr, unsigned long ip)
{
	trace_gomm_free(ip, ptr);
	if (gomm_callsites_on())
		gomm_callsite_free(ptr);
	__gomm_free(ptr, true);
}

void gomm_free(const void *ptr)
{
	if (gomm_free_instrumented())
		return gomm_free_traced(ptr, _RET_IP_);
	__gomm_free(ptr, false);
}
EXPORT_SYMBOL_GPL(gomm_free);

/**
 * gomm_usable - usable size of the live object at @ptr
 * @ptr: a pointer, not %NULL
 * @op: what @ptr was given to, for the report if it is bad
 * @tiny: set to true for a tiny sub-object
 *
 * Context: any.
 * Return: gomm_size() of @ptr, or 0 after reporting bad input to @op.
 */
size_t gomm_usable(const void *ptr, enum gomm_op op, bool *tiny)
{
	unsigned int idx, toff;
	struct gomm_span *s;
	unsigned long ends;
	size_t size = 0;

	rcu_read_lock();	/* the span lifetime rule (span.h) */
	s = gomm_check(ptr, &idx, &toff, op);
	*tiny = s && s->kind == GOMM_KIND_TINY;
	if (*tiny) {
		/* the first sub-object end at or after the object's start */
		ends = atomic_long_read(&s->tiny[idx]) >> (32 + toff);
		size = ends ? __ffs(ends) + 1 : 0;
	} else if (s) {
		size = s->elemsize;
	}
	rcu_read_unlock();
	return size;
}

size_t gomm_size(const void *ptr)
{
	bool tiny;

	return ptr ? gomm_usable_fast(ptr, GOMM_OP_SIZE, &tiny) : 0;
}
EXPORT_SYMBOL_GPL(gomm_size);

/* gomm_alloc() for a caller of the family, whose caller is @ip. */
static __always_inline void *gomm_alloc_ip(size_t size, gfp_t flags,
					   unsigned long ip)
{
	if (gomm_alloc_instrumented()) {
		if (gomm_init_alloc && !gomm_alloc_recorded())
			return gomm_alloc_zeroed(size, flags);
		return gomm_alloc_traced(size, flags, ip);
	}
	return __gomm_alloc(size, flags);
}

/* gomm_free() for a caller of the family, whose caller is @ip. */
static __always_inline void gomm_free_ip(const void *ptr, unsigned long ip)
{
	if (gomm_free_instrumented())
		gomm_free_traced(ptr, ip);
	else
		__gomm_free(ptr, false);
}

/*
 * One object of @size bytes of node @node's memory (gomm_alloc_node(), a
 * node other than the CPU's, or __GFP_THISNODE), zeroed for __GFP_ZERO, or
 * NULL; *@usablep is set to its usable size.  Size classes from the node's
 * mcentral, 1..15 bytes from their size class too (tiny blocks are the
 * CPU's own), large objects from the node's heap; growth with
 * __GFP_THISNODE.  Without __GFP_THISNODE from the caller the node is a
 * preference: growth only takes memory the node has free now
 * (gomm_grow_gfp_high()'s flags, no reclaim), so that the caller falls back
 * to the local path rather than reclaim on a node that is full, as the page
 * allocator would.
 */
static void *gomm_alloc_node_path(size_t size, gfp_t gfp, struct gomm_heap *h,
				  size_t *usablep)
{
	unsigned int class;
	gfp_t grow = gfp;
	void *p;

	if (!(gfp & __GFP_THISNODE)) {
		grow |= __GFP_NOWARN | __GFP_NORETRY;
		if (grow & __GFP_DIRECT_RECLAIM)
			grow = (grow | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
	}
	switch (gomm_size_path(size)) {
	case GOMM_PATH_TINY:
	case GOMM_PATH_CLASS:
		class = gomm_size_to_class(size);
		*usablep = gomm_class_to_size[class];
		p = gomm_mcentral_alloc_node(class, grow, h);
		if (!p)
			return NULL;
		gomm_alloc_hook(p, size, *usablep, gfp);
		/* gomm's own write, below KASAN: the slack is a redzone */
		if (gfp & __GFP_ZERO)
			__memset(p, 0, *usablep);
		return p;
	case GOMM_PATH_LARGE:
		*usablep = round_up(size, GOMM_PAGE_SIZE);
		/* zeroed there, if its pages are not zero already */
		p = gomm_alloc_large(size, grow, h->node);
		if (p)
			gomm_alloc_hook(p, size, *usablep, gfp);
		return p;
	default:
		return NULL;
	}
}

/*
 * gomm_alloc_node() for anything but the local path: node @node's memory,
 * and if that fails and the caller did not say __GFP_THISNODE, the local
 * path (as kmalloc_node() falls back to other nodes).  The flags are
 * honoured as gomm_alloc_slow() honours them; the tracepoint and the
 * call-site accounting see the object as gomm_alloc_traced() shows it.
 */
static noinline void *gomm_alloc_node_slow(size_t size, gfp_t flags, int node,
					   unsigned long ip)
{
	struct gomm_heap *h = gomm_node_heap(node);
	size_t usable = 0;
	void *p = NULL;

	/* (int): nr_node_ids is unsigned, and NUMA_NO_NODE is -1 */
	if (unlikely(node < NUMA_NO_NODE || node >= (int)nr_node_ids)) {
		WARN_ONCE(1, "gomm: gomm_alloc_node() of node %d\n", node);
		return NULL;
	}
	/* 0 and above 4 MiB: NULL, reported (and traced) as gomm_alloc() does */
	if (unlikely(!size || size > GOMM_MAX_LARGE_SIZE))
		return gomm_alloc_ip(size, flags, ip);
	if (node == NUMA_NO_NODE)
		h = gomm_local_heap();	/* __GFP_THISNODE: the local node only */
	/* init_on_alloc: as gomm_alloc_traced() */
	if (gomm_init_alloc)
		flags |= __GFP_ZERO;
	/* the local path (the fallback) has its own */
	if (unlikely(flags & __GFP_NOFAIL) && (flags & __GFP_THISNODE))
		WARN_ON_ONCE(!(flags & __GFP_DIRECT_RECLAIM));
	while (h) {
		p = gomm_alloc_node_path(size, flags, h, &usable);
		if (likely(p) || !(flags & __GFP_THISNODE) ||
		    !gomm_nofail_retry(size, flags))
			break;
		memalloc_retry_wait(flags);
	}
	if (!p) {
		/*
		 * A node with no memory (or none free): the local path, not
		 * with __GFP_THISNODE - but for __GFP_NOFAIL on a node gomm
		 * has no heap of, which no retry can serve.
		 */
		if ((flags & __GFP_THISNODE) && (h || !(flags & __GFP_NOFAIL)))
			return NULL;
		return gomm_alloc_ip(size, flags & ~__GFP_THISNODE, ip);
	}
	/* counted here: the local path counts its own */
	if (unlikely(flags & __GFP_ACCOUNT))
		gomm_account_unsupported();
	if (gomm_alloc_instrumented()) {
		if (gomm_callsites_on())
			gomm_callsite_alloc(p, usable, ip);
		trace_gomm_alloc(ip, p, size, usable, flags);
	}
	return p;
}

/* gomm_alloc_node_other()'s used-up window; IRQs off (@irqs) */
static noinline void *gomm_alloc_thisnode_refill(size_t size, gfp_t flags,
						 int node, unsigned long ip,
						 unsigned long irqs, bool zero,
						 int local, struct gomm_span *s)
{
	void *p = gomm_alloc_refill(size, flags, irqs, s);

	if (p && page_to_nid(virt_to_page(p)) != local) {
		/* never the caller's: no trace, no wipe */
		__gomm_free(p, false);
		p = NULL;
	}
	if (!p)
		return gomm_alloc_node_slow(size, flags, node, ip);
	/* gomm's own write, below KASAN: the slack is a redzone */
	if (zero)
		__memset(p, 0, gomm_class_to_size[gomm_class_of(size)]);
	return p;
}

/*
 * __GFP_THISNODE, or another node than the CPU's (@node).  For the CPU's
 * own node: the next object of the CPU's window if its span is of that
 * node (after a growth fell back to another node it may not be); a
 * used-up window is refilled as gomm_alloc() refills it (the local node's
 * spans first), and an object of another node is given back.  Size
 * classes only, none of the GOMM_GFP_SLOW flags but __GFP_ZERO, nothing
 * recorded (init_on_alloc zeroes, as on gomm_alloc()'s fast path);
 * everything else gomm_alloc_node_slow().  Each way out is a tail call,
 * so the window's path saves no registers.
 */
static noinline void *gomm_alloc_node_other(size_t size, gfp_t flags, int node,
					    unsigned long ip)
{
	bool zero = flags & __GFP_ZERO;
	int local = numa_mem_id();
	struct gomm_span *s;
	unsigned long irqs;
	unsigned int sc;
	u64 cache;
	void *p;

	if ((node != NUMA_NO_NODE && node != local) ||
	    gomm_size_path(size) != GOMM_PATH_CLASS ||
	    (flags & GOMM_GFP_SLOW & ~__GFP_ZERO))
		goto slow;
	sc = gomm_class_of(size);
	/* init_on_alloc alone: zeroed here, as gomm_alloc_traced() does */
	if (gomm_alloc_instrumented()) {
		if (gomm_alloc_recorded())
			goto slow;
		zero |= gomm_init_alloc;
	}
	local_irq_save(irqs);
	s = this_cpu_read(gomm_mcache.alloc[sc]);
	cache = s->alloc_cache;
	if (!cache)
		return gomm_alloc_thisnode_refill(size, flags, node, ip, irqs,
						  zero, local, s);
	if (s->node != local) {
		local_irq_restore(irqs);
		goto slow;
	}
	p = gomm_span_take_one(s, cache);
	local_irq_restore(irqs);
	gomm_alloc_hook(p, size, s->elemsize, flags);
	/* gomm's own write, below KASAN: the slack is a redzone */
	if (zero)
		return __memset(p, 0, gomm_class_to_size[sc]);
	return p;
slow:
	return gomm_alloc_node_slow(size, flags, node, ip);
}

void *gomm_alloc_node(size_t size, gfp_t flags, int node)
{
	might_alloc(flags);
	/* the local path, as gomm_alloc(): the CPU's mcache serves its node */
	if (likely(!(flags & __GFP_THISNODE) &&
		   (node == NUMA_NO_NODE || node == numa_mem_id())))
		return gomm_alloc_ip(size, flags, _RET_IP_);
	return gomm_alloc_node_other(size, flags, node, _RET_IP_);
}
EXPORT_SYMBOL_GPL(gomm_alloc_node);

void *gomm_realloc(const void *p, size_t new_size, gfp_t flags)
{
	size_t ks;
	bool tiny;
	void *q;

	might_alloc(flags);
	if (unlikely(!new_size)) {
		gomm_free_ip(p, _RET_IP_);
		return NULL;
	}
	if (!p)
		return gomm_alloc_ip(new_size, flags, _RET_IP_);
	ks = gomm_usable_fast(p, GOMM_OP_REALLOC, &tiny);
	if (unlikely(!ks))
		return NULL;		/* bad input, reported; nothing touched */
	if (ks >= new_size) {
		/*
		 * In place, as krealloc(): with __GFP_ZERO the spare beyond
		 * @new_size is zeroed (gomm's own write, below KASAN: part of
		 * it is a redzone), so a later growth in place finds zeroes.
		 */
		if ((flags & __GFP_ZERO) || gomm_init_alloc)
			__memset((void *)p + new_size, 0, ks - new_size);
		/* a tiny object's granule may be shared: its shadow stays */
		if (!tiny)
			gomm_kasan_unpoison((unsigned long)p, new_size, ks);
		/* kmemleak scans the object up to its new size */
		kmemleak_free(p);
		kmemleak_alloc(p, new_size, 1, flags);
		return (void *)p;
	}
	q = gomm_alloc_ip(new_size, flags, _RET_IP_);
	if (!q)
		return NULL;		/* @p is left as it was */
	/* the whole old object, below KASAN (its slack is a redzone) */
	__memcpy(q, p, ks);
	gomm_free_ip(p, _RET_IP_);
	return q;
}
EXPORT_SYMBOL_GPL(gomm_realloc);

/*
 * gomm_alloc_bulk() of a size class: @n objects of @size bytes into
 * @ptrs, whole windows at a time.  Per window, with local interrupts off
 * (as the fast path): the window's objects are written out a run of free
 * objects at a time (a stride loop, no bit scan per object) and its bits
 * set in alloc_bits at once; a used-up window is refilled as the fast
 * path's miss does (gomm_span_rewindow(), else gomm_alloc_sc()).  The
 * objects are counted where the windows are loaded, as for gomm_alloc().
 * Interrupts are enabled between windows, so a long request keeps no CPU
 * from its interrupts for more than a window.  Returns the objects taken
 * (fewer than @n only if memory could not be had).
 */
static size_t gomm_alloc_bulk_sc(size_t size, gfp_t gfp, size_t n, void **ptrs)
{
	unsigned int sc = gomm_class_of(size);
	size_t i = 0, j, len, usable = gomm_class_to_size[sc];
	struct gomm_mcache *mc;
	struct gomm_span *s;
	unsigned long irqs;
	void **pp, **end;
	u64 cache, rest, run;
	unsigned int b;
	u32 es;
	void *p;

	while (i < n) {
		local_irq_save(irqs);
		mc = this_cpu_ptr(&gomm_mcache);
		s = mc->alloc[sc];
		cache = s->alloc_cache;
		if (unlikely(!cache)) {
			if (gomm_span_rewindow(s, &cache, false)) {
				mc->rewins++;
				mc->nrewin += hweight64(cache);
			} else {
				/* may enable interrupts while the heap grows */
				p = gomm_alloc_sc(&mc, sc, gfp, &irqs);
				local_irq_restore(irqs);
				if (!p)
					break;
				ptrs[i++] = p;
				continue;
			}
		}
		es = s->elemsize;
		rest = cache;
		do {
			/* a run of free objects: bits b..b+len-1 */
			b = __ffs64(rest);
			run = ~(rest >> b);
			len = min_t(size_t, run ? __ffs64(run) : 64, n - i);
			rest = b + len < 64 ? rest & (~0ULL << (b + len)) : 0;
			p = (void *)(s->window + b * es);
			for (end = ptrs + i + len, pp = ptrs + i; pp != end; pp++) {
				*pp = p;
				p += es;
			}
			i += len;
		} while (rest && i < n);
		s->alloc_cache = rest;
		*s->alloc_word |= cache ^ rest;
		local_irq_restore(irqs);
	}
	/* nothing on a kernel without KASAN and kmemleak */
	for (j = 0; j < i; j++)
		gomm_alloc_hook(ptrs[j], size, usable, gfp);
	if (gfp & __GFP_ZERO)
		for (j = 0; j < i; j++)
			__memset(ptrs[j], 0, usable);
	return i;
}

int gomm_alloc_bulk(size_t size, gfp_t flags, size_t n, void **ptrs)
{
	size_t i;

	might_alloc(flags);
	if (likely(gomm_size_path(size) == GOMM_PATH_CLASS &&
		   !(flags & (GOMM_GFP_SLOW & ~__GFP_ZERO)) &&
		   (!gomm_alloc_instrumented() || !gomm_alloc_recorded()))) {
		/* init_on_alloc: as gomm_alloc_traced() */
		if (gomm_init_alloc)
			flags |= __GFP_ZERO;
		i = gomm_alloc_bulk_sc(size, flags, n, ptrs);
	} else {
		/* tiny, large, __GFP_NOFAIL, __GFP_ACCOUNT, traced: one by one */
		for (i = 0; i < n; i++) {
			ptrs[i] = gomm_alloc_ip(size, flags, _RET_IP_);
			if (!ptrs[i])
				break;
		}
	}
	if (likely(i == n))
		return n;
	/* as kmem_cache_alloc_bulk(): all or nothing */
	gomm_free_bulk(i, ptrs);
	return 0;
}
EXPORT_SYMBOL_GPL(gomm_alloc_bulk);

/* One object of a bulk free that is not batched: __gomm_free(). */
static noinline void gomm_free_one(const void *ptr)
{
	__gomm_free(ptr, true);
}

/*
 * Publish the frees gomm_free_bulk_untraced() gathered for small span @s:
 * @bits, object indices (cleared here).  Per bitmap word, what
 * __gomm_free() does per object: objects not handed out go to the
 * one-by-one path, which reports them (as it classifies them); the hooks
 * run before the frees are published (the objects may be reused at once);
 * one fully ordered cmpxchg publishes the word's frees, and a bit already
 * set there is a double free; then the FULL hand-off.
 */
static void gomm_free_bulk_flush(struct gomm_span *s, unsigned long *bits)
{
	unsigned long mask, bad, old, b;
	const void *published = NULL;
	unsigned int w;

	for (w = 0; w < BITS_TO_LONGS(s->nelems); w++) {
		mask = bits[w];
		if (!mask)
			continue;
		bits[w] = 0;
		bad = mask & ~READ_ONCE(s->alloc_bits[w]);
		mask &= ~bad;
		if (IS_ENABLED(CONFIG_KASAN_GENERIC) ||
		    IS_ENABLED(CONFIG_DEBUG_KMEMLEAK))
			for_each_set_bit(b, &mask, BITS_PER_LONG)
				gomm_free_hook((void *)(s->start + (w * BITS_PER_LONG + b) *
							s->elemsize), s->elemsize);
		old = READ_ONCE(s->free_bits[w]);
		while (!try_cmpxchg(&s->free_bits[w], &old, old | mask))
			;
		/* frees already published: double frees */
		old &= mask;
		for_each_set_bit(b, &old, BITS_PER_LONG)
			gomm_report_double_free((void *)(s->start +
				(w * BITS_PER_LONG + b) * s->elemsize));
		for_each_set_bit(b, &bad, BITS_PER_LONG)
			gomm_free_one((void *)(s->start + (w * BITS_PER_LONG + b) *
					       s->elemsize));
		/* the first object published: once per span, as gomm_free() per object */
		if ((mask & ~old) && !published) {
			published = (void *)(s->start + (w * BITS_PER_LONG +
							 __ffs(mask & ~old)) *
					     s->elemsize);
			gomm_hook_free_published(published);
		}
	}
	/* try_cmpxchg() is fully ordered: see gomm_span_publish_full() */
	if (published && unlikely(data_race(s->state) == GOMM_SPAN_FULL))
		gomm_mcentral_freed(published, s);
}

/*
 * gomm_free_bulk_untraced()'s state: the span the last pointer was in,
 * what its loop reads of it (span_bytes is 0 when that is not a small
 * span: divmagic is 0 in every other kind) and the frees gathered there.
 * The caller keeps it in locals: only @bits and @s are given to calls.
 */
struct gomm_bulk_free {
	struct gomm_span *s;
	unsigned long start, span_bytes;
	u64 divmagic;
	u32 exact;		/* divmagic, for gomm_obj_exact() */
	unsigned long *bits;
};

/* A pointer in another span than the last: flush that one, look @p's up. */
static noinline struct gomm_span *gomm_free_bulk_next(struct gomm_span *s,
						      unsigned long *bits,
						      const void *p)
{
	if (s->divmagic)
		gomm_free_bulk_flush(s, bits);
	return gomm_span_lookup(p);
}

/*
 * One pointer of a bulk free: its bit in the gathered bitmap, or the
 * one-by-one path if it is not an object start or was given before; a
 * pointer in another span first moves @bf there.  *@pp is read again
 * off the common path: the loop keeps neither it nor the offset past
 * the multiply.
 */
static __always_inline void gomm_free_bulk_one(struct gomm_bulk_free *bf,
					       void **pp)
{
	unsigned long off = (unsigned long)*pp - bf->start;
	u64 m;

	if (unlikely(off >= bf->span_bytes)) {
		void *p = READ_ONCE(*pp);
		struct gomm_span *s = gomm_free_bulk_next(bf->s, bf->bits, p);

		bf->s = s;
		bf->divmagic = s->divmagic;
		bf->exact = s->divmagic;
		bf->span_bytes = s->divmagic ?
			(unsigned long)s->npages * GOMM_PAGE_SIZE : 0;
		bf->start = s->start;
		if (!bf->span_bytes) {
			gomm_free_one(p);
			return;
		}
		off = (unsigned long)p - bf->start;
	}
	m = off * bf->divmagic;
	/*
	 * An exact start below the span's end is an index below nelems: a
	 * span's tail is shorter than its objects.
	 */
	if (unlikely(!gomm_obj_exact(m, bf->exact) ||
		     __test_and_set_bit(m >> 32, bf->bits)))
		gomm_free_one(READ_ONCE(*pp));
}

/*
 * gomm_free_bulk() without its tracepoints and call-site accounting.  The
 * objects of small spans are gathered per span, in a bitmap of
 * object indices, and published per bitmap word (gomm_free_bulk_flush())
 * when the next pointer is in another span; everything else - large and
 * tiny objects, %NULL, bad input, a pointer given twice - goes through
 * __gomm_free() one by one.  Per object that leaves the span range test,
 * Go's division magic and its exactness test, and one bit set; the loop
 * takes two pointers a turn (one end test for both).
 */
static void gomm_free_bulk_untraced(size_t n, void **ptrs)
{
	unsigned long bits[GOMM_SPAN_WORDS] = {};
	struct gomm_bulk_free bf = { .s = &gomm_empty_span, .bits = bits };
	void **pp = ptrs, **end = ptrs + n;

	/* the span lifetime rule (span.h), from each lookup to its flush */
	preempt_disable();
	if (n >= 2) {
		for (; pp < end - 1; pp += 2) {
			gomm_free_bulk_one(&bf, pp);
			gomm_free_bulk_one(&bf, pp + 1);
		}
	}
	if (pp != end)
		gomm_free_bulk_one(&bf, pp);
	if (bf.span_bytes)
		gomm_free_bulk_flush(bf.s, bits);
	preempt_enable();
}

void gomm_free_bulk(size_t n, void **ptrs)
{
	size_t i;

	if (gomm_free_instrumented()) {
		for (i = 0; i < n; i++)
			gomm_free_traced(ptrs[i], _RET_IP_);
		return;
	}
	gomm_free_bulk_untraced(n, ptrs);
}
EXPORT_SYMBOL_GPL(gomm_free_bulk);

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

/**
 * gomm_flush_local - flush this CPU's caches (the drain's IPI)
 * @unused: on_each_cpu_cond()'s argument
 *
 * The mcache, the nolock cache (nolock.c) and the page cache.
 *
 * Context: any but NMI.
 */
void gomm_flush_local(void *unused)
{
	unsigned long flags;

	local_irq_save(flags);
	gomm_mcache_flush(this_cpu_ptr(&gomm_mcache));
	gomm_nolock_flush(smp_processor_id());
	gomm_heap_flush_pcache(smp_processor_id());
	local_irq_restore(flags);
}

/**
 * gomm_flush_cpu - flush the caches of a CPU that is not running
 * @cpu: a dead CPU (hotplug) or any CPU when nothing else uses gomm
 *
 * As gomm_flush_local(), and the CPU's deferred nolock frees are
 * finished here (its irq_work cannot run any more).
 */
void gomm_flush_cpu(int cpu)
{
	gomm_mcache_flush(per_cpu_ptr(&gomm_mcache, cpu));
	gomm_nolock_flush_cpu(cpu);
	gomm_heap_flush_pcache(cpu);
}

/**
 * gomm_cpu_caches - does @cpu hold a span, an open tiny block or cached pages?
 * @cpu: the CPU
 * @unused: on_each_cpu_cond()'s argument
 *
 * A racy hint, for the drain: no IPI for a CPU that caches nothing.
 */
bool gomm_cpu_caches(int cpu, void *unused)
{
	struct gomm_mcache *mc = per_cpu_ptr(&gomm_mcache, cpu);
	unsigned int sc;

	if (READ_ONCE(mc->tiny) || gomm_heap_pcache_holds(cpu) ||
	    gomm_nolock_holds(cpu))
		return true;
	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++)
		if (READ_ONCE(mc->alloc[sc]) != &gomm_empty_span)
			return true;
	return false;
}

/**
 * gomm_malloc_init - the fast path's class table and the empty mcaches
 *
 * Context: module init, before anything allocates.
 */
void __init gomm_malloc_init(void)
{
	unsigned int i, sc;
	int cpu;

	for (i = 1; i < ARRAY_SIZE(gomm_fast_class); i++)
		gomm_fast_class[i] = gomm_size_to_class(i * 8);
	for_each_possible_cpu(cpu) {
		for (sc = 0; sc < GOMM_NUM_SPANCLASSES; sc++)
			per_cpu_ptr(&gomm_mcache, cpu)->alloc[sc] = &gomm_empty_span;
		per_cpu_ptr(&gomm_mcache, cpu)->tiny_offset = GOMM_TINY_SIZE;
	}
}
