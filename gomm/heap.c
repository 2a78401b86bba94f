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
 * Each CPU's page cache (Go's per-P pageCache): the free pages of one
 * 64-page block, taken from the page allocator at once, for spans of up to
 * GOMM_PCACHE_MAX_NPAGES pages without the heap lock.  Used with local
 * interrupts off by its CPU; a dead CPU's is flushed by the control CPU.
 */
static DEFINE_PER_CPU(struct gomm_pcache, gomm_pcache);

/*
 * Each CPU's stash of the structs of large spans it freed, unmapped and
 * DEAD, not yet retired: a large span that gets exactly the same pages
 * again (first fit: a free and the next allocation of the size, in a loop)
 * takes its old struct back instead of a new one and an RCU grace period
 * for the old (the lifetime rule in span.h says why that is safe).  The
 * stash never decides where a span goes, only which struct describes it.
 * Used with local interrupts off by its CPU; flushed with the page cache.
 */
#define GOMM_STASH_SPANS	4

struct gomm_stash {
	struct gomm_span *span[GOMM_STASH_SPANS];
	unsigned int next;	/* the slot the next freed span takes */
};

static DEFINE_PER_CPU(struct gomm_stash, gomm_stash);

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

/*
 * Enter span @s (or &gomm_empty_span) for pages [page, page + npages).
 * Only the pages' owner writes their entries, with no lock: whoever
 * allocated them, before they are handed out, or whoever frees them,
 * before they go back to the page allocator.
 */
static void gomm_heap_map(unsigned long page, unsigned long npages,
			  struct gomm_span *s)
{
	unsigned long g;

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

/*
 * Pages for a span of @npages (at most GOMM_PCACHE_MAX_NPAGES) from this
 * CPU's page cache, refilled first if it is empty (Go's allocSpan with a
 * P).  Only the refill takes the heap lock.
 */
static unsigned long gomm_heap_alloc_cached(unsigned long npages)
{
	struct gomm_pcache *pc;
	unsigned long flags, page;

	local_irq_save(flags);
	pc = this_cpu_ptr(&gomm_pcache);
	if (!pc->cache) {
		raw_spin_lock(&gomm_heap.lock);
		*pc = gomm_pa_alloc_to_cache(&gomm_heap.pa);
		raw_spin_unlock(&gomm_heap.lock);
	}
	page = gomm_pcache_alloc(pc, npages);
	local_irq_restore(flags);
	return page;
}

/*
 * Free pages [@page, @page + @npages): into this CPU's page cache if they
 * are in its block, else into the page allocator.
 */
static void gomm_heap_free_pages(unsigned long page, unsigned long npages)
{
	unsigned long flags;

	local_irq_save(flags);
	if (!gomm_pcache_free(this_cpu_ptr(&gomm_pcache), page, npages)) {
		raw_spin_lock(&gomm_heap.lock);
		gomm_pa_free(&gomm_heap.pa, page, npages);
		raw_spin_unlock(&gomm_heap.lock);
	}
	local_irq_restore(flags);
}

/*
 * Stash freed large span @s (unmapped, DEAD) on this CPU.  Return: the
 * span it pushes out, to retire, or NULL.
 */
static struct gomm_span *gomm_heap_stash(struct gomm_span *s)
{
	struct gomm_stash *st;
	struct gomm_span *old;
	unsigned long flags;

	local_irq_save(flags);
	st = this_cpu_ptr(&gomm_stash);
	old = st->span[st->next];
	st->span[st->next] = s;
	st->next = (st->next + 1) % GOMM_STASH_SPANS;
	local_irq_restore(flags);
	return old;
}

/*
 * The stashed struct of a large span of exactly pages [@page, @page +
 * @npages), made LARGE again for them, or NULL.
 */
static struct gomm_span *gomm_heap_unstash(unsigned long page,
					   unsigned long npages)
{
	struct gomm_span *s = NULL;
	struct gomm_stash *st;
	unsigned long flags;
	unsigned int i;

	local_irq_save(flags);
	st = this_cpu_ptr(&gomm_stash);
	for (i = 0; i < GOMM_STASH_SPANS; i++) {
		s = st->span[i];
		if (s && s->page == page && s->npages == npages) {
			st->span[i] = NULL;
			break;
		}
		s = NULL;
	}
	local_irq_restore(flags);
	if (s)
		gomm_span_revive(s);
	return s;
}

/* Retire every struct @cpu's stash holds (its CPU's IRQs off, or dead). */
static void gomm_heap_flush_stash(int cpu)
{
	struct gomm_stash *st = per_cpu_ptr(&gomm_stash, cpu);
	unsigned int i;

	for (i = 0; i < GOMM_STASH_SPANS; i++) {
		if (st->span[i])
			gomm_span_retire(st->span[i]);
		st->span[i] = NULL;
	}
}

/**
 * gomm_heap_flush_pcache - give a CPU's page cache back to the heap
 * @cpu: this CPU with local interrupts off, or a CPU that is not running
 *
 * Context: any but NMI; takes the heap lock if the cache holds pages.
 */
void gomm_heap_flush_pcache(int cpu)
{
	struct gomm_pcache *pc = per_cpu_ptr(&gomm_pcache, cpu);
	unsigned long flags;

	gomm_heap_flush_stash(cpu);
	/* an empty cache lets go of its block: no lock, nothing is free */
	pc->held = false;
	if (!pc->cache)
		return;
	raw_spin_lock_irqsave(&gomm_heap.lock, flags);
	gomm_pa_free_cache(&gomm_heap.pa, pc);
	raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
}

/**
 * gomm_heap_pcache_holds - does @cpu's page cache hold pages or its stash spans? (racy hint)
 * @cpu: the CPU
 */
bool gomm_heap_pcache_holds(int cpu)
{
	struct gomm_stash *st = per_cpu_ptr(&gomm_stash, cpu);
	unsigned int i;

	for (i = 0; i < GOMM_STASH_SPANS; i++)
		if (READ_ONCE(st->span[i]))
			return true;
	return READ_ONCE(per_cpu_ptr(&gomm_pcache, cpu)->cache);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_heap_pcache_holds);

/**
 * gomm_heap_alloc_span - allocate a span of @npages pages (Go's allocSpan)
 * @npages: gomm pages wanted
 * @spanclass: span class, 0 for a large object
 * @gfp: GFP flags of the allocation that needs the span
 *
 * The span comes back initialised for @spanclass (gomm_span_create()) and
 * entered in the page->span map.  Its pages are the first fit of this
 * CPU's page cache for up to GOMM_PCACHE_MAX_NPAGES pages, else the
 * address-ordered first fit of the page allocator, which grows the heap if
 * needed.  With no page cache holding pages, the lowest fitting pages the
 * heap owns win either way: a cache is filled from the lowest free page.
 *
 * Context: any but NMI; sleeps only if @gfp allows.  No gomm lock held.
 * Return: the span, or NULL if memory cannot be had.
 */
struct gomm_span *gomm_heap_alloc_span(unsigned long npages,
				       unsigned int spanclass, gfp_t gfp)
{
	unsigned long flags, page = GOMM_PA_FAIL;
	struct gomm_span *s = NULL;
	int tries;

	/* a large span's struct comes after its pages: it may be stashed */
	if (spanclass) {
		s = gomm_span_create(npages, spanclass, gfp);
		if (!s)
			return NULL;
	}
	if (npages <= GOMM_PCACHE_MAX_NPAGES)
		page = gomm_heap_alloc_cached(npages);
	/* a grow's pages may be taken by another CPU before we retry */
	for (tries = 0; page == GOMM_PA_FAIL && tries < 4; tries++) {
		raw_spin_lock_irqsave(&gomm_heap.lock, flags);
		page = gomm_pa_alloc(&gomm_heap.pa, npages);
		raw_spin_unlock_irqrestore(&gomm_heap.lock, flags);
		if (page == GOMM_PA_FAIL && !gomm_heap_grow(npages, gfp))
			break;
	}
	if (page == GOMM_PA_FAIL) {
		if (s)
			gomm_span_destroy(s);
		return NULL;
	}
	if (!spanclass) {
		s = gomm_heap_unstash(page, npages);
		if (!s)
			s = gomm_span_create(npages, 0, gfp);
		if (!s) {
			gomm_heap_free_pages(page, npages);
			return NULL;
		}
	}
	gomm_span_place(s, page);
	atomic_long_add(npages, &gomm_heap.pages_in_use);
	if (!spanclass) {
		atomic_long_inc(&gomm_heap.nr_large);
		atomic_long_add(npages, &gomm_heap.large_pages);
	}
	gomm_heap_map(page, npages, s);
	return s;
}

/**
 * gomm_heap_free_span - return a span's pages to the heap (Go's freeSpan)
 * @s: a span no one allocates from any more (a small one off every
 *	mcentral list, a large one whose object was freed)
 *
 * The pages are free at once, in this CPU's page cache if they are of its
 * block; the struct is freed after an RCU grace period (the span lifetime
 * rule in span.h), a large span's when it leaves this CPU's stash.
 *
 * Context: any but NMI; no gomm lock held.
 */
void gomm_heap_free_span(struct gomm_span *s)
{
	WRITE_ONCE(s->kind, GOMM_KIND_NONE);
	gomm_heap_map(s->page, s->npages, &gomm_empty_span);
	if (s->state == GOMM_SPAN_LARGE) {
		atomic_long_dec(&gomm_heap.nr_large);
		atomic_long_sub(s->npages, &gomm_heap.large_pages);
	}
	WRITE_ONCE(s->state, GOMM_SPAN_DEAD);
	atomic_long_sub(s->npages, &gomm_heap.pages_in_use);
	gomm_heap_free_pages(s->page, s->npages);
	if (!s->spanclass)
		s = gomm_heap_stash(s);
	if (s)
		gomm_span_retire(s);
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
		free = gomm_heap.pages_owned - atomic_long_read(&gomm_heap.pages_in_use);
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

/*
 * Module exit: report the large objects still live (found in the span
 * map at their first page), drop their kmemleak records, unmap them (a
 * span's later pages, maybe in the next chunk, are not visited again) and
 * free their span structs.  Returns how many there were.
 */
static unsigned long gomm_heap_exit_large(void)
{
	unsigned long ci, pi, nlarge = 0, bytes = 0;
	struct gomm_span *s;
	struct gomm_chunk *c;

	for (ci = gomm_heap.pa.start; ci < gomm_heap.pa.end; ci++) {
		c = gomm_chunk_of(ci);
		for (pi = 0; c && pi < GOMM_CHUNK_PAGES; pi++) {
			s = c->spans[pi];
			if (s->kind != GOMM_KIND_LARGE || s->page != ci * GOMM_CHUNK_PAGES + pi)
				continue;
			nlarge++;
			bytes += s->elemsize;
			/* its pages go back: so does its kmemleak record */
			kmemleak_free((void *)s->start);
			gomm_heap_map(s->page, s->npages, &gomm_empty_span);
			gomm_span_destroy(s);
		}
	}
	if (nlarge)
		pr_err("gomm: unload: %lu large objects (%lu bytes) still live\n",
		       nlarge, bytes);
	return nlarge;
}

/**
 * gomm_heap_exit - report live large objects, drop their kmemleak records
 * and return every page
 *
 * Context: module exit, after the mcaches, page caches and mcentrals are
 * empty.
 * Return: large objects that were still live.
 */
unsigned long gomm_heap_exit(void)
{
	unsigned long ci, nlarge = gomm_heap_exit_large();
	struct gomm_chunk *c;

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
