/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gomm internal definitions: Go's mspan, mcache, mcentral and mheap.
 *
 * Locking and ownership (the rules every function below follows):
 *
 * - struct gomm_mcache (per CPU) is touched only by its own CPU with local
 *   interrupts disabled, which also keeps preemption and migration away.
 *   The one exception is a CPU that is dead (hotplug) or a module that is
 *   unloading: then the control CPU flushes it.  The mcache takes no lock on
 *   the fast path and does no atomic read-modify-write.
 *
 * - A span's allocation state (alloc_bits, freeindex, alloc_cache, window,
 *   alloc_count) belongs to its owner: the mcache that caches it
 *   (GOMM_SPAN_CACHED) or whoever holds its class's mcentral lock
 *   (GOMM_SPAN_PARTIAL / GOMM_SPAN_FULL).  Only the owner writes it.
 *   gomm_free() reads alloc_bits without a lock: the bit of a live object
 *   was set before the object was handed out and stays set until the
 *   owner sweeps that object's free.
 *
 * - A span's free_bits are written by gomm_free() on any CPU with atomic
 *   test_and_set_bit(), and only for objects whose alloc bit it saw set;
 *   only the owner clears them, with xchg(), when it sweeps them into
 *   alloc_bits (gomm_span_sweep()).  A second free of an object finds its
 *   free bit set (not yet swept) or its alloc bit clear (swept): both are
 *   reported, neither touches the span.
 *
 * - span->state changes under the mcentral lock (and, for LARGE and DEAD,
 *   under the heap lock).  gomm_free() reads it without a lock after its
 *   fully ordered test_and_set_bit(); gomm_mcentral_uncache() writes FULL,
 *   issues smp_mb() and then looks at free_bits.  One of the two always
 *   sees the other, so a span that gets a free while going FULL lands on
 *   the partial list (see gomm_mcentral_freed()).
 *
 * - span->kind is set before a span is entered in the page->span map and
 *   cleared (heap lock) before it is removed; the map and the chunk table
 *   are read without a lock by gomm_free() and gomm_size().
 *
 * - Span lifetime: a struct gomm_span (and its tiny array) is freed only
 *   through call_rcu(), after gomm_heap_free_span() has taken it out of
 *   the page->span map and marked it DEAD.  Every lockless reader of a
 *   span it looked up in the map runs in an RCU read-side section:
 *   gomm_free() with preemption disabled from the lookup to its last read
 *   of the span (after it publishes its free bit, a drain or the shrinker
 *   on another CPU may sweep the span empty and free it), gomm_size()
 *   under rcu_read_lock().  So a span a reader found stays a struct
 *   gomm_span, with its old contents or DEAD, until the reader is done;
 *   its pages may already be back in the heap, so such a reader touches
 *   only the struct, never the pages.  The mcaches and the mcentral lists
 *   hold no DEAD span.
 *
 * - mheap (struct gomm_heap) has one spinlock, gomm_heap.lock, that guards
 *   the page allocator (bitmaps, summaries, searchAddr), chunk ownership
 *   bits, the page->span map writes and the heap counters.  The page->span
 *   map and the chunk table are read without the lock by gomm_free() and
 *   gomm_size(); a chunk, once known, is never freed before module exit.
 *
 * - Lock order: there is no nesting.  mcentral locks and the heap lock are
 *   never held together; both are raw spinlocks, taken with interrupts
 *   off (frees and GFP_ATOMIC allocations may come from hard interrupts,
 *   the drain flushes each CPU from an IPI), and no section under them is
 *   longer than GOMM_LOCK_BATCH spans or one chunk: walks over many spans
 *   drop the lock every GOMM_LOCK_BATCH.  Nothing under them allocates or
 *   frees memory other than gomm's own.  Heap growth that may sleep runs
 *   with no gomm lock held and interrupts enabled.  PREEMPT_RT is not
 *   supported (compat.h refuses to build): gomm's mcache runs with local
 *   interrupts off and may call the page allocator from there.
 */
#ifndef _GOMM_GOMM_H
#define _GOMM_GOMM_H

#include <linux/atomic.h>
#include <linux/fault-inject.h>
#include <linux/gfp.h>
#include <linux/jump_label.h>
#include <linux/kasan.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/ratelimit_types.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "pagealloc.h"
#include "sizeclasses.h"

#define GOMM_MAX_LARGE_SIZE	(4UL << 20)
/* free large spans the heap keeps for reuse: up to 64 pages, 512 in all */
#define GOMM_LARGE_CACHE_NPAGES	64
#define GOMM_LARGE_CACHE_PAGES	512
/* GFP bits that mean something to the page and slab allocators here */
#define GOMM_GFP_MASK		(GFP_KERNEL | GFP_ATOMIC | __GFP_NOWARN | \
				 __GFP_NORETRY | __GFP_RETRY_MAYFAIL | \
				 __GFP_NOMEMALLOC)
#define GOMM_SPAN_WORDS		(GOMM_MAX_OBJS_PER_SPAN / BITS_PER_LONG)
/* spans a walk handles under one hold of a class or heap lock */
#define GOMM_LOCK_BATCH		32
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
 * for small objects: the fast path maps sizes it does not serve to it.
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
 * @state: enum gomm_span_state (see the locking rules above)
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
 * @alloc_word: owner: &@alloc_bits[@freeindex / 64]
 * @freeindex: owner: start of the current window, a multiple of 64; every
 *	object below it is allocated (Go's freeindex, at window granularity)
 * @alloc_count: owner: objects allocated, or free but in the window;
 *	frees not yet swept included
 * @npages: gomm pages in the span; immutable
 * @page: first gomm page number (physical address >> 13); immutable
 * @list: mcentral list link, or the heap's list of large spans
 * @all: link in the mcentral's list of all its spans (mcentral lock)
 * @tiny: tiny spans: per-block state (GOMM_TINY_LIVE, _OPEN and _END bits)
 * @rcu: frees the struct after a grace period (the span lifetime rule)
 * @alloc_bits: owner: 1 = handed out (set by the fast path as it hands an
 *	object out, cleared by the sweep); read locklessly by gomm_free()
 * @free_bits: set by gomm_free() (atomic), cleared by the owner's sweep
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
};

/**
 * struct gomm_mcache - Go's mcache, one per CPU
 * @alloc: the span each span class allocates from; &gomm_empty_span (an
 *	empty window) when none, so the fast path never tests for NULL
 * @tiny: address of the open tiny block, 0 when none
 * @tiny_offset: bytes of the open tiny block already handed out
 *	(GOMM_TINY_SIZE when none is open)
 * @tiny_span: span of the open tiny block
 * @tiny_state: &@tiny_span->tiny[] of the open block
 * @nalloc: objects taken by this CPU per span class (counted when a window
 *	is loaded, the unused rest taken back when the span is uncached);
 *	[0] counts large objects
 * @ntiny_alloc: tiny sub-objects handed out by this CPU
 * @slow: allocations that missed the fast path
 * @refills: spans taken from an mcentral (or a new span)
 * @sweeps: exhausted spans that a sweep made usable again
 * @flushes: times this mcache was flushed (drain, hotplug, unload)
 *
 * Counters are written by their CPU only and summed racily.  Frees are
 * not counted per CPU: objects in use are counted from the spans.
 */
struct gomm_mcache {
	struct gomm_span *alloc[GOMM_NUM_SPANCLASSES];
	unsigned long tiny;
	unsigned int tiny_offset;
	struct gomm_span *tiny_span;
	atomic_long_t *tiny_state;
	unsigned long nalloc[GOMM_NUM_SPANCLASSES];
	unsigned long ntiny_alloc;
	unsigned long slow;
	unsigned long refills;
	unsigned long sweeps;
	unsigned long flushes;
};

/**
 * struct gomm_mcentral - Go's mcentral: the spans of one span class
 * @lock: guards the lists and the spans on @partial and @full
 * @partial: spans with free objects, or with frees not yet swept
 * @full: spans with no free object when they were put there
 * @all: every span of the class, cached ones included (for statistics)
 * @nr_spans: spans of this class in existence (cached ones included)
 * @nr_partial: spans on @partial
 * @nr_full: spans on @full
 *
 * Cache-line aligned so that two classes never share a line (Go's pad).
 */
struct gomm_mcentral {
	raw_spinlock_t lock;	/* the class's lists and their spans */
	struct list_head partial;
	struct list_head full;
	struct list_head all;
	unsigned long nr_spans;
	unsigned long nr_partial;
	unsigned long nr_full;
} ____cacheline_aligned_in_smp;

/**
 * struct gomm_chunk - one 4 MiB chunk of physical memory gomm knows of
 * @palloc: Go's pallocBits for the chunk (1 = in use or not gomm's)
 * @owned: 1 = gomm holds this page from the buddy allocator
 * @spans: page -> span map (Go's heapArena.spans), every page of a span;
 *	&gomm_empty_span for pages in no span
 */
struct gomm_chunk {
	struct gomm_pchunk palloc;
	unsigned long owned[GOMM_CHUNK_PAGES / BITS_PER_LONG];
	struct gomm_span *spans[GOMM_CHUNK_PAGES];
};

/**
 * struct gomm_heap - Go's mheap
 * @lock: the heap lock (see the rules above)
 * @pa: Go's pageAlloc over the chunk index space
 * @spanmap: chunk index -> the chunk's page->span map, or a map of
 *	&gomm_empty_span for chunks gomm does not have (lockless readers)
 * @nspanmap: entries in @spanmap (chunks of the physical address range)
 * @large: spans of large objects, live ones and those in @large_cache
 * @nr_large: large-object spans (cached ones included)
 * @large_cache: free large spans of 1..GOMM_LARGE_CACHE_NPAGES pages, by
 *	size, kept mapped for the next large allocation of their size
 * @large_cached: spans in @large_cache
 * @large_cached_pages: gomm pages in @large_cache
 * @pages_owned: gomm pages held from the buddy allocator
 * @pages_in_use: gomm pages in spans
 * @large_pages: gomm pages in large-object spans
 * @chunks: chunks ever seen (their struct gomm_chunk stays until exit)
 * @grows: successful heap growths
 * @released: gomm pages returned to the buddy allocator
 */
struct gomm_heap {
	raw_spinlock_t lock;	/* the heap lock: see the rules at the top */
	struct gomm_pagealloc pa;
	struct gomm_span ***spanmap;
	unsigned long nspanmap;
	struct list_head large;
	unsigned long nr_large;
	struct list_head large_cache[GOMM_LARGE_CACHE_NPAGES + 1];
	unsigned long large_cached;
	unsigned long large_cached_pages;
	unsigned long pages_owned;
	unsigned long pages_in_use;
	unsigned long large_pages;
	unsigned long chunks;
	unsigned long grows;
	unsigned long released;
};

/**
 * struct gomm_errors - counters of bad input and failures (debugfs)
 * @bad_free: frees of pointers gomm never returned, or interior pointers
 * @double_free: frees of objects that were already free
 * @failed_grow: heap growths that could not get memory
 * @too_large: requests above 4 MiB
 */
struct gomm_errors {
	atomic_long_t bad_free;
	atomic_long_t double_free;
	atomic_long_t failed_grow;
	atomic_long_t too_large;
};

extern struct gomm_heap gomm_heap;
extern struct gomm_mcentral gomm_central[GOMM_NUM_SPANCLASSES];
extern struct gomm_span gomm_empty_span;
extern struct gomm_errors gomm_errors;
DECLARE_PER_CPU(struct gomm_mcache, gomm_mcache);
extern bool gomm_tiny_enabled;
extern unsigned int gomm_keep_empty;
extern unsigned long gomm_retain_kb;
extern struct shrinker *gomm_shrinker;
#ifdef CONFIG_FAULT_INJECTION
extern struct fault_attr gomm_fail_grow;
#endif

/* heap.c */
int gomm_heap_init(void);
unsigned long gomm_heap_exit(void);
struct gomm_span *gomm_heap_alloc_span(unsigned long npages,
				       unsigned int spanclass, gfp_t gfp);
void gomm_heap_free_span(struct gomm_span *s);
struct gomm_span *gomm_heap_alloc_large(unsigned long npages, gfp_t gfp);
void gomm_heap_free_large(struct gomm_span *s);
unsigned long gomm_heap_drain_large(void);
struct gomm_span *gomm_span_of(const void *p, bool *free_page);
unsigned long gomm_heap_scavenge(unsigned long retain_pages,
				 unsigned long max_pages);

/* mcentral.c */
void gomm_mcentral_init(void);
struct gomm_span *gomm_mcentral_cache(unsigned int spanclass);
struct gomm_span *gomm_span_new(unsigned int spanclass, gfp_t gfp);
void gomm_mcentral_uncache(struct gomm_span *s);
void gomm_mcentral_freed(struct gomm_span *s);
unsigned int gomm_span_sweep(struct gomm_span *s);
bool gomm_span_load_window(struct gomm_span *s);
unsigned int gomm_span_unload_window(struct gomm_span *s);
unsigned long gomm_mcentral_reclaim(unsigned int keep);
unsigned long gomm_mcentral_reclaimable(void);
unsigned long gomm_mcentral_exit(void);

/* malloc.c */
void gomm_flush_cpu(int cpu);
void gomm_drain(void);
void gomm_report(const char *what, const void *ptr, atomic_long_t *counter);
unsigned long gomm_scavenge(void);

/* stats.c */
void gomm_stats_init(void);
void gomm_stats_exit(void);
long gomm_stats_in_use(unsigned int spanclass);
struct gomm_mcache *gomm_stats_mcache(int cpu);
/* gomm_stats_in_use(): tiny sub-objects (span classes are 0..68) */
#define GOMM_STATS_TINY	(GOMM_NUM_SPANCLASSES + 1)

/*
 * Test hooks, compiled only into kernels with KUnit (the debug kernel):
 * behind a static key that is off unless a test turns it on, so even
 * there they cost a nop.  A kernel without KUnit has none of them.
 *
 * @free_published: called by gomm_free() right after it published an
 *	object's free bit, before it reads the span again (the window in
 *	which a drain may sweep and free the span: see the lifetime rule)
 * @span_free_now: free span structs at once instead of after a grace
 *	period (the span lifetime rule switched off, for the negative
 *	control of the test of it)
 */
struct gomm_test_hooks {
	void (*free_published)(const void *ptr);
	bool span_free_now;
};

#if IS_ENABLED(CONFIG_KUNIT)
DECLARE_STATIC_KEY_FALSE(gomm_test_key);
extern struct gomm_test_hooks gomm_test_hooks;
/* gomm_report()'s rate limit (malloc.c), static without KUnit */
extern struct ratelimit_state gomm_report_rs;

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
#else
static __always_inline void gomm_hook_free_published(const void *ptr)
{
}

static __always_inline bool gomm_hook_span_free_now(void)
{
	return false;
}
#endif

/**
 * gomm_span_lookup - the span holding @p (lockless, any context)
 * @p: any pointer
 *
 * The free fast path's lookup: on x86-64 a direct-map address minus
 * PAGE_OFFSET is its physical address, and anything else (vmalloc, the
 * kernel image, user or wild pointers) lands above the span map.
 *
 * Return: the span, or &gomm_empty_span (kind GOMM_KIND_NONE) when @p is
 * in no span; never NULL.
 */
static __always_inline struct gomm_span *gomm_span_lookup(const void *p)
{
	unsigned long off = (unsigned long)p - PAGE_OFFSET;

	if (unlikely(off >> GOMM_CHUNK_SHIFT >= gomm_heap.nspanmap))
		return &gomm_empty_span;
	return READ_ONCE(gomm_heap.spanmap[off >> GOMM_CHUNK_SHIFT]
					  [(off >> GOMM_PAGE_SHIFT) % GOMM_CHUNK_PAGES]);
}

/**
 * gomm_obj_exact - is a span offset the start of an object?
 * @m: (u64)offset * divmagic, as gomm_obj_index() computes it
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

/*
 * KASAN (generic): gomm writes the shadow of its objects itself, with the
 * codes of mm/kasan/kasan.h so that reports name the bug: a free object
 * is KASAN_SLAB_FREE ("slab-use-after-free"), the slack between the
 * requested size and the object's size KASAN_SLAB_REDZONE
 * ("slab-out-of-bounds").  Spans start out all free (gomm_span_new()).
 * Addresses and lengths are multiples of 8 except where noted.
 */
#define GOMM_KASAN_FREE		0xFB
#define GOMM_KASAN_REDZONE	0xFC

#ifdef CONFIG_KASAN_GENERIC
static inline void gomm_kasan_poison(unsigned long addr, size_t len, u8 code)
{
	__memset(kasan_mem_to_shadow((void *)addr), code,
		 len >> KASAN_SHADOW_SCALE_SHIFT);
}

/* [addr, addr + len) usable (any len), the rest of [addr, addr + size) a redzone */
static inline void gomm_kasan_unpoison(unsigned long addr, size_t len, size_t size)
{
	u8 *shadow = kasan_mem_to_shadow((void *)addr);
	size_t full = len >> KASAN_SHADOW_SCALE_SHIFT;
	u8 part = len & (BIT(KASAN_SHADOW_SCALE_SHIFT) - 1);

	__memset(shadow, 0, full);
	if (part)
		__memset(shadow + full++, part, 1);
	__memset(shadow + full, GOMM_KASAN_REDZONE,
		 (size >> KASAN_SHADOW_SCALE_SHIFT) - full);
}
#else
static inline void gomm_kasan_poison(unsigned long addr, size_t len, u8 code)
{
}

static inline void gomm_kasan_unpoison(unsigned long addr, size_t len, size_t size)
{
}
#endif

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
		gomm_report("double free",
			    (void *)(s->start + (w * BITS_PER_LONG + __ffs(bogus)) *
				     s->elemsize), &gomm_errors.double_free);
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

#endif /* _GOMM_GOMM_H */
