// SPDX-License-Identifier: GPL-2.0
/*
 * forge_cmdq: a fake firmware command queue on an ordered workqueue
 * "forge_cmdq". The first command, forge_cmd_submit_work (forge_cmd_submit),
 * waits for the firmware's acknowledgement (completion forge_cmd_fw_ack),
 * which never comes. forge_cmd_cleanup_work and forge_cmd_stats_work are
 * queued behind it and never run. forge_cmdsync waits in flush_work() for the
 * cleanup item; writers of /proc/forge_cmdq wait in flush_workqueue().
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/proc_fs.h>

static struct workqueue_struct *forge_cmdq_wq;
static DECLARE_COMPLETION(forge_cmd_fw_ack);   /* the firmware never acknowledges */
static unsigned long forge_cmd_done;

static noinline void forge_cmd_wait_fw(void)
{
	wait_for_completion(&forge_cmd_fw_ack);
	forge_cmd_done++;   /* not a tail call: keep this frame on the stack */
}

static void forge_cmd_submit(struct work_struct *w)
{
	pr_info("forge_cmdq: forge_cmd_submit in %s pid %d waits for forge_cmd_fw_ack %px\n",
		current->comm, current->pid, &forge_cmd_fw_ack);
	forge_cmd_wait_fw();
	forge_cmd_done++;
}

static void forge_cmd_cleanup(struct work_struct *w)
{
	forge_cmd_done++;
}

static void forge_cmd_stats(struct work_struct *w)
{
	forge_cmd_done++;
}

static DECLARE_WORK(forge_cmd_submit_work, forge_cmd_submit);
static DECLARE_WORK(forge_cmd_cleanup_work, forge_cmd_cleanup);
static DECLARE_WORK(forge_cmd_stats_work, forge_cmd_stats);

static noinline void forge_cmd_sync_cleanup(void)
{
	flush_work(&forge_cmd_cleanup_work);
	forge_cmd_done++;   /* not a tail call */
}

static int forge_cmd_sync_fn(void *arg)
{
	msleep(300);
	pr_info("forge_cmdq: sync pid %d flushes forge_cmd_cleanup_work %px\n", current->pid, &forge_cmd_cleanup_work);
	forge_cmd_sync_cleanup();
	return 0;
}

static ssize_t forge_cmdq_proc_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	flush_workqueue(forge_cmdq_wq);
	return len;
}

static const struct proc_ops forge_cmdq_proc_ops = {
	.proc_write = forge_cmdq_proc_write,
};

static int __init forge_cmdq_init(void)
{
	forge_cmdq_wq = alloc_ordered_workqueue("forge_cmdq", 0);
	if (!forge_cmdq_wq)
		return -ENOMEM;
	proc_create("forge_cmdq", 0222, NULL, &forge_cmdq_proc_ops);
	pr_info("forge_cmdq: workqueue %px\n", forge_cmdq_wq);
	queue_work(forge_cmdq_wq, &forge_cmd_submit_work);
	queue_work(forge_cmdq_wq, &forge_cmd_cleanup_work);
	queue_work(forge_cmdq_wq, &forge_cmd_stats_work);
	kthread_run(forge_cmd_sync_fn, NULL, "forge_cmdsync");
	return 0;
}
module_init(forge_cmdq_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: ordered workqueue blocked by a work item waiting forever");
