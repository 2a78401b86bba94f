// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_demo - a driver-like client of gomm.
 *
 * One kthread per online CPU plays a network driver: it refills a burst
 * of packet buffers of one typical size (64..9000 bytes) at a time with
 * gomm_alloc_bulk(), stamps them, and hands them to the next CPU's receive
 * ring, where they are checked and freed a batch at a time with
 * gomm_free_bulk() - so most frees cross CPUs.  Alongside, the threads
 * share an RCU hash table of variable-size records (16..600 bytes; tiny
 * names too) that any thread may insert, look up without a lock, or
 * delete: a record is built small and grown to its size with
 * gomm_realloc(), and a deleted one is freed after a grace period with
 * gomm_free_rcu_field() (its name with gomm_free_rcu()).  A pinned
 * hrtimer per thread plays the driver's sampling hook - the kind of code
 * that also runs from a PMU overflow NMI or a tracing hook, where no lock
 * may be taken: every millisecond, in hard interrupt context, it takes a
 * snapshot of its thread's counters in an object of gomm_alloc_nolock()
 * (a NULL there is skipped, not an error: the call never waits) and
 * pushes it on a lock-free list; the thread checks and frees them with
 * gomm_free() every SAMPLE_EVERY rounds, and when the thread is late the
 * hook throws its backlog away itself with gomm_free_nolock().  After
 * duration_ms the threads stop and print what they did; unloading frees
 * what is left.  Each CPU's receive ring is allocated on that CPU's NUMA
 * node with gomm_alloc_node(), as a driver allocates a queue's structures
 * with kzalloc_node(..., cpu_to_node(cpu)): the CPU that drains the ring
 * reads it from its own node's memory.  The read-only parameter
 * "allocs" lists, for each CPU that was online at load, the objects its
 * thread got from gomm ("CPU COUNT" lines; a CPU whose thread could not
 * be started shows 0): the kselftest checks each CPU's counters in gomm
 * against it.  "running" is the number of threads still allocating (the
 * demo script samples gomm while it equals the threads started,
 * "threads"), and "bad" and "nomem" add up, over all threads, the packets
 * and records found corrupted and the allocations that failed: the
 * scripts require both to be 0.
 */
#include <linux/cpu.h>
#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/gomm.h>
#include "compat.h"

static unsigned int duration_ms = 3000;
module_param(duration_ms, uint, 0444);
MODULE_PARM_DESC(duration_ms, "How long the threads run (ms)");

static unsigned int working_set = 1024;
module_param(working_set, uint, 0444);
MODULE_PARM_DESC(working_set, "Records the shared hash table holds at most");

#define RING	128
#define BURST	8

struct pkt {
	u32 len;
	u32 stamp;
	u8 data[];
};

struct rx_ring {
	spinlock_t lock;	/* head, tail, slot */
	unsigned int head, tail;
	struct pkt *slot[RING];
};

struct record {
	struct hlist_node node;
	struct rcu_head rcu;
	u32 key;
	u32 len;
	char *name;		/* a tiny allocation of its own */
	u8 payload[];
};

/* the sampling hook's snapshot (gomm_alloc_nolock()) */
#define SAMPLE_MAGIC	0x67736d70	/* "gsmp" */
#define SAMPLE_BACKLOG	16		/* the hook discards beyond this */
#define SAMPLE_EVERY	32		/* the thread's rounds between reads */

struct sample {
	struct llist_node node;
	u32 magic;
	u32 cpu;
	unsigned long sent;
	unsigned long received;
};

struct demo_cpu {
	struct task_struct *task;
	bool online;		/* online at load: it gets a thread */
	unsigned long allocs;	/* objects its thread got from gomm */
	unsigned long sent, received, bad, records_in, records_out, nomem;
	struct hrtimer tick;	/* the sampling hook */
	struct llist_head samples;
	atomic_t backlog;	/* samples on the list */
	unsigned long samples_read, samples_skipped, samples_discarded;
};

static int demo_allocs_get(char *buf, const struct kernel_param *kp);

static const struct kernel_param_ops demo_allocs_ops = {
	.get = demo_allocs_get,
};
module_param_cb(allocs, &demo_allocs_ops, NULL, 0444);
MODULE_PARM_DESC(allocs, "Per CPU online at load: objects its thread got from gomm (read-only)");

static atomic_t running;
static int threads;
module_param(threads, int, 0444);
MODULE_PARM_DESC(threads, "Threads started at load (read-only)");

static int demo_running_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&running));
}

static const struct kernel_param_ops demo_running_ops = {
	.get = demo_running_get,
};
module_param_cb(running, &demo_running_ops, NULL, 0444);
MODULE_PARM_DESC(running, "Threads still allocating (read-only)");

static int demo_sum_get(char *buf, const struct kernel_param *kp);

static const struct kernel_param_ops demo_sum_ops = {
	.get = demo_sum_get,
};
module_param_cb(bad, &demo_sum_ops, (void *)offsetof(struct demo_cpu, bad), 0444);
MODULE_PARM_DESC(bad, "Corrupted packets and records seen, all threads (read-only)");
module_param_cb(nomem, &demo_sum_ops, (void *)offsetof(struct demo_cpu, nomem), 0444);
MODULE_PARM_DESC(nomem, "Allocations that failed, all threads (read-only)");
module_param_cb(samples, &demo_sum_ops, (void *)offsetof(struct demo_cpu, samples_read), 0444);
MODULE_PARM_DESC(samples, "Snapshots of the sampling hook read by the threads (read-only)");
module_param_cb(samples_skipped, &demo_sum_ops,
		(void *)offsetof(struct demo_cpu, samples_skipped), 0444);
MODULE_PARM_DESC(samples_skipped, "Ticks whose gomm_alloc_nolock() returned NULL (read-only)");

static DEFINE_HASHTABLE(records, 8);
static DEFINE_SPINLOCK(records_lock);	/* records, nr_records */
static unsigned int nr_records;
static struct rx_ring **rings;	/* per possible CPU, on the CPU's node */
static struct demo_cpu *cpus;

static const u32 pkt_sizes[] = { 64, 128, 256, 576, 1500, 1500, 1500, 9000 };

static void pkt_fill(struct pkt *p)
{
	u32 i;

	for (i = 0; i < p->len; i++)
		p->data[i] = (u8)(p->stamp + i);
}

static bool pkt_ok(const struct pkt *p)
{
	u32 i;

	for (i = 0; i < p->len; i++)
		if (p->data[i] != (u8)(p->stamp + i))
			return false;
	return true;
}

static bool ring_push(struct rx_ring *r, struct pkt *p)
{
	bool ok;

	spin_lock_bh(&r->lock);
	ok = r->head - r->tail < RING;
	if (ok)
		r->slot[r->head++ % RING] = p;
	spin_unlock_bh(&r->lock);
	return ok;
}

static struct pkt *ring_pop(struct rx_ring *r);

/* Check and free, a batch at a time, what came in on ring @r. */
static void ring_drain(struct demo_cpu *me, struct rx_ring *r)
{
	struct pkt *batch[BURST];
	unsigned int n;

	do {
		for (n = 0; n < BURST && (batch[n] = ring_pop(r)); n++) {
			if (!pkt_ok(batch[n]))
				WRITE_ONCE(me->bad, me->bad + 1);
			me->received++;
		}
		gomm_free_bulk(n, (void **)batch);
	} while (n == BURST);
}

static struct pkt *ring_pop(struct rx_ring *r)
{
	struct pkt *p = NULL;

	spin_lock_bh(&r->lock);
	if (r->head != r->tail)
		p = r->slot[r->tail++ % RING];
	spin_unlock_bh(&r->lock);
	return p;
}

/*
 * The sampling hook, in hard interrupt context on its thread's CPU: what a
 * PMU overflow handler (an NMI) or a tracing hook does, so nothing here
 * waits or takes a lock - gomm_alloc_nolock(), llist_add() and, for a
 * backlog the thread did not read, gomm_free_nolock().
 */
static enum hrtimer_restart demo_tick(struct hrtimer *t)
{
	struct demo_cpu *me = container_of(t, struct demo_cpu, tick);
	struct llist_node *old;
	struct sample *s, *tmp;

	if (atomic_read(&me->backlog) >= SAMPLE_BACKLOG) {
		old = llist_del_all(&me->samples);
		llist_for_each_entry_safe(s, tmp, old, node) {
			atomic_dec(&me->backlog);
			gomm_free_nolock(s);
			WRITE_ONCE(me->samples_discarded, me->samples_discarded + 1);
		}
	}
	s = gomm_alloc_nolock(sizeof(*s), __GFP_ZERO);
	if (s) {
		s->magic = SAMPLE_MAGIC;
		s->cpu = smp_processor_id();
		s->sent = READ_ONCE(me->sent);
		s->received = READ_ONCE(me->received);
		llist_add(&s->node, &me->samples);
		atomic_inc(&me->backlog);
	} else {
		/* the CPU's nolock cache could not serve it now: skip a tick */
		WRITE_ONCE(me->samples_skipped, me->samples_skipped + 1);
	}
	hrtimer_forward_now(t, ms_to_ktime(1));
	return HRTIMER_RESTART;
}

/* The thread reads the hook's snapshots: each is its own and in order. */
static void demo_read_samples(struct demo_cpu *me, unsigned int cpu)
{
	struct llist_node *list = llist_del_all(&me->samples);
	struct sample *s, *tmp;

	llist_for_each_entry_safe(s, tmp, list, node) {
		atomic_dec(&me->backlog);
		if (s->magic != SAMPLE_MAGIC || s->cpu != cpu ||
		    s->sent > me->sent || s->received > me->received)
			WRITE_ONCE(me->bad, me->bad + 1);
		WRITE_ONCE(me->samples_read, me->samples_read + 1);
		gomm_free(s);
	}
}

static void demo_count(struct demo_cpu *me)
{
	WRITE_ONCE(me->allocs, me->allocs + 1);
}

/* At unload, when no reader is left. */
static void record_free(struct record *rec)
{
	gomm_free(rec->name);
	gomm_free(rec);
}

/* A lockless reader: the record of @key, if any, checked in place. */
static void record_lookup(struct demo_cpu *me, u32 key)
{
	struct record *rec;

	rcu_read_lock();
	hash_for_each_possible_rcu(records, rec, node, key)
		if (rec->key == key &&
		    (rec->payload[rec->len - 1] != (u8)key || rec->name[0] != 'r'))
			WRITE_ONCE(me->bad, me->bad + 1);
	rcu_read_unlock();
}

/*
 * A new record of @len payload bytes: built with a first guess of 16
 * bytes, then grown to its size with gomm_realloc() (which moves it only
 * when the class is too small).
 */
static struct record *record_new(struct demo_cpu *me, u32 len)
{
	struct record *rec, *grown;

	rec = gomm_alloc(sizeof(*rec) + 16, GFP_KERNEL);
	if (!rec)
		return NULL;
	demo_count(me);
	memset(rec->payload, 0, 16);
	grown = gomm_realloc(rec, sizeof(*rec) + len, GFP_KERNEL);
	if (!grown) {
		gomm_free(rec);
		return NULL;
	}
	if (grown != rec)
		demo_count(me);
	return grown;
}

/* Insert a new record, or delete an old one, in the shared table. */
static void records_step(struct demo_cpu *me, u32 rnd)
{
	struct record *rec, *victim = NULL;
	u32 len = 16 + rnd % 585;
	int bkt;

	record_lookup(me, rnd >> 4);
	if (READ_ONCE(nr_records) >= working_set || (rnd & 3) == 0) {
		spin_lock(&records_lock);
		hash_for_each(records, bkt, rec, node) {
			hash_del_rcu(&rec->node);
			nr_records--;
			victim = rec;
			break;
		}
		spin_unlock(&records_lock);
		if (victim) {
			if (victim->payload[0] != (u8)victim->key)
				WRITE_ONCE(me->bad, me->bad + 1);
			/* lockless readers may still hold it: free it later */
			gomm_free_rcu(victim->name);
			gomm_free_rcu_field(victim, rcu);
			me->records_out++;
		}
		return;
	}
	rec = record_new(me, len);
	if (rec) {
		rec->name = gomm_alloc(1 + (rnd >> 8) % 12, GFP_KERNEL);
		if (rec->name)
			demo_count(me);
	}
	if (!rec || !rec->name) {
		if (rec)
			gomm_free(rec);
		WRITE_ONCE(me->nomem, me->nomem + 1);
		return;
	}
	rec->key = rnd >> 4;
	rec->len = len;
	memset(rec->payload, (u8)rec->key, len);
	rec->name[0] = 'r';
	spin_lock(&records_lock);
	hash_add_rcu(records, &rec->node, rec->key);
	nr_records++;
	spin_unlock(&records_lock);
	me->records_in++;
}

static int demo_thread(void *arg)
{
	unsigned int cpu = smp_processor_id(), next;
	struct demo_cpu *me = &cpus[cpu];
	unsigned long end = jiffies + msecs_to_jiffies(duration_ms);
	struct pkt *burst[BURST];
	unsigned int i, n, round;
	u32 rnd, len;

	next = cpumask_next(cpu, cpu_online_mask);
	if (next >= nr_cpu_ids)
		next = cpumask_first(cpu_online_mask);
	init_llist_head(&me->samples);
	hrtimer_setup(&me->tick, demo_tick, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	hrtimer_start(&me->tick, ms_to_ktime(1), HRTIMER_MODE_REL_PINNED_HARD);
	for (round = 0; !kthread_should_stop() && time_before(jiffies, end); round++) {
		if (round % SAMPLE_EVERY == 0)
			demo_read_samples(me, cpu);
		rnd = get_random_u32();
		/* a ring refill: a burst of buffers of one size at once */
		len = pkt_sizes[rnd % ARRAY_SIZE(pkt_sizes)];
		if (gomm_alloc_bulk(sizeof(struct pkt) + len, GFP_KERNEL, BURST,
				    (void **)burst)) {
			n = 0;
			for (i = 0; i < BURST; i++) {
				demo_count(me);
				burst[i]->len = len;
				burst[i]->stamp = rnd + i;
				pkt_fill(burst[i]);
				if (ring_push(rings[next], burst[i]))
					me->sent++;
				else
					burst[n++] = burst[i];	/* ring full */
			}
			gomm_free_bulk(n, (void **)burst);
		} else {
			WRITE_ONCE(me->nomem, me->nomem + 1);
		}
		ring_drain(me, rings[cpu]);
		records_step(me, rnd >> 3);
		cond_resched();
	}
	hrtimer_cancel(&me->tick);
	demo_read_samples(me, cpu);
	pr_info("gomm_demo: cpu%u: sent %lu packets, received %lu, records +%lu -%lu, bad %lu, nomem %lu, allocs %lu, samples %lu (skipped %lu, discarded %lu)\n",
		cpu, me->sent, me->received, me->records_in, me->records_out,
		me->bad, me->nomem, me->allocs, me->samples_read,
		me->samples_skipped, me->samples_discarded);
	atomic_dec(&running);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ / 10);
	return 0;
}

/* Under the module's parameter lock, which also guards the cpus pointer. */
static int demo_allocs_get(char *buf, const struct kernel_param *kp)
{
	unsigned int cpu;
	int n = 0;

	if (!cpus)
		return 0;
	for_each_possible_cpu(cpu)
		if (READ_ONCE(cpus[cpu].online))
			n += sysfs_emit_at(buf, n, "%u %lu\n", cpu, READ_ONCE(cpus[cpu].allocs));
	return n;
}

/* The sum over all CPUs of the counter at offset kp->arg of demo_cpu. */
static int demo_sum_get(char *buf, const struct kernel_param *kp)
{
	size_t off = (size_t)kp->arg;
	unsigned long sum = 0;
	unsigned int cpu;

	if (cpus)
		for_each_possible_cpu(cpu)
			sum += READ_ONCE(*(unsigned long *)((char *)&cpus[cpu] + off));
	return sysfs_emit(buf, "%lu\n", sum);
}

static void demo_set_cpus(struct demo_cpu *c)
{
	kernel_param_lock(THIS_MODULE);
	cpus = c;
	kernel_param_unlock(THIS_MODULE);
}

static void demo_cleanup(void)
{
	struct demo_cpu *c;
	struct hlist_node *tmp;
	struct record *rec;
	unsigned int cpu;
	struct pkt *p;
	int bkt;

	for_each_possible_cpu(cpu) {
		if (!rings[cpu])
			continue;
		while ((p = ring_pop(rings[cpu])))
			gomm_free(p);
		gomm_free(rings[cpu]);
	}
	hash_for_each_safe(records, bkt, tmp, rec, node) {
		hash_del(&rec->node);
		record_free(rec);
	}
	nr_records = 0;
	kfree(rings);
	c = cpus;
	demo_set_cpus(NULL);
	kfree(c);
}

static int __init demo_init(void)
{
	unsigned int cpu, local = 0, nrings = 0;
	struct task_struct *t;
	struct demo_cpu *c;
	int node;

	rings = kcalloc(nr_cpu_ids, sizeof(*rings), GFP_KERNEL);
	c = kcalloc(nr_cpu_ids, sizeof(*c), GFP_KERNEL);
	if (!rings || !c) {
		kfree(rings);
		kfree(c);
		return -ENOMEM;
	}
	demo_set_cpus(c);
	/* each ring on its CPU's node (a preference: another node if it is full) */
	for_each_possible_cpu(cpu) {
		node = cpu_to_node(cpu);
		rings[cpu] = gomm_alloc_node(sizeof(*rings[cpu]), GFP_KERNEL | __GFP_ZERO,
					     node);
		if (!rings[cpu]) {
			demo_cleanup();
			return -ENOMEM;
		}
		spin_lock_init(&rings[cpu]->lock);
		nrings++;
		local += node == NUMA_NO_NODE ||
			 page_to_nid(virt_to_page(rings[cpu])) == node;
	}
	pr_info("gomm_demo: %u receive rings, %u on their CPU's node\n", nrings, local);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		WRITE_ONCE(cpus[cpu].online, true);
		t = kthread_create_on_cpu(demo_thread, NULL, cpu, "gomm_demo/%u");
		if (IS_ERR(t))
			continue;
		cpus[cpu].task = t;
		atomic_inc(&running);
		wake_up_process(t);
	}
	cpus_read_unlock();
	threads = atomic_read(&running);
	pr_info("gomm_demo: %d threads for %u ms, working set %u records\n",
		threads, duration_ms, working_set);
	return 0;
}

static void __exit demo_exit(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		if (cpus[cpu].task)
			kthread_stop(cpus[cpu].task);
	demo_cleanup();
	pr_info("gomm_demo: stopped, everything freed\n");
}

module_init(demo_init);
module_exit(demo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm demo client: packet rings and a record table across CPUs");
