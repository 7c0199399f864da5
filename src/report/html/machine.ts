/** Per-CPU cards, the task table, system facts and the evidence sources. */
import type { Report, ReportFinding } from '../schema.ts';
import { cpuAnchor, esc, eventAnchor, findingAnchor, plural, ranges, seconds, taskAnchor } from './esc.ts';
import { renderExtra, type PageContext } from './findings.ts';

type Frame = Report['cpus'][number]['stack'][number];
type Cpu = Report['cpus'][number];
type Task = Report['tasks'][number];

const STACK_NAMES: Record<Frame['stack'], string> = {
  task: 'task stack',
  irq: 'IRQ stack',
  softirq: 'softirq',
  nmi: 'NMI stack',
  exception: 'exception stack',
  entry: 'entry',
  user: 'user space',
  unknown: 'unknown stack',
};

function frameText(f: Frame): string {
  const off = f.offset !== undefined ? `+0x${f.offset.toString(16)}${f.size !== undefined ? `/0x${f.size.toString(16)}` : ''}` : '';
  return `${f.function}${off}${f.module ? ` [${f.module}]` : ''}`;
}

/** A stack with a labelled boundary wherever it crosses into another stack (NMI, IRQ, exception). */
export function stackHtml(frames: Frame[]): string {
  if (!frames.length) return '<p class="muted">No stack in the evidence.</p>';
  const out: string[] = ['<ol class="stack">'];
  let cur: Frame['stack'] | undefined;
  for (const f of frames) {
    if (f.stack !== cur) {
      out.push(`<li class="boundary b-${f.stack}">${esc(STACK_NAMES[f.stack] ?? f.stack)}</li>`);
      cur = f.stack;
    }
    out.push(`<li class="fr${f.reliable ? '' : ' unreliable'}">${f.reliable ? '' : '<span class="q">? </span>'}${esc(frameText(f))}${f.address ? ` <span class="addr">${esc(f.address)}</span>` : ''}</li>`);
  }
  out.push('</ol>');
  return out.join('');
}

function findingsAbout(ctx: PageContext, pred: (s: ReportFinding['subjects'][number]) => boolean): ReportFinding[] {
  return ctx.report.findings.filter((f) => f.subjects.some(pred));
}

function findingChips(fs: ReportFinding[]): string {
  return fs.map((f) => `<a class="chip ${f.role}" href="#${findingAnchor(f.id)}" title="${esc(f.summary)}">${esc(f.kind)}</a>`).join('');
}

function irqBadge(on: boolean | null): string {
  if (on === null) return '<span class="badge b-unknown">IRQs ?</span>';
  return on ? '<span class="badge b-on">IRQs on</span>' : '<span class="badge b-off">IRQs off</span>';
}

function taskRef(ctx: PageContext, t: { comm: string; pid: number } | null): string {
  if (!t) return '<span class="muted">unknown</span>';
  const known = ctx.report.tasks.some((x) => x.pid === t.pid);
  const text = `${esc(t.comm)}:${t.pid}`;
  return known ? `<a href="#${taskAnchor(t.pid)}">${text}</a>` : text;
}

function cpuState(cpu: Cpu, fs: ReportFinding[]): string {
  const root = fs.find((f) => f.role === 'root');
  if (root) return `stuck: ${root.kind}`;
  if (fs.length) return `affected: ${fs[0].kind}`;
  if (cpu.idle) return 'idle';
  if (cpu.task) return 'running';
  return 'unknown';
}

function interesting(ctx: PageContext, cpu: Cpu): boolean {
  return cpu.stack.length > 0 || cpu.events.length > 0 || cpu.pc !== null || findingsAbout(ctx, (s) => s.kind === 'cpu' && s.cpu === cpu.cpu).length > 0;
}

interface CpuGroup {
  cpus: Cpu[];
  findings: ReportFinding[];
}

function cpuKey(ctx: PageContext, cpu: Cpu): string {
  const fs = findingsAbout(ctx, (s) => s.kind === 'cpu' && s.cpu === cpu.cpu).map((f) => f.id);
  const stack = cpu.stack.map((f) => `${f.stack}:${f.reliable ? '' : '?'}${f.function}`);
  return JSON.stringify([fs, stack, cpu.irqsEnabled, cpu.mode, cpu.idle, cpu.pc, cpu.task?.comm.replace(/\/\d+$/, '')]);
}

/** CPUs in the same state (same findings, same stack, same RIP) share one card: 64 spinning CPUs are one card. */
function groupCpus(ctx: PageContext, cpus: Cpu[]): CpuGroup[] {
  const by = new Map<string, Cpu[]>();
  for (const c of cpus) {
    const k = cpuKey(ctx, c);
    by.set(k, [...(by.get(k) ?? []), c]);
  }
  return [...by.values()].map((g) => ({ cpus: g, findings: findingsAbout(ctx, (s) => s.kind === 'cpu' && s.cpu === g[0].cpu) }));
}

function tasksOf(ctx: PageContext, cpus: Cpu[]): string {
  const ts = cpus.map((c) => c.task).filter((t): t is { comm: string; pid: number } => !!t);
  if (cpus.length === 1 || ts.length <= 1) return taskRef(ctx, cpus[0].task);
  const comms = [...new Set(ts.map((t) => t.comm.replace(/\/\d+$/, '/N')))];
  return `${comms.map(esc).join(', ')} <span class="muted">(${plural(ts.length, 'task')})</span>`;
}

function cpuCard(ctx: PageContext, g: CpuGroup): string {
  const { cpus, findings: fs } = g;
  const cpu = cpus[0];
  const isRoot = fs.some((f) => f.role === 'root');
  const eventIds = cpus.flatMap((c) => c.events);
  const events = eventIds.map((id) => ctx.report.events.find((e) => e.id === id)).filter((e): e is Report['events'][number] => !!e);
  // A finding about this CPU alone shows its details here; one shared by many CPUs shows them once, above.
  const extras = fs
    .filter((f) => f.subjects.filter((s) => s.kind === 'cpu').length === 1 && Object.keys(f.extra).some((k) => k !== 'cpu'))
    .map((f) => `<div class="cpuextra"><div class="muted">from <a href="#${findingAnchor(f.id)}">${esc(f.kind)}</a></div>${renderExtra(f.extra, ['cpu'])}</div>`)
    .join('');
  const many = cpus.length > 1;
  const title = many ? `CPUs ${ranges(cpus.map((c) => c.cpu))}` : `CPU ${cpu.cpu}`;
  return (
    `<article class="cpu${isRoot ? ' root' : fs.length ? ' affected' : ''}" id="${cpuAnchor(cpu.cpu)}">` +
    (many ? cpus.slice(1).map((c) => `<i id="${cpuAnchor(c.cpu)}"></i>`).join('') : '') +
    `<header><h3>${esc(title)}</h3>${many ? `<span class="badge b-unknown">${cpus.length} alike</span>` : ''}${irqBadge(cpu.irqsEnabled)}${cpu.idle ? '<span class="badge b-unknown">idle</span>' : ''}${findingChips(fs)}</header>` +
    `<dl class="facts"><dt>state</dt><dd>${esc(cpuState(cpu, fs))}${cpu.mode ? ` (${esc(cpu.mode)} mode)` : ''}</dd>` +
    `<dt>task</dt><dd>${tasksOf(ctx, cpus)}</dd>` +
    `<dt>RIP</dt><dd>${cpu.pc ? `<code>${esc(cpu.pc)}</code>` : '<span class="muted">unknown</span>'}</dd>` +
    (events.length
      ? `<dt>reports</dt><dd>${events.slice(0, 4).map((e) => `<a href="#${eventAnchor(e.id)}" class="evlink">${esc(e.title)}</a>`).join('<br>')}${events.length > 4 ? `<br><span class="muted">+${events.length - 4} more</span>` : ''}</dd>`
      : '') +
    `</dl>${stackHtml(cpu.stack)}${extras}</article>`
  );
}

export function cpuSection(ctx: PageContext): string {
  const cpus = [...ctx.report.cpus].sort((a, b) => a.cpu - b.cpu);
  if (!cpus.length) return '<p class="muted">The evidence says nothing about individual CPUs.</p>';
  const shown = cpus.filter((c) => interesting(ctx, c));
  const quiet = cpus.filter((c) => !interesting(ctx, c));
  const shared = ctx.report.findings
    .filter((f) => f.subjects.filter((s) => s.kind === 'cpu').length > 1 && Object.keys(f.extra).length)
    .map((f) => {
      const ids = f.subjects.filter((s) => s.kind === 'cpu' && s.cpu !== undefined).map((s) => s.cpu!);
      return `<div class="shared ${f.role}"><h3>Shared by CPUs ${esc(ranges(ids))}: <a href="#${findingAnchor(f.id)}">${esc(f.kind)}</a></h3>${renderExtra(f.extra, ['cpu', 'cpus'])}</div>`;
    })
    .join('');
  return (
    shared +
    `<div class="cards">${groupCpus(ctx, shown).map((g) => cpuCard(ctx, g)).join('')}</div>` +
    (quiet.length ? `<p class="muted">Nothing notable on ${plural(quiet.length, 'CPU')} (${ranges(quiet.map((c) => c.cpu))}).</p>` : '')
  );
}

/** The findings that group tasks (a hung-task cluster, a lock chain): the task table's clusters. */
function clusters(ctx: PageContext): Array<{ f: ReportFinding; pids: Set<number> }> {
  return ctx.report.findings
    .map((f) => ({ f, pids: new Set(f.subjects.filter((s) => s.kind === 'task' && s.pid !== undefined).map((s) => s.pid!)) }))
    .filter((c) => c.pids.size > 0);
}

function stateClass(s: string | null): string {
  return s === 'D' || s === 'UN' ? 'st-d' : s === 'R' || s === 'RU' ? 'st-r' : '';
}

function taskRow(t: Task, cluster: string): string {
  const top = t.stack.filter((f) => f.reliable).slice(0, 4);
  const full = t.stack.map((f) => `${f.reliable ? '' : '? '}${frameText(f)}`).join('\n');
  return (
    `<tr class="t" id="${taskAnchor(t.pid)}" data-state="${esc(t.state ?? '?')}" data-cluster="${esc(cluster)}">` +
    `<td data-v="${t.pid}">${t.pid}</td><td>${esc(t.comm)}</td><td class="${stateClass(t.state)}">${esc(t.state ?? '?')}</td>` +
    `<td data-v="${t.cpu ?? -1}">${t.cpu ?? ''}</td><td data-v="${t.blockedSeconds ?? -1}">${esc(seconds(t.blockedSeconds))}</td>` +
    `<td class="tstack" title="${esc(full)}">${esc(top.map((f) => f.function).join(' ← '))}</td></tr>`
  );
}

export function taskSection(ctx: PageContext): string {
  const tasks = ctx.report.tasks;
  if (!tasks.length) return '<p class="muted">The evidence names no tasks.</p>';
  const cls = clusters(ctx);
  const assigned = new Map<number, string>();
  for (const c of cls) for (const p of c.pids) if (!assigned.has(p)) assigned.set(p, c.f.id);
  const states = [...new Set(tasks.map((t) => t.state ?? '?'))].sort();
  const head =
    `<div class="filters" data-for="tasks"><label>state <select data-filter="state"><option value="">all</option>${states.map((s) => `<option>${esc(s)}</option>`).join('')}</select></label>` +
    (cls.length
      ? `<label>cluster <select data-filter="cluster"><option value="">all</option><option value="-">none</option>${cls.map((c) => `<option value="${esc(c.f.id)}">${esc(`${c.f.id} (${c.pids.size})`)}</option>`).join('')}</select></label>`
      : '') +
    `<label>find <input type="search" data-filter="text" placeholder="comm, pid, function"></label><span class="muted count"></span></div>`;
  const thead =
    '<thead><tr><th data-sort="num">PID</th><th data-sort="text">comm</th><th data-sort="text">state</th><th data-sort="num">CPU</th><th data-sort="num">blocked</th><th>stack (top)</th></tr></thead>';
  const bodies: string[] = [];
  for (const c of cls) {
    const members = tasks.filter((t) => assigned.get(t.pid) === c.f.id);
    if (!members.length) continue;
    const collapse = members.length > 3;
    bodies.push(
      `<tbody class="cluster${collapse ? ' collapsed' : ''}" data-cluster="${esc(c.f.id)}"><tr class="grp"><td colspan="6"><button type="button" class="toggle" aria-expanded="${!collapse}">${collapse ? '▸' : '▾'}</button> ` +
        `<a href="#${findingAnchor(c.f.id)}">${esc(c.f.summary)}</a> <span class="muted">${plural(members.length, 'task')}${
          members.some((m) => m.state) ? `, ${esc([...new Set(members.map((m) => m.state ?? '?'))].join('/'))}` : ''
        }</span></td></tr>${members.map((t) => taskRow(t, c.f.id)).join('')}</tbody>`,
    );
  }
  const rest = tasks.filter((t) => !assigned.has(t.pid));
  if (rest.length) bodies.push(`<tbody class="plain" data-cluster="-">${rest.map((t) => taskRow(t, '-')).join('')}</tbody>`);
  return `${head}<div class="scroll"><table class="tasks" id="tasks-table">${thead}${bodies.join('')}</table></div>`;
}

export function systemSection(ctx: PageContext): string {
  const s = ctx.report.system;
  const facts: Array<[string, string | number | null]> = [
    ['kernel', s.release],
    ['architecture', s.arch],
    ['hardware', s.hardware],
    ['CPUs', s.cpus],
    ['taint', s.taint],
    ['uptime', s.uptime === null ? null : seconds(s.uptime)],
    ['panic', s.panic],
    ['command line', s.commandLine],
  ];
  const dl = `<dl class="facts wide">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v === null || v === '' ? '<span class="muted">unknown</span>' : `<code>${esc(v)}</code>`}</dd>`).join('')}</dl>`;
  const src = ctx.report.sources
    .map(
      (x) =>
        `<li><strong>${esc(x.kind)}</strong> <code>${esc(x.path)}</code> <span class="muted">${esc(x.format)}${x.lines !== null ? `, ${x.lines} lines` : ''}</span>` +
        (x.incomplete ? ' <span class="badge b-off">incomplete</span>' : ' <span class="badge b-on">read</span>') +
        (x.notes.length ? `<ul class="notes">${x.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '') +
        `</li>`,
    )
    .join('');
  return (
    `<div class="two"><div><h3>System</h3>${dl}</div><div><h3>Evidence used</h3>` +
    (src ? `<ul class="sources">${src}</ul>` : '<p class="muted">No sources.</p>') +
    (ctx.report.incomplete ? '<p class="warn">Some evidence was damaged or only partly read: results are partial.</p>' : '') +
    `</div></div>`
  );
}
