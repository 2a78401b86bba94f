// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_bench - guest instructions per operation of gomm and of SLUB.
 *
 * Meant for the perf test kernel under QEMU with "-icount shift=0", where
 * the guest clock advances one nanosecond per guest instruction: a
 * ktime_get_ns() delta is then an instruction count, the same on every
 * run and on every host.  The clock is global, so the counts also include
 * whatever the other vCPUs execute meanwhile; they sit idle (halted) in
 * the single-CPU cases, which costs nothing, apart from the occasional
 * timer tick or work item.  Without -icount (scripts/bench --wall) the
 * same deltas are guest nanoseconds of emulated time.
 *
 * Each case runs for gomm and for SLUB (kmalloc/kfree, and a kmem_cache
 * of the same size where it applies) in the same boot.  Every timed loop
 * runs BENCH_REPEAT rounds in one load, all timed (the first round's cold
 * start counts), and the worst round is reported (gomm=, slub=), the best
 * beside it (gomm_best=, slub_best=): the clock also counts whatever the
 * other vCPUs run meanwhile (a work item, vmstat, the gomm scavenger),
 * and one such event can add several million instructions to a loop of a
 * few million, so the best shows how much of the worst is such an event.
 * Rows that free large objects (growth, large) and every batch row end
 * each of gomm's rounds with its deferred page return
 * (bench_gomm_reclaim()), timed in the round, as SLUB's kfree() gives the
 * pages back inline (large objects, empty slabs).  A batch of 100000
 * 4 KiB objects leaves 400 MiB of empty spans: without this, the next
 * row's first scavenge paid for them.
 * Sizes are not compile-time constants, so kmalloc() goes through
 * __kmalloc() and its size lookup like gomm_alloc() does.  The numbers
 * are raw: they include the loop and the calls; case=loop measures that
 * overhead with empty functions, and the random case reports its own loop
 * cost as loop=.
 *
 * Loading the module runs nothing unless run= names case groups; the
 * guest script (scripts/guest/bench) writes group names to
 * /sys/kernel/debug/gomm_bench/run one at a time, so it can prepare the
 * heap (drain, scavenge) and read memory counters between them:
 *
 *   calib loop pair cache batch random remote large largeheap scale
 *   callsites growth SIZE bulk realloc rcu node nolock
 *
 * ("batch SIZE", "pair SIZE": only the rows of SIZE bytes, for a profile.)
 *
 * ("callsites": the pairs of 16, 64, 256 and 64 KiB bytes and the
 * 1000-object batch of 64 bytes again, as cases cs_pair and cs_batch1000,
 * meant to run with gomm's call-site accounting switched on;
 * scripts/guest/bench does that around it.)
 *
 * and builds the memory-efficiency live sets through
 * /sys/kernel/debug/gomm_bench/live ("gomm N", "slub N", "free"; reading
 * it gives the live objects and the bytes they requested).
 *
 * The kmalloc family (include/linux/gomm.h) against its SLUB counterpart:
 * "bulk" times gomm_alloc_bulk()/gomm_free_bulk() against
 * kmem_cache_alloc_bulk()/kmem_cache_free_bulk() on a 64-byte cache
 * (a kmalloc-64 of its own, unmerged), in calls of BENCH_BULK_N objects,
 * BENCH_BULK_CALLS calls per timed section; an op is one object's alloc
 * and free (case bulk64).  "realloc" times one object through
 * BENCH_REALLOC_STEPS sizes, grown, shrunk in place and grown again, with
 * gomm_realloc() and krealloc() (op = the allocation, the reallocs and
 * the free).  "rcu" times an allocation and its free after a grace
 * period, gomm_free_rcu_head() against kfree_rcu() (case free_rcu) and
 * gomm_free_rcu() against kfree_rcu_mightsleep() (free_rcu_nohead): the
 * loop queues the frees, and whatever of the callbacks runs during it is
 * counted too; the rest runs untimed, before the next case.  "node"
 * times pairs of gomm_alloc_node() and gomm_free() against kmalloc_node()
 * and kfree(): on the CPU's node (case node_local, 64 bytes and 64 KiB:
 * gomm's fast path), on it with __GFP_THISNODE (node_thisnode: gomm's
 * per-object path under the node's mcentral lock, and its heap for
 * 64 KiB), and on another node with memory (node_remote, 64 bytes; a
 * "skipped" line on a kernel with one node, as the perf kernels are).
 * "nolock" times gomm_alloc_nolock()/gomm_free_nolock() pairs against
 * kmalloc_nolock()/kfree_nolock() (case nolock) where the kernel has them
 * (6.18 and later: GOMM_HAVE_KMALLOC_NOLOCK, gomm/compat.h); on older
 * kernels against kmalloc(GFP_ATOMIC)/kfree(), as case nolock_vs_atomic,
 * so the two are never mixed up.  The line names the SLUB calls
 * (slub_api=).
 *
 * One line per case on the console, for scripts/bench:
 *   gomm_bench: case=pair size=64 gomm=41.2 slub=153.0 unit=ns/op
 * where an op is one allocation plus one free and ns are guest
 * nanoseconds (= instructions under -icount).  Batch, remote and growth
 * cases add the alloc and free halves as gomm_alloc=, gomm_free=,
 * slub_alloc= and slub_free= (per alloc, per free).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/gomm.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched/task.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/topology.h>

#include "compat.h"
#include "gomm.h"

/* iterations of the timed loop per case */
#define BENCH_ITERS		100000UL
/* timed rounds of each loop in one load; the worst and the best reported */
#define BENCH_REPEAT		3
/*
 * pairs of a large object per round: BENCH_LARGE_ITERS of 64 KiB, fewer
 * of larger ones (bench_large_iters()), so that a row zeroes at most
 * 625 MiB a round where init_on_alloc is on (the distro flavors), which
 * TCG emulates a store at a time
 */
#define BENCH_LARGE_ITERS	10000UL
#define BENCH_LARGE_MIN_ITERS	100UL
/* objects alive at once in the remote-free case */
#define BENCH_REMOTE_N		100000UL
/* instructions per iteration of bench_calib(), and its iterations */
#define BENCH_CALIB_INSN	12
#define BENCH_CALIB_ITERS	1000000UL
/* the random case: live set, and timed free+alloc replacements */
#define BENCH_RAND_LIVE		20000UL
#define BENCH_RAND_OPS		100000UL
#define BENCH_RAND_SEED		0x676f6d6d62656e63ULL	/* "gommbenc" */
/* the memory case: replacements per live object after the fill */
#define BENCH_LIVE_CHURN	2UL
#define BENCH_LIVE_MAX		1000000UL
/* the scaling case: CPUs, and 64-byte ops per CPU */
#define BENCH_SCALE_MAX_CPUS	4U
#define BENCH_SCALE_SIZE	64
#define BENCH_SCALE_BATCH	1000UL
/* large objects kept live by the largeheap case: one chunk each, less a page */
#define BENCH_HEAP_OBJ		(SZ_4M - SZ_8K)
#define BENCH_HEAP_BIG		128UL	/* 128 x 4 MiB = 512 MiB */
/* bytes allocated by one growth round */
#define BENCH_GROWTH_BYTES	SZ_64M
/* the bulk case: objects per call, calls per timed section */
#define BENCH_BULK_N		64
#define BENCH_BULK_CALLS	16
/* above this, an object is a large one: fewer pairs (bench_large_iters()) */
#define GOMM_BENCH_SMALL_MAX	SZ_32K

/* pairs per round of a @size-byte object: BENCH_ITERS for a small one */
static unsigned long bench_large_iters(size_t size)
{
	if (size <= GOMM_BENCH_SMALL_MAX)
		return BENCH_ITERS;
	return clamp(BENCH_LARGE_ITERS * SZ_64K / size, BENCH_LARGE_MIN_ITERS,
		     BENCH_LARGE_ITERS);
}

enum bench_kind {
	BENCH_GOMM,
	BENCH_SLUB,	/* kmalloc() / kfree() */
	BENCH_CACHE,	/* kmem_cache_alloc() / kmem_cache_free() */
	BENCH_NOP,	/* empty functions: the loop and call overhead */
	BENCH_GOMM_NODE,	/* gomm_alloc_node() / gomm_free() */
	BENCH_SLUB_NODE,	/* kmalloc_node() / kfree() */
};

/* the node and flags of the BENCH_*_NODE kinds */
static int bench_node = NUMA_NO_NODE;
static gfp_t bench_node_gfp = GFP_KERNEL;

static struct kmem_cache *bench_cache;
static void **bench_vec;
static char bench_nop_obj[8];
static DEFINE_MUTEX(bench_lock);

static noinline void *bench_nop_alloc(size_t size, gfp_t gfp)
{
	void *p = bench_nop_obj;

	/* opaque to the compiler: the call cannot be dropped */
	asm volatile("" : "+r" (p) : "r" (size), "r" (gfp) : "memory");
	return p;
}

static noinline void bench_nop_free(const void *p)
{
	asm volatile("" : : "r" (p) : "memory");
}

static __always_inline void *bench_alloc(enum bench_kind k, size_t size)
{
	switch (k) {
	case BENCH_GOMM:
		return gomm_alloc(size, GFP_KERNEL);
	case BENCH_SLUB:
		return kmalloc(size, GFP_KERNEL);
	case BENCH_CACHE:
		return kmem_cache_alloc(bench_cache, GFP_KERNEL);
	case BENCH_GOMM_NODE:
		return gomm_alloc_node(size, bench_node_gfp, bench_node);
	case BENCH_SLUB_NODE:
		return kmalloc_node(size, bench_node_gfp, bench_node);
	default:
		return bench_nop_alloc(size, GFP_KERNEL);
	}
}

static __always_inline void bench_free(enum bench_kind k, void *p)
{
	switch (k) {
	case BENCH_GOMM:
	case BENCH_GOMM_NODE:
		gomm_free(p);
		break;
	case BENCH_SLUB:
	case BENCH_SLUB_NODE:
		kfree(p);
		break;
	case BENCH_CACHE:
		kmem_cache_free(bench_cache, p);
		break;
	default:
		bench_nop_free(p);
		break;
	}
}

/* @n alloc+free pairs of @size bytes; returns false if an alloc failed. */
static __always_inline bool bench_pair_loop(enum bench_kind k, size_t size,
					    unsigned long n)
{
	unsigned long i;
	void *p;

	for (i = 0; i < n; i++) {
		p = bench_alloc(k, size);
		if (unlikely(!p))
			return false;
		bench_free(k, p);
	}
	return true;
}

/* @n allocations of @size bytes into @v; returns how many succeeded. */
static __always_inline unsigned long bench_alloc_loop(enum bench_kind k,
						      size_t size, void **v,
						      unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		v[i] = bench_alloc(k, size);
		if (unlikely(!v[i]))
			break;
	}
	return i;
}

static __always_inline void bench_free_loop(enum bench_kind k, void **v,
					    unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		bench_free(k, v[i]);
}

/*
 * @n replacements in the live set @v: free v[slot[i]], then put a fresh
 * object of size[i] bytes there.  Returns false if an alloc failed (that
 * slot is then NULL, which every free accepts).
 */
static __always_inline bool bench_churn_loop(enum bench_kind k, void **v,
					     const u32 *slot, const u32 *size,
					     unsigned long n)
{
	unsigned long i;
	void **s;

	for (i = 0; i < n; i++) {
		s = &v[slot[i]];
		bench_free(k, *s);
		*s = bench_alloc(k, size[i]);
		if (unlikely(!*s))
			return false;
	}
	return true;
}

/*
 * The switches below pick a loop specialised for one allocator, with
 * direct calls, once per case rather than once per operation.
 */
static noinline bool bench_pairs(enum bench_kind k, size_t size,
				 unsigned long n)
{
	switch (k) {
	case BENCH_GOMM:
		return bench_pair_loop(BENCH_GOMM, size, n);
	case BENCH_SLUB:
		return bench_pair_loop(BENCH_SLUB, size, n);
	case BENCH_CACHE:
		return bench_pair_loop(BENCH_CACHE, size, n);
	case BENCH_GOMM_NODE:
		return bench_pair_loop(BENCH_GOMM_NODE, size, n);
	case BENCH_SLUB_NODE:
		return bench_pair_loop(BENCH_SLUB_NODE, size, n);
	default:
		return bench_pair_loop(BENCH_NOP, size, n);
	}
}

static noinline unsigned long bench_allocs(enum bench_kind k, size_t size,
					   void **v, unsigned long n)
{
	switch (k) {
	case BENCH_GOMM:
		return bench_alloc_loop(BENCH_GOMM, size, v, n);
	case BENCH_SLUB:
		return bench_alloc_loop(BENCH_SLUB, size, v, n);
	case BENCH_CACHE:
		return bench_alloc_loop(BENCH_CACHE, size, v, n);
	default:
		return bench_alloc_loop(BENCH_NOP, size, v, n);
	}
}

static noinline void bench_frees(enum bench_kind k, void **v, unsigned long n)
{
	switch (k) {
	case BENCH_GOMM:
		bench_free_loop(BENCH_GOMM, v, n);
		break;
	case BENCH_SLUB:
		bench_free_loop(BENCH_SLUB, v, n);
		break;
	case BENCH_CACHE:
		bench_free_loop(BENCH_CACHE, v, n);
		break;
	default:
		bench_free_loop(BENCH_NOP, v, n);
		break;
	}
}

static noinline bool bench_churn(enum bench_kind k, void **v, const u32 *slot,
				 const u32 *size, unsigned long n)
{
	switch (k) {
	case BENCH_GOMM:
		return bench_churn_loop(BENCH_GOMM, v, slot, size, n);
	case BENCH_SLUB:
		return bench_churn_loop(BENCH_SLUB, v, slot, size, n);
	default:
		return bench_churn_loop(BENCH_NOP, v, slot, size, n);
	}
}

/* A loop of exactly BENCH_CALIB_INSN instructions per iteration. */
static noinline void bench_calib(unsigned long n)
{
	asm volatile("1:\n\t"
		     ".rept 10\n\t"
		     "nop\n\t"
		     ".endr\n\t"
		     "dec %0\n\t"
		     "jnz 1b"
		     : "+r" (n) : : "cc");
}

/* One number as "ns per op" with one decimal, e.g. "41.2". */
struct bench_num {
	char s[24];
};

static struct bench_num bench_fmt(u64 ns, u64 n)
{
	struct bench_num r;
	u32 tenth;
	u64 v;

	v = div_u64_rem(div64_u64(ns * 10 + n / 2, n), 10, &tenth);
	snprintf(r.s, sizeof(r.s), "%llu.%u", v, tenth);
	return r;
}

/*
 * The rounds of a row: its timed loop run BENCH_REPEAT times in one load,
 * every run timed (no untimed warm-up: the first round's cold start
 * counts), the worst and the best round kept.  A row reports its worst
 * round as gomm= and slub=, its best as gomm_best= and slub_best=.
 */
struct bench_rounds {
	u64 best;
	u64 worst;	/* 0: a round failed */
};

static void bench_round(struct bench_rounds *r, u64 ns)
{
	r->best = min(r->best, ns);
	r->worst = max(r->worst, ns);
}

/*
 * gomm's deferred page return, run now and timed by the caller: what its
 * debugfs "scavenge" does (wait for RCU frees, flush every CPU's caches,
 * free empty spans, give free pages beyond retain_kb back), through
 * gomm_scavenge(), which gomm exports to its own modules (namespace
 * GOMM_INTERNAL).  SLUB pays the same work inside kfree() (an empty slab
 * or a large object goes back to the page allocator at once), so the rows
 * that free pages count it.
 */
static int bench_gomm_reclaim(void)
{
	gomm_scavenge();
	return 0;
}

/*
 * BENCH_REPEAT rounds of @n timed alloc+free pairs; worst 0 on failure.
 * With @reclaim, each of gomm's rounds ends with bench_gomm_reclaim(),
 * timed as part of the round.
 */
static struct bench_rounds bench_time_pairs_reclaim(enum bench_kind k,
						    size_t size,
						    unsigned long n,
						    bool reclaim)
{
	struct bench_rounds r = { .best = U64_MAX };
	u64 t0;
	int i;

	for (i = 0; i < BENCH_REPEAT; i++) {
		t0 = ktime_get_ns();
		if (!bench_pairs(k, size, n))
			return (struct bench_rounds){};
		if (reclaim && (k == BENCH_GOMM || k == BENCH_GOMM_NODE) &&
		    bench_gomm_reclaim())
			return (struct bench_rounds){};
		bench_round(&r, ktime_get_ns() - t0);
	}
	return r;
}

static struct bench_rounds bench_time_pairs(enum bench_kind k, size_t size,
					    unsigned long n)
{
	return bench_time_pairs_reclaim(k, size, n, false);
}

/* "case=NAME size=SIZE gomm=worst slub=worst gomm_best= slub_best=EXTRA" */
static void bench_print(const char *name, size_t size, struct bench_rounds g,
			struct bench_rounds s, u64 n, const char *extra)
{
	pr_info("case=%s size=%zu gomm=%s slub=%s gomm_best=%s slub_best=%s%s unit=ns/op\n",
		name, size, bench_fmt(g.worst, n).s, bench_fmt(s.worst, n).s,
		bench_fmt(g.best, n).s, bench_fmt(s.best, n).s, extra);
}

static int bench_pair_case(const char *name, enum bench_kind slub,
			   size_t size, unsigned long n)
{
	/* large objects: gomm's rounds include giving their pages back */
	bool reclaim = size > SZ_32K;
	struct bench_rounds g = bench_time_pairs_reclaim(BENCH_GOMM, size, n,
							 reclaim);
	struct bench_rounds s = bench_time_pairs(slub, size, n);

	if (!g.worst || !s.worst) {
		pr_err("case=%s size=%zu: allocation failed\n", name, size);
		return -ENOMEM;
	}
	bench_print(name, size, g, s, n, "");
	return 0;
}

/*
 * Pairs of gomm_alloc_node() and kmalloc_node() of @size bytes on @node
 * with @gfp, as case @name; the objects are checked to be of @node.
 */
static int bench_node_pairs(const char *name, int node, gfp_t gfp, size_t size,
			    unsigned long n)
{
	struct bench_rounds g, s;
	char extra[24];
	void *p, *q;
	bool on;

	bench_node = node;
	bench_node_gfp = gfp;
	p = gomm_alloc_node(size, gfp, node);
	q = kmalloc_node(size, gfp, node);
	on = p && q && page_to_nid(virt_to_page(p)) == node &&
	     page_to_nid(virt_to_page(q)) == node;
	gomm_free(p);
	kfree(q);
	if (!on) {
		pr_err("case=%s size=%zu: no object of node %d\n", name, size, node);
		return -ENOMEM;
	}
	/* large objects: gomm's rounds include giving their pages back */
	g = bench_time_pairs_reclaim(BENCH_GOMM_NODE, size, n, size > SZ_32K);
	s = bench_time_pairs(BENCH_SLUB_NODE, size, n);
	if (!g.worst || !s.worst) {
		pr_err("case=%s size=%zu: allocation failed\n", name, size);
		return -ENOMEM;
	}
	snprintf(extra, sizeof(extra), " node=%d", node);
	bench_print(name, size, g, s, n, extra);
	return 0;
}

/* The node group: the CPU's node, with __GFP_THISNODE, another node. */
static int bench_node_case(void)
{
	static const size_t sizes[] = { 64, SZ_64K };
	int local = numa_mem_id(), remote = NUMA_NO_NODE, nid, ret = 0;
	unsigned long n;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes) && !ret; i++) {
		n = bench_large_iters(sizes[i]);
		ret = bench_node_pairs("node_local", local, GFP_KERNEL, sizes[i], n);
		if (!ret)
			ret = bench_node_pairs("node_thisnode", local,
					       GFP_KERNEL | __GFP_THISNODE, sizes[i], n);
	}
	for_each_node_state(nid, N_MEMORY)
		if (nid != local && remote == NUMA_NO_NODE)
			remote = nid;
	if (remote == NUMA_NO_NODE)
		pr_info("case=node_remote skipped: one node with memory\n");
	else if (!ret)
		ret = bench_node_pairs("node_remote", remote, GFP_KERNEL, 64,
				       BENCH_ITERS);
	bench_node = NUMA_NO_NODE;
	bench_node_gfp = GFP_KERNEL;
	return ret;
}

struct bench_split {
	u64 alloc_ns;
	u64 free_ns;
};

/* A row of alloc and free halves: its worst and best round. */
struct bench_split_rounds {
	struct bench_split worst;
	u64 best;	/* alloc + free */
};

static void bench_split_round(struct bench_split_rounds *r,
			      const struct bench_split *round)
{
	u64 ns = round->alloc_ns + round->free_ns;

	if (ns > r->worst.alloc_ns + r->worst.free_ns)
		r->worst = *round;
	r->best = min(r->best, ns);
}

#define BENCH_SPLIT_ROUNDS_INIT	((struct bench_split_rounds){ .best = U64_MAX })

/*
 * BENCH_REPEAT rounds, each of @reps batches of @n allocs then @n frees
 * (a round has at least BENCH_ITERS objects: 2000 x 64 KiB is 50 batches
 * a round), every round timed.  Each of gomm's rounds ends with its page
 * return (bench_gomm_reclaim()), in the free half: the empty spans a
 * round leaves behind go back as SLUB's empty slabs do in its kfree().
 */
static int bench_time_batch(enum bench_kind k, size_t size, unsigned long n,
			    unsigned long reps, struct bench_split_rounds *rr)
{
	struct bench_split r;
	unsigned long i, got;
	u64 t0, t1;
	int run;

	*rr = BENCH_SPLIT_ROUNDS_INIT;
	for (run = 0; run < BENCH_REPEAT; run++) {
		r.alloc_ns = 0;
		r.free_ns = 0;
		for (i = 0; i < reps; i++) {
			t0 = ktime_get_ns();
			got = bench_allocs(k, size, bench_vec, n);
			t1 = ktime_get_ns();
			bench_frees(k, bench_vec, got);
			if (got < n)
				return -ENOMEM;
			r.alloc_ns += t1 - t0;
			r.free_ns += ktime_get_ns() - t1;
		}
		if (k == BENCH_GOMM) {
			t1 = ktime_get_ns();
			if (bench_gomm_reclaim())
				return -EIO;
			r.free_ns += ktime_get_ns() - t1;
		}
		bench_split_round(rr, &r);
	}
	return 0;
}

/* As bench_print(), with the worst round's halves (gomm_alloc= ...). */
static void bench_print_split(const char *name, size_t size,
			      const struct bench_split_rounds *g,
			      const struct bench_split_rounds *s, u64 n,
			      const char *extra)
{
	pr_info("case=%s size=%zu gomm=%s slub=%s gomm_best=%s slub_best=%s gomm_alloc=%s gomm_free=%s slub_alloc=%s slub_free=%s%s unit=ns/op\n",
		name, size,
		bench_fmt(g->worst.alloc_ns + g->worst.free_ns, n).s,
		bench_fmt(s->worst.alloc_ns + s->worst.free_ns, n).s,
		bench_fmt(g->best, n).s, bench_fmt(s->best, n).s,
		bench_fmt(g->worst.alloc_ns, n).s,
		bench_fmt(g->worst.free_ns, n).s,
		bench_fmt(s->worst.alloc_ns, n).s,
		bench_fmt(s->worst.free_ns, n).s, extra);
}

/* @prefix "batch" or "cs_batch": the case is named @prefix@n */
static int bench_batch_case(const char *prefix, size_t size, unsigned long n)
{
	unsigned long reps = max(BENCH_ITERS / n, 1UL);
	struct bench_split_rounds g, s;
	char name[32];

	if (bench_time_batch(BENCH_GOMM, size, n, reps, &g) ||
	    bench_time_batch(BENCH_SLUB, size, n, reps, &s)) {
		pr_err("case=%s%lu size=%zu: allocation failed\n", prefix, n, size);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%s%lu", prefix, n);
	bench_print_split(name, size, &g, &s, (u64)n * reps, "");
	return 0;
}

/* ---- random sizes ---------------------------------------------------- */

/*
 * A realistic kernel size distribution: how many objects each kmalloc-N
 * cache holds on a running Debian system.  Source: /proc/slabinfo of the
 * Debian 12.11 host this benchmark was written on (kernel 6.18.44,
 * 2 CPUs, up 35 minutes, running the gomm build and test VMs), read on
 * 2026-11-23 at 15:09 UTC; the snapshot is bench/slabinfo-kmalloc.txt.
 * Weight of size N = the active_objs of kmalloc-N + kmalloc-cg-N +
 * kmalloc-rcl-N + dma-kmalloc-N.  A request is drawn as: a cache by
 * weight, then a size uniformly in (previous cache size, N], which is
 * the range of requests kmalloc() serves from kmalloc-N.
 *
 * Caveats, written down rather than corrected: active_objs counts live
 * objects, so long-lived objects weigh more than in a histogram of
 * requests (the kmem:kmalloc tracepoint would give the request mix);
 * slab merging may fold other caches of the same size into kmalloc-N;
 * requests above 8 KiB go to the page allocator and are not in
 * slabinfo, so the distribution stops at 8192 bytes.
 */
static const struct {
	u32 size;
	u32 weight;
} bench_kmalloc_mix[] = {
	{    8,  2560 }, {   16,  4084 }, {   32,  2895 }, {   64,  2501 },
	{   96, 16310 }, {  128, 19062 }, {  192, 12411 }, {  256,   832 },
	{  512,  5185 }, { 1024,   857 }, { 2048,   475 }, { 4096,   405 },
	{ 8192,    44 },
};

/* xorshift64*: fixed seed, so gomm and SLUB see the identical sequence */
static u64 bench_rand(u64 *state)
{
	u64 x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static u32 bench_rand_size(u64 *state)
{
	u32 total = 0, prev = 0, r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bench_kmalloc_mix); i++)
		total += bench_kmalloc_mix[i].weight;
	r = (u32)((bench_rand(state) >> 32) % total);
	for (i = 0; i < ARRAY_SIZE(bench_kmalloc_mix) - 1; i++) {
		if (r < bench_kmalloc_mix[i].weight)
			break;
		r -= bench_kmalloc_mix[i].weight;
		prev = bench_kmalloc_mix[i].size;
	}
	return prev + 1 +
	       (u32)((bench_rand(state) >> 32) % (bench_kmalloc_mix[i].size - prev));
}

static u32 bench_rand_below(u64 *state, u32 n)
{
	return (u32)((bench_rand(state) >> 32) % n);
}

/* The random case's script: fill sizes, then (slot, size) replacements. */
static u32 *bench_rand_fill;
static u32 *bench_rand_slot;
static u32 *bench_rand_sz;
static void **bench_rand_live;

static int bench_random_init(void)
{
	u64 st = BENCH_RAND_SEED;
	unsigned long i;

	bench_rand_fill = kvmalloc_array(BENCH_RAND_LIVE, sizeof(u32), GFP_KERNEL);
	bench_rand_slot = kvmalloc_array(BENCH_RAND_OPS, sizeof(u32), GFP_KERNEL);
	bench_rand_sz = kvmalloc_array(BENCH_RAND_OPS, sizeof(u32), GFP_KERNEL);
	bench_rand_live = kvcalloc(BENCH_RAND_LIVE, sizeof(void *), GFP_KERNEL);
	if (!bench_rand_fill || !bench_rand_slot || !bench_rand_sz ||
	    !bench_rand_live)
		return -ENOMEM;
	for (i = 0; i < BENCH_RAND_LIVE; i++)
		bench_rand_fill[i] = bench_rand_size(&st);
	for (i = 0; i < BENCH_RAND_OPS; i++) {
		bench_rand_slot[i] = bench_rand_below(&st, BENCH_RAND_LIVE);
		bench_rand_sz[i] = bench_rand_size(&st);
	}
	return 0;
}

static void bench_random_exit(void)
{
	kvfree(bench_rand_fill);
	kvfree(bench_rand_slot);
	kvfree(bench_rand_sz);
	kvfree(bench_rand_live);
}

/* Fill the live set (untimed), time the replacements, free everything. */
static u64 bench_time_random(enum bench_kind k)
{
	unsigned long i;
	bool ok = true;
	u64 t0, ns;

	for (i = 0; i < BENCH_RAND_LIVE && ok; i++) {
		bench_rand_live[i] = bench_alloc(k, bench_rand_fill[i]);
		ok = bench_rand_live[i];
	}
	t0 = ktime_get_ns();
	if (ok)
		ok = bench_churn(k, bench_rand_live, bench_rand_slot,
				 bench_rand_sz, BENCH_RAND_OPS);
	ns = ktime_get_ns() - t0;
	for (i = 0; i < BENCH_RAND_LIVE; i++) {
		bench_free(k, bench_rand_live[i]);
		bench_rand_live[i] = NULL;
	}
	return ok ? ns : 0;
}

/* BENCH_REPEAT rounds; worst 0 if one failed. */
static struct bench_rounds bench_rounds_random(enum bench_kind k)
{
	struct bench_rounds r = { .best = U64_MAX };
	u64 ns;
	int i;

	for (i = 0; i < BENCH_REPEAT; i++) {
		ns = bench_time_random(k);
		if (!ns)
			return (struct bench_rounds){};
		bench_round(&r, ns);
	}
	return r;
}

static int bench_random_case(void)
{
	struct bench_rounds l = bench_rounds_random(BENCH_NOP);
	struct bench_rounds g = bench_rounds_random(BENCH_GOMM);
	struct bench_rounds s = bench_rounds_random(BENCH_SLUB);
	unsigned long n = BENCH_RAND_OPS;
	char extra[48];

	if (!g.worst || !s.worst) {
		pr_err("case=random: allocation failed\n");
		return -ENOMEM;
	}
	snprintf(extra, sizeof(extra), " live=%lu loop=%s", BENCH_RAND_LIVE,
		 bench_fmt(l.best, n).s);
	bench_print("random", 0, g, s, n, extra);
	return 0;
}

/* ---- remote free ----------------------------------------------------- */

/* The remote-free case: the other CPU's half, run by a bound kthread. */
struct bench_remote {
	enum bench_kind kind;
	unsigned long n;
	u64 ns;
	struct completion done;
};

static int bench_remote_fn(void *arg)
{
	struct bench_remote *r = arg;
	u64 t0;

	migrate_disable();
	t0 = ktime_get_ns();
	bench_frees(r->kind, bench_vec, r->n);
	r->ns = ktime_get_ns() - t0;
	migrate_enable();
	complete(&r->done);
	return 0;
}

/* Free bench_vec[0..@n) on @cpu; the guest ns that took, or an error. */
static int bench_remote_frees(enum bench_kind k, unsigned int cpu,
			      unsigned long n, u64 *ns)
{
	struct bench_remote r = { .kind = k, .n = n };
	struct task_struct *t;

	init_completion(&r.done);
	t = kthread_create_on_cpu(bench_remote_fn, &r, cpu, "gomm_bench/%u");
	if (IS_ERR(t))
		return PTR_ERR(t);
	get_task_struct(t);
	wake_up_process(t);
	wait_for_completion(&r.done);
	kthread_stop_put(t);
	*ns = r.ns;
	return 0;
}

/*
 * @n allocs here, @n frees on @cpu while this CPU sleeps, then @n allocs
 * here again (which have to find the remotely freed memory) and @n local
 * frees (untimed).  The phases do not overlap, so each one's instruction
 * count is its own.  BENCH_REPEAT rounds, every one timed: the worst
 * round of the allocs and remote frees, and the worst of the allocs after.
 */
static int bench_time_remote(enum bench_kind k, size_t size,
			     unsigned int cpu, unsigned long n,
			     struct bench_split_rounds *r,
			     struct bench_rounds *re)
{
	struct bench_split round_ns;
	unsigned long got;
	u64 t0, t1, free_ns;
	int round, ret;

	*r = BENCH_SPLIT_ROUNDS_INIT;
	*re = (struct bench_rounds){ .best = U64_MAX };
	for (round = 0; round < BENCH_REPEAT; round++) {
		t0 = ktime_get_ns();
		got = bench_allocs(k, size, bench_vec, n);
		t1 = ktime_get_ns();
		if (got < n) {
			bench_frees(k, bench_vec, got);
			return -ENOMEM;
		}
		ret = bench_remote_frees(k, cpu, n, &free_ns);
		if (ret) {
			bench_frees(k, bench_vec, n);
			return ret;
		}
		round_ns.alloc_ns = t1 - t0;
		round_ns.free_ns = free_ns;
		bench_split_round(r, &round_ns);
		t0 = ktime_get_ns();
		got = bench_allocs(k, size, bench_vec, n);
		t1 = ktime_get_ns();
		bench_frees(k, bench_vec, got);
		if (got < n)
			return -ENOMEM;
		bench_round(re, t1 - t0);
	}
	return 0;
}

static int bench_remote_case(size_t size, unsigned int cpu, unsigned long n)
{
	struct bench_split_rounds g, s;
	struct bench_rounds g_re, s_re;
	char extra[80];
	int ret;

	ret = bench_time_remote(BENCH_GOMM, size, cpu, n, &g, &g_re);
	if (!ret)
		ret = bench_time_remote(BENCH_SLUB, size, cpu, n, &s, &s_re);
	if (ret) {
		pr_err("case=remote size=%zu: failed (%d)\n", size, ret);
		return ret;
	}
	snprintf(extra, sizeof(extra), " gomm_realloc=%s slub_realloc=%s",
		 bench_fmt(g_re.worst, n).s, bench_fmt(s_re.worst, n).s);
	bench_print_split("remote", size, &g, &s, n, extra);
	return 0;
}

/* ---- all CPUs at once ------------------------------------------------ */

/*
 * N kthreads, one bound to each of the first N online CPUs, warm up,
 * wait for a common start, then each does BENCH_ITERS 64-byte ops: alloc
 * +free pairs, or rounds of BENCH_SCALE_BATCH allocs then as many frees.
 * Each records its own start and end; elapsed = last end - first start.
 * The start is a completion (not a spin), so no CPU burns instructions
 * waiting for it.
 *
 * The case reports elapsed guest ns / (ops of all CPUs).  What it means
 * depends on the clock.  Under -icount, QEMU runs the vCPUs round-robin
 * on one host thread and the one virtual clock advances by every vCPU's
 * instructions, so the elapsed time is the sum of the instructions of all
 * CPUs and the number is instructions per op averaged over the CPUs:
 * flat as N grows when the allocator scales, higher when CPUs spin on a
 * lock or retry atomics (with the caveat that round-robin makes a lock
 * holder's slice long, so spinning is exaggerated; and TCG has no cache
 * model, so line bouncing costs nothing).  Without -icount, the vCPUs run
 * on host threads in parallel and the number is emulated ns per op of the
 * whole system: ideal scaling divides it by N (this host has 2 cores, so
 * 4 vCPUs cannot go beyond 2x).
 */
struct bench_scale;

struct bench_worker {
	struct bench_scale *sc;
	struct task_struct *task;
	void **vec;
	u64 start;
	u64 end;
	bool ok;
};

struct bench_scale {
	enum bench_kind kind;
	bool batch;
	atomic_t ready;
	atomic_t left;
	struct completion all_ready;
	struct completion go;
	struct completion done;
};

static bool bench_scale_work(struct bench_worker *w, unsigned long n)
{
	struct bench_scale *sc = w->sc;
	unsigned long i, got;

	if (!sc->batch)
		return bench_pairs(sc->kind, BENCH_SCALE_SIZE, n);
	for (i = 0; i < n; i += BENCH_SCALE_BATCH) {
		got = bench_allocs(sc->kind, BENCH_SCALE_SIZE, w->vec,
				   BENCH_SCALE_BATCH);
		bench_frees(sc->kind, w->vec, got);
		if (got < BENCH_SCALE_BATCH)
			return false;
	}
	return true;
}

static int bench_scale_fn(void *arg)
{
	struct bench_worker *w = arg;
	struct bench_scale *sc = w->sc;

	w->ok = bench_scale_work(w, BENCH_ITERS / 10);	/* warm-up */
	if (atomic_dec_and_test(&sc->ready))
		complete(&sc->all_ready);
	wait_for_completion(&sc->go);
	w->start = ktime_get_ns();
	if (w->ok)
		w->ok = bench_scale_work(w, BENCH_ITERS);
	w->end = ktime_get_ns();
	if (atomic_dec_and_test(&sc->left))
		complete(&sc->done);
	return 0;
}

/* Elapsed guest ns of @ncpus CPUs doing BENCH_ITERS ops each, or 0. */
static u64 bench_time_scale(enum bench_kind k, bool batch, unsigned int ncpus)
{
	struct bench_worker w[BENCH_SCALE_MAX_CPUS] = {};
	struct bench_scale sc = { .kind = k, .batch = batch };
	u64 first = U64_MAX, last = 0;
	unsigned int i, cpu;
	bool ok = true;

	atomic_set(&sc.ready, ncpus);
	atomic_set(&sc.left, ncpus);
	init_completion(&sc.all_ready);
	init_completion(&sc.go);
	init_completion(&sc.done);
	for (i = 0; i < ncpus; i++) {
		cpu = cpumask_nth(i, cpu_online_mask);
		w[i].sc = &sc;
		w[i].vec = bench_vec + i * BENCH_SCALE_BATCH;
		w[i].task = kthread_create_on_cpu(bench_scale_fn, &w[i], cpu,
						  "gomm_bench/%u");
		if (IS_ERR(w[i].task)) {
			/* the started ones still need their go */
			if (atomic_sub_and_test(ncpus - i, &sc.ready))
				complete(&sc.all_ready);
			atomic_sub(ncpus - i, &sc.left);
			ncpus = i;
			ok = false;
			break;
		}
		get_task_struct(w[i].task);
		wake_up_process(w[i].task);
	}
	if (ncpus) {
		wait_for_completion(&sc.all_ready);
		complete_all(&sc.go);
		wait_for_completion(&sc.done);
	}
	for (i = 0; i < ncpus; i++) {
		kthread_stop_put(w[i].task);
		ok &= w[i].ok;
		first = min(first, w[i].start);
		last = max(last, w[i].end);
	}
	return ok ? last - first : 0;
}

/* BENCH_REPEAT rounds; worst 0 if one failed. */
static struct bench_rounds bench_rounds_scale(enum bench_kind k, bool batch,
					      unsigned int ncpus)
{
	struct bench_rounds r = { .best = U64_MAX };
	u64 ns;
	int i;

	for (i = 0; i < BENCH_REPEAT; i++) {
		ns = bench_time_scale(k, batch, ncpus);
		if (!ns)
			return (struct bench_rounds){};
		bench_round(&r, ns);
	}
	return r;
}

static int bench_scale_case(void)
{
	static const unsigned int cpus[] = { 1, 2, 4 };
	struct bench_rounds g, s;
	unsigned int i, b, n;
	char extra[96];
	u64 ops;

	for (b = 0; b < 2; b++) {
		for (i = 0; i < ARRAY_SIZE(cpus); i++) {
			n = cpus[i];
			if (n > num_online_cpus()) {
				pr_info("case=scale skipped: cpus=%u but %u online\n",
					n, num_online_cpus());
				continue;
			}
			g = bench_rounds_scale(BENCH_GOMM, b, n);
			s = bench_rounds_scale(BENCH_SLUB, b, n);
			if (!g.worst || !s.worst) {
				pr_err("case=scale cpus=%u: failed\n", n);
				return -ENOMEM;
			}
			ops = (u64)n * BENCH_ITERS;
			snprintf(extra, sizeof(extra),
				 " cpus=%u ops=%llu gomm_elapsed=%llu slub_elapsed=%llu",
				 n, ops, g.worst, s.worst);
			bench_print(b ? "scale_batch" : "scale_pair",
				    BENCH_SCALE_SIZE, g, s, ops, extra);
		}
	}
	return 0;
}

/* ---- large objects --------------------------------------------------- */

/*
 * The heap-size case: pairs of 64 KiB..1 MiB while the allocator holds
 * one other live object of 4 MiB - 8 KiB, then while it holds 128 of them
 * (512 MiB).  Each fills a gomm chunk but one page, so a multi-page
 * search cannot skip the chunks on a free-page hint: only the summary
 * tree keeps the search short.  For SLUB the same requests go to the
 * buddy allocator (order 10 each).  SLUB runs first: gomm keeps the
 * 512 MiB it frees until its scavenger returns them, 16 chunks a second
 * from a work item, which would otherwise run inside SLUB's timed loops.
 * scripts/guest/bench runs this group last for the same reason.  The VM needs
 * 2 GiB (scripts/bench passes --mem 2G).
 */
static int bench_largeheap_one(enum bench_kind k, const size_t *sizes,
			       unsigned int nsizes, struct bench_rounds ns[][2])
{
	unsigned long held = 0;
	unsigned int i, h;
	int ret = 0;

	for (h = 0; h < 2 && !ret; h++) {
		unsigned long want = h ? BENCH_HEAP_BIG : 1;

		for (; held < want; held++) {
			bench_vec[held] = bench_alloc(k, BENCH_HEAP_OBJ);
			if (!bench_vec[held]) {
				ret = -ENOMEM;
				break;
			}
		}
		for (i = 0; i < nsizes && !ret; i++) {
			ns[i][h] = bench_time_pairs(k, sizes[i],
						    bench_large_iters(sizes[i]));
			if (!ns[i][h].worst)
				ret = -ENOMEM;
		}
	}
	bench_frees(k, bench_vec, held);
	return ret;
}

static int bench_largeheap_case(void)
{
	static const size_t sizes[] = { SZ_64K, SZ_256K, SZ_1M };
	struct bench_rounds g[ARRAY_SIZE(sizes)][2], s[ARRAY_SIZE(sizes)][2];
	unsigned int i, h;
	char extra[32];
	int ret;

	ret = bench_largeheap_one(BENCH_SLUB, sizes, ARRAY_SIZE(sizes), s);
	if (!ret)
		ret = bench_largeheap_one(BENCH_GOMM, sizes, ARRAY_SIZE(sizes),
					  g);
	if (ret) {
		pr_err("case=largeheap: allocation failed\n");
		return ret;
	}
	for (h = 0; h < 2; h++) {
		snprintf(extra, sizeof(extra), " held=%lu",
			 (h ? BENCH_HEAP_BIG : 1) * BENCH_HEAP_OBJ);
		for (i = 0; i < ARRAY_SIZE(sizes); i++)
			bench_print(h ? "largeheap512M" : "largeheap4M",
				    sizes[i], g[i][h], s[i][h],
				    bench_large_iters(sizes[i]), extra);
	}
	return 0;
}

/*
 * Heap growth: BENCH_GROWTH_BYTES of @size-byte objects allocated then
 * freed, in BENCH_REPEAT rounds.  scripts/guest/bench drains and
 * scavenges gomm's heap with retain_kb=0 first, and each of gomm's rounds
 * ends with that again (bench_gomm_reclaim(), timed in the round's free
 * half and reported alone as gomm_return=), so every round's chunks come
 * from alloc_pages() inside the timed loop and go back to the page
 * allocator inside it, as kmalloc() of a large size and kfree() do.
 */
static int bench_growth_case(size_t size)
{
	unsigned long n = BENCH_GROWTH_BYTES / size;
	struct bench_split_rounds r[2];
	struct bench_rounds ret = { .best = U64_MAX };
	struct bench_split round;
	unsigned long got;
	unsigned int i, j;
	char extra[48];
	u64 t0, t1, t2;

	if (size <= SZ_32K || size > SZ_4M || n > BENCH_ITERS)
		return -EINVAL;
	for (i = 0; i < 2; i++) {
		enum bench_kind k = i ? BENCH_SLUB : BENCH_GOMM;

		r[i] = BENCH_SPLIT_ROUNDS_INIT;
		for (j = 0; j < BENCH_REPEAT; j++) {
			t0 = ktime_get_ns();
			got = bench_allocs(k, size, bench_vec, n);
			t1 = ktime_get_ns();
			bench_frees(k, bench_vec, got);
			t2 = ktime_get_ns();
			if (got < n) {
				pr_err("case=growth size=%zu: allocation failed\n",
				       size);
				return -ENOMEM;
			}
			if (k == BENCH_GOMM) {
				if (bench_gomm_reclaim()) {
					pr_err("case=growth: no gomm/scavenge\n");
					return -EIO;
				}
				bench_round(&ret, ktime_get_ns() - t2);
			}
			round.alloc_ns = t1 - t0;
			round.free_ns = ktime_get_ns() - t1;
			bench_split_round(&r[i], &round);
		}
	}
	snprintf(extra, sizeof(extra), " gomm_return=%s",
		 bench_fmt(ret.worst, n).s);
	bench_print_split("growth", size, &r[0], &r[1], n, extra);
	return 0;
}

static int bench_cache_case(size_t size)
{
	int ret;

	bench_cache = kmem_cache_create("gomm_bench", size, 0, SLAB_NO_MERGE,
					NULL);
	if (!bench_cache)
		return -ENOMEM;
	ret = bench_pair_case("cache", BENCH_CACHE, size, BENCH_ITERS);
	kmem_cache_destroy(bench_cache);
	bench_cache = NULL;
	return ret;
}

/* ---- the kmalloc family ---------------------------------------------- */

/*
 * @reps rounds of BENCH_BULK_CALLS bulk allocations of BENCH_BULK_N
 * objects of @size, then as many bulk frees, each half timed as a whole
 * (one clock read per section, not per call); a round is @reps of those,
 * BENCH_REPEAT rounds.  BENCH_CACHE is SLUB's bulk calls on bench_cache.
 */
static noinline int bench_time_bulk(enum bench_kind k, size_t size,
				    unsigned long reps,
				    struct bench_split_rounds *rr)
{
	struct bench_split r;
	unsigned long i, c;
	u64 t0, t1;
	void **v;
	int run;

	*rr = BENCH_SPLIT_ROUNDS_INIT;
	for (run = 0; run < BENCH_REPEAT; run++) {
		r.alloc_ns = 0;
		r.free_ns = 0;
		for (i = 0; i < reps; i++) {
			t0 = ktime_get_ns();
			for (c = 0; c < BENCH_BULK_CALLS; c++) {
				v = bench_vec + c * BENCH_BULK_N;
				if (k == BENCH_GOMM ?
				    !gomm_alloc_bulk(size, GFP_KERNEL, BENCH_BULK_N, v) :
				    !kmem_cache_alloc_bulk(bench_cache, GFP_KERNEL,
							   BENCH_BULK_N, v))
					break;
			}
			t1 = ktime_get_ns();
			/* the calls that succeeded are freed either way */
			if (k == BENCH_GOMM)
				gomm_free_bulk(c * BENCH_BULK_N, bench_vec);
			else
				kmem_cache_free_bulk(bench_cache, c * BENCH_BULK_N, bench_vec);
			if (c < BENCH_BULK_CALLS)
				return -ENOMEM;
			r.alloc_ns += t1 - t0;
			r.free_ns += ktime_get_ns() - t1;
		}
		bench_split_round(rr, &r);
	}
	return 0;
}

static int bench_bulk_case(size_t size)
{
	unsigned long reps = BENCH_ITERS / (BENCH_BULK_N * BENCH_BULK_CALLS);
	struct bench_split_rounds g, s;
	char name[32];
	int ret;

	bench_cache = kmem_cache_create("gomm_bench_bulk", size, 0,
					SLAB_NO_MERGE, NULL);
	if (!bench_cache)
		return -ENOMEM;
	ret = bench_time_bulk(BENCH_GOMM, size, reps, &g);
	if (!ret)
		ret = bench_time_bulk(BENCH_CACHE, size, reps, &s);
	kmem_cache_destroy(bench_cache);
	bench_cache = NULL;
	if (ret) {
		pr_err("case=bulk%d size=%zu: allocation failed\n", BENCH_BULK_N, size);
		return ret;
	}
	snprintf(name, sizeof(name), "bulk%d", BENCH_BULK_N);
	bench_print_split(name, size, &g, &s,
			  (u64)reps * BENCH_BULK_CALLS * BENCH_BULK_N, "");
	return 0;
}

/* the sizes one object goes through in the realloc case, from 64 bytes */
static const size_t bench_realloc_steps[] = { 128, 96, 1024, 512, 4096 };
#define BENCH_REALLOC_STEPS	ARRAY_SIZE(bench_realloc_steps)

static noinline bool bench_realloc_loop(bool gomm, unsigned long n)
{
	unsigned long i;
	unsigned int j;
	void *p, *q;

	for (i = 0; i < n; i++) {
		p = gomm ? gomm_alloc(64, GFP_KERNEL) : kmalloc(64, GFP_KERNEL);
		if (unlikely(!p))
			return false;
		for (j = 0; j < BENCH_REALLOC_STEPS; j++) {
			q = gomm ? gomm_realloc(p, bench_realloc_steps[j], GFP_KERNEL) :
				   krealloc(p, bench_realloc_steps[j], GFP_KERNEL);
			if (unlikely(!q))
				break;
			p = q;
		}
		if (gomm)
			gomm_free(p);
		else
			kfree(p);
		if (j < BENCH_REALLOC_STEPS)
			return false;
	}
	return true;
}

static struct bench_rounds bench_time_realloc(bool gomm, unsigned long n)
{
	struct bench_rounds r = { .best = U64_MAX };
	u64 t0;
	int i;

	for (i = 0; i < BENCH_REPEAT; i++) {
		t0 = ktime_get_ns();
		if (!bench_realloc_loop(gomm, n))
			return (struct bench_rounds){};
		bench_round(&r, ktime_get_ns() - t0);
	}
	return r;
}

static int bench_realloc_case(void)
{
	unsigned long n = BENCH_ITERS / 10;
	struct bench_rounds g = bench_time_realloc(true, n);
	struct bench_rounds s = bench_time_realloc(false, n);
	char extra[24];

	if (!g.worst || !s.worst) {
		pr_err("case=realloc: allocation failed\n");
		return -ENOMEM;
	}
	snprintf(extra, sizeof(extra), " steps=%zu", BENCH_REALLOC_STEPS);
	bench_print("realloc", 64, g, s, n, extra);
	return 0;
}

struct bench_rcu_obj {
	struct rcu_head rcu;
	u8 data[48];
};

enum bench_rcu_kind {
	BENCH_RCU_GOMM_HEAD,	/* gomm_free_rcu_head() */
	BENCH_RCU_SLUB_HEAD,	/* kfree_rcu() */
	BENCH_RCU_GOMM,		/* gomm_free_rcu() */
	BENCH_RCU_SLUB,		/* kfree_rcu_mightsleep() */
};

static noinline bool bench_rcu_loop(enum bench_rcu_kind k, unsigned long n)
{
	struct bench_rcu_obj *o;
	bool gomm = k == BENCH_RCU_GOMM_HEAD || k == BENCH_RCU_GOMM;
	unsigned long i;

	for (i = 0; i < n; i++) {
		o = gomm ? gomm_alloc(sizeof(*o), GFP_KERNEL) :
			   kmalloc(sizeof(*o), GFP_KERNEL);
		if (unlikely(!o))
			return false;
		switch (k) {
		case BENCH_RCU_GOMM_HEAD:
			gomm_free_rcu_field(o, rcu);
			break;
		case BENCH_RCU_SLUB_HEAD:
			kfree_rcu(o, rcu);
			break;
		case BENCH_RCU_GOMM:
			gomm_free_rcu(o);
			break;
		default:
			kfree_rcu_mightsleep(o);
			break;
		}
	}
	return true;
}

/*
 * Let what was queued be freed, untimed, before the next loop: gomm's
 * callbacks (two rcu_barrier()s: a callback may queue its CPU's next
 * batch once), and SLUB's batches, which kfree_rcu() drains from a work
 * item some jiffies after their grace period (kvfree_rcu_barrier() is not
 * exported on 7.x, so a pause of several drain delays has to do).
 */
static void bench_rcu_settle(void)
{
	rcu_barrier();
	rcu_barrier();
	msleep(100);
	rcu_barrier();
	msleep(100);
}

static struct bench_rounds bench_time_rcu(enum bench_rcu_kind k,
					  unsigned long n)
{
	struct bench_rounds r = { .best = U64_MAX };
	bool ok = true;
	u64 t0, ns;
	int i;

	bench_rcu_settle();
	for (i = 0; i < BENCH_REPEAT && ok; i++) {
		t0 = ktime_get_ns();
		ok = bench_rcu_loop(k, n);
		ns = ktime_get_ns() - t0;
		bench_rcu_settle();
		bench_round(&r, ns);
	}
	return ok ? r : (struct bench_rounds){};
}

static int bench_rcu_case(void)
{
	const size_t size = sizeof(struct bench_rcu_obj);
	unsigned long n = BENCH_ITERS;
	struct bench_rounds g, s;

	g = bench_time_rcu(BENCH_RCU_GOMM_HEAD, n);
	s = bench_time_rcu(BENCH_RCU_SLUB_HEAD, n);
	if (!g.worst || !s.worst)
		goto fail;
	bench_print("free_rcu", size, g, s, n, "");
	g = bench_time_rcu(BENCH_RCU_GOMM, n);
	s = bench_time_rcu(BENCH_RCU_SLUB, n);
	if (!g.worst || !s.worst)
		goto fail;
	bench_print("free_rcu_nohead", size, g, s, n, "");
	return 0;
fail:
	pr_err("case=free_rcu: allocation failed\n");
	return -ENOMEM;
}

/* ---- gomm_alloc_nolock() against kmalloc_nolock() --------------------- */

#if GOMM_HAVE_KMALLOC_NOLOCK
#define BENCH_NOLOCK_CASE	"nolock"
#define BENCH_NOLOCK_SLUB	"kmalloc_nolock"

static __always_inline void *bench_slub_nolock_alloc(size_t size)
{
	return kmalloc_nolock(size, 0, NUMA_NO_NODE);
}

static __always_inline void bench_slub_nolock_free(void *p)
{
	kfree_nolock(p);
}
#else
/* no kmalloc_nolock() before 6.18: the nearest SLUB call, labelled so */
#define BENCH_NOLOCK_CASE	"nolock_vs_atomic"
#define BENCH_NOLOCK_SLUB	"kmalloc_atomic"

static __always_inline void *bench_slub_nolock_alloc(size_t size)
{
	return kmalloc(size, GFP_ATOMIC);
}

static __always_inline void bench_slub_nolock_free(void *p)
{
	kfree(p);
}
#endif

/*
 * @n alloc+free pairs.  A nolock allocation may return NULL when its
 * cache cannot be served without a lock; the refill runs at once (gomm's
 * irq_work, as interrupts are on here), so one retry is allowed.
 */
static noinline bool bench_nolock_loop(bool gomm, size_t size, unsigned long n)
{
	unsigned long i;
	void *p;

	for (i = 0; i < n; i++) {
		p = gomm ? gomm_alloc_nolock(size, 0) : bench_slub_nolock_alloc(size);
		if (unlikely(!p)) {
			p = gomm ? gomm_alloc_nolock(size, 0) :
				   bench_slub_nolock_alloc(size);
			if (!p)
				return false;
		}
		if (gomm)
			gomm_free_nolock(p);
		else
			bench_slub_nolock_free(p);
	}
	return true;
}

static struct bench_rounds bench_time_nolock(bool gomm, size_t size,
					     unsigned long n)
{
	struct bench_rounds r = { .best = U64_MAX };
	u64 t0;
	int i;

	for (i = 0; i < BENCH_REPEAT; i++) {
		t0 = ktime_get_ns();
		if (!bench_nolock_loop(gomm, size, n))
			return (struct bench_rounds){};
		bench_round(&r, ktime_get_ns() - t0);
	}
	return r;
}

static int bench_nolock_case(size_t size)
{
	struct bench_rounds g = bench_time_nolock(true, size, BENCH_ITERS);
	struct bench_rounds s = bench_time_nolock(false, size, BENCH_ITERS);

	if (!g.worst || !s.worst) {
		pr_err("case=%s size=%zu: allocation failed\n", BENCH_NOLOCK_CASE, size);
		return -ENOMEM;
	}
	bench_print(BENCH_NOLOCK_CASE, size, g, s, BENCH_ITERS,
		    " slub_api=" BENCH_NOLOCK_SLUB);
	return 0;
}

/* ---- the memory-efficiency live set ---------------------------------- */

/*
 * "gomm N" / "slub N" fills a live set of N objects of the random
 * distribution (seed BENCH_RAND_SEED) and replaces BENCH_LIVE_CHURN * N
 * random ones, then keeps it, so scripts/guest/bench can read what each
 * allocator holds (gomm's debugfs heap file, /proc/slabinfo) before and
 * after; "free" frees it.
 */
static void **bench_live;
static u32 *bench_live_size;
static unsigned long bench_live_n;
static enum bench_kind bench_live_kind;
static u64 bench_live_bytes;

static void bench_live_free(void)
{
	unsigned long i;

	for (i = 0; i < bench_live_n; i++)
		bench_free(bench_live_kind, bench_live[i]);
	kvfree(bench_live);
	kvfree(bench_live_size);
	bench_live = NULL;
	bench_live_size = NULL;
	bench_live_n = 0;
	bench_live_bytes = 0;
}

static int bench_live_fill(enum bench_kind k, unsigned long n)
{
	u64 st = BENCH_RAND_SEED;
	unsigned long i, j;
	u32 sz;

	if (bench_live_n)
		return -EBUSY;
	if (!n || n > BENCH_LIVE_MAX)
		return -EINVAL;
	bench_live = kvcalloc(n, sizeof(*bench_live), GFP_KERNEL);
	bench_live_size = kvcalloc(n, sizeof(*bench_live_size), GFP_KERNEL);
	if (!bench_live || !bench_live_size) {
		bench_live_free();
		return -ENOMEM;
	}
	bench_live_kind = k;
	bench_live_n = n;
	migrate_disable();
	for (i = 0; i < n * (1 + BENCH_LIVE_CHURN); i++) {
		j = i < n ? i : bench_rand_below(&st, n);
		sz = bench_rand_size(&st);
		bench_free(k, bench_live[j]);
		bench_live_bytes -= bench_live_size[j];
		bench_live_size[j] = 0;
		bench_live[j] = bench_alloc(k, sz);
		if (!bench_live[j])
			break;
		bench_live_size[j] = sz;
		bench_live_bytes += sz;
	}
	migrate_enable();
	if (i < n * (1 + BENCH_LIVE_CHURN)) {
		bench_live_free();
		return -ENOMEM;
	}
	return 0;
}

/* ---- the case groups ------------------------------------------------- */

static int bench_group(const char *name, unsigned long arg)
{
	static const size_t pair_sizes[] = {
		8, 16, 32, 64, 128, 256, 512, SZ_1K, SZ_2K, SZ_4K, SZ_8K,
		SZ_32K,
	};
	static const size_t large_sizes[] = { SZ_64K, SZ_1M, SZ_4M };
	static const size_t callsite_sizes[] = { 16, 64, 256, SZ_64K };
	/* many 4 KiB objects, and rounds of 2000 large ones, last */
	static const struct { size_t size; unsigned long n; } batches[] = {
		{ 64, 1000 }, { 256, 1000 }, { 64, 100000 }, { 256, 100000 },
		{ SZ_4K, 100000 }, { SZ_64K, 2000 },
	};
	static const size_t batch_sizes[] = { 64, 256 };
	static const size_t nolock_sizes[] = { 16, 64, 256 };
	unsigned int i, j, cpu, remote;
	int ret = 0;
	u64 t0, ns;

	if (!strcmp(name, "scale"))
		return bench_scale_case();
	if (!strcmp(name, "growth"))
		return bench_growth_case(arg);
	/* sleeps (rcu_barrier()) between its timed loops */
	if (!strcmp(name, "rcu"))
		return bench_rcu_case();

	migrate_disable();
	cpu = smp_processor_id();
	if (!strcmp(name, "calib")) {
		t0 = ktime_get_ns();
		bench_calib(BENCH_CALIB_ITERS);
		ns = ktime_get_ns() - t0;
		pr_info("case=calib size=0 cpu=%u expect=%u measured=%s excess=%lld unit=ns/iter\n",
			cpu, BENCH_CALIB_INSN,
			bench_fmt(ns, BENCH_CALIB_ITERS).s,
			(s64)(ns - (u64)BENCH_CALIB_INSN * BENCH_CALIB_ITERS));
	} else if (!strcmp(name, "loop")) {
		ns = bench_time_pairs(BENCH_NOP, 64, BENCH_ITERS).best;
		pr_info("case=loop size=0 gomm=%s slub=%s unit=ns/op\n",
			bench_fmt(ns, BENCH_ITERS).s,
			bench_fmt(ns, BENCH_ITERS).s);
	} else if (!strcmp(name, "pair")) {
		/* "pair SIZE": that size's row only (for a profile) */
		for (i = 0; i < ARRAY_SIZE(pair_sizes) && !ret; i++)
			if (!arg || arg == pair_sizes[i])
				ret = bench_pair_case("pair", BENCH_SLUB,
						      pair_sizes[i], BENCH_ITERS);
	} else if (!strcmp(name, "cache")) {
		for (i = 0; i < ARRAY_SIZE(batch_sizes) && !ret; i++)
			ret = bench_cache_case(batch_sizes[i]);
	} else if (!strcmp(name, "batch")) {
		/* "batch SIZE": that size's rows only (for a profile) */
		for (i = 0; i < ARRAY_SIZE(batches) && !ret; i++)
			if (!arg || arg == batches[i].size)
				ret = bench_batch_case("batch", batches[i].size,
						       batches[i].n);
	} else if (!strcmp(name, "random")) {
		ret = bench_random_case();
	} else if (!strcmp(name, "remote")) {
		remote = cpumask_next(cpu, cpu_online_mask);
		if (remote >= nr_cpu_ids)
			remote = cpumask_first(cpu_online_mask);
		if (remote == cpu)
			pr_info("case=remote skipped: one CPU online\n");
		for (j = 0; j < ARRAY_SIZE(batch_sizes) && !ret && remote != cpu; j++)
			ret = bench_remote_case(batch_sizes[j], remote,
						BENCH_REMOTE_N);
	} else if (!strcmp(name, "large")) {
		for (i = 0; i < ARRAY_SIZE(large_sizes) && !ret; i++)
			ret = bench_pair_case("large", BENCH_SLUB,
					      large_sizes[i],
					      bench_large_iters(large_sizes[i]));
	} else if (!strcmp(name, "callsites")) {
		/*
		 * The guest script switches gomm's call-site accounting on
		 * around this group: the pair and batch rows again, through
		 * the accounted paths (SLUB is measured again too, for the
		 * table's columns)
		 */
		for (i = 0; i < ARRAY_SIZE(callsite_sizes) && !ret; i++)
			ret = bench_pair_case("cs_pair", BENCH_SLUB, callsite_sizes[i],
					      bench_large_iters(callsite_sizes[i]));
		if (!ret)
			ret = bench_batch_case("cs_batch", 64, 1000);
	} else if (!strcmp(name, "largeheap")) {
		ret = bench_largeheap_case();
	} else if (!strcmp(name, "bulk")) {
		ret = bench_bulk_case(64);
	} else if (!strcmp(name, "realloc")) {
		ret = bench_realloc_case();
	} else if (!strcmp(name, "node")) {
		ret = bench_node_case();
	} else if (!strcmp(name, "nolock")) {
		for (i = 0; i < ARRAY_SIZE(nolock_sizes) && !ret; i++)
			ret = bench_nolock_case(nolock_sizes[i]);
	} else {
		ret = -EINVAL;
	}
	migrate_enable();
	return ret;
}

/*
 * Split "name" or "name number" (a debugfs write or an entry of run=):
 * returns 1 with *@arg set if a number follows the name, 0 if nothing
 * does, -EINVAL if something else does.
 */
static int bench_split(char *cmd, char **name, unsigned long *arg)
{
	char *a;

	cmd = strim(cmd);
	*name = strsep(&cmd, " ");
	a = cmd ? strim(cmd) : NULL;
	if (!a || !*a)
		return 0;
	return kstrtoul(a, 0, arg) ? -EINVAL : 1;
}

/* "name" or "name arg" from a debugfs write or the run= parameter */
static int bench_command(char *cmd)
{
	unsigned long arg = 0;
	char *name;
	int ret;

	if (bench_split(cmd, &name, &arg) < 0)
		return -EINVAL;
	mutex_lock(&bench_lock);
	ret = bench_group(name, arg);
	mutex_unlock(&bench_lock);
	if (ret)
		pr_err("group %s failed (%d)\n", name, ret);
	return ret;
}

static ssize_t bench_run_write(struct file *f, const char __user *ubuf,
			       size_t len, loff_t *pos)
{
	char buf[64] = {};
	ssize_t n;
	int ret;

	n = simple_write_to_buffer(buf, sizeof(buf) - 1, pos, ubuf, len);
	if (n < 0)
		return n;
	ret = bench_command(buf);
	return ret ? ret : n;
}

static const struct file_operations bench_run_fops = {
	.write = bench_run_write,
};

static ssize_t bench_live_write(struct file *f, const char __user *ubuf,
				size_t len, loff_t *pos)
{
	char buf[64] = {}, *name;
	unsigned long n = 0;
	ssize_t got;
	int ret;

	got = simple_write_to_buffer(buf, sizeof(buf) - 1, pos, ubuf, len);
	if (got < 0)
		return got;
	ret = bench_split(buf, &name, &n);
	if (ret < 0 || (!ret && strcmp(name, "free")))
		return -EINVAL;
	mutex_lock(&bench_lock);
	if (!strcmp(name, "free")) {
		bench_live_free();
		ret = 0;
	} else if (!strcmp(name, "gomm")) {
		ret = bench_live_fill(BENCH_GOMM, n);
	} else if (!strcmp(name, "slub")) {
		ret = bench_live_fill(BENCH_SLUB, n);
	} else {
		ret = -EINVAL;
	}
	mutex_unlock(&bench_lock);
	return ret ? ret : got;
}

static ssize_t bench_live_read(struct file *f, char __user *ubuf, size_t len,
			       loff_t *pos)
{
	char buf[64];
	int n;

	mutex_lock(&bench_lock);
	n = scnprintf(buf, sizeof(buf), "objects %lu requested %llu\n",
		      bench_live_n, bench_live_bytes);
	mutex_unlock(&bench_lock);
	return simple_read_from_buffer(ubuf, len, pos, buf, n);
}

static const struct file_operations bench_live_fops = {
	.read = bench_live_read,
	.write = bench_live_write,
};

static char *run;
module_param(run, charp, 0444);
MODULE_PARM_DESC(run, "case groups to run at load, comma-separated (default: none)");

static struct dentry *bench_dir;

static void bench_cleanup(void)
{
	debugfs_remove_recursive(bench_dir);
	mutex_lock(&bench_lock);
	bench_live_free();
	mutex_unlock(&bench_lock);
	bench_random_exit();
	kvfree(bench_vec);
}

static int __init gomm_bench_init(void)
{
	char *cmds, *p, *c;
	int ret;

	bench_vec = kvmalloc_array(max(BENCH_ITERS, BENCH_REMOTE_N),
				   sizeof(*bench_vec), GFP_KERNEL);
	ret = bench_vec ? bench_random_init() : -ENOMEM;
	if (ret)
		goto fail;
	bench_dir = debugfs_create_dir("gomm_bench", NULL);
	debugfs_create_file("run", 0200, bench_dir, NULL, &bench_run_fops);
	debugfs_create_file("live", 0600, bench_dir, NULL, &bench_live_fops);
	pr_info("ready iters=%lu large_iters=%lu rand_live=%lu rand_ops=%lu cpus=%u\n",
		BENCH_ITERS, BENCH_LARGE_ITERS, BENCH_RAND_LIVE,
		BENCH_RAND_OPS, num_online_cpus());
	if (!run)
		return 0;
	cmds = kstrdup(run, GFP_KERNEL);
	if (!cmds) {
		ret = -ENOMEM;
		goto fail;
	}
	p = cmds;
	while ((c = strsep(&p, ",")) && !ret)
		if (*c)
			ret = bench_command(c);
	kfree(cmds);
	if (!ret)
		return 0;
fail:
	bench_cleanup();
	return ret;
}

static void __exit gomm_bench_exit(void)
{
	bench_cleanup();
}

module_init(gomm_bench_init);
module_exit(gomm_bench_exit);
MODULE_IMPORT_NS("GOMM_INTERNAL");
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm_bench: instructions per operation, gomm vs SLUB");
