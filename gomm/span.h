/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gomm's span (Go's mspan): a run of pages holding objects of one size
 * class, a tiny span's 16-byte blocks, or one large object.  This file has
 * the span's states, its allocation window and sweep, and the protocol by
 * which any CPU frees an object into a span another CPU or an mcentral
 * owns; span.c has the span's setup and teardown.
 *
 * The free protocol:
 *
 * - A span's allocation state (alloc_bits, freeindex, alloc_cache, window,
 *   alloc_word, alloc_count) belongs to its owner: the mcache that caches
 *   it (GOMM_SPAN_CACHED) or whoever holds its class's mcentral lock
 *   (GOMM_SPAN_PARTIAL / GOMM_SPAN_FULL).  Only the owner writes it.
 *   gomm_free() reads alloc_bits without a lock: the bit of a live object
 *   was set before the object was handed out and stays set until the
 *   owner sweeps that object's free.
 *
 * - A span's free_bits are written by gomm_free() on any CPU with atomic
 *   test_and_set_bit() (gomm_span_free_obj()), and only for objects whose
 *   alloc bit it saw set; only the owner clears them, with xchg(), when it
 *   sweeps them into alloc_bits (gomm_span_sweep_word()).  A second free
 *   of an object finds its free bit set (not yet swept) or its alloc bit
 *   clear (swept): both are reported, neither touches the span.
 *
 * - The FULL hand-off: span->state changes under the mcentral lock (and,
 *   for LARGE and DEAD, under the heap lock).  gomm_span_free_obj() reads
 *   it without a lock after its fully ordered test_and_set_bit();
 *   gomm_span_publish_full() writes FULL, issues smp_mb() and then looks
 *   at free_bits.  One of the two always sees the other, so a span that
 *   gets a free while going FULL lands on the partial list: either the
 *   owner sees the free bit, or the freeing CPU sees FULL and moves the
 *   span itself (gomm_mcentral_freed()).
 *
 * - span->kind, and everything a lockless reader uses (start, elemsize,
 *   divmagic, nelems, the tiny array), is set before the span is entered
 *   in the page->span map; kind is cleared (heap lock) before the span is
 *   removed from it.
 *
 * - Lifetime: a struct gomm_span (and its tiny array) is freed only through
 *   call_rcu() (gomm_span_retire()), after gomm_heap_free_span() has taken
 *   it out of the page->span map and marked it DEAD.  Every lockless reader
 *   of a span it looked up in the map runs in an RCU read-side section:
 *   gomm_free() with preemption disabled from the lookup to its last read
 *   of the span (after it publishes its free bit, a drain or the shrinker
 *   on another CPU may sweep the span empty and free it), gomm_usable_fast()
 *   the same way for a live small object, gomm_usable() under
 *   rcu_read_lock().  So a span a reader found stays a struct
 *   gomm_span, with its old contents or DEAD, until the reader is done;
 *   its pages may already be back in the heap, so such a reader touches
 *   only the struct, never the pages.  The mcaches and the mcentral lists
 *   hold no DEAD span.  One exception: a freed large span's struct waits
 *   in its CPU's stash (heap.c), and a large span placed on exactly the
 *   same pages takes it back instead of a new one (gomm_span_revive()).
 *   A stale reader then sees it DEAD or LARGE for the same object, as if
 *   it came after the new allocation: a double free that races the free
 *   and the next allocation of the same address frees the new object, as
 *   it would a moment later with any allocator.  Stashed structs are
 *   retired when pushed out of the stash and when it is flushed.
 *
 * The states: a small or tiny span is made CACHED for the mcache that
 * grew it, goes to its mcentral as PARTIAL or FULL when the mcache is done
 * with it, back to CACHED when an mcache takes it again, and DEAD when an
 * empty one goes back to the heap.  A large span is LARGE from its
 * allocation to its free, then DEAD.
 */
#ifndef _GOMM_SPAN_H
#define _GOMM_SPAN_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/jump_label.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

#include "sizeclasses.h"

#define GOMM_SPAN_WORDS		(GOMM_MAX_OBJS_PER_SPAN / BITS_PER_LONG)
/*
 * Tiny block state (one atomic_long_t per block): bits 0..15 = live
 * sub-object offsets, bit 16 = the block is a CPU's open block, bits
 * 32..47 = the last byte of each sub-object handed out (for gomm_size()).
 */
#define GOMM_TINY_LIVE		GENMASK(15, 0)
#define GOMM_TINY_OPEN		BIT(16)
#define GOMM_TINY_END(byte)	BIT(32 + (byte))
/*
 * Span classes: 1..67 are the size classes; tiny blocks (class 2 objects
 * carved into sub-objects) live in spans of their own, span class 68, so
 * that a 16-byte object and a tiny block never share a span (Go separates
 * span kinds the same way with its noscan bit).  Span class 0 is unused
 * for small objects.
 */
#define GOMM_TINY_SPANCLASS	GOMM_NUM_CLASSES
#define GOMM_NUM_SPANCLASSES	(GOMM_NUM_CLASSES + 1)

/* The size class whose geometry span class @sc uses. */
static inline unsigned int gomm_sizeclass_of(unsigned int sc)
{
	return sc == GOMM_TINY_SPANCLASS ? GOMM_TINY_CLASS : sc;
}

enum gomm_span_state {
	GOMM_SPAN_DEAD,		/* not in use */
	GOMM_SPAN_CACHED,	/* owned by an mcache */
	GOMM_SPAN_PARTIAL,	/* on its mcentral's partial list */
	GOMM_SPAN_FULL,		/* on its mcentral's full list */
	GOMM_SPAN_LARGE,	/* one large object, owned by its user */
};

/* What gomm_free() finds in the page->span map (span->kind). */
enum gomm_span_kind {
	GOMM_KIND_NONE,		/* no span: a free page, or a dead span */
	GOMM_KIND_SMALL,	/* objects of one size class */
	GOMM_KIND_TINY,		/* 16-byte blocks carved into tiny objects */
	GOMM_KIND_LARGE,	/* one large object */
};

/**
 * struct gomm_span - Go's mspan: a run of pages holding one size class
 * @kind: enum gomm_span_kind; set before the span is mapped, cleared (heap
 *	lock) before it is unmapped; read locklessly by gomm_free()
 * @state: enum gomm_span_state (see the protocol above)
 * @sizeclass: size class, 0 for a large object; immutable
 * @spanclass: index of its mcentral (@sizeclass, or GOMM_TINY_SPANCLASS)
 * @nelems: objects in the span; immutable
 * @start: address of the first byte (direct map); immutable
 * @elemsize: object size; immutable
 * @divmagic: Go's division magic for @elemsize in a span of small
 *	objects, 0 in a tiny or large one and in gomm_empty_span (so
 *	gomm_free()'s exactness test fails for them and its fast path needs
 *	no test of @kind; a dead small span keeps it, with no alloc bit
 *	set); immutable
 * @alloc_cache: owner: Go's allocCache, the free objects of the 64-object
 *	window that starts at @freeindex (bit i = object @freeindex + i); the
 *	fast path clears the bit of each object it hands out.  0 unless cached.
 * @window: owner: address of object @freeindex
 * @alloc_word: owner: &@alloc_bits[@freeindex / 64] (for the empty span
 *	too: gomm_span_rewindow() reads the free word beside it)
 * @freeindex: owner: start of the current window, a multiple of 64; every
 *	object below it is allocated (Go's freeindex, at window granularity)
 * @alloc_count: owner: objects allocated, or free but in the window;
 *	frees not yet swept included
 * @npages: gomm pages in the span; immutable
 * @page: first gomm page number (physical address >> 13); immutable
 * @list: mcentral list link
 * @all: link in the mcentral's list of all its spans (mcentral lock)
 * @tiny: tiny spans: per-block state (GOMM_TINY_LIVE, _OPEN and _END bits)
 * @rcu: frees the struct after a grace period (the lifetime rule)
 * @alloc_bits: owner: 1 = handed out (set by the fast path as it hands an
 *	object out, cleared by the sweep); read locklessly by gomm_free()
 * @free_bits: set by gomm_free() (atomic), cleared by the owner's sweep
 * @node: the NUMA node of its pages, whose mcentral and heap it goes back
 *	to; set before it is mapped; immutable (after the bitmaps, which
 *	gomm_free() reads at small offsets)
 * @needzero: Go's needzero: its pages may not be zero.  Clear only for a
 *	span whose pages all came zeroed from the buddy allocator and were
 *	in no span since (heap.c); gomm_alloc_large() reads it.
 *
 * The fields gomm_alloc() and gomm_free() use come first, in one line.
 */
struct gomm_span {
	u8 kind;
	u8 state;
	u8 sizeclass;
	u8 spanclass;
	u32 nelems;
	unsigned long start;
	u32 elemsize;
	u32 divmagic;
	u64 alloc_cache;
	unsigned long window;
	unsigned long *alloc_word;
	u16 freeindex;
	u16 alloc_count;
	u32 npages;
	unsigned long page;
	struct list_head list;
	struct list_head all;
	atomic_long_t *tiny;
	struct rcu_head rcu;
	unsigned long alloc_bits[GOMM_SPAN_WORDS];
	unsigned long free_bits[GOMM_SPAN_WORDS];
	int node;
	bool needzero;
};

/*
 * What is wrong with a pointer gomm was given (gomm_check() in malloc.c
 * finds it; gomm_report() reports it, from one table of texts and
 * counters).
 */
enum gomm_bad {
	GOMM_BAD_NONE,		/* nothing: a live object */
	GOMM_BAD_DOUBLE_FREE,	/* a free small object */
	GOMM_BAD_DOUBLE_TINY,	/* a free tiny sub-object */
	GOMM_BAD_DOUBLE_LARGE,	/* a free large object */
	GOMM_BAD_FREE_PAGE,	/* a gomm page in no span */
	GOMM_BAD_UNKNOWN,	/* not gomm's memory */
	GOMM_BAD_INTERIOR,	/* inside an object, not at its start */
};

/* What was asked of the pointer gomm_report() reports. */
enum gomm_op {
	GOMM_OP_FREE,		/* gomm_free(), and the frees of the family */
	GOMM_OP_SIZE,		/* gomm_size() */
	GOMM_OP_REALLOC,	/* gomm_realloc() */
};

void gomm_report(enum gomm_bad why, const void *ptr, enum gomm_op op);
void gomm_report_double_free(const void *ptr);
void gomm_mcentral_freed(const void *ptr, struct gomm_span *s);

/*
 * Test hooks, compiled only into kernels with KUnit (the debug kernel):
 * behind a static key that is off unless a test turns it on, so even
 * there they cost a nop.  A kernel without KUnit has none of them.
 *
 * @free_published: called by gomm_free() right after it published an
 *	object's free bit, before it reads the span again (the window in
 *	which a drain may sweep and free the span: see the lifetime rule)
 * @span_free_now: free span structs at once instead of after a grace
 *	period (the lifetime rule switched off, for the negative control of
 *	the test of it)
 * @grow_fail: called by gomm_heap_grow() before each alloc_pages() with
 *	the order and the GFP flags it is about to use; true makes that
 *	attempt fail as if alloc_pages() had (memory too fragmented for the
 *	order), so a test sees every attempt and can force the fallback
 * @nolock_busy: called by gomm_alloc_nolock() inside its busy section
 *	(this CPU's nolock cache marked busy, local interrupts off), so a
 *	test can send itself an NMI that finds the cache busy (nolock.c)
 * @rcu_freeing: called by gomm_rcu_cb() after it took a batch whose grace
 *	period has passed, before it frees the batch's objects (rcu.c), so
 *	a test can hold a callback there and see what gomm_rcu_barrier()
 *	does meanwhile
 * @cpu_dead: called by gomm_cpu_dead() (CPU hotplug, process context,
 *	the CPU offline) before it flushes the CPU's caches, so a test can
 *	hold the teardown there and drain meanwhile
 */
struct gomm_test_hooks {
	void (*free_published)(const void *ptr);
	bool span_free_now;
	bool (*grow_fail)(unsigned int order, gfp_t gfp);
	void (*nolock_busy)(void);
	void (*rcu_freeing)(void);
	void (*cpu_dead)(unsigned int cpu);
};

#if IS_ENABLED(CONFIG_KUNIT)
DECLARE_STATIC_KEY_FALSE(gomm_test_key);
extern struct gomm_test_hooks gomm_test_hooks;

static __always_inline void gomm_hook_free_published(const void *ptr)
{
	if (static_branch_unlikely(&gomm_test_key) &&
	    gomm_test_hooks.free_published)
		gomm_test_hooks.free_published(ptr);
}

static __always_inline bool gomm_hook_span_free_now(void)
{
	return static_branch_unlikely(&gomm_test_key) &&
	       gomm_test_hooks.span_free_now;
}

static __always_inline bool gomm_hook_grow_fail(unsigned int order, gfp_t gfp)
{
	return static_branch_unlikely(&gomm_test_key) &&
	       gomm_test_hooks.grow_fail && gomm_test_hooks.grow_fail(order, gfp);
}

static __always_inline void gomm_hook_nolock_busy(void)
{
	if (static_branch_unlikely(&gomm_test_key) && gomm_test_hooks.nolock_busy)
		gomm_test_hooks.nolock_busy();
}

static __always_inline void gomm_hook_rcu_freeing(void)
{
	if (static_branch_unlikely(&gomm_test_key) && gomm_test_hooks.rcu_freeing)
		gomm_test_hooks.rcu_freeing();
}

static __always_inline void gomm_hook_cpu_dead(unsigned int cpu)
{
	if (static_branch_unlikely(&gomm_test_key) && gomm_test_hooks.cpu_dead)
		gomm_test_hooks.cpu_dead(cpu);
}
#else
static __always_inline void gomm_hook_free_published(const void *ptr)
{
}

static __always_inline bool gomm_hook_span_free_now(void)
{
	return false;
}

static __always_inline bool gomm_hook_grow_fail(unsigned int order, gfp_t gfp)
{
	return false;
}

static __always_inline void gomm_hook_nolock_busy(void)
{
}

static __always_inline void gomm_hook_rcu_freeing(void)
{
}

static __always_inline void gomm_hook_cpu_dead(unsigned int cpu)
{
}
#endif

/* span.c: setup and teardown */
int gomm_span_cache_init(void);
void gomm_span_cache_exit(void);
struct gomm_span *gomm_span_create(unsigned long npages,
				   unsigned int spanclass, gfp_t gfp, int node);
void gomm_span_revive(struct gomm_span *s);
void gomm_span_place(struct gomm_span *s, unsigned long page, int node);
void gomm_span_destroy(struct gomm_span *s);
void gomm_span_retire(struct gomm_span *s);
void gomm_span_retire_flush(int cpu);
void gomm_span_kmemleak_forget(struct gomm_span *s);
/* span.c: the owner's side of the window and the sweep */
unsigned int gomm_span_sweep(struct gomm_span *s);
unsigned int __gomm_span_sweep(struct gomm_span *s);
bool gomm_span_load_window(struct gomm_span *s);
unsigned int gomm_span_unload_window(struct gomm_span *s);
long gomm_span_live(const struct gomm_span *s);

/**
 * gomm_obj_exact - is a span offset the start of an object?
 * @m: (u64)offset * divmagic, as gomm_free() computes it
 * @divmagic: the span's division magic
 *
 * With divmagic = ceil(2^32 / size), offset k * size gives k * 2^32 plus
 * k * (divmagic * size - 2^32), which stays below divmagic for every
 * object of every class; any other offset leaves at least divmagic in the
 * low 32 bits.  KUnit checks it for every offset of every class.
 */
static __always_inline bool gomm_obj_exact(u64 m, u32 divmagic)
{
	return (u32)m < divmagic;
}

/**
 * gomm_span_has_frees - does the span have frees its owner has not swept?
 * @s: the span
 */
static inline bool gomm_span_has_frees(const struct gomm_span *s)
{
	unsigned int i;

	for (i = 0; i < BITS_TO_LONGS(s->nelems); i++)
		if (READ_ONCE(s->free_bits[i]))
			return true;
	return false;
}

/**
 * gomm_span_sweep_word - fold the recorded frees of one bitmap word
 * @s: the span; the caller owns its allocation state
 * @w: the word
 *
 * Takes the word's free bits (xchg, so frees racing with the sweep are
 * kept for the next one), clears those objects in alloc_bits, and takes
 * them off alloc_count.  A free bit for an object that is not handed out
 * is a double free that raced with an earlier sweep past gomm_free()'s
 * checks: it is reported and ignored.
 *
 * Context: owner of @s.
 * Return: objects freed.
 */
static __always_inline unsigned int
gomm_span_sweep_word(struct gomm_span *s, unsigned int w)
{
	unsigned long freed, alloc, bogus;
	unsigned int n;

	if (!READ_ONCE(s->free_bits[w]))
		return 0;
	freed = xchg(&s->free_bits[w], 0);
	alloc = s->alloc_bits[w];
	bogus = freed & ~alloc;
	if (unlikely(bogus))
		gomm_report_double_free((void *)(s->start +
						 (w * BITS_PER_LONG + __ffs(bogus)) *
						 s->elemsize));
	WRITE_ONCE(s->alloc_bits[w], alloc & ~freed);
	n = hweight_long(freed & alloc);
	s->alloc_count -= n;
	return n;
}

/**
 * gomm_span_window - make bitmap word @w the span's window, if it has room
 * @s: a span the caller owns, with no window loaded
 * @w: the word
 *
 * The window's free objects (alloc bit clear and no free pending) are
 * counted into alloc_count at once: the fast path hands them out without
 * touching it, and gomm_span_unload_window() takes back the rest.
 *
 * Context: owner of @s.
 * Return: true if the word had free objects and is now the window.
 */
static __always_inline bool gomm_span_window(struct gomm_span *s,
					     unsigned int w)
{
	u64 free = ~(u64)(s->alloc_bits[w] | READ_ONCE(s->free_bits[w]));

	if (w == (s->nelems - 1) / 64 && s->nelems % 64)
		free &= BIT_ULL(s->nelems % 64) - 1;
	if (!free)
		return false;
	s->freeindex = w * 64;
	s->window = s->start + w * 64 * s->elemsize;
	s->alloc_word = &s->alloc_bits[w];
	s->alloc_count += hweight64(free);
	s->alloc_cache = free;
	return true;
}

/* &free_bits[freeindex / 64], one load: the word beside alloc_word */
static __always_inline unsigned long *gomm_span_free_word(struct gomm_span *s)
{
	return (void *)s->alloc_word + offsetof(struct gomm_span, free_bits) -
	       offsetof(struct gomm_span, alloc_bits);
}

/**
 * gomm_span_rewindow - refill a used-up window from its own word's frees
 * @s: a span the caller owns, whose window is used up (alloc_cache 0)
 * @window: set to the new window on success
 * @take: hand out the window's first object at once: the caller gets it
 *	from gomm_span_obj(@s, *@window) (gomm_span_take_one() folded in,
 *	each word written once)
 *
 * The allocation fast path's refill, for its common case: frees came back
 * to the used-up window's own word (a span of one to a few objects
 * cycling, or a working set that fits a window).  A one-word sweep then
 * reloads the same window: every object of the word was handed out, so
 * the objects the sweep frees are exactly the window's free objects, and
 * alloc_count (less the freed, plus the window's) does not change.  It is
 * gomm_span_sweep_word() and gomm_span_window() folded into one for that
 * case (the fast path's instruction count); a bogus free bit (a double
 * free that raced with a sweep) is put back for the general path, which
 * reports it.
 *
 * Context: owner of @s.
 * Return: true if the window was refilled, false if the general path
 * must refill.
 */
static __always_inline bool gomm_span_rewindow(struct gomm_span *s, u64 *window,
					       bool take)
{
	unsigned long *aw = s->alloc_word, *fw = gomm_span_free_word(s);
	unsigned long freed, alloc, rest, i;

	if (!READ_ONCE(*fw))
		return false;
	freed = xchg(fw, 0);
	alloc = *aw;
	/* each freed bit must be set in alloc: else a bogus free came in */
	if (unlikely((alloc ^ freed) & freed)) {
		/* the address again: one register less on the common path */
		for_each_set_bit(i, &freed, BITS_PER_LONG)
			set_bit(i, gomm_span_free_word(s));
		return false;
	}
	rest = take ? freed & (freed - 1) : freed;
	/* the freed bits off but the one taken (freed ^ rest) */
	WRITE_ONCE(*aw, alloc ^ rest);
	s->alloc_cache = rest;
	*window = freed;
	return true;
}

/*
 * The object of @s's window of the lowest bit of @cache (not 0).
 * Computed here, where the two loads fold into the multiply and the add:
 * left to itself the compiler loads window and elemsize into registers
 * before the caller's local_irq_restore() and does the arithmetic after
 * it (two instructions more on gomm_alloc()).
 */
static __always_inline void *gomm_span_obj(struct gomm_span *s, u64 cache)
{
	unsigned long p = s->window + (u32)__ffs64(cache) * s->elemsize;

	OPTIMIZER_HIDE_VAR(p);
	return (void *)p;
}

/**
 * gomm_span_take_one - hand out the next free object of the window
 * @s: a span the caller owns
 * @cache: its alloc_cache, not 0
 *
 * Go's nextFreeFast: clears the object's bit in the window and sets it in
 * alloc_bits (the owner is the only writer; gomm_free() reads it).
 *
 * Context: owner of @s.
 * Return: the object.
 */
static __always_inline void *gomm_span_take_one(struct gomm_span *s, u64 cache)
{
	u64 rest = cache & (cache - 1);

	s->alloc_cache = rest;
	*s->alloc_word |= cache ^ rest;
	return gomm_span_obj(s, cache);
}

/* gomm_span_take_one(), or NULL when the window is used up. */
static __always_inline void *gomm_span_take(struct gomm_span *s)
{
	u64 cache = s->alloc_cache;

	return likely(cache) ? gomm_span_take_one(s, cache) : NULL;
}

/**
 * gomm_span_publish_full - the owner's side of the FULL hand-off
 * @s: a span whose every object is allocated, being put on its mcentral's
 *	full list; the caller holds the mcentral lock
 *
 * Publishes FULL before it looks at free_bits; gomm_span_free_obj() sets
 * a free bit before it reads the state.  With a full barrier on both
 * sides at least one of them sees the other.
 *
 * Return: true if @s has no free and may go on the full list; false if a
 * free came in (it goes on the partial list instead).
 */
static inline bool gomm_span_publish_full(struct gomm_span *s)
{
	WRITE_ONCE(s->state, GOMM_SPAN_FULL);
	smp_mb(); /* pairs with test_and_set_bit() in gomm_span_free_obj() */
	return !gomm_span_has_frees(s);
}

/**
 * gomm_span_free_obj - the freeing side: record object @idx's free
 * @s: a small or tiny span, whose object @idx the caller saw handed out
 * @idx: the object (for a tiny span, the block)
 * @ptr: its address, for the report of a double free
 *
 * Sets the object's free bit for the owner's next sweep; a bit already set
 * is a double free.  If the span was FULL, moves it to its mcentral's
 * partial list (the FULL hand-off).
 *
 * Context: any but NMI; the caller is in an RCU read-side section from
 * its lookup of @s (the lifetime rule).
 */
static __always_inline void gomm_span_free_obj(struct gomm_span *s,
					       unsigned int idx, const void *ptr)
{
	if (unlikely(test_and_set_bit(idx, s->free_bits))) {
		gomm_report_double_free(ptr);
		return;
	}
	gomm_hook_free_published(ptr);
	/* test_and_set_bit() is fully ordered: see gomm_span_publish_full() */
	if (unlikely(data_race(s->state) == GOMM_SPAN_FULL))
		gomm_mcentral_freed(ptr, s);
}

#endif /* _GOMM_SPAN_H */
