/** The wait-for graph: who waits for whom. Roots (nodes that wait on nothing, or cycles) are causes. */

export type NodeKind = 'cpu' | 'task' | 'lock' | 'csd' | 'waitqueue' | 'uffd-ctx' | 'seqcount' | 'event' | 'fault';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** Ids of the findings that put this node in the graph. */
  findings: string[];
}

export type EdgeKind = 'waits-for' | 'held-by' | 'spins-on' | 'caused-by' | 'blocked-by';

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  finding: string;
  label?: string;
}

export class WaitForGraph {
  readonly nodes = new Map<string, GraphNode>();
  readonly edges: GraphEdge[] = [];

  node(id: string, kind: NodeKind, label: string, finding?: string): GraphNode {
    let n = this.nodes.get(id);
    if (!n) {
      n = { id, kind, label, findings: [] };
      this.nodes.set(id, n);
    }
    if (finding && !n.findings.includes(finding)) n.findings.push(finding);
    return n;
  }

  edge(from: string, to: string, kind: EdgeKind, finding: string, label?: string): void {
    if (this.edges.some((e) => e.from === from && e.to === to && e.kind === kind)) return;
    this.edges.push({ from, to, kind, finding, label });
  }

  out(id: string): GraphEdge[] {
    return this.edges.filter((e) => e.from === id);
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

  /** Simple cycles (each reported once, starting at its smallest id). Bounded: the graph is small. */
  cycles(): string[][] {
    const found = new Map<string, string[]>();
    const ids = [...this.nodes.keys()];
    for (const start of ids) {
      const stack: Array<{ id: string; path: string[] }> = [{ id: start, path: [start] }];
      let budget = 10_000;
      while (stack.length && budget-- > 0) {
        const { id, path } = stack.pop()!;
        for (const e of this.out(id)) {
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
    return [...found.values()];
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
