/**
 * The wait-for graph as a static SVG: alike nodes collapsed into one (a hung-task cluster becomes
 * "212 tasks"), laid out with dagre when the report is written, roots highlighted.
 */
import { Graph, layout } from '@dagrejs/dagre';
import type { Report } from '../schema.ts';
import { esc, ranges } from './esc.ts';

type GraphIn = Report['graph'];

export interface ViewNode {
  /** Index in the view: `n<index>` is its DOM id. */
  index: number;
  kind: string;
  label: string;
  /** The report's node ids this view node stands for (one, or a collapsed group). */
  members: string[];
  memberLabels: string[];
  findings: string[];
  root: boolean;
}

export interface ViewEdge {
  from: number;
  to: number;
  kind: string;
  label?: string;
  findings: string[];
  /** How many report edges this one stands for. */
  count: number;
}

export interface GraphView {
  nodes: ViewNode[];
  edges: ViewEdge[];
  /** Report node id -> view node index. */
  indexOf: Map<string, number>;
}

const KIND_NAMES: Record<string, [string, string]> = {
  cpu: ['CPU', 'CPUs'],
  task: ['task', 'tasks'],
  lock: ['lock', 'locks'],
  csd: ['IPI', 'IPIs'],
  waitqueue: ['wait queue', 'wait queues'],
  'uffd-ctx': ['userfaultfd', 'userfaultfd contexts'],
  seqcount: ['seqcount', 'seqcounts'],
  event: ['event', 'events'],
  fault: ['fault', 'faults'],
};

export function kindName(kind: string, n = 1): string {
  const k = KIND_NAMES[kind];
  return k ? k[n === 1 ? 0 : 1] : n === 1 ? kind : `${kind}s`;
}

/** Strongly connected components with more than one node (or a self-loop): the cycles. */
function cyclicNodes(g: GraphIn): Set<string> {
  const out = new Map<string, string[]>();
  for (const e of g.edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result = new Set<string>();
  let next = 0;
  // Iterative Tarjan: no recursion depth limit on long chains.
  for (const start of g.nodes.map((n) => n.id)) {
    if (index.has(start)) continue;
    const work: Array<{ id: string; i: number }> = [{ id: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const succ = out.get(top.id) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++];
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ id: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.id, Math.min(low.get(top.id)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1].id, Math.min(low.get(work[work.length - 1].id)!, low.get(top.id)!));
      if (low.get(top.id) === index.get(top.id)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.id);
        if (comp.length > 1 || succ.includes(top.id)) for (const c of comp) result.add(c);
      }
    }
  }
  return result;
}

/**
 * Report graph -> view graph. Nodes of one kind that came from the same findings and wait on / are
 * waited on by the same nodes are one group when there are at least `minGroup` of them.
 */
export function viewGraph(g: GraphIn, rootFindings: Set<string>, minGroup = 5): GraphView {
  const known = new Set(g.nodes.map((n) => n.id));
  const edges = g.edges.filter((e) => known.has(e.from) && known.has(e.to));
  const cyclic = cyclicNodes({ nodes: g.nodes, edges });
  const outDeg = new Map<string, number>();
  for (const e of edges) outDeg.set(e.from, (outDeg.get(e.from) ?? 0) + 1);
  const isRoot = (n: GraphIn['nodes'][number]) =>
    n.findings.some((f) => rootFindings.has(f)) && (!outDeg.get(n.id) || cyclic.has(n.id));

  const sig = new Map<string, string>();
  for (const n of g.nodes) {
    const outs = edges.filter((e) => e.from === n.id).map((e) => `${e.kind}>${e.to}`).sort();
    const ins = edges.filter((e) => e.to === n.id).map((e) => `${e.kind}<${e.from}`).sort();
    sig.set(n.id, [n.kind, isRoot(n) ? 'root' : '', [...n.findings].sort().join(','), outs.join(','), ins.join(',')].join('|'));
  }
  const groups = new Map<string, GraphIn['nodes']>();
  for (const n of g.nodes) groups.set(sig.get(n.id)!, [...(groups.get(sig.get(n.id)!) ?? []), n]);

  const nodes: ViewNode[] = [];
  const indexOf = new Map<string, number>();
  const placed = new Set<string>();
  for (const n of g.nodes) {
    if (placed.has(n.id)) continue;
    const group = groups.get(sig.get(n.id)!)!;
    const members = group.length >= minGroup ? group : [n];
    const index = nodes.length;
    for (const m of members) {
      placed.add(m.id);
      indexOf.set(m.id, index);
    }
    nodes.push({
      index,
      kind: n.kind,
      label: members.length === 1 ? n.label : groupLabel(n.kind, members),
      members: members.map((m) => m.id),
      memberLabels: members.map((m) => m.label),
      findings: [...new Set(members.flatMap((m) => m.findings))],
      root: members.some(isRoot),
    });
  }

  const byKey = new Map<string, ViewEdge>();
  for (const e of edges) {
    const from = indexOf.get(e.from)!;
    const to = indexOf.get(e.to)!;
    const key = `${from}>${to}>${e.kind}`;
    const have = byKey.get(key);
    if (have) {
      have.count++;
      if (!have.findings.includes(e.finding)) have.findings.push(e.finding);
    } else byKey.set(key, { from, to, kind: e.kind, label: e.label, findings: [e.finding], count: 1 });
  }
  return { nodes, edges: [...byKey.values()], indexOf };
}

function groupLabel(kind: string, members: GraphIn['nodes']): string {
  if (kind === 'cpu') {
    const cpus = members.map((m) => Number(/(\d+)\s*$/.exec(m.label)?.[1] ?? NaN));
    if (cpus.every((c) => Number.isFinite(c))) return `${members.length} CPUs: ${ranges(cpus)}`;
  }
  const names = [...new Set(members.map((m) => m.label.replace(/[:\s]\d+$/, '')))];
  const what = names.length === 1 ? ` ${names[0]}` : '';
  return `${members.length} ${kindName(kind, members.length)}${what}`;
}

const NODE_H = 42;
const CHAR_W = 6.9;
const MAX_LABEL = 38;
/** Graphs up to this wide are scaled to fit their box; wider ones scroll at full size. */
const FIT_WIDTH = 2000;

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** Smooth path through dagre's edge points. */
function pathOf(points: Array<{ x: number; y: number }>): string {
  const p = points.map((q) => ({ x: Math.round(q.x * 10) / 10, y: Math.round(q.y * 10) / 10 }));
  if (p.length < 3) return `M${p.map((q) => `${q.x},${q.y}`).join('L')}`;
  let d = `M${p[0].x},${p[0].y}`;
  for (let i = 1; i < p.length - 1; i++) {
    const mx = Math.round(((p[i].x + p[i + 1].x) / 2) * 10) / 10;
    const my = Math.round(((p[i].y + p[i + 1].y) / 2) * 10) / 10;
    d += `Q${p[i].x},${p[i].y} ${i === p.length - 2 ? `${p[i + 1].x},${p[i + 1].y}` : `${mx},${my}`}`;
  }
  return d;
}

export interface GraphSvg {
  svg: string;
  view: GraphView;
  width: number;
  height: number;
}

/** Lays out the view graph and draws it. Node `<g>`s carry data-findings for the click-to-evidence panel. */
export function graphSvg(view: GraphView): GraphSvg {
  const g = new Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 56, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const sizes = view.nodes.map((n) => {
    const text = clip(n.label, MAX_LABEL);
    return { text, width: Math.max(88, Math.round(text.length * CHAR_W + 26)) };
  });
  for (const n of view.nodes) g.setNode(`n${n.index}`, { width: sizes[n.index].width, height: NODE_H });
  for (const e of view.edges) {
    if (e.from === e.to) continue;
    const label = edgeText(e);
    g.setEdge(`n${e.from}`, `n${e.to}`, label ? { width: Math.min(label.length, 30) * 6 + 8, height: 14, labelpos: 'c' } : {});
  }
  layout(g);
  const gw = Math.ceil(g.graph().width ?? 0);
  const gh = Math.ceil(g.graph().height ?? 0);

  const parts: string[] = [];
  parts.push(
    `<svg class="graph${gw <= FIT_WIDTH ? ' fit' : ''}" viewBox="0 0 ${gw} ${gh}" width="${gw}" height="${gh}" role="group" aria-label="wait-for graph">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker>',
    '<marker id="arrow-hot" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>',
    '<g class="edges">',
  );
  view.edges.forEach((e, i) => {
    if (e.from === e.to) return;
    const ge = g.edge(`n${e.from}`, `n${e.to}`) as { points?: Array<{ x: number; y: number }>; x?: number; y?: number } | undefined;
    if (!ge?.points?.length) return;
    const hot = view.nodes[e.to].root || view.nodes[e.from].root;
    const label = edgeText(e);
    parts.push(
      `<g class="edge e-${esc(e.kind)}${hot ? ' hot' : ''}" id="ge${i}" data-from="${e.from}" data-to="${e.to}" data-findings="${esc(e.findings.join(' '))}"><path d="${pathOf(ge.points)}" marker-end="url(#${hot ? 'arrow-hot' : 'arrow'})"/>` +
        (label && ge.x !== undefined && ge.y !== undefined ? `<text x="${Math.round(ge.x)}" y="${Math.round(ge.y) + 4}">${esc(clip(label, 30))}</text>` : '') +
        `<title>${esc(`${e.kind}${e.label ? `: ${e.label}` : ''}${e.count > 1 ? ` (×${e.count})` : ''}`)}</title></g>`,
    );
  });
  parts.push('</g><g class="nodes">');
  for (const n of view.nodes) {
    const gn = g.node(`n${n.index}`) as { x: number; y: number; width: number; height: number };
    const w = sizes[n.index].width;
    const x = Math.round(gn.x - w / 2);
    const y = Math.round(gn.y - NODE_H / 2);
    const group = n.members.length > 1;
    const caption = `${group ? 'group of ' : ''}${kindName(n.kind, group ? 2 : 1)}${n.root ? ' · root' : ''}`;
    parts.push(
      `<g class="node n-${esc(n.kind)}${n.root ? ' root' : ''}${group ? ' group' : ''}" id="n${n.index}" data-node="${n.index}" data-findings="${esc(n.findings.join(' '))}" data-label="${esc(n.label)}" data-kind="${esc(kindName(n.kind, group ? 2 : 1))}" tabindex="0" role="button" aria-label="${esc(`${n.label}: show evidence`)}">` +
        `<title>${esc(n.label)}${n.findings.length ? ` (${esc(n.findings.join(', '))})` : ''}</title>` +
        (group ? `<rect class="stack" x="${x + 4}" y="${y + 4}" width="${w}" height="${NODE_H}" rx="7"/>` : '') +
        `<rect x="${x}" y="${y}" width="${w}" height="${NODE_H}" rx="7"/>` +
        `<text class="cap" x="${x + 10}" y="${y + 15}">${esc(caption)}</text>` +
        `<text class="lbl" x="${x + 10}" y="${y + 32}">${esc(sizes[n.index].text)}</text></g>`,
    );
  }
  parts.push('</g></svg>');
  return { svg: parts.join(''), view, width: gw, height: gh };
}

function edgeText(e: ViewEdge): string {
  const base = e.label ?? (e.kind === 'waits-for' ? '' : e.kind);
  return e.count > 1 ? `${base}${base ? ' ' : ''}×${e.count}` : base;
}
