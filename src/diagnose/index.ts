/** Runs the detectors in order over a CaseFile and builds the verdict: roots first, then symptoms. */
import type { CaseFile } from '../model/casefile.ts';
import type { Finding, FindingKind } from '../model/finding.ts';
import type { WaitForGraph } from '../model/graph.ts';
import { makeContext, type Detector } from './context.ts';
import { applyKnownIssues } from './known/issues.ts';
import { frozenInstructionDetector } from './frozen-instruction.ts';
import { hungTasksDetector } from './hung-tasks.ts';
import { ipiWaitDetector } from './ipi-wait.ts';
import { lockChainsDetector } from './lock-chains.ts';
import { irqsOffSpinDetector } from './irqs-off-spin.ts';
import { lockupsDetector } from './lockups.ts';
import { oopsDetector } from './oops.ts';
import { panicDetector } from './panic.ts';
import { sameSpinDetector } from './same-spin.ts';
import { seqcountDetector } from './seqcount.ts';
import { spinlockDetector } from './spinlock.ts';
import { uffdNoReaderDetector } from './uffd-no-reader.ts';

/** Order matters: later detectors read earlier findings (an IPI waiter cites the CPU that does not answer). */
export const DETECTORS: Array<{ name: string; run: Detector }> = [
  { name: 'oops', run: oopsDetector },
  { name: 'seqcount', run: seqcountDetector },
  { name: 'spinlock', run: spinlockDetector },
  { name: 'irqs-off-spin', run: irqsOffSpinDetector },
  { name: 'same-spin', run: sameSpinDetector },
  { name: 'ipi-wait', run: ipiWaitDetector },
  { name: 'lockups', run: lockupsDetector },
  { name: 'hung-tasks', run: hungTasksDetector },
  { name: 'uffd-no-reader', run: uffdNoReaderDetector },
  { name: 'lock-chains', run: lockChainsDetector },
  { name: 'frozen-instruction', run: frozenInstructionDetector },
  { name: 'panic', run: panicDetector },
];

export interface Verdict {
  status: 'problem' | 'healthy' | 'inconclusive';
  summary: string;
  roots: string[];
  symptoms: string[];
}

export interface Diagnosis {
  /** Detectors that failed (a bug of Coroner's): their findings are missing, the verdict is marked incomplete. */
  errors: string[];
  findings: Finding[];
  graph: WaitForGraph;
  verdict: Verdict;
}

/** How much a root of this kind says about the cause, when several roots compete (higher first). */
const ROOT_RANK: Partial<Record<FindingKind, number>> = {
  'spinlock-self-deadlock': 95,
  'mutex-deadlock': 95,
  'seqcount-stuck-odd': 95,
  'uffd-no-reader': 95,
  'oops-in-irq': 97,
  'frozen-instruction': 90,
  'lock-owner-chain': 80,
  'null-deref': 75,
  oops: 75,
  'memory-corruption': 75,
  bug: 70,
  'irqs-off-spin': 65,
  'same-spin': 60,
  lockdep: 55,
  'hard-lockup': 40,
  'soft-lockup': 40,
  'rcu-stall': 35,
  'csd-lock': 35,
  'hung-task-cluster': 30,
  panic: 20,
  warning: 10,
};

function rank(f: Finding): number {
  return (ROOT_RANK[f.kind] ?? 50) + f.confidence * 10;
}

export function diagnose(c: CaseFile, detectors = DETECTORS): Diagnosis {
  const ctx = makeContext(c);
  // One detector's bug must not cost the whole verdict: it is reported, and the others still run.
  const errors: string[] = [];
  for (const d of detectors) {
    try {
      ctx.findings.push(...d.run(ctx));
    } catch (err) {
      errors.push(`detector ${d.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      if (process.env.CORONER_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    }
  }
  const findings = ctx.findings;
  applyKnownIssues(findings, c);
  // A finding explained by a root is a symptom; if nothing is a root, the best lead stands in, uncertain.
  let roots = findings.filter((f) => f.role === 'root');
  if (!roots.length && findings.length) {
    // A forced dump's panic is never a lead.
    const leads = findings.filter((f) => !f.extra?.deliberate);
    const best = [...leads].sort((a, b) => rank(b) - rank(a))[0];
    if (best) {
      best.role = 'root';
      best.confidence = Math.min(best.confidence, 0.4);
      best.steps.push('Nothing in the evidence explains it further, so it is the best lead, not a proven cause.');
      roots = [best];
    }
  }
  roots.sort((a, b) => rank(b) - rank(a));
  const symptoms = findings.filter((f) => f.role === 'symptom');
  for (const s of symptoms) if (!s.causedBy?.length) s.causedBy = roots.length ? [roots[0].id] : [];
  const incomplete = errors.length > 0 || c.sources.some((x) => x.incomplete);
  // The CPUs and tasks were seen in a dump: "nothing found" then covers the machine, not only its log.
  const sawMachine = c.cpus.some((x) => x.stackFrom?.kind === 'dump' || x.stackFrom?.kind === 'live');
  return { findings: [...roots, ...symptoms], graph: ctx.graph, verdict: verdictOf(roots, symptoms, incomplete, sawMachine), errors };
}

function verdictOf(roots: Finding[], symptoms: Finding[], incomplete: boolean, sawMachine: boolean): Verdict {
  const forced = symptoms.find((f) => f.extra?.deliberate);
  if (!roots.length && forced) {
    const what = forced.extra?.cause === 'sysrq' ? 'SysRq-c' : 'an NMI from outside (operator or hypervisor)';
    return sawMachine && !incomplete
      ? {
          status: 'healthy',
          summary: `No evidence of a hang or crash in the CPUs, tasks and log of the dump. It was forced by ${what}: the panic is not a fault.`,
          roots: [],
          symptoms: symptoms.map((f) => f.id),
        }
      : {
          status: 'inconclusive',
          summary: `The dump was forced by ${what}, and the log shows no fault: analyse the vmcore itself (its CPUs and tasks) to see why someone thought the machine was hung.`,
          roots: [],
          symptoms: symptoms.map((f) => f.id),
        };
  }
  if (!roots.length && incomplete) {
    return {
      status: 'inconclusive',
      summary: 'Nothing wrong was found in what could be read, but the evidence is incomplete (see the notes): this is not a clean bill of health.',
      roots: [],
      symptoms: [],
    };
  }
  if (!roots.length) {
    return { status: 'healthy', summary: 'No evidence of a hang or crash: no oops, panic, lockup, stall or hung task was found.', roots: [], symptoms: [] };
  }
  const top = roots[0];
  const sure = top.confidence >= 0.5;
  const parts = [`${sure ? 'Root cause' : 'Most likely lead (unconfirmed)'}: ${top.summary}.`];
  if (roots.length > 1) parts.push(`Also at the root: ${roots.slice(1, 4).map((r) => r.summary).join('; ')}${roots.length > 4 ? `; and ${roots.length - 4} more` : ''}.`);
  if (symptoms.length) parts.push(`Symptoms: ${symptoms.slice(0, 5).map((s) => s.summary).join('; ')}${symptoms.length > 5 ? `; and ${symptoms.length - 5} more` : ''}.`);
  return {
    status: sure ? 'problem' : 'inconclusive',
    summary: parts.join(' '),
    roots: roots.map((r) => r.id),
    symptoms: symptoms.map((s) => s.id),
  };
}
