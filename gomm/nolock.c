// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_alloc_nolock() and gomm_free_nolock(): gomm from any context, NMI
 * included (kmalloc_nolock() and kfree_nolock() for gomm's objects).
 *
 * Why not the mcache: gomm_alloc() uses this CPU's mcache with local
 * interrupts off, which keeps hard and soft interrupts out but not an NMI.
 * An NMI that used the mcache could find it halfway through an update.
 * A busy flag on the mcache would cost the fast path; so the nolock calls
 * have caches of their own and the mcache does not change.
 *
 * The nolock cache: each CPU has a struct gomm_nolock with a span per size
 * class (1..67, &gomm_empty_span when none) and a busy flag.  A nolock
 * allocation turns local interrupts off, and if the flag is set - an NMI
 * came in the middle of a nolock call on this CPU - returns NULL; else it
 * sets the flag and takes the next object of the window of its span, as
 * the mcache does (gomm_span_take()).  When the window is used up it sweeps
 * the span's frees (the word of the window, then the whole span) and, if
 * that gives nothing, swaps the span for one from the class's mcentral -
 * with raw_spin_trylock() only, never waiting.  When no object can be had
 * that way (the mcentral lock is held, or it has no partial span), the call
 * returns NULL and asks the CPU's irq_work to refill the class's slot
 * outside NMI: from the mcentral with its lock, or a new span
 * (GFP_ATOMIC | __GFP_NOWARN, the heap may grow).  The heap is never
 * touched from a nolock call: a new span needs a struct from the slab
 * allocator and the heap's page cache is per-CPU state kept with
 * interrupts off, which an NMI may have interrupted.  There is no tiny
 * allocator here: 1..15 bytes come from classes 1 and 2, and above 32 KiB
 * the call returns NULL.  Objects are not registered with kmemleak (its
 * lock and its metadata allocation are not NMI-safe; kmalloc_nolock()
 * skips it too) nor traced or counted per call site.
 *
 * The nolock cache's spans are CACHED and owned by it like an mcache's:
 * any CPU frees into them through the free bits, and the drain, CPU
 * hotplug and unload flush them (gomm_nolock_flush()).  The busy flag is
 * set with local interrupts off, so only an NMI on the same CPU can find
 * it set; the drain's IPI and the statistics set it too while they read or
 * flush the cache, so the NMI then gets NULL instead of a torn cache.
 *
 * gomm_free_nolock(): what a free does, minus the locks.  The checks (the
 * span map, the bitmaps), the wipe, KASAN's shadow, publishing the free
 * bit and clearing a tiny sub-object's bit are lock-free and run in any
 * context.  What is not is left to the CPU's irq_work, which runs in hard
 * interrupt context as soon as interrupts are enabled again:
 *
 * - a large object: its free bit is claimed at once (test_and_set_bit(),
 *   so a double free is still caught and reported at once), the object is
 *   pushed on the CPU's llist (the node in its first 8 bytes), and the
 *   irq_work gives its pages back (heap lock, page cache, call_rcu());
 * - the FULL hand-off (span.h): the free bit is published, and if the span
 *   was FULL it is moved to the partial list under raw_spin_trylock() of
 *   its mcentral; if that fails, the class is marked in a bitmap and the
 *   irq_work looks for spans with frees on the class's full list and moves
 *   them (no pointer to the span is kept: it may be freed meanwhile);
 * - in NMI, with kmemleak built in or the call-site accounting on, a small
 *   or tiny object: kmemleak_free() and gomm_callsite_free() take locks
 *   and must come before the free is published (the object may be handed
 *   out and registered again at once), so the whole free waits.  Tiny
 *   objects cannot hold a list node, so these go into a per-CPU array of
 *   GOMM_NOLOCK_DEFER pointers; the irq_work frees them with gomm_free()
 *   (a double free is reported then).  A free that finds the array full is
 *   dropped and counted (the object stays live; unload reports it).
 *   Outside NMI those two take their own leaf locks inline.
 *
 * Per-CPU counters that NMIs write are updated with this_cpu_inc(), a
 * single instruction on x86-64 (the only architecture gomm builds for),
 * so an NMI cannot tear them; gomm_free_tiny()'s ntiny_free is one of them.
 *
 * Locking: the mcentral locks are only trylocked from a nolock call.  The
 * irq_work takes them (and the heap lock, through gomm_free() and the
 * refill) as gomm_free() and GFP_ATOMIC allocations do in a hard
 * interrupt.  The code below that handles mcentral lists mirrors
 * gomm_mcentral_cache(), gomm_mcentral_put() and gomm_mcentral_freed()
 * (mcentral.c) with trylocks: keep them in step.
 */
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/irq_work.h>
#include <linux/kmemleak.h>
#include <linux/llist.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/gomm.h>
#include "compat.h"

#include "gomm.h"

/* the GFP flags gomm_alloc_nolock() accepts (kmalloc_nolock()'s) */
#define GOMM_NOLOCK_GFP		(__GFP_ZERO | __GFP_NOWARN | __GFP_ACCOUNT | \
				 __GFP_NOMEMALLOC)
/* frees in NMI a CPU can defer whole (kmemleak or call sites on) */
#define GOMM_NOLOCK_DEFER	256

/**
 * struct gomm_nolock_defer - frees deferred whole, by pointer
 * @n: slots claimed (atomic_inc_return() claims one)
 * @ptr: the objects
 *
 * Producers are this CPU with interrupts off and its NMIs; the consumer is
 * this CPU's irq_work (or the control CPU once this one is dead), so a
 * claimed slot is always written by the time the consumer reads it.
 */
struct gomm_nolock_defer {
	atomic_t n;
	void *ptr[GOMM_NOLOCK_DEFER];
};

/**
 * struct gomm_nolock - one CPU's nolock cache and deferred frees
 * @busy: a nolock allocation, the irq_work's refill, the drain or the
 *	statistics are using @alloc (set with interrupts off: only an NMI
 *	on this CPU can see it set)
 * @alloc: the span of each size class, &gomm_empty_span when none
 * @loaded: objects of the windows loaded (less the unloaded rest)
 * @nswept: frees swept by the nolock paths
 * @refills: spans taken
 * @nbusy: gomm_nolock_stats.busy
 * @nempty: gomm_nolock_stats.empty
 * @ndeferred: gomm_nolock_stats.deferred
 * @ndropped: gomm_nolock_stats.dropped
 * @want: size classes the irq_work should refill
 * @large: large objects whose pages the irq_work gives back
 * @small: small objects (8 bytes at least) the irq_work frees with
 *	gomm_free()
 * @defer: tiny objects the irq_work frees with gomm_free() (too small
 *	for a list node)
 * @work: the irq_work
 *
 * @busy, @alloc, @loaded, @nswept and @refills: under @busy with
 * interrupts off; the n* counters: this_cpu_inc(); the rest atomic.
 */
struct gomm_nolock {
	int busy;
	struct gomm_span *alloc[GOMM_NUM_CLASSES];
	unsigned long loaded;
	unsigned long nswept;
	unsigned long refills;
	unsigned long nbusy;
	unsigned long nempty;
	unsigned long ndeferred;
	unsigned long ndropped;
	unsigned long want[BITS_TO_LONGS(GOMM_NUM_CLASSES)];
	struct llist_head large;
	struct llist_head small;
	struct gomm_nolock_defer defer;
	struct irq_work work;
};

static DEFINE_PER_CPU(struct gomm_nolock, gomm_nolock);
/* span classes whose full list may hold a span with frees (a failed trylock) */
static DECLARE_BITMAP(gomm_nolock_rescan, GOMM_NUM_SPANCLASSES);
static void gomm_nolock_rescan_fn(struct work_struct *work);
/* the rescan, in process context: a full list can be long */
static DECLARE_WORK(gomm_nolock_rescan_work, gomm_nolock_rescan_fn);

/*
 * Queue this CPU's irq_work, unless the CPU is on its way down: its last
 * run may be over (smpcfd_dying_cpu()), and what is left is finished by
 * the hotplug teardown (gomm_nolock_flush_cpu()) instead.
 */
static void gomm_nolock_kick(struct gomm_nolock *nc)
{
	if (likely(cpu_online(smp_processor_id())))
		irq_work_queue(&nc->work);
}

static void gomm_nolock_enter(struct gomm_nolock *nc)
{
	WRITE_ONCE(nc->busy, 1);
	barrier();	/* the flag before the cache: an NMI checks it first */
}

static void gomm_nolock_leave(struct gomm_nolock *nc)
{
	barrier();
	WRITE_ONCE(nc->busy, 0);
}

/* ---- the cache's side of the mcentrals: trylock only ---------------- */

/*
 * gomm_mcentral_cache() with a trylock, looking at GOMM_LOCK_BATCH
 * partial spans at most: a span with a window of free objects, or NULL.
 */
static struct gomm_span *gomm_nolock_cache(struct gomm_nolock *nc,
					   unsigned int sc)
{
	struct gomm_mcentral *c = &gomm_local_heap()->central[sc];
	unsigned int swept = 0;
	struct gomm_span *s;

	if (!raw_spin_trylock(&c->lock))
		return NULL;
	s = gomm_mcentral_pop(c, min_t(unsigned long, c->nr_partial,
				       GOMM_LOCK_BATCH), &swept);
	/* not the mcache's counter, which an NMI must not race with */
	nc->nswept += swept;
	raw_spin_unlock(&c->lock);
	return s;
}

/*
 * Give @nc's used-up span of class @sc back to its mcentral if its lock
 * can be had; the slot is empty then, else it keeps the span.
 */
static void gomm_nolock_uncache(struct gomm_nolock *nc, unsigned int sc)
{
	struct gomm_span *s = nc->alloc[sc];
	struct gomm_mcentral *c = gomm_span_central(s);

	if (raw_spin_trylock(&c->lock)) {
		nc->alloc[sc] = &gomm_empty_span;
		nc->loaded -= gomm_span_unload_window(s);
		gomm_mcentral_put(c, s);
		raw_spin_unlock(&c->lock);
	}
}

/*
 * The window of @nc's span of class @sc is used up: gomm_next_free()
 * without waiting.  Busy and interrupts off; NULL asks the irq_work to
 * refill the class.
 */
static void *gomm_nolock_refill(struct gomm_nolock *nc, unsigned int sc)
{
	struct gomm_span *s = nc->alloc[sc];
	unsigned int w, n;

	if (s != &gomm_empty_span) {
		/* past the last window once it was used up: no word left */
		if (s->freeindex < s->nelems) {
			w = s->freeindex / 64;
			n = gomm_span_sweep_word(s, w);
			nc->nswept += n;
			if (n && gomm_span_window(s, w))
				goto take;
			s->freeindex += 64;
			if (gomm_span_load_window(s))
				goto take;
		}
		n = __gomm_span_sweep(s);
		nc->nswept += n;
		if (n && gomm_span_load_window(s))
			goto take;
		gomm_nolock_uncache(nc, sc);
		if (nc->alloc[sc] != &gomm_empty_span)
			goto miss;	/* its mcentral is locked: kept */
	}
	s = gomm_nolock_cache(nc, sc);
	if (!s)
		goto miss;
	nc->alloc[sc] = s;
	nc->refills++;
take:
	nc->loaded += hweight64(s->alloc_cache);
	return gomm_span_take(s);
miss:
	set_bit(sc, nc->want);
	gomm_nolock_kick(nc);
	return NULL;
}

/* gomm_alloc_nolock()'s end, out of the busy section: object @p or NULL */
static __always_inline void *gomm_nolock_done(void *p, size_t size,
					      unsigned int sc, gfp_t flags)
{
	size_t usable;

	if (unlikely(!p))
		return NULL;
	usable = gomm_class_to_size[sc];
	gomm_kasan_unpoison((unsigned long)p, size, usable);
	/* gomm's own write, below KASAN: the slack is a redzone by now */
	if ((flags & __GFP_ZERO) || gomm_init_alloc)
		return __memset(p, 0, usable);
	return p;
}

/*
 * gomm_alloc_nolock() when the window is used up: busy, with interrupts
 * off (@irqs), until gomm_nolock_refill() is done.  Out of line, so that
 * the hit path needs no callee-saved registers.
 */
static noinline void *gomm_alloc_nolock_refill(struct gomm_nolock *nc,
					       size_t size, unsigned int sc,
					       gfp_t flags, unsigned long irqs)
{
	void *p = gomm_nolock_refill(nc, sc);

	if (!p)
		this_cpu_inc(gomm_nolock.nempty);
	gomm_nolock_leave(nc);
	local_irq_restore(irqs);
	return gomm_nolock_done(p, size, sc, flags);
}

/* __GFP_ACCOUNT (served uncharged, counted) or a flag it does not take */
static noinline void *gomm_alloc_nolock_flags(size_t size, gfp_t flags)
{
	if (size - 1 >= GOMM_MAX_SMALL_SIZE)
		return NULL;
	if (flags & ~GOMM_NOLOCK_GFP) {
		pr_warn_once("gomm: gomm_alloc_nolock() takes __GFP_ZERO, __GFP_NOWARN, __GFP_ACCOUNT and __GFP_NOMEMALLOC only, not %pGg: NULL\n",
			     &flags);
		return NULL;
	}
	gomm_account_unsupported();
	return gomm_alloc_nolock(size, flags & ~__GFP_ACCOUNT);
}

void *gomm_alloc_nolock(size_t size, gfp_t flags)
{
	struct gomm_nolock *nc;
	unsigned long irqs;
	unsigned int sc;
	void *p;

	if (unlikely(flags & ~(GOMM_NOLOCK_GFP & ~__GFP_ACCOUNT)))
		return gomm_alloc_nolock_flags(size, flags);
	if (unlikely(size - 1 >= GOMM_MAX_SMALL_SIZE))
		return NULL;
	sc = gomm_class_of(size);
	local_irq_save(irqs);
	nc = this_cpu_ptr(&gomm_nolock);
	if (unlikely(READ_ONCE(nc->busy))) {
		this_cpu_inc(gomm_nolock.nbusy);
		local_irq_restore(irqs);
		return NULL;
	}
	gomm_nolock_enter(nc);
	gomm_hook_nolock_busy();
	p = gomm_span_take(nc->alloc[sc]);
	if (unlikely(!p))
		return gomm_alloc_nolock_refill(nc, size, sc, flags, irqs);
	gomm_nolock_leave(nc);
	local_irq_restore(irqs);
	return gomm_nolock_done(p, size, sc, flags);
}
EXPORT_SYMBOL_GPL(gomm_alloc_nolock);

/* ---- the free ------------------------------------------------------- */

static void gomm_nolock_queue(struct gomm_nolock *nc)
{
	this_cpu_inc(gomm_nolock.ndeferred);
	gomm_nolock_kick(nc);
}

/*
 * gomm_mcentral_freed() with a trylock: FULL span @s got a free.  If the
 * lock is taken (maybe by the context this NMI interrupted), the irq_work
 * rescans the class's full list instead.  Interrupts off.
 */
static void gomm_nolock_handoff(struct gomm_span *s)
{
	struct gomm_mcentral *c = gomm_span_central(s);

	if (raw_spin_trylock(&c->lock)) {
		gomm_mcentral_freed_locked(c, s);
		raw_spin_unlock(&c->lock);
		return;
	}
	set_bit(s->spanclass, gomm_nolock_rescan);
	gomm_nolock_queue(this_cpu_ptr(&gomm_nolock));
}

/* gomm_span_free_obj() with the FULL hand-off of gomm_nolock_handoff() */
static __always_inline void gomm_nolock_publish(struct gomm_span *s,
						unsigned int idx,
						const void *ptr)
{
	if (unlikely(test_and_set_bit(idx, s->free_bits))) {
		gomm_report_double_free(ptr);
		return;
	}
	gomm_hook_free_published(ptr);
	/* test_and_set_bit() is fully ordered: see gomm_span_publish_full() */
	if (unlikely(data_race(s->state) == GOMM_SPAN_FULL))
		gomm_nolock_handoff(s);
}

/* gomm_free()'s small object, from any context */
static __always_inline void gomm_nolock_free_small(struct gomm_span *s,
						   unsigned int idx,
						   const void *ptr)
{
	if (unlikely(gomm_init_free))
		__memset((void *)ptr, 0, s->elemsize);
	kmemleak_free(ptr);	/* not in NMI: gomm_free_nolock() deferred it */
	gomm_kasan_poison((unsigned long)ptr, s->elemsize, GOMM_KASAN_FREE);
	gomm_nolock_publish(s, idx, ptr);
}

/* gomm_free_tiny() from any context: @ptr is offset @toff of block @b */
static void gomm_nolock_free_tiny(struct gomm_span *s, const void *ptr,
				  unsigned int b, unsigned int toff)
{
	unsigned long block = s->start + b * GOMM_TINY_SIZE;
	long old;

	kmemleak_free(ptr);	/* before the bit goes, as gomm_free_tiny() */
	old = atomic_long_fetch_andnot(BIT(toff), &s->tiny[b]);
	if (unlikely(!(old & BIT(toff)))) {
		gomm_report(GOMM_BAD_DOUBLE_TINY, ptr, GOMM_OP_FREE);
		return;
	}
	this_cpu_inc(gomm_mcache.ntiny_free);
	if ((old & (GOMM_TINY_LIVE | GOMM_TINY_OPEN)) == BIT(toff)) {
		gomm_kasan_poison(block, GOMM_TINY_SIZE, GOMM_KASAN_FREE);
		gomm_nolock_publish(s, b, (void *)block);
	}
}

/* A large object: claim its free now, give its pages back later. */
static void gomm_nolock_defer_large(struct gomm_span *s, const void *ptr)
{
	struct gomm_nolock *nc = this_cpu_ptr(&gomm_nolock);

	if (unlikely(test_and_set_bit(0, s->free_bits))) {
		gomm_report(GOMM_BAD_DOUBLE_LARGE, ptr, GOMM_OP_FREE);
		return;
	}
	/* the node's 8 bytes: a realloc may have shrunk the object below */
	gomm_kasan_unpoison((unsigned long)ptr, sizeof(struct llist_node),
			    sizeof(struct llist_node));
	llist_add((struct llist_node *)ptr, &nc->large);
	gomm_nolock_queue(nc);
}

/* The whole free of live object @ptr, for the irq_work's gomm_free(). */
static void gomm_nolock_defer_obj(struct gomm_span *s, const void *ptr)
{
	struct gomm_nolock *nc = this_cpu_ptr(&gomm_nolock);
	int i;

	if (s->kind == GOMM_KIND_SMALL) {
		/* its first 8 bytes hold the node (a request may be shorter) */
		gomm_kasan_unpoison((unsigned long)ptr, sizeof(struct llist_node),
				    sizeof(struct llist_node));
		llist_add((struct llist_node *)ptr, &nc->small);
		gomm_nolock_queue(nc);
		return;
	}
	i = atomic_inc_return(&nc->defer.n) - 1;

	if (unlikely(i >= GOMM_NOLOCK_DEFER)) {
		atomic_dec(&nc->defer.n);
		this_cpu_inc(gomm_nolock.ndropped);
		pr_warn_once("gomm: gomm_free_nolock() in NMI: %d frees wait for kmemleak or the call-site accounting, one dropped\n",
			     GOMM_NOLOCK_DEFER);
		return;
	}
	WRITE_ONCE(nc->defer.ptr[i], (void *)ptr);
	gomm_nolock_queue(nc);
}

/* Must kmemleak or the call-site accounting see a free first? */
static bool gomm_nolock_bookkeeping(void)
{
	return IS_ENABLED(CONFIG_DEBUG_KMEMLEAK) || gomm_callsites_on();
}

/*
 * gomm_free_nolock() of anything but a handed-out small object with no
 * bookkeeping to do; interrupts off (the span lifetime rule).
 */
static noinline void gomm_free_nolock_checked(const void *ptr)
{
	unsigned int idx, toff;
	struct gomm_span *s;
	enum gomm_bad why;

	why = gomm_check_ptr(ptr, &s, &idx, &toff);
	if (unlikely(why != GOMM_BAD_NONE)) {
		gomm_report(why, ptr, GOMM_OP_FREE);
	} else if (s->kind == GOMM_KIND_LARGE) {
		gomm_nolock_defer_large(s, ptr);
	} else if (gomm_nolock_bookkeeping() && in_nmi()) {
		gomm_nolock_defer_obj(s, ptr);
	} else {
		/*
		 * outside NMI: its own leaf lock, before the free is published
		 * (in_nmi() again: the key may have gone on since it was read)
		 */
		if (!in_nmi() && gomm_callsites_on())
			gomm_callsite_free(ptr);
		if (s->kind == GOMM_KIND_TINY)
			gomm_nolock_free_tiny(s, ptr, idx, toff);
		else
			gomm_nolock_free_small(s, idx, ptr);
	}
}

void gomm_free_nolock(const void *ptr)
{
	struct gomm_span *s;
	unsigned long flags;
	unsigned int idx;

	if (!ptr)
		return;
	/* an RCU read-side section (the span lifetime rule), no migration */
	local_irq_save(flags);
	/* a live small object with no bookkeeping to do: freed at once */
	if (likely(gomm_small_unfreed(ptr, &s, &idx) && !gomm_nolock_bookkeeping()))
		gomm_nolock_free_small(s, idx, ptr);
	else
		gomm_free_nolock_checked(ptr);
	local_irq_restore(flags);
}
EXPORT_SYMBOL_GPL(gomm_free_nolock);

/* ---- the irq_work: what could not be done without a lock ------------- */

/* The irq_work's side of the FULL hand-off: class @c's full list. */
static void gomm_nolock_rescan_class(struct gomm_mcentral *c)
{
	unsigned long flags, todo;
	unsigned int batch = 0;
	struct gomm_span *s;

	raw_spin_lock_irqsave(&c->lock, flags);
	for (todo = c->nr_full; todo; todo--) {
		s = list_first_entry(&c->full, struct gomm_span, list);
		if (gomm_span_has_frees(s))
			gomm_mcentral_freed_locked(c, s);
		else
			list_move_tail(&s->list, &c->full);
		if (++batch < GOMM_LOCK_BATCH)
			continue;
		raw_spin_unlock_irqrestore(&c->lock, flags);
		batch = 0;
		raw_spin_lock_irqsave(&c->lock, flags);
		todo = min(todo, c->nr_full + 1);
	}
	raw_spin_unlock_irqrestore(&c->lock, flags);
}

/* Every class marked for a rescan, every node: process context. */
static void gomm_nolock_rescan_all(void)
{
	struct gomm_heap *h;
	unsigned int sc, hi;

	for (sc = 1; sc < GOMM_NUM_SPANCLASSES; sc++)
		if (test_bit(sc, gomm_nolock_rescan) &&
		    test_and_clear_bit(sc, gomm_nolock_rescan))
			for (hi = 0; (h = gomm_heap_at(hi)); hi++)
				gomm_nolock_rescan_class(&h->central[sc]);
}

/* The rest of a large free gomm_nolock_defer_large() claimed. */
static void gomm_nolock_free_large(void *ptr)
{
	unsigned long flags;

	/* the object leaves its call site before its address can return */
	if (gomm_callsites_on())
		gomm_callsite_free(ptr);
	local_irq_save(flags);	/* the span lifetime rule */
	gomm_free_large_claimed(ptr, gomm_span_lookup(ptr));
	local_irq_restore(flags);
}

/* Free what @d holds (its CPU's irq_work, or that CPU is dead). */
static void gomm_nolock_drain_defer(struct gomm_nolock_defer *d)
{
	unsigned int done = 0;
	int n;

	for (;;) {
		n = min(atomic_read(&d->n), GOMM_NOLOCK_DEFER);
		for (; done < n; done++) {
			gomm_free(READ_ONCE(d->ptr[done]));
			/* a stale address here would hide a leak from kmemleak */
			WRITE_ONCE(d->ptr[done], NULL);
		}
		/* NMIs may have added more meanwhile */
		if (atomic_cmpxchg(&d->n, n, 0) == n)
			break;
	}
}

/* Every deferred free of @nc (its CPU's irq_work, or that CPU is dead). */
static void gomm_nolock_finish(struct gomm_nolock *nc)
{
	struct llist_node *pos, *next;

	llist_for_each_safe(pos, next, llist_del_all(&nc->large))
		gomm_nolock_free_large(pos);
	llist_for_each_safe(pos, next, llist_del_all(&nc->small))
		gomm_free(pos);
	gomm_nolock_drain_defer(&nc->defer);
}

static void gomm_nolock_rescan_fn(struct work_struct *work)
{
	gomm_nolock_rescan_all();
}

/*
 * Refill class @sc of this CPU's nolock cache, with locks and, if need
 * be, heap growth (hard interrupt context, interrupts off).
 */
static void gomm_nolock_prime(struct gomm_nolock *nc, unsigned int sc)
{
	struct gomm_span *s, *old = NULL;

	gomm_nolock_enter(nc);
	s = nc->alloc[sc];
	if (s->alloc_cache)
		goto out;	/* a nolock call got objects meanwhile */
	if (s != &gomm_empty_span) {
		nc->alloc[sc] = &gomm_empty_span;
		old = s;	/* its window is empty: back to its mcentral */
	}
	s = gomm_mcentral_cache(sc, old);
	if (!s)
		s = gomm_mcentral_grow(sc, GFP_ATOMIC | __GFP_NOWARN);
	if (s) {
		nc->alloc[sc] = s;
		nc->refills++;
		nc->loaded += hweight64(s->alloc_cache);
	}
out:
	gomm_nolock_leave(nc);
}

static void gomm_nolock_work_fn(struct irq_work *work)
{
	struct gomm_nolock *nc = container_of(work, struct gomm_nolock, work);
	unsigned int sc;

	gomm_nolock_finish(nc);
	if (!bitmap_empty(gomm_nolock_rescan, GOMM_NUM_SPANCLASSES))
		schedule_work(&gomm_nolock_rescan_work);
	for (sc = 1; sc < GOMM_NUM_CLASSES; sc++)
		if (test_bit(sc, nc->want) && test_and_clear_bit(sc, nc->want))
			gomm_nolock_prime(nc, sc);
}

/* ---- drain, hotplug, unload ----------------------------------------- */

/**
 * gomm_nolock_flush - give a CPU's nolock cache back to the mcentrals
 * @cpu: this CPU with local interrupts off, or a CPU that is not running
 *
 * Context: any but NMI.
 */
void gomm_nolock_flush(int cpu)
{
	struct gomm_nolock *nc = per_cpu_ptr(&gomm_nolock, cpu);
	struct gomm_span *s;
	unsigned int sc;

	gomm_nolock_enter(nc);
	for (sc = 1; sc < GOMM_NUM_CLASSES; sc++) {
		s = nc->alloc[sc];
		if (s == &gomm_empty_span)
			continue;
		nc->alloc[sc] = &gomm_empty_span;
		nc->loaded -= gomm_span_unload_window(s);
		gomm_mcentral_uncache(s);
	}
	gomm_nolock_leave(nc);
}

/**
 * gomm_nolock_flush_cpu - finish a dead CPU's deferred frees, flush its cache
 * @cpu: a dead CPU (hotplug) or any CPU when nothing else uses gomm
 *
 * The irq_work of a CPU going down runs before it dies
 * (smpcfd_dying_cpu()); whatever it left, and the refills it was asked
 * for, are dealt with here.
 *
 * Context: process.
 */
void gomm_nolock_flush_cpu(int cpu)
{
	struct gomm_nolock *nc = per_cpu_ptr(&gomm_nolock, cpu);

	gomm_nolock_finish(nc);
	gomm_nolock_rescan_all();
	bitmap_zero(nc->want, GOMM_NUM_CLASSES);
	gomm_nolock_flush(cpu);
}

/**
 * gomm_nolock_holds - does @cpu's nolock cache hold a span? (racy hint)
 * @cpu: the CPU
 */
bool gomm_nolock_holds(int cpu)
{
	struct gomm_nolock *nc = per_cpu_ptr(&gomm_nolock, cpu);
	unsigned int sc;

	for (sc = 1; sc < GOMM_NUM_CLASSES; sc++)
		if (READ_ONCE(nc->alloc[sc]) != &gomm_empty_span)
			return true;
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_nolock_holds);

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * gomm_nolock_defer_stale - slots of @cpu's deferral array that hold an address
 * @cpu: the CPU
 *
 * Zero once its irq_work has run: a freed object's address left there is
 * a reference kmemleak finds in per-CPU data.
 */
unsigned int gomm_nolock_defer_stale(int cpu)
{
	struct gomm_nolock *nc = per_cpu_ptr(&gomm_nolock, cpu);
	unsigned int i, n = 0;

	for (i = 0; i < GOMM_NOLOCK_DEFER; i++)
		n += !!READ_ONCE(nc->defer.ptr[i]);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_nolock_defer_stale);
#endif

/**
 * gomm_nolock_barrier - wait until every nolock free deferred so far is done
 *
 * Waits for every online CPU's irq_work (irq_work_sync()), which finishes
 * the deferred frees queued before it ran, and for the rescan work it
 * may have scheduled, then does the FULL hand-offs left.  An offline
 * CPU's deferred frees are finished by the hotplug teardown
 * (gomm_nolock_flush_cpu()); its irq_work is not waited for (none is
 * queued on a CPU on its way down: gomm_nolock_kick()).
 *
 * Context: process, interrupts enabled.
 */
void gomm_nolock_barrier(void)
{
	int cpu;

	for_each_online_cpu(cpu)
		irq_work_sync(&per_cpu_ptr(&gomm_nolock, cpu)->work);
	flush_work(&gomm_nolock_rescan_work);
	gomm_nolock_rescan_all();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_nolock_barrier);

/* ---- statistics ------------------------------------------------------ */

/*
 * @cpu's counters: it is this CPU with interrupts off (an IPI) or it is
 * offline.  The cache is marked busy meanwhile, so an NMI's allocation
 * cannot come between the windows and @loaded.
 */
static void gomm_nolock_read(int cpu, struct gomm_nolock_stats *st,
			     unsigned long *frees)
{
	struct gomm_nolock *nc = per_cpu_ptr(&gomm_nolock, cpu);
	unsigned long window = 0;
	unsigned int sc;

	gomm_nolock_enter(nc);
	for (sc = 1; sc < GOMM_NUM_CLASSES; sc++)
		window += hweight64(READ_ONCE(nc->alloc[sc])->alloc_cache);
	st->allocs = nc->loaded - window;
	st->refills = nc->refills;
	*frees = nc->nswept;
	gomm_nolock_leave(nc);
	st->busy = READ_ONCE(nc->nbusy);
	st->empty = READ_ONCE(nc->nempty);
	st->deferred = READ_ONCE(nc->ndeferred);
	st->dropped = READ_ONCE(nc->ndropped);
}

/**
 * gomm_nolock_cpu_add - add a CPU's nolock allocations and sweeps to its
 *	cpus row
 * @cpu: this CPU with interrupts off, or an offline CPU
 * @st: the row (gomm_stats_read()): @allocs and @frees grow
 *
 * An object of a nolock cache is handed out from a window like the
 * mcache's, so it counts as a fast-path allocation there.
 */
void gomm_nolock_cpu_add(int cpu, struct gomm_cpu_stats *st)
{
	struct gomm_nolock_stats ns;
	unsigned long frees;

	gomm_nolock_read(cpu, &ns, &frees);
	st->allocs += ns.allocs;
	st->frees += frees;
}

static void gomm_nolock_read_local(void *st)
{
	unsigned long frees;

	gomm_nolock_read(smp_processor_id(), st, &frees);
}

/* gomm_nolock_stats_cpu() with cpus_read_lock() held */
static void __gomm_nolock_stats_cpu(int cpu, struct gomm_nolock_stats *st)
{
	unsigned long frees;

	if (cpu_online(cpu))
		smp_call_function_single(cpu, gomm_nolock_read_local, st, 1);
	else
		gomm_nolock_read(cpu, st, &frees);
}

/**
 * gomm_nolock_stats_cpu - one CPU's nolock counters
 * @cpu: any possible CPU
 * @st: filled in
 *
 * Context: process; takes cpus_read_lock().
 */
void gomm_nolock_stats_cpu(int cpu, struct gomm_nolock_stats *st)
{
	cpus_read_lock();
	__gomm_nolock_stats_cpu(cpu, st);
	cpus_read_unlock();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_nolock_stats_cpu);

static void gomm_nolock_row(struct seq_file *m, const char *label,
			    const struct gomm_nolock_stats *st)
{
	seq_printf(m, "%5s %11lu %11lu %11lu %11lu %11lu %11lu\n", label,
		   st->allocs, st->refills, st->busy, st->empty, st->deferred,
		   st->dropped);
}

/* A row per online CPU, then the sum over every possible CPU. */
static int gomm_nolock_show(struct seq_file *m, void *v)
{
	struct gomm_nolock_stats st, total = {};
	char label[12];
	int cpu;

	seq_puts(m, "# cpu      allocs     refills        busy       empty    deferred     dropped\n");
	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		__gomm_nolock_stats_cpu(cpu, &st);
		total.allocs += st.allocs;
		total.refills += st.refills;
		total.busy += st.busy;
		total.empty += st.empty;
		total.deferred += st.deferred;
		total.dropped += st.dropped;
		if (!cpu_online(cpu))
			continue;
		snprintf(label, sizeof(label), "%d", cpu);
		gomm_nolock_row(m, label, &st);
	}
	cpus_read_unlock();
	gomm_nolock_row(m, "all", &total);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gomm_nolock);

/**
 * gomm_nolock_debugfs_init - create debugfs gomm/nolock
 * @dir: gomm's debugfs directory
 */
void gomm_nolock_debugfs_init(struct dentry *dir)
{
	debugfs_create_file("nolock", 0444, dir, NULL, &gomm_nolock_fops);
}

/**
 * gomm_nolock_init - empty nolock caches and their irq_works
 *
 * Context: module init, before anything allocates.
 */
void gomm_nolock_init(void)
{
	struct gomm_nolock *nc;
	unsigned int sc;
	int cpu;

	for_each_possible_cpu(cpu) {
		nc = per_cpu_ptr(&gomm_nolock, cpu);
		for (sc = 0; sc < GOMM_NUM_CLASSES; sc++)
			nc->alloc[sc] = &gomm_empty_span;
		init_llist_head(&nc->large);
		init_llist_head(&nc->small);
		init_irq_work(&nc->work, gomm_nolock_work_fn);
	}
}
