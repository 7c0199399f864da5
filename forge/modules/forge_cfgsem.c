// SPDX-License-Identifier: GPL-2.0
/*
 * forge_cfgsem: a fake "configuration store". The commit thread takes the
 * store's rw_semaphore for write and then waits for an acknowledgement from a
 * peer (a completion) that is never delivered: the holder sleeps forever with
 * the rwsem held. Readers (two kthreads and any reader of /proc/forge_cfg) and
 * a second writer (forge_cfgapply) block on the rwsem.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/rwsem.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

struct forge_cfg_entry { int key; int val; };

static DECLARE_RWSEM(forge_cfg_sem);
static DECLARE_COMPLETION(forge_cfg_peer_ack);     /* nobody ever completes it */
static DECLARE_COMPLETION(forge_cfg_locked);       /* internal: commit thread holds the sem */
static struct forge_cfg_entry forge_cfg_table[16];
static unsigned long forge_cfg_generation;

/* Wait until the peer acknowledged the new generation. BUG: the peer is gone. */
static noinline void forge_cfg_wait_peer_ack(void)
{
	wait_for_completion(&forge_cfg_peer_ack);
	forge_cfg_generation++;   /* not a tail call: keep this frame on the stack */
}

static int forge_cfg_commit_thread(void *arg)
{
	down_write(&forge_cfg_sem);
	forge_cfg_generation++;
	pr_info("forge_cfgsem: commit pid %d holds forge_cfg_sem %px for write, waiting for forge_cfg_peer_ack %px\n",
		current->pid, &forge_cfg_sem, &forge_cfg_peer_ack);
	complete(&forge_cfg_locked);
	forge_cfg_wait_peer_ack();
	up_write(&forge_cfg_sem);
	return 0;
}

static noinline int forge_cfg_lookup(int key)
{
	int v;

	down_read(&forge_cfg_sem);
	v = forge_cfg_table[key & 15].val;
	up_read(&forge_cfg_sem);
	return v;
}

static int forge_cfg_reader_thread(void *arg)
{
	long id = (long)arg;

	while (!kthread_should_stop()) {
		forge_cfg_lookup(id);
		msleep(100);
	}
	return 0;
}

static noinline void forge_cfg_apply_defaults(void)
{
	int i;

	down_write(&forge_cfg_sem);
	for (i = 0; i < 16; i++)
		forge_cfg_table[i].key = i;
	forge_cfg_generation++;
	up_write(&forge_cfg_sem);
}

static int forge_cfg_apply_thread(void *arg)
{
	while (!kthread_should_stop()) {
		forge_cfg_apply_defaults();
		msleep(200);
	}
	return 0;
}

static int forge_cfg_proc_show(struct seq_file *m, void *v)
{
	down_read(&forge_cfg_sem);
	seq_printf(m, "generation %lu\n", forge_cfg_generation);
	up_read(&forge_cfg_sem);
	return 0;
}

static int forge_cfg_proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, forge_cfg_proc_show, NULL);
}

static const struct proc_ops forge_cfg_proc_ops = {
	.proc_open = forge_cfg_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int __init forge_cfgsem_init(void)
{
	struct task_struct *t;
	long i;

	proc_create("forge_cfg", 0444, NULL, &forge_cfg_proc_ops);
	t = kthread_run(forge_cfg_commit_thread, NULL, "forge_cfgcommit");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&forge_cfg_locked);
	for (i = 0; i < 2; i++)
		kthread_run(forge_cfg_reader_thread, (void *)i, "forge_cfgrd/%ld", i);
	kthread_run(forge_cfg_apply_thread, NULL, "forge_cfgapply");
	return 0;
}
module_init(forge_cfgsem_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: rwsem held for write by a thread sleeping on a completion nobody completes");
