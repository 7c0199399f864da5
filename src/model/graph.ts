/**
 * The wait-for graph: who waits for whom. Nodes are CPUs, tasks, kernel objects and log events;
 * edges say "waits for", "held by", "caused by". Detectors state edges; the engine builds the graph
 * and reads the verdict off it: a cycle is a deadlock, a node that waits on nothing ends a chain.
 */

export type NodeKind =
  | 'cpu'
  | 'task'
  | 'lock'
  | 'csd'
  | 'waitqueue'
  | 'uffd-ctx'
  | 'seqcount'
  | 'event'
  | 'fault'
  | 'completion'
  | 'device'
  | 'rcu-gp'
  | 'work'
  | 'loop'
  | 'object';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** Ids of the findings that put this node in the graph. */
  findings: string[];
  /**
   * An object known only by what waits on it (a lock "waited on in ext4_write_begin", from a log): when the
   * same waiter also waits on a concrete object of the dump, the vague one is the same thing and is dropped.
   */
  vague?: boolean;
}

/**
 * - `waits-for`: the source cannot progress until the target does something (sleeps on it, waits for an IPI).
 * - `spins-on`: the same, busy-waiting (a CPU polling a lock word or a sequence count).
 * - `held-by`: an object is held (owned, write-locked, read-locked) by the target.
 * - `delivers`: the target is the one expected to wake / complete / answer the object.
 * - `runs-on`: a running task is what that CPU executes: its progress is the CPU's.
 * - `caused-by`: the source happened because of the target (a panic of its trigger, a hang of an oops).
 * - `blocked-by`: a grace period / pool / queue cannot end while the target has not moved.
 */
export type EdgeKind = 'waits-for' | 'held-by' | 'spins-on' | 'caused-by' | 'blocked-by' | 'delivers' | 'runs-on';

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The finding that stated this edge ('' for an edge the engine derived from the CaseFile). */
  finding: string;
  label?: string;
  /** false when the edge is an inference (a likely holder, a candidate), true or absent when read from the evidence. */
  observed?: boolean;
  /** How sure the edge is, 0..1 (default 1 when observed, 0.75 when inferred). */
  confidence?: number;
}

export class WaitForGraph {
  readonly nodes = new Map<string, GraphNode>();
  readonly edges: GraphEdge[] = [];
  private outIndex = new Map<string, GraphEdge[]>();

  node(id: string, kind: NodeKind, label: string, finding?: string, vague?: boolean): GraphNode {
    let n = this.nodes.get(id);
    if (!n) {
      n = { id, kind, label, findings: [], ...(vague ? { vague: true } : {}) };
      this.nodes.set(id, n);
    } else if (!vague && n.vague) {
      delete n.vague;
      n.label = label;
    }
    if (finding && !n.findings.includes(finding)) n.findings.push(finding);
    return n;
  }

  edge(from: string, to: string, kind: EdgeKind, finding: string, label?: string, opts: { observed?: boolean; confidence?: number } = {}): void {
    const had = this.edges.find((e) => e.from === from && e.to === to && e.kind === kind);
    if (had) {
      // The same edge stated twice: keep the surer statement.
      if (opts.observed !== false && had.observed === false) {
        had.observed = true;
        had.confidence = opts.confidence ?? 1;
        had.finding = finding || had.finding;
        had.label = label ?? had.label;
      }
      return;
    }
    const e: GraphEdge = { from, to, kind, finding, ...(label ? { label } : {}) };
    if (opts.observed === false) e.observed = false;
    if (opts.confidence !== undefined) e.confidence = opts.confidence;
    this.edges.push(e);
    const list = this.outIndex.get(from);
    if (list) list.push(e);
    else this.outIndex.set(from, [e]);
  }

  out(id: string): GraphEdge[] {
    return this.outIndex.get(id) ?? [];
  }

  into(id: string): GraphEdge[] {
    return this.edges.filter((e) => e.to === id);
  }

  /** Removes edges (and the nodes left with none, when they were vague). */
  removeEdges(pred: (e: GraphEdge) => boolean): void {
    const keep = this.edges.filter((e) => !pred(e));
    this.edges.length = 0;
    this.outIndex.clear();
    for (const e of keep) {
      this.edges.push(e);
      const list = this.outIndex.get(e.from);
      if (list) list.push(e);
      else this.outIndex.set(e.from, [e]);
    }
  }

  /** How sure an edge is. */
  static confidence(e: GraphEdge): number {
    return e.confidence ?? (e.observed === false ? 0.75 : 1);
  }

  /** Strongly connected components (Tarjan, iterative), each a list of node ids. */
  sccs(): string[][] {
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const out: string[][] = [];
    let next = 0;
    for (const start of this.nodes.keys()) {
      if (index.has(start)) continue;
      const work: Array<{ id: string; i: number }> = [{ id: start, i: 0 }];
      index.set(start, next);
      low.set(start, next);
      next++;
      stack.push(start);
      onStack.add(start);
      while (work.length) {
        const top = work[work.length - 1];
        const edges = this.out(top.id);
        if (top.i < edges.length) {
          const to = edges[top.i++].to;
          if (!this.nodes.has(to)) continue;
          if (!index.has(to)) {
            index.set(to, next);
            low.set(to, next);
            next++;
            stack.push(to);
            onStack.add(to);
            work.push({ id: to, i: 0 });
          } else if (onStack.has(to)) {
            low.set(top.id, Math.min(low.get(top.id)!, index.get(to)!));
          }
          continue;
        }
        work.pop();
        if (work.length) {
          const parent = work[work.length - 1].id;
          low.set(parent, Math.min(low.get(parent)!, low.get(top.id)!));
        }
        if (low.get(top.id) === index.get(top.id)) {
          const comp: string[] = [];
          let x: string;
          do {
            x = stack.pop()!;
            onStack.delete(x);
            comp.push(x);
          } while (x !== top.id);
          out.push(comp);
        }
      }
    }
    return out;
  }

  /** Simple cycles (each reported once, starting at its smallest id). Bounded: the graph is small. */
  cycles(): string[][] {
    const found = new Map<string, string[]>();
    for (const comp of this.sccs()) {
      const inComp = new Set(comp);
      const selfLoop = comp.length === 1 && this.out(comp[0]).some((e) => e.to === comp[0]);
      if (comp.length === 1 && !selfLoop) continue;
      for (const start of comp) {
        const stack: Array<{ id: string; path: string[] }> = [{ id: start, path: [start] }];
        let budget = 10_000;
        while (stack.length && budget-- > 0) {
          const { id, path } = stack.pop()!;
          for (const e of this.out(id)) {
            if (!inComp.has(e.to)) continue;
            if (e.to === start) {
              const min = [...path].sort()[0];
              const i = path.indexOf(min);
              const norm = [...path.slice(i), ...path.slice(0, i)];
              found.set(norm.join('>'), norm);
            } else if (!path.includes(e.to) && path.length < 64) {
              stack.push({ id: e.to, path: [...path, e.to] });
            }
          }
        }
      }
    }
    return [...found.values()];
  }

  /** Nodes that others wait on but that wait on nothing themselves, plus one node of every cycle. */
  roots(): GraphNode[] {
    const result: GraphNode[] = [];
    const hasIn = new Set(this.edges.map((e) => e.to));
    for (const n of this.nodes.values()) {
      if (this.out(n.id).length === 0 && hasIn.has(n.id)) result.push(n);
    }
    for (const cycle of this.cycles()) {
      const first = this.nodes.get(cycle[0]);
      if (first && !result.includes(first)) result.push(first);
    }
    return result;
  }

  /** A path of edges from `from` to any node of `to` (breadth first), or undefined. */
  pathTo(from: string, to: ReadonlySet<string>): GraphEdge[] | undefined {
    if (to.has(from)) return [];
    const prev = new Map<string, GraphEdge>();
    const seen = new Set([from]);
    const queue = [from];
    while (queue.length) {
      const id = queue.shift()!;
      for (const e of this.out(id)) {
        if (seen.has(e.to)) continue;
        seen.add(e.to);
        prev.set(e.to, e);
        if (to.has(e.to)) {
          const path: GraphEdge[] = [];
          let cur = e.to;
          while (cur !== from) {
            const p = prev.get(cur)!;
            path.unshift(p);
            cur = p.from;
          }
          return path;
        }
        queue.push(e.to);
      }
    }
    return undefined;
  }

  /** The chain of waits from `id` to a root (following the first out-edge; stops at a cycle). */
  chainFrom(id: string): string[] {
    const chain = [id];
    let cur = id;
    for (let i = 0; i < 64; i++) {
      const next = this.out(cur)[0];
      if (!next || chain.includes(next.to)) break;
      chain.push(next.to);
      cur = next.to;
    }
    return chain;
  }
}
