import type { CaseFile, KernelObject } from '../model/casefile.ts';
import type { LogEvent } from '../model/event.ts';
import type { Finding, FindingKind, Role, Subject } from '../model/finding.ts';
import type { EdgeKind, NodeKind } from '../model/graph.ts';
import type { Fact } from '../model/provenance.ts';
import type { CpuView } from './cpu-view.ts';

/**
 * What every detector gets: the CaseFile to read, and where to put what it finds. A detector never writes into the
 * CaseFile or reads another detector's findings: it states findings, graph nodes and edges, and the kernel objects it
 * named; the engine puts them together. So detectors can run in any order.
 */
export interface DetectorContext {
  /** Read only. */
  readonly c: CaseFile;
  /** Per-CPU facts merged from every source (computed once from the CaseFile; read only). */
  readonly views: DerivedViews;
  /** A fresh id for a finding of this kind (`ipi-wait-1`, ...). */
  id(kind: FindingKind): string;
  /** States a node of the wait-for graph. */
  node(id: string, kind: NodeKind, label: string, finding?: string, vague?: boolean): void;
  /** States an edge of the wait-for graph. */
  edge(from: string, to: string, kind: EdgeKind, finding: string, label?: string, opts?: { observed?: boolean; confidence?: number }): void;
  /** Names a kernel object (a lock, a seqcount, a csd) with what was observed in it; merged with other detectors' by id. */
  object(o: KernelObject): void;
}

export type Detector = (ctx: DetectorContext) => Finding[];

/** Facts derived from the CaseFile that several detectors read (computed by the engine before any detector runs). */
export interface DerivedViews {
  cpus: CpuView[];
}

/** Everything one detector stated. */
export interface DetectorOutput {
  findings: Finding[];
  nodes: Array<{ id: string; kind: NodeKind; label: string; finding?: string; vague?: boolean }>;
  edges: Array<{ from: string; to: string; kind: EdgeKind; finding: string; label?: string; opts?: { observed?: boolean; confidence?: number } }>;
  objects: KernelObject[];
}

/** A context whose statements land in `out`; ids come from `ids` (shared, so they stay unique across detectors). */
export function makeContext(c: CaseFile, views: DerivedViews, ids: Map<string, number>, out: DetectorOutput): DetectorContext {
  return {
    c,
    views,
    id(kind) {
      const n = (ids.get(kind) ?? 0) + 1;
      ids.set(kind, n);
      return `${kind}-${n}`;
    },
    node(id, kind, label, finding, vague) {
      out.nodes.push({ id, kind, label, ...(finding ? { finding } : {}), ...(vague ? { vague } : {}) });
    },
    edge(from, to, kind, finding, label, opts) {
      out.edges.push({ from, to, kind, finding, ...(label ? { label } : {}), ...(opts ? { opts } : {}) });
    },
    object(o) {
      out.objects.push(o);
    },
  };
}

export function emptyOutput(): DetectorOutput {
  return { findings: [], nodes: [], edges: [], objects: [] };
}

/** Builds a finding with defaults for the optional parts. */
export function finding(
  ctx: DetectorContext,
  kind: FindingKind,
  role: Role,
  summary: string,
  parts: {
    confidence: number;
    subjects?: Subject[];
    evidence?: Fact[];
    steps?: string[];
    confirm?: string[];
    causedBy?: string[];
    extra?: Finding['extra'];
    nodes?: string[];
  },
): Finding {
  return {
    id: ctx.id(kind),
    kind,
    role,
    summary,
    confidence: parts.confidence,
    subjects: parts.subjects ?? [],
    evidence: parts.evidence ?? [],
    steps: parts.steps ?? [],
    confirm: parts.confirm ?? [],
    causedBy: parts.causedBy,
    extra: parts.extra,
    ...(parts.nodes ? { nodes: parts.nodes } : {}),
  };
}

/** The evidence fact for a log event: its headline, cited by file and line span. */
export function eventFact(e: LogEvent, text?: string): Fact {
  return { text: text ?? e.title, from: { kind: 'log', source: e.source, line: e.line, endLine: e.endLine } };
}

/** The evidence fact for one printed line of an event (a frame, a register line). */
export function lineFact(e: LogEvent, line: number | undefined, text: string): Fact {
  return { text, from: { kind: 'log', source: e.source, line: line ?? e.line } };
}

/** The evidence is pasted text (crash or perf output) with no vmcore behind it: what the text lacks cannot be read. */
export function pastedOnly(c: CaseFile): boolean {
  return c.sources.some((s) => s.kind === 'text') && !c.sources.some((s) => s.kind === 'dump');
}

export function cpuNode(cpu: number): string {
  return `cpu:${cpu}`;
}

export function taskNode(pid: number): string {
  return `task:${pid}`;
}

export function eventNode(id: string): string {
  return `event:${id}`;
}
