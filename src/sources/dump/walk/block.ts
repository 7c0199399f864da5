/**
 * Block devices and the requests they have not completed: every whole disk (the block-device inodes of
 * `blockdev_superblock`, `bdev == disk->part0`), its driver (the module of `disk->fops`), and the blk-mq requests in
 * flight on it (each hardware queue's `tags->rqs[]` whose `state` is MQ_RQ_IN_FLIGHT and whose `q` is the disk's),
 * with the start time of the oldest. Walks are bounded; a damaged list or table ends with a note.
 */
import { attempt } from '../kernel/errors.ts';
import type { Kernel } from '../kernel/value.ts';

export interface DiskInFlight {
  name: string;
  disk: bigint;
  queue: bigint;
  /** The module of the disk's block_device_operations, when it is a module. */
  fops: bigint;
  inFlight: number;
  requests: bigint[];
  /** ktime (ns) at which the oldest in-flight request started. */
  oldestStartNs?: bigint;
}

const MQ_RQ_IN_FLIGHT = 1n;

/** Whole disks with blk-mq requests in flight. */
export function disksInFlight(k: Kernel, addressOf: (name: string) => bigint | undefined): { disks: DiskInFlight[]; notes: string[] } {
  const notes: string[] = [];
  const disks: DiskInFlight[] = [];
  const sbp = addressOf('blockdev_superblock');
  if (sbp === undefined) return { disks, notes: ['no blockdev_superblock symbol: block devices not read'] };
  const r = attempt(() => {
    const u64 = (a: bigint) => k.read(a, 8, 'pointer').readBigUInt64LE(0);
    const sb = u64(sbp);
    const head = k.value(sb, 'struct super_block').member('s_inodes').address;
    const sbListOff = BigInt(k.type('struct inode').offsetOf('i_sb_list'));
    const vfsOff = BigInt(k.type('struct bdev_inode').offsetOf('vfs_inode'));
    const seen = new Set<bigint>();
    let p = u64(head);
    for (let n = 0; p !== head && n < 65536; n++) {
      const inode = p - sbListOff;
      p = u64(p);
      const bdev = inode - vfsOff;
      const one = attempt(() => {
        const bv = k.value(bdev, 'struct block_device');
        const disk = bv.member('bd_disk').pointer();
        if (disk === 0n || seen.has(disk)) return undefined;
        const dv = k.value(disk, 'struct gendisk');
        if (dv.member('part0').pointer() !== bdev) return undefined; // a partition
        seen.add(disk);
        const name = dv.member('disk_name').string(32);
        const queue = dv.member('queue').pointer();
        const fops = dv.member('fops').pointer();
        if (queue === 0n) return undefined;
        const qv = k.value(queue, 'struct request_queue');
        const set = qv.member('tag_set').pointer();
        if (set === 0n) return { name, disk, queue, fops, inFlight: 0, requests: [] };
        const sv = k.value(set, 'struct blk_mq_tag_set');
        const nrHw = Math.min(sv.member('nr_hw_queues').number(), 256);
        const tagsArr = sv.member('tags').pointer();
        const requests: bigint[] = [];
        let oldest: bigint | undefined;
        for (let h = 0; h < nrHw && tagsArr !== 0n; h++) {
          const tags = u64(tagsArr + BigInt(h * 8));
          if (tags === 0n) continue;
          const tv = k.value(tags, 'struct blk_mq_tags');
          const nr = Math.min(tv.member('nr_tags').number(), 16384);
          const rqs = tv.member('rqs').pointer();
          if (rqs === 0n) continue;
          const table = k.read(rqs, nr * 8, 'tags->rqs');
          for (let i = 0; i < nr; i++) {
            const rq = table.readBigUInt64LE(i * 8);
            if (rq === 0n) continue;
            const st = attempt(() => {
              const rv = k.value(rq, 'struct request');
              return { q: rv.member('q').pointer(), state: rv.member('state').int(), start: rv.member('start_time_ns').int() };
            });
            if (!st.ok || st.value.q !== queue || st.value.state !== MQ_RQ_IN_FLIGHT) continue;
            requests.push(rq);
            if (oldest === undefined || st.value.start < oldest) oldest = st.value.start;
          }
        }
        return { name, disk, queue, fops, inFlight: requests.length, requests, ...(oldest !== undefined ? { oldestStartNs: oldest } : {}) };
      });
      if (one.ok && one.value) disks.push(one.value);
    }
  });
  if (!r.ok) notes.push(`block devices: ${r.unknown}`);
  return { disks, notes };
}
