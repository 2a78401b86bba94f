// SPDX-License-Identifier: GPL-2.0
/*
 * gomm page allocator: a port of Go's runtime page allocator.
 *
 * Go 1.14+ (src/runtime/mpagealloc.go, mpagealloc_64bit.go, mpallocbits.go)
 * tracks heap pages with one bitmap per 4 MiB chunk and an implicit radix
 * tree of packed summaries (start, max, end free-run lengths) over the
 * chunks.  An allocation walks the tree from the root, descending into the
 * first entry whose max fits or stopping at the first run that straddles
 * entries, which yields the lowest-addressed fit.  searchAddr remembers
 * where the first free page can be.
 *
 * Differences from Go: the allocator works on page numbers in a chunk index
 * range fixed at init, so the summary levels are allocated densely up front
 * (zero summaries mean "no free page", which is also right for chunks never
 * grown) and Go's findMappedAddr and inUse ranges are not needed.  Chunk
 * bitmaps live in caller storage.  There is no scavenger (no scavenged
 * bitmap) and no page cache, so Go's non-contiguous update path is gone.
 * A grown chunk starts fully in use; the owner frees the pages it owns.
 * Go updates the summaries after every allocation and free; here the
 * summaries of the one chunk last changed may lag its bitmap until
 * another chunk changes or the tree is read (struct gomm_pagealloc.dirty),
 * which makes a run of allocations or frees in one chunk cost one update.
 */

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <asm/barrier.h>
#include "compat.h"

#include "pagealloc.h"

#define PSUM_MASK	(GOMM_PSUM_MAX - 1)
#define PSUM_ALL_MAX	BIT_ULL(63)
/* Go's freeChunkSum: the summary of a chunk with every page free. */
#define FREE_CHUNK_SUM	((u64)GOMM_CHUNK_PAGES |			\
			 (u64)GOMM_CHUNK_PAGES << GOMM_PSUM_LOG_MAX |	\
			 (u64)GOMM_CHUNK_PAGES << (2 * GOMM_PSUM_LOG_MAX))

/* Go's sys.TrailingZeros64 and sys.LeadingZeros64: 64 for x == 0. */
static inline unsigned int ctz64(u64 x)
{
	return x ? __ffs64(x) : 64;
}

static inline unsigned int clz64(u64 x)
{
	return 64 - fls64(x);
}

/* pallocSum: packPallocSum, start, max, end, unpack. */

/**
 * gomm_psum_pack() - pack a summary (Go's packPallocSum)
 * @start: free pages at the start of the region
 * @max: longest run of free pages in the region
 * @end: free pages at the end of the region
 *
 * Return: the packed summary; @max == %GOMM_PSUM_MAX (a whole free root
 * entry) packs as bit 63 alone.
 */
gomm_psum_t gomm_psum_pack(unsigned long start, unsigned long max,
			   unsigned long end)
{
	if (max == GOMM_PSUM_MAX)
		return PSUM_ALL_MAX;
	return (u64)(start & PSUM_MASK) |
	       (u64)(max & PSUM_MASK) << GOMM_PSUM_LOG_MAX |
	       (u64)(end & PSUM_MASK) << (2 * GOMM_PSUM_LOG_MAX);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_psum_pack);

/**
 * gomm_psum_start() - free pages at the start of a summary's region
 * @s: packed summary
 *
 * Return: the start field of @s.
 */
unsigned long gomm_psum_start(gomm_psum_t s)
{
	if (s & PSUM_ALL_MAX)
		return GOMM_PSUM_MAX;
	return s & PSUM_MASK;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_psum_start);

/**
 * gomm_psum_max() - longest free run in a summary's region
 * @s: packed summary
 *
 * Return: the max field of @s.
 */
unsigned long gomm_psum_max(gomm_psum_t s)
{
	if (s & PSUM_ALL_MAX)
		return GOMM_PSUM_MAX;
	return (s >> GOMM_PSUM_LOG_MAX) & PSUM_MASK;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_psum_max);

/**
 * gomm_psum_end() - free pages at the end of a summary's region
 * @s: packed summary
 *
 * Return: the end field of @s.
 */
unsigned long gomm_psum_end(gomm_psum_t s)
{
	if (s & PSUM_ALL_MAX)
		return GOMM_PSUM_MAX;
	return (s >> (2 * GOMM_PSUM_LOG_MAX)) & PSUM_MASK;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_psum_end);

/* Go's pallocSum.unpack. */
static void psum_unpack(gomm_psum_t s, unsigned long *start,
			unsigned long *max, unsigned long *end)
{
	*start = gomm_psum_start(s);
	*max = gomm_psum_max(s);
	*end = gomm_psum_end(s);
}

/**
 * gomm_psum_merge() - summary of consecutive regions (Go's mergeSummaries)
 * @sums: summaries of @n adjacent regions, lowest first
 * @n: number of summaries, at least 1
 * @log_max_pages: log2 of the pages in each region
 *
 * Return: the summary of the concatenation of the regions.
 */
gomm_psum_t gomm_psum_merge(const gomm_psum_t *sums, unsigned int n,
			    unsigned int log_max_pages)
{
	unsigned long start, most, end, si, mi, ei;
	unsigned int i;

	psum_unpack(sums[0], &start, &most, &end);
	for (i = 1; i < n; i++) {
		psum_unpack(sums[i], &si, &mi, &ei);
		/* sums[i].start extends start only if all so far is free. */
		if (start == (unsigned long)i << log_max_pages)
			start += si;
		/* The run across the boundary, or one inside sums[i]. */
		most = max3(most, end + si, mi);
		if (ei == 1UL << log_max_pages)
			end += 1UL << log_max_pages;
		else
			end = ei;
	}
	return gomm_psum_pack(start, most, end);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_psum_merge);

/* pageBits and pallocBits (mpallocbits.go). */

/**
 * gomm_pbits_set_range() - mark pages in use (Go's pageBits.setRange)
 * @c: chunk bitmap
 * @i: first page
 * @n: number of pages, at least 1, with @i + @n <= %GOMM_CHUNK_PAGES
 */
void gomm_pbits_set_range(struct gomm_pchunk *c, unsigned int i,
			  unsigned int n)
{
	unsigned int j = i + n - 1;	/* last page, inclusive */
	unsigned int k;

	if (i / 64 == j / 64) {
		c->bits[i / 64] |= GENMASK_ULL(j % 64, i % 64);
		return;
	}
	c->bits[i / 64] |= GENMASK_ULL(63, i % 64);
	for (k = i / 64 + 1; k < j / 64; k++)
		c->bits[k] = ~0ULL;
	c->bits[j / 64] |= GENMASK_ULL(j % 64, 0);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pbits_set_range);

/**
 * gomm_pbits_clear_range() - mark pages free (Go's pageBits.clearRange)
 * @c: chunk bitmap
 * @i: first page
 * @n: number of pages, at least 1, with @i + @n <= %GOMM_CHUNK_PAGES
 */
void gomm_pbits_clear_range(struct gomm_pchunk *c, unsigned int i,
			    unsigned int n)
{
	unsigned int j = i + n - 1;	/* last page, inclusive */
	unsigned int k;

	if (i / 64 == j / 64) {
		c->bits[i / 64] &= ~GENMASK_ULL(j % 64, i % 64);
		return;
	}
	c->bits[i / 64] &= ~GENMASK_ULL(63, i % 64);
	for (k = i / 64 + 1; k < j / 64; k++)
		c->bits[k] = 0;
	c->bits[j / 64] &= ~GENMASK_ULL(j % 64, 0);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pbits_clear_range);

/**
 * gomm_pbits_popcnt_range() - count pages in use (Go's pageBits.popcntRange)
 * @c: chunk bitmap
 * @i: first page
 * @n: number of pages, at least 1, with @i + @n <= %GOMM_CHUNK_PAGES
 *
 * Return: the number of pages in use in [@i, @i + @n).
 */
unsigned int gomm_pbits_popcnt_range(const struct gomm_pchunk *c,
				     unsigned int i, unsigned int n)
{
	unsigned int j = i + n - 1;	/* last page, inclusive */
	unsigned int k, s;

	if (i / 64 == j / 64)
		return hweight64(c->bits[i / 64] & GENMASK_ULL(j % 64, i % 64));
	s = hweight64(c->bits[i / 64] & GENMASK_ULL(63, i % 64));
	for (k = i / 64 + 1; k < j / 64; k++)
		s += hweight64(c->bits[k]);
	return s + hweight64(c->bits[j / 64] & GENMASK_ULL(j % 64, 0));
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pbits_popcnt_range);

/*
 * Second pass of Go's pallocBits.summarize for one word @x (not zero):
 * return the larger of @most (< 62) and the longest run of zeros inside @x,
 * i.e. above its lowest and below its highest one bit.
 *
 * All runs of zeros below the top are shrunk by @most places by shifting
 * ones down into them (doubling the shift as the runs of ones grow); a zero
 * that survives belongs to a longer run, whose extra length is then added
 * to @most and the shrinking continues.
 */
static unsigned int word_inner_run(u64 x, unsigned int most)
{
	unsigned int p = most;	/* places the runs still must shrink by */
	unsigned int k = 1;	/* minimum length of the runs of ones */
	unsigned int j;

	x >>= __ffs64(x);	/* trailing zeros were counted already */
	if (!(x & (x + 1)))	/* no zeros left except at the top */
		return most;
	for (;;) {
		while (p > 0) {
			if (p <= k) {
				x |= x >> p;
				if (!(x & (x + 1)))
					return most;
				break;
			}
			x |= x >> k;
			if (!(x & (x + 1)))
				return most;
			p -= k;
			k *= 2;
		}
		/* The lowest surviving run of zeros is j longer than most. */
		x >>= __ffs64(~x);
		j = __ffs64(x);
		x >>= j;
		most += j;
		if (!(x & (x + 1)))
			return most;
		p = j;
	}
}

/**
 * gomm_pbits_summarize() - summary of a chunk (Go's pallocBits.summarize)
 * @c: chunk bitmap
 *
 * Return: the packed (start, max, end) free-run summary of @c.
 */
gomm_psum_t gomm_pbits_summarize(const struct gomm_pchunk *c)
{
	unsigned int start = UINT_MAX, most = 0, cur = 0, i;

	/* Runs that touch a word boundary, from trailing/leading zeros. */
	for (i = 0; i < ARRAY_SIZE(c->bits); i++) {
		u64 x = c->bits[i];

		if (!x) {
			cur += 64;
			continue;
		}
		cur += __ffs64(x);
		if (start == UINT_MAX)
			start = cur;
		most = max(most, cur);
		cur = clz64(x);
	}
	if (start == UINT_MAX)
		return gomm_psum_pack(GOMM_CHUNK_PAGES, GOMM_CHUNK_PAGES,
				      GOMM_CHUNK_PAGES);
	most = max(most, cur);
	/* A run inside a word is at most 62 long. */
	if (most >= 64 - 2)
		return gomm_psum_pack(start, most, cur);
	/* No word is zero here: that would have made most >= 64. */
	for (i = 0; i < ARRAY_SIZE(c->bits); i++)
		most = word_inner_run(c->bits[i], most);
	return gomm_psum_pack(start, most, cur);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pbits_summarize);

/**
 * gomm_find_bit_range64() - first run of ones in a word (Go's findBitRange64)
 * @c: word to search
 * @n: length of the run, 1 to 64
 *
 * Shrinks every run of ones by @n - 1 places from the top; the lowest one
 * that survives starts the first run of @n ones.
 *
 * Return: the index of the lowest bit of the first run of @n consecutive
 * ones in @c, or a value >= 64 if there is none.
 */
unsigned int gomm_find_bit_range64(u64 c, unsigned int n)
{
	unsigned int p = n - 1;	/* ones to remove from the top of each run */
	unsigned int k = 1;	/* minimum length of the runs of zeros */

	while (p > 0) {
		if (p <= k) {
			c &= c >> p;
			break;
		}
		c &= c >> k;
		if (!c)
			return 64;
		p -= k;
		k *= 2;
	}
	return ctz64(c);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_find_bit_range64);

/* Go's pallocBits.find1. */
static unsigned int pbits_find1(const struct gomm_pchunk *c,
				unsigned int search_idx)
{
	unsigned int i;

	for (i = search_idx / 64; i < ARRAY_SIZE(c->bits); i++) {
		if (~c->bits[i])
			return i * 64 + __ffs64(~c->bits[i]);
	}
	return ~0U;
}

/*
 * Go's pallocBits.findSmallN, for 2 <= npages <= 64: such a run lies within
 * one word or straddles one word boundary.
 */
static unsigned int pbits_find_small(const struct gomm_pchunk *c,
				     unsigned int npages,
				     unsigned int search_idx,
				     unsigned int *new_search_idx)
{
	unsigned int end = 0;	/* free pages at the top of the last word */
	unsigned int i, j;

	*new_search_idx = ~0U;
	for (i = search_idx / 64; i < ARRAY_SIZE(c->bits); i++) {
		u64 x = c->bits[i];

		if (!~x) {
			end = 0;
			continue;
		}
		if (*new_search_idx == ~0U)
			*new_search_idx = i * 64 + __ffs64(~x);
		/* The run straddling the boundary with the previous word. */
		if (end + ctz64(x) >= npages)
			return i * 64 - end;
		/* A run inside this word. */
		j = gomm_find_bit_range64(~x, npages);
		if (j < 64)
			return i * 64 + j;
		end = clz64(x);
	}
	return ~0U;
}

/*
 * Go's pallocBits.findLargeN, for npages > 64: such a run straddles at least
 * one word boundary.
 */
static unsigned int pbits_find_large(const struct gomm_pchunk *c,
				     unsigned int npages,
				     unsigned int search_idx,
				     unsigned int *new_search_idx)
{
	unsigned int start = ~0U, size = 0, i, s;

	*new_search_idx = ~0U;
	for (i = search_idx / 64; i < ARRAY_SIZE(c->bits); i++) {
		u64 x = c->bits[i];

		if (!~x) {
			size = 0;
			continue;
		}
		if (*new_search_idx == ~0U)
			*new_search_idx = i * 64 + __ffs64(~x);
		if (!size) {
			/* Start a run with the free pages at the top. */
			size = clz64(x);
			start = i * 64 + 64 - size;
			continue;
		}
		s = ctz64(x);
		if (size + s >= npages)
			return start;
		if (s < 64) {
			/* The run is broken: restart it at the top. */
			size = clz64(x);
			start = i * 64 + 64 - size;
			continue;
		}
		size += 64;
	}
	/*
	 * Go ends with "if size < npages, fail", but size < npages always
	 * holds here: a run that reaches npages returns above.
	 */
	return ~0U;
}

/**
 * gomm_pbits_find() - first run of free pages in a chunk (Go's pallocBits.find)
 * @c: chunk bitmap
 * @npages: length of the run, 1 to %GOMM_CHUNK_PAGES
 * @search_idx: page below which @c has no free page; the search starts at
 *	the word that contains it
 * @new_search_idx: set to the first free page seen (or ~0U if none), a
 *	valid next @search_idx
 *
 * Return: the first page of the lowest run of @npages free pages at or
 * after the word of @search_idx, or ~0U if there is none.
 */
unsigned int gomm_pbits_find(const struct gomm_pchunk *c, unsigned int npages,
			     unsigned int search_idx,
			     unsigned int *new_search_idx)
{
	if (npages == 1) {
		*new_search_idx = pbits_find1(c, search_idx);
		return *new_search_idx;
	}
	if (npages <= 64)
		return pbits_find_small(c, npages, search_idx, new_search_idx);
	return pbits_find_large(c, npages, search_idx, new_search_idx);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pbits_find);

/* pageAlloc (mpagealloc.go). */

static inline unsigned long chunk_index(unsigned long page)
{
	return page >> GOMM_CHUNK_ORDER;
}

static inline unsigned int chunk_page_index(unsigned long page)
{
	return page & (GOMM_CHUNK_PAGES - 1);
}

static inline unsigned long chunk_base(unsigned long ci)
{
	return ci << GOMM_CHUNK_ORDER;
}

/* Go's maxSearchAddr(): the search value meaning "no free page". */
static inline unsigned long max_search(const struct gomm_pagealloc *pa)
{
	return chunk_base(pa->nchunks);
}

/* Go's levelBits[l]: log2 of the entries per block; the root is one block. */
static inline unsigned int level_bits(const struct gomm_pagealloc *pa, int l)
{
	return l ? GOMM_SUM_LEVEL_BITS : pa->l0bits;
}

static inline void assert_locked(const struct gomm_pagealloc *pa)
{
	if (pa->lock)
		lockdep_assert_held(pa->lock);
}

/**
 * gomm_pa_init() - set up an empty page allocator (Go's pageAlloc.init and
 * sysInit)
 * @pa: allocator to initialize
 * @nchunks: chunk indices [0, @nchunks) the allocator can grow into
 * @lock: lock the caller holds around every other call, or NULL
 *
 * Allocates the summary levels for @nchunks and the chunk pointer table;
 * no chunk is grown, so nothing can be allocated yet.
 *
 * Return: 0, -EINVAL if @nchunks is 0 or above %GOMM_PA_MAX_CHUNKS, or
 * -ENOMEM.
 */
int gomm_pa_init(struct gomm_pagealloc *pa, unsigned long nchunks,
		 raw_spinlock_t *lock)
{
	int l;

	if (!nchunks || nchunks > GOMM_PA_MAX_CHUNKS)
		return -EINVAL;

	memset(pa, 0, sizeof(*pa));
	/* The levels below the root cover 2^12 chunks per root entry. */
	pa->l0bits = max(order_base_2(nchunks) -
			 (GOMM_SUM_LEVELS - 1) * GOMM_SUM_LEVEL_BITS, 0);
	pa->nchunks = nchunks;
	pa->search = max_search(pa);
	pa->dirty = GOMM_PA_CLEAN;
	pa->lock = lock;

	pa->chunks = kvcalloc(nchunks, sizeof(*pa->chunks), GFP_KERNEL);
	if (!pa->chunks)
		goto nomem;
	for (l = 0; l < GOMM_SUM_LEVELS; l++) {
		pa->summary[l] = kvcalloc(1UL << (pa->l0bits +
						  l * GOMM_SUM_LEVEL_BITS),
					  sizeof(gomm_psum_t), GFP_KERNEL);
		if (!pa->summary[l])
			goto nomem;
	}
	return 0;

nomem:
	gomm_pa_destroy(pa);
	return -ENOMEM;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_init);

/**
 * gomm_pa_destroy() - free the allocator's metadata
 * @pa: allocator set up by gomm_pa_init()
 *
 * Frees the summaries and the chunk pointer table, not the chunk bitmaps,
 * which belong to the caller.
 */
void gomm_pa_destroy(struct gomm_pagealloc *pa)
{
	int l;

	for (l = 0; l < GOMM_SUM_LEVELS; l++) {
		kvfree(pa->summary[l]);
		pa->summary[l] = NULL;
	}
	kvfree(pa->chunks);
	pa->chunks = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_destroy);

/**
 * gomm_pa_grow() - add a chunk to the allocator (Go's pageAlloc.grow)
 * @pa: allocator
 * @ci: index of the chunk, below @pa->nchunks and not grown before
 * @c: bitmap storage for the chunk, owned by the caller until
 *	gomm_pa_destroy()
 *
 * Unlike Go, where grown memory is free, the chunk starts with every page
 * in use; the caller then frees the pages it owns with gomm_pa_free().  The
 * leaf summary of a chunk that was never grown is already 0 ("no free
 * page"), and @pa->search stays valid, so neither needs updating.
 */
void gomm_pa_grow(struct gomm_pagealloc *pa, unsigned long ci,
		  struct gomm_pchunk *c)
{
	assert_locked(pa);
	if (WARN_ON_ONCE(ci >= pa->nchunks || pa->chunks[ci]))
		return;

	gomm_pbits_set_range(c, 0, GOMM_CHUNK_PAGES);
	/* Like Go, publish the chunk for readers that do not take the lock. */
	smp_store_release(&pa->chunks[ci], c);
	if (pa->start == pa->end) {
		pa->start = ci;
		pa->end = ci + 1;
	} else {
		pa->start = min(pa->start, ci);
		pa->end = max(pa->end, ci + 1);
	}
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_grow);

/*
 * gomm_psum_merge() of the 8 children of a summary entry, cheaper when the
 * last children have no free page (the levels above a machine's physical
 * range are mostly such zeros): merging a zero summary only ends the
 * running end run, so merge(prefix, 0...) == (start, max(max, end), 0).
 */
static gomm_psum_t psum_merge_children(const gomm_psum_t *children,
				       unsigned int log_max_pages)
{
	unsigned int n = 1U << GOMM_SUM_LEVEL_BITS;
	unsigned long start, most, end;
	gomm_psum_t sum;

	while (n > 1 && !children[n - 1])
		n--;
	sum = gomm_psum_merge(children, n, log_max_pages);
	if (n == 1U << GOMM_SUM_LEVEL_BITS || !sum)
		return sum;
	psum_unpack(sum, &start, &most, &end);
	return gomm_psum_pack(start, max(most, end), 0);
}

/*
 * Go's pageAlloc.update(base, npages, contig = true, alloc): recompute the
 * summaries over [page, page + npages) after its bits changed.  The chunks
 * strictly inside the range are entirely in use if @alloc, else free.
 */
static void pa_update(struct gomm_pagealloc *pa, unsigned long page,
		      unsigned long npages, bool alloc)
{
	gomm_psum_t *leaf = pa->summary[GOMM_SUM_LEVELS - 1];
	unsigned long last = page + npages - 1;
	unsigned long sc = chunk_index(page), ec = chunk_index(last), ci, i;
	bool changed = true;
	int l;

	if (sc == ec) {
		gomm_psum_t sum = gomm_pbits_summarize(pa->chunks[sc]);

		/* Fast path: one chunk, and its summary did not change. */
		if (leaf[sc] == sum)
			return;
		leaf[sc] = sum;
	} else {
		leaf[sc] = gomm_pbits_summarize(pa->chunks[sc]);
		for (ci = sc + 1; ci < ec; ci++)
			leaf[ci] = alloc ? 0 : FREE_CHUNK_SUM;
		leaf[ec] = gomm_pbits_summarize(pa->chunks[ec]);
	}

	/* Walk up the tree while the level below changed. */
	for (l = GOMM_SUM_LEVELS - 2; l >= 0 && changed; l--) {
		unsigned int shift = GOMM_SUM_LEVEL_LOG_PAGES(l);

		changed = false;
		/* Go's addrsToSummaryRange(l, base, limit). */
		for (i = page >> shift; i <= last >> shift; i++) {
			const gomm_psum_t *children;
			gomm_psum_t sum;

			children = &pa->summary[l + 1][i << GOMM_SUM_LEVEL_BITS];
			sum = psum_merge_children(children,
						  GOMM_SUM_LEVEL_LOG_PAGES(l + 1));
			if (pa->summary[l][i] != sum) {
				pa->summary[l][i] = sum;
				changed = true;
			}
		}
	}
}

/*
 * Set (@alloc) or clear the bits of [page, page + npages), chunk by chunk:
 * the bitmap half of Go's pageAlloc.allocRange and pageAlloc.free.
 */
static void pa_mark(struct gomm_pagealloc *pa, unsigned long page,
		    unsigned long npages, bool alloc)
{
	unsigned long ci = chunk_index(page);
	unsigned int i = chunk_page_index(page), n;

	for (; npages; npages -= n, ci++, i = 0) {
		n = min_t(unsigned long, npages, GOMM_CHUNK_PAGES - i);
		if (alloc)
			gomm_pbits_set_range(pa->chunks[ci], i, n);
		else
			gomm_pbits_clear_range(pa->chunks[ci], i, n);
	}
}

/**
 * gomm_pa_flush() - bring the dirty chunk's summaries up to date
 * @pa: allocator
 *
 * Called by everything here that reads the summary tree; tests call it
 * before they look at the tree themselves.
 */
void gomm_pa_flush(struct gomm_pagealloc *pa)
{
	unsigned long ci = pa->dirty;

	assert_locked(pa);
	if (ci == GOMM_PA_CLEAN)
		return;
	pa->dirty = GOMM_PA_CLEAN;
	pa_update(pa, chunk_base(ci), GOMM_CHUNK_PAGES, false);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_flush);

/*
 * A page at or below the first page of the run of free pages that ends at
 * @page - 1: that page (@page if @page - 1 is in use or in a chunk that
 * was never grown), found in @page's chunk and the one below it, or
 * @pa->search if the run covers that one too (every page below
 * @pa->search is in use).  Where a free of pages from @page starts its
 * run, for gomm_pa_free().
 */
static unsigned long pa_run_start(const struct gomm_pagealloc *pa,
				  unsigned long page)
{
	unsigned long ci = chunk_index(page);
	unsigned int i = chunk_page_index(page), w, n;
	u64 used;

	for (n = 0; n < 2; n++) {
		/* the highest in-use page of chunk ci below index i */
		while (i) {
			w = (i - 1) / 64;
			used = pa->chunks[ci]->bits[w] & GENMASK_ULL((i - 1) % 64, 0);
			if (used)
				return chunk_base(ci) + w * 64 + fls64(used);
			i = w * 64;
		}
		if (!ci || !pa->chunks[ci - 1])
			return chunk_base(ci);
		ci--;
		i = GOMM_CHUNK_PAGES;
	}
	return pa->search;
}

/* gomm_pa_free() of pages from @page: the floor down to their run's start */
static noinline void pa_lower_floor(struct gomm_pagealloc *pa,
				    unsigned long page)
{
	pa->floor = min(pa->floor, pa_run_start(pa, page));
}

/*
 * Mark [page, page + npages) in use (@alloc) or free.  Within one chunk
 * only the bits change and the chunk becomes the dirty one; a range over
 * several chunks is summarized at once, after the dirty chunk.
 */
static void pa_change(struct gomm_pagealloc *pa, unsigned long page,
		      unsigned long npages, bool alloc)
{
	unsigned long ci = chunk_index(page);
	bool one = ci == chunk_index(page + npages - 1);

	if (!one || ci != pa->dirty)
		gomm_pa_flush(pa);
	pa_mark(pa, page, npages, alloc);
	if (one)
		pa->dirty = ci;
	else
		pa_update(pa, page, npages, alloc);
}

/**
 * gomm_pa_alloc_range() - mark pages in use (Go's pageAlloc.allocRange)
 * @pa: allocator
 * @page: first page
 * @npages: number of pages, at least 1
 *
 * The pages must lie in grown chunks.  @pa->search is not moved.
 */
void gomm_pa_alloc_range(struct gomm_pagealloc *pa, unsigned long page,
			 unsigned long npages)
{
	assert_locked(pa);
	if (WARN_ON_ONCE(!npages))
		return;
	pa_change(pa, page, npages, true);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_alloc_range);

/**
 * gomm_pa_free() - free pages (Go's pageAlloc.free)
 * @pa: allocator
 * @page: first page
 * @npages: number of pages, at least 1
 *
 * The pages must lie in grown chunks.  Lowers @pa->search to @page, and
 * @pa->floor to the first page of the free run the pages join.
 */
void gomm_pa_free(struct gomm_pagealloc *pa, unsigned long page,
		  unsigned long npages)
{
	assert_locked(pa);
	if (WARN_ON_ONCE(!npages))
		return;
	pa->search = min(pa->search, page);
	if (pa->floor > pa->search)
		pa_lower_floor(pa, page);
	pa_change(pa, page, npages, false);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_free);

/* Go's find firstFree window: the first free page is in [base, bound]. */
struct first_free {
	unsigned long base, bound;
};

/*
 * Go's foundFree: narrow @ff to the free region [page, page + npages) if it
 * lies inside it.  Regions passed in are aligned blocks from successive
 * tree levels, so they either nest or are disjoint (Go's "range partially
 * overlaps" cannot happen).
 */
static void found_free(struct first_free *ff, unsigned long page,
		       unsigned long npages)
{
	unsigned long last = page + npages - 1;

	if (ff->base <= page && last <= ff->bound) {
		ff->base = page;
		ff->bound = last;
	}
}

/*
 * Go's pageAlloc.find from page @from, which is @pa->search or a page
 * below which no run of @npages free pages starts (@pa->floor): the
 * lowest such run starts at or above it.  *@new_search is meaningful only
 * when @from is @pa->search.
 */
static unsigned long pa_find(struct gomm_pagealloc *pa, unsigned long npages,
			     unsigned long from, unsigned long *new_search)
{
	struct first_free ff = { .base = 0, .bound = ULONG_MAX };
	unsigned long i = 0;	/* first entry of the block at level l */
	unsigned int pi, idx;
	int l;

	gomm_pa_flush(pa);
	for (l = 0; l < GOMM_SUM_LEVELS; l++) {
		unsigned int log_pages = GOMM_SUM_LEVEL_LOG_PAGES(l);
		unsigned long nentries = 1UL << level_bits(pa, l);
		unsigned long search_idx = from >> log_pages;
		/* Candidate run: size free pages from page base of the block. */
		unsigned long base = 0, size = 0, j = 0, s;
		bool descend = false;
		gomm_psum_t sum;

		i <<= level_bits(pa, l);
		/* Skip the entries below @from if it is in this block. */
		if ((search_idx & ~(nentries - 1)) == i)
			j = search_idx & (nentries - 1);
		for (; j < nentries; j++) {
			sum = pa->summary[l][i + j];
			if (!sum) {
				/* Entirely in use: breaks the run. */
				size = 0;
				continue;
			}
			found_free(&ff, (i + j) << log_pages, 1UL << log_pages);
			s = gomm_psum_start(sum);
			if (size + s >= npages) {
				/* The run ending in entry j is long enough. */
				if (!size)
					base = j << log_pages;
				size += s;
				break;
			}
			if (gomm_psum_max(sum) >= npages) {
				/* Entry j holds a fit: search its children. */
				i += j;
				descend = true;
				break;
			}
			if (!size || s < 1UL << log_pages) {
				/* Start a new run at the end of entry j. */
				size = gomm_psum_end(sum);
				base = ((j + 1) << log_pages) - size;
				continue;
			}
			/* Entry j is entirely free: extend the run. */
			size += 1UL << log_pages;
		}
		if (descend)
			continue;
		if (size >= npages) {
			*new_search = ff.base;
			return (i << log_pages) + base;
		}
		/* At the root no run fits; below it, the parent lied. */
		WARN_ONCE(l, "gomm: bad summary data: level %d entry %lu, npages %lu\n",
			  l, i, npages);
		return GOMM_PA_FAIL;
	}

	/* i is now the index of a chunk whose max fits npages. */
	pi = gomm_pbits_find(pa->chunks[i], npages, 0, &idx);
	if (WARN_ONCE(pi == ~0U, "gomm: bad summary data: chunk %lu, npages %lu\n",
		      i, npages))
		return GOMM_PA_FAIL;
	/* The chunk search found the exact first free page of the chunk. */
	found_free(&ff, chunk_base(i) + idx, GOMM_CHUNK_PAGES - idx);
	*new_search = ff.base;
	return chunk_base(i) + pi;
}

/**
 * gomm_pa_find() - search for free pages (Go's pageAlloc.find)
 * @pa: allocator
 * @npages: number of pages, at least 1
 * @new_search: on success, set to a valid new @pa->search (the first page
 *	that may be free); it may be below @pa->search
 *
 * Walks the summary tree from the root, skipping entries below
 * @pa->search, for the lowest run of @npages free pages.  Changes no
 * allocation state (it brings the dirty chunk's summaries up to date).
 *
 * Return: the first page of the run, or %GOMM_PA_FAIL.
 */
unsigned long gomm_pa_find(struct gomm_pagealloc *pa, unsigned long npages,
			   unsigned long *new_search)
{
	return pa_find(pa, npages, pa->search, new_search);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_find);

/*
 * The fast path of gomm_pa_alloc(): a fit in the chunk of @from (a grown
 * chunk's page), if it is the dirty chunk (its bitmap is searched as is)
 * or its leaf summary promises one (a non-zero leaf summary implies that
 * the chunk was grown).  A fit here is the lowest at or above @from: a run
 * from a lower page of the chunk that straddled into the next chunk would
 * also be a fit in this one.  *@new_search is set as pa_find() sets it.
 */
static __always_inline unsigned long pa_alloc_chunk(struct gomm_pagealloc *pa,
						    unsigned long npages,
						    unsigned long from,
						    unsigned long *new_search)
{
	unsigned long ci = chunk_index(from);
	unsigned int pi = chunk_page_index(from), j, idx;

	if (GOMM_CHUNK_PAGES - pi < npages ||
	    (ci != pa->dirty &&
	     gomm_psum_max(pa->summary[GOMM_SUM_LEVELS - 1][ci]) < npages))
		return GOMM_PA_FAIL;
	j = gomm_pbits_find(pa->chunks[ci], npages, pi, &idx);
	if (j == ~0U) {
		/* a clean leaf that promised a fit was wrong */
		WARN_ONCE(ci != pa->dirty,
			  "gomm: bad summary data: chunk %lu, npages %lu\n",
			  ci, npages);
		return GOMM_PA_FAIL;
	}
	*new_search = chunk_base(ci) + idx;
	return chunk_base(ci) + j;
}

/*
 * gomm_pa_alloc() past the chunk of @pa->search: the search from the floor
 * or from @pa->search, and the floor set to what it finds (out of line:
 * the fast path keeps a short frame).
 */
static noinline unsigned long pa_alloc_find(struct gomm_pagealloc *pa,
					    unsigned long npages,
					    unsigned long *new_search)
{
	unsigned long page = GOMM_PA_FAIL;

	if (npages >= pa->floor_npages && pa->floor > pa->search) {
		/* No run of @npages below the floor: start there. */
		if (chunk_index(pa->floor) < pa->end) {
			page = pa_alloc_chunk(pa, npages, pa->floor, new_search);
			if (page == GOMM_PA_FAIL)
				page = pa_find(pa, npages, pa->floor, new_search);
		}
		*new_search = pa->search;	/* the first free page is below */
	} else {
		page = pa_find(pa, npages, pa->search, new_search);
	}
	if (page == GOMM_PA_FAIL) {
		/* Not even one page is free: the heap is exhausted. */
		if (npages == 1)
			pa->search = max_search(pa);
		/* No run of @npages anywhere, until pages are freed. */
		pa->floor = max_search(pa);
		pa->floor_npages = npages;
		return GOMM_PA_FAIL;
	}
	pa->floor = page;
	pa->floor_npages = npages;
	return page;
}

/**
 * gomm_pa_alloc() - allocate a run of pages (Go's pageAlloc.alloc)
 * @pa: allocator
 * @npages: number of pages, at least 1
 *
 * Address-ordered first fit: returns the lowest run of @npages free pages,
 * marks it in use and raises @pa->search past the pages known to be in use.
 * Past the chunk of @pa->search, the search starts at @pa->floor instead
 * when that is higher and @npages is at least @pa->floor_npages, and
 * leaves @pa->floor at the run it returns: a heap whose low pages are cut
 * into short free runs is not walked again by each multi-page allocation.
 *
 * Return: the first page of the run, or %GOMM_PA_FAIL.
 */
unsigned long gomm_pa_alloc(struct gomm_pagealloc *pa, unsigned long npages)
{
	unsigned long page, new_search;

	assert_locked(pa);
	if (WARN_ON_ONCE(!npages))
		return GOMM_PA_FAIL;
	/* Nothing is free at or above pa->search. */
	if (chunk_index(pa->search) >= pa->end)
		return GOMM_PA_FAIL;
	page = pa_alloc_chunk(pa, npages, pa->search, &new_search);
	if (page == GOMM_PA_FAIL) {
		page = pa_alloc_find(pa, npages, &new_search);
		if (page == GOMM_PA_FAIL)
			return GOMM_PA_FAIL;
	}
	gomm_pa_alloc_range(pa, page, npages);
	pa->search = max(pa->search, new_search);
	return page;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_alloc);

/**
 * gomm_pa_largest_free() - longest run of free pages
 * @pa: allocator
 *
 * Merges the root summaries like Go's mergeSummaries, without packing, as
 * runs may span several root entries.
 *
 * Return: the length of the longest run of free pages.
 */
unsigned long gomm_pa_largest_free(struct gomm_pagealloc *pa)
{
	unsigned long best = 0, run = 0, s, m, e, i;

	gomm_pa_flush(pa);
	for (i = 0; i < 1UL << pa->l0bits; i++) {
		psum_unpack(pa->summary[0][i], &s, &m, &e);
		best = max3(best, run + s, m);
		run = m == GOMM_PSUM_MAX ? run + GOMM_PSUM_MAX : e;
	}
	return best;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_largest_free);

/* The page cache (mpagecache.go). */

/**
 * gomm_pcache_alloc() - pages from a page cache (Go's pageCache.alloc)
 * @c: the cache; its owner's, no lock
 * @npages: number of pages, 1 to 64
 *
 * The lowest run of @npages free pages of the cache.
 *
 * Return: its first page, or %GOMM_PA_FAIL if the cache has no such run.
 */
unsigned long gomm_pcache_alloc(struct gomm_pcache *c, unsigned long npages)
{
	unsigned int i;

	if (!c->cache)
		return GOMM_PA_FAIL;
	if (npages == 1) {
		i = __ffs64(c->cache);
		c->cache &= c->cache - 1;
		return c->base + i;
	}
	i = gomm_find_bit_range64(c->cache, npages);
	if (i >= 64)
		return GOMM_PA_FAIL;
	c->cache &= ~GENMASK_ULL(i + npages - 1, i);
	return c->base + i;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pcache_alloc);

/**
 * gomm_pcache_free() - free pages into the page cache whose block they are in
 * @c: the cache; its owner's, no lock
 * @page: first page
 * @npages: number of pages
 *
 * Pages of the cache's block are in use in the allocator for as long as
 * the cache holds the block, whoever has them: they may be free in the
 * cache as well as in the allocator (gomm_pa_free()).
 *
 * Return: true if the pages are in the cache's block and free in it now;
 * false if they are not (the caller frees them in the allocator).
 */
bool gomm_pcache_free(struct gomm_pcache *c, unsigned long page,
		      unsigned long npages)
{
	unsigned long i = page - c->base;

	if (!c->held || page < c->base || i + npages > GOMM_PCACHE_PAGES)
		return false;
	c->cache |= GENMASK_ULL(i + npages - 1, i);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pcache_free);

/**
 * gomm_pa_alloc_to_cache() - fill a page cache (Go's pageAlloc.allocToCache)
 * @pa: allocator
 *
 * Finds the lowest free page and takes every free page of its 64-page
 * aligned block: marks them in use and returns them as a cache.  Moves
 * @pa->search to the block's last page (every page below it is now in use;
 * Go does not let it point past the block, which may not be grown).
 *
 * Return: the cache, empty (@cache 0) if no page is free.
 */
struct gomm_pcache gomm_pa_alloc_to_cache(struct gomm_pagealloc *pa)
{
	struct gomm_pcache c = {};
	unsigned long page, new_search;
	struct gomm_pchunk *chunk;
	unsigned int w;

	assert_locked(pa);
	if (chunk_index(pa->search) >= pa->end)
		return c;
	page = gomm_pa_find(pa, 1, &new_search);
	if (page == GOMM_PA_FAIL) {
		pa->search = max_search(pa);
		return c;
	}
	c.base = ALIGN_DOWN(page, GOMM_PCACHE_PAGES);
	chunk = pa->chunks[chunk_index(c.base)];
	w = chunk_page_index(c.base) / 64;
	c.cache = ~chunk->bits[w];
	c.held = true;
	/* in use now: the block's allocated pages stay as they are */
	pa_change(pa, c.base, GOMM_PCACHE_PAGES, true);
	pa->search = max(pa->search, c.base + GOMM_PCACHE_PAGES - 1);
	return c;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_alloc_to_cache);

/**
 * gomm_pa_free_cache() - give a page cache back (Go's pageCache.flush)
 * @pa: allocator
 * @c: the cache; empty afterwards
 *
 * Frees the cache's free pages (lowering @pa->search as a free does).
 */
void gomm_pa_free_cache(struct gomm_pagealloc *pa, struct gomm_pcache *c)
{
	unsigned long rs, re, bits = c->cache;

	assert_locked(pa);
	for_each_set_bitrange(rs, re, &bits, GOMM_PCACHE_PAGES)
		gomm_pa_free(pa, c->base + rs, re - rs);
	c->base = 0;
	c->cache = 0;
	c->held = false;
	c->zeroed = 0;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_pa_free_cache);
