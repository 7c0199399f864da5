/** Where a fact came from, so every conclusion can cite it. */
export type Provenance =
  | { kind: 'log'; source: string; line: number; endLine?: number }
  | { kind: 'dump'; source: string; address?: bigint; what: string }
  | { kind: 'live'; path: string; what?: string }
  | { kind: 'text'; source: string; line: number };

/** A single observed fact with its provenance. */
export interface Fact {
  text: string;
  from: Provenance;
}

/** Short human form of a provenance, e.g. `console.log:123` or `vmcore@ffffffff81234567 (jiffies_seq)`. */
export function cite(p: Provenance): string {
  switch (p.kind) {
    case 'log':
      return p.endLine && p.endLine !== p.line ? `${p.source}:${p.line}-${p.endLine}` : `${p.source}:${p.line}`;
    case 'dump':
      return p.address !== undefined ? `${p.source}@${p.address.toString(16)} (${p.what})` : `${p.source} (${p.what})`;
    case 'live':
      return p.what ? `${p.path} (${p.what})` : p.path;
    case 'text':
      return `${p.source}:${p.line}`;
  }
}
