// SPDX-License-Identifier: GPL-2.0
/*
 * forge_scrub: a fake memory scrubber. Its kthread forge_scrubd (bound to
 * CPU1) disables preemption (no lock, IRQs on) and checksums a buffer in a
 * busy loop for `secs` seconds in forge_scrub_region(), never scheduling.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/preempt.h>
#include <linux/jiffies.h>
#include <linux/delay.h>

static int cpu = 1;
module_param(cpu, int, 0444);
static int secs = 100;
module_param(secs, int, 0444);

static u32 forge_scrub_buf[1024];
static u32 forge_scrub_sum;
static unsigned long forge_scrub_passes;

static noinline void forge_scrub_region(unsigned long end)
{
	int i;

	while (time_before(jiffies, end)) {
		for (i = 0; i < 1024; i++)
			forge_scrub_sum = (forge_scrub_sum << 1 | forge_scrub_sum >> 31) ^ READ_ONCE(forge_scrub_buf[i]);
		forge_scrub_passes++;
		cpu_relax();
	}
}

static int forge_scrubd_fn(void *arg)
{
	pr_info("forge_scrub: scrubd pid %d on CPU%d: preempt_disable() and scrub for %d s\n",
		current->pid, raw_smp_processor_id(), secs);
	msleep(500);
	preempt_disable();
	forge_scrub_region(jiffies + secs * HZ);
	preempt_enable();
	pr_info("forge_scrub: done, %lu passes\n", forge_scrub_passes);
	while (!kthread_should_stop())
		msleep(1000);
	return 0;
}

static int __init forge_scrub_init(void)
{
	struct task_struct *t = kthread_create(forge_scrubd_fn, NULL, "forge_scrubd");

	if (IS_ERR(t))
		return PTR_ERR(t);
	kthread_bind(t, cpu);
	wake_up_process(t);
	return 0;
}
module_init(forge_scrub_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: kthread busy-loops with preemption disabled");
