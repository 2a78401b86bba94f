// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's mheap: chunks of physical memory taken from the buddy allocator,
 * Go's page allocator (pagealloc.c) over them, spans, and the scavenger
 * that gives free pages back, of any chunk.
 *
 * The heap is indexed by physical address: chunk index = phys >> 22, gomm
 * page number = phys >> 13.  It grows by order-10 (4 MiB) alloc_pages()
 * blocks, which are exactly one chunk; when memory is too fragmented for
 * that it falls back to smaller blocks, and the pages of a chunk that gomm
 * does not own stay marked in use in its bitmap.  Blocks are split into
 * order-0 pages so that any of them can go back on its own.
 *
 * Locking: gomm_heap.lock guards everything here except the lockless
 * readers of the chunk table and the page->span map (see gomm.h).
 */
#include <linux/bitmap.h>
#include <linux/fault-inject.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include "compat.h"

#include "gomm.h"

#define GOMM_CHUNK_KORDER	(GOMM_CHUNK_SHIFT - PAGE_SHIFT)
#define GOMM_KPAGES		(GOMM_PAGE_SIZE / PAGE_SIZE)

struct gomm_heap gomm_heap;
EXPORT_SYMBOL_IF_KUNIT(gomm_heap);

/*
 * What the page->span map holds for pages in no span: a span with an
 * empty window (so an mcache can point at it too) and kind NONE.
 */
struct gomm_span gomm_empty_span = { .kind = GOMM_KIND_NONE };
/* the span map of every chunk gomm does not have */
static struct gomm_span *gomm_empty_map[GOMM_CHUNK_PAGES];
static struct kmem_cache *gomm_chunk_cache;

#ifdef CONFIG_FAULT_INJECTION
/* debugfs gomm/fail_grow: make heap growth fail */
DECLARE_FAULT_ATTR(gomm_fail_grow);

static bool gomm_grow_should_fail(unsigned long npages)
{
	return should_fail(&gomm_fail_grow, npages * GOMM_PAGE_SIZE);
}
#else
static bool gomm_grow_should_fail(unsigned long npages)
{
	return false;
}
#endif

static struct gomm_chunk *gomm_chunk_of(unsigned long ci)
{
	struct gomm_pchunk *pc = READ_ONCE(gomm_heap.pa.chunks[ci]);

	return pc ? container_of(pc, struct gomm_chunk, palloc) : NULL;
}

/**
 * gomm_span_of - find the span that holds an address
 * @p: any pointer
 * @free_page: if not NULL, set to true when @p is in a gomm page that
 *	belongs to no span (a page that was freed: likely a double free)
 *
 * gomm_span_lookup(), and for a page in no span, the chunk's owned bit
 * (the chunk is the one whose map holds the page).
 *
 * Context: any; lockless.
 * Return: the span whose pages contain @p, or NULL.
 */
struct gomm_span *gomm_span_of(const void *p, bool *free_page)
{
	unsigned long off = (unsigned long)p - PAGE_OFFSET;
	struct gomm_span *s = gomm_span_lookup(p), **map;

	if (s != &gomm_empty_span)
		return s;
	if (free_page && off >> GOMM_CHUNK_SHIFT < gomm_heap.nspanmap) {
		map = READ_ONCE(gomm_heap.spanmap[off >> GOMM_CHUNK_SHIFT]);
		*free_page = map != gomm_empty_map &&
			test_bit((off >> GOMM_PAGE_SHIFT) % GOMM_CHUNK_PAGES,
				 container_of(map, struct gomm_chunk, spans[0])->owned);
	}
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_span_of);

/* Enter span @s (or &gomm_empty_span) for pages [page, page + npages). */
static void gomm_heap_map(unsigned long page, unsigned long npages,
			  struct gomm_span *s)
{
	unsigned long g;

	lockdep_assert_held(&gomm_heap.lock);
	/* a lockless reader that finds @s sees it whole (span.h) */
	smp_wmb();
	for (g = page; g < page + npages; g++)
		WRITE_ONCE(gomm_heap.spanmap[g / GOMM_CHUNK_PAGES][g % GOMM_CHUNK_PAGES], s);
}

/**
 * gomm_grow_gfp_high - the GFP flags of heap growth above the minimal order
 * @gfp: the caller's flags, masked with GOMM_GFP_MASK
 *
 * SLUB's allocate_slab() for its preferred order: opportunistic - no
 * warning, no retry, and for a caller that may reclaim, no reclaim at all
 * (direct or kswapd) and no reserves; an order that is not free right now
 * is skipped, not made.  Only the minimal order gets the caller's flags.
 *
 * Return: the flags for every order above the minimal one.
 */
static gfp_t gomm_grow_gfp_high(gfp_t gfp)
{
	gfp |= __GFP_NOWARN | __GFP_NORETRY;
	if (gfp & __GFP_DIRECT_RECLAIM)
		gfp = (gfp | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
	return gfp;
}

/*
 * Take a block from the buddy allocator big enough for @npages gomm pages,
 * preferring a whole chunk, and add its pages to the heap as free pages
 * (Go's mheap.grow + pageAlloc.grow).  The orders above the smallest that
 * fits are tried as SLUB tries its preferred order (gomm_grow_gfp_high()),
 * the smallest with the caller's flags: it may sleep, reclaim and warn as
 * the caller allows.
 */
static bool gomm_heap_grow(unsigned long npages, gfp_t gfp)
{
	unsigned int min_order = order_base_2(npages * GOMM_KPAGES);
	struct gomm_chunk *c, *fresh = NULL;
	struct page *page = NULL;
	unsigned long flags, g, ci, n, i;
	gfp_t high, want;
	int order;

	gfp &= GOMM_GFP_MASK;
	high = gomm_grow_gfp_high(gfp);
	if (!gomm_grow_should_fail(npages)) {
		for (order = GOMM_CHUNK_KORDER; order >= (int)min_order; order--) {
			want = order > min_order ? high : gfp;
			if (gomm_hook_grow_fail(order, want))
				continue;
			page = alloc_pages(want, order);
			if (page)
				break;
		}
	}
	if (!page)
		goto fail;

	g = page_to_phys(page) >> GOMM_PAGE_SHIFT;
	n = (1UL << order) / GOMM_KPAGES;
	ci = g / GOMM_CHUNK_PAGES;
	if (ci >= gomm_heap.pa.nchunks) {
		/* hot-added memory above the range sized at load time */
		__free_pages(page, order);
		goto fail;
	}
	split_page(page, order);
	if (!gomm_chunk_of(ci)) {
		fresh = kmem_cache_zalloc(gomm_chunk_cache, gfp);
		if (!fresh) {
			for (i = 0; i < (1UL << order); i++)
				__free_page(page + i);
			goto fail;
		}
		for (i = 0; i < GOMM_CHUNK_PAGES; i++)
			fresh->spans[i] = &gomm_empty_span;
	}

	raw_spin_lock_irqsave(&gomm_heap.lock, flags);
	c = gomm_chunk_of(ci);
	if (!c) {
		c = fresh;
		fresh = NULL;
		gomm_pa_grow(&gomm_heap.pa, ci, &c->palloc);
		/* gomm_span_lookup() may see the map as soon as it is stored */
		smp_store_release(&gomm_heap.spanmap[ci], c->spans);
		gomm_heap.chunks++;
	}
	bitmap_set(c->owned, g % GOMM_CHUNK_PAGES, n);
	gomm_pa_free(&gomm_heap.pa, g, n);
	gomm_heap.pages_owned += n;
	gomm_heap.grows++;
	raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);

	if (fresh)
		kmem_cache_free(gomm_chunk_cache, fresh);
	return true;
fail:
	atomic_long_inc(&gomm_errors.failed_grow);
	return false;
}

/**
 * gomm_heap_alloc_span - allocate a span of @npages pages (Go's allocSpan)
 * @npages: gomm pages wanted
 * @spanclass: span class, 0 for a large object
 * @gfp: GFP flags of the allocation that needs the span
 *
 * The span comes back initialised for @spanclass: GOMM_SPAN_CACHED with
 * every object free (and no window loaded) for a small class,
 * GOMM_SPAN_LARGE (and on the heap's list of large spans) for class 0.
 * Grows the heap if needed.
 *
 * Context: any but NMI; sleeps only if @gfp allows.  No gomm lock held.
 * Return: the span, or NULL if memory cannot be had.
 */
struct gomm_span *gomm_heap_alloc_span(unsigned long npages,
				       unsigned int spanclass, gfp_t gfp)
{
	struct gomm_span *s;
	unsigned long flags, page;
	int tries;

	s = gomm_span_create(npages, spanclass, gfp);
	if (!s)
		return NULL;

	/* a grow's pages may be taken by another CPU before we retry */
	for (tries = 0; tries < 4; tries++) {
		raw_spin_lock_irqsave(&gomm_heap.lock, flags);
		page = gomm_pa_alloc(&gomm_heap.pa, npages);
		if (page != GOMM_PA_FAIL) {
			gomm_span_place(s, page);
			gomm_heap.pages_in_use += npages;
			if (!spanclass) {
				list_add(&s->list, &gomm_heap.large);
				gomm_heap.nr_large++;
				gomm_heap.large_pages += npages;
			}
			gomm_heap_map(page, npages, s);
			raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
			return s;
		}
		raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
		if (!gomm_heap_grow(npages, gfp))
			break;
	}
	gomm_span_destroy(s);
	return NULL;
}

/**
 * gomm_heap_free_span - return a span's pages to the heap (Go's freeSpan)
 * @s: a span no one allocates from any more (a large one off every list
 *	but the heap's large list or a private one)
 *
 * The pages are free at once; the struct is freed after an RCU grace
 * period (the span lifetime rule in gomm.h).
 *
 * Context: any but NMI; no gomm lock held.
 */
void gomm_heap_free_span(struct gomm_span *s)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&gomm_heap.lock, flags);
	WRITE_ONCE(s->kind, GOMM_KIND_NONE);
	gomm_heap_map(s->page, s->npages, &gomm_empty_span);
	if (s->state == GOMM_SPAN_LARGE) {
		list_del(&s->list);
		gomm_heap.nr_large--;
		gomm_heap.large_pages -= s->npages;
	}
	WRITE_ONCE(s->state, GOMM_SPAN_DEAD);
	gomm_pa_free(&gomm_heap.pa, s->page, s->npages);
	gomm_heap.pages_in_use -= s->npages;
	raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
	gomm_span_retire(s);
}

/*
 * Large objects of up to GOMM_LARGE_CACHE_NPAGES pages: a freed span is
 * kept, still mapped and still on the large list, on a list of its size
 * (up to GOMM_LARGE_CACHE_PAGES pages in all), and the next allocation of
 * that size takes it back - two list operations under the heap lock
 * instead of a page-allocator search, two summary updates and a span's
 * setup and teardown.  It plays the part the buddy allocator's per-CPU
 * lists play for kmalloc()'s large objects.  Its free bit stays set while
 * it is cached, so a second free of it is still a double free.  Drain,
 * the scavenger, the shrinker and unload empty the cache.
 */

/**
 * gomm_heap_alloc_large - a span for a large object of @npages pages
 * @npages: gomm pages
 * @gfp: GFP flags of the allocation
 *
 * Context: any but NMI; sleeps only if @gfp allows.  No gomm lock held.
 * Return: a GOMM_SPAN_LARGE span, or NULL.
 */
struct gomm_span *gomm_heap_alloc_large(unsigned long npages, gfp_t gfp)
{
	struct gomm_span *s = NULL;
	unsigned long flags;

	if (npages <= GOMM_LARGE_CACHE_NPAGES) {
		raw_spin_lock_irqsave(&gomm_heap.lock, flags);
		s = list_first_entry_or_null(&gomm_heap.large_cache[npages],
					     struct gomm_span, list);
		if (s) {
			list_move(&s->list, &gomm_heap.large);
			gomm_heap.large_cached--;
			gomm_heap.large_cached_pages -= npages;
			clear_bit(0, s->free_bits);
		}
		raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
	}
	return s ? s : gomm_heap_alloc_span(npages, 0, gfp);
}

/**
 * gomm_heap_free_large - free a large object's span (its free bit is set)
 * @s: the span
 *
 * Context: any but NMI; no gomm lock held.
 */
void gomm_heap_free_large(struct gomm_span *s)
{
	unsigned long flags;

	if (s->npages <= GOMM_LARGE_CACHE_NPAGES) {
		raw_spin_lock_irqsave(&gomm_heap.lock, flags);
		if (gomm_heap.large_cached_pages + s->npages <= GOMM_LARGE_CACHE_PAGES) {
			list_move(&s->list, &gomm_heap.large_cache[s->npages]);
			gomm_heap.large_cached++;
			gomm_heap.large_cached_pages += s->npages;
			raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
			return;
		}
		raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
	}
	gomm_heap_free_span(s);
}

/**
 * gomm_heap_drain_large - give the cached large spans back to the heap
 *
 * Context: any but NMI; no gomm lock held.
 * Return: spans freed.
 */
unsigned long gomm_heap_drain_large(void)
{
	struct gomm_span *s, *tmp;
	unsigned long flags, n;
	LIST_HEAD(spans);

	raw_spin_lock_irqsave(&gomm_heap.lock, flags);
	for (n = 1; n <= GOMM_LARGE_CACHE_NPAGES; n++)
		list_splice_init(&gomm_heap.large_cache[n], &spans);
	n = gomm_heap.large_cached;
	gomm_heap.large_cached = 0;
	gomm_heap.large_cached_pages = 0;
	raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
	/* gomm_heap_free_span() takes each off this private list */
	list_for_each_entry_safe(s, tmp, &spans, list)
		gomm_heap_free_span(s);
	return n;
}

static void gomm_free_kpages(unsigned long ci, const unsigned long *owned)
{
	unsigned long pi, k;
	struct page *page;

	for_each_set_bit(pi, owned, GOMM_CHUNK_PAGES) {
		page = pfn_to_page(PHYS_PFN(((phys_addr_t)ci * GOMM_CHUNK_PAGES + pi)
					    << GOMM_PAGE_SHIFT));
		for (k = 0; k < GOMM_KPAGES; k++)
			__free_page(page + k);
	}
}

/*
 * Take up to @budget free pages of chunk @ci out of the heap, the highest
 * first (Go's scavenger also works down from the top of the heap, while
 * first fit allocates from the bottom): mark them in use in the page
 * allocator, clear their owned bits, and set them in @release.
 */
static unsigned long gomm_chunk_scavenge(unsigned long ci, struct gomm_chunk *c,
					 unsigned long budget,
					 unsigned long *release)
{
	unsigned long f, rs, re, n = 0;
	int w;

	lockdep_assert_held(&gomm_heap.lock);
	bitmap_zero(release, GOMM_CHUNK_PAGES);
	for (w = ARRAY_SIZE(c->owned) - 1; w >= 0 && n < budget; w--) {
		f = c->owned[w] & ~(unsigned long)c->palloc.bits[w];
		while (f && n < budget) {
			release[w] |= BIT(__fls(f));
			f &= ~BIT(__fls(f));
			n++;
		}
	}
	for_each_set_bitrange(rs, re, release, GOMM_CHUNK_PAGES)
		gomm_pa_alloc_range(&gomm_heap.pa, ci * GOMM_CHUNK_PAGES + rs, re - rs);
	bitmap_andnot(c->owned, c->owned, release, GOMM_CHUNK_PAGES);
	return n;
}

/**
 * gomm_heap_scavenge - give free pages back to the buddy allocator
 * @retain_pages: free gomm pages to keep in the heap
 * @max_pages: release at most this many gomm pages
 *
 * Go's scavenger at page granularity: walks the chunks from the top down
 * and releases free pages, the highest first, of any chunk, whole or
 * partly used, until only @retain_pages free pages are left (or
 * @max_pages went back).  A released page is marked in use in the page
 * allocator and its owned bit is cleared: gomm's "scavenged" state.  Go
 * keeps a scavenged page allocatable and faults it back in at the same
 * address; gomm cannot ask the buddy allocator for one physical page, so
 * heap growth takes back memory wherever alloc_pages() finds it.
 *
 * Context: process; takes the heap lock once per chunk.
 * Return: gomm pages released.
 */
unsigned long gomm_heap_scavenge(unsigned long retain_pages,
				 unsigned long max_pages)
{
	unsigned long release[GOMM_CHUNK_PAGES / BITS_PER_LONG];
	unsigned long ci, n, free, flags, released = 0;
	struct gomm_chunk *c;

	for (ci = gomm_heap.pa.end; ci-- > gomm_heap.pa.start &&
	     released < max_pages;) {
		c = gomm_chunk_of(ci);
		if (!c)
			continue;
		raw_spin_lock_irqsave(&gomm_heap.lock, flags);
		free = gomm_heap.pages_owned - gomm_heap.pages_in_use;
		if (free <= retain_pages) {
			raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
			break;
		}
		n = gomm_chunk_scavenge(ci, c, min(free - retain_pages,
						   max_pages - released), release);
		gomm_heap.pages_owned -= n;
		gomm_heap.released += n;
		raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);

		gomm_free_kpages(ci, release);
		released += n;
		cond_resched();
	}
	return released;
}

/**
 * gomm_heap_init - set up the heap for the machine's physical range
 *
 * Context: module init.
 * Return: 0 or -ENOMEM.
 */
int gomm_heap_init(void)
{
	unsigned long i, nchunks = (__pa((unsigned long)high_memory - 1) >>
				    GOMM_CHUNK_SHIFT) + 1;
	int ret;

	raw_spin_lock_init(&gomm_heap.lock);
	INIT_LIST_HEAD(&gomm_heap.large);
	for (i = 0; i <= GOMM_LARGE_CACHE_NPAGES; i++)
		INIT_LIST_HEAD(&gomm_heap.large_cache[i]);
	for (i = 0; i < GOMM_CHUNK_PAGES; i++)
		gomm_empty_map[i] = &gomm_empty_span;
	gomm_heap.spanmap = kvmalloc_array(nchunks, sizeof(*gomm_heap.spanmap),
					   GFP_KERNEL);
	if (!gomm_heap.spanmap)
		return -ENOMEM;
	for (i = 0; i < nchunks; i++)
		gomm_heap.spanmap[i] = gomm_empty_map;
	gomm_heap.nspanmap = nchunks;
	gomm_chunk_cache = KMEM_CACHE(gomm_chunk, 0);
	if (!gomm_chunk_cache)
		goto nomem;
	ret = gomm_pa_init(&gomm_heap.pa, nchunks, &gomm_heap.lock);
	if (ret)
		goto nomem;
	return 0;
nomem:
	kvfree(gomm_heap.spanmap);
	kmem_cache_destroy(gomm_chunk_cache);
	return -ENOMEM;
}

/**
 * gomm_heap_exit - report live large objects, drop their kmemleak records
 * and return every page
 *
 * Context: module exit, after the mcaches and mcentrals are empty.
 * Return: large objects that were still live.
 */
unsigned long gomm_heap_exit(void)
{
	unsigned long ci, nlarge = 0, bytes = 0;
	struct gomm_span *s, *tmp;
	struct gomm_chunk *c;

	gomm_heap_drain_large();
	list_for_each_entry_safe(s, tmp, &gomm_heap.large, list) {
		nlarge++;
		bytes += s->elemsize;
		/* its pages go back: so does its kmemleak record */
		kmemleak_free((void *)s->start);
		list_del(&s->list);
		gomm_span_destroy(s);
	}
	if (nlarge)
		pr_err("gomm: unload: %lu large objects (%lu bytes) still live\n",
		       nlarge, bytes);
	for (ci = gomm_heap.pa.start; ci < gomm_heap.pa.end; ci++) {
		c = gomm_chunk_of(ci);
		if (!c)
			continue;
		gomm_free_kpages(ci, c->owned);
		kmem_cache_free(gomm_chunk_cache, c);
	}
	gomm_pa_destroy(&gomm_heap.pa);
	kvfree(gomm_heap.spanmap);
	kmem_cache_destroy(gomm_chunk_cache);
	return nlarge;
}
