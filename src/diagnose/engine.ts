/**
 * The verdict engine: runs the detectors (each pure, in any order), puts their statements into one wait-for graph,
 * and reads the roots off the graph — never off a rank table:
 * - a cycle is a deadlock (a self-deadlock is a cycle of one CPU and its lock);
 * - a chain that ends at a CPU running its own code is a hog;
 * - a chain that ends at a task sleeping on something outside the graph names what it waits for;
 * - a chain that ends at an object nobody holds is a lost unlock, corruption, or an unknown holder;
 * - a failure event (oops, OOM, I/O error, MCE) with nothing above it is the cause of what follows it.
 * Every other finding is a symptom, `causedBy` the roots its chain reaches. Confidence falls with inferred edges.
 */
import type { CaseFile, KernelObject } from '../model/casefile.ts';
import type { Finding, FindingKind } from '../model/finding.ts';
import { WaitForGraph, type GraphEdge, type NodeKind } from '../model/graph.ts';
import { emptyOutput, makeContext, type DerivedViews, type Detector, type DetectorOutput } from './context.ts';
import { cpuViews } from './cpu-view.ts';
import { synthesizeRoot } from './roots.ts';

export interface NamedDetector {
  name: string;
  run: Detector;
}

/** What a finding is, for the engine: a state explains its node; a report only observes that its node is stuck; an event is a failure. */
export type Nature = 'state' | 'report' | 'event';

/** Report kinds: watchdogs that observe a stuck CPU or task, and the panic that follows them. Everything else is a state or an event. */
const REPORTS = new Set<FindingKind>(['soft-lockup', 'hard-lockup', 'rcu-stall', 'csd-lock', 'hung-task-cluster', 'panic', 'workqueue-lockup', 'lock-owner-chain', 'ipi-wait']);
const EVENTS = new Set<FindingKind>(['oops', 'null-deref', 'bug', 'memory-corruption', 'lockdep', 'warning', 'oom', 'io-error', 'fs-error', 'mce']);
/** Findings that describe a cycle themselves (a detector saw the whole deadlock). */
const CYCLE_KINDS = new Set<FindingKind>(['spinlock-self-deadlock', 'mutex-deadlock', 'deadlock']);
/** Failures that say little about a hang by themselves: roots of nothing else, they leave the verdict inconclusive. */
const MINOR = new Set<FindingKind>(['warning', 'lockdep']);
const isMinor = (f: Finding): boolean => MINOR.has(f.kind) || f.extra?.cause === 'kdump-capture-boot';

export function natureOf(f: Finding): Nature {
  if (f.kind === 'panic') return f.extra?.trigger ? 'report' : 'event';
  if (EVENTS.has(f.kind)) return 'event';
  if (REPORTS.has(f.kind)) return 'report';
  return 'state';
}

export interface EngineResult {
  findings: Finding[];
  graph: WaitForGraph;
  objects: KernelObject[];
  errors: string[];
}

/** Runs every detector on its own output, with ids renumbered in the canonical order so the run order never shows. */
export function runDetectors(c: CaseFile, detectors: readonly NamedDetector[], order: readonly number[] = detectors.map((_, i) => i)): { outputs: DetectorOutput[]; errors: string[]; views: DerivedViews } {
  const views: DerivedViews = { cpus: safeViews(c) };
  const outputs: DetectorOutput[] = detectors.map(() => emptyOutput());
  const errors: string[] = [];
  for (const i of order) {
    const d = detectors[i];
    const out = outputs[i];
    // Ids are local (prefixed by the detector's index) until every detector ran.
    const ids = new Map<string, number>();
    const ctx = makeContext(c, views, ids, out);
    const local = { ...ctx, id: (kind: FindingKind) => `#${i}:${ctx.id(kind)}` };
    try {
      out.findings.push(...d.run(local));
    } catch (err) {
      outputs[i] = emptyOutput();
      errors.push(`detector ${d.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      if (process.env.CORONER_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    }
  }
  renumber(outputs);
  return { outputs, errors: errors.sort(), views };
}

function safeViews(c: CaseFile): DerivedViews['cpus'] {
  try {
    return cpuViews(c);
  } catch {
    return [];
  }
}

/** `#3:ipi-wait-1` -> `ipi-wait-N` in detector order, everywhere an id is cited. */
function renumber(outputs: DetectorOutput[]): void {
  const counters = new Map<string, number>();
  const map = new Map<string, string>();
  for (const o of outputs) {
    for (const f of o.findings) {
      const kind = f.kind;
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      map.set(f.id, `${kind}-${n}`);
    }
  }
  const fix = (id: string): string => map.get(id) ?? id.replace(/^#\d+:/, '');
  for (const o of outputs) {
    for (const f of o.findings) {
      f.id = fix(f.id);
      if (f.causedBy) f.causedBy = f.causedBy.map(fix);
    }
    for (const n of o.nodes) if (n.finding) n.finding = fix(n.finding);
    for (const e of o.edges) e.finding = fix(e.finding);
  }
}

const PREFIX_KIND: Array<[string, NodeKind]> = [
  ['cpu:', 'cpu'],
  ['task:', 'task'],
  ['lock:', 'lock'],
  ['csd:', 'csd'],
  ['uffd:', 'uffd-ctx'],
  ['seqcount:', 'seqcount'],
  ['event:', 'event'],
  ['completion:', 'completion'],
  ['dev:', 'device'],
  ['rcu', 'rcu-gp'],
  ['work', 'work'],
  ['loop:', 'loop'],
];

function kindOfNode(id: string): NodeKind {
  return PREFIX_KIND.find(([p]) => id.startsWith(p))?.[1] ?? 'object';
}

/** The graph nodes a finding is about: its own list, else its subjects. */
export function nodesOf(f: Finding): string[] {
  if (f.nodes?.length) return f.nodes;
  const out: string[] = [];
  for (const s of f.subjects) {
    if (s.kind === 'cpu') out.push(`cpu:${s.cpu}`);
    else if (s.kind === 'task') out.push(`task:${s.pid}`);
    else if (s.kind === 'object') out.push(s.id);
    else out.push(`event:${s.id}`);
  }
  return out.length ? [out[0]] : [];
}

/** Puts the detectors' statements into one graph, plus what the CaseFile itself says (a running task is its CPU). */
export function buildGraph(c: CaseFile, outputs: readonly DetectorOutput[], views: DerivedViews): WaitForGraph {
  const g = new WaitForGraph();
  for (const o of outputs) for (const n of o.nodes) g.node(n.id, n.kind, n.label, n.finding, n.vague);
  for (const o of outputs) {
    for (const e of o.edges) {
      if (!g.nodes.has(e.from)) g.node(e.from, kindOfNode(e.from), e.from);
      if (!g.nodes.has(e.to)) g.node(e.to, kindOfNode(e.to), e.to);
      g.edge(e.from, e.to, e.kind, e.finding, e.label, e.opts);
    }
  }
  for (const o of outputs) {
    for (const f of o.findings) {
      for (const id of nodesOf(f)) g.node(id, kindOfNode(id), id, f.id);
    }
  }
  // A task that runs on a CPU is what that CPU executes: the task waits for whatever the CPU is stuck on.
  for (const v of views.cpus) {
    if (!v.task || v.idle) continue;
    const t = `task:${v.task.pid}`;
    const cpu = `cpu:${v.cpu}`;
    if (!g.nodes.has(t) || !g.nodes.has(cpu)) continue;
    const ts = c.tasks.find((x) => x.pid === v.task!.pid);
    if (ts?.state && ts.state !== 'R') continue;
    if (g.out(t).length) continue;
    g.edge(t, cpu, 'runs-on', '', `runs on CPU ${v.cpu}`);
  }
  // A vague object ("an rwsem waited on in X", from a log) is the same as the concrete one its waiter waits on in a dump.
  const vague = new Set([...g.nodes.values()].filter((n) => n.vague).map((n) => n.id));
  if (vague.size) {
    g.removeEdges((e) => vague.has(e.to) && g.out(e.from).some((x) => x !== e && !vague.has(x.to) && (x.kind === 'waits-for' || x.kind === 'spins-on')));
    for (const id of vague) {
      if (!g.edges.some((e) => e.to === id || e.from === id)) g.nodes.delete(id);
    }
  }
  return g;
}

/** Decides roles and causes from the graph. Mutates the findings (role, causedBy, confidence) and may add engine-made roots. */
export function decide(c: CaseFile, g: WaitForGraph, findings: Finding[], views: DerivedViews): Finding[] {
  for (const f of findings) for (const id of nodesOf(f)) if (!g.nodes.has(id)) g.node(id, kindOfNode(id), id, f.id);
  const comps = g.sccs();
  const compOf = new Map<string, number>();
  comps.forEach((comp, i) => comp.forEach((id) => compOf.set(id, i)));
  const isCycle = (i: number): boolean => comps[i].length > 1 || g.out(comps[i][0]).some((e) => e.to === comps[i][0]);
  // Which edges lead on from a component: all of them; from a cycle only `caused-by` (its members wait for each other
  // whatever else they also wait for, but a failure that put a member there — an oops — is still above the cycle).
  const leads = (i: number, e: GraphEdge): boolean => compOf.get(e.to) !== i && (!isCycle(i) || e.kind === 'caused-by');
  const terminal = comps.map((comp, i) => comp.every((id) => g.out(id).every((e) => !leads(i, e))));
  const reachMemo = new Map<number, Set<number>>();
  const reach = (i: number): Set<number> => {
    const hit = reachMemo.get(i);
    if (hit) return hit;
    const out = new Set<number>();
    reachMemo.set(i, out);
    if (terminal[i]) out.add(i);
    else {
      const seen = new Set<number>([i]);
      const queue = [i];
      while (queue.length) {
        const k = queue.shift()!;
        for (const id of comps[k]) {
          for (const e of g.out(id)) {
            const j = compOf.get(e.to);
            if (j === undefined || seen.has(j) || !leads(k, e)) continue;
            seen.add(j);
            if (terminal[j]) out.add(j);
            else queue.push(j);
          }
        }
      }
    }
    return out;
  };
  const reachOf = new Map<Finding, Set<number>>();
  for (const f of findings) {
    const s = new Set<number>();
    for (const id of nodesOf(f)) for (const t of reach(compOf.get(id)!)) s.add(t);
    reachOf.set(f, s);
  }
  // Every terminal component some finding leads to gets one root.
  const rootOfComp = new Map<number, Finding>();
  const made: Finding[] = [];
  const counters = new Map<string, number>();
  for (const f of findings) {
    const m = /^(.*)-(\d+)$/.exec(f.id);
    if (m) counters.set(m[1], Math.max(counters.get(m[1]) ?? 0, Number(m[2])));
  }
  const newId = (kind: FindingKind): string => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    return `${kind}-${n}`;
  };
  const terminals = [...new Set([...reachOf.values()].flatMap((s) => [...s]))].sort((a, b) => a - b);
  for (const t of terminals) {
    const nodes = new Set(comps[t]);
    const upstream = findings.filter((f) => reachOf.get(f)!.has(t));
    const here = findings.filter((f) => !f.extra?.deliberate && nodesOf(f).some((id) => nodes.has(id)));
    let root: Finding | undefined;
    if (isCycle(t)) root = best(here.filter((f) => CYCLE_KINDS.has(f.kind)));
    // A state (what the node is doing) says more than an event that happened there; a report only says it is stuck.
    else root = best(here.filter((f) => natureOf(f) === 'state')) ?? best(here.filter((f) => natureOf(f) === 'event'));
    // Only reports end here (a watchdog saw the node stuck, nothing explains it), or nothing at all: the shape says what it is.
    if (!root && upstream.some((f) => !f.extra?.deliberate)) {
      root = synthesizeRoot(c, g, comps[t], isCycle(t), upstream, here, views, newId);
      if (root) made.push(root);
    }
    if (root) rootOfComp.set(t, root);
  }
  const all = [...findings, ...made];
  const roots = new Set(rootOfComp.values());
  for (const f of all) {
    if (roots.has(f)) {
      f.role = 'root';
      f.causedBy = [];
      continue;
    }
    f.role = 'symptom';
    const r = reachOf.get(f) ?? new Set<number>();
    const causes = [...r].map((t) => rootOfComp.get(t)).filter((x): x is Finding => !!x && x !== f);
    const keep = (f.causedBy ?? []).filter((id) => all.some((x) => x.id === id && x !== f));
    f.causedBy = [...new Set([...causes.map((x) => x.id), ...keep])];
  }
  // How sure a root is: its own confidence, lowered by inferred edges inside the cycle it describes.
  for (const [t, r] of rootOfComp) {
    if (!isCycle(t)) continue;
    const nodes = new Set(comps[t]);
    const inner = g.edges.filter((e) => nodes.has(e.from) && nodes.has(e.to));
    const chain = inner.reduce((p, e) => p * WaitForGraph.confidence(e), 1);
    r.confidence = Math.min(r.confidence, Math.max(0.3, Math.round(chain * 100) / 100));
  }
  for (const r of made) for (const id of nodesOf(r)) g.node(id, kindOfNode(id), id, r.id);
  for (const e of g.edges) if (!e.finding) e.finding = rootOfComp.get(compOf.get(e.to) ?? -1)?.id ?? '';
  return all;
}

function best(xs: Finding[]): Finding | undefined {
  return [...xs].sort((a, b) => b.confidence - a.confidence)[0];
}

/** How many findings a root explains (itself included): the first measure of which root matters most. */
export function explained(findings: readonly Finding[], root: Finding): number {
  return 1 + findings.filter((f) => f !== root && f.causedBy?.includes(root.id)).length;
}

/** Roots first, most explaining first; a minor root (a warning) after hangs and crashes; then confidence. */
export function orderRoots(findings: readonly Finding[], roots: Finding[]): Finding[] {
  const idx = new Map(findings.map((f, i) => [f, i]));
  return roots.sort((a, b) => {
    const ma = isMinor(a) ? 1 : 0;
    const mb = isMinor(b) ? 1 : 0;
    if (ma !== mb) return ma - mb;
    const ea = explained(findings, a);
    const eb = explained(findings, b);
    if (ea !== eb) return eb - ea;
    if (a.confidence !== b.confidence) return b.confidence - a.confidence;
    return (idx.get(a) ?? 0) - (idx.get(b) ?? 0);
  });
}

/** Edges from the graph that touch `nodes`, for citing a chain. */
export function edgesAround(g: WaitForGraph, nodes: ReadonlySet<string>): GraphEdge[] {
  return g.edges.filter((e) => nodes.has(e.from) && nodes.has(e.to));
}
