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
 * Zeroed pages (Go's allocNeedsZero): with init_on_alloc the buddy
 * allocator zeroes every block it hands out, so growth asks for
 * __GFP_ZERO (at no extra cost) and marks the block's pages in their
 * chunk's @zeroed bitmap.  A page taken from the page allocator loses its
 * bit (into a page cache, the bits of its block's free pages go along and
 * come back when it is flushed); a large span whose pages all had theirs
 * is not zeroed again (span->needzero).  Without init_on_alloc no bit is
 * ever set.
 *
 * NUMA: every node with memory has a heap of its own (gomm_heaps[]): its
 * lock, its page allocator over the chunks of that node's memory, its
 * counters and its mcentrals.  The page->span map and the chunk table are
 * one, global (gomm_map), and every chunk records its node.  The local
 * path (gomm_alloc(), the CPUs' mcaches) takes spans from the heap of
 * numa_mem_id(), through the CPU's page cache, and grows it with
 * alloc_pages_node() for that node, which may fall back to another node
 * when this one has no memory: the block then goes to its own node's heap,
 * and the span comes from there.  gomm_alloc_node() asks a node's heap
 * itself and grows it with __GFP_THISNODE.  Frees go to the heap of the
 * span's node.
 *
 * Locking: each heap's lock guards everything of that heap here except
 * the lockless readers of the chunk table and the page->span map (see
 * gomm.h); no two heap locks are held together.
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

struct gomm_map gomm_map;
EXPORT_SYMBOL_IF_KUNIT(gomm_map);
/* each node's heap, NULL for a node without memory when gomm was loaded */
struct gomm_heap *gomm_heaps[MAX_NUMNODES];
EXPORT_SYMBOL_IF_KUNIT(gomm_heaps);
/* the heap of the first node with memory (gomm_local_heap()) */
struct gomm_heap *gomm_heap_first;
EXPORT_SYMBOL_IF_KUNIT(gomm_heap_first);
/* every heap, in node order (gomm_heap_at()), fixed from load to unload */
struct gomm_heap *gomm_heap_list[MAX_NUMNODES];
EXPORT_SYMBOL_IF_KUNIT(gomm_heap_list);
unsigned int gomm_nr_heaps;
EXPORT_SYMBOL_IF_KUNIT(gomm_nr_heaps);
/*
 * Each CPU's page cache (Go's per-P pageCache): the free pages of one
 * 64-page block, taken from the page allocator of the CPU's node at once,
 * for spans of up to GOMM_PCACHE_MAX_NPAGES pages without the heap lock.
 * Used with local interrupts off by its CPU; a dead CPU's is flushed by
 * the control CPU.
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
struct gomm_span gomm_empty_span = {
	.kind = GOMM_KIND_NONE,
	.alloc_word = gomm_empty_span.alloc_bits,
};

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

/* Chunk @ci, or NULL if gomm never had it (lockless: the chunk table). */
static struct gomm_chunk *gomm_chunk_of(unsigned long ci)
{
	struct gomm_span **map = READ_ONCE(gomm_map.spanmap[ci]);

	return map != gomm_empty_map ? container_of(map, struct gomm_chunk, spans[0]) :
				       NULL;
}

/* The heap of gomm page @page, which gomm holds. */
static struct gomm_heap *gomm_page_heap(unsigned long page)
{
	return gomm_heaps[gomm_chunk_of(page / GOMM_CHUNK_PAGES)->node];
}

/* Chunk @ci of heap @h's page allocator, or NULL (lockless). */
static struct gomm_chunk *gomm_heap_chunk(struct gomm_heap *h, unsigned long ci)
{
	struct gomm_pchunk *pc = READ_ONCE(h->pa.chunks[ci]);

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
	if (free_page && off >> GOMM_CHUNK_SHIFT < gomm_map.nspanmap) {
		map = READ_ONCE(gomm_map.spanmap[off >> GOMM_CHUNK_SHIFT]);
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
	unsigned long g = page, end = page + npages, n;
	struct gomm_span **e;

	/* a lockless reader that finds @s sees it whole (span.h) */
	smp_wmb();
	/* one page: most small spans (every class up to 8 KiB and more) */
	if (npages == 1) {
		WRITE_ONCE(gomm_map.spanmap[g / GOMM_CHUNK_PAGES][g % GOMM_CHUNK_PAGES], s);
		return;
	}
	/* a chunk's row at a time: a large span may cross into the next */
	while (g < end) {
		e = gomm_map.spanmap[g / GOMM_CHUNK_PAGES] + g % GOMM_CHUNK_PAGES;
		n = min(end - g, GOMM_CHUNK_PAGES - g % GOMM_CHUNK_PAGES);
		g += n;
		/* four entries a turn for large spans: 512 for 4 MiB */
		for (; n >= 4; n -= 4, e += 4) {
			WRITE_ONCE(e[0], s);
			WRITE_ONCE(e[1], s);
			WRITE_ONCE(e[2], s);
			WRITE_ONCE(e[3], s);
		}
		for (; n; n--, e++)
			WRITE_ONCE(*e, s);
	}
}

/*
 * Pages [@page, @page + @npages) of heap @h were just taken from its page
 * allocator: were they all still zero from the buddy allocator (their
 * chunks' zeroed bits)?  The bits are cleared either way: the pages are the
 * caller's now, written to once it has them.
 */
static bool gomm_heap_take_zeroed(struct gomm_heap *h, unsigned long page,
				  unsigned long npages)
{
	unsigned long end = page + npages, i, n;
	struct gomm_chunk *c;
	bool zero = true;

	lockdep_assert_held(&h->lock);
	if (!gomm_init_alloc)
		return false;
	/* a chunk at a time: a large span may cross into the next */
	for (; page < end; page += n) {
		c = gomm_heap_chunk(h, page / GOMM_CHUNK_PAGES);
		i = page % GOMM_CHUNK_PAGES;
		n = min(end - page, GOMM_CHUNK_PAGES - i);
		if (find_next_zero_bit(c->zeroed, i + n, i) < i + n)
			zero = false;
		bitmap_clear(c->zeroed, i, n);
	}
	return zero;
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
	/*
	 * and only of the node asked for: a remote order-10 block taken
	 * before a local smaller one would send the heap to its fallback node
	 */
	gfp |= __GFP_NOWARN | __GFP_NORETRY | __GFP_THISNODE;
	if (gfp & __GFP_DIRECT_RECLAIM)
		gfp = (gfp | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
	return gfp;
}

/*
 * Give the aligned block of 2^@order kernel pages at @page back to the
 * buddy allocator.  Heap growth split its blocks into order-0 pages
 * (split_page()), so each page gomm owns has a reference of its own and
 * get_page() works on any of them.  If every page has just gomm's
 * reference, the tail pages' are frozen to 0 - the state alloc_pages()
 * without __GFP_COMP leaves them in - and the block goes back in one
 * __free_pages() (a chunk in one call, not 1024 calls of __free_page(),
 * ~490 instructions each on the 6.12 perf kernel).  A page with another
 * reference (a speculative one, or a caller's get_page() on memory it
 * freed) makes the two halves go back on their own, down to that page,
 * which goes back when the other reference is dropped.  With memory
 * allocation profiling the pages go one by one: their tags were split.
 * Return: the blocks given back (calls of the page allocator).
 */
static unsigned long gomm_free_kblock(struct page *page, unsigned int order)
{
	unsigned long i, n = 1UL << order;

	if (!order)
		goto one;
	if (IS_ENABLED(CONFIG_MEM_ALLOC_PROFILING))
		goto halves;
	for (i = 1; i < n; i++)
		if (!page_ref_freeze(page + i, 1))
			break;
	if (i == n) {
		__free_pages(page, order);
		return 1;
	}
	while (--i > 0)
		page_ref_unfreeze(page + i, 1);
halves:
	return gomm_free_kblock(page, order - 1) +
	       gomm_free_kblock(page + n / 2, order - 1);
one:
	__free_page(page);
	return 1;
}

/*
 * The chunk of a block of node @nid at chunk index @ci, made and published
 * if gomm never had it; NULL if it cannot be made or if it is another
 * node's (a node boundary inside the chunk: the block is given back).
 * Lock-free: two growths that make the same chunk race with a cmpxchg of
 * its map entry, and the loser frees its copy.
 */
static struct gomm_chunk *gomm_chunk_get(unsigned long ci, int nid, gfp_t gfp)
{
	struct gomm_chunk *c = gomm_chunk_of(ci), *fresh;
	unsigned long i;

	if (!c) {
		fresh = kmem_cache_alloc_node(gomm_chunk_cache,
					      (gfp & ~__GFP_THISNODE) | __GFP_ZERO, nid);
		if (!fresh)
			return NULL;
		for (i = 0; i < GOMM_CHUNK_PAGES; i++)
			fresh->spans[i] = &gomm_empty_span;
		/* in use until its heap frees the pages it owns */
		gomm_pbits_set_range(&fresh->palloc, 0, GOMM_CHUNK_PAGES);
		fresh->node = nid;
		/* fully ordered: gomm_span_lookup() sees the chunk whole */
		if (cmpxchg(&gomm_map.spanmap[ci], gomm_empty_map, fresh->spans) !=
		    gomm_empty_map)
			kmem_cache_free(gomm_chunk_cache, fresh);
		c = gomm_chunk_of(ci);
	}
	return c->node == nid ? c : NULL;
}

/*
 * Take a block from the buddy allocator big enough for @npages gomm pages,
 * preferring a whole chunk, and add its pages to a heap as free pages
 * (Go's mheap.grow + pageAlloc.grow).  The orders above the smallest that
 * fits are tried as SLUB tries its preferred order (gomm_grow_gfp_high()),
 * the smallest with @gfp: it may sleep, reclaim and warn as the caller
 * allows.  The block is asked of @h's node; with @bound, of that node only
 * (__GFP_THISNODE), else the page allocator may fall back to another node,
 * whose heap then gets the block (and @h remembers it, @h->fallback).
 * *@pagep is set to the first fit of @npages pages in that heap, taken
 * under the same hold of its lock (the block fits them), and *@zeroed to
 * whether they are zero (gomm_heap_take_zeroed()).
 * Return: the heap that got the pages, or NULL.
 */
static struct gomm_heap *gomm_heap_grow(struct gomm_heap *h, unsigned long npages,
					gfp_t gfp, bool bound, unsigned long *pagep,
					bool *zeroed)
{
	unsigned int min_order = order_base_2(npages * GOMM_KPAGES);
	struct gomm_heap *to;
	struct page *page = NULL;
	unsigned long flags, g, ci, n;
	struct gomm_chunk *c;
	gfp_t high, want;
	int order;

	gfp &= GOMM_GFP_MASK;
	if (bound)
		gfp |= __GFP_THISNODE;
	/* init_on_alloc zeroes the block anyway: __GFP_ZERO says it is zero */
	if (gomm_init_alloc)
		gfp |= __GFP_ZERO;
	high = gomm_grow_gfp_high(gfp);
	if (!gomm_grow_should_fail(npages)) {
		for (order = GOMM_CHUNK_KORDER; order >= (int)min_order; order--) {
			want = order > min_order ? high : gfp;
			if (gomm_hook_grow_fail(order, want))
				continue;
			page = alloc_pages_node(h->node, want, order);
			if (page)
				break;
		}
	}
	if (!page)
		goto fail;

	g = page_to_phys(page) >> GOMM_PAGE_SHIFT;
	n = (1UL << order) / GOMM_KPAGES;
	ci = g / GOMM_CHUNK_PAGES;
	to = gomm_node_heap(page_to_nid(page));
	if (ci >= gomm_map.nspanmap || !to) {
		/* hot-added memory: above the range sized at load, or a new node */
		__free_pages(page, order);
		goto fail;
	}
	split_page(page, order);
	c = gomm_chunk_get(ci, to->node, gfp);
	if (!c) {
		gomm_free_kblock(page, order);
		goto fail;
	}

	raw_spin_lock_irqsave(&to->lock, flags);
	if (!to->pa.chunks[ci]) {
		gomm_pa_grow(&to->pa, ci, &c->palloc);
		to->chunks++;
	}
	bitmap_set(c->owned, g % GOMM_CHUNK_PAGES, n);
	if (gfp & __GFP_ZERO)
		bitmap_set(c->zeroed, g % GOMM_CHUNK_PAGES, n);
	gomm_pa_free(&to->pa, g, n);
	to->pages_owned += n;
	to->grows++;
	/*
	 * The grower's pages, under the same hold of the lock: taken after
	 * it was dropped, other CPUs' allocations could have used them up
	 * before every retry, and a GFP_KERNEL allocation failed with the
	 * memory there (seen under the pressure check's four threads).
	 */
	*pagep = gomm_pa_alloc(&to->pa, npages);
	if (*pagep != GOMM_PA_FAIL)
		*zeroed = gomm_heap_take_zeroed(to, *pagep, npages);
	raw_spin_unlock_irqrestore(&to->lock, flags);
	if (!bound)
		WRITE_ONCE(h->fallback, to == h ? NUMA_NO_NODE : to->node);
	return to;
fail:
	atomic_long_inc(&gomm_errors.failed_grow);
	return NULL;
}

/*
 * The first fit of @npages pages in heap @h's page allocator; *@zeroed is
 * set to whether they are zero (gomm_heap_take_zeroed()).
 */
static unsigned long gomm_heap_alloc_pages(struct gomm_heap *h,
					   unsigned long npages, bool *zeroed)
{
	unsigned long flags, page;

	raw_spin_lock_irqsave(&h->lock, flags);
	page = gomm_pa_alloc(&h->pa, npages);
	if (page != GOMM_PA_FAIL)
		*zeroed = gomm_heap_take_zeroed(h, page, npages);
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return page;
}

/* The word of the chunk's zeroed bitmap that page cache block @base is. */
static unsigned long *gomm_pcache_zeroed(struct gomm_heap *h, unsigned long base)
{
	struct gomm_chunk *c = gomm_heap_chunk(h, base / GOMM_CHUNK_PAGES);

	/* one word a block, as @pc->zeroed is (pagealloc.c assumes it too) */
	BUILD_BUG_ON(BITS_PER_LONG != GOMM_PCACHE_PAGES);
	lockdep_assert_held(&h->lock);
	return &c->zeroed[base % GOMM_CHUNK_PAGES / BITS_PER_LONG];
}

/*
 * Pages for a span of @npages (at most GOMM_PCACHE_MAX_NPAGES) from this
 * CPU's page cache, refilled first from the local node's heap if it is
 * empty (Go's allocSpan with a P).  Only the refill takes the heap lock.
 * *@hp is set to the heap of the pages, *@zeroed to whether they are zero
 * (the block's zeroed bits move into the cache with its free pages).
 */
static unsigned long gomm_heap_alloc_cached(unsigned long npages,
					    struct gomm_heap **hp, bool *zeroed)
{
	struct gomm_pcache *pc;
	unsigned long flags, page;
	unsigned long *w;
	struct gomm_heap *h;
	u64 mask;

	local_irq_save(flags);
	pc = this_cpu_ptr(&gomm_pcache);
	if (!pc->cache) {
		h = gomm_local_heap();
		raw_spin_lock(&h->lock);
		*pc = gomm_pa_alloc_to_cache(&h->pa);
		if (pc->cache && gomm_init_alloc) {
			w = gomm_pcache_zeroed(h, pc->base);
			pc->zeroed = *w & pc->cache;
			*w &= ~pc->cache;
		}
		raw_spin_unlock(&h->lock);
	}
	page = gomm_pcache_alloc(pc, npages);
	if (page != GOMM_PA_FAIL && gomm_init_alloc) {
		mask = GENMASK_ULL(page - pc->base + npages - 1, page - pc->base);
		*zeroed = (pc->zeroed & mask) == mask;
		pc->zeroed &= ~mask;
	}
	local_irq_restore(flags);
	if (page != GOMM_PA_FAIL)
		*hp = gomm_page_heap(page);
	return page;
}

/*
 * Free pages [@page, @page + @npages) of heap @h: into this CPU's page
 * cache if they are in its block (a block is of one chunk, so of @h), else
 * into @h's page allocator.
 */
static void gomm_heap_free_pages(struct gomm_heap *h, unsigned long page,
				 unsigned long npages)
{
	unsigned long flags;

	local_irq_save(flags);
	if (!gomm_pcache_free(this_cpu_ptr(&gomm_pcache), page, npages)) {
		raw_spin_lock(&h->lock);
		gomm_pa_free(&h->pa, page, npages);
		raw_spin_unlock(&h->lock);
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
	struct gomm_heap *h;

	gomm_heap_flush_stash(cpu);
	/* the structs the stash retired, and the others this CPU retired */
	gomm_span_retire_flush(cpu);
	/* an empty cache lets go of its block: no lock, nothing is free */
	pc->held = false;
	if (!pc->cache)
		return;
	/* the block's node: its CPU's, unless the CPU's node changed */
	h = gomm_page_heap(pc->base);
	raw_spin_lock_irqsave(&h->lock, flags);
	/* the free pages still zero keep their bits in the heap */
	*gomm_pcache_zeroed(h, pc->base) |= pc->zeroed;
	gomm_pa_free_cache(&h->pa, pc);
	raw_spin_unlock_irqrestore(&h->lock, flags);
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
 * @node: the node whose memory the span must be of (gomm_alloc_node()), or
 *	NUMA_NO_NODE for the local node with the page allocator's fallback
 *
 * The span comes back initialised for @spanclass (gomm_span_create()) and
 * entered in the page->span map.  With NUMA_NO_NODE its pages are the first
 * fit of this CPU's page cache for up to GOMM_PCACHE_MAX_NPAGES pages, else
 * the address-ordered first fit of the local node's page allocator, then
 * of the heap its last growth fell back to, which grows if needed (onto
 * another node if the page allocator finds no memory on this one).  With
 * no page cache holding pages, the lowest fitting pages the heap owns win
 * either way: a cache is filled from the lowest free page.  With @node,
 * the first fit of that node's page allocator, which grows with
 * __GFP_THISNODE; no page cache (the caches hold their CPU's node's pages).
 *
 * Context: any but NMI; sleeps only if @gfp allows.  No gomm lock held.
 * @node, if not NUMA_NO_NODE, has a heap.
 * Return: the span, or NULL if memory cannot be had.
 */
struct gomm_span *gomm_heap_alloc_span(unsigned long npages,
				       unsigned int spanclass, gfp_t gfp,
				       int node)
{
	unsigned long page = GOMM_PA_FAIL;
	bool bound = node != NUMA_NO_NODE, zeroed = false;
	struct gomm_heap *h, *fb, *g;
	struct gomm_span *s = NULL;

	/* a large span's struct comes after its pages: it may be stashed */
	if (spanclass) {
		s = gomm_span_create(npages, spanclass, gfp, node);
		if (!s)
			return NULL;
	}
	h = bound ? gomm_heaps[node] : gomm_local_heap();
	if (!bound && npages <= GOMM_PCACHE_MAX_NPAGES)
		page = gomm_heap_alloc_cached(npages, &h, &zeroed);
	if (page == GOMM_PA_FAIL)
		page = gomm_heap_alloc_pages(h, npages, &zeroed);
	/* this node had no memory last time: use what it got elsewhere */
	fb = bound ? NULL : gomm_node_heap(READ_ONCE(h->fallback));
	if (page == GOMM_PA_FAIL && fb && fb != h) {
		page = gomm_heap_alloc_pages(fb, npages, &zeroed);
		if (page != GOMM_PA_FAIL)
			h = fb;
	}
	if (page == GOMM_PA_FAIL) {
		/* the pages go to the heap of the block's node */
		g = gomm_heap_grow(h, npages, gfp, bound, &page, &zeroed);
		if (g)
			h = g;
	}
	if (page == GOMM_PA_FAIL) {
		if (s)
			gomm_span_destroy(s);
		return NULL;
	}
	if (!spanclass) {
		s = gomm_heap_unstash(page, npages);
		if (!s)
			s = gomm_span_create(npages, 0, gfp, h->node);
		if (!s) {
			gomm_heap_free_pages(h, page, npages);
			return NULL;
		}
	}
	gomm_span_place(s, page, h->node);
	s->needzero = !zeroed;
	atomic_long_add(npages, &h->pages_in_use);
	if (!spanclass) {
		atomic_long_inc(&h->nr_large);
		atomic_long_add(npages, &h->large_pages);
	}
	gomm_heap_map(page, npages, s);
	return s;
}

/* gomm_heap_free_span() up to the pages' return: out of the map, DEAD */
static void gomm_heap_unmap_span(struct gomm_heap *h, struct gomm_span *s)
{
	WRITE_ONCE(s->kind, GOMM_KIND_NONE);
	gomm_heap_map(s->page, s->npages, &gomm_empty_span);
	if (s->state == GOMM_SPAN_LARGE) {
		atomic_long_dec(&h->nr_large);
		atomic_long_sub(s->npages, &h->large_pages);
	}
	WRITE_ONCE(s->state, GOMM_SPAN_DEAD);
	atomic_long_sub(s->npages, &h->pages_in_use);
}

/**
 * gomm_heap_free_span - return a span's pages to the heap (Go's freeSpan)
 * @s: a span no one allocates from any more (a small one off every
 *	mcentral list, a large one whose object was freed)
 *
 * The pages go back to the heap of the span's node, at once, into this
 * CPU's page cache if they are of its block; the struct is freed after an
 * RCU grace period (the span lifetime rule in span.h), a large span's when
 * it leaves this CPU's stash.
 *
 * Context: any but NMI; no gomm lock held.
 */
void gomm_heap_free_span(struct gomm_span *s)
{
	struct gomm_heap *h = gomm_heaps[s->node];

	gomm_heap_unmap_span(h, s);
	gomm_heap_free_pages(h, s->page, s->npages);
	if (!s->spanclass)
		s = gomm_heap_stash(s);
	if (s)
		gomm_span_retire(s);
}

/**
 * gomm_heap_free_spans - gomm_heap_free_span() for a list of small spans
 * @spans: small spans off every mcentral list, linked by their @list
 *	(emptied)
 *
 * As gomm_heap_free_span() for each, but the pages of spans that follow
 * one another in the list and are neighbours in memory go back to the
 * heap as one run: one summary-tree update and one lock round trip for
 * the run, not one a span.  A reclaimer's list holds the spans a batch
 * emptied in the order they were allocated or in its reverse: address
 * order either way, by first fit.
 *
 * Context: any but NMI; no gomm lock held.
 */
void gomm_heap_free_spans(struct list_head *spans)
{
	unsigned long page = 0, npages = 0;
	struct gomm_heap *h = NULL, *g;
	struct gomm_span *s, *tmp;

	list_for_each_entry_safe(s, tmp, spans, list) {
		list_del(&s->list);
		g = gomm_heaps[s->node];
		/* a run grows at either end, within one heap */
		if (npages && (g != h || (s->page != page + npages &&
					  s->page + s->npages != page))) {
			gomm_heap_free_pages(h, page, npages);
			npages = 0;
		}
		if (!npages || s->page < page)
			page = s->page;
		npages += s->npages;
		h = g;
		gomm_heap_unmap_span(h, s);
		gomm_span_retire(s);
	}
	if (npages)
		gomm_heap_free_pages(h, page, npages);
}

/*
 * Give gomm pages @owned (a bitmap) of chunk @ci back to the buddy
 * allocator, in the largest aligned blocks their runs make.  The blocks
 * stay inside the chunk, whose pages are all of one node and zone.
 * Return: the blocks given back.
 */
static unsigned long gomm_free_kpages(unsigned long ci, const unsigned long *owned)
{
	unsigned long rs, re, pfn, end, blocks = 0;
	unsigned int order;

	for_each_set_bitrange(rs, re, owned, GOMM_CHUNK_PAGES) {
		pfn = PHYS_PFN(((phys_addr_t)ci * GOMM_CHUNK_PAGES + rs) << GOMM_PAGE_SHIFT);
		end = pfn + (re - rs) * GOMM_KPAGES;
		while (pfn < end) {
			order = min3((unsigned int)__ffs(pfn), (unsigned int)ilog2(end - pfn),
				     (unsigned int)GOMM_CHUNK_KORDER);
			blocks += gomm_free_kblock(pfn_to_page(pfn), order);
			pfn += 1UL << order;
		}
	}
	return blocks;
}

/*
 * Take up to @budget free pages of chunk @ci of heap @h out of the heap,
 * the highest first (Go's scavenger also works down from the top of the
 * heap, while first fit allocates from the bottom): mark them in use in
 * the page allocator, clear their owned bits, and set them in @release.
 */
static unsigned long gomm_chunk_scavenge(struct gomm_heap *h, unsigned long ci,
					 struct gomm_chunk *c, unsigned long budget,
					 unsigned long *release)
{
	unsigned long f, k, rs, re, n = 0;
	int w;

	lockdep_assert_held(&h->lock);
	bitmap_zero(release, GOMM_CHUNK_PAGES);
	/* a word at a time; in the word that ends the budget, its top pages */
	for (w = ARRAY_SIZE(c->owned) - 1; w >= 0 && n < budget; w--) {
		f = c->owned[w] & ~(unsigned long)c->palloc.bits[w];
		for (k = hweight_long(f); k > budget - n; k--)
			f &= f - 1;
		release[w] = f;
		n += k;
	}
	for_each_set_bitrange(rs, re, release, GOMM_CHUNK_PAGES)
		gomm_pa_alloc_range(&h->pa, ci * GOMM_CHUNK_PAGES + rs, re - rs);
	bitmap_andnot(c->owned, c->owned, release, GOMM_CHUNK_PAGES);
	bitmap_andnot(c->zeroed, c->zeroed, release, GOMM_CHUNK_PAGES);
	return n;
}

/*
 * Free pages held by every node's heap (owned, in no span): exact for a
 * heap whose lock the caller holds, a snapshot of the others.
 */
static unsigned long gomm_heap_free_total(void)
{
	unsigned long free = 0;
	struct gomm_heap *h;
	long n;
	unsigned int hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
		n = READ_ONCE(h->pages_owned) - atomic_long_read(&h->pages_in_use);
		free += max(n, 0L);
	}
	return free;
}

/**
 * gomm_heap_scavenge - give free pages back to the buddy allocator
 * @retain_pages: free gomm pages to keep, all nodes' heaps together
 * @max_pages: release at most this many gomm pages
 *
 * Go's scavenger at page granularity: walks each node's heap, node by
 * node, its chunks from the top down, and releases free pages, the highest
 * first, of any chunk, whole or partly used, until only @retain_pages free
 * pages are left in all heaps (or @max_pages went back).  A released page
 * is marked in use in the page allocator and its owned bit is cleared:
 * gomm's "scavenged" state.  Go keeps a scavenged page allocatable and
 * faults it back in at the same address; gomm cannot ask the buddy
 * allocator for one physical page, so heap growth takes back memory
 * wherever alloc_pages_node() finds it.
 *
 * Context: process; takes a heap lock once per chunk.
 * Return: gomm pages released.
 */
unsigned long gomm_heap_scavenge(unsigned long retain_pages,
				 unsigned long max_pages)
{
	unsigned long release[GOMM_CHUNK_PAGES / BITS_PER_LONG];
	unsigned long ci, n, free, flags, released = 0;
	struct gomm_chunk *c;
	struct gomm_heap *h;
	unsigned int hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
		for (ci = READ_ONCE(h->pa.end); ci-- > READ_ONCE(h->pa.start) &&
		     released < max_pages;) {
			c = gomm_heap_chunk(h, ci);
			if (!c)
				continue;
			raw_spin_lock_irqsave(&h->lock, flags);
			free = gomm_heap_free_total();
			if (free <= retain_pages) {
				raw_spin_unlock_irqrestore(&h->lock, flags);
				return released;
			}
			n = gomm_chunk_scavenge(h, ci, c, min(free - retain_pages,
							      max_pages - released),
						release);
			h->pages_owned -= n;
			h->released += n;
			raw_spin_unlock_irqrestore(&h->lock, flags);

			atomic_long_add(gomm_free_kpages(ci, release),
					&h->blocks_released);
			released += n;
			cond_resched();
		}
	}
	return released;
}

/**
 * gomm_heap_free_estimate - free pages held by all heaps (the shrinker)
 *
 * Context: any; lockless, a snapshot.
 * Return: gomm pages owned and in no span, every node's heap together.
 */
unsigned long gomm_heap_free_estimate(void)
{
	return gomm_heap_free_total();
}

/* Sum heap @h's counters into @st (its largest run: the larger). */
static void gomm_heap_stats_add(struct gomm_heap *h, struct gomm_heap_stats *st)
{
	unsigned long flags;
	unsigned int sc;

	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++)
		st->spans += READ_ONCE(h->central[sc].nr_spans);
	raw_spin_lock_irqsave(&h->lock, flags);
	st->chunks += h->chunks;
	st->pages_owned += h->pages_owned;
	st->pages_in_use += atomic_long_read(&h->pages_in_use);
	st->large_pages += atomic_long_read(&h->large_pages);
	st->nr_large += atomic_long_read(&h->nr_large);
	st->released += h->released;
	st->blocks_released += atomic_long_read(&h->blocks_released);
	st->large_prezeroed += atomic_long_read(&h->large_prezeroed);
	st->grows += h->grows;
	st->largest_free = max(st->largest_free, gomm_pa_largest_free(&h->pa));
	raw_spin_unlock_irqrestore(&h->lock, flags);
}

/**
 * gomm_heap_stats - a node's heap counters, or every node's summed
 * @node: a node, or NUMA_NO_NODE for the totals of every node's heap
 * @st: filled in; all zero for a node without a heap
 *
 * Each heap is read under its lock; the totals add the heaps one after the
 * other (a snapshot while gomm is in use, exact when it is idle).
 *
 * Context: any but NMI; takes each heap's lock in turn.
 */
void gomm_heap_stats(int node, struct gomm_heap_stats *st)
{
	struct gomm_heap *h;
	unsigned int hi;

	memset(st, 0, sizeof(*st));
	if (node != NUMA_NO_NODE) {
		h = gomm_node_heap(node);
		if (h)
			gomm_heap_stats_add(h, st);
		return;
	}
	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		gomm_heap_stats_add(h, st);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_heap_stats);

/* Free a node's heap (its chunks are freed with the heap that owns them). */
static void gomm_heap_destroy(struct gomm_heap *h)
{
	gomm_pa_destroy(&h->pa);
	gomm_heaps[h->node] = NULL;
	kfree(h);
}

/**
 * gomm_heap_init - set up the map for the machine's physical range, and a
 * heap for each node with memory
 *
 * Nodes that get memory later (node hotplug) have no heap: their CPUs use
 * the first node's heap, and growth gives blocks of such a node back.
 *
 * Context: module init.
 * Return: 0 or -ENOMEM.
 */
int gomm_heap_init(void)
{
	unsigned long i, nchunks = (__pa((unsigned long)high_memory - 1) >>
				    GOMM_CHUNK_SHIFT) + 1;
	struct gomm_heap *h;
	unsigned int hi;
	int nid;

	for (i = 0; i < GOMM_CHUNK_PAGES; i++)
		gomm_empty_map[i] = &gomm_empty_span;
	gomm_map.spanmap = kvmalloc_array(nchunks, sizeof(*gomm_map.spanmap),
					  GFP_KERNEL);
	if (!gomm_map.spanmap)
		return -ENOMEM;
	for (i = 0; i < nchunks; i++)
		gomm_map.spanmap[i] = gomm_empty_map;
	gomm_map.nspanmap = nchunks;
	gomm_chunk_cache = KMEM_CACHE(gomm_chunk, 0);
	if (!gomm_chunk_cache)
		goto nomem;
	for_each_node_state(nid, N_NORMAL_MEMORY) {
		h = kzalloc_node(sizeof(*h), GFP_KERNEL, nid);
		if (!h)
			goto nomem;
		raw_spin_lock_init(&h->lock);
		h->node = nid;
		h->fallback = NUMA_NO_NODE;
		if (gomm_pa_init(&h->pa, nchunks, &h->lock)) {
			kfree(h);
			goto nomem;
		}
		gomm_mcentral_init(h);
		gomm_heaps[nid] = h;
		gomm_heap_list[gomm_nr_heaps++] = h;
	}
	gomm_heap_first = gomm_heap_list[0];
	if (gomm_heap_first)
		return 0;
nomem:
	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		gomm_heap_destroy(h);
	gomm_nr_heaps = 0;
	gomm_heap_first = NULL;
	kvfree(gomm_map.spanmap);
	kmem_cache_destroy(gomm_chunk_cache);
	return -ENOMEM;
}

/*
 * Module exit: report the large objects of heap @h still live (found in
 * the span map at their first page), drop their kmemleak records, unmap
 * them (a span's later pages, maybe in the next chunk, are not visited
 * again) and free their span structs.  Adds them to *@nlarge, *@bytes.
 */
static void gomm_heap_exit_large(struct gomm_heap *h, unsigned long *nlarge,
				 unsigned long *bytes)
{
	struct gomm_chunk *c;
	struct gomm_span *s;
	unsigned long ci, pi;

	for (ci = h->pa.start; ci < h->pa.end; ci++) {
		c = gomm_heap_chunk(h, ci);
		for (pi = 0; c && pi < GOMM_CHUNK_PAGES; pi++) {
			s = c->spans[pi];
			if (s->kind != GOMM_KIND_LARGE || s->page != ci * GOMM_CHUNK_PAGES + pi)
				continue;
			(*nlarge)++;
			*bytes += s->elemsize;
			/* its pages go back: so does its kmemleak record */
			kmemleak_free((void *)s->start);
			gomm_heap_map(s->page, s->npages, &gomm_empty_span);
			gomm_span_destroy(s);
		}
	}
}

/**
 * gomm_heap_exit - report live large objects, drop their kmemleak records
 * and return every page, of every node's heap
 *
 * Context: module exit, after the mcaches, page caches and mcentrals are
 * empty.
 * Return: large objects that were still live.
 */
unsigned long gomm_heap_exit(void)
{
	unsigned long ci, nlarge = 0, bytes = 0;
	struct gomm_chunk *c;
	struct gomm_heap *h;
	unsigned int hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		gomm_heap_exit_large(h, &nlarge, &bytes);
	if (nlarge)
		pr_err("gomm: unload: %lu large objects (%lu bytes) still live\n",
		       nlarge, bytes);
	for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
		for (ci = h->pa.start; ci < h->pa.end; ci++) {
			c = gomm_heap_chunk(h, ci);
			if (!c)
				continue;
			gomm_free_kpages(ci, c->owned);
			kmem_cache_free(gomm_chunk_cache, c);
		}
		gomm_heap_destroy(h);
	}
	gomm_nr_heaps = 0;
	gomm_heap_first = NULL;
	kvfree(gomm_map.spanmap);
	kmem_cache_destroy(gomm_chunk_cache);
	return nlarge;
}
