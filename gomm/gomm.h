/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gomm internal definitions: Go's mcache, mcentral and mheap (the span,
 * Go's mspan, is in span.h).
 *
 * Locking and ownership (the rules every function below follows):
 *
 * - struct gomm_mcache (per CPU) is touched only by its own CPU with local
 *   interrupts disabled, which also keeps preemption and migration away.
 *   The one exception is a CPU that is dead (hotplug) or a module that is
 *   unloading: then the control CPU flushes it.  The mcache takes no lock on
 *   the fast path and does no atomic read-modify-write.
 *
 * - Spans: who owns a span's allocation state, how any CPU frees into it
 *   (free_bits), the FULL hand-off between a freeing CPU and the mcentral,
 *   and the span lifetime rule (a struct gomm_span is freed only after an
 *   RCU grace period; lockless readers run in RCU read-side sections) are
 *   in span.h, beside the code.
 *
 * - mheap (struct gomm_heap): one per NUMA node with memory (gomm_heaps[]),
 *   each with its own spinlock, gomm_heap.lock, that guards that node's
 *   page allocator (bitmaps, summaries, searchAddr), the owned bits of the
 *   node's chunks and the node's heap counters, and with its own
 *   mcentrals (Go's mheap.central).  The page->span map and the chunk
 *   table (struct gomm_map) are global, indexed by physical address, and
 *   read without a lock by gomm_free() and gomm_size(); a chunk belongs to
 *   one node for good (gomm_chunk.node), its map is published once with a
 *   cmpxchg and never freed before module exit.  Only a page's owner
 *   writes its map entries.
 *
 * - Lock order: there is no nesting.  No two of the mcentral locks and
 *   the heap locks (of any nodes) are ever held together; all are raw
 *   spinlocks, taken with interrupts
 *   off (frees and GFP_ATOMIC allocations may come from hard interrupts,
 *   the drain flushes each CPU from an IPI), and no section under them is
 *   longer than GOMM_LOCK_BATCH spans or one chunk: walks over many spans
 *   drop the lock every GOMM_LOCK_BATCH.  Nothing under them allocates or
 *   frees memory other than gomm's own.  Heap growth that may sleep runs
 *   with no gomm lock held and interrupts enabled.  PREEMPT_RT is not
 *   supported (compat.h refuses to build): gomm's mcache runs with local
 *   interrupts off and may call the page allocator from there.
 *
 * - Sleeping locks, outside all of the above: gomm_drain() and
 *   gomm_scavenge() take cpus_read_lock() (CPU hotplug's lock), then
 *   gomm_reclaim_mutex (module.c), which the scavenger and the shrinker
 *   take alone.
 */
#ifndef _GOMM_GOMM_H
#define _GOMM_GOMM_H

#include <linux/atomic.h>
#include <linux/fault-inject.h>
#include <linux/gfp.h>
#include <linux/jump_label.h>
#include <linux/kasan.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/numa.h>
#include <linux/percpu.h>
#include <linux/ratelimit_types.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "pagealloc.h"
#include "sizeclasses.h"
#include "span.h"

#define GOMM_MAX_LARGE_SIZE	(4UL << 20)
/* spans of up to this many pages come from a CPU's page cache (Go's 15) */
#define GOMM_PCACHE_MAX_NPAGES	(GOMM_PCACHE_PAGES / 4 - 1)
/*
 * GFP bits that mean something to the page and slab allocators here: not
 * __GFP_NOFAIL (gomm retries itself: gomm_alloc_slow()), not
 * __GFP_ACCOUNT (a chunk is shared by every memcg), not __GFP_ZERO
 */
#define GOMM_GFP_MASK		(GFP_KERNEL | GFP_ATOMIC | __GFP_NOWARN | \
				 __GFP_NORETRY | __GFP_RETRY_MAYFAIL | \
				 __GFP_NOMEMALLOC)
/*
 * GFP bits that take an allocation off the fast paths to gomm_alloc_slow():
 * one test of the flags either way, so the fast paths pay nothing for them
 */
#define GOMM_GFP_SLOW		(__GFP_ZERO | __GFP_NOFAIL | __GFP_ACCOUNT)
/* spans a walk handles under one hold of a class or heap lock */
#define GOMM_LOCK_BATCH		32
/**
 * struct gomm_mcache - Go's mcache, one per CPU
 * @alloc: the span each span class allocates from; &gomm_empty_span (an
 *	empty window) when none, so the fast path never tests for NULL
 * @tiny: address of the open tiny block, 0 when none
 * @tiny_offset: bytes of the open tiny block already handed out
 *	(GOMM_TINY_SIZE when none is open)
 * @tiny_span: span of the open tiny block
 * @tiny_state: &@tiny_span->tiny[] of the open block
 * @nalloc: objects taken by this CPU per span class (counted when a window
 *	is loaded by the slow path, the unused rest taken back when the span
 *	is uncached); [0] counts large objects
 * @ntiny_alloc: tiny sub-objects handed out by this CPU
 * @slow: allocations that missed the fast path (and got an object)
 * @refills: spans taken from an mcentral (or a new span)
 * @sweeps: exhausted spans that a sweep made usable again
 * @flushes: times this mcache was flushed (drain, hotplug, unload)
 * @rewins: windows gomm_alloc_refill() (or the bulk path) reloaded from
 *	their own word's frees: each is a slow path and a sweep too (one
 *	counter for the three, gomm_stats_read() adds it to both)
 * @nrewin: objects of those windows: as many objects loaded as frees swept
 * @nswept: frees of span-class objects that this CPU swept otherwise (its
 *	mcache's sweeps, and sweeps under an mcentral lock taken here)
 * @ntiny_free: tiny sub-objects freed on this CPU
 * @nlarge_free: large objects freed on this CPU
 *
 * Every counter only goes up but @nalloc, which gives back the unused
 * part of a window when it is unloaded; gomm_stats_cpu() takes the
 * current windows off instead, so what it reports only goes up.  The
 * fields up to @nrewin are written by their CPU with local interrupts
 * off; @nswept, @ntiny_free and @nlarge_free by this_cpu_*() operations,
 * which are interrupt-safe on their own.  A CPU that goes
 * offline keeps its counters: the totals sum every possible CPU.
 */
struct gomm_mcache {
	struct gomm_span *alloc[GOMM_NUM_SPANCLASSES];
	unsigned long tiny;
	unsigned int tiny_offset;
	struct gomm_span *tiny_span;
	atomic_long_t *tiny_state;
	unsigned long nalloc[GOMM_NUM_SPANCLASSES];
	unsigned long ntiny_alloc;
	unsigned long slow;
	unsigned long refills;
	unsigned long sweeps;
	unsigned long flushes;
	unsigned long rewins;
	unsigned long nrewin;
	unsigned long nswept;
	unsigned long ntiny_free;
	unsigned long nlarge_free;
};

/**
 * struct gomm_cpu_stats - one CPU's cumulative counters (debugfs "cpus")
 * @allocs: objects of the span classes handed out (small objects and tiny
 *	blocks; fast_hits = @allocs - @slow)
 * @frees: frees of such objects swept by this CPU
 * @slow: allocations that missed the fast path
 * @refills: spans taken from an mcentral or the heap
 * @sweeps: exhausted spans that a sweep made usable again
 * @flushes: times the CPU's mcache was flushed
 * @tiny_allocs: tiny sub-objects handed out
 * @tiny_frees: tiny sub-objects freed on this CPU
 * @large_allocs: large objects allocated on this CPU
 * @large_frees: large objects freed on this CPU
 *
 * Each one only goes up, across drains, scavenges, the shrinker and CPU
 * hotplug.
 */
struct gomm_cpu_stats {
	unsigned long allocs;
	unsigned long frees;
	unsigned long slow;
	unsigned long refills;
	unsigned long sweeps;
	unsigned long flushes;
	unsigned long tiny_allocs;
	unsigned long tiny_frees;
	unsigned long large_allocs;
	unsigned long large_frees;
};

/**
 * struct gomm_mcentral - Go's mcentral: the spans of one span class of one node
 * @lock: guards the lists and the spans on @partial and @full
 * @partial: spans with free objects, or with frees not yet swept
 * @full: spans with no free object when they were put there
 * @all: every span of the class, cached ones included (for statistics)
 * @nr_spans: spans of this class in existence (cached ones included)
 * @nr_partial: spans on @partial
 * @nr_full: spans on @full
 *
 * Cache-line aligned so that two classes never share a line (Go's pad).
 */
struct gomm_mcentral {
	raw_spinlock_t lock;	/* the class's lists and their spans */
	struct list_head partial;
	struct list_head full;
	struct list_head all;
	unsigned long nr_spans;
	unsigned long nr_partial;
	unsigned long nr_full;
} ____cacheline_aligned_in_smp;

/**
 * struct gomm_chunk - one 4 MiB chunk of physical memory gomm knows of
 * @palloc: Go's pallocBits for the chunk (1 = in use or not gomm's)
 * @owned: 1 = gomm holds this page from the buddy allocator
 * @zeroed: 1 = owned, free in the page allocator and still zero as the
 *	buddy allocator handed it out (only with init_on_alloc: heap.c)
 * @spans: page -> span map (Go's heapArena.spans), every page of a span;
 *	&gomm_empty_span for pages in no span
 * @node: the NUMA node of every page of the chunk gomm holds; set before
 *	the chunk is published, never changed.  A block of another node
 *	in it (a node boundary that is not 4 MiB aligned) is given back.
 *
 * @palloc, @owned and @zeroed are guarded by the heap lock of @node's heap.
 */
struct gomm_chunk {
	struct gomm_pchunk palloc;
	unsigned long owned[GOMM_CHUNK_PAGES / BITS_PER_LONG];
	unsigned long zeroed[GOMM_CHUNK_PAGES / BITS_PER_LONG];
	struct gomm_span *spans[GOMM_CHUNK_PAGES];
	int node;
};

/**
 * struct gomm_map - the page->span map and chunk table, for every node
 * @spanmap: chunk index -> the chunk's page->span map (its struct
 *	gomm_chunk's @spans), or a map of &gomm_empty_span for chunks gomm
 *	does not have (lockless readers)
 * @nspanmap: entries in @spanmap (chunks of the physical address range)
 */
struct gomm_map {
	struct gomm_span ***spanmap;
	unsigned long nspanmap;
};

/**
 * struct gomm_heap - Go's mheap, one per NUMA node with memory
 * @lock: the heap lock (see the rules above)
 * @pa: Go's pageAlloc over the chunk index space; it holds this node's
 *	chunks only
 * @node: the node
 * @fallback: the node whose heap this heap's last growth fell back to
 *	(the page allocator found no memory here), NUMA_NO_NODE if it did
 *	not: local allocations look there before growing again
 * @nr_large: large objects live
 * @pages_owned: gomm pages held from the buddy allocator (heap lock)
 * @pages_in_use: gomm pages in spans (the owned pages that are not are
 *	free in the page allocator or in a CPU's page cache)
 * @large_pages: gomm pages in large-object spans
 * @chunks: chunks of this node ever seen (their struct gomm_chunk stays
 *	until exit)
 * @grows: successful heap growths
 * @released: gomm pages returned to the buddy allocator
 * @blocks_released: the blocks they went back in (page allocator calls)
 * @large_prezeroed: large objects asked zeroed whose pages were zero
 *	already (init_on_alloc zeroed them in the buddy allocator: heap.c)
 * @central: the node's mcentrals, one per span class (Go's mheap.central)
 */
struct gomm_heap {
	raw_spinlock_t lock;	/* the heap lock: see the rules at the top */
	struct gomm_pagealloc pa;
	int node;
	int fallback;
	atomic_long_t nr_large;
	unsigned long pages_owned;
	atomic_long_t pages_in_use;
	atomic_long_t large_pages;
	unsigned long chunks;
	unsigned long grows;
	unsigned long released;
	atomic_long_t blocks_released;
	atomic_long_t large_prezeroed;
	struct gomm_mcentral central[GOMM_NUM_SPANCLASSES];
};

/**
 * struct gomm_heap_stats - a node's heap counters, or their totals
 * @chunks: chunks
 * @pages_owned: pages held from the buddy allocator
 * @pages_in_use: pages in spans
 * @large_pages: pages in large-object spans
 * @nr_large: large objects live
 * @released: pages given back (a counter)
 * @blocks_released: the buddy blocks they went back in (a counter)
 * @large_prezeroed: large objects not zeroed again (a counter)
 * @grows: growths (a counter)
 * @largest_free: longest run of free pages (of one node's heap: runs do
 *	not cross nodes)
 * @spans: spans of the size classes (cached ones included)
 */
struct gomm_heap_stats {
	unsigned long chunks;
	unsigned long pages_owned;
	unsigned long pages_in_use;
	unsigned long large_pages;
	unsigned long nr_large;
	unsigned long released;
	unsigned long blocks_released;
	unsigned long large_prezeroed;
	unsigned long grows;
	unsigned long largest_free;
	unsigned long spans;
};

/**
 * struct gomm_errors - counters of bad input and failures (debugfs)
 * @bad_free: frees of pointers gomm never returned, or interior pointers
 * @double_free: frees of objects that were already free
 * @failed_grow: heap growths that could not get memory
 * @too_large: requests above 4 MiB
 * @unaccounted: allocations with __GFP_ACCOUNT, served but not charged to
 *	a memcg (the kernel exports nothing a module could charge with)
 */
struct gomm_errors {
	atomic_long_t bad_free;
	atomic_long_t double_free;
	atomic_long_t failed_grow;
	atomic_long_t too_large;
	atomic_long_t unaccounted;
};

extern struct gomm_map gomm_map;
extern struct gomm_heap *gomm_heaps[MAX_NUMNODES];
extern struct gomm_heap *gomm_heap_first;
extern struct gomm_heap *gomm_heap_list[MAX_NUMNODES];
extern unsigned int gomm_nr_heaps;
extern struct gomm_span gomm_empty_span;
/* the size class of a request of 1..32768 bytes, by (size + 7) / 8 */
extern u8 gomm_fast_class[GOMM_MAX_SMALL_SIZE / 8 + 1];
extern struct gomm_errors gomm_errors;
DECLARE_PER_CPU(struct gomm_mcache, gomm_mcache);
/* module parameters (module.c) that the rest reads */
extern bool gomm_tiny_enabled;
extern bool gomm_init_alloc;
extern bool gomm_init_free;
extern unsigned long gomm_retain_kb;
extern u64 gomm_reclaim_ns;
extern struct shrinker *gomm_shrinker;

/*
 * Does a request of @size bytes take the tiny allocator?  1..15 bytes, but
 * not 8: Go's tiny rules align an 8-byte object to 8, so two share a block
 * just as two share 16 bytes of class 1's span, and class 1 serves it on
 * the fast path, with no block state to keep.  Never with gomm.tiny=0.
 */
static __always_inline bool gomm_tiny_size(size_t size)
{
	return size - 1 < GOMM_TINY_SIZE - 1 && (size & 7) &&
	       likely(gomm_tiny_enabled);
}

/* The size class of a request of 1..32768 bytes: one load, no branch. */
static __always_inline unsigned int gomm_class_of(size_t size)
{
	return gomm_fast_class[(size + 7) / 8];
}

#ifdef CONFIG_FAULT_INJECTION
extern struct fault_attr gomm_fail_grow;
#endif
#if IS_ENABLED(CONFIG_KUNIT)
/* gomm_report()'s rate limit (malloc.c), static without KUnit */
extern struct ratelimit_state gomm_report_rs;
unsigned long gomm_kunit_scavenge(unsigned long retain_pages,
				  unsigned long max_pages);
void gomm_kunit_reclaim_lock(void);
void gomm_kunit_reclaim_unlock(void);
#endif

/**
 * gomm_heap_at - the @i-th node heap, in node order, or NULL past the last
 * @i: 0 for the first
 *
 * For walks over every node's heap: for (i = 0; (h = gomm_heap_at(i)); i++).
 * The list is made at load and fixed until unload.
 */
static inline struct gomm_heap *gomm_heap_at(unsigned int i)
{
	return i < gomm_nr_heaps ? gomm_heap_list[i] : NULL;
}

/**
 * gomm_local_heap - the heap of this CPU's nearest node with memory
 *
 * numa_mem_id()'s heap; the first node's for a node that got memory after
 * gomm was loaded (node hotplug is not supported: it has no heap).
 *
 * Context: any; the caller's CPU may change right after unless it keeps it.
 */
static inline struct gomm_heap *gomm_local_heap(void)
{
	struct gomm_heap *h = gomm_heaps[numa_mem_id()];

	return likely(h) ? h : gomm_heap_first;
}

/**
 * gomm_node_heap - the heap of node @node, or NULL if it has none
 * @node: a node id, any value
 */
static inline struct gomm_heap *gomm_node_heap(int node)
{
	if (node < 0 || node >= nr_node_ids)
		return NULL;
	return gomm_heaps[node];
}

/* The mcentral span @s goes back to: its own node's, of its class. */
static inline struct gomm_mcentral *gomm_span_central(const struct gomm_span *s)
{
	return &gomm_heaps[s->node]->central[s->spanclass];
}

/* heap.c: the mheap */
int gomm_heap_init(void);
unsigned long gomm_heap_exit(void);
struct gomm_span *gomm_heap_alloc_span(unsigned long npages,
				       unsigned int spanclass, gfp_t gfp,
				       int node);
void gomm_heap_stats(int node, struct gomm_heap_stats *st);
unsigned long gomm_heap_free_estimate(void);
void gomm_heap_free_span(struct gomm_span *s);
void gomm_heap_free_spans(struct list_head *spans);
void gomm_heap_flush_pcache(int cpu);
bool gomm_heap_pcache_holds(int cpu);
struct gomm_span *gomm_span_of(const void *p, bool *free_page);
unsigned long gomm_heap_scavenge(unsigned long retain_pages,
				 unsigned long max_pages);

/* mcentral.c: the mcentrals */
void gomm_mcentral_init(struct gomm_heap *h);
struct gomm_span *gomm_mcentral_cache(unsigned int spanclass,
				      struct gomm_span *old);
void *gomm_mcentral_alloc_node(unsigned int spanclass, gfp_t gfp,
			       struct gomm_heap *h);
struct gomm_span *gomm_mcentral_grow(unsigned int spanclass, gfp_t gfp);
void gomm_mcentral_uncache(struct gomm_span *s);
void gomm_mcentral_put(struct gomm_mcentral *c, struct gomm_span *s);
struct gomm_span *gomm_mcentral_pop(struct gomm_mcentral *c,
				    unsigned long todo, unsigned int *swept);
void gomm_mcentral_freed_locked(struct gomm_mcentral *c, struct gomm_span *s);
unsigned long gomm_mcentral_reclaim(unsigned int keep);
unsigned long gomm_mcentral_reclaimable(void);
unsigned long gomm_mcentral_exit(void);

/* malloc.c: the mcache front end */
void __init gomm_malloc_init(void);
void gomm_flush_cpu(int cpu);
void gomm_flush_local(void *unused);
bool gomm_cpu_caches(int cpu, void *unused);

/* malloc.c: for the family's other members */
size_t gomm_usable(const void *ptr, enum gomm_op op, bool *tiny);
enum gomm_bad gomm_check_ptr(const void *ptr, struct gomm_span **sp,
			     unsigned int *idx, unsigned int *toff);
void gomm_free_large_claimed(const void *ptr, struct gomm_span *s);
void gomm_account_unsupported(void);
#if IS_ENABLED(CONFIG_KUNIT)
bool gomm_test_live(const void *ptr);
#endif

/* rcu.c: gomm_free_rcu() and gomm_free_rcu_head() */
void gomm_rcu_init(void);
bool gomm_rcu_pending(void);
void gomm_rcu_barrier(void);
#if IS_ENABLED(CONFIG_KUNIT)
extern atomic_long_t gomm_rcu_batches;
#endif

/**
 * struct gomm_nolock_stats - one CPU's nolock counters (debugfs "nolock")
 * @allocs: objects gomm_alloc_nolock() handed out on the CPU
 * @refills: spans its nolock cache took (trylock of an mcentral, or
 *	the irq_work's refill)
 * @busy: gomm_alloc_nolock() calls that found the CPU's nolock cache
 *	busy (an NMI inside a nolock call on the same CPU): NULL
 * @empty: calls the cache could not serve without a lock: NULL
 * @deferred: frees of gomm_free_nolock() whose locked part was left to
 *	the CPU's irq_work (a large object, a FULL span's hand-off that
 *	found its mcentral locked, a free in NMI that kmemleak or the
 *	call-site accounting must see first)
 * @dropped: frees in NMI lost because the CPU's deferral array was full
 *	(kmemleak or call-site accounting on only); the object stays live
 *
 * Each one only goes up.
 */
struct gomm_nolock_stats {
	unsigned long allocs;
	unsigned long refills;
	unsigned long busy;
	unsigned long empty;
	unsigned long deferred;
	unsigned long dropped;
};

/* nolock.c: gomm_alloc_nolock() and gomm_free_nolock() */
struct dentry;
void gomm_nolock_init(void);
void gomm_nolock_flush(int cpu);
void gomm_nolock_flush_cpu(int cpu);
bool gomm_nolock_holds(int cpu);
#if IS_ENABLED(CONFIG_KUNIT)
unsigned int gomm_nolock_defer_stale(int cpu);
#endif
void gomm_nolock_barrier(void);
void gomm_nolock_cpu_add(int cpu, struct gomm_cpu_stats *st);
void gomm_nolock_stats_cpu(int cpu, struct gomm_nolock_stats *st);
void gomm_nolock_debugfs_init(struct dentry *dir);

/* module.c: the module, and the reclaimers (drain, scavenger, shrinker) */
void gomm_drain(void);
unsigned long gomm_scavenge(void);

/* callsite.c: per-call-site accounting (debugfs "callsites") */
struct dentry;
struct seq_file;
DECLARE_STATIC_KEY_FALSE(gomm_callsite_key);
void gomm_callsite_alloc(const void *p, size_t bytes, unsigned long ip);
void gomm_callsite_free(const void *p);
int gomm_callsites_set(bool on);
bool gomm_callsites_enabled(void);
int gomm_callsites_show(struct seq_file *m, void *v);
void gomm_callsites_init(struct dentry *dir);
void gomm_callsites_exit(void);

/* malloc.c: the instrumented copies of gomm_alloc() and gomm_free() */
DECLARE_STATIC_KEY_FALSE(gomm_alloc_instr_key);
DECLARE_STATIC_KEY_FALSE(gomm_free_instr_key);

/*
 * Does the gomm_alloc tracepoint, the call-site accounting or
 * init_on_alloc want allocations to take their instrumented copies?  A
 * jump-label nop if not.
 */
static __always_inline bool gomm_alloc_instrumented(void)
{
	return static_branch_unlikely(&gomm_alloc_instr_key);
}

/* Its twin for frees: the gomm_free tracepoint, call sites, init_on_free. */
static __always_inline bool gomm_free_instrumented(void)
{
	return static_branch_unlikely(&gomm_free_instr_key);
}

/* Is the call-site accounting on?  A jump-label nop while it is off. */
static __always_inline bool gomm_callsites_on(void)
{
	return static_branch_unlikely(&gomm_callsite_key);
}

/* stats.c: debugfs */
void gomm_stats_init(void);
void gomm_stats_exit(void);
long gomm_stats_in_use(unsigned int spanclass);
struct gomm_mcache *gomm_stats_mcache(int cpu);
void gomm_stats_cpu(int cpu, struct gomm_cpu_stats *st);
void gomm_stats_cpus_total(struct gomm_cpu_stats *total);
/* gomm_stats_in_use(): tiny sub-objects (span classes are 0..68) */
#define GOMM_STATS_TINY	(GOMM_NUM_SPANCLASSES + 1)

/**
 * gomm_span_lookup - the span holding @p (lockless, any context)
 * @p: any pointer
 *
 * The free fast path's lookup: on x86-64 a direct-map address minus
 * PAGE_OFFSET is its physical address, and anything else (vmalloc, the
 * kernel image, user or wild pointers) lands above the span map.
 *
 * Return: the span, or &gomm_empty_span (kind GOMM_KIND_NONE) when @p is
 * in no span; never NULL.
 */
static __always_inline struct gomm_span *gomm_span_lookup(const void *p)
{
	unsigned long off = (unsigned long)p - PAGE_OFFSET;

	if (unlikely(off >> GOMM_CHUNK_SHIFT >= gomm_map.nspanmap))
		return &gomm_empty_span;
	return READ_ONCE(gomm_map.spanmap[off >> GOMM_CHUNK_SHIFT]
					  [(off >> GOMM_PAGE_SHIFT) % GOMM_CHUNK_PAGES]);
}

/**
 * gomm_small_live - the free's fast test: a handed-out small object?
 * @ptr: the pointer being freed
 * @sp: set to the span the page->span map gives for @ptr
 * @idx: set to the object's index, when the test passes
 *
 * Finds a handed-out object of a small span by its exact start (divmagic
 * is 0 in every other span, the empty one included) and its alloc bit.
 * Everything else (tiny, large, bad input, an object already swept free)
 * goes to the caller's general path, which has *@sp.  The exact test
 * comes first, on its own: then the compiler needs no copy of the product
 * or divmagic (gomm_free()'s instruction count).
 *
 * Context: an RCU read-side section from here to the caller's last read
 * of *@sp (the span lifetime rule).
 * Return: true for a handed-out small object.
 */
static __always_inline bool gomm_small_live(const void *ptr,
					    struct gomm_span **sp,
					    unsigned int *idx)
{
	struct gomm_span *s = gomm_span_lookup(ptr);
	u64 m = (u64)((unsigned long)ptr - s->start) * s->divmagic;

	*sp = s;
	if (!gomm_obj_exact(m, s->divmagic))
		return false;
	/*
	 * In bounds without a mask: the map gave @s for @ptr's page, so the
	 * offset is below the span's size (start and divmagic never change
	 * in a small span's life, and a struct outlives its readers), and an
	 * offset there is in object 1023 at most in every class (KUnit
	 * gomm_sizeclass.test_divmagic).  At the end of a span with room left
	 * over, it is object nelems, whose alloc bit is never set.
	 */
	*idx = m >> 32;
	return test_bit(*idx, s->alloc_bits);
}

/*
 * gomm_small_live() with the object's free bit clear too: a live small
 * object as gomm_check_ptr() judges one, for the callers that must leave
 * a double free to the full check, which reports it before anything is
 * touched (gomm_free_nolock(), gomm_usable_fast()).  Same context.
 */
static __always_inline bool gomm_small_unfreed(const void *ptr,
					       struct gomm_span **sp,
					       unsigned int *idx)
{
	return gomm_small_live(ptr, sp, idx) && !test_bit(*idx, (*sp)->free_bits);
}

/*
 * gomm_usable() behind gomm_free()'s fast test: a live small object is
 * judged in a preempt-off section of its own (the span lifetime rule,
 * span.h), without the call and its rcu_read_lock() (itself a call on
 * preemptible RCU); the rest (tiny, large, bad input) gets gomm_usable()'s
 * full check and its report.  Same context.
 */
static __always_inline size_t gomm_usable_fast(const void *ptr, enum gomm_op op,
					       bool *tiny)
{
	struct gomm_span *s;
	unsigned int idx;
	size_t size = 0;

	preempt_disable();
	if (likely(gomm_small_unfreed(ptr, &s, &idx)))
		size = s->elemsize;
	preempt_enable();
	*tiny = false;
	return size ? size : gomm_usable(ptr, op, tiny);
}

/*
 * KASAN (generic): gomm writes the shadow of its objects itself, with the
 * codes of mm/kasan/kasan.h so that reports name the bug: a free object
 * is KASAN_SLAB_FREE ("slab-use-after-free"), the slack between the
 * requested size and the object's size KASAN_SLAB_REDZONE
 * ("slab-out-of-bounds").  Spans start out all free (gomm_mcentral_grow()).
 * Addresses and lengths are multiples of 8 except where noted.
 */
#define GOMM_KASAN_FREE		0xFB
#define GOMM_KASAN_REDZONE	0xFC

#ifdef CONFIG_KASAN_GENERIC
static inline void gomm_kasan_poison(unsigned long addr, size_t len, u8 code)
{
	__memset(kasan_mem_to_shadow((void *)addr), code,
		 len >> KASAN_SHADOW_SCALE_SHIFT);
}

/* [addr, addr + len) usable (any len), the rest of [addr, addr + size) a redzone */
static inline void gomm_kasan_unpoison(unsigned long addr, size_t len, size_t size)
{
	u8 *shadow = kasan_mem_to_shadow((void *)addr);
	size_t full = len >> KASAN_SHADOW_SCALE_SHIFT;
	u8 part = len & (BIT(KASAN_SHADOW_SCALE_SHIFT) - 1);

	__memset(shadow, 0, full);
	if (part)
		__memset(shadow + full++, part, 1);
	__memset(shadow + full, GOMM_KASAN_REDZONE,
		 (size >> KASAN_SHADOW_SCALE_SHIFT) - full);
}
#else
static inline void gomm_kasan_poison(unsigned long addr, size_t len, u8 code)
{
}

static inline void gomm_kasan_unpoison(unsigned long addr, size_t len, size_t size)
{
}
#endif

#endif /* _GOMM_GOMM_H */
