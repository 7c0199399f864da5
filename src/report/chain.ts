/**
 * The chain of waits from a root's farthest symptom down to the root, read off the report's wait-for graph:
 * `soft lockup on CPU 0 -> CPU 0 -[waits for]-> IPI from CPU 0 -> CPU 1 -[spins on]-> spinlock X -[held by]-> CPU 1`.
 * Every view prints it under the root so the reader sees what the graph decided, not only the conclusion.
 */
import type { Report, ReportFinding } from './schema.ts';

type Graph = Report['graph'];

const VERB: Record<string, string> = {
  'waits-for': 'waits for',
  'spins-on': 'spins on',
  'held-by': 'held by',
  'caused-by': 'because of',
  'blocked-by': 'held up by',
  delivers: 'delivered by',
  'runs-on': 'runs on',
};

/** The longest shortest path (by edges) from any of the root's symptoms' nodes to one of the root's nodes. */
export function chainOf(r: Report, root: ReportFinding): string[] | undefined {
  const g: Graph = r.graph;
  const targets = new Set(root.nodes ?? []);
  if (!targets.size) return undefined;
  const out = new Map<string, Graph['edges']>();
  for (const e of g.edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  const label = (id: string) => g.nodes.find((n) => n.id === id)?.label ?? id;
  let best: Graph['edges'] | undefined;
  for (const f of r.findings) {
    if (!f.causedBy.includes(root.id)) continue;
    for (const start of f.nodes ?? []) {
      // Breadth first from the symptom's node to the root's nodes.
      const prev = new Map<string, Graph['edges'][number]>();
      const seen = new Set([start]);
      const queue = [start];
      let hit: string | undefined = targets.has(start) ? start : undefined;
      while (queue.length && !hit) {
        const id = queue.shift()!;
        for (const e of out.get(id) ?? []) {
          if (seen.has(e.to)) continue;
          seen.add(e.to);
          prev.set(e.to, e);
          if (targets.has(e.to)) {
            hit = e.to;
            break;
          }
          queue.push(e.to);
        }
      }
      if (!hit) continue;
      const path: Graph['edges'] = [];
      for (let cur = hit; cur !== start; ) {
        const e = prev.get(cur)!;
        path.unshift(e);
        cur = e.from;
      }
      if (!best || path.length > best.length) best = path;
    }
  }
  if (!best?.length) return undefined;
  return [label(best[0].from), ...best.map((e) => `${VERB[e.kind] ?? e.kind} ${label(e.to)}`)];
}
