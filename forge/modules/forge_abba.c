// SPDX-License-Identifier: GPL-2.0
/*
 * forge_abba: two kthreads pinned to two CPUs. forge_abba_a takes
 * forge_lock_left (spin_lock_irqsave), forge_abba_b takes forge_lock_right;
 * once both hold theirs, each takes the other's: A in forge_abba_take_right(),
 * B in forge_abba_take_left(). Both spin forever with IRQs off (ABBA).
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>

static int cpu_a = 1, cpu_b = 2;
module_param(cpu_a, int, 0444);
module_param(cpu_b, int, 0444);

static DEFINE_SPINLOCK(forge_lock_left);
static DEFINE_SPINLOCK(forge_lock_right);
static atomic_t forge_abba_holding = ATOMIC_INIT(0);
static unsigned long forge_left_count, forge_right_count;

static noinline void forge_abba_rendezvous(void)
{
	atomic_inc(&forge_abba_holding);
	while (atomic_read(&forge_abba_holding) < 2)
		cpu_relax();
}

static noinline void forge_abba_take_right(void)
{
	unsigned long flags;

	spin_lock_irqsave(&forge_lock_right, flags);
	forge_right_count++;
	spin_unlock_irqrestore(&forge_lock_right, flags);
}

static noinline void forge_abba_take_left(void)
{
	unsigned long flags;

	spin_lock_irqsave(&forge_lock_left, flags);
	forge_left_count++;
	spin_unlock_irqrestore(&forge_lock_left, flags);
}

static int forge_abba_a_fn(void *arg)
{
	unsigned long flags;

	pr_info("forge_abba: A pid %d on CPU%d: forge_lock_left %px then forge_lock_right %px\n",
		current->pid, raw_smp_processor_id(), &forge_lock_left, &forge_lock_right);
	spin_lock_irqsave(&forge_lock_left, flags);
	forge_left_count++;
	forge_abba_rendezvous();
	forge_abba_take_right();
	spin_unlock_irqrestore(&forge_lock_left, flags);
	return 0;
}

static int forge_abba_b_fn(void *arg)
{
	unsigned long flags;

	pr_info("forge_abba: B pid %d on CPU%d: forge_lock_right %px then forge_lock_left %px\n",
		current->pid, raw_smp_processor_id(), &forge_lock_right, &forge_lock_left);
	spin_lock_irqsave(&forge_lock_right, flags);
	forge_right_count++;
	forge_abba_rendezvous();
	forge_abba_take_left();
	spin_unlock_irqrestore(&forge_lock_right, flags);
	return 0;
}

static int __init forge_abba_init(void)
{
	struct task_struct *a, *b;

	a = kthread_create(forge_abba_a_fn, NULL, "forge_abba_a");
	b = kthread_create(forge_abba_b_fn, NULL, "forge_abba_b");
	if (IS_ERR(a) || IS_ERR(b))
		return -ENOMEM;
	kthread_bind(a, cpu_a);
	kthread_bind(b, cpu_b);
	wake_up_process(a);
	wake_up_process(b);
	return 0;
}
module_init(forge_abba_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: ABBA deadlock of two spinlocks taken with IRQs off on two CPUs");
