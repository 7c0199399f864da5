/** Findings made by detectors: what is wrong, how sure, the evidence, and how to confirm it. */
import type { Fact } from './provenance.ts';

/**
 * The finding vocabulary; more may be added, none renamed (the JSON report is an interface).
 */
export type FindingKind =
  | 'lock-contention'
  | 'cpu-hotspot'
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
  | 'csd-lock'
  // Roots the engine reads off the wait-for graph:
  /** A cycle in the wait-for graph that is not one of the specific deadlock kinds above (mixed CPUs, locks, IPIs, tasks). */
  | 'deadlock'
  /** A chain ends at a CPU that runs its own code (a loop with preemption or interrupts disabled), waiting on nothing. */
  | 'cpu-hog'
  /** A chain ends at a task that sleeps on something outside the graph (a completion, an event, a wait queue, I/O). */
  | 'holder-sleeps'
  /** A chain ends at an object that nothing holds or whose holder the evidence does not name. */
  | 'holder-unknown'
  /** A lock or counter is stuck although nobody holds it: a lost unlock or corrupted memory. */
  | 'lost-unlock'
  // Failures that are not hangs, but start them:
  | 'oom'
  | 'io-error'
  | 'fs-error'
  | 'mce'
  | 'workqueue-lockup'
  | 'io-stuck'
  /** The RCU grace-period kthread does not get to run: no grace period can end. */
  | 'rcu-kthread-starved';

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
  /**
   * The wait-for graph nodes this finding is about (`cpu:1`, `task:812`, `lock:ffff...`, `event:e3`): the engine follows the
   * graph from them to decide whether the finding is a root or a symptom, and of what.
   */
  nodes?: string[];
  /** Kind-specific extra fields (e.g. frozen-instruction `cause`). */
  extra?: Record<string, string | number | boolean | string[] | number[]>;
}
