// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_free_rcu() and gomm_free_rcu_head(): frees deferred past an RCU
 * grace period, batched per CPU (kfree_rcu() and kfree_rcu_mightsleep()
 * for gomm's objects).
 *
 * Each CPU has a struct gomm_rcu_cpu with two batches and one rcu_head of
 * its own.  A deferred free joins the CPU's open batch: a caller's
 * rcu_head is linked in (its ->func holds the object), a pointer without
 * one goes into a block of pointers.  If the CPU has no batch waiting for
 * a grace period, the open batch becomes the waiting one at once and the
 * CPU's rcu_head is queued with call_rcu(); frees that come while it
 * waits gather in the open batch.  When the grace period has passed,
 * gomm_rcu_cb() takes the waiting batch, hands the open one to a new
 * call_rcu() if it is not empty, and frees the batch with
 * gomm_free_bulk() - every object of a batch was queued before
 * its call_rcu(), so its grace period covers every reader that could
 * have seen it.  If it queued nothing, the CPU stays marked in flight
 * while the batch is freed (gomm_rcu_barrier() waits for the objects, not
 * for the callback to start), and the callback then queues itself for
 * the frees that came meanwhile, or clears the mark.  A CPU so has at
 * most one call_rcu() in flight, and a batch is everything freed on that
 * CPU during one grace period (and while the last batch was freed).
 *
 * Invariant: a CPU's open batch is empty unless its rcu_head is in
 * flight or its callback is still freeing (@in_flight), so nothing waits
 * without a callback queued or one that will look again.  CPU
 * hotplug needs nothing more: RCU moves the callbacks of a CPU that goes
 * offline to another CPU, where gomm_rcu_cb() empties both batches of the
 * dead CPU (under its lock; nothing else touches them then).  Module
 * unload and the drain wait with gomm_rcu_barrier(); the shrinker does
 * not wait (every batch is already queued, its memory comes back when
 * its grace period ends).
 *
 * Locking: @lock, a raw spinlock taken with interrupts off (a deferred
 * free may come from a hard interrupt; the callback may run on another
 * CPU with rcu_nocbs), guards the batches and @in_flight.  Nothing is
 * allocated or freed under it.
 */
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/gomm.h>
#include "compat.h"

#include "gomm.h"

/* pointers in a block: one kernel page, as kvfree_rcu()'s blocks */
#define GOMM_RCU_BLOCK_PTRS	((PAGE_SIZE - 2 * sizeof(void *)) / sizeof(void *))
/* objects gomm_rcu_cb() frees with one gomm_free_bulk() */
#define GOMM_RCU_BULK		64

struct gomm_rcu_block {
	struct gomm_rcu_block *next;
	unsigned long n;
	void *ptrs[GOMM_RCU_BLOCK_PTRS];
};

/**
 * struct gomm_rcu_batch - objects freed after one grace period
 * @heads: callers' rcu_heads, linked by ->next, each ->func the object
 * @blocks: blocks of pointers, the first one filled last
 */
struct gomm_rcu_batch {
	struct rcu_head *heads;
	struct gomm_rcu_block *blocks;
};

/**
 * struct gomm_rcu_cpu - one CPU's deferred frees
 * @lock: guards the rest
 * @open: frees queued since @rcu was last queued
 * @waiting: frees gomm_rcu_cb() will free
 * @rcu: the CPU's callback, queued or running while @in_flight
 * @in_flight: @rcu is queued (or about to be), or its callback has not
 *	finished freeing its batch; @open is empty otherwise
 */
struct gomm_rcu_cpu {
	raw_spinlock_t lock;	/* the batches and in_flight */
	struct gomm_rcu_batch open;
	struct gomm_rcu_batch waiting;
	struct rcu_head rcu;
	bool in_flight;
};

static DEFINE_PER_CPU(struct gomm_rcu_cpu, gomm_rcu_cpus);

/* call_rcu()s issued: a test checks that the frees were batched */
VISIBLE_IF_KUNIT atomic_long_t gomm_rcu_batches;
EXPORT_SYMBOL_IF_KUNIT(gomm_rcu_batches);

/* Free the objects of @b: the grace period of each has passed. */
static void gomm_rcu_free_batch(struct gomm_rcu_batch *b)
{
	struct gomm_rcu_block *blk;
	void *buf[GOMM_RCU_BULK];
	struct rcu_head *h;
	unsigned int n = 0;

	while ((h = b->heads)) {
		b->heads = h->next;
		buf[n++] = (void *)(unsigned long)h->func;
		if (n == GOMM_RCU_BULK) {
			gomm_free_bulk(n, buf);
			n = 0;
		}
	}
	gomm_free_bulk(n, buf);
	while ((blk = b->blocks)) {
		b->blocks = blk->next;
		gomm_free_bulk(blk->n, blk->ptrs);
		kfree(blk);
	}
}

/*
 * Make @rc's open batch the waiting one, if it has anything; true if it
 * had, and @rc->rcu must then be queued.  @in_flight is left to the
 * caller when it had nothing.
 */
static bool gomm_rcu_start(struct gomm_rcu_cpu *rc)
{
	lockdep_assert_held(&rc->lock);
	if (!rc->open.heads && !rc->open.blocks)
		return false;
	rc->waiting = rc->open;
	rc->open.heads = NULL;
	rc->open.blocks = NULL;
	WRITE_ONCE(rc->in_flight, true);
	return true;
}

static void gomm_rcu_cb(struct rcu_head *rcu);

static void gomm_rcu_call(struct gomm_rcu_cpu *rc)
{
	atomic_long_inc(&gomm_rcu_batches);
	call_rcu(&rc->rcu, gomm_rcu_cb);
}

static void gomm_rcu_cb(struct rcu_head *rcu)
{
	struct gomm_rcu_cpu *rc = container_of(rcu, struct gomm_rcu_cpu, rcu);
	struct gomm_rcu_batch done;
	unsigned long flags;
	bool again;

	raw_spin_lock_irqsave(&rc->lock, flags);
	done = rc->waiting;
	rc->waiting.heads = NULL;
	rc->waiting.blocks = NULL;
	again = gomm_rcu_start(rc);
	raw_spin_unlock_irqrestore(&rc->lock, flags);
	if (again)
		gomm_rcu_call(rc);
	gomm_hook_rcu_freeing();
	gomm_rcu_free_batch(&done);
	if (again)
		return;
	/*
	 * @in_flight stayed set while @done was freed, so gomm_rcu_barrier()
	 * waits for the objects, not only for this callback to start.  Frees
	 * that came meanwhile joined the open batch and queued nothing: queue
	 * the callback for them now, or clear @in_flight - after the frees
	 * above, for a barrier that reads it unlocked.
	 */
	raw_spin_lock_irqsave(&rc->lock, flags);
	again = gomm_rcu_start(rc);
	if (!again)	/* the frees before: gomm_rcu_pending() pairs */
		smp_store_release(&rc->in_flight, false);
	raw_spin_unlock_irqrestore(&rc->lock, flags);
	if (again)
		gomm_rcu_call(rc);
}

/*
 * After a free joined @rc's open batch (lock held, interrupts off since
 * @flags): unlock, and queue the CPU's callback if none is in flight.
 */
static void gomm_rcu_queued(struct gomm_rcu_cpu *rc, unsigned long flags)
	__releases(&rc->lock)
{
	bool start = !rc->in_flight && gomm_rcu_start(rc);

	raw_spin_unlock(&rc->lock);
	if (start)
		gomm_rcu_call(rc);
	local_irq_restore(flags);
}

/* Is @ptr a live object?  If not, it was reported as a bad free. */
static bool gomm_rcu_check(const void *ptr)
{
	bool tiny;

	return gomm_usable_fast(ptr, GOMM_OP_FREE, &tiny);
}

void gomm_free_rcu_head(const void *ptr, struct rcu_head *head)
{
	struct gomm_rcu_cpu *rc;
	unsigned long flags;

	if (!ptr || !gomm_rcu_check(ptr))
		return;
	head->func = (rcu_callback_t)(unsigned long)ptr;
	local_irq_save(flags);
	rc = this_cpu_ptr(&gomm_rcu_cpus);
	raw_spin_lock(&rc->lock);
	head->next = rc->open.heads;
	rc->open.heads = head;
	gomm_rcu_queued(rc, flags);
}
EXPORT_SYMBOL_GPL(gomm_free_rcu_head);

/*
 * Put @ptr in this CPU's open block, or in *@spare, which then becomes
 * the open block (and *@spare NULL).  False if neither has room.
 */
static bool gomm_rcu_queue_ptr(const void *ptr, struct gomm_rcu_block **spare)
{
	struct gomm_rcu_block *blk;
	struct gomm_rcu_cpu *rc;
	unsigned long flags;

	local_irq_save(flags);
	rc = this_cpu_ptr(&gomm_rcu_cpus);
	raw_spin_lock(&rc->lock);
	blk = rc->open.blocks;
	if (!blk || blk->n == GOMM_RCU_BLOCK_PTRS) {
		blk = *spare;
		if (!blk) {
			raw_spin_unlock_irqrestore(&rc->lock, flags);
			return false;
		}
		*spare = NULL;
		blk->n = 0;
		blk->next = rc->open.blocks;
		rc->open.blocks = blk;
	}
	blk->ptrs[blk->n++] = (void *)ptr;
	gomm_rcu_queued(rc, flags);
	return true;
}

void gomm_free_rcu(const void *ptr)
{
	struct gomm_rcu_block *spare = NULL;

	might_sleep();
	if (!ptr || !gomm_rcu_check(ptr))
		return;
	if (gomm_rcu_queue_ptr(ptr, &spare))
		return;
	/* kvfree_rcu_mightsleep()'s flags for its blocks */
	spare = kmalloc(sizeof(*spare), GFP_KERNEL | __GFP_NORETRY |
			__GFP_NOMEMALLOC | __GFP_NOWARN);
	if (spare && gomm_rcu_queue_ptr(ptr, &spare)) {
		kfree(spare);		/* NULL unless another took its place */
		return;
	}
	kfree(spare);
	/* no block: wait for the grace period here, as kvfree_rcu_mightsleep() */
	synchronize_rcu();
	gomm_free(ptr);
}
EXPORT_SYMBOL_GPL(gomm_free_rcu);

/**
 * gomm_rcu_pending - are deferred frees waiting, or being freed?
 *
 * Context: any; a racy hint.
 */
bool gomm_rcu_pending(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		/* pairs with gomm_rcu_cb(): a CPU seen idle freed its batch */
		if (smp_load_acquire(&per_cpu_ptr(&gomm_rcu_cpus, cpu)->in_flight))
			return true;
	}
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_rcu_pending);

/**
 * gomm_rcu_barrier - wait until every deferred free queued so far is done
 *
 * rcu_barrier() waits for the callbacks in flight; one of them may have
 * queued its CPU's next batch, so it runs again until no CPU has one.
 * Frees queued meanwhile by others may make it wait for them too.
 *
 * Context: process, may sleep.
 */
void gomm_rcu_barrier(void)
{
	while (gomm_rcu_pending())
		rcu_barrier();
}
EXPORT_SYMBOL_IF_KUNIT(gomm_rcu_barrier);

/**
 * gomm_rcu_init - set up every CPU's batches
 *
 * Context: module init.
 */
void gomm_rcu_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		raw_spin_lock_init(&per_cpu_ptr(&gomm_rcu_cpus, cpu)->lock);
}
