/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gomm page allocator: a port of Go's runtime page allocator (pageAlloc,
 * src/runtime/mpagealloc.go and mpallocbits.go).
 *
 * The allocator hands out runs of 8 KiB gomm pages, named by their page
 * number.  Pages are grouped in chunks of 512 pages (4 MiB); page g lies in
 * chunk g / 512 at index g % 512.  Each chunk has a bitmap (1 = in use,
 * 0 = free) in storage provided by the caller, and a radix tree of summaries
 * over all chunks makes address-ordered first-fit searches fast.
 */
#ifndef _GOMM_PAGEALLOC_H
#define _GOMM_PAGEALLOC_H

#include <linux/bits.h>
#include <linux/spinlock_types.h>
#include <linux/types.h>

#define GOMM_PAGE_SHIFT		13
#define GOMM_PAGE_SIZE		BIT(GOMM_PAGE_SHIFT)
#define GOMM_CHUNK_SHIFT	22
/* Go's logPallocChunkPages and pallocChunkPages. */
#define GOMM_CHUNK_ORDER	(GOMM_CHUNK_SHIFT - GOMM_PAGE_SHIFT)
#define GOMM_CHUNK_PAGES	BIT(GOMM_CHUNK_ORDER)

/* Go's summaryLevels and summaryLevelBits (8 children per entry). */
#define GOMM_SUM_LEVELS		5
#define GOMM_SUM_LEVEL_BITS	3
/* Go's levelLogPages[l]: log2 of the pages covered by a level @l entry. */
#define GOMM_SUM_LEVEL_LOG_PAGES(l) \
	(GOMM_CHUNK_ORDER + (GOMM_SUM_LEVELS - 1 - (l)) * GOMM_SUM_LEVEL_BITS)

/* Go's logMaxPackedValue and maxPackedValue: pages under one root entry. */
#define GOMM_PSUM_LOG_MAX	GOMM_SUM_LEVEL_LOG_PAGES(0)
#define GOMM_PSUM_MAX		BIT(GOMM_PSUM_LOG_MAX)

/*
 * Largest supported chunk count: Go's 48-bit heap (heapAddrBits), i.e. a
 * root level of 2^14 entries (summaryL0Bits = 14).
 */
#define GOMM_PA_MAX_CHUNKS	BIT(48 - GOMM_CHUNK_SHIFT)

/* Failed allocation (Go returns address 0). */
#define GOMM_PA_FAIL		(~0UL)
/* No chunk's summaries lag its bitmap (struct gomm_pagealloc.dirty). */
#define GOMM_PA_CLEAN		(~0UL)

/**
 * typedef gomm_psum_t - packed summary of a run of pages (Go's pallocSum)
 *
 * Three counts of free pages: the run at the start (bits 0-20), the longest
 * run anywhere (bits 21-41) and the run at the end (bits 42-62).  Bit 63 set
 * means all three equal %GOMM_PSUM_MAX, which does not fit in 21 bits.
 * Zero means "no free page".
 */
typedef u64 gomm_psum_t;

/**
 * struct gomm_pchunk - allocation bitmap of one chunk (Go's pallocBits)
 * @bits: bit i of @bits[w] is page w * 64 + i of the chunk; 1 = in use.
 */
struct gomm_pchunk {
	u64 bits[GOMM_CHUNK_PAGES / 64];
};

/**
 * struct gomm_pagealloc - page allocator state (Go's pageAlloc)
 * @summary: radix tree of summaries, root (level 0) first.  Level l has
 *	1 << (@l0bits + 3 * l) entries; entry i of level l summarizes the
 *	pages [i << GOMM_SUM_LEVEL_LOG_PAGES(l), (i + 1) << ...), and its
 *	children are entries [8 * i, 8 * i + 8) of level l + 1.  The leaf
 *	level has one entry per chunk.
 * @l0bits: log2 of the number of root entries (Go's summaryL0Bits).
 * @nchunks: number of chunk indices, fixed at init.
 * @chunks: bitmap of each chunk, NULL until the chunk is grown.  Entries
 *	are published with a release store and never change afterwards, so
 *	they may be read with READ_ONCE() without the lock.
 * @search: Go's searchAddr: every page below it is in use (or in a chunk that
 *	was never grown).  @nchunks * 512 means the allocator is exhausted.
 * @floor: no run of @floor_npages or more free pages starts below it (not
 *	in Go).  gomm_pa_alloc() of at least @floor_npages pages searches
 *	from here when it is above @search, and sets both to the run it
 *	returns; gomm_pa_free() lowers it to the start of the run the freed
 *	pages join.
 * @floor_npages: see @floor.
 * @start: lowest grown chunk index.
 * @end: one past the highest grown chunk index (@start == @end: none).
 * @dirty: the chunk whose summaries may lag its bitmap, or
 *	%GOMM_PA_CLEAN.  An allocation or free within one chunk only marks
 *	the bits and makes that chunk the dirty one; its summaries (the leaf
 *	and the entries above it) are brought up to date when another chunk
 *	becomes dirty and before anything reads the tree (gomm_pa_flush()),
 *	so a run of operations on one chunk costs one summary update.  Every
 *	stored summary is always the merge of the stored ones below it.
 * @lock: lock held by the caller around every call, or NULL.
 *
 * The allocator has no lock of its own: callers serialize all calls except
 * gomm_pa_init() and gomm_pa_destroy() with @lock.
 */
struct gomm_pagealloc {
	gomm_psum_t *summary[GOMM_SUM_LEVELS];
	unsigned int l0bits;
	unsigned long nchunks;
	struct gomm_pchunk **chunks;
	unsigned long search;
	unsigned long floor, floor_npages;
	unsigned long start, end;
	unsigned long dirty;
	raw_spinlock_t *lock;	/* the caller's, see @lock above */
};

/* Go's pageCachePages: the pages of one page cache, a 64-page block */
#define GOMM_PCACHE_PAGES	64

/**
 * struct gomm_pcache - a per-CPU cache of free pages (Go's pageCache)
 * @base: first page of the 64-page aligned block the cache holds
 * @cache: bit i set = page @base + i is free (the cache's to hand out)
 * @held: the block is the cache's: every page of it is in use in the
 *	allocator, so a page of it that is freed may go back to @cache
 * @zeroed: heap.c's: bit i set = page @base + i is free in @cache and
 *	still zero from the buddy allocator (its chunk's zeroed bit, moved
 *	here with it; init_on_alloc only)
 *
 * The block's free pages were taken from the allocator in one go
 * (gomm_pa_alloc_to_cache(), which marks them in use there); the owner
 * hands them out without the allocator's lock (gomm_pcache_alloc()), takes
 * back the pages of its block that its CPU frees (gomm_pcache_free(), which
 * Go does not do: Go's frees always take the heap lock), and gives back
 * what is free with gomm_pa_free_cache().  Go's scav mask has no
 * counterpart: a scavenged gomm page is not free in the allocator.
 */
struct gomm_pcache {
	unsigned long base;
	u64 cache;
	bool held;
	u64 zeroed;
};

unsigned long gomm_pcache_alloc(struct gomm_pcache *c, unsigned long npages);
bool gomm_pcache_free(struct gomm_pcache *c, unsigned long page,
		      unsigned long npages);
struct gomm_pcache gomm_pa_alloc_to_cache(struct gomm_pagealloc *pa);
void gomm_pa_free_cache(struct gomm_pagealloc *pa, struct gomm_pcache *c);

int gomm_pa_init(struct gomm_pagealloc *pa,
		 unsigned long nchunks, raw_spinlock_t *lock);
void gomm_pa_destroy(struct gomm_pagealloc *pa);
void gomm_pa_grow(struct gomm_pagealloc *pa, unsigned long ci,
		  struct gomm_pchunk *c);
unsigned long gomm_pa_alloc(struct gomm_pagealloc *pa, unsigned long npages);
void gomm_pa_free(struct gomm_pagealloc *pa, unsigned long page,
		  unsigned long npages);
void gomm_pa_alloc_range(struct gomm_pagealloc *pa, unsigned long page,
			 unsigned long npages);
unsigned long gomm_pa_find(struct gomm_pagealloc *pa, unsigned long npages,
			   unsigned long *new_search);
unsigned long gomm_pa_largest_free(struct gomm_pagealloc *pa);
void gomm_pa_flush(struct gomm_pagealloc *pa);

gomm_psum_t gomm_psum_pack(unsigned long start, unsigned long max,
			   unsigned long end);
unsigned long gomm_psum_start(gomm_psum_t s);
unsigned long gomm_psum_max(gomm_psum_t s);
unsigned long gomm_psum_end(gomm_psum_t s);
gomm_psum_t gomm_psum_merge(const gomm_psum_t *sums, unsigned int n,
			    unsigned int log_max_pages);

void gomm_pbits_set_range(struct gomm_pchunk *c, unsigned int i,
			  unsigned int n);
void gomm_pbits_clear_range(struct gomm_pchunk *c, unsigned int i,
			    unsigned int n);
unsigned int gomm_pbits_popcnt_range(const struct gomm_pchunk *c,
				     unsigned int i, unsigned int n);
gomm_psum_t gomm_pbits_summarize(const struct gomm_pchunk *c);
unsigned int gomm_pbits_find(const struct gomm_pchunk *c, unsigned int npages,
			     unsigned int search_idx,
			     unsigned int *new_search_idx);
unsigned int gomm_find_bit_range64(u64 c, unsigned int n);

#endif /* _GOMM_PAGEALLOC_H */
