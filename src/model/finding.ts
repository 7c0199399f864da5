/** Findings made by detectors: what is wrong, how sure, the evidence, and how to confirm it. */
import type { Fact } from './provenance.ts';

/**
 * The finding vocabulary; more may be added, none renamed (the JSON report is an interface).
 */
export type FindingKind =
  | 'ipi-wait'
  | 'irqs-off-spin'
  | 'spinlock-self-deadlock'
  | 'oops-in-irq'
  | 'seqcount-stuck-odd'
  | 'uffd-no-reader'
  | 'mutex-deadlock'
  | 'lock-owner-chain'
  | 'hung-task-cluster'
  | 'oops'
  | 'null-deref'
  | 'soft-lockup'
  | 'hard-lockup'
  | 'rcu-stall'
  | 'panic'
  | 'same-spin'
  | 'frozen-instruction'
  | 'memory-corruption'
  | 'warning'
  | 'bug'
  | 'lockdep'
  | 'csd-lock';

export type Role = 'root' | 'symptom';

/** A thing a finding is about: a CPU, a task, a kernel object or a log event. */
export type Subject =
  | { kind: 'cpu'; cpu: number }
  | { kind: 'task'; pid: number; comm?: string }
  | { kind: 'object'; id: string }
  | { kind: 'event'; id: string };

export interface KnownIssueMatch {
  id: string;
  title: string;
  references: string[];
  fix?: string;
  /** What differs from the known issue when the match is partial. */
  differences?: string[];
}

export interface Finding {
  /** Stable within a report: `<kind>-<n>`. */
  id: string;
  kind: FindingKind;
  role: Role;
  summary: string;
  /** 0..1. */
  confidence: number;
  subjects: Subject[];
  evidence: Fact[];
  /** The reasoning, one sentence a step, in the order an expert would walk it. */
  steps: string[];
  /** Commands that would confirm it (crash, drgn, shell). */
  confirm: string[];
  /** For symptoms: ids of the findings that explain them. */
  causedBy?: string[];
  knownIssue?: KnownIssueMatch;
  /** Kind-specific extra fields (e.g. frozen-instruction `cause`). */
  extra?: Record<string, string | number | boolean | string[] | number[]>;
}
