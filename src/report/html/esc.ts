/** HTML building blocks: escaping (every string from the evidence goes through `esc`), ids, small formatters. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and double-quoted attributes. */
export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

/** A string safe to use inside an id attribute and a `#fragment` (no spaces, no quotes). */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_.:-]/g, (ch) => `_${ch.charCodeAt(0).toString(16)}`);
}

export const findingAnchor = (id: string) => `f-${slug(id)}`;
export const eventAnchor = (id: string) => `ev-${slug(id)}`;
export const taskAnchor = (pid: number) => `task-${pid}`;
export const cpuAnchor = (cpu: number) => `cpu-${cpu}`;
/** Anchor of one log line: source index and 1-based line number. */
export const lineAnchor = (source: number, line: number) => `L${source}-${line}`;

export function confidenceLabel(c: number): 'high' | 'medium' | 'low' {
  return c >= 0.8 ? 'high' : c >= 0.5 ? 'medium' : 'low';
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "0-3,5,7-9" from a list of integers. */
export function ranges(ns: number[]): string {
  const s = [...new Set(ns)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : String(s[i]));
    i = j + 1;
  }
  return out.join(',');
}

export function seconds(s: number | null): string {
  if (s === null) return '';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
