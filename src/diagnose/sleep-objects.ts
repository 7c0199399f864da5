/**
 * What sleeping tasks wait on, from a dump: the completion, wait queue or bit each D task (and each sleeping holder
 * of a lock others wait for) is queued on, found on its own stack; and for flush_work, the worker that runs the work
 * being flushed. Each becomes an edge of the wait-for graph: task -> completion / wait queue / bit, flusher -> the
 * worker. A holder asleep on a completion nobody completes is then the end of its chain, named with its object.
 */
import type { Finding } from '../model/finding.ts';
import { isUnknown, symbolText, type SleepObject } from '../model/queries.ts';
import { taskNode, type DetectorContext } from './context.ts';
import { hexOf } from './dump-facts.ts';
import { taskWait } from './waits.ts';

function label(t: { comm: string; pid: number }): string {
  return `${t.comm}:${t.pid}`;
}

/** The graph node of a sleep object, and its words. */
export function sleepNode(o: SleepObject): { id: string; kind: 'completion' | 'waitqueue' | 'object'; label: string } {
  const name = o.symbol ? symbolText(o.symbol) : `0x${hexOf(o.address)}`;
  if (o.kind === 'completion') return { id: `completion:${hexOf(o.address)}`, kind: 'completion', label: `completion ${name}` };
  if (o.kind === 'waitqueue') return { id: `waitq:${hexOf(o.address)}`, kind: 'waitqueue', label: `wait queue ${name}` };
  return { id: `bit:${hexOf(o.address)}:${o.bit ?? '?'}`, kind: 'object', label: `bit ${o.bit ?? '?'} of ${name}` };
}

export function sleepObjectsDetector(ctx: DetectorContext): Finding[] {
  const q = ctx.c.kernel;
  if (!q) return [];
  const objs = q.sleepObjects();
  if (isUnknown(objs)) return [];
  const workers = q.workers();
  const busy = isUnknown(workers) ? [] : workers.filter((w) => w.work !== undefined);
  for (const o of objs) {
    // An RCU grace period is what a synchronize_rcu sleeper waits for; its on-stack completion is only the means.
    const ts = ctx.c.tasks.find((x) => x.pid === o.task.pid);
    if (ts?.stack?.length && taskWait(ts.stack).kind === 'rcu') continue;
    const t = taskNode(o.task.pid);
    ctx.node(t, 'task', label(o.task));
    if (o.kind === 'flush') {
      const f = o.flushing;
      if (f?.worker) {
        ctx.node(taskNode(f.worker.pid), 'task', `${label(f.worker)}${f.func ? ` running ${f.func.name}` : ''}`);
        ctx.edge(t, taskNode(f.worker.pid), 'waits-for', '', `flush_work: ${f.func ? `${f.func.name}${f.wq ? ` on ${f.wq}` : ''}` : 'the work'} must finish first`);
      } else if (f?.wq) {
        // Queued behind the works of its workqueue: it waits for whatever they wait for.
        const node = `work:wq ${f.wq}`;
        ctx.node(node, 'work', `workqueue ${f.wq}`);
        ctx.edge(t, node, 'waits-for', '', 'flush: its barrier is queued behind the work of this workqueue');
        for (const w of busy.filter((x) => x.wq === f.wq)) {
          ctx.node(taskNode(w.task.pid), 'task', `${label(w.task)}${w.func ? ` running ${w.func.name}` : ''}`);
          ctx.edge(node, taskNode(w.task.pid), 'held-by', '', `runs ${w.func?.name ?? 'a work item'}`, { observed: false, confidence: 0.8 });
        }
      }
      continue;
    }
    const n = sleepNode(o);
    ctx.node(n.id, n.kind, n.label);
    ctx.edge(t, n.id, 'waits-for', '', o.kind === 'completion' ? 'wait_for_completion' : o.kind === 'bit' ? 'wait_on_bit' : 'wait_event');
    ctx.object({ id: n.id, kind: n.kind === 'completion' || n.kind === 'waitqueue' ? 'waitqueue' : 'other', ...(o.symbol ? { symbol: o.symbol.name } : {}), address: hexOf(o.address), observed: { kind: o.kind, ...(o.bit !== undefined ? { bit: o.bit } : {}) }, facts: [{ text: `${label(o.task)} sleeps on ${n.label}: ${o.how}`, from: { kind: 'dump', source: q.source, address: o.address, what: n.label } }] });
  }
  return [];
}
