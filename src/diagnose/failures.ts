/**
 * Failures that are not hangs but start or end them: the OOM killer (memory ran out: who asked, who was killed, under
 * which constraint) and machine checks (the hardware reported an error). Each is a failure event of the wait-for
 * graph: a root when nothing explains it, the cause of a panic that names it.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { eventFact, eventNode, finding, type DetectorContext } from './context.ts';

export function oomDetector(ctx: DetectorContext): Finding[] {
  const ooms = ctx.c.events.filter((e) => e.kind === 'oom');
  if (!ooms.length) return [];
  const victims = [...new Map(ooms.flatMap((e) => (e.details.oomVictim ? [[e.details.oomVictim.pid, e.details.oomVictim] as const] : []))).values()];
  const memcg = ooms.some((e) => /MEMCG/.test(e.details.oomConstraint ?? '') || /Memory cgroup/.test(e.title));
  const invokers = [...new Set(ooms.map((e) => /^(.+?) invoked oom-killer/.exec(e.title)?.[1]).filter((x): x is string => !!x))];
  const order = /order=(\d+)/.exec(ooms.map((e) => e.title).join(' '))?.[1];
  const first = ooms[0];
  const summary = `Out of memory${memcg ? ' in a memory cgroup (its limit, not the machine)' : ''}: ${ooms.length} OOM kill(s)${invokers.length ? `, invoked by ${invokers.slice(0, 3).join(', ')}` : ''}${order && order !== '0' ? ` (allocation order ${order})` : ''}${victims.length ? `; killed ${victims.slice(0, 4).map((v) => `${v.comm}:${v.pid}`).join(', ')}` : ''}`;
  const f = finding(ctx, 'oom', 'root', summary, {
    confidence: 0.8,
    subjects: ooms.map((e) => ({ kind: 'event' as const, id: e.id })),
    evidence: ooms.slice(0, 4).map((e) => eventFact(e)),
    steps: [
      `"${first.title}": an allocation could not be satisfied even after reclaim, so the OOM killer ran.`,
      memcg ? 'The constraint is a memory cgroup: the cgroup hit its own limit; the machine may have free memory.' : 'Look at the memory summary printed with it (free pages per zone, slab, page cache) and at which process grew.',
      victims.length ? `It killed ${victims.map((v) => `${v.comm}:${v.pid}`).join(', ')}.` : 'Which process it killed is not in the log.',
      order && Number(order) > 0 ? `The allocation was of order ${order} (2^${order} contiguous pages): fragmentation, not only a lack of memory, can cause it.` : '',
    ].filter(Boolean),
    confirm: ["dmesg | grep -A40 'invoked oom-killer'", 'cat /proc/meminfo; slabtop -o | head -20', ...(memcg ? ['cat /sys/fs/cgroup/<cgroup>/memory.max memory.events'] : [])],
    extra: { kills: ooms.length, ...(victims.length ? { victims: victims.map((v) => v.comm) } : {}), ...(memcg ? { constraint: 'memcg' } : {}) },
    nodes: ooms.map((e) => eventNode(e.id)),
  });
  return [f];
}

export function mceDetector(ctx: DetectorContext): Finding[] {
  const mces = ctx.c.events.filter((e) => e.kind === 'mce');
  if (!mces.length) return [];
  const text = (e: LogEvent) => (e.details.mceText ?? e.title).split('\n')[0];
  const bank = /Bank (\d+):?\s*([0-9a-f]{16})?/.exec(mces.map((e) => e.details.mceText ?? e.title).join('\n'));
  const cpus = [...new Set(mces.map((e) => e.cpu).filter((c): c is number => c !== undefined))];
  const summary = `Machine check: the hardware reported an error${cpus.length ? ` on CPU ${cpus.join(', ')}` : ''}${bank ? ` (Bank ${bank[1]}${bank[2] ? `: ${bank[2]}` : ''})` : ''} — "${text(mces[0])}"`;
  return [
    finding(ctx, 'mce', 'root', summary, {
      confidence: 0.85,
      subjects: mces.map((e) => ({ kind: 'event' as const, id: e.id })),
      evidence: mces.slice(0, 4).map((e) => eventFact(e)),
      steps: [
        `The CPU's machine-check architecture logged an error: ${mces.slice(0, 3).map((e) => `"${text(e)}"`).join(', ')}.`,
        "A machine check is the hardware's own report (memory, cache, bus, CPU core): a kernel bug does not cause it.",
        'Decode the bank status (rasdaemon / mcelog, or the vendor docs for the bank number) and check DIMMs, CPU microcode, firmware and temperatures.',
      ],
      confirm: ['ras-mc-ctl --errors   # or mcelog --client', 'journalctl -k | grep -i "hardware error"', 'grep microcode /proc/cpuinfo | sort -u'],
      extra: { ...(bank ? { bank: Number(bank[1]) } : {}), ...(cpus.length ? { cpus } : {}) },
      nodes: mces.map((e) => eventNode(e.id)),
    }),
  ];
}
