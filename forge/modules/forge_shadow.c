// SPDX-License-Identifier: GPL-2.0
/*
 * forge_shadow: a fake shadow page-table cache. forge_shflush (CPU3) holds
 * forge_shadow_lock and invalidates the per-CPU shadow caches of CPUs 1 and 2
 * with on_each_cpu_mask(wait=true) (smp_call_function_many_cond). The walker
 * forge_shwalk (CPU1) spins on forge_shadow_lock with IRQs off
 * (spin_lock_irq in forge_shadow_walk()), so CPU1 never runs the callback.
 * CPU2 answers; CPU3 waits for CPU1 forever; CPU1 waits for CPU3.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/smp.h>
#include <linux/cpumask.h>
#include <linux/delay.h>

static int cpu_flush = 3, cpu_walk = 1, cpu_other = 2;
module_param(cpu_flush, int, 0444);
module_param(cpu_walk, int, 0444);
module_param(cpu_other, int, 0444);

static DEFINE_SPINLOCK(forge_shadow_lock);
static DEFINE_PER_CPU(unsigned long, forge_shadow_gen);
static unsigned long forge_shadow_entries, forge_shadow_flushes;
static int forge_shadow_flush_holding, forge_shadow_walk_spinning;
static struct cpumask forge_shadow_mask;

static void forge_shadow_invalidate(void *unused)
{
	this_cpu_inc(forge_shadow_gen);
}

static noinline void forge_shadow_flush_all(void)
{
	on_each_cpu_mask(&forge_shadow_mask, forge_shadow_invalidate, NULL, true);
	forge_shadow_flushes++;  /* not a tail call: keep this frame on the stack */
}

static int forge_shadow_flush_fn(void *arg)
{
	pr_info("forge_shadow: flush pid %d on CPU%d holds forge_shadow_lock %px, invalidating CPUs %*pbl\n",
		current->pid, raw_smp_processor_id(), &forge_shadow_lock, cpumask_pr_args(&forge_shadow_mask));
	spin_lock(&forge_shadow_lock);
	WRITE_ONCE(forge_shadow_flush_holding, 1);
	while (!READ_ONCE(forge_shadow_walk_spinning))
		cpu_relax();
	mdelay(200);
	forge_shadow_entries = 0;
	forge_shadow_flush_all();
	spin_unlock(&forge_shadow_lock);
	return 0;
}

static noinline unsigned long forge_shadow_walk(void)
{
	unsigned long n;

	WRITE_ONCE(forge_shadow_walk_spinning, 1);
	spin_lock_irq(&forge_shadow_lock);
	n = forge_shadow_entries++;
	spin_unlock_irq(&forge_shadow_lock);
	return n;
}

static int forge_shadow_walk_fn(void *arg)
{
	pr_info("forge_shadow: walk pid %d on CPU%d\n", current->pid, raw_smp_processor_id());
	while (!READ_ONCE(forge_shadow_flush_holding))
		msleep(1);
	forge_shadow_walk();
	return 0;
}

static int __init forge_shadow_init(void)
{
	struct task_struct *f, *w;

	cpumask_clear(&forge_shadow_mask);
	cpumask_set_cpu(cpu_walk, &forge_shadow_mask);
	cpumask_set_cpu(cpu_other, &forge_shadow_mask);
	f = kthread_create(forge_shadow_flush_fn, NULL, "forge_shflush");
	w = kthread_create(forge_shadow_walk_fn, NULL, "forge_shwalk");
	if (IS_ERR(f) || IS_ERR(w))
		return -ENOMEM;
	kthread_bind(f, cpu_flush);
	kthread_bind(w, cpu_walk);
	wake_up_process(w);
	wake_up_process(f);
	return 0;
}
module_init(forge_shadow_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: spinlock holder waits in on_each_cpu_mask for a CPU spinning on that lock with IRQs off");
