// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's mcentral: per size class and node, the spans no CPU is allocating
 * from.  Each node's heap has its own (Go's mheap.central); a span goes back
 * to the mcentral of its own node (gomm_span_central()), whichever CPU
 * frees into it or uncaches it.
 *
 * Each has a raw spinlock (IRQ-safe), a partial list (spans with free
 * objects, or with frees not yet swept) and a full list.  The lock holder
 * owns the allocation state of every span on the lists, so it may sweep
 * them: fold the frees that gomm_free() recorded in free_bits into
 * alloc_bits, the way Go's sweeper turns mark bits into alloc bits.
 */
#include <linux/spinlock.h>
#include "compat.h"

#include "gomm.h"

/*
 * Put an uncached span on the right list: the full list only if it is
 * still full once FULL is published (the FULL hand-off in span.h).  @c is
 * the span's mcentral, locked (nolock.c takes it with a trylock).
 */
void gomm_mcentral_put(struct gomm_mcentral *c, struct gomm_span *s)
{
	lockdep_assert_held(&c->lock);
	if (s->alloc_count == s->nelems && gomm_span_publish_full(s)) {
		/* at the tail: a rescan (nolock.c) walks from the head */
		list_add_tail(&s->list, &c->full);
		c->nr_full++;
		return;
	}
	WRITE_ONCE(s->state, GOMM_SPAN_PARTIAL);
	list_add_tail(&s->list, &c->partial);
	c->nr_partial++;
}

/**
 * gomm_mcentral_pop - a partial span with free objects for a cache
 * @c: an mcentral, locked
 * @todo: partial spans to look at, at most
 * @swept: frees swept are added here (the caller counts them)
 *
 * Each span once at most: gomm_mcentral_put() adds at the tail, so a span
 * that cannot serve (its only free bit was a bogus one) is not popped
 * again in this call.
 *
 * Return: a GOMM_SPAN_CACHED span with a window loaded, or NULL.
 */
struct gomm_span *gomm_mcentral_pop(struct gomm_mcentral *c,
				    unsigned long todo, unsigned int *swept)
{
	struct gomm_span *s;

	lockdep_assert_held(&c->lock);
	for (; todo; todo--) {
		s = list_first_entry(&c->partial, struct gomm_span, list);
		list_del(&s->list);
		c->nr_partial--;
		*swept += __gomm_span_sweep(s);
		/* from object 0: a bogus free bit may have hidden a free object */
		s->freeindex = 0;
		if (gomm_span_load_window(s)) {
			WRITE_ONCE(s->state, GOMM_SPAN_CACHED);
			return s;
		}
		gomm_mcentral_put(c, s);
	}
	return NULL;
}

/*
 * gomm_mcentral_cache() from mcentral @c, after putting back @old (if not
 * NULL), an uncached span of @c's: one lock round trip for both.
 */
static struct gomm_span *gomm_mcentral_cache_of(struct gomm_mcentral *c,
						struct gomm_span *old)
{
	unsigned int swept = 0;
	struct gomm_span *s;
	unsigned long flags;

	/*
	 * Under the lock even when the list looks empty: a lock holder that
	 * moves its only span (gomm_mcentral_reclaim_class(), a span put
	 * back by gomm_mcentral_pop()) empties it for a moment, and a caller
	 * that took that at its word would grow - or fail - instead.
	 */
	raw_spin_lock_irqsave(&c->lock, flags);
	if (old)
		gomm_mcentral_put(c, old);
	s = gomm_mcentral_pop(c, c->nr_partial, &swept);
	/* whoever sweeps counts the frees, on its own CPU (gomm_stats_cpu()) */
	if (swept)
		this_cpu_add(gomm_mcache.nswept, swept);
	raw_spin_unlock_irqrestore(&c->lock, flags);
	return s;
}

/**
 * gomm_mcentral_cache - take a span with free objects for an mcache
 * @spanclass: span class
 * @old: the span of @spanclass the mcache is done with (its mcache no
 *	longer points at it, its window unloaded), or NULL: put back first,
 *	as gomm_mcentral_uncache() does, in the same lock round trip when it
 *	is of the local node's mcentral
 *
 * Go's mcentral.cacheSpan, without growing: the caller grows the heap
 * with gomm_mcentral_grow() (which may sleep) when this returns NULL.
 * From the local node's mcentral, then from the one of the node its heap
 * last fell back to (gomm_heap.fallback).
 *
 * Context: any but NMI; the caller's mcache, with local interrupts off.
 * Return: a GOMM_SPAN_CACHED span with a window of free objects loaded,
 * or NULL.
 */
struct gomm_span *gomm_mcentral_cache(unsigned int spanclass,
				      struct gomm_span *old)
{
	struct gomm_heap *h = gomm_local_heap(), *fb;
	struct gomm_mcentral *c = &h->central[spanclass];
	struct gomm_span *s;

	if (old && gomm_span_central(old) != c) {
		gomm_mcentral_uncache(old);
		old = NULL;
	}
	s = gomm_mcentral_cache_of(c, old);
	/*
	 * The spans this CPU's growths put on the node its heap fell back to
	 * come back to its mcache before another growth: they would pile up
	 * there, partly used, while the node is short of memory.
	 */
	if (!s) {
		fb = gomm_node_heap(READ_ONCE(h->fallback));
		if (fb && fb != h)
			s = gomm_mcentral_cache_of(&fb->central[spanclass], NULL);
	}
	return s;
}

/*
 * A fresh span of @spanclass from the heap (of @node, or the local one for
 * NUMA_NO_NODE), every object free, entered in its node's mcentral's list
 * of all spans; its owner is the caller.
 */
static struct gomm_span *gomm_mcentral_new(unsigned int spanclass, gfp_t gfp,
					   int node)
{
	struct gomm_mcentral *c;
	struct gomm_span *s;
	unsigned long flags;

	s = gomm_heap_alloc_span(gomm_class_to_npages[gomm_sizeclass_of(spanclass)],
				 spanclass, gfp, node);
	if (!s)
		return NULL;
	gomm_kasan_poison(s->start, s->npages * GOMM_PAGE_SIZE, GOMM_KASAN_FREE);
	c = gomm_span_central(s);
	raw_spin_lock_irqsave(&c->lock, flags);
	list_add(&s->all, &c->all);
	c->nr_spans++;
	raw_spin_unlock_irqrestore(&c->lock, flags);
	return s;
}

/**
 * gomm_mcentral_grow - a fresh span from the heap, for an mcache
 * @spanclass: span class (not 0)
 * @gfp: GFP flags of the allocation that needs it
 *
 * Go's mcentral.grow, from the local node's heap (or the node its growth
 * fell back to); the span goes to its own node's mcentral.
 *
 * Context: any but NMI; sleeps only if @gfp allows; no gomm lock held.
 * Return: a GOMM_SPAN_CACHED span with every object free and its first
 * window loaded, or NULL.
 */
struct gomm_span *gomm_mcentral_grow(unsigned int spanclass, gfp_t gfp)
{
	struct gomm_span *s = gomm_mcentral_new(spanclass, gfp, NUMA_NO_NODE);

	if (s)
		gomm_span_load_window(s);
	return s;
}

/*
 * One object of span @s, which the caller owns and has no window loaded
 * (its mcentral's lock, or a fresh span): the lowest free one, after a
 * sweep.  The window is loaded, one object taken and the rest unloaded,
 * so alloc_count counts the object.  Counted on this CPU as a slow-path
 * allocation of the span's class.  NULL if the span has no free object.
 */
static void *gomm_mcentral_take(struct gomm_span *s)
{
	void *p;

	gomm_span_sweep(s);
	s->freeindex = 0;
	if (!gomm_span_load_window(s))
		return NULL;
	p = gomm_span_take_one(s, s->alloc_cache);
	gomm_span_unload_window(s);
	this_cpu_inc(gomm_mcache.nalloc[s->spanclass]);
	this_cpu_inc(gomm_mcache.slow);
	return p;
}

/**
 * gomm_mcentral_alloc_node - one object of a node's spans (gomm_alloc_node())
 * @spanclass: span class (not 0, not the tiny one)
 * @gfp: GFP flags of the allocation
 * @h: the node's heap
 *
 * The objects of another node than the CPU's do not go through its
 * mcache (which serves its own node): under the node's mcentral lock,
 * which owns every span on its lists (span.h), the first partial span is
 * swept and gives its lowest free object, then goes back on the list as
 * any span an mcache is done with (gomm_mcentral_put(): full, or partial
 * at the tail).  Failing that, a fresh span of the node's heap (grown with
 * __GFP_THISNODE) gives its first object and joins the partial list.  The
 * objects are freed by gomm_free() as any: into the span's free bits, and
 * a full span goes back to partial on its node.
 *
 * Context: any but NMI; sleeps only if @gfp allows; no gomm lock held.
 * Return: the object, of @h's node, or NULL.
 */
void *gomm_mcentral_alloc_node(unsigned int spanclass, gfp_t gfp,
			       struct gomm_heap *h)
{
	struct gomm_mcentral *c = &h->central[spanclass];
	unsigned long flags, todo;
	struct gomm_span *s;
	void *p = NULL;

	raw_spin_lock_irqsave(&c->lock, flags);
	for (todo = c->nr_partial; todo && !p; todo--) {
		s = list_first_entry(&c->partial, struct gomm_span, list);
		list_del(&s->list);
		c->nr_partial--;
		p = gomm_mcentral_take(s);
		gomm_mcentral_put(c, s);
	}
	raw_spin_unlock_irqrestore(&c->lock, flags);
	if (p)
		return p;
	s = gomm_mcentral_new(spanclass, gfp, h->node);
	if (!s)
		return NULL;
	/* the span's own mcentral, where its frees will look (h's, by THISNODE) */
	c = gomm_span_central(s);
	raw_spin_lock_irqsave(&c->lock, flags);
	p = gomm_mcentral_take(s);
	gomm_mcentral_put(c, s);
	raw_spin_unlock_irqrestore(&c->lock, flags);
	return p;
}

/**
 * gomm_mcentral_uncache - take back a span an mcache is done with
 * @s: a GOMM_SPAN_CACHED span; its mcache no longer points at it and its
 *	window is unloaded
 *
 * Context: any but NMI.
 */
void gomm_mcentral_uncache(struct gomm_span *s)
{
	struct gomm_mcentral *c = gomm_span_central(s);
	unsigned long flags;

	raw_spin_lock_irqsave(&c->lock, flags);
	gomm_mcentral_put(c, s);
	raw_spin_unlock_irqrestore(&c->lock, flags);
}

/**
 * gomm_mcentral_freed - a FULL span received a free: make it partial
 * @ptr: the object whose free found @s FULL; not used here.  It comes
 *	first so that gomm_free()'s fast path keeps the pointer in the first
 *	argument register and the span in another: with the span first, the
 *	compiler moves the pointer out of the way on entry (one instruction
 *	on every free, for a call that is rarely made).
 * @s: the span gomm_free() saw as GOMM_SPAN_FULL
 *
 * One lock round trip per span per full->partial cycle, not per object.
 *
 * Context: any but NMI.
 */
void gomm_mcentral_freed(const void *ptr, struct gomm_span *s)
{
	struct gomm_mcentral *c = gomm_span_central(s);
	unsigned long flags;

	raw_spin_lock_irqsave(&c->lock, flags);
	gomm_mcentral_freed_locked(c, s);
	raw_spin_unlock_irqrestore(&c->lock, flags);
}

/* gomm_mcentral_freed() with @s's mcentral @c locked (nolock.c's trylock) */
void gomm_mcentral_freed_locked(struct gomm_mcentral *c, struct gomm_span *s)
{
	lockdep_assert_held(&c->lock);
	if (s->state == GOMM_SPAN_FULL) {
		list_move_tail(&s->list, &c->partial);
		c->nr_full--;
		c->nr_partial++;
		WRITE_ONCE(s->state, GOMM_SPAN_PARTIAL);
	}
}

/*
 * Look at each span of class @c's partial list once: sweep it and free
 * it to the heap if it is empty and @keep empty ones were kept already;
 * with @dry, only count the pages that would be freed.  The lock is
 * dropped every GOMM_LOCK_BATCH spans (the spans that stay go to the
 * tail, so the walk needs no cursor).  Returns gomm pages (to be) freed.
 */
static unsigned long gomm_mcentral_reclaim_class(struct gomm_mcentral *c,
						 unsigned int keep, bool dry)
{
	unsigned int kept = 0, batch = 0;
	unsigned long flags, todo, pages = 0;
	struct gomm_span *s;
	LIST_HEAD(empty);
	bool free;

	raw_spin_lock_irqsave(&c->lock, flags);
	for (todo = c->nr_partial; todo; todo--) {
		s = list_first_entry(&c->partial, struct gomm_span, list);
		if (!dry)
			gomm_span_sweep(s);
		free = !(dry ? gomm_span_live(s) : s->alloc_count) && kept++ >= keep;
		if (free)
			pages += s->npages;
		if (!free || dry) {
			list_move_tail(&s->list, &c->partial);
		} else {
			list_move(&s->list, &empty);
			list_del(&s->all);
			c->nr_partial--;
			c->nr_spans--;
		}
		if (++batch < GOMM_LOCK_BATCH)
			continue;
		raw_spin_unlock_irqrestore(&c->lock, flags);
		batch = 0;
		gomm_heap_free_spans(&empty);
		raw_spin_lock_irqsave(&c->lock, flags);
		/* others may have taken spans meanwhile */
		todo = min(todo, c->nr_partial + 1);
	}
	raw_spin_unlock_irqrestore(&c->lock, flags);
	gomm_heap_free_spans(&empty);
	return pages;
}

/**
 * gomm_mcentral_reclaim - sweep partial spans and free the empty ones
 * @keep: empty spans to keep per class and node (like SLUB's min_partial)
 *
 * Spans cached by a CPU are not touched: flush the CPUs first to reach
 * them.  Full spans hold no free object (a free to one makes it partial).
 *
 * Context: any but NMI; takes each class's lock, then the heap lock for
 * each span it frees (never both at once).
 * Return: gomm pages returned to the heap.
 */
unsigned long gomm_mcentral_reclaim(unsigned int keep)
{
	unsigned long pages = 0;
	struct gomm_heap *h;
	unsigned int class;
	unsigned int hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		for (class = 1; class < GOMM_NUM_SPANCLASSES; class++)
			pages += gomm_mcentral_reclaim_class(&h->central[class],
							     keep, false);
	return pages;
}

/**
 * gomm_mcentral_reclaimable - pages gomm_mcentral_reclaim(0) would free now
 *
 * Counts the partial spans whose every object has been freed, swept or
 * not, without sweeping anything (the shrinker's count).
 *
 * Context: any but NMI; takes each class's lock.
 * Return: gomm pages.
 */
unsigned long gomm_mcentral_reclaimable(void)
{
	unsigned long pages = 0;
	struct gomm_heap *h;
	unsigned int class;
	unsigned int hi;

	for (hi = 0; (h = gomm_heap_at(hi)); hi++)
		for (class = 1; class < GOMM_NUM_SPANCLASSES; class++)
			pages += gomm_mcentral_reclaim_class(&h->central[class],
							     0, true);
	return pages;
}

/**
 * gomm_mcentral_init - set up a node's per-class mcentrals
 * @h: the node's heap
 *
 * Context: module init.
 */
void gomm_mcentral_init(struct gomm_heap *h)
{
	unsigned int class;

	for (class = 0; class < GOMM_NUM_SPANCLASSES; class++) {
		raw_spin_lock_init(&h->central[class].lock);
		INIT_LIST_HEAD(&h->central[class].partial);
		INIT_LIST_HEAD(&h->central[class].full);
		INIT_LIST_HEAD(&h->central[class].all);
	}
}

/**
 * gomm_mcentral_exit - report live objects per class, drop their kmemleak
 * records and free every span
 *
 * Context: module exit, after every mcache was flushed.
 * Return: objects still live.
 */
unsigned long gomm_mcentral_exit(void)
{
	unsigned long live, total = 0;
	struct gomm_span *s, *tmp;
	struct gomm_heap *h;
	unsigned int class;
	LIST_HEAD(all);
	unsigned int hi;

	for (class = 1; class < GOMM_NUM_SPANCLASSES; class++) {
		live = 0;
		for (hi = 0; (h = gomm_heap_at(hi)); hi++) {
			struct gomm_mcentral *c = &h->central[class];

			list_splice_init(&c->partial, &all);
			list_splice_init(&c->full, &all);
			c->nr_spans = 0;
			c->nr_partial = 0;
			c->nr_full = 0;
		}
		list_for_each_entry_safe(s, tmp, &all, list) {
			gomm_span_sweep(s);
			live += s->alloc_count;
			gomm_span_kmemleak_forget(s);
			list_del(&s->list);
			list_del(&s->all);
			gomm_heap_free_span(s);
		}
		if (live && class == GOMM_TINY_SPANCLASS)
			pr_err("gomm: unload: %lu tiny blocks (16 bytes) still live\n",
			       live);
		else if (live)
			pr_err("gomm: unload: %lu objects of class %u (%u bytes) still live\n",
			       live, class, gomm_class_to_size[class]);
		total += live;
	}
	return total;
}
