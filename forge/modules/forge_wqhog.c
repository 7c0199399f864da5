// SPDX-License-Identifier: GPL-2.0
/*
 * forge_wqhog: a statistics driver with a per-CPU (bound) workqueue
 * "forge_stats". Its work item forge_stats_recalc_work, queued on CPU1, runs
 * forge_stats_recalc(), which busy-loops for `secs` seconds without ever
 * scheduling. forge_stats_report_work, queued on CPU1 behind it, cannot run;
 * the kthread forge_stflush waits for the recalc item in flush_work().
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include <linux/delay.h>

static int cpu = 1;
module_param(cpu, int, 0444);
static int secs = 120;
module_param(secs, int, 0444);

static struct workqueue_struct *forge_stats_wq;
static u64 forge_stats_hist[256];
static u64 forge_stats_acc;
static unsigned long forge_stats_reports;

static void forge_stats_recalc(struct work_struct *w)
{
	unsigned long end = jiffies + secs * HZ;
	int i;

	pr_info("forge_wqhog: forge_stats_recalc running in %s pid %d on CPU%d for %d s\n",
		current->comm, current->pid, raw_smp_processor_id(), secs);
	while (time_before(jiffies, end))
		for (i = 0; i < 256; i++)
			forge_stats_acc += READ_ONCE(forge_stats_hist[i]) * (i | 1);
}

static void forge_stats_report(struct work_struct *w)
{
	forge_stats_reports++;
	pr_info("forge_wqhog: report %lu\n", forge_stats_reports);
}

static DECLARE_WORK(forge_stats_recalc_work, forge_stats_recalc);
static DECLARE_WORK(forge_stats_report_work, forge_stats_report);

static noinline void forge_stats_wait_recalc(void)
{
	flush_work(&forge_stats_recalc_work);
	forge_stats_reports++;   /* not a tail call: keep this frame on the stack */
}

static int forge_stats_flush_fn(void *arg)
{
	msleep(500);
	pr_info("forge_wqhog: flusher pid %d waits for forge_stats_recalc_work %px\n", current->pid, &forge_stats_recalc_work);
	forge_stats_wait_recalc();
	pr_info("forge_wqhog: flusher done\n");
	return 0;
}

static int __init forge_wqhog_init(void)
{
	struct task_struct *t;

	forge_stats_wq = alloc_workqueue("forge_stats", 0, 0);
	if (!forge_stats_wq)
		return -ENOMEM;
	queue_work_on(cpu, forge_stats_wq, &forge_stats_recalc_work);
	msleep(100);
	queue_work_on(cpu, forge_stats_wq, &forge_stats_report_work);
	t = kthread_create(forge_stats_flush_fn, NULL, "forge_stflush");
	if (!IS_ERR(t)) {
		kthread_bind(t, cpu == 2 ? 3 : 2);
		wake_up_process(t);
	}
	return 0;
}
module_init(forge_wqhog_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: work item busy-loops on a bound workqueue");
