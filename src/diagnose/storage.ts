/**
 * Storage failures: I/O errors and command timeouts on a device, filesystems that give up after them (journal
 * aborted, remounted read-only, shut down), and tasks that hang waiting for I/O. The device is a node of the
 * wait-for graph: a filesystem's errors are caused by errors on the device below it, a stacked device's (dm, md,
 * bcache) by the one physical device that failed, and tasks blocked in I/O wait for it.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { eventFact, eventNode, finding, taskNode, type DetectorContext } from './context.ts';
import { taskWait } from './waits.ts';
import { isUnknown } from '../model/queries.ts';
import { sleepNode } from './sleep-objects.ts';

/** Devices built on others: their errors usually come from the device below. */
const STACKED = /^(dm-\d+|md\d+|bcache\d+|loop\d+|nbd\d+|drbd\d+|rbd\d+|zram\d+)$/;
/** Network interfaces (their errors take down network storage above them). */
const NETDEV = /^(eth\d+|en[a-z0-9]+|wl[a-z0-9]+|ib[a-z0-9]+|bond\d+|br\d+)$/;
/** Functions of a task blocked on a filesystem's I/O (journal commits, buffer and page writeback). */
const IO_PATH = /^(jbd2_|__jbd2_|ext4_|xfs_|btrfs_|wait_on_buffer|__wait_on_buffer|sync_dirty_buffer|submit_bio_wait|blkdev_issue_flush|folio_wait_writeback|wait_on_page_writeback|filemap_fdatawait|__filemap_fdatawait|io_schedule|blk_mq_get_tag|nvme_|scsi_)/;

function devNode(disk: string): string {
  return `dev:${disk}`;
}

export function storageDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const io = ctx.c.events.filter((e) => e.kind === 'io-error');
  const fsEvents = ctx.c.events.filter((e) => e.kind === 'fs-error' || (e.kind === 'io-error' && e.details.fsType));
  if (!io.length && !fsEvents.length) return out;

  // Devices with I/O errors, and the events that name them.
  const byDisk = new Map<string, LogEvent[]>();
  for (const e of io) {
    const disk = e.details.device ?? 'an unknown device';
    byDisk.set(disk, [...(byDisk.get(disk) ?? []), e]);
  }
  const physical = [...byDisk.keys()].filter((d) => !STACKED.test(d) && !d.startsWith('nfs:'));
  const netdevs = physical.filter((d) => NETDEV.test(d));
  for (const [disk, evs] of byDisk) {
    const lines = evs.reduce((n, e) => n + (e.details.count ?? 1), 0);
    const printed = [...new Set(evs.flatMap((e) => e.details.devices ?? []))].filter((d) => d !== disk).slice(0, 6);
    const timeouts = evs.some((e) => /tim(?:ing|ed)? ?out|timeout|no usable path|reset|hang/i.test(e.title));
    const f = finding(ctx, 'io-error', 'root', `${timeouts ? 'I/O errors and timeouts' : 'I/O errors'} on ${disk}${printed.length ? ` (${printed.join(', ')})` : ''}: ${lines} line(s) from line ${evs[0].line}, first "${evs[0].title}"`, {
      confidence: 0.85,
      subjects: evs.map((e) => ({ kind: 'event' as const, id: e.id })),
      evidence: evs.slice(0, 5).map((e) => eventFact(e)),
      steps: [
        `The kernel reported ${timeouts ? 'failed or timed-out commands' : 'failed I/O'} on ${disk}: ${evs.slice(0, 3).map((e) => `"${e.title}"`).join(', ')}.`,
        'A device that fails or stops completing commands takes down everything above it: filesystems abort their journals or go read-only, and tasks waiting for its I/O hang.',
        STACKED.test(disk) ? `${disk} is a stacked device (device-mapper, md, bcache...): its errors come from a device below it.` : 'Check the device itself: its SMART/health log, the controller and its firmware, cabling or the fabric path.',
      ],
      confirm: [`dmesg | grep -E '${disk}|I/O error|timeout'`, `smartctl -a /dev/${disk}   # or nvme smart-log`, 'lsblk -s   # which devices are stacked on which'],
      extra: { device: disk, devices: [...new Set(evs.flatMap((e) => e.details.devices ?? []))], lines },
      nodes: [devNode(disk)],
    });
    ctx.node(devNode(disk), 'device', `device ${disk}`, f.id);
    out.push(f);
    // A stacked device's errors come from the one physical device that failed, when there is one.
    if (STACKED.test(disk) && physical.length === 1) ctx.edge(devNode(disk), devNode(physical[0]), 'caused-by', f.id, `${disk} is stacked on failing storage`, { observed: false, confidence: 0.75 });
    // A network filesystem's server stops answering when the network device below it fails.
    if (disk.startsWith('nfs:') && netdevs.length === 1) ctx.edge(devNode(disk), devNode(netdevs[0]), 'caused-by', f.id, `the NFS traffic goes through ${netdevs[0]}`, { observed: false, confidence: 0.7 });
  }

  // Filesystems that gave up: caused by errors on their device (or, when it had none, on the one failing device).
  for (const e of fsEvents) {
    const disk = e.details.device;
    const fsType = e.details.fsType ?? 'a filesystem';
    const action = e.details.fsAction ?? 'error';
    const f = finding(ctx, 'fs-error', 'root', `${fsType} on ${disk ?? 'an unknown device'}: ${action} ("${e.title}")`, {
      confidence: 0.8,
      subjects: [{ kind: 'event', id: e.id }],
      evidence: [eventFact(e)],
      steps: [
        `"${e.title}": the filesystem ${action === 'error' ? 'reported an error' : `${action}`}.`,
        'A filesystem aborts its journal or goes read-only to protect itself from failing writes: what failed below it is the cause.',
      ],
      confirm: [`dmesg | grep -E '${disk ?? 'EXT4|XFS|BTRFS'}'`, `fsck -n /dev/${disk ?? '<dev>'}   # after the device is healthy again`],
      extra: { fsType, action, ...(disk ? { device: disk } : {}) },
      nodes: [eventNode(e.id)],
    });
    out.push(f);
    if (disk && byDisk.has(disk)) ctx.edge(eventNode(e.id), devNode(disk), 'caused-by', f.id, `errors on ${disk}`);
    else if (byDisk.size === 1) ctx.edge(eventNode(e.id), devNode([...byDisk.keys()][0]), 'caused-by', f.id, 'the only device with errors', { observed: false, confidence: 0.7 });
    else if (physical.length === 1) ctx.edge(eventNode(e.id), devNode(physical[0]), 'caused-by', f.id, 'the only physical device with errors', { observed: false, confidence: 0.65 });
  }

  // Tasks blocked in I/O wait for the failing device (when there is only one, the link is an inference).
  if (byDisk.size >= 1) {
    const target = physical.length === 1 ? physical[0] : byDisk.size === 1 ? [...byDisk.keys()][0] : undefined;
    if (target) {
      for (const t of ctx.c.tasks) {
        if (t.state !== 'D' || !t.stack?.length) continue;
        const w = taskWait(t.stack);
        if (w.kind !== 'io' && w.kind !== 'folio' && w.kind !== 'bit' && !t.stack.some((f) => f.reliable && IO_PATH.test(f.function))) continue;
        ctx.node(taskNode(t.pid), 'task', `${t.comm}:${t.pid}`);
        ctx.edge(taskNode(t.pid), devNode(target), 'waits-for', '', `I/O (${w.site?.function ?? w.primitive ?? 'I/O wait'})`, { observed: false, confidence: 0.7 });
      }
    }
  }
  return out;
}

/** Seconds an in-flight request may take before the device counts as stuck (far above any healthy latency). */
const STUCK_IO_SECONDS = 10;

/**
 * From a dump: block devices whose requests stay in flight (blk-mq tags in MQ_RQ_IN_FLIGHT long after they started)
 * stopped completing I/O. Tasks asleep in I/O waits (and the completion, page or buffer bit they sleep on) wait for
 * that device — when it is the only stuck one, by inference.
 */
export function stuckDisksDetector(ctx: DetectorContext): Finding[] {
  const q = ctx.c.kernel;
  if (!q) return [];
  const disks = q.disksInFlight();
  if (isUnknown(disks)) return [];
  const now = ctx.c.system.uptime;
  const stuck = disks.filter((d) => d.inFlight > 0 && (d.oldestStartNs === undefined || now === undefined || now - Number(d.oldestStartNs) / 1e9 >= STUCK_IO_SECONDS));
  const out: Finding[] = [];
  for (const d of stuck) {
    const age = d.oldestStartNs !== undefined && now !== undefined ? Math.round(now - Number(d.oldestStartNs) / 1e9) : undefined;
    const f = finding(ctx, 'io-stuck', 'root', `Block device ${d.name}${d.driver ? ` (driver ${d.driver})` : ''} stopped completing I/O: ${d.inFlight} request(s) in flight${age !== undefined ? `, the oldest for ${age}s` : ''}`, {
      confidence: 0.85,
      subjects: [{ kind: 'object', id: devNode(d.name) }],
      evidence: [{ text: `${d.name}: ${d.inFlight} blk-mq request(s) in state MQ_RQ_IN_FLIGHT${age !== undefined ? `, oldest started ${age}s before the capture` : ''}`, from: { kind: 'dump', source: q.source, what: `request_queue of ${d.name} (tags->rqs)` } }],
      steps: [
        `The disk's hardware queues hold ${d.inFlight} request(s) the driver accepted and never completed${age !== undefined ? ` (the oldest started ${age}s before the dump)` : ''}.`,
        `A request that long in flight means the device${d.driver ? ` or its driver ${d.driver}` : ''} stopped completing: no completion interrupt, or a timeout handler that neither retries nor fails it.`,
        'Every task waiting for I/O on it (direct I/O, page writeback, journal commits, fsync) sleeps until it completes.',
      ],
      confirm: [`crash> dev -d   # in-flight requests per disk`, `cat /sys/block/${d.name}/inflight`, `dmesg | grep -i ${d.name}`],
      extra: { device: d.name, ...(d.driver ? { driver: d.driver } : {}), inFlight: d.inFlight, ...(age !== undefined ? { seconds: age } : {}) },
      nodes: [devNode(d.name)],
    });
    ctx.node(devNode(d.name), 'device', `block device ${d.name}`, f.id);
    out.push(f);
  }
  if (stuck.length !== 1) return out;
  // Sleepers in I/O waits wait for the one stuck device (what they sleep on is completed when its I/O completes).
  const dev = devNode(stuck[0].name);
  const ioWait = (pid: number): boolean => {
    const t = ctx.c.tasks.find((x) => x.pid === pid);
    if (!t?.stack?.length) return false;
    const w = taskWait(t.stack);
    return w.kind === 'io' || w.kind === 'folio' || t.stack.some((f) => f.reliable && (IO_PATH.test(f.function) || /^(bit_wait_io|__blkdev_direct_IO|blkdev_direct_IO|iomap_dio_rw|submit_bio_wait)/.test(f.function)));
  };
  const objs = q.sleepObjects();
  const done = new Set<number>();
  if (!isUnknown(objs)) {
    for (const o of objs) {
      if (o.kind === 'flush' || !ioWait(o.task.pid)) continue;
      const n = sleepNode(o);
      ctx.edge(n.id, dev, 'caused-by', '', `completed when ${stuck[0].name}'s I/O completes`, { observed: false, confidence: 0.8 });
      done.add(o.task.pid);
    }
  }
  for (const t of ctx.c.tasks) {
    if (t.state !== 'D' || done.has(t.pid) || !ioWait(t.pid)) continue;
    ctx.node(taskNode(t.pid), 'task', `${t.comm}:${t.pid}`);
    ctx.edge(taskNode(t.pid), dev, 'waits-for', '', 'I/O', { observed: false, confidence: 0.8 });
  }
  return out;
}
