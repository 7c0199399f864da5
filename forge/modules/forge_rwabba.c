// SPDX-License-Identifier: GPL-2.0
/*
 * forge_rwabba: a fake routing table with two rwlocks. forge_route_upd (CPU2)
 * write-locks forge_route_lock (write_lock_irq) and then read-locks
 * forge_neigh_lock in forge_route_link_neigh(); forge_neigh_gc (CPU3)
 * write-locks forge_neigh_lock (write_lock_irq) and then write-locks
 * forge_route_lock in forge_neigh_unlink_route(). ABBA with IRQs off.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>

static int cpu_upd = 2, cpu_gc = 3;
module_param(cpu_upd, int, 0444);
module_param(cpu_gc, int, 0444);

static DEFINE_RWLOCK(forge_route_lock);
static DEFINE_RWLOCK(forge_neigh_lock);
static atomic_t forge_rw_inside = ATOMIC_INIT(0);
static unsigned long forge_routes, forge_neighs;

static noinline void forge_rw_wait_peer(void)
{
	atomic_inc(&forge_rw_inside);
	while (atomic_read(&forge_rw_inside) < 2)
		cpu_relax();
}

static noinline unsigned long forge_route_link_neigh(void)
{
	unsigned long n;

	read_lock(&forge_neigh_lock);
	n = forge_neighs;
	read_unlock(&forge_neigh_lock);
	return n;
}

static noinline void forge_neigh_unlink_route(void)
{
	write_lock(&forge_route_lock);
	forge_routes--;
	write_unlock(&forge_route_lock);
}

static int forge_route_upd_fn(void *arg)
{
	pr_info("forge_rwabba: route_upd pid %d on CPU%d: write forge_route_lock %px, then read forge_neigh_lock %px\n",
		current->pid, raw_smp_processor_id(), &forge_route_lock, &forge_neigh_lock);
	write_lock_irq(&forge_route_lock);
	forge_routes++;
	forge_rw_wait_peer();
	forge_routes += forge_route_link_neigh();
	write_unlock_irq(&forge_route_lock);
	return 0;
}

static int forge_neigh_gc_fn(void *arg)
{
	pr_info("forge_rwabba: neigh_gc pid %d on CPU%d: write forge_neigh_lock %px, then write forge_route_lock %px\n",
		current->pid, raw_smp_processor_id(), &forge_neigh_lock, &forge_route_lock);
	write_lock_irq(&forge_neigh_lock);
	forge_neighs++;
	forge_rw_wait_peer();
	forge_neigh_unlink_route();
	write_unlock_irq(&forge_neigh_lock);
	return 0;
}

static int __init forge_rwabba_init(void)
{
	struct task_struct *u, *g;

	u = kthread_create(forge_route_upd_fn, NULL, "forge_route_upd");
	g = kthread_create(forge_neigh_gc_fn, NULL, "forge_neigh_gc");
	if (IS_ERR(u) || IS_ERR(g))
		return -ENOMEM;
	kthread_bind(u, cpu_upd);
	kthread_bind(g, cpu_gc);
	wake_up_process(u);
	wake_up_process(g);
	return 0;
}
module_init(forge_rwabba_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: ABBA deadlock of two rwlocks (write_lock_irq) on two CPUs");
