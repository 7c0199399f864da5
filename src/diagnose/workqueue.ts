/**
 * Workqueue lockups (`BUG: workqueue lockup - pool cpus=N ... stuck for Ns!`): a worker pool has made no progress. The
 * pool is a node of the wait-for graph held by the work items in flight on it (`in-flight: pid:func`): the worker
 * that runs too long, or sleeps, is what everything queued behind it waits for.
 */
import type { Finding } from '../model/finding.ts';
import { eventFact, finding, taskNode, type DetectorContext } from './context.ts';

export function workqueueDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const byPool = new Map<string, typeof ctx.c.events>();
  for (const e of ctx.c.events) {
    if (e.kind !== 'workqueue-lockup') continue;
    const pool = e.details.pool ?? 'an unknown pool';
    byPool.set(pool, [...(byPool.get(pool) ?? []), e]);
  }
  for (const [pool, evs] of byPool) {
    const node = `work:pool ${pool}`;
    const inFlight = [...new Map(evs.flatMap((e) => e.details.inFlight ?? []).map((w) => [w.pid, w])).values()];
    const pending = [...new Set(evs.flatMap((e) => e.details.pending ?? []))];
    const secs = Math.max(...evs.map((e) => e.details.seconds ?? 0));
    const f = finding(ctx, 'workqueue-lockup', 'symptom', `Workqueue pool ${pool} made no progress for ${secs}s${inFlight.length ? `; in flight: ${inFlight.slice(0, 4).map((w) => `${w.func} (pid ${w.pid})`).join(', ')}` : ''}${pending.length ? `; pending: ${pending.slice(0, 4).join(', ')}${pending.length > 4 ? ', ...' : ''}` : ''}`, {
      confidence: 0.85,
      subjects: evs.map((e) => ({ kind: 'event' as const, id: e.id })),
      evidence: evs.slice(0, 3).map((e) => eventFact(e)),
      steps: [
        `"${evs[0].title}": the workqueue watchdog saw no work item finish on this pool for ${secs}s.`,
        inFlight.length ? `Work items running on it: ${inFlight.map((w) => `${w.func} in pid ${w.pid}`).join(', ')}: one of them runs without end or sleeps on something that never comes.` : 'The work item in flight is not in the log (the busy-workqueue dump that names it was not printed).',
        pending.length ? `Work queued behind it and not run: ${pending.slice(0, 8).join(', ')}.` : '',
        'Everything that flushes this work or waits for work on this pool (flush_work, flush_workqueue) hangs behind it.',
      ].filter(Boolean),
      confirm: ['echo t > /proc/sysrq-trigger   # stacks of the in-flight workers', ...inFlight.slice(0, 3).map((w) => `cat /proc/${w.pid}/stack`), 'crash> foreach kworker bt'],
      extra: { pool, seconds: secs, ...(inFlight.length ? { inFlight: inFlight.map((w) => `${w.pid}:${w.func}`) } : {}), ...(pending.length ? { pending } : {}) },
      nodes: [node],
    });
    ctx.node(node, 'work', `workqueue pool ${pool}`, f.id);
    for (const w of inFlight) {
      const t = ctx.c.tasks.find((x) => x.pid === w.pid);
      ctx.node(taskNode(w.pid), 'task', t ? `${t.comm}:${t.pid} running ${w.func}` : `worker ${w.pid} running ${w.func}`);
      ctx.edge(node, taskNode(w.pid), 'held-by', f.id, `runs ${w.func}`);
    }
    out.push(f);
  }
  return out;
}
