// SPDX-License-Identifier: GPL-2.0
/*
 * Who holds the memory: per-call-site accounting, in the spirit of
 * /proc/allocinfo.  Off by default; "gomm.callsites=1" at load, or
 * writing 1 to /sys/module/gomm/parameters/callsites, turns it on, and
 * /sys/kernel/debug/gomm/callsites lists, per caller of gomm_alloc() /
 * gomm_zalloc() (its return address, printed with %pS), the objects and
 * bytes it has live and the calls it made.
 *
 * With the switch off the allocator pays one jump-label nop in
 * gomm_alloc() and one in gomm_free().  With it on, both go to their
 * instrumented copies (gomm_alloc_traced(), gomm_free_traced(), shared
 * with the tracepoints), which call gomm_callsite_alloc() after the object
 * is allocated and gomm_callsite_free() before it is freed.
 *
 * Attribution at free: a table keyed by object address, allocated when
 * the switch goes on (vzalloc(), process context) and never resized, so
 * the accounted paths allocate nothing and memory is bounded
 * (GOMM_CS_OBJECTS records of 16 bytes, 2 MiB, plus GOMM_CS_SITES sites).
 * An object's record is GOMM_CS_SLOTS slots in the bucket its address
 * hashes to, taken and dropped under one of GOMM_CS_LOCKS raw spinlocks
 * (interrupts off: frees and GFP_ATOMIC allocations come from any
 * context but NMI).  That lock is a gomm lock of its own: it is never
 * held with another (gomm_callsite_alloc() runs after the allocation
 * returned, gomm_callsite_free() before the free starts) and nothing
 * under it allocates.  The free drops the record before the object is
 * freed, so the address cannot be handed out again and recorded anew
 * before its old record is gone; a double free finds no record and
 * changes no count.  An object whose bucket is full is not recorded (it
 * is counted as untracked, its call counted, its bytes not), and neither
 * are objects allocated while the switch was off: their frees find no
 * record and are ignored.  Sites are claimed with cmpxchg() and never
 * given back while the table lives; calls from sites beyond
 * GOMM_CS_SITES share one "other" entry.  Switching off frees the table
 * after an RCU grace period (the accounted paths read it under
 * rcu_read_lock()); switching on again starts from zero.
 *
 * Records hold the complement of each address, not the address: kmemleak
 * scans the table and would otherwise take a leaked object as referenced.
 */
#include <linux/debugfs.h>
#include <linux/hash.h>
#include <linux/kstrtox.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include "compat.h"

#include "gomm.h"

#define GOMM_CS_SITES_SHIFT	10
#define GOMM_CS_SITES		BIT(GOMM_CS_SITES_SHIFT)
#define GOMM_CS_OTHER		GOMM_CS_SITES	/* the sites beyond the table */
#define GOMM_CS_BUCKETS_SHIFT	14
#define GOMM_CS_BUCKETS		BIT(GOMM_CS_BUCKETS_SHIFT)
#define GOMM_CS_SLOTS		8		/* records per bucket */
#define GOMM_CS_OBJECTS		(GOMM_CS_SLOTS * GOMM_CS_BUCKETS)
#define GOMM_CS_LOCKS		256

DEFINE_STATIC_KEY_FALSE(gomm_callsite_key);
EXPORT_SYMBOL_IF_KUNIT(gomm_callsite_key);

/**
 * struct gomm_cs_site - one call site's counts
 * @ip: the caller's return address; 0 while the entry is free
 * @live_objs: objects it allocated that are recorded and not freed
 * @live_bytes: their usable bytes
 * @calls: gomm_alloc() / gomm_zalloc() calls it made, failed ones too
 */
struct gomm_cs_site {
	unsigned long ip;
	atomic_long_t live_objs;
	atomic_long_t live_bytes;
	atomic_long_t calls;
};

/**
 * struct gomm_cs_obj - the record of one live object
 * @key: ~address of the object; 0 while the slot is free
 * @site: index of its call site
 * @bytes: its usable size (at most 4 MiB)
 */
struct gomm_cs_obj {
	unsigned long key;
	u32 site;
	u32 bytes;
};

/* The records of the objects whose addresses hash to one value. */
struct gomm_cs_bucket {
	struct gomm_cs_obj slot[GOMM_CS_SLOTS];
};

/**
 * struct gomm_cs_table - everything the accounting needs, in one block
 * @sites: the call sites, open addressing on the return address, and the
 *	"other" entry (@sites[GOMM_CS_OTHER], ip 0)
 * @objs: buckets of GOMM_CS_SLOTS records, by hash of the object address
 * @locks: bucket b is guarded by @locks[b % GOMM_CS_LOCKS]
 * @untracked: objects not recorded because their bucket was full
 */
struct gomm_cs_table {
	struct gomm_cs_site sites[GOMM_CS_SITES + 1];
	struct gomm_cs_bucket objs[GOMM_CS_BUCKETS];
	raw_spinlock_t locks[GOMM_CS_LOCKS];	/* records of the buckets */
	atomic_long_t untracked;
};

static struct gomm_cs_table __rcu *gomm_cs;
/* switches the accounting on and off; the debugfs reader holds it too */
static DEFINE_MUTEX(gomm_cs_mutex);
static bool gomm_cs_on;
/* the parameter's value until gomm_callsites_init() acts on it */
static bool gomm_cs_ready;

/* Index of call site @ip in @t, claiming an entry for a new one. */
static unsigned int gomm_cs_site(struct gomm_cs_table *t, unsigned long ip)
{
	unsigned int i = hash_long(ip, GOMM_CS_SITES_SHIFT), n;
	unsigned long cur;

	for (n = 0; n < GOMM_CS_SITES; n++, i = (i + 1) % GOMM_CS_SITES) {
		cur = READ_ONCE(t->sites[i].ip);
		if (!cur)
			cur = cmpxchg(&t->sites[i].ip, 0, ip) ?: ip;
		if (cur == ip)
			return i;
	}
	return GOMM_CS_OTHER;
}

/*
 * In the bucket of object @p, the record whose key is @key (0: a free
 * slot) is copied to *@old and replaced by *@rec, under the bucket's lock.
 * Return: false if the bucket has no such record.
 */
static bool gomm_cs_swap(struct gomm_cs_table *t, const void *p,
			 unsigned long key, const struct gomm_cs_obj *rec,
			 struct gomm_cs_obj *old)
{
	unsigned long b = hash_long((unsigned long)p, GOMM_CS_BUCKETS_SHIFT);
	raw_spinlock_t *lock = &t->locks[b % GOMM_CS_LOCKS];
	struct gomm_cs_obj *o;
	unsigned long flags;
	bool found = false;
	unsigned int i;

	raw_spin_lock_irqsave(lock, flags);
	for (i = 0; i < GOMM_CS_SLOTS; i++) {
		o = &t->objs[b].slot[i];
		if (o->key == key) {
			*old = *o;
			*o = *rec;
			found = true;
			break;
		}
	}
	raw_spin_unlock_irqrestore(lock, flags);
	return found;
}

/* @objs objects of @bytes in all more (or fewer) live at call site @site */
static void gomm_cs_live(struct gomm_cs_table *t, unsigned int site, long objs,
			 long bytes)
{
	atomic_long_add(objs, &t->sites[site].live_objs);
	atomic_long_add(bytes, &t->sites[site].live_bytes);
}

/**
 * gomm_callsite_alloc - account an allocation to its call site
 * @p: the object, or NULL if the allocation failed
 * @bytes: its usable size
 * @ip: the caller's return address
 *
 * Context: any but NMI; takes one of the table's locks, no other.
 */
void gomm_callsite_alloc(const void *p, size_t bytes, unsigned long ip)
{
	struct gomm_cs_obj rec, old;
	struct gomm_cs_table *t;
	unsigned int site;

	rcu_read_lock();
	t = rcu_dereference(gomm_cs);
	if (!t)
		goto out;
	site = gomm_cs_site(t, ip);
	atomic_long_inc(&t->sites[site].calls);
	if (!p)
		goto out;
	rec = (struct gomm_cs_obj) {
		.key = ~(unsigned long)p, .site = site, .bytes = bytes,
	};
	if (gomm_cs_swap(t, p, 0, &rec, &old))
		gomm_cs_live(t, site, 1, bytes);
	else
		atomic_long_inc(&t->untracked);
out:
	rcu_read_unlock();
}

/**
 * gomm_callsite_free - take a freed object off its call site
 * @p: the pointer given to gomm_free(), before gomm frees it
 *
 * A pointer with no record (allocated while the accounting was off, not
 * recorded, already freed, or not gomm's) changes nothing.
 *
 * Context: any but NMI; takes one of the table's locks, no other.
 */
void gomm_callsite_free(const void *p)
{
	static const struct gomm_cs_obj none;
	struct gomm_cs_table *t;
	struct gomm_cs_obj old;

	if (!p)
		return;
	rcu_read_lock();
	t = rcu_dereference(gomm_cs);
	if (t && gomm_cs_swap(t, p, ~(unsigned long)p, &none, &old))
		gomm_cs_live(t, old.site, -1, -(long)old.bytes);
	rcu_read_unlock();
}

/**
 * gomm_callsites_set - switch the call-site accounting on or off
 * @on: the new state
 *
 * On: a zeroed table is published, then the static keys go on.  Off: the
 * keys go off, the table is unpublished and freed after a grace period.
 * Setting the current state again does nothing.
 *
 * Context: process, may sleep; no gomm lock held.
 * Return: 0, or -ENOMEM if the table cannot be had.
 */
int gomm_callsites_set(bool on)
{
	struct gomm_cs_table *t;
	unsigned int i;

	mutex_lock(&gomm_cs_mutex);
	if (on == gomm_cs_on)
		goto out;
	if (on) {
		t = vzalloc(sizeof(*t));
		if (!t) {
			mutex_unlock(&gomm_cs_mutex);
			return -ENOMEM;
		}
		for (i = 0; i < GOMM_CS_LOCKS; i++)
			raw_spin_lock_init(&t->locks[i]);
		rcu_assign_pointer(gomm_cs, t);
		/*
		 * Frees are traced before allocations are recorded (the
		 * allocations' key may be on already, for init_on_alloc or
		 * a probe: the call-site key decides), and stop after: a
		 * recorded object's free always leaves its site (an
		 * unrecorded object's traced free is an unknown free).
		 */
		static_branch_inc(&gomm_free_instr_key);
		static_branch_enable(&gomm_callsite_key);
		static_branch_inc(&gomm_alloc_instr_key);
	} else {
		static_branch_dec(&gomm_alloc_instr_key);
		static_branch_disable(&gomm_callsite_key);
		static_branch_dec(&gomm_free_instr_key);
		t = rcu_replace_pointer(gomm_cs, NULL,
					lockdep_is_held(&gomm_cs_mutex));
		synchronize_rcu();	/* accounted paths still in the table */
		vfree(t);
	}
	WRITE_ONCE(gomm_cs_on, on);
out:
	mutex_unlock(&gomm_cs_mutex);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_callsites_set);

/**
 * gomm_callsites_enabled - is the call-site accounting on?
 *
 * Return: the state gomm_callsites_set() last set (the parameter's value).
 */
bool gomm_callsites_enabled(void)
{
	return READ_ONCE(gomm_cs_on);
}
EXPORT_SYMBOL_IF_KUNIT(gomm_callsites_enabled);

static int gomm_cs_param_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret = kstrtobool(val, &on);

	if (ret)
		return ret;
	/* at load, before gomm_init(): gomm_callsites_init() acts on it */
	if (!READ_ONCE(gomm_cs_ready)) {
		gomm_cs_on = on;
		return 0;
	}
	return gomm_callsites_set(on);
}

static int gomm_cs_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n", READ_ONCE(gomm_cs_on) ? 'Y' : 'N');
}

static const struct kernel_param_ops gomm_cs_param_ops = {
	.set = gomm_cs_param_set,
	.get = gomm_cs_param_get,
};
module_param_cb(callsites, &gomm_cs_param_ops, NULL, 0644);
MODULE_PARM_DESC(callsites, "Count live objects, bytes and calls per call site (debugfs gomm/callsites)");

/* one row of the file, copied out of the table */
struct gomm_cs_row {
	unsigned long ip;
	long live_objs;
	long live_bytes;
	long calls;
};

static int gomm_cs_row_cmp(const void *a, const void *b)
{
	const struct gomm_cs_row *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

/**
 * gomm_callsites_show - the debugfs file "callsites"
 * @m: the seq_file
 * @v: unused
 *
 * One header line with the state and the untracked objects, the column
 * names, then every call site that made a call, by live bytes (then
 * calls), largest first.  Counts are read without stopping the
 * allocator: a snapshot.
 *
 * Context: process; takes gomm_cs_mutex (not a spinning gomm lock).
 * Return: 0, or -ENOMEM.
 */
int gomm_callsites_show(struct seq_file *m, void *v)
{
	struct gomm_cs_row *rows;
	struct gomm_cs_table *t;
	unsigned int i, n = 0;
	long objs = 0;

	mutex_lock(&gomm_cs_mutex);
	t = rcu_dereference_protected(gomm_cs, lockdep_is_held(&gomm_cs_mutex));
	if (!t) {
		seq_puts(m, "# callsites: off (echo 1 > /sys/module/gomm/parameters/callsites)\n");
		seq_puts(m, "#   live_bytes    live_objs        calls call_site\n");
		mutex_unlock(&gomm_cs_mutex);
		return 0;
	}
	rows = kvmalloc_array(GOMM_CS_SITES + 1, sizeof(*rows), GFP_KERNEL);
	if (!rows) {
		mutex_unlock(&gomm_cs_mutex);
		return -ENOMEM;
	}
	for (i = 0; i <= GOMM_CS_SITES; i++) {
		struct gomm_cs_site *s = &t->sites[i];

		if (!atomic_long_read(&s->calls))
			continue;
		rows[n++] = (struct gomm_cs_row) {
			.ip = READ_ONCE(s->ip),
			.live_objs = atomic_long_read(&s->live_objs),
			.live_bytes = atomic_long_read(&s->live_bytes),
			.calls = atomic_long_read(&s->calls),
		};
		objs += rows[n - 1].live_objs;
	}
	seq_printf(m, "# callsites: on, %u sites, %ld objects recorded, %ld untracked\n",
		   n, objs, atomic_long_read(&t->untracked));
	mutex_unlock(&gomm_cs_mutex);
	sort(rows, n, sizeof(*rows), gomm_cs_row_cmp, NULL);
	seq_puts(m, "#   live_bytes    live_objs        calls call_site\n");
	for (i = 0; i < n; i++) {
		seq_printf(m, "%14ld %12ld %12ld ", rows[i].live_bytes,
			   rows[i].live_objs, rows[i].calls);
		if (rows[i].ip)
			seq_printf(m, "%pS\n", (void *)rows[i].ip);
		else
			seq_puts(m, "(other call sites)\n");
	}
	kvfree(rows);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(gomm_callsites_show);

DEFINE_SHOW_ATTRIBUTE(gomm_callsites);

/**
 * gomm_callsites_init - the debugfs file, and the switch as loaded
 * @dir: gomm's debugfs directory
 *
 * Context: module init, after the allocator is ready.  A table that
 * cannot be had leaves the accounting off, with a warning.
 */
void gomm_callsites_init(struct dentry *dir)
{
	bool on;

	debugfs_create_file("callsites", 0444, dir, NULL, &gomm_callsites_fops);
	kernel_param_lock(THIS_MODULE);
	on = gomm_cs_on;
	gomm_cs_on = false;
	WRITE_ONCE(gomm_cs_ready, true);
	kernel_param_unlock(THIS_MODULE);
	if (on && gomm_callsites_set(true))
		pr_warn("gomm: callsites=1: no memory for the table, accounting off\n");
}

/**
 * gomm_callsites_exit - switch the accounting off for good
 *
 * Context: module exit, no client left.
 */
void gomm_callsites_exit(void)
{
	gomm_callsites_set(false);
}
