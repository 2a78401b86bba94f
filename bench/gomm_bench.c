// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_bench - guest instructions per operation of gomm and of SLUB.
 *
 * Meant for the perf test kernel under QEMU with "-icount shift=0", where
 * the guest clock advances one nanosecond per guest instruction: a
 * ktime_get_ns() delta is then an instruction count, the same on every
 * run and on every host.  The clock is global, so the counts also include
 * whatever the other vCPUs execute meanwhile; they sit idle (halted) here,
 * which costs nothing, apart from the occasional timer tick.
 *
 * Everything runs from module init on the loading CPU with migration
 * disabled (preemption stays enabled), each case after a warm-up of the
 * same loop, gomm and SLUB in the same boot.  Sizes are not compile-time
 * constants, so kmalloc() goes through __kmalloc() and its size lookup
 * like gomm_alloc() does.  The numbers are raw: they include the loop and
 * the calls; case=loop measures that overhead with empty functions.
 *
 * One line per case on the console, for scripts/bench:
 *   gomm_bench: case=pair size=64 gomm=41.2 slub=153.0 unit=insn/op
 * where an op is one allocation plus one free.  Batch and remote cases add
 * the alloc and free halves as gomm_alloc=, gomm_free=, slub_alloc= and
 * slub_free= (insn per alloc, per free).
 *
 * Init returns 0 when every case ran, so the module stays loaded (and can
 * be removed); an allocation failure fails the load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/gomm.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched/task.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/smp.h>

/* iterations of the timed loop per case; warm-ups run a tenth of that */
#define BENCH_ITERS		100000UL
#define BENCH_LARGE_ITERS	10000UL
/* objects alive at once in the remote-free case */
#define BENCH_REMOTE_N		100000UL
/* instructions per iteration of bench_calib(), and its iterations */
#define BENCH_CALIB_INSN	12
#define BENCH_CALIB_ITERS	1000000UL

enum bench_kind {
	BENCH_GOMM,
	BENCH_SLUB,	/* kmalloc() / kfree() */
	BENCH_CACHE,	/* kmem_cache_alloc() / kmem_cache_free() */
	BENCH_NOP,	/* empty functions: the loop and call overhead */
};

static struct kmem_cache *bench_cache;
static void **bench_vec;
static char bench_nop_obj[8];

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
	default:
		return bench_nop_alloc(size, GFP_KERNEL);
	}
}

static __always_inline void bench_free(enum bench_kind k, void *p)
{
	switch (k) {
	case BENCH_GOMM:
		gomm_free(p);
		break;
	case BENCH_SLUB:
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

/* One number as "insn per op" with one decimal, e.g. "41.2". */
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

/* Timed alloc+free pairs, after a warm-up; the instructions, or 0. */
static u64 bench_time_pairs(enum bench_kind k, size_t size, unsigned long n)
{
	u64 t0;

	if (!bench_pairs(k, size, n / 10))
		return 0;
	t0 = ktime_get_ns();
	if (!bench_pairs(k, size, n))
		return 0;
	return ktime_get_ns() - t0;
}

static int bench_pair_case(const char *name, enum bench_kind slub,
			   size_t size, unsigned long n)
{
	u64 g = bench_time_pairs(BENCH_GOMM, size, n);
	u64 s = bench_time_pairs(slub, size, n);

	if (!g || !s) {
		pr_err("case=%s size=%zu: allocation failed\n", name, size);
		return -ENOMEM;
	}
	pr_info("case=%s size=%zu gomm=%s slub=%s unit=insn/op\n", name, size,
		bench_fmt(g, n).s, bench_fmt(s, n).s);
	return 0;
}

struct bench_split {
	u64 alloc_ns;
	u64 free_ns;
};

/* @reps rounds of @n allocs then @n frees, after a warm-up round. */
static int bench_time_batch(enum bench_kind k, size_t size, unsigned long n,
			    unsigned long reps, struct bench_split *r)
{
	unsigned long i, got;
	u64 t0, t1;

	r->alloc_ns = 0;
	r->free_ns = 0;
	for (i = 0; i <= reps; i++) {
		t0 = ktime_get_ns();
		got = bench_allocs(k, size, bench_vec, n);
		t1 = ktime_get_ns();
		bench_frees(k, bench_vec, got);
		if (got < n)
			return -ENOMEM;
		if (i) {	/* round 0 is the warm-up */
			r->alloc_ns += t1 - t0;
			r->free_ns += ktime_get_ns() - t1;
		}
	}
	return 0;
}

static void bench_print_split(const char *name, size_t size,
			      const struct bench_split *g,
			      const struct bench_split *s, u64 n,
			      const char *extra)
{
	pr_info("case=%s size=%zu gomm=%s slub=%s gomm_alloc=%s gomm_free=%s slub_alloc=%s slub_free=%s%s unit=insn/op\n",
		name, size, bench_fmt(g->alloc_ns + g->free_ns, n).s,
		bench_fmt(s->alloc_ns + s->free_ns, n).s,
		bench_fmt(g->alloc_ns, n).s, bench_fmt(g->free_ns, n).s,
		bench_fmt(s->alloc_ns, n).s, bench_fmt(s->free_ns, n).s,
		extra);
}

static int bench_batch_case(size_t size, unsigned long n)
{
	unsigned long reps = max(BENCH_ITERS / n, 1UL);
	struct bench_split g, s;
	char name[24];

	if (bench_time_batch(BENCH_GOMM, size, n, reps, &g) ||
	    bench_time_batch(BENCH_SLUB, size, n, reps, &s)) {
		pr_err("case=batch%lu size=%zu: allocation failed\n", n, size);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "batch%lu", n);
	bench_print_split(name, size, &g, &s, (u64)n * reps, "");
	return 0;
}

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

/* Free bench_vec[0..@n) on @cpu; the instructions that took, or an error. */
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
 * count is its own.  One warm-up round first.
 */
static int bench_time_remote(enum bench_kind k, size_t size,
			     unsigned int cpu, unsigned long n,
			     struct bench_split *r, u64 *realloc_ns)
{
	unsigned long got;
	int round, ret;
	u64 t0, t1;

	for (round = 0; round < 2; round++) {
		t0 = ktime_get_ns();
		got = bench_allocs(k, size, bench_vec, n);
		r->alloc_ns = ktime_get_ns() - t0;
		if (got < n) {
			bench_frees(k, bench_vec, got);
			return -ENOMEM;
		}
		ret = bench_remote_frees(k, cpu, n, &r->free_ns);
		if (ret) {
			bench_frees(k, bench_vec, n);
			return ret;
		}
		t0 = ktime_get_ns();
		got = bench_allocs(k, size, bench_vec, n);
		t1 = ktime_get_ns();
		bench_frees(k, bench_vec, got);
		if (got < n)
			return -ENOMEM;
		*realloc_ns = t1 - t0;
	}
	return 0;
}

static int bench_remote_case(size_t size, unsigned int cpu, unsigned long n)
{
	struct bench_split g, s;
	u64 g_re, s_re;
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
		 bench_fmt(g_re, n).s, bench_fmt(s_re, n).s);
	bench_print_split("remote", size, &g, &s, n, extra);
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

static int bench_run(unsigned int cpu, unsigned int remote)
{
	static const size_t pair_sizes[] = {
		8, 16, 32, 64, 128, 256, 512, SZ_1K, SZ_2K, SZ_4K, SZ_8K,
		SZ_32K,
	};
	static const size_t large_sizes[] = { SZ_64K, SZ_1M, SZ_4M };
	static const size_t batch_sizes[] = { 64, 256 };
	static const unsigned long batch_ns[] = { 1000, 100000 };
	unsigned int i, j;
	u64 t0, ns;
	int ret;

	t0 = ktime_get_ns();
	bench_calib(BENCH_CALIB_ITERS);
	ns = ktime_get_ns() - t0;
	pr_info("case=calib size=0 expect=%u measured=%s excess=%lld unit=insn/iter\n",
		BENCH_CALIB_INSN, bench_fmt(ns, BENCH_CALIB_ITERS).s,
		(s64)(ns - (u64)BENCH_CALIB_INSN * BENCH_CALIB_ITERS));

	ns = bench_time_pairs(BENCH_NOP, 64, BENCH_ITERS);
	pr_info("case=loop size=0 gomm=%s slub=%s unit=insn/op\n",
		bench_fmt(ns, BENCH_ITERS).s, bench_fmt(ns, BENCH_ITERS).s);

	for (i = 0; i < ARRAY_SIZE(pair_sizes); i++) {
		ret = bench_pair_case("pair", BENCH_SLUB, pair_sizes[i],
				      BENCH_ITERS);
		if (ret)
			return ret;
	}
	for (i = 0; i < ARRAY_SIZE(batch_sizes); i++) {
		ret = bench_cache_case(batch_sizes[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < ARRAY_SIZE(batch_ns); i++) {
		for (j = 0; j < ARRAY_SIZE(batch_sizes); j++) {
			ret = bench_batch_case(batch_sizes[j], batch_ns[i]);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < ARRAY_SIZE(large_sizes); i++) {
		ret = bench_pair_case("large", BENCH_SLUB, large_sizes[i],
				      BENCH_LARGE_ITERS);
		if (ret)
			return ret;
	}
	if (remote == cpu) {
		pr_info("case=remote skipped: one CPU online\n");
		return 0;
	}
	for (j = 0; j < ARRAY_SIZE(batch_sizes); j++) {
		ret = bench_remote_case(batch_sizes[j], remote,
					BENCH_REMOTE_N);
		if (ret)
			return ret;
	}
	return 0;
}

static int __init gomm_bench_init(void)
{
	unsigned int cpu, remote;
	u64 t0;
	int ret;

	bench_vec = kvmalloc_array(max(BENCH_ITERS, BENCH_REMOTE_N),
				   sizeof(*bench_vec), GFP_KERNEL);
	if (!bench_vec)
		return -ENOMEM;

	migrate_disable();
	cpu = smp_processor_id();
	remote = cpumask_next(cpu, cpu_online_mask);
	if (remote >= nr_cpu_ids)
		remote = cpumask_first(cpu_online_mask);
	pr_info("start cpu=%u remote_cpu=%u iters=%lu large_iters=%lu counts=raw\n",
		cpu, remote, BENCH_ITERS, BENCH_LARGE_ITERS);
	t0 = ktime_get_ns();
	ret = bench_run(cpu, remote);
	pr_info("done ret=%d total=%llu ns\n", ret, ktime_get_ns() - t0);
	migrate_enable();

	kvfree(bench_vec);
	bench_vec = NULL;
	return ret;
}

static void __exit gomm_bench_exit(void)
{
}

module_init(gomm_bench_init);
module_exit(gomm_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm_bench: instructions per operation, gomm vs SLUB");
