// SPDX-License-Identifier: GPL-2.0
/*
 * forge_blkhole: a fake block device "fhole0" (blk-mq, one hardware queue,
 * 64 MiB, reads return zeroes). It serves requests normally until the module
 * parameter `stalled` is set; from then on queue_rq (forge_blkhole_queue_rq)
 * accepts requests (blk_mq_start_request) but the "device" never completes
 * them, and the timeout handler (forge_blkhole_timeout) only logs and returns
 * BLK_EH_RESET_TIMER. Accepted requests are kept on forge_blkhole_stuck.
 */
#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/version.h>

static bool stalled;
module_param(stalled, bool, 0644);
MODULE_PARM_DESC(stalled, "1: the device stops completing requests");

struct forge_blkhole_cmd {
	struct list_head node;
	unsigned long issued;
};

struct forge_blkhole_dev {
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
	spinlock_t lock;
	struct list_head stuck;        /* requests the device swallowed */
	unsigned long completed, swallowed, timeouts;
};

static struct forge_blkhole_dev forge_blkhole;

static blk_status_t forge_blkhole_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct forge_blkhole_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct req_iterator iter;
	struct bio_vec bv;

	blk_mq_start_request(rq);
	if (READ_ONCE(stalled)) {
		cmd->issued = jiffies;
		spin_lock(&forge_blkhole.lock);
		list_add_tail(&cmd->node, &forge_blkhole.stuck);
		forge_blkhole.swallowed++;
		spin_unlock(&forge_blkhole.lock);
		return BLK_STS_OK;     /* accepted; the completion never comes */
	}
	if (req_op(rq) == REQ_OP_READ)
		rq_for_each_segment(bv, rq, iter)
			memzero_bvec(&bv);
	forge_blkhole.completed++;
	blk_mq_end_request(rq, BLK_STS_OK);
	return BLK_STS_OK;
}

static enum blk_eh_timer_return forge_blkhole_timeout(struct request *rq)
{
	struct forge_blkhole_cmd *cmd = blk_mq_rq_to_pdu(rq);

	forge_blkhole.timeouts++;
	pr_warn_ratelimited("forge_blkhole: request %px tag %d sector %llu pending for %u ms: device not responding, resetting timer\n",
			    rq, rq->tag, (unsigned long long)blk_rq_pos(rq), jiffies_to_msecs(jiffies - cmd->issued));
	return BLK_EH_RESET_TIMER;
}

static const struct blk_mq_ops forge_blkhole_mq_ops = {
	.queue_rq = forge_blkhole_queue_rq,
	.timeout = forge_blkhole_timeout,
};

static const struct block_device_operations forge_blkhole_fops = {
	.owner = THIS_MODULE,
};

static int __init forge_blkhole_init(void)
{
	struct forge_blkhole_dev *d = &forge_blkhole;
	struct gendisk *disk;
	int ret;

	spin_lock_init(&d->lock);
	INIT_LIST_HEAD(&d->stuck);
	d->tag_set.ops = &forge_blkhole_mq_ops;
	d->tag_set.nr_hw_queues = 1;
	d->tag_set.queue_depth = 16;
	d->tag_set.numa_node = NUMA_NO_NODE;
	d->tag_set.cmd_size = sizeof(struct forge_blkhole_cmd);
	d->tag_set.timeout = 5 * HZ;
	ret = blk_mq_alloc_tag_set(&d->tag_set);
	if (ret)
		return ret;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	disk = blk_mq_alloc_disk(&d->tag_set, NULL, d);
#else
	disk = blk_mq_alloc_disk(&d->tag_set, d);
#endif
	if (IS_ERR(disk))
		return PTR_ERR(disk);
	disk->fops = &forge_blkhole_fops;
	disk->private_data = d;
	strscpy(disk->disk_name, "fhole0", sizeof(disk->disk_name));
	set_capacity(disk, 64 << 11);
	d->disk = disk;
	ret = add_disk(disk);
	if (ret)
		return ret;
	pr_info("forge_blkhole: fhole0 ready, dev %px queue %px tag_set %px\n", d, disk->queue, &d->tag_set);
	return 0;
}
module_init(forge_blkhole_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: blk-mq device that stops completing requests");
