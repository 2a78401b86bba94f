// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_stress - a randomized, long-running stress test of gomm.
 *
 * A kthread bound to each online CPU, and roamers (1) unbound ones that
 * the scheduler moves between CPUs (also inside gomm's slow path, which
 * runs with interrupts enabled while the heap grows), each keep a table of
 * live objects and replace random slots: tiny (1..15 bytes), small
 * (16..32768, log-uniform, so weighted toward small sizes) and, rarely,
 * large (up to max_size, 4 MiB) objects, with GFP_KERNEL or GFP_ATOMIC
 * (sometimes with preemption or interrupts disabled), some with __GFP_ZERO
 * or gomm_zalloc().  Every object carries a pattern derived from its
 * address, requested size and a per-allocation tag (seed, thread, serial)
 * over its whole requested size; the pattern is checked before every free,
 * so an object handed out twice, overlapping objects or a write after free
 * show up as a broken pattern.  gomm_size() is checked at allocation (>=
 * the requested size, within the size class rules, alignment) and again at
 * free (unchanged).
 *
 * A share of the frees crosses CPUs: the object goes through a
 * single-producer single-consumer ring, one per (sender, receiver) pair,
 * and the receiver checks and frees it.  An hrtimer per thread also
 * allocates and frees small GFP_ATOMIC objects in hard interrupt context,
 * on the CPU whose thread may be inside gomm at that moment.  Now and then
 * a thread frees a whole run of slots at once, so spans empty out and go
 * back to the heap.  The guest script drives gomm's debugfs drain and
 * scavenge while this runs (gomm_drain() is not exported to modules).
 *
 * Each thread's PRNG is seeded from (seed, thread index); the seed is
 * printed, and seed=N repeats a run's per-thread decisions (the
 * interleaving between CPUs is up to the machine).
 *
 * insmod blocks until the run ends (duration_s seconds, waking every
 * second so that nothing looks hung), frees everything and prints one line
 * "gomm_stress: PASS ..." or "gomm_stress: FAIL ...".  The module then
 * stays loaded, holding no gomm object, with the number of errors in
 * /sys/module/gomm_stress/parameters/errors.  init does not fail on FAIL:
 * busybox's insmod retries a failed finit_module() with init_module(),
 * which would run the whole test a second time.  It fails on bad
 * parameters, on -ENOMEM at setup, and with -EINTR when insmod is killed.
 *
 * inject=1..3 breaks something on purpose to show that the checks can
 * fail: 1 corrupts one byte of a live object, 2 one byte of an object in
 * a ring, 3 leaks one object (seen by the guest script in gomm's debugfs
 * and gomm's unload message, not by this module).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cache.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/sched/debug.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/gomm.h>

#include "compat.h"

static unsigned int duration_s = 60;
module_param(duration_s, uint, 0444);
MODULE_PARM_DESC(duration_s, "Length of the run in seconds (insmod blocks that long)");

static ulong seed;
module_param(seed, ulong, 0444);
MODULE_PARM_DESC(seed, "PRNG seed; 0 picks a random one (printed)");

static unsigned int objects = 1024;
module_param(objects, uint, 0444);
MODULE_PARM_DESC(objects, "Live-object slots per thread (working set)");

static unsigned int max_size = SZ_4M;
module_param(max_size, uint, 0444);
MODULE_PARM_DESC(max_size, "Largest request in bytes (1..4194304)");

static unsigned int xfer_pct = 25;
module_param(xfer_pct, uint, 0444);
MODULE_PARM_DESC(xfer_pct, "Percent of frees handed to another CPU");

static unsigned int roamers = 1;
module_param(roamers, uint, 0444);
MODULE_PARM_DESC(roamers, "Unbound threads besides the per-CPU ones (they migrate, also inside gomm)");

static bool hogged;
module_param(hogged, bool, 0644);
MODULE_PARM_DESC(hogged, "Set by the guest shell when its memory hog first runs: from then on a failed large GFP_KERNEL allocation (a costly page order, which fragmentation may deny) is counted, not an error");
static unsigned int irq_us = 1000;
module_param(irq_us, uint, 0444);
MODULE_PARM_DESC(irq_us, "Period of the hard-irq alloc/free timer in us, 0 = off");

static unsigned int inject;
module_param(inject, uint, 0444);
MODULE_PARM_DESC(inject, "Fault injection: 1 corrupt a live object, 2 corrupt one in a ring, 3 leak one");

static int errors = -1;
module_param(errors, int, 0444);
MODULE_PARM_DESC(errors, "Result (read only): errors found by the run, -1 before the end");

#define GS_TINY_MAX	15
#define GS_SMALL_MAX	32768
#define GS_LARGE_MAX	SZ_4M
#define GS_PAGE		8192		/* gomm's page: large objects' unit */
#define GS_RING		64		/* entries per (sender, receiver) ring */
#define GS_IRQ_SLOTS	8
#define GS_IRQ_MAX	1024		/* largest request from the hrtimer */
#define GS_STEP		0x9e3779b97f4a7c15ULL
#define GS_REPORTS	20		/* errors printed in full, then counted */
#define GS_LATE		(120 * HZ)	/* a run this late shows its threads */

/* A live object: what its owner knows to check it. */
struct gs_obj {
	void *p;
	u32 size;	/* requested */
	u32 usable;	/* gomm_size() at allocation */
	u64 tag;	/* seed, thread, serial: unique per allocation */
};

/* Single producer (the sender's thread), single consumer (the receiver's). */
struct gs_ring {
	unsigned int head ____cacheline_aligned_in_smp;	/* producer */
	unsigned int tail ____cacheline_aligned_in_smp;	/* consumer */
	struct gs_obj o[GS_RING];
};

struct gs_stats {
	u64 allocs, frees, sent, received, ring_full, zeroed, atomic, irqoff;
	u64 preemptoff, tiny, large, bytes, nomem_atomic, nomem_hog, bursts;
};

struct gs_thread {
	struct task_struct *task;
	unsigned int idx;
	int cpu;		/* bound to, or -1 */
	struct rnd_state rnd;
	u64 serial;
	struct gs_obj *live;
	struct gs_stats st;
	struct completion done;
	/* the hard-irq user: its own PRNG and objects, touched only in irq */
	struct hrtimer timer;
	struct rnd_state irq_rnd;
	u64 irq_serial;
	struct gs_obj irq_live[GS_IRQ_SLOTS];
	u64 irq_ops, irq_nomem;
};

static struct {
	unsigned int n;			/* threads */
	u64 seed;
	unsigned long end;		/* jiffies */
	bool abort;
	atomic_t producers;		/* threads that may still send */
	atomic_t errors;
	atomic_t injected;
	struct gs_thread *t;
	struct gs_ring *rings;		/* [sender * n + receiver] */
} gs;

static struct gs_ring *gs_ring(unsigned int from, unsigned int to)
{
	return &gs.rings[from * gs.n + to];
}

#define gs_err(fmt, ...)						\
	do {								\
		if (atomic_inc_return(&gs.errors) <= GS_REPORTS)	\
			pr_err("error: " fmt, ##__VA_ARGS__);		\
	} while (0)

/* splitmix64's finalizer */
static u64 gs_mix(u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * The pattern of an object is the little-endian byte stream of the words
 * base + i * GS_STEP, base derived from (address, size, tag).
 */
static u64 gs_base(const struct gs_obj *o)
{
	return gs_mix((unsigned long)o->p ^ ((u64)o->size << 40) ^ gs_mix(o->tag));
}

static u8 gs_byte(u64 base, size_t i)
{
	return (base + (i / 8) * GS_STEP) >> (8 * (i % 8));
}

static void gs_fill(const struct gs_obj *o)
{
	u64 base = gs_base(o);
	size_t i = 0, words;
	__le64 *w = o->p;
	u8 *b = o->p;

	if (IS_ALIGNED((unsigned long)o->p, 8)) {
		words = o->size / 8;
		for (; i < words; i++)
			w[i] = cpu_to_le64(base + i * GS_STEP);
		i *= 8;
	}
	for (; i < o->size; i++)
		b[i] = gs_byte(base, i);
}

/* Offset of the first byte that is not the pattern, or -1. */
static long gs_find_bad(const struct gs_obj *o)
{
	u64 base = gs_base(o);
	size_t i = 0, words;
	const __le64 *w = o->p;
	const u8 *b = o->p;

	if (IS_ALIGNED((unsigned long)o->p, 8)) {
		words = o->size / 8;
		for (; i < words; i++)
			if (le64_to_cpu(w[i]) != base + i * GS_STEP)
				break;
		i *= 8;
	}
	for (; i < o->size; i++)
		if (b[i] != gs_byte(base, i))
			return i;
	return -1;
}

/*
 * Check an object's pattern and size, then free it; @who and @idx say who
 * frees it, for the report.
 */
static void gs_release(const struct gs_obj *o, const char *who, unsigned int idx)
{
	const u8 *b = o->p;
	size_t usable;
	long bad;

	bad = gs_find_bad(o);
	if (bad >= 0)
		gs_err("%s %u: pattern broken at %p+%ld (size %u, usable %u, tag %#llx): %02x, want %02x\n",
		       who, idx, o->p, bad, o->size, o->usable, o->tag, b[bad],
		       gs_byte(gs_base(o), bad));
	usable = gomm_size(o->p);
	if (usable != o->usable)
		gs_err("%s %u: gomm_size(%p) changed from %u to %zu (size %u)\n",
		       who, idx, o->p, o->usable, usable, o->size);
	gomm_free(o->p);
}

/* The size and alignment rules of include/linux/gomm.h. */
static void gs_check_new(const struct gs_obj *o, unsigned int idx)
{
	unsigned long a = (unsigned long)o->p;
	u32 n = o->size, u = o->usable;
	bool ok;

	if (n <= GS_TINY_MAX)		/* tiny, or class 1/2 with gomm.tiny=0 */
		ok = u >= n && u <= 16 &&
		     IS_ALIGNED(a, n & 7 ? n & 3 ? n & 1 ? 1 : 2 : 4 : 8);
	else if (n <= GS_SMALL_MAX)
		ok = u >= n && u <= GS_SMALL_MAX && IS_ALIGNED(a, 8) &&
		     (!is_power_of_2(n) || IS_ALIGNED(a, min(n, GS_PAGE)));
	else
		ok = u == round_up(n, GS_PAGE) && IS_ALIGNED(a, GS_PAGE);
	if (!ok)
		gs_err("thread %u: %u-byte request got %p (address %% 8192 = %lu) with gomm_size %u\n",
		       idx, n, o->p, a % GS_PAGE, u);
}

static bool gs_zeroed(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/* A request size: tiny 1/4, large 1/256 (when max_size allows), else small. */
static u32 gs_size(struct rnd_state *r, u32 limit)
{
	u32 x = prandom_u32_state(r), y = prandom_u32_state(r), k, n;

	if (x % 256 == 0 && limit > GS_SMALL_MAX) {
		/* large: log-uniform over 32 KiB .. max */
		k = 15 + y % (ilog2(limit) - 14);
		n = (1U << k) + prandom_u32_state(r) % (1U << k);
		n = max(n, GS_SMALL_MAX + 1);
	} else if (x % 4 == 1) {
		n = 1 + y % GS_TINY_MAX;
	} else {
		/* small: a power-of-two band 16..32767, then uniform in it */
		k = 4 + y % 11;
		n = (1U << k) + prandom_u32_state(r) % (1U << k);
		/* exact powers of two and the largest class now and then */
		if (x % 16 == 2)
			n = 1U << k;
		else if (x % 512 == 3)
			n = GS_SMALL_MAX;
	}
	return clamp(n, 1U, limit);
}

static bool gs_pct(struct gs_thread *t, unsigned int pct)
{
	return prandom_u32_state(&t->rnd) % 100 < pct;
}

static void gs_alloc(struct gs_thread *t, struct gs_obj *o)
{
	u32 how = prandom_u32_state(&t->rnd);
	u32 size = gs_size(&t->rnd, max_size);
	bool zero = how % 8 < 2, irqoff = false, preemptoff = false;
	gfp_t gfp = GFP_KERNEL;
	unsigned long flags;
	void *p;

	/* 1 in 4: GFP_ATOMIC, small ones sometimes with irqs or preemption off */
	if ((how >> 8) % 4 == 0) {
		gfp = GFP_ATOMIC | __GFP_NOWARN;
		if (size <= GS_SMALL_MAX) {
			irqoff = (how >> 16) % 3 == 0;
			preemptoff = (how >> 16) % 3 == 1;
		}
	}
	if (zero && how % 8 == 1)
		gfp |= __GFP_ZERO;
	if (irqoff)
		local_irq_save(flags);
	if (preemptoff)
		preempt_disable();
	if (zero && how % 8 == 0)
		p = gomm_zalloc(size, gfp);
	else
		p = gomm_alloc(size, gfp);
	if (preemptoff)
		preempt_enable();
	if (irqoff)
		local_irq_restore(flags);

	if (!p) {
		if (!(gfp & __GFP_DIRECT_RECLAIM))
			t->st.nomem_atomic++;
		else if (size > GS_SMALL_MAX && READ_ONCE(hogged))
			/* a costly order once a hog has fragmented memory */
			t->st.nomem_hog++;
		else
			gs_err("thread %u: GFP_KERNEL allocation of %u bytes failed\n",
			       t->idx, size);
		return;
	}
	o->p = p;
	o->size = size;
	o->usable = gomm_size(p);
	o->tag = gs.seed ^ ((u64)t->idx << 56) ^ ++t->serial;
	gs_check_new(o, t->idx);
	if (zero) {
		if (!gs_zeroed(p, size))
			gs_err("thread %u: zeroed %u-byte object %p is not zero\n",
			       t->idx, size, p);
		t->st.zeroed++;
	}
	gs_fill(o);
	t->st.allocs++;
	t->st.bytes += size;
	t->st.atomic += !(gfp & __GFP_DIRECT_RECLAIM);
	t->st.irqoff += irqoff;
	t->st.preemptoff += preemptoff;
	t->st.tiny += size <= GS_TINY_MAX;
	t->st.large += size > GS_SMALL_MAX;
}

/* Free an object of ours, sometimes with interrupts off. */
static void gs_free(struct gs_thread *t, struct gs_obj *o)
{
	unsigned long flags;

	if (o->size <= GS_SMALL_MAX && gs_pct(t, 10)) {
		local_irq_save(flags);
		gs_release(o, "thread", t->idx);
		local_irq_restore(flags);
	} else {
		gs_release(o, "thread", t->idx);
	}
	t->st.frees++;
	o->p = NULL;
}

static bool gs_send(struct gs_thread *t, const struct gs_obj *o)
{
	unsigned int to = prandom_u32_state(&t->rnd) % (gs.n - 1);
	struct gs_ring *r;
	unsigned int h;

	to += to >= t->idx;		/* anyone but us */
	r = gs_ring(t->idx, to);
	h = r->head;
	/* the receiver is done with the entries before its tail */
	if (h - smp_load_acquire(&r->tail) == GS_RING)
		return false;
	r->o[h % GS_RING] = *o;
	if (inject == 2 && !atomic_xchg(&gs.injected, 1)) {
		pr_info("inject: corrupting %p in the ring to thread %u\n", o->p, to);
		((u8 *)o->p)[o->size / 2] ^= 0x40;
	}
	/* the object's contents and the entry before the new head */
	smp_store_release(&r->head, h + 1);
	return true;
}

/* Check and free what the other threads sent us. */
static void gs_receive(struct gs_thread *t)
{
	unsigned int from, tl, h;
	struct gs_ring *r;

	for (from = 0; from < gs.n; from++) {
		if (from == t->idx)
			continue;
		r = gs_ring(from, t->idx);
		tl = r->tail;
		/* pairs with gs_send(): the entries and objects before head */
		h = smp_load_acquire(&r->head);
		if (tl == h)
			continue;
		for (; tl != h; tl++) {
			gs_release(&r->o[tl % GS_RING], "ring to thread", t->idx);
			t->st.received++;
		}
		/* our reads of the entries before the slots are reused */
		smp_store_release(&r->tail, tl);
	}
}

/* Replace one random slot; the old object is freed here or elsewhere. */
static void gs_step(struct gs_thread *t)
{
	struct gs_obj *o = &t->live[prandom_u32_state(&t->rnd) % objects];
	unsigned int i, n, first;

	if (o->p) {
		if (gs.n > 1 && gs_pct(t, xfer_pct)) {
			if (gs_send(t, o)) {
				t->st.sent++;
				o->p = NULL;
			} else {
				t->st.ring_full++;
			}
		}
		if (o->p)
			gs_free(t, o);
	}
	/* 1 in 8 slots stay empty for a while: the working set breathes */
	if (prandom_u32_state(&t->rnd) % 8)
		gs_alloc(t, o);

	/* now and then free a run of slots so that whole spans empty out */
	if (prandom_u32_state(&t->rnd) % 4096 == 0) {
		first = prandom_u32_state(&t->rnd) % objects;
		n = objects / 4;
		for (i = 0; i < n; i++) {
			o = &t->live[(first + i) % objects];
			if (o->p)
				gs_free(t, o);
		}
		t->st.bursts++;
	}
}

/* hard irq: replace one of the timer's own slots with GFP_ATOMIC */
static enum hrtimer_restart gs_timer_fn(struct hrtimer *timer)
{
	struct gs_thread *t = container_of(timer, struct gs_thread, timer);
	struct rnd_state *r = &t->irq_rnd;
	struct gs_obj *o = &t->irq_live[prandom_u32_state(r) % GS_IRQ_SLOTS];
	void *p;

	if (o->p) {
		gs_release(o, "hardirq of thread", t->idx);
		o->p = NULL;
	}
	o->size = gs_size(r, min(max_size, GS_IRQ_MAX));
	p = gomm_alloc(o->size, GFP_ATOMIC | __GFP_NOWARN);
	if (p) {
		o->p = p;
		o->usable = gomm_size(p);
		o->tag = gs.seed ^ ((u64)(t->idx | 0x80) << 56) ^ ++t->irq_serial;
		gs_check_new(o, t->idx);
		gs_fill(o);
		t->irq_ops++;
	} else {
		t->irq_nomem++;
	}
	hrtimer_forward_now(timer, ns_to_ktime((u64)irq_us * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

/* inject=1: flip the last byte of one live object, once */
static void gs_inject_live(struct gs_thread *t)
{
	unsigned int i;

	if (atomic_read(&gs.injected))
		return;
	for (i = 0; i < objects; i++) {
		struct gs_obj *o = &t->live[i];

		if (o->p && !atomic_xchg(&gs.injected, 1)) {
			pr_info("inject: corrupting live object %p\n", o->p);
			((u8 *)o->p)[o->size - 1] ^= 0x01;
			return;
		}
	}
}

static bool gs_stopping(void)
{
	return time_after(jiffies, gs.end) || READ_ONCE(gs.abort);
}

static int gs_thread_fn(void *arg)
{
	struct gs_thread *t = arg;
	unsigned long steps = 0;
	unsigned int i;

	if (irq_us)
		hrtimer_start(&t->timer, ns_to_ktime((u64)irq_us * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_PINNED);
	while (!gs_stopping()) {
		gs_step(t);
		if (++steps % 8 == 0) {
			gs_receive(t);
			cond_resched();
		}
		if (inject == 1 && t->idx == 0 && steps >= 1000)
			gs_inject_live(t);
	}
	/*
	 * A slow machine may end the run before thread 0's 1000th step: the
	 * negative control must not depend on how fast the guest is.
	 */
	if (inject == 1 && t->idx == 0)
		gs_inject_live(t);
	if (irq_us)
		hrtimer_cancel(&t->timer);
	for (i = 0; i < GS_IRQ_SLOTS; i++)
		if (t->irq_live[i].p)
			gs_release(&t->irq_live[i], "thread", t->idx);

	/* stop sending; keep receiving until nobody else can send either */
	atomic_dec_return(&gs.producers);	/* orders our ring heads before */
	while (atomic_read_acquire(&gs.producers)) {
		gs_receive(t);
		cond_resched();
	}
	gs_receive(t);
	for (i = 0; i < objects; i++) {
		if (!t->live[i].p)
			continue;
		if (inject == 3 && !atomic_xchg(&gs.injected, 1)) {
			pr_info("inject: leaking %p (%u bytes)\n",
				t->live[i].p, t->live[i].size);
			continue;
		}
		gs_free(t, &t->live[i]);
	}
	complete(&t->done);
	return 0;
}

static void gs_report(unsigned long ms)
{
	struct gs_stats sum = {};
	u64 irq_ops = 0, irq_nomem = 0;
	unsigned int i;
	int n;

	for (i = 0; i < gs.n; i++) {
		struct gs_thread *t = &gs.t[i];
		struct gs_stats *s = &t->st;
		char where[16] = "unbound";

		if (t->cpu >= 0)
			snprintf(where, sizeof(where), "cpu%d", t->cpu);
		pr_info("thread %u %s: allocs %llu frees %llu sent %llu received %llu ring_full %llu zeroed %llu atomic %llu (irqoff %llu, preemptoff %llu) tiny %llu large %llu bursts %llu irq_ops %llu nomem_atomic %llu\n",
			i, where, s->allocs, s->frees, s->sent, s->received,
			s->ring_full, s->zeroed, s->atomic, s->irqoff,
			s->preemptoff, s->tiny, s->large, s->bursts, t->irq_ops,
			s->nomem_atomic + t->irq_nomem);
		sum.allocs += s->allocs;
		sum.frees += s->frees;
		sum.sent += s->sent;
		sum.received += s->received;
		sum.large += s->large;
		sum.bytes += s->bytes;
		irq_ops += t->irq_ops;
		irq_nomem += t->irq_nomem;
		sum.nomem_atomic += s->nomem_atomic;
		sum.nomem_hog += s->nomem_hog;
	}
	if (sum.sent != sum.received)
		gs_err("%llu objects sent to other CPUs, %llu received\n",
		       sum.sent, sum.received);
	if (inject && !atomic_read(&gs.injected))
		pr_info("inject: nothing was injected\n");
	n = atomic_read(&gs.errors);
	pr_info("%s: %d errors, seed %#llx, %u threads, %lu ms, %llu allocs + %llu irq allocs, %llu frees here + %llu on another CPU, %llu large, %llu MiB, %llu atomic failures, %llu large failures after a hog\n",
		n || READ_ONCE(gs.abort) ? "FAIL" : "PASS", n, gs.seed,
		gs.n, ms, sum.allocs, irq_ops, sum.frees, sum.received,
		sum.large, sum.bytes >> 20, sum.nomem_atomic + irq_nomem, sum.nomem_hog);
}

static void gs_free_all(void)
{
	unsigned int i;

	for (i = 0; i < gs.n; i++)
		kvfree(gs.t[i].live);
	kvfree(gs.rings);
	kfree(gs.t);
}

/* Thread @idx, bound to @cpu or (-1) unbound; it does not run yet. */
static int gs_setup_thread(struct gs_thread *t, unsigned int idx, int cpu)
{
	t->idx = idx;
	t->cpu = cpu;
	init_completion(&t->done);
	prandom_seed_state(&t->rnd, gs.seed ^ gs_mix(idx + 1));
	prandom_seed_state(&t->irq_rnd, ~gs.seed ^ gs_mix(idx + 1));
	hrtimer_setup(&t->timer, gs_timer_fn, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL_PINNED);
	t->live = kvcalloc(objects, sizeof(*t->live), GFP_KERNEL);
	if (!t->live)
		return -ENOMEM;
	if (cpu >= 0)
		t->task = kthread_create_on_cpu(gs_thread_fn, t, cpu, "gomm_stress/%u");
	else
		t->task = kthread_create(gs_thread_fn, t, "gomm_stress/u%u", idx);
	if (IS_ERR(t->task)) {
		int ret = PTR_ERR(t->task);

		t->task = NULL;
		return ret;
	}
	get_task_struct(t->task);
	return 0;
}

/*
 * A run that should have ended: say which threads have not, what each has
 * done so far and where it is, so that a hang leaves its stacks in the log.
 */
static void gs_show_late(unsigned long late)
{
	struct gs_stats st;
	unsigned int i;

	pr_warn("%lu s after the end, %d threads still send; not done:\n",
		late / HZ, atomic_read(&gs.producers));
	for (i = 0; i < gs.n; i++) {
		struct gs_thread *t = &gs.t[i];

		if (completion_done(&t->done))
			continue;
		/* the thread may be counting: a snapshot is all this needs */
		st = data_race(t->st);
		pr_warn("thread %u: allocs %llu frees %llu sent %llu received %llu\n",
			i, st.allocs, st.frees, st.sent, st.received);
		sched_show_task(t->task);
	}
}

static int __init gs_init(void)
{
	unsigned long start, show_late_at;
	unsigned int cpu, i;
	int ret = 0;

	if (!objects || !max_size || max_size > GS_LARGE_MAX || xfer_pct > 100 ||
	    roamers > 64)
		return -EINVAL;
	gs.seed = seed ?: get_random_u64() | 1;
	atomic_set(&gs.errors, 0);
	atomic_set(&gs.injected, 0);
	gs.abort = false;

	cpus_read_lock();
	gs.n = num_online_cpus() + roamers;
	gs.t = kcalloc(gs.n, sizeof(*gs.t), GFP_KERNEL);
	gs.rings = kvcalloc(gs.n * gs.n, sizeof(*gs.rings), GFP_KERNEL);
	if (!gs.t || !gs.rings) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	i = 0;
	for_each_online_cpu(cpu) {
		ret = gs_setup_thread(&gs.t[i], i, cpu);
		if (ret)
			break;
		i++;
	}
	for (; !ret && i < gs.n; i++)
		ret = gs_setup_thread(&gs.t[i], i, -1);
	if (ret) {
		/* nothing ran yet: the threads stop before their function */
		for (i = 0; i < gs.n; i++)
			if (gs.t[i].task)
				kthread_stop_put(gs.t[i].task);
		goto out_unlock;
	}
	pr_info("start: seed %#llx, %u threads (%u unbound), %u s, %u slots each, max_size %u, xfer %u%%, irq every %u us%s\n",
		gs.seed, gs.n, roamers, duration_s, objects, max_size, xfer_pct, irq_us,
		inject ? ", fault injection on" : "");
	atomic_set(&gs.producers, gs.n);
	start = jiffies;
	gs.end = start + msecs_to_jiffies(duration_s * MSEC_PER_SEC);
	for (i = 0; i < gs.n; i++)
		wake_up_process(gs.t[i].task);
	cpus_read_unlock();

	/*
	 * A wake-up a second: insmod is not a hung task, and can be killed.
	 * Two minutes after the end, and every five minutes from then, the
	 * threads still running are shown (a run's threads end within a few
	 * seconds of it).
	 */
	show_late_at = gs.end + GS_LATE;
	for (i = 0; i < gs.n; i++) {
		while (!wait_for_completion_timeout(&gs.t[i].done, HZ)) {
			if (fatal_signal_pending(current) && !READ_ONCE(gs.abort)) {
				pr_err("interrupted, stopping early\n");
				WRITE_ONCE(gs.abort, true);
			}
			if (time_after(jiffies, show_late_at)) {
				gs_show_late(jiffies - gs.end);
				show_late_at = jiffies + 5 * GS_LATE / 2;
			}
		}
		kthread_stop_put(gs.t[i].task);
	}
	gs_report(jiffies_to_msecs(jiffies - start));
	errors = atomic_read(&gs.errors);
	gs_free_all();
	return gs.abort ? -EINTR : 0;

out_unlock:
	cpus_read_unlock();
	gs_free_all();
	return ret;
}

static void __exit gs_exit(void)
{
}

module_init(gs_init);
module_exit(gs_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm: randomized multi-CPU stress test");
