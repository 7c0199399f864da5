// SPDX-License-Identifier: GPL-2.0
/*
 * forge_ipilock: per-CPU statistics with a global lock. forge_stsync (CPU1)
 * holds forge_stats_lock (plain spin_lock, IRQs on) and asks CPU2 to drain
 * its counters with smp_call_function_single(wait=1). forge_stcollect (CPU2)
 * is spinning on forge_stats_lock with IRQs off (spin_lock_irqsave in
 * forge_stats_collect()), so it never takes the IPI: CPU1 waits for CPU2,
 * CPU2 waits for CPU1.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/smp.h>
#include <linux/delay.h>

static int cpu_sync = 1, cpu_collect = 2;
module_param(cpu_sync, int, 0444);
module_param(cpu_collect, int, 0444);

static DEFINE_SPINLOCK(forge_stats_lock);
static unsigned long forge_stats_total, forge_stats_syncs;
static DEFINE_PER_CPU(unsigned long, forge_stats_pcpu);
static int forge_stats_sync_holding, forge_stats_collect_spinning;

static void forge_stats_drain_cpu(void *unused)
{
	forge_stats_total += this_cpu_xchg(forge_stats_pcpu, 0);
}

static noinline void forge_stats_sync_remote(int cpu)
{
	smp_call_function_single(cpu, forge_stats_drain_cpu, NULL, 1);
	forge_stats_syncs++;    /* not a tail call: keep this frame on the stack */
}

static int forge_stats_sync_fn(void *arg)
{
	pr_info("forge_ipilock: sync pid %d on CPU%d takes forge_stats_lock %px, then IPIs CPU%d\n",
		current->pid, raw_smp_processor_id(), &forge_stats_lock, cpu_collect);
	spin_lock(&forge_stats_lock);
	WRITE_ONCE(forge_stats_sync_holding, 1);
	while (!READ_ONCE(forge_stats_collect_spinning))
		cpu_relax();
	mdelay(200);    /* let the collector get into the spin loop with IRQs off */
	forge_stats_sync_remote(cpu_collect);
	spin_unlock(&forge_stats_lock);
	return 0;
}

static noinline void forge_stats_collect(void)
{
	unsigned long flags;

	WRITE_ONCE(forge_stats_collect_spinning, 1);
	spin_lock_irqsave(&forge_stats_lock, flags);
	forge_stats_total += this_cpu_xchg(forge_stats_pcpu, 0);
	spin_unlock_irqrestore(&forge_stats_lock, flags);
}

static int forge_stats_collect_fn(void *arg)
{
	pr_info("forge_ipilock: collect pid %d on CPU%d\n", current->pid, raw_smp_processor_id());
	while (!READ_ONCE(forge_stats_sync_holding))
		msleep(1);
	forge_stats_collect();
	return 0;
}

static int __init forge_ipilock_init(void)
{
	struct task_struct *s, *c;

	s = kthread_create(forge_stats_sync_fn, NULL, "forge_stsync");
	c = kthread_create(forge_stats_collect_fn, NULL, "forge_stcollect");
	if (IS_ERR(s) || IS_ERR(c))
		return -ENOMEM;
	kthread_bind(s, cpu_sync);
	kthread_bind(c, cpu_collect);
	wake_up_process(c);
	wake_up_process(s);
	return 0;
}
module_init(forge_ipilock_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: spinlock holder waits for an IPI to a CPU spinning on that lock with IRQs off");
