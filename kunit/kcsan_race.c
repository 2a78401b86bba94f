// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_kcsan_race: make kcsan's negative control.  Two kthreads on two
 * CPUs write and read one plain variable for RACE_MS, a data race KCSAN
 * must report ("BUG: KCSAN: data-race in ..."); scripts/kcsan loads it
 * inside an "expect-splat on kcsan" bracket, after gomm's own runs, and a
 * boot without that report fails.  Nothing of gomm is used: it shows that
 * the detector and the harness see a race, so that "no report" from gomm's
 * runs means something.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>

#define RACE_MS	2000

static unsigned long gomm_kcsan_racy;	/* written and read without a lock */
static struct completion gomm_kcsan_done[2];

static int gomm_kcsan_thread(void *arg)
{
	unsigned long end = jiffies + msecs_to_jiffies(RACE_MS), sum = 0;
	long me = (long)arg;

	while (time_before(jiffies, end)) {
		if (me)
			gomm_kcsan_racy++;		/* the race, on purpose */
		else
			sum += gomm_kcsan_racy;	/* and its other side */
		cpu_relax();
	}
	pr_info("gomm_kcsan_race: thread %ld done (%lu)\n", me, sum);
	complete(&gomm_kcsan_done[me]);
	return 0;
}

static int __init gomm_kcsan_race_init(void)
{
	struct task_struct *t[2];
	long i;

	if (num_online_cpus() < 2)
		return -ENODEV;
	for (i = 0; i < 2; i++) {
		init_completion(&gomm_kcsan_done[i]);
		t[i] = kthread_create(gomm_kcsan_thread, (void *)i, "gomm_kcsan/%ld", i);
		if (IS_ERR(t[i])) {
			if (i)
				kthread_stop(t[0]);	/* never woken: does not run */
			return PTR_ERR(t[i]);
		}
		kthread_bind(t[i], cpumask_nth(i, cpu_online_mask));
	}
	for (i = 0; i < 2; i++)
		wake_up_process(t[i]);
	for (i = 0; i < 2; i++)
		wait_for_completion(&gomm_kcsan_done[i]);
	return 0;
}

static void __exit gomm_kcsan_race_exit(void)
{
}

module_init(gomm_kcsan_race_init);
module_exit(gomm_kcsan_race_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gomm: a deliberate data race, make kcsan's negative control");
