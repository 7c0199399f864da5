// SPDX-License-Identifier: GPL-2.0
/*
 * forge_crc: a fake "integrity" driver. Writing a number N to /proc/forge_crc
 * folds a table for N seconds in forge_crc_fold_table(), called from the write
 * syscall with bottom halves disabled (local_bh_disable): the writing process
 * busy-loops in kernel mode and cannot be preempted.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/bottom_half.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>

static u64 forge_crc_table[512];
static u64 forge_crc_state = 0x9e3779b97f4a7c15ULL;
static unsigned long forge_crc_rounds;

static noinline void forge_crc_fold_table(unsigned long end)
{
	int i;

	while (time_before(jiffies, end)) {
		for (i = 0; i < 512; i++)
			forge_crc_state = (forge_crc_state ^ READ_ONCE(forge_crc_table[i])) * 0x100000001b3ULL;
		forge_crc_rounds++;
	}
}

static ssize_t forge_crc_proc_write(struct file *f, const char __user *ubuf, size_t len, loff_t *off)
{
	char buf[16] = {};
	unsigned int secs = 0;

	if (copy_from_user(buf, ubuf, min(len, sizeof(buf) - 1)))
		return -EFAULT;
	if (kstrtouint(strim(buf), 10, &secs))
		return -EINVAL;
	pr_info("forge_crc: pid %d (%s) on CPU%d folds for %u s with BH disabled\n",
		current->pid, current->comm, raw_smp_processor_id(), secs);
	local_bh_disable();
	forge_crc_fold_table(jiffies + secs * HZ);
	local_bh_enable();
	return len;
}

static const struct proc_ops forge_crc_proc_ops = {
	.proc_write = forge_crc_proc_write,
};

static int __init forge_crc_init(void)
{
	proc_create("forge_crc", 0222, NULL, &forge_crc_proc_ops);
	return 0;
}
module_init(forge_crc_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: write syscall busy-loops with BH disabled");
