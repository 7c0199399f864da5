/** Runs the detectors in order over a CaseFile and builds the verdict: roots first, then symptoms. */
import type { CaseFile } from '../model/casefile.ts';
import type { Finding } from '../model/finding.ts';
import type { WaitForGraph } from '../model/graph.ts';
import type { KernelObject } from '../model/casefile.ts';
import { buildGraph, decide, orderRoots, runDetectors, type NamedDetector } from './engine.ts';
import { applyKnownIssues } from './known/issues.ts';
import { cpuHogDetector } from './cpu-hog.ts';
import { profileHotspotDetector } from './profile-hotspot.ts';
import { spinlockDebugDetector } from './spinlock-debug.ts';
import { storageDetector, stuckDisksDetector } from './storage.ts';
import { mceDetector, oomDetector } from './failures.ts';
import { workqueueDetector } from './workqueue.ts';
import { sleepObjectsDetector } from './sleep-objects.ts';
import { frozenInstructionDetector } from './frozen-instruction.ts';
import { hungTasksDetector } from './hung-tasks.ts';
import { ipiWaitDetector } from './ipi-wait.ts';
import { lockChainsDetector, rtMutexDetector } from './lock-chains.ts';
import { irqsOffSpinDetector } from './irqs-off-spin.ts';
import { lockupsDetector } from './lockups.ts';
import { oopsDetector } from './oops.ts';
import { panicDetector } from './panic.ts';
import { sameSpinDetector } from './same-spin.ts';
import { seqcountDetector } from './seqcount.ts';
import { spinlockDetector } from './spinlock.ts';
import { uffdNoReaderDetector } from './uffd-no-reader.ts';

/** Every detector. Each is pure (reads the CaseFile, states findings, edges and objects); their order does not matter. */
export const DETECTORS: NamedDetector[] = [
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
  { name: 'rt-mutex', run: rtMutexDetector },
  { name: 'frozen-instruction', run: frozenInstructionDetector },
  { name: 'panic', run: panicDetector },
  { name: 'cpu-hog', run: cpuHogDetector },
  { name: 'spinlock-debug', run: spinlockDebugDetector },
  { name: 'storage', run: storageDetector },
  { name: 'oom', run: oomDetector },
  { name: 'mce', run: mceDetector },
  { name: 'workqueue', run: workqueueDetector },
  { name: 'sleep-objects', run: sleepObjectsDetector },
  { name: 'stuck-disks', run: stuckDisksDetector },
  { name: 'profile-hotspot', run: profileHotspotDetector },
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

/** Merges kernel objects named by detectors into the CaseFile's list (by id). */
function mergeObjects(c: CaseFile, objects: readonly KernelObject[]): void {
  for (const o of objects) {
    const had = c.objects.find((x) => x.id === o.id);
    if (!had) {
      c.objects.push({ ...o, observed: { ...o.observed }, facts: [...o.facts] });
      continue;
    }
    Object.assign(had.observed, o.observed);
    had.symbol ??= o.symbol;
    had.address ??= o.address;
    had.facts.push(...o.facts.filter((f) => !had.facts.some((g) => g.text === f.text)));
  }
}

/**
 * Runs every detector, builds the wait-for graph and reads the verdict off it. `order` runs the detectors in another
 * order (tests use it to prove the order does not matter).
 */
export function diagnose(c: CaseFile, detectors: readonly NamedDetector[] = DETECTORS, order?: readonly number[]): Diagnosis {
  const { outputs, errors, views } = runDetectors(c, detectors, order);
  mergeObjects(c, outputs.flatMap((o) => o.objects));
  const graph = buildGraph(c, outputs, views);
  const findings = decide(c, graph, outputs.flatMap((o) => o.findings), views);
  applyKnownIssues(findings, c);
  const roots = orderRoots(findings, findings.filter((f) => f.role === 'root'));
  const symptoms = findings.filter((f) => f.role === 'symptom');
  const incomplete = errors.length > 0 || c.sources.some((x) => x.incomplete);
  // The CPUs and tasks were seen in a dump: "nothing found" then covers the machine, not only its log.
  const sawMachine = c.cpus.some((x) => x.stackFrom?.kind === 'dump' || x.stackFrom?.kind === 'live');
  return { findings: [...roots, ...symptoms], graph, verdict: verdictOf(roots, symptoms, incomplete, sawMachine), errors };
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
