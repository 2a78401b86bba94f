/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gomm - the Go runtime's memory allocator as a kernel module.
 *
 * Objects of 1..32768 bytes come from Go's size classes (spans of 8 KiB
 * pages carved into equal objects, a lock-free per-CPU cache in front);
 * larger objects, up to 4 MiB, are runs of whole 8 KiB pages.
 * See Documentation/gomm.rst.
 */
#ifndef _LINUX_GOMM_H
#define _LINUX_GOMM_H

#include <linux/gfp.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/version.h>
/* linux/cleanup.h: 6.5, and 6.1.y since 6.1.79 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0) || \
	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 79) && \
	 LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0))
#include <linux/cleanup.h>
#endif

/**
 * gomm_alloc - allocate memory from gomm
 * @size: bytes wanted
 * @flags: GFP flags; %GFP_KERNEL may sleep while the heap grows,
 *	%GFP_ATOMIC and %GFP_NOWAIT never sleep; %__GFP_ZERO zeroes the
 *	object; %__GFP_NOWARN silences the oversized-request warning and the
 *	page allocator's failure report.  See "GFP flags" below.
 *
 * GFP flags: gomm calls might_alloc(@flags) on entry, so flags that may
 * sleep are caught in atomic context (with CONFIG_DEBUG_ATOMIC_SLEEP and
 * lockdep) even when the heap does not grow.  The heap grows as SLUB grows
 * a cache: every block order above the smallest that fits is tried
 * opportunistically (%__GFP_NOWARN | %__GFP_NORETRY | %__GFP_THISNODE, and
 * for flags with %__GFP_DIRECT_RECLAIM also %__GFP_NOMEMALLOC and no
 * reclaim), the
 * smallest with @flags, so it reclaims, retries and warns as @flags say.
 * %__GFP_NOFAIL is honoured as the page allocator honours it: with
 * %__GFP_DIRECT_RECLAIM a failed attempt is retried (memalloc_retry_wait())
 * until it succeeds; without it, it is a bug that gets a WARN_ON_ONCE() and
 * the allocation may fail; a request above 4 MiB still fails.
 * %__GFP_ACCOUNT is not supported: the kernel exports nothing a module
 * could charge a memcg with (obj_cgroup_charge(), __memcg_kmem_charge_page()
 * and current_obj_cgroup() are not exported), so the object is allocated
 * uncharged, counted in debugfs errors/unaccounted, and the first such
 * allocation prints one warning.  Other flags (zones, __GFP_THISNODE,
 * __GFP_COMP) are ignored (gomm_alloc_node() honours __GFP_THISNODE).
 * The object is of the CPU's NUMA node's memory unless that node had none
 * free when its span was made (see gomm_alloc_node()).  With the kernel's init_on_alloc (boot
 * parameter or config default, as Debian's kernels have it) every object
 * is zeroed, as with %__GFP_ZERO; SLUB does the same.
 *
 * Context: any context but NMI.  Process context only for flags that may
 * sleep.
 *
 * Return: a pointer aligned to Go's minimum alignment for the size class
 * (at least 8 bytes; power-of-two sizes are naturally aligned, large
 * objects are 8 KiB aligned), or %NULL when @size is 0, above 4 MiB, or
 * memory cannot be had.  gomm_size() of the result is Go's class size for
 * @size >= 16 and 8 (1..15 but 8 may share a 16-byte tiny block) and
 * round_up(@size, 8192) above 32768.
 */
void *gomm_alloc(size_t size, gfp_t flags);

/**
 * gomm_alloc_node - allocate memory from gomm on a NUMA node, like kmalloc_node()
 * @size: bytes wanted
 * @flags: GFP flags, as for gomm_alloc(); %__GFP_THISNODE makes @node a
 *	requirement rather than a preference
 * @node: the node whose memory the object should be of, or %NUMA_NO_NODE
 *
 * gomm has a heap per node with memory, with its own page allocator and
 * mcentrals, and each CPU's cache serves its own node (numa_mem_id()).
 * With @node %NUMA_NO_NODE or the CPU's node (and no %__GFP_THISNODE) this
 * is gomm_alloc(), fast path and all: the object is local unless the
 * local node was out of memory when the span was made.  For another node
 * the object comes from that node's spans (under the node's mcentral
 * lock, one lock round trip per object: a slow path) or, above 32 KiB,
 * its heap, grown with alloc_pages_node() and %__GFP_THISNODE; requests of
 * 1..15 bytes get an object of their size class (8 or 16 bytes), not a
 * share of a tiny block.  The object is freed with gomm_free() on any CPU
 * and goes back to its own node.
 *
 * Without %__GFP_THISNODE, @node is a preference, as for kmalloc_node():
 * if the node has no heap (no memory when gomm was loaded: memoryless
 * nodes; node hotplug is not supported) or no memory free right now (its
 * heap grows only with memory the page allocator has free, without
 * reclaim), the object comes from the local path instead.  With
 * %__GFP_THISNODE the object is of @node (the CPU's node for
 * %NUMA_NO_NODE), always through the slow path above, with reclaim on that
 * node as @flags allow, or %NULL: also for a node without a heap.
 * %__GFP_NOFAIL then retries as gomm_alloc() does; on a node without a
 * heap, which no retry can serve, it takes the local path instead of
 * failing (the object is not of @node then).  A @node that is not a
 * possible node id (below %NUMA_NO_NODE or at or above nr_node_ids) is a
 * bug: a warning, once, and %NULL.
 *
 * Context: as gomm_alloc().
 * Return: as gomm_alloc().  page_to_nid(virt_to_page()) of the object is
 * @node whenever @node is not %NUMA_NO_NODE and the object did not come
 * from the fallback (never with %__GFP_THISNODE).
 */
void *gomm_alloc_node(size_t size, gfp_t flags, int node);

/**
 * gomm_zalloc - allocate zeroed memory from gomm
 * @size: bytes wanted
 * @flags: GFP flags, as for gomm_alloc()
 *
 * Context: as gomm_alloc().
 * Return: as gomm_alloc(); the whole usable size is zeroed.
 */
void *gomm_zalloc(size_t size, gfp_t flags);

/**
 * gomm_free - free memory returned by gomm_alloc() or gomm_zalloc()
 * @ptr: the object, or %NULL (a no-op)
 *
 * Context: any context but NMI; never sleeps.  May be called on any CPU,
 * whichever CPU allocated the object.
 *
 * With the kernel's init_on_free the object is zeroed before it is freed,
 * and gomm's tiny allocator is off (its blocks' objects have no size of
 * their own to wipe).
 *
 * A pointer gomm never returned, an interior pointer or a double free is
 * reported once (rate-limited, with a stack trace), counted in debugfs and
 * otherwise ignored: gomm's state is not touched.
 */
void gomm_free(const void *ptr);

/**
 * gomm_size - usable size of a gomm object, like ksize()
 * @ptr: an object returned by gomm_alloc()
 *
 * Context: any context.
 * Return: the bytes the caller may use at @ptr, or 0 for %NULL and for
 * pointers gomm does not own (which are also reported as bad input).
 */
size_t gomm_size(const void *ptr);

/**
 * gomm_realloc - resize a gomm object, like krealloc()
 * @p: an object from gomm, or %NULL
 * @new_size: bytes wanted
 * @flags: GFP flags, as for gomm_alloc()
 *
 * With @p %NULL, gomm_alloc(@new_size, @flags).  With @new_size 0, @p is
 * freed and the result is %NULL: gomm has no ZERO_SIZE_PTR (gomm_alloc(0)
 * is %NULL too, and gomm_free(%NULL) is a no-op), so here %NULL is not a
 * failure.  Otherwise, if @new_size fits in gomm_size(@p), @p is returned
 * as it is (in place: a shrink does not move either); if not, a new object
 * gets the whole old one (gomm_size(@p) bytes) and @p is freed.  The
 * contents are kept up to the lesser of the old and new sizes.
 *
 * %__GFP_ZERO follows krealloc(): in place, the object's spare from
 * @new_size to gomm_size(@p) is zeroed; moved, the new object is zeroed
 * before the copy.  gomm, as krealloc(), knows an object's class size, not
 * the size it was asked for, so growth in place is zero only if every
 * allocation and realloc of the object used %__GFP_ZERO.
 *
 * KASAN sees the object as @new_size bytes from then on; kmemleak scans
 * @new_size bytes of it.
 *
 * Context: as gomm_alloc() for @flags.
 * Return: the object (@p, or a new one), or %NULL: @new_size is 0 (@p
 * freed), or memory cannot be had or @new_size is above 4 MiB (@p left
 * as it was), or @p is not a live gomm object - which is reported as a
 * bad free is, and changes nothing.
 */
void *gomm_realloc(const void *p, size_t new_size, gfp_t flags);

/**
 * gomm_free_rcu - free a gomm object after an RCU grace period
 * @ptr: the object, or %NULL (a no-op)
 *
 * Like kfree_rcu_mightsleep(): @ptr is freed once every RCU read-side
 * critical section that began before the call has ended, so readers that
 * found it under rcu_read_lock() may keep using it until they leave.  The
 * frees are batched per CPU: everything a CPU defers during one grace
 * period is freed by one callback, with gomm_free_bulk().  The pointer is
 * kept in a per-CPU block of pointers; when no block can be had, the call
 * waits for a grace period itself (synchronize_rcu()) and frees at once.
 * A pointer gomm never returned, an interior pointer or an object already
 * free is reported at once, as gomm_free() reports it, and not queued.
 *
 * Context: process context that may sleep.
 */
void gomm_free_rcu(const void *ptr);

struct rcu_head;

/**
 * gomm_free_rcu_head - free a gomm object after an RCU grace period
 * @ptr: the object, or %NULL (a no-op)
 * @head: an rcu_head gomm may use until @ptr is freed, normally a field of
 *	*@ptr (gomm_free_rcu_field() passes it)
 *
 * As gomm_free_rcu(), without sleeping: @head links the object into its
 * CPU's batch, so nothing is allocated.  Like kfree_rcu(ptr, rhf).
 *
 * Context: any context but NMI; never sleeps.
 */
void gomm_free_rcu_head(const void *ptr, struct rcu_head *head);

/*
 * kfree_rcu(ptr, rhf) for gomm: the rcu_head field @rhf of *@ptr carries
 * it (@ptr is evaluated once; %NULL is a no-op)
 */
#define gomm_free_rcu_field(ptr, rhf)					\
	do {								\
		typeof(ptr) ___gomm_p = (ptr);				\
									\
		gomm_free_rcu_head(___gomm_p, (void *)___gomm_p +	\
				   offsetof(typeof(*___gomm_p), rhf));	\
	} while (0)

/**
 * gomm_alloc_bulk - allocate @n objects at once, like kmem_cache_alloc_bulk()
 * @size: bytes wanted for each object
 * @flags: GFP flags, as for gomm_alloc()
 * @n: objects wanted
 * @ptrs: where the @n pointers go
 *
 * For the size classes (8 and 16..32768 bytes, all of 1..15 with
 * gomm.tiny=0) the objects are taken a whole 64-object window of this
 * CPU's span at a time, with the interrupts off once per window, not once
 * per object.
 * Tiny and large objects, %__GFP_NOFAIL, %__GFP_ACCOUNT, and everything
 * while a gomm tracepoint or the call-site accounting is on, are
 * allocated one by one as gomm_alloc() would.
 *
 * Context: as gomm_alloc() for @flags.
 * Return: @n, or 0 with nothing allocated (every object already taken is
 * freed again) when memory cannot be had.
 */
int gomm_alloc_bulk(size_t size, gfp_t flags, size_t n, void **ptrs);

/**
 * gomm_free_bulk - free @n objects at once, like kmem_cache_free_bulk()
 * @n: pointers in @ptrs
 * @ptrs: objects from gomm, in any order, of any sizes; %NULL entries are
 *	skipped
 *
 * Objects of the same span that follow one another are freed together:
 * one atomic operation per 64-object bitmap word instead of one per
 * object.  Bad input is detected and reported as gomm_free() does (a
 * pointer given twice is a double free).
 *
 * Context: any context but NMI; never sleeps.
 */
void gomm_free_bulk(size_t n, void **ptrs);

/**
 * gomm_alloc_nolock - allocate from any context, NMI included, without waiting
 * @size: bytes wanted, 1..32768
 * @flags: 0 or a combination of %__GFP_ZERO, %__GFP_NOWARN, %__GFP_ACCOUNT
 *	and %__GFP_NOMEMALLOC (kmalloc_nolock()'s flags); %__GFP_ACCOUNT is
 *	served uncharged and counted, as for gomm_alloc()
 *
 * Like kmalloc_nolock(): never spins on a lock, never sleeps, never grows
 * the heap.  The object comes from this CPU's nolock cache, a span per size
 * class kept apart from gomm_alloc()'s per-CPU cache (which an NMI may have
 * interrupted).  When that span has no free object left, the call sweeps
 * it and tries the class's central list with a trylock; when that fails
 * too, or when the call is an NMI that came in the middle of another
 * nolock call on the same CPU, it returns %NULL at once and leaves the
 * refill to an irq_work that runs when interrupts are enabled again (it
 * may then take locks and grow the heap with %GFP_ATOMIC).  So a %NULL
 * here does not mean that memory is short, and a later call may succeed.
 * Debugfs gomm/nolock counts the calls that got %NULL (busy, empty).
 *
 * Sizes of 1..15 bytes get an object of 8 or 16 bytes (no tiny
 * allocator), and gomm_size() of every object is its class size.  The
 * object is not registered with kmemleak (its hooks take locks; SLUB
 * skips them for kmalloc_nolock() too), so a pointer stored only in it
 * does not keep another object from being reported as a leak; it is not
 * traced nor counted per call site.  With the kernel's init_on_alloc it
 * is zeroed.
 *
 * Other flags (%GFP_KERNEL, %GFP_ATOMIC, ...) are a bug: %NULL, and a
 * warning the first time.
 *
 * Context: any, NMI and raw spinlocks held included.
 * Return: the object, or %NULL for 0, above 32768, unsupported @flags, or
 * when this CPU's nolock cache cannot serve the call without a lock.
 * Free it with gomm_free_nolock(), or with gomm_free() in a context
 * gomm_free() allows.
 */
void *gomm_alloc_nolock(size_t size, gfp_t flags);

/**
 * gomm_free_nolock - free a gomm object from any context, NMI included
 * @ptr: an object of gomm_alloc_nolock(), gomm_alloc() or any allocation
 *	of the family, or %NULL (a no-op)
 *
 * Like kfree_nolock(), and unlike it, for any gomm object.  The checks,
 * the wipe of init_on_free, KASAN's poison and publishing the free are
 * done at once, without a lock; whatever takes a lock is done by an
 * irq_work on this CPU as soon as interrupts are enabled again: giving a
 * large object's pages back, moving a span that was full back to its
 * central list when its lock is held, and, in NMI on a kernel with
 * kmemleak or with gomm's call-site accounting on, the whole free (those
 * must see it first).  A pointer gomm never returned, an interior pointer
 * or a double free is reported and counted as by gomm_free() - at once,
 * or for a free deferred whole, when the irq_work does it.
 *
 * Context: any, NMI and raw spinlocks held included; never waits.  Outside
 * NMI, kmemleak and the call-site accounting take their own locks.
 */
void gomm_free_nolock(const void *ptr);

/* scope-based freeing, __free(gomm), where the kernel has linux/cleanup.h */
#ifdef DEFINE_FREE
DEFINE_FREE(gomm, void *, if (_T) gomm_free(_T))
#endif

#endif /* _LINUX_GOMM_H */
