// SPDX-License-Identifier: GPL-2.0
/*
 * gomm's span: its setup and teardown, and the owner's side of its
 * allocation window and sweep.  The span's states and the free protocol
 * are described in span.h, beside the inline halves of the protocol.
 */
#include <linux/io.h>
#include <linux/kmemleak.h>
#include <linux/slab.h>
#include "compat.h"

#include "gomm.h"

static struct kmem_cache *gomm_span_cache;

/**
 * gomm_span_cache_init - create the slab cache of span structs
 *
 * Context: module init.
 * Return: 0 or -ENOMEM.
 */
int gomm_span_cache_init(void)
{
	gomm_span_cache = KMEM_CACHE(gomm_span, 0);
	return gomm_span_cache ? 0 : -ENOMEM;
}

/**
 * gomm_span_cache_exit - destroy it, after the last span's grace period
 *
 * Context: module exit, every span retired.
 */
void gomm_span_cache_exit(void)
{
	int cpu;

	/* nothing retires spans any more: every CPU's batch, in place */
	for_each_possible_cpu(cpu)
		gomm_span_retire_flush(cpu);
	rcu_barrier();	/* span structs still waiting for their grace period */
	kmem_cache_destroy(gomm_span_cache);
}

/**
 * gomm_span_create - a span struct for @npages pages of span class @spanclass
 * @npages: gomm pages
 * @spanclass: span class, 0 for a large object
 * @gfp: GFP flags of the allocation that needs it
 * @node: the node whose memory the struct should be in (the node its
 *	pages are wanted from), or NUMA_NO_NODE
 *
 * Everything that does not depend on where the span's pages are: kind,
 * state, geometry, and a tiny span's block array, so that the span is
 * complete before gomm_span_place() and the heap map it (a stale free
 * that finds it there sees a whole span).  A small or tiny span starts
 * GOMM_SPAN_CACHED with every object free and no window loaded; a large
 * one GOMM_SPAN_LARGE.
 *
 * Context: any but NMI; sleeps only if @gfp allows.
 * Return: the span, or NULL.
 */
struct gomm_span *gomm_span_create(unsigned long npages,
				   unsigned int spanclass, gfp_t gfp, int node)
{
	unsigned int class = gomm_sizeclass_of(spanclass);
	size_t bits = BITS_TO_LONGS(class ? gomm_class_to_nelems[class] : 1) *
		      sizeof(long);
	struct gomm_span *s;

	s = kmem_cache_alloc_node(gomm_span_cache, gfp & GOMM_GFP_MASK, node);
	if (!s)
		return NULL;
	/*
	 * Zeroed up to the words of the bitmaps the span uses: all 256 bytes
	 * of them cost a large object's alloc+free pair a third of its time.
	 */
	memset(s, 0, offsetof(struct gomm_span, alloc_bits));
	memset(s->alloc_bits, 0, bits);
	memset(s->free_bits, 0, bits);
	/*
	 * kmemleak: a span's start and window point at its objects; scanned,
	 * they would keep leaked objects looking referenced.
	 */
	kmemleak_ignore(s);
	s->npages = npages;
	s->sizeclass = class;
	s->spanclass = spanclass;
	if (!class) {
		s->kind = GOMM_KIND_LARGE;
		s->elemsize = npages * GOMM_PAGE_SIZE;
		s->nelems = 1;
		s->state = GOMM_SPAN_LARGE;
		return s;
	}
	s->elemsize = gomm_class_to_size[class];
	s->nelems = gomm_class_to_nelems[class];
	s->state = GOMM_SPAN_CACHED;
	if (spanclass != GOMM_TINY_SPANCLASS) {
		s->kind = GOMM_KIND_SMALL;
		s->divmagic = gomm_class_to_divmagic[class];
		return s;
	}
	s->kind = GOMM_KIND_TINY;
	s->tiny = kcalloc_node(s->nelems, sizeof(*s->tiny), gfp & GOMM_GFP_MASK,
			       node);
	if (!s->tiny) {
		kmem_cache_free(gomm_span_cache, s);
		return NULL;
	}
	return s;
}

/**
 * gomm_span_revive - make a stashed large span LARGE again
 * @s: a large span the heap unmapped and marked DEAD, not retired, about
 *	to be placed on the same pages again
 *
 * A stale reader that still has it sees it DEAD or LARGE for the same
 * pages and size (the lifetime rule), never in between: the free bit is
 * clear before the kind says LARGE.
 */
void gomm_span_revive(struct gomm_span *s)
{
	WRITE_ONCE(s->free_bits[0], 0);
	WRITE_ONCE(s->state, GOMM_SPAN_LARGE);
	smp_wmb();	/* the free bit and the state before the kind */
	WRITE_ONCE(s->kind, GOMM_KIND_LARGE);
}

/**
 * gomm_span_place - give a span its pages
 * @s: a span from gomm_span_create(), not mapped yet
 * @page: its first gomm page number
 * @node: the node of its pages
 *
 * Context: the owner of the pages (the heap maps the span next).
 */
void gomm_span_place(struct gomm_span *s, unsigned long page, int node)
{
	s->page = page;
	s->node = node;
	s->start = (unsigned long)phys_to_virt((phys_addr_t)page << GOMM_PAGE_SHIFT);
	s->window = s->start;
	s->alloc_word = s->alloc_bits;
}

/*
 * A tiny span's block array.  Only tiny spans have one: the test spares
 * every other span a call of kfree(NULL) (about 20 instructions of a
 * span's life on the perf kernels, scripts/profile batch 4096).
 */
static void gomm_span_free_tiny(struct gomm_span *s)
{
	if (s->spanclass == GOMM_TINY_SPANCLASS)
		kfree(s->tiny);
}

/**
 * gomm_span_destroy - free a span struct that no reader can see
 * @s: the span: never mapped, or retired a grace period ago
 */
void gomm_span_destroy(struct gomm_span *s)
{
	gomm_span_free_tiny(s);
	kmem_cache_free(gomm_span_cache, s);
}

/*
 * Retired span structs wait for their grace period in batches: each CPU
 * chains GOMM_RETIRE_BATCH of them (through their list field, which no
 * lockless reader looks at) and queues one RCU callback for the chain,
 * which frees them with one kmem_cache_free_bulk().  A call_rcu() and a
 * kmem_cache_free() of each span cost a large object's alloc+free about a
 * tenth of its instructions.  Every struct of a chain was retired before
 * the chain's call_rcu(): the lifetime rule holds for each of them.
 */
#define GOMM_RETIRE_BATCH	32

struct gomm_retire {
	struct gomm_span *first;
	unsigned int n;
};

static DEFINE_PER_CPU(struct gomm_retire, gomm_retire);

static void gomm_span_destroy_batch(struct rcu_head *head)
{
	struct gomm_span *s = container_of(head, struct gomm_span, rcu), *next;
	void *v[GOMM_RETIRE_BATCH];
	size_t n = 0;

	for (; s; s = next) {
		next = (struct gomm_span *)s->list.next;
		gomm_span_free_tiny(s);
		v[n++] = s;
	}
	kmem_cache_free_bulk(gomm_span_cache, n, v);
}

/* Queue @r's chain for its grace period. */
static void gomm_span_retire_queue(struct gomm_retire *r)
{
	if (r->first)
		call_rcu(&r->first->rcu, gomm_span_destroy_batch);
	r->first = NULL;
	r->n = 0;
}

/**
 * gomm_span_retire_flush - queue a CPU's retired span structs now
 * @cpu: this CPU with local interrupts off, or a CPU that is not running
 *
 * The drain (this CPU's, and those of the CPUs it flushes), CPU hotplug
 * and unload do not leave them to the next batch; a CPU's batch alone is
 * no reason to interrupt it (at most GOMM_RETIRE_BATCH - 1 structs).
 */
void gomm_span_retire_flush(int cpu)
{
	gomm_span_retire_queue(per_cpu_ptr(&gomm_retire, cpu));
}

/**
 * gomm_span_retire - free a span struct after a grace period
 * @s: a span the heap has unmapped and marked DEAD
 *
 * The lifetime rule (span.h): lockless readers that looked it up before it
 * was unmapped may still read it.  The struct joins this CPU's batch
 * (gomm_span_destroy_batch()).
 *
 * Context: any but NMI.
 */
void gomm_span_retire(struct gomm_span *s)
{
	struct gomm_retire *r;
	unsigned long flags;

	if (gomm_hook_span_free_now()) {
		gomm_span_destroy(s);
		return;
	}
	local_irq_save(flags);
	r = this_cpu_ptr(&gomm_retire);
	s->list.next = (struct list_head *)r->first;
	r->first = s;
	if (++r->n == GOMM_RETIRE_BATCH)
		gomm_span_retire_queue(r);
	local_irq_restore(flags);
}

/**
 * gomm_span_kmemleak_forget - drop the kmemleak records of a span's objects
 * @s: a small or tiny span whose pages go back to the buddy allocator at
 *	module exit with objects still live
 *
 * A record left behind would be reported as a leak of memory gomm no
 * longer has, or overlap an object of the pages' next owner.
 *
 * Context: module exit.
 */
void gomm_span_kmemleak_forget(struct gomm_span *s)
{
	unsigned long b, live;
	unsigned int off;

	if (!IS_ENABLED(CONFIG_DEBUG_KMEMLEAK) || !s->alloc_count)
		return;
	for_each_set_bit(b, s->alloc_bits, s->nelems) {
		void *obj = (void *)(s->start + b * s->elemsize);

		if (s->kind != GOMM_KIND_TINY) {
			kmemleak_free(obj);
			continue;
		}
		/* a tiny block: each live sub-object has a record */
		live = atomic_long_read(&s->tiny[b]) & GOMM_TINY_LIVE;
		for_each_set_bit(off, &live, GOMM_TINY_SIZE)
			kmemleak_free(obj + off);
	}
}

/**
 * gomm_span_sweep - fold a span's recorded frees into its alloc state
 * @s: the span; the caller owns its allocation state and no window is
 *	loaded (alloc_cache is 0)
 *
 * Go's sweep: takes every free bit (gomm_span_sweep_word()) and, if it
 * found any (a reported bogus one included), restarts allocation from
 * index 0.
 *
 * Context: owner of @s (its mcache with IRQs off, or the mcentral lock).
 * Return: objects freed.
 */
unsigned int gomm_span_sweep(struct gomm_span *s)
{
	unsigned int n = __gomm_span_sweep(s);

	/* whoever sweeps counts the frees, on its own CPU (gomm_stats_cpu()) */
	if (n)
		this_cpu_add(gomm_mcache.nswept, n);
	return n;
}

/* gomm_span_sweep() without counting the frees: its caller counts them */
unsigned int __gomm_span_sweep(struct gomm_span *s)
{
	unsigned int w, n = 0;
	bool any = false;

	for (w = 0; w < BITS_TO_LONGS(s->nelems); w++) {
		if (!READ_ONCE(s->free_bits[w]))
			continue;
		any = true;
		n += gomm_span_sweep_word(s, w);
	}
	/* a bogus bit too: the load it raced with may have skipped an object */
	if (any)
		s->freeindex = 0;
	return n;
}

/**
 * gomm_span_load_window - load the next 64-object window with a free object
 * @s: a span the caller owns, with no window loaded
 *
 * Go's refillAllocCache, from @s->freeindex on (see gomm_span_window()).
 *
 * Context: owner of @s.
 * Return: true if a window with free objects was loaded.
 */
bool gomm_span_load_window(struct gomm_span *s)
{
	unsigned int w;

	for (w = s->freeindex / 64; w < BITS_TO_LONGS(s->nelems); w++)
		if (gomm_span_window(s, w))
			return true;
	s->freeindex = s->nelems;
	return false;
}

/**
 * gomm_span_unload_window - give back the window's objects not handed out
 * @s: a span the caller owns
 *
 * Context: owner of @s.
 * Return: objects given back.
 */
unsigned int gomm_span_unload_window(struct gomm_span *s)
{
	unsigned int n = hweight64(s->alloc_cache);

	s->alloc_count -= n;
	s->alloc_cache = 0;
	return n;
}

/**
 * gomm_span_live - objects of a small or tiny span handed out and not freed
 * @s: the span (for a tiny span, its blocks)
 *
 * alloc_count less the window's objects not handed out yet and the frees
 * not swept yet.  Exact for a span the caller owns; for a span an mcache
 * is using (the statistics), a snapshot.
 *
 * Context: any.
 */
long gomm_span_live(const struct gomm_span *s)
{
	long n = READ_ONCE(s->alloc_count) - hweight64(READ_ONCE(s->alloc_cache));
	unsigned int w;

	for (w = 0; w < BITS_TO_LONGS(s->nelems); w++)
		n -= hweight_long(READ_ONCE(s->free_bits[w]) &
				  READ_ONCE(s->alloc_bits[w]));
	return n;
}
