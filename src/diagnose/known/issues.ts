/**
 * Known issues: signatures of causes seen before, with references. Data, not logic: each row says
 * which finding kinds it can explain and what must hold; `check` returns undefined when the row does
 * not apply, else the list of differences from the known case (empty = full match). A match sets
 * the finding's `knownIssue`; a partial match says what differs. Each row has a test sample in
 * test/diagnose/known-issues.test.ts.
 */
import type { CaseFile } from '../../model/casefile.ts';
import type { Finding, FindingKind, KnownIssueMatch } from '../../model/finding.ts';

export interface KnownIssue {
  id: string;
  title: string;
  references: string[];
  fix?: string;
  kinds: FindingKind[];
  /** undefined: does not apply; []: full match; otherwise what differs from the known case. */
  check(f: Finding, c: CaseFile): string[] | undefined;
}

const extraStr = (f: Finding, k: string): string => String(f.extra?.[k] ?? '');

function taskExiting(c: CaseFile, f: Finding): boolean | undefined {
  const cpu = f.subjects.find((s) => s.kind === 'cpu');
  const task = f.subjects.find((s) => s.kind === 'task');
  const pid = task?.kind === 'task' ? task.pid : cpu?.kind === 'cpu' ? c.cpus.find((x) => x.cpu === cpu.cpu)?.task?.pid : undefined;
  const t = pid !== undefined ? c.tasks.find((x) => x.pid === pid) : undefined;
  if (!t) return undefined;
  if (t.exiting) return true;
  const inExit = t.stack?.some((fr) => /^(do_exit|do_group_exit|exit_(mm|files|fs|task_namespaces|notify)|__x64_sys_exit(_group)?)$/.test(fr.function));
  return inExit ? true : t.stack?.length ? false : undefined;
}

export const KNOWN_ISSUES: KnownIssue[] = [
  {
    id: 'kvm-arm64-s1ptw-exec-fault',
    title: 'KVM arm64: an instruction fetch faulting on a stage-1 page-table walk is treated as an exec fault, the guest re-faults forever',
    references: ['KVM: arm64: Assume write fault on S1PTW permission fault on instruction fetch (upstream; backported to stable 4.19 and later)', 'cases/frozen-instruction.md'],
    fix: 'Update the host kernel (KVM) to a release with the S1PTW write-fault fix; ptrace-attaching the thread (COW of the text page) unsticks it meanwhile.',
    kinds: ['frozen-instruction'],
    check(f, c) {
      const cause = extraStr(f, 'cause');
      if (cause && !/hypervisor|below|stage|fault-loop/.test(cause)) return undefined;
      // An arm64 KVM bug: on another architecture it is not this issue at all.
      if (c.system.arch && c.system.arch !== 'arm64') return undefined;
      const diffs: string[] = [];
      if (!c.system.arch) diffs.push('the architecture is not known (the known issue is an arm64 KVM bug)');
      if (cause && !/hypervisor|below|stage/.test(cause)) diffs.push(`the fault loop is seen by the guest kernel (${cause}), not resolved below it`);
      return diffs;
    },
  },
  {
    id: 'irq-utsname-exiting-task',
    title: "Interrupt-context code dereferences the interrupted task's nsproxy (utsname()) after exit_task_namespaces() set it to NULL",
    references: ['cases/softlockup-tlb-ipi.md', 'include/linux/nsproxy.h: access to another task\'s (or from interrupt, current\'s) nsproxy must check for NULL under rcu (task_lock/ns_of_pid rules)'],
    fix: 'Do not use utsname()/current->nsproxy from interrupt context (use init_utsname() or check current->nsproxy for NULL); never take a lock in a die notifier that the faulting code may hold.',
    kinds: ['oops-in-irq', 'null-deref'],
    check(f, c) {
      const text = `${f.summary} ${f.steps.join(' ')}`;
      if (!/interrupt|IRQ/i.test(text) && f.kind !== 'oops-in-irq') return undefined;
      const addr = extraStr(f, 'address');
      const nullish = addr ? /^0*[0-9a-f]{0,3}$/i.test(addr) : /NULL pointer/i.test(text);
      if (!nullish) return undefined;
      const diffs: string[] = [];
      const exiting = taskExiting(c, f);
      if (exiting === false) diffs.push('the interrupted task is not exiting (the known case interrupts a task inside do_exit, after its nsproxy was cleared)');
      if (exiting === undefined) diffs.push('whether the interrupted task was exiting is not known (check its stack for do_exit / exit_task_namespaces and task->nsproxy == NULL)');
      diffs.push('that the NULL pointer is current->nsproxy (utsname()) is not verified: compare the faulting instruction\'s base register with task->nsproxy');
      return diffs;
    },
  },
  {
    id: 'seqcount-corruption-cpu-erratum',
    title: 'A sequence count left odd with no writer: a corrupted lock word (memory error, or a CPU erratum such as the Skylake/Kaby Lake hyper-threading short-loop erratum)',
    references: [
      'cases/hardlockup-seqcount.md',
      'Intel 6th/7th generation Core specification updates: erratum SKL150 / KBL095 "Short loops using both the AH/BH/CH/DH registers and the corresponding wide register may result in unpredictable system behavior" (fixed by microcode)',
    ],
    fix: 'Update the CPU microcode; check EDAC/MCE logs and run a memory test; if it recurs on one machine, retire the hardware.',
    kinds: ['seqcount-stuck-odd'],
    check(f, c) {
      if (f.extra?.noWriter === false) return undefined;
      const diffs: string[] = [];
      // The erratum is Intel's: on another architecture only the memory-error reading remains.
      if (c.system.arch && c.system.arch !== 'x86_64') return [`the machine is ${c.system.arch}: the Intel erratum does not apply, so suspect memory (EDAC/RAS error logs, a memory test)`];
      const hw = c.system.hardware ?? '';
      if (!/skylake|kaby ?lake/i.test(hw)) diffs.push(`the CPU model is not known to be Skylake/Kaby Lake${hw ? ` (${hw})` : ''}: the erratum only explains it there, otherwise suspect memory`);
      const loop = Array.isArray(f.extra?.loop) ? (f.extra.loop as string[]).join(' ') : '';
      if (loop && !/%[abcd]h\b/.test(loop)) diffs.push('the loop does not use AH/BH/CH/DH (the erratum needs a high-byte register and its wide register in a short loop)');
      return diffs;
    },
  },
  {
    id: 'uffd-server-restarted',
    title: 'userfaultfd page server restarted (or died) without draining its clients: faults on the registered memory wait forever',
    references: ['cases/hung-userfaultfd.md', 'Documentation/admin-guide/mm/userfaultfd.rst'],
    fix: 'Drain (kill or hand over) the processes whose uffd the server served before restarting it; to release the stuck tasks now, kill the faulting process or have a new server take the uffd and resolve (UFFDIO_COPY/ZEROPAGE/WAKE) the faults.',
    kinds: ['uffd-no-reader'],
    check(f) {
      const diffs: string[] = [];
      const holders = Array.isArray(f.extra?.holders) ? (f.extra.holders as number[]) : [];
      const owner = f.extra?.owner;
      const others = holders.filter((h) => h !== owner);
      if (others.length) diffs.push(`processes other than the faulting one still hold it (${others.join(', ')}): the server may be alive but stuck, not restarted`);
      return diffs;
    },
  },
];

/** Sets `knownIssue` on findings a row matches (the first matching row; full matches preferred). */
export function applyKnownIssues(findings: Finding[], c: CaseFile, table: KnownIssue[] = KNOWN_ISSUES): void {
  for (const f of findings) {
    if (f.knownIssue) continue;
    let best: KnownIssueMatch | undefined;
    for (const k of table) {
      if (!k.kinds.includes(f.kind)) continue;
      const diffs = k.check(f, c);
      if (!diffs) continue;
      const m: KnownIssueMatch = { id: k.id, title: k.title, references: k.references, ...(k.fix ? { fix: k.fix } : {}), ...(diffs.length ? { differences: diffs } : {}) };
      if (!best || (best.differences?.length ?? 0) > diffs.length) best = m;
      if (!diffs.length) break;
    }
    if (best) f.knownIssue = best;
  }
}
