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
 * - A span's allocation state (alloc_bits, freeindex, alloc_cache,
 *   alloc_count) belongs to its owner: the mcache that caches it
 *   (GOMM_SPAN_CACHED) or whoever holds its class's mcentral lock
 *   (GOMM_SPAN_PARTIAL / GOMM_SPAN_FULL).  Nobody else reads or writes it.
 *
 * - A span's free_bits are written by gomm_free() on any CPU with atomic
 *   test_and_set_bit(); only the owner clears them, with xchg(), when it
 *   sweeps them into alloc_bits (gomm_span_sweep()).
 *
 * - span->state changes under the mcentral lock (and, for LARGE and DEAD,
 *   under the heap lock).  gomm_free() reads it without a lock after its
 *   fully ordered test_and_set_bit(); gomm_mcentral_uncache() writes FULL,
 *   issues smp_mb() and then looks at free_bits.  One of the two always
 *   sees the other, so a span that gets a free while going FULL lands on
 *   the partial list (see gomm_mcentral_freed()).
 *
 * - mheap (struct gomm_heap) has one spinlock, gomm_heap.lock, that guards
 *   the page allocator (bitmaps, summaries, searchAddr), chunk ownership
 *   bits, the page->span map writes and the heap counters.  The page->span
 *   map and the chunk table are read without the lock by gomm_free() and
 *   gomm_size(); a chunk, once known, is never freed before module exit.
 *
 * - Lock order: there is no nesting.  mcentral locks and the heap lock are
 *   never held together; both are IRQ-safe (frees and GFP_ATOMIC
 *   allocations may come from hard interrupts).  Heap growth that may sleep
 *   runs with no gomm lock held and interrupts enabled.
 */
#ifndef _GOMM_GOMM_H
#define _GOMM_GOMM_H

#include <linux/atomic.h>
#include <linux/fault-inject.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "pagealloc.h"
#include "sizeclasses.h"

#define GOMM_MAX_LARGE_SIZE	(4UL << 20)
/* GFP bits that mean something to the page and slab allocators here */
#define GOMM_GFP_MASK		(GFP_KERNEL | GFP_ATOMIC | __GFP_NOWARN | \
				 __GFP_NORETRY | __GFP_RETRY_MAYFAIL | \
				 __GFP_NOMEMALLOC)
#define GOMM_SPAN_WORDS		(GOMM_MAX_OBJS_PER_SPAN / BITS_PER_LONG)
/* tiny block state: bits 0..15 = live sub-object offsets, bit 16 = open */
#define GOMM_TINY_OPEN		BIT(16)

enum gomm_span_state {
	GOMM_SPAN_DEAD,		/* not in use */
	GOMM_SPAN_CACHED,	/* owned by an mcache */
	GOMM_SPAN_PARTIAL,	/* on its mcentral's partial list */
	GOMM_SPAN_FULL,		/* on its mcentral's full list */
	GOMM_SPAN_LARGE,	/* one large object, owned by its user */
};

/**
 * struct gomm_span - Go's mspan: a run of pages holding one size class
 * @start: address of the first byte (direct map); immutable
 * @page: first gomm page number (physical address >> 13); immutable
 * @npages: gomm pages in the span; immutable
 * @nelems: objects in the span; immutable
 * @elemsize: object size; immutable
 * @divmagic: Go's division magic for @elemsize; immutable
 * @sizeclass: size class, 0 for a large object; immutable
 * @state: enum gomm_span_state (see the locking rules above)
 * @freeindex: owner: objects below it are allocated (Go's freeindex)
 * @alloc_count: owner: objects allocated, frees not yet swept included
 * @alloc_cache: owner: inverted alloc_bits from freeindex on (Go's allocCache)
 * @list: mcentral list link, or the heap's list of large spans
 * @tiny: class 2 with tiny on: per-block state (live offsets | open)
 * @tiny_ends: class 2 with tiny on: per-block bit (off + size - 1) per object
 * @alloc_bits: owner: 1 = allocated, valid from freeindex on
 * @free_bits: set by gomm_free() (atomic), cleared by the owner's sweep
 */
struct gomm_span {
	unsigned long start;
	unsigned long page;
	u32 npages;
	u32 nelems;
	u32 elemsize;
	u32 divmagic;
	u8 sizeclass;
	u8 state;
	u16 freeindex;
	u16 alloc_count;
	u64 alloc_cache;
	struct list_head list;
	atomic_t *tiny;
	u16 *tiny_ends;
	unsigned long alloc_bits[GOMM_SPAN_WORDS];
	unsigned long free_bits[GOMM_SPAN_WORDS];
};

/**
 * struct gomm_mcache - Go's mcache, one per CPU
 * @alloc: the span each class allocates from, or NULL
 * @tiny: address of the open tiny block, 0 when none
 * @tiny_offset: bytes of the open tiny block already handed out
 * @tiny_span: span of the open tiny block
 * @nalloc: objects handed out by this CPU, per class (0 = large)
 * @nfree: objects freed on this CPU, per class (0 = large)
 * @ntiny_alloc: tiny sub-objects handed out by this CPU
 * @ntiny_free: tiny sub-objects freed on this CPU
 * @slow: allocations that missed the fast path (nextFreeFast)
 * @refills: spans taken from an mcentral (or a new span)
 * @sweeps: exhausted spans that a sweep made usable again
 * @flushes: times this mcache was flushed (drain, hotplug, unload)
 *
 * Counters are written by their CPU only (this_cpu ops) and summed racily.
 */
struct gomm_mcache {
	struct gomm_span *alloc[GOMM_NUM_CLASSES];
	unsigned long tiny;
	unsigned int tiny_offset;
	struct gomm_span *tiny_span;
	unsigned long nalloc[GOMM_NUM_CLASSES];
	unsigned long nfree[GOMM_NUM_CLASSES];
	unsigned long ntiny_alloc;
	unsigned long ntiny_free;
	unsigned long slow;
	unsigned long refills;
	unsigned long sweeps;
	unsigned long flushes;
};

/**
 * struct gomm_mcentral - Go's mcentral: the spans of one size class
 * @lock: guards the lists and the spans on them
 * @partial: spans with free objects, or with frees not yet swept
 * @full: spans with no free object when they were put there
 * @nr_spans: spans of this class in existence (cached ones included)
 * @nr_partial: spans on @partial
 * @nr_full: spans on @full
 *
 * Cache-line aligned so that two classes never share a line (Go's pad).
 */
struct gomm_mcentral {
	spinlock_t lock;	/* the class's lists and their spans */
	struct list_head partial;
	struct list_head full;
	unsigned long nr_spans;
	unsigned long nr_partial;
	unsigned long nr_full;
} ____cacheline_aligned_in_smp;

/**
 * struct gomm_chunk - one 4 MiB chunk of physical memory gomm knows of
 * @palloc: Go's pallocBits for the chunk (1 = in use or not gomm's)
 * @owned: 1 = gomm holds this page from the buddy allocator
 * @spans: page -> span map (Go's heapArena.spans), every page of a span
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
 * @large: spans of live large objects
 * @pages_owned: gomm pages held from the buddy allocator
 * @pages_in_use: gomm pages in spans
 * @large_pages: gomm pages in large-object spans
 * @chunks: chunks ever seen (their struct gomm_chunk stays until exit)
 * @grows: successful heap growths
 * @released: gomm pages returned to the buddy allocator
 */
struct gomm_heap {
	spinlock_t lock;	/* the heap lock: see the rules at the top */
	struct gomm_pagealloc pa;
	struct list_head large;
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
extern struct gomm_mcentral gomm_central[GOMM_NUM_CLASSES];
extern struct gomm_errors gomm_errors;
DECLARE_PER_CPU(struct gomm_mcache, gomm_mcache);
extern bool gomm_tiny_enabled;
extern unsigned int gomm_keep_empty;
extern unsigned long gomm_retain_kb;
#ifdef CONFIG_FAULT_INJECTION
extern struct fault_attr gomm_fail_grow;
#endif

/* heap.c */
int gomm_heap_init(void);
unsigned long gomm_heap_exit(void);
struct gomm_span *gomm_heap_alloc_span(unsigned long npages,
				       unsigned int class, gfp_t gfp);
void gomm_heap_free_span(struct gomm_span *s);
struct gomm_span *gomm_span_of(const void *p, bool *free_page);
unsigned long gomm_heap_scavenge(unsigned long retain_pages,
				 unsigned long max_pages);
unsigned long gomm_heap_releasable(unsigned long retain_pages);

/* mcentral.c */
void gomm_mcentral_init(void);
struct gomm_span *gomm_mcentral_cache(unsigned int class);
struct gomm_span *gomm_span_new(unsigned int class, gfp_t gfp);
void gomm_mcentral_uncache(struct gomm_span *s);
void gomm_mcentral_freed(struct gomm_span *s);
unsigned int gomm_span_sweep(struct gomm_span *s);
unsigned long gomm_mcentral_reclaim(unsigned int keep);
unsigned long gomm_mcentral_exit(void);

/* malloc.c */
void gomm_flush_cpu(int cpu);
void gomm_drain(void);
void gomm_report(const char *what, const void *ptr, atomic_long_t *counter);
unsigned long gomm_scavenge(void);

/* stats.c */
void gomm_stats_init(void);
void gomm_stats_exit(void);
long gomm_stats_in_use(unsigned int class);
struct gomm_mcache *gomm_stats_mcache(int cpu);
#define GOMM_STATS_TINY	GOMM_NUM_CLASSES	/* gomm_stats_in_use(): tiny sub-objects */

/**
 * gomm_chunk_of_addr - the gomm chunk holding @p, or NULL (lockless)
 * @p: any pointer
 * @pi: set to @p's page index inside the chunk
 *
 * Only the direct map can hold gomm memory; the chunk table maps its
 * physical address to a chunk.
 */
static __always_inline struct gomm_chunk *
gomm_chunk_of_addr(const void *p, unsigned int *pi)
{
	unsigned long addr = (unsigned long)p, g;
	struct gomm_pchunk *pc;

	if (addr - PAGE_OFFSET >= (unsigned long)high_memory - PAGE_OFFSET)
		return NULL;
	g = __pa(addr) >> GOMM_PAGE_SHIFT;
	if (unlikely(g / GOMM_CHUNK_PAGES >= gomm_heap.pa.nchunks))
		return NULL;
	pc = READ_ONCE(gomm_heap.pa.chunks[g / GOMM_CHUNK_PAGES]);
	*pi = g % GOMM_CHUNK_PAGES;
	return pc ? container_of(pc, struct gomm_chunk, palloc) : NULL;
}

/**
 * gomm_span_of_fast - the span holding @p, or NULL (lockless, any context)
 * @p: any pointer
 */
static __always_inline struct gomm_span *gomm_span_of_fast(const void *p)
{
	struct gomm_chunk *c;
	unsigned int pi;

	c = gomm_chunk_of_addr(p, &pi);
	return c ? READ_ONCE(c->spans[pi]) : NULL;
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

#endif /* _GOMM_GOMM_H */
