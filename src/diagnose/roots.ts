/**
 * Roots the engine makes from the shape of the wait-for graph when no detector described the end of a chain:
 * a cycle (deadlock), a CPU that waits on nothing (hog), a task asleep outside the graph (holder sleeps), an object
 * with no holder (unknown holder, or a lost unlock when the evidence rules every holder out).
 */
import type { CaseFile } from '../model/casefile.ts';
import type { Finding, FindingKind, Subject } from '../model/finding.ts';
import type { GraphEdge, WaitForGraph } from '../model/graph.ts';
import type { Fact } from '../model/provenance.ts';
import { frameText , pcHex } from '../model/trace.ts';
import type { DerivedViews } from './context.ts';
import { viewLabel, viewPc } from './cpu-view.ts';
import { taskWait } from './waits.ts';

type NewId = (kind: FindingKind) => string;

const SLEEPING_LOCK = /mutex|rw-semaphore|rwsem|semaphore|rt-mutex|rt_mutex/i;

/** A node in words: `CPU 1 (forge_a:140)`, `kworker/1:2:88`, or the label a detector gave it. */
export function nodeText(c: CaseFile, g: WaitForGraph, views: DerivedViews, id: string): string {
  if (id.startsWith('cpu:')) {
    const cpu = Number(id.slice(4));
    const v = views.cpus.find((x) => x.cpu === cpu);
    return v ? viewLabel(v) : `CPU ${cpu}`;
  }
  if (id.startsWith('task:')) {
    const pid = Number(id.slice(5));
    const t = c.tasks.find((x) => x.pid === pid);
    const label = g.nodes.get(id)?.label;
    // A worker is named with the work it runs.
    if (label && / running /.test(label)) return label;
    if (t) return `${t.comm}:${t.pid}`;
    return label && label !== id ? label : `task ${pid}`;
  }
  const n = g.nodes.get(id);
  return n && n.label !== id ? n.label : id.replace(/^[a-z-]+:/, '');
}

/** One edge in words, as a clause after its source: `spins on spinlock X`, `is held by CPU 2`. */
function edgeClause(c: CaseFile, g: WaitForGraph, views: DerivedViews, e: GraphEdge): string {
  const to = nodeText(c, g, views, e.to);
  const how = e.label ? ` (${e.label})` : '';
  switch (e.kind) {
    case 'spins-on':
      return `spins on ${to}${how}`;
    case 'waits-for':
      return `waits for ${to}${how}`;
    case 'held-by':
      return `held by ${to}${how}`;
    case 'runs-on':
      return `runs on ${to}`;
    case 'caused-by':
      return `because of ${to}${how}`;
    case 'blocked-by':
      return `held up by ${to}${how}`;
    case 'delivers':
      return `to be delivered by ${to}${how}`;
  }
}

function subjectOf(id: string): Subject {
  if (id.startsWith('cpu:')) return { kind: 'cpu', cpu: Number(id.slice(4)) };
  if (id.startsWith('task:')) return { kind: 'task', pid: Number(id.slice(5)) };
  if (id.startsWith('event:')) return { kind: 'event', id: id.slice(6) };
  return { kind: 'object', id };
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function gatherEvidence(fs: readonly Finding[], max = 10): Fact[] {
  const out: Fact[] = [];
  for (const f of fs) for (const e of f.evidence) if (!out.some((x) => x.text === e.text) && out.length < max) out.push(e);
  return out;
}

/** The cycle as a walk from its first CPU or task: the nodes and the edges between them, in order. */
function walkCycle(g: WaitForGraph, nodes: string[]): GraphEdge[] {
  const inComp = new Set(nodes);
  const start = [...nodes].sort((a, b) => rankStart(a) - rankStart(b) || a.localeCompare(b, 'en', { numeric: true }))[0];
  const path: GraphEdge[] = [];
  let cur = start;
  const seen = new Set<string>([start]);
  for (let i = 0; i < nodes.length + 1; i++) {
    const e = g.out(cur).find((x) => inComp.has(x.to) && (x.to === start || !seen.has(x.to)));
    if (!e) break;
    path.push(e);
    if (e.to === start) break;
    seen.add(e.to);
    cur = e.to;
  }
  return path;
}

function rankStart(id: string): number {
  return id.startsWith('cpu:') ? 0 : id.startsWith('task:') ? 1 : 2;
}

export function synthesizeRoot(
  c: CaseFile,
  g: WaitForGraph,
  comp: string[],
  cycle: boolean,
  upstream: readonly Finding[],
  here: readonly Finding[],
  views: DerivedViews,
  newId: NewId,
): Finding | undefined {
  if (cycle) return cycleRoot(c, g, comp, upstream, here, views, newId);
  const id = comp[0];
  if (id.startsWith('cpu:')) return cpuRoot(c, g, id, upstream, here, views, newId);
  if (id.startsWith('task:')) return taskRoot(c, g, id, upstream, views, newId);
  if (id.startsWith('event:')) return undefined;
  return objectRoot(c, g, id, upstream, views, newId);
}

function cycleRoot(c: CaseFile, g: WaitForGraph, comp: string[], upstream: readonly Finding[], here: readonly Finding[], views: DerivedViews, newId: NewId): Finding {
  const walk = walkCycle(g, comp);
  const cpus = comp.filter((x) => x.startsWith('cpu:'));
  const tasks = comp.filter((x) => x.startsWith('task:'));
  const objects = comp.filter((x) => !x.startsWith('cpu:') && !x.startsWith('task:'));
  const labels = objects.map((o) => nodeText(c, g, views, o));
  const kind: FindingKind =
    cpus.length === 1 && tasks.length === 0 && objects.length === 1 && /spin|lock/i.test(labels[0] ?? '')
      ? 'spinlock-self-deadlock'
      : cpus.length === 0 && tasks.length > 0 && labels.every((l) => SLEEPING_LOCK.test(l))
        ? 'mutex-deadlock'
        : 'deadlock';
  const parts: string[] = [];
  for (let i = 0; i < walk.length; i++) {
    const e = walk[i];
    const from = i === 0 ? nodeText(c, g, views, e.from) : '';
    // A wait for an IPI is one step: the sender waits for the CPU that does not answer (the csd is only the means).
    const next = walk[i + 1];
    if (e.to.startsWith('csd:') && next && next.from === e.to) {
      parts.push(`${from ? `${from} ` : ''}waits${e.label ? ` in ${e.label}` : ''} for ${nodeText(c, g, views, next.to)} to answer its IPI`);
      i++;
      continue;
    }
    parts.push(`${from ? `${from} ` : ''}${edgeClause(c, g, views, e)}`);
  }
  const sentence = parts.join(', which ').replace(/, which held by/g, ', held by');
  const what = kind === 'spinlock-self-deadlock' ? 'a self-deadlock (the CPU waits for itself)' : cpus.length >= 2 || tasks.length >= 2 ? 'an ABBA deadlock: each waits for what another holds' : 'a deadlock';
  const summary = `Deadlock: ${sentence} — ${what}`;
  const steps = [
    ...walk.map((e) => `${nodeText(c, g, views, e.from)} ${edgeClause(c, g, views, e)}${e.observed === false ? ' (inferred)' : ''}.`),
    `Following the waits comes back to ${nodeText(c, g, views, walk[0]?.from ?? comp[0])}: every member of the cycle waits for another member, so none of them can ever proceed.`,
  ];
  for (const f of here) steps.push(`${f.summary}.`);
  return {
    id: newId(kind),
    kind,
    role: 'root',
    summary,
    confidence: 0.9,
    subjects: comp.map(subjectOf),
    evidence: gatherEvidence(here.length ? here : upstream),
    steps,
    confirm: uniq(here.flatMap((f) => f.confirm)).slice(0, 8),
    nodes: comp,
    extra: { cycle: walk.map((e) => e.from), ...(cpus.length ? { cpus: cpus.map((x) => Number(x.slice(4))) } : {}), ...(tasks.length ? { tasks: tasks.map((x) => Number(x.slice(5))) } : {}), objects: labels },
  };
}

function cpuRoot(c: CaseFile, g: WaitForGraph, id: string, upstream: readonly Finding[], here: readonly Finding[], views: DerivedViews, newId: NewId): Finding {
  const cpu = Number(id.slice(4));
  const v = views.cpus.find((x) => x.cpu === cpu);
  const label = nodeText(c, g, views, id);
  const reports = here.length ? here : upstream.filter((f) => f.subjects.some((s) => s.kind === 'cpu' && s.cpu === cpu));
  const where = v?.pc ? `${viewPc(v)}${v.chain.length > 1 ? ` (${v.chain.slice(1, 4).join(' <- ')})` : ''}${v.work ? `, running work ${v.work.func} (${v.work.name})` : ''}` : v?.work ? `work ${v.work.func} (${v.work.name})` : undefined;
  const irq = v?.irqsEnabled === false ? ' with interrupts disabled' : '';
  const summary = `${label} is stuck${where ? ` in ${where}` : ''}${irq}: it waits on nothing the evidence shows, so the loop it runs is the cause`;
  return {
    id: newId('cpu-hog'),
    kind: 'cpu-hog',
    role: 'root',
    summary,
    confidence: where ? 0.45 : 0.35,
    subjects: [{ kind: 'cpu', cpu }, ...(v?.task ? [{ kind: 'task' as const, pid: v.task.pid, comm: v.task.comm }] : [])],
    evidence: [...(v ? [v.fact] : []), ...gatherEvidence(reports, 6)],
    steps: [
      `${label} is where the chain of waits ends: ${reports.length ? reports.map((f) => f.summary).slice(0, 2).join('; ') : 'others wait for it'}.`,
      where ? `It runs ${where}${irq}, which is not a wait on a lock, an IPI or a sequence count.` : 'Where it runs is not in the evidence.',
      'Find the loop around its PC and what ends it (a condition another CPU or a device should set); a dump shows the loop and its preemption count.',
    ],
    confirm: [`crash> bt -c ${cpu}`, ...(pcHex(v?.regs) ? [`crash> dis -r ${pcHex(v?.regs)}`] : []), 'crash> bt -a'],
    nodes: [id],
    extra: { cpu, ...(v?.pc ? { function: v.pc.function } : {}) },
  };
}

/** What the objects a task holds are called, from the held-by edges into it (a workqueue's work it runs, too). */
function heldBy(c: CaseFile, g: WaitForGraph, views: DerivedViews, id: string): string[] {
  return uniq(g.into(id).filter((e) => e.kind === 'held-by').map((e) => (g.nodes.get(e.from)?.kind === 'work' ? `the work of ${nodeText(c, g, views, e.from)}` : nodeText(c, g, views, e.from))));
}

function taskRoot(c: CaseFile, g: WaitForGraph, id: string, upstream: readonly Finding[], views: DerivedViews, newId: NewId, on?: string): Finding {
  const pid = Number(id.slice(5));
  const t = c.tasks.find((x) => x.pid === pid);
  const label = nodeText(c, g, views, id);
  const holds = heldBy(c, g, views, id);
  const waiters = uniq(
    g
      .into(id)
      .flatMap((e) => g.into(e.from))
      .filter((e) => e.kind === 'waits-for' || e.kind === 'spins-on')
      .map((e) => nodeText(c, g, views, e.from)),
  );
  const holdText = holds.length ? ` ${holds.every((h) => h.startsWith('the work of')) ? 'runs' : 'holds'} ${holds.join(' and ')}${waiters.length ? ` (waited for by ${waiters.slice(0, 4).join(', ')}${waiters.length > 4 ? ', ...' : ''})` : ''} and` : '';
  if (t?.stack?.length) {
    const w = taskWait(t.stack);
    const below = w.site ? t.stack.filter((f) => f.reliable).map((f) => f.function) : [];
    const at = w.site ? below.indexOf(w.site.function) : -1;
    const callers = at >= 0 ? below.slice(at + 1, at + 4).filter((n) => !/^(kthread|ret_from_fork|worker_thread|process_one_work|entry_|do_syscall_64|__x64_sys_)/.test(n)) : [];
    const site = w.site ? `${frameText({ ...w.site, size: undefined })}${callers.length ? ` (<- ${callers.join(' <- ')})` : ''}` : undefined;
    const state = t.state ? ` (state ${t.state})` : '';
    const summary = `${label}${state}${holdText} sleeps${w.primitive ? ` in ${w.primitive}` : ''} on ${on ?? w.what}${site ? ` in ${site}` : ''}: what it waits for never comes, so nothing behind it moves`;
    return {
      id: newId('holder-sleeps'),
      kind: 'holder-sleeps',
      role: 'root',
      summary,
      confidence: holds.length ? 0.7 : 0.55,
      subjects: [{ kind: 'task', pid, comm: t.comm }],
      evidence: [...t.facts.slice(0, 2), ...gatherEvidence(upstream, 6)],
      steps: [
        holds.length ? `${label} holds ${holds.join(' and ')}, which others wait for.` : `${label} is where the chain of waits ends.`,
        `Its stack: ${t.stack.filter((f) => f.reliable).slice(0, 8).map((f) => f.function).join(' <- ')}.`,
        `It sleeps on ${w.what}${site ? `, asked for in ${site}` : ''}; nothing in the evidence is about to wake it (no task or CPU is in the path that would).`,
        'Find who should deliver it: the code that completes / wakes / unlocks what it waits on, and why that never ran.',
      ],
      confirm: [`crash> bt ${pid}`, `crash> bt -f ${pid}   # the wait object on its stack`, 'crash> foreach UN bt'],
      nodes: [id],
      extra: { pid, wait: w.kind, ...(w.primitive ? { primitive: w.primitive } : {}), ...(w.site ? { site: w.site.function } : {}) },
    };
  }
  const summary = `${label}${holdText ? holdText.replace(/ and$/, '') : ' is what the others wait for'}; what it is doing is not in the evidence`;
  return {
    id: newId('lock-owner-chain'),
    kind: 'lock-owner-chain',
    role: 'root',
    summary,
    confidence: holds.length ? 0.55 : 0.4,
    subjects: [{ kind: 'task', pid, ...(t ? { comm: t.comm } : {}) }],
    evidence: gatherEvidence(upstream, 8),
    steps: [
      `${label} is where the chain of waits ends${holds.length ? `: it holds ${holds.join(' and ')}` : ''}.`,
      'Its stack is not in the evidence: whether it runs, sleeps on something else, or exited holding the lock is unknown.',
      'Look at it (SysRq-w / `echo t > /proc/sysrq-trigger`, or `bt` in a dump).',
    ],
    confirm: [`crash> bt ${pid}`, 'echo w > /proc/sysrq-trigger   # blocked tasks with stacks'],
    nodes: [id],
    extra: { pid },
  };
}

function objectRoot(c: CaseFile, g: WaitForGraph, id: string, upstream: readonly Finding[], views: DerivedViews, newId: NewId): Finding {
  const n = g.nodes.get(id);
  const label = nodeText(c, g, views, id);
  const into = g.into(id).filter((e) => e.kind === 'waits-for' || e.kind === 'spins-on' || e.kind === 'blocked-by');
  // Known only from a log as "what one task sleeps on" (not a lock: an event, I/O, a completion), and that task holds
  // what others wait for: the sleeping holder is the end of the chain.
  const sleepers = uniq(into.map((e) => e.from).filter((x) => x.startsWith('task:')));
  if (n?.vague && n.kind !== 'lock' && sleepers.length === 1 && heldBy(c, g, views, sleepers[0]).length) {
    const r = taskRoot(c, g, sleepers[0], upstream, views, newId);
    r.nodes = [sleepers[0], id];
    r.confidence = Math.min(r.confidence, 0.65);
    return r;
  }
  // A completion, wait queue or bit a dump found the sleepers queued on: the sleeper that holds what others wait for
  // is the end of the chain, asleep on this very object.
  if (!n?.vague && (n?.kind === 'completion' || n?.kind === 'waitqueue' || id.startsWith('bit:')) && sleepers.length) {
    const holder = [...sleepers].sort((a, b) => heldBy(c, g, views, b).length - heldBy(c, g, views, a).length)[0];
    const r = taskRoot(c, g, holder, upstream, views, newId, label);
    r.nodes = [holder, id];
    r.confidence = heldBy(c, g, views, holder).length ? 0.8 : 0.65;
    r.extra = { ...r.extra, object: label };
    return r;
  }
  const waiters = uniq(into.map((e) => nodeText(c, g, views, e.from)));
  const obj = c.objects.find((o) => o.id === id);
  const noHolder = obj?.observed.noHolder === true;
  const kind: FindingKind = noHolder ? 'lost-unlock' : n?.kind === 'device' ? 'io-stuck' : 'holder-unknown';
  const who = waiters.length ? `${waiters.slice(0, 4).join(', ')}${waiters.length > 4 ? ` and ${waiters.length - 4} more` : ''}` : 'others';
  const summary = noHolder
    ? `${label} is held but nothing holds it: ${who} wait forever on a lost unlock or a corrupted lock word`
    : kind === 'io-stuck'
      ? `${who} wait for I/O on ${label} that never completes`
      : `${who} wait for ${label}; who holds it (or should deliver it) is not in the evidence`;
  return {
    id: newId(kind),
    kind,
    role: 'root',
    summary,
    confidence: noHolder ? 0.7 : kind === 'io-stuck' ? 0.55 : 0.4,
    subjects: [{ kind: 'object', id }],
    evidence: [...(obj?.facts.slice(0, 3) ?? []), ...gatherEvidence(upstream, 8)],
    steps: [
      `${who} wait${waiters.length === 1 ? 's' : ''} for ${label}.`,
      noHolder ? 'Every CPU and task that could hold it was ruled out: the lock word is wrong.' : 'The evidence does not say who holds it: in a dump, its owner field or the CPU whose stack took it would.',
    ],
    confirm: uniq(upstream.flatMap((f) => f.confirm)).slice(0, 6),
    nodes: [id],
    extra: { object: id, waiters: waiters.length },
  };
}
