// SPDX-License-Identifier: GPL-2.0
/*
 * forge_rtspin: a fake NIC with an RX and a TX queue lock (spinlock_t, which
 * are sleeping rtmutex-based locks on PREEMPT_RT). forge_rxpoll (CPU1) holds
 * forge_rxq_lock and takes forge_txq_lock in forge_rx_refill_tx();
 * forge_txdone (CPU2) holds forge_txq_lock and takes forge_rxq_lock in
 * forge_tx_reclaim_rx(). Readers of /proc/forge_rtq take forge_rxq_lock.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static DEFINE_SPINLOCK(forge_rxq_lock);
static DEFINE_SPINLOCK(forge_txq_lock);
static atomic_t forge_q_holders = ATOMIC_INIT(0);
static unsigned long forge_rx_pkts, forge_tx_pkts;

static noinline void forge_q_rendezvous(void)
{
	atomic_inc(&forge_q_holders);
	while (atomic_read(&forge_q_holders) < 2)
		cpu_relax();
}

static noinline void forge_rx_refill_tx(void)
{
	spin_lock(&forge_txq_lock);
	forge_tx_pkts++;
	spin_unlock(&forge_txq_lock);
}

static noinline void forge_tx_reclaim_rx(void)
{
	spin_lock(&forge_rxq_lock);
	forge_rx_pkts++;
	spin_unlock(&forge_rxq_lock);
}

static int forge_rxpoll_fn(void *arg)
{
	pr_info("forge_rtspin: rxpoll pid %d on CPU%d: forge_rxq_lock %px then forge_txq_lock %px\n",
		current->pid, raw_smp_processor_id(), &forge_rxq_lock, &forge_txq_lock);
	spin_lock(&forge_rxq_lock);
	forge_rx_pkts++;
	forge_q_rendezvous();
	forge_rx_refill_tx();
	spin_unlock(&forge_rxq_lock);
	return 0;
}

static int forge_txdone_fn(void *arg)
{
	pr_info("forge_rtspin: txdone pid %d on CPU%d: forge_txq_lock then forge_rxq_lock\n",
		current->pid, raw_smp_processor_id());
	spin_lock(&forge_txq_lock);
	forge_tx_pkts++;
	forge_q_rendezvous();
	forge_tx_reclaim_rx();
	spin_unlock(&forge_txq_lock);
	return 0;
}

static int forge_rtq_show(struct seq_file *m, void *v)
{
	spin_lock(&forge_rxq_lock);
	seq_printf(m, "rx %lu\n", forge_rx_pkts);
	spin_unlock(&forge_rxq_lock);
	return 0;
}

static int forge_rtq_open(struct inode *inode, struct file *file)
{
	return single_open(file, forge_rtq_show, NULL);
}

static const struct proc_ops forge_rtq_proc_ops = {
	.proc_open = forge_rtq_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int __init forge_rtspin_init(void)
{
	struct task_struct *rx, *tx;

	proc_create("forge_rtq", 0444, NULL, &forge_rtq_proc_ops);
	rx = kthread_create(forge_rxpoll_fn, NULL, "forge_rxpoll");
	tx = kthread_create(forge_txdone_fn, NULL, "forge_txdone");
	if (IS_ERR(rx) || IS_ERR(tx))
		return -ENOMEM;
	kthread_bind(rx, 1);
	kthread_bind(tx, 2);
	wake_up_process(rx);
	wake_up_process(tx);
	return 0;
}
module_init(forge_rtspin_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: ABBA deadlock on two spinlock_t (sleeping locks on PREEMPT_RT)");
