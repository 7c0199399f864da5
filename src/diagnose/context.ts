/** What every detector gets: the CaseFile, the findings made so far, and the wait-for graph to add edges to. */
import type { CaseFile } from '../model/casefile.ts';
import type { LogEvent } from '../model/event.ts';
import type { Finding, FindingKind, Role, Subject } from '../model/finding.ts';
import { WaitForGraph } from '../model/graph.ts';
import type { Fact } from '../model/provenance.ts';

export interface DetectorContext {
  readonly c: CaseFile;
  /** Findings of the detectors that ran before this one. */
  readonly findings: readonly Finding[];
  readonly graph: WaitForGraph;
  /** A fresh id for a finding of this kind (`ipi-wait-1`, ...). */
  id(kind: FindingKind): string;
}

export type Detector = (ctx: DetectorContext) => Finding[];

export function makeContext(c: CaseFile): DetectorContext & { findings: Finding[] } {
  const counters = new Map<string, number>();
  return {
    c,
    findings: [],
    graph: new WaitForGraph(),
    id(kind) {
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      return `${kind}-${n}`;
    },
  };
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

export function cpuNode(cpu: number): string {
  return `cpu:${cpu}`;
}

export function taskNode(pid: number): string {
  return `task:${pid}`;
}
