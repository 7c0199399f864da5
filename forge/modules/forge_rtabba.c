// SPDX-License-Identifier: GPL-2.0
/*
 * forge_rtabba: two bookkeeping threads take two mutexes in opposite order.
 * forge_post: forge_acct_mutex, then forge_ledger_mutex (forge_post_to_ledger);
 * forge_reconcile: forge_ledger_mutex, then forge_acct_mutex (forge_reconcile_acct).
 * forge_audit then blocks on forge_acct_mutex behind them.
 * On PREEMPT_RT struct mutex is an rt_mutex (priority inheritance).
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/delay.h>
#include <linux/atomic.h>

static DEFINE_MUTEX(forge_acct_mutex);
static DEFINE_MUTEX(forge_ledger_mutex);
static atomic_t forge_rt_holders = ATOMIC_INIT(0);
static long forge_acct_balance, forge_ledger_total;

static noinline void forge_rt_wait_other(void)
{
	atomic_inc(&forge_rt_holders);
	while (atomic_read(&forge_rt_holders) < 2)
		msleep(10);
}

static noinline void forge_post_to_ledger(long amount)
{
	mutex_lock(&forge_ledger_mutex);
	forge_ledger_total += amount;
	mutex_unlock(&forge_ledger_mutex);
}

static noinline void forge_reconcile_acct(void)
{
	mutex_lock(&forge_acct_mutex);
	forge_acct_balance = forge_ledger_total;
	mutex_unlock(&forge_acct_mutex);
}

static noinline void forge_audit_scan(void)
{
	mutex_lock(&forge_acct_mutex);
	pr_info("forge_rtabba: audit balance %ld\n", forge_acct_balance);
	mutex_unlock(&forge_acct_mutex);
}

static int forge_post_fn(void *arg)
{
	pr_info("forge_rtabba: post pid %d: forge_acct_mutex %px then forge_ledger_mutex %px\n",
		current->pid, &forge_acct_mutex, &forge_ledger_mutex);
	mutex_lock(&forge_acct_mutex);
	forge_acct_balance -= 100;
	forge_rt_wait_other();
	forge_post_to_ledger(100);
	mutex_unlock(&forge_acct_mutex);
	return 0;
}

static int forge_reconcile_fn(void *arg)
{
	pr_info("forge_rtabba: reconcile pid %d: forge_ledger_mutex then forge_acct_mutex\n", current->pid);
	mutex_lock(&forge_ledger_mutex);
	forge_rt_wait_other();
	forge_reconcile_acct();
	mutex_unlock(&forge_ledger_mutex);
	return 0;
}

static int forge_audit_fn(void *arg)
{
	while (atomic_read(&forge_rt_holders) < 2)
		msleep(10);
	msleep(500);
	pr_info("forge_rtabba: audit pid %d scanning\n", current->pid);
	forge_audit_scan();
	return 0;
}

static int __init forge_rtabba_init(void)
{
	kthread_run(forge_post_fn, NULL, "forge_post");
	kthread_run(forge_reconcile_fn, NULL, "forge_reconcile");
	kthread_run(forge_audit_fn, NULL, "forge_audit");
	return 0;
}
module_init(forge_rtabba_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: ABBA deadlock on two struct mutex (rt_mutex on PREEMPT_RT)");
