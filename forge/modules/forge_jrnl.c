// SPDX-License-Identifier: GPL-2.0
/*
 * forge_jrnl: a fake journal. The commit thread takes forge_jrnl_mutex and then
 * waits (wait_event, uninterruptible) on forge_jrnl_commit_wq for the "device
 * flushed" flag, which nobody ever sets and nobody ever wakes the queue for.
 * Appender kthreads and writers of /proc/forge_jrnl block in mutex_lock().
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/delay.h>
#include <linux/proc_fs.h>

static DEFINE_MUTEX(forge_jrnl_mutex);
static DECLARE_WAIT_QUEUE_HEAD(forge_jrnl_commit_wq);
static DECLARE_COMPLETION(forge_jrnl_locked);
static int forge_jrnl_flushed;           /* never set */
static unsigned long forge_jrnl_seq, forge_jrnl_records;

/* Wait for the device flush of this commit block. BUG: the flush never happens. */
static noinline void forge_jrnl_wait_flush(void)
{
	wait_event(forge_jrnl_commit_wq, READ_ONCE(forge_jrnl_flushed));
}

static int forge_jrnl_commit_thread(void *arg)
{
	mutex_lock(&forge_jrnl_mutex);
	forge_jrnl_seq++;
	pr_info("forge_jrnl: commit pid %d holds forge_jrnl_mutex %px, waiting on forge_jrnl_commit_wq %px\n",
		current->pid, &forge_jrnl_mutex, &forge_jrnl_commit_wq);
	complete(&forge_jrnl_locked);
	forge_jrnl_wait_flush();
	mutex_unlock(&forge_jrnl_mutex);
	return 0;
}

static noinline void forge_jrnl_append(long len)
{
	mutex_lock(&forge_jrnl_mutex);
	forge_jrnl_records += len;
	mutex_unlock(&forge_jrnl_mutex);
}

static int forge_jrnl_appender_thread(void *arg)
{
	while (!kthread_should_stop()) {
		forge_jrnl_append((long)arg + 1);
		msleep(50);
	}
	return 0;
}

static ssize_t forge_jrnl_proc_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	forge_jrnl_append(len);
	return len;
}

static const struct proc_ops forge_jrnl_proc_ops = {
	.proc_write = forge_jrnl_proc_write,
};

static int __init forge_jrnl_init(void)
{
	struct task_struct *t;
	long i;

	proc_create("forge_jrnl", 0222, NULL, &forge_jrnl_proc_ops);
	t = kthread_run(forge_jrnl_commit_thread, NULL, "forge_jcommit");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&forge_jrnl_locked);
	for (i = 0; i < 3; i++)
		kthread_run(forge_jrnl_appender_thread, (void *)i, "forge_jappend/%ld", i);
	return 0;
}
module_init(forge_jrnl_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: mutex held by a thread in wait_event() on a queue nobody wakes");
