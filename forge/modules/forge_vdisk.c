// SPDX-License-Identifier: GPL-2.0
/*
 * forge_vdisk: a RAM-backed blk-mq disk "fvdisk0" (32 MiB) standing in for a
 * storage controller. After `hang` is set (/sys/module/forge_vdisk/parameters/hang)
 * the controller "loses" every request: forge_vdisk_submit() keeps it on
 * forge_vdisk_lost and never completes it; forge_vdisk_timed_out() returns
 * BLK_EH_DONE (the driver claims it will complete the request itself, which
 * it never does).
 */
#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/vmalloc.h>
#include <linux/version.h>

static bool hang;
module_param(hang, bool, 0644);

#define FORGE_VDISK_BYTES (32UL << 20)

struct forge_vdisk_io {
	struct list_head lost_node;
	unsigned long started;
};

static struct blk_mq_tag_set forge_vdisk_tags;
static struct gendisk *forge_vdisk_disk;
static u8 *forge_vdisk_store;
static DEFINE_SPINLOCK(forge_vdisk_lost_lock);
static LIST_HEAD(forge_vdisk_lost);
static unsigned long forge_vdisk_nr_lost, forge_vdisk_nr_done, forge_vdisk_nr_timeouts;

static noinline void forge_vdisk_lose(struct request *rq)
{
	struct forge_vdisk_io *io = blk_mq_rq_to_pdu(rq);

	io->started = jiffies;
	spin_lock(&forge_vdisk_lost_lock);
	list_add_tail(&io->lost_node, &forge_vdisk_lost);
	forge_vdisk_nr_lost++;
	spin_unlock(&forge_vdisk_lost_lock);
}

static blk_status_t forge_vdisk_submit(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	loff_t pos = (loff_t)blk_rq_pos(rq) << SECTOR_SHIFT;
	struct req_iterator iter;
	struct bio_vec bv;

	blk_mq_start_request(rq);
	if (READ_ONCE(hang)) {
		forge_vdisk_lose(rq);
		return BLK_STS_OK;
	}
	rq_for_each_segment(bv, rq, iter) {
		if (pos + bv.bv_len > FORGE_VDISK_BYTES)
			break;
		if (req_op(rq) == REQ_OP_READ)
			memcpy_to_bvec(&bv, forge_vdisk_store + pos);
		else if (req_op(rq) == REQ_OP_WRITE)
			memcpy_from_bvec(forge_vdisk_store + pos, &bv);
		pos += bv.bv_len;
	}
	forge_vdisk_nr_done++;
	blk_mq_end_request(rq, BLK_STS_OK);
	return BLK_STS_OK;
}

static enum blk_eh_timer_return forge_vdisk_timed_out(struct request *rq)
{
	forge_vdisk_nr_timeouts++;
	pr_err_ratelimited("forge_vdisk: fvdisk0: I/O tag %d (op %d, sector %llu) timed out, controller will complete it\n",
			   rq->tag, req_op(rq), (unsigned long long)blk_rq_pos(rq));
	return BLK_EH_DONE;
}

static const struct blk_mq_ops forge_vdisk_ops = {
	.queue_rq = forge_vdisk_submit,
	.timeout = forge_vdisk_timed_out,
};

static const struct block_device_operations forge_vdisk_fops = {
	.owner = THIS_MODULE,
};

static int __init forge_vdisk_init(void)
{
	struct gendisk *disk;
	int ret;

	forge_vdisk_store = vzalloc(FORGE_VDISK_BYTES);
	if (!forge_vdisk_store)
		return -ENOMEM;
	forge_vdisk_tags.ops = &forge_vdisk_ops;
	forge_vdisk_tags.nr_hw_queues = 1;
	forge_vdisk_tags.queue_depth = 32;
	forge_vdisk_tags.numa_node = NUMA_NO_NODE;
	forge_vdisk_tags.cmd_size = sizeof(struct forge_vdisk_io);
	forge_vdisk_tags.timeout = 8 * HZ;
	ret = blk_mq_alloc_tag_set(&forge_vdisk_tags);
	if (ret)
		return ret;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	disk = blk_mq_alloc_disk(&forge_vdisk_tags, NULL, NULL);
#else
	disk = blk_mq_alloc_disk(&forge_vdisk_tags, NULL);
#endif
	if (IS_ERR(disk))
		return PTR_ERR(disk);
	disk->fops = &forge_vdisk_fops;
	strscpy(disk->disk_name, "fvdisk0", sizeof(disk->disk_name));
	set_capacity(disk, FORGE_VDISK_BYTES >> SECTOR_SHIFT);
	forge_vdisk_disk = disk;
	ret = add_disk(disk);
	if (ret)
		return ret;
	pr_info("forge_vdisk: fvdisk0 ready, gendisk %px queue %px tags %px\n", disk, disk->queue, &forge_vdisk_tags);
	return 0;
}
module_init(forge_vdisk_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("forge: RAM disk whose controller stops completing requests");
