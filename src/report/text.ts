/** The terminal view: verdict paragraph, findings (roots first) with evidence, then CPU and task tables. */
import pc from 'picocolors';
import { chainOf } from './chain.ts';
import type { Report } from './schema.ts';

type Colors = ReturnType<typeof pc.createColors>;

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && (indent + cur + ' ' + w).length > width) {
      lines.push(indent + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(indent + cur);
  return lines.join('\n');
}

function confidenceLabel(c: number): string {
  return c >= 0.8 ? 'high' : c >= 0.5 ? 'medium' : 'low';
}

function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

export function renderText(r: Report, opts: { color: boolean; width?: number }): string {
  const c: Colors = pc.createColors(opts.color);
  const width = opts.width ?? 100;
  const out: string[] = [];
  const status =
    r.verdict.status === 'healthy' ? c.green('HEALTHY') : r.verdict.status === 'problem' ? c.red(c.bold('PROBLEM FOUND')) : c.yellow('INCONCLUSIVE');
  out.push(`${c.bold('Coroner verdict:')} ${status}`);
  out.push(wrap(r.verdict.summary, width, ''));
  const sys = r.system;
  const sysBits = [sys.release && `kernel ${sys.release}`, sys.arch, sys.hardware, sys.cpus && `${sys.cpus} CPUs`, sys.taint && `taint ${sys.taint}`].filter(Boolean);
  if (sysBits.length) out.push(c.dim(`System: ${sysBits.join(', ')}`));
  out.push(c.dim(`Evidence: ${r.sources.map((s) => `${s.path} (${s.format}${s.lines ? `, ${s.lines} lines` : ''})`).join('; ')}`));
  for (const s of r.sources) for (const n of s.notes) out.push(c.yellow(`  note: ${s.path}: ${n}`));
  for (const e of r.diagnosisErrors ?? []) out.push(c.yellow(`  internal: ${e} (a bug of Coroner's; the other detectors ran)`));
  if (r.incomplete) out.push(c.yellow('Some evidence was damaged or only partly read: results are partial.'));

  const byId = new Map(r.findings.map((f) => [f.id, f]));
  const section = (title: string, ids: string[]) => {
    if (!ids.length) return;
    out.push('');
    out.push(c.bold(title));
    for (const id of ids) {
      const f = byId.get(id);
      if (!f) continue;
      const tag = f.role === 'root' ? c.red('[root]') : c.yellow('[symptom]');
      out.push(wrap(`${tag} ${f.summary} (${f.kind}, confidence ${confidenceLabel(f.confidence)} ${f.confidence.toFixed(2)})`, width, '  ').replace(/^ {2}/, '  '));
      if (f.causedBy.length && f.role === 'symptom') out.push(c.dim(`      caused by: ${f.causedBy.join(', ')}`));
      const chain = f.role === 'root' ? chainOf(r, f) : undefined;
      if (chain) out.push(wrap(`chain: ${chain.join(' -> ')}`, width, '      '));
      if (f.knownIssue) {
        const partial = f.knownIssue.differences?.length;
        out.push(wrap(`known issue${partial ? ' (partial match)' : ''}: ${f.knownIssue.title} (${f.knownIssue.references.join(', ')})`, width, '      '));
        for (const d of f.knownIssue.differences ?? []) out.push(wrap(`differs: ${d}`, width, '        '));
      }
      if (f.steps.length) {
        out.push(c.dim('      why:'));
        f.steps.forEach((s, i) => out.push(wrap(`${i + 1}. ${s}`, width, '        ')));
      }
      if (f.evidence.length) {
        out.push(c.dim('      evidence:'));
        for (const e of f.evidence.slice(0, 8)) out.push(wrap(`- ${e.text} ${c.dim(`[${e.cite}]`)}`, width + 20, '        '));
        if (f.evidence.length > 8) out.push(c.dim(`        (+${f.evidence.length - 8} more)`));
      }
      if (f.confirm.length) {
        out.push(c.dim('      confirm:'));
        for (const cmd of f.confirm) out.push(`        ${c.cyan(cmd)}`);
      }
    }
  };
  section('Root causes', r.verdict.roots);
  section('Symptoms', r.verdict.symptoms);

  if (r.cpus.length) {
    out.push('');
    out.push(c.bold('CPUs'));
    const rows = r.cpus.map((cpu) => [
      String(cpu.cpu),
      cpu.task ? `${cpu.task.comm}:${cpu.task.pid}` : '-',
      cpu.irqsEnabled === null ? '?' : cpu.irqsEnabled ? 'on' : 'OFF',
      cpu.mode ?? '?',
      cpu.pc ?? (cpu.stack[0] ? cpu.stack[0].function : '-'),
      cpu.stack.filter((f) => f.reliable).slice(0, 4).map((f) => f.function).join(' <- ') || '-',
    ]);
    out.push(table(rows, ['CPU', 'TASK', 'IRQS', 'MODE', 'PC', 'STACK']).replace(/^/gm, '  '));
  }
  const tasks = r.tasks.filter((t) => t.state === 'D' || t.events.length);
  if (tasks.length) {
    out.push('');
    out.push(c.bold('Tasks'));
    const rows = tasks.slice(0, 200).map((t) => [
      String(t.pid),
      t.comm,
      t.state ?? '?',
      t.cpu === null ? '-' : String(t.cpu),
      t.blockedSeconds === null ? '-' : `${t.blockedSeconds}s`,
      t.stack.filter((f) => f.reliable).slice(0, 4).map((f) => f.function).join(' <- ') || '-',
    ]);
    out.push(table(rows, ['PID', 'COMM', 'ST', 'CPU', 'BLOCKED', 'STACK']).replace(/^/gm, '  '));
    if (tasks.length > 200) out.push(`  (+${tasks.length - 200} more)`);
  }
  if (r.events.length) {
    out.push('');
    out.push(c.bold(`Events (${r.events.length})`));
    const rows = r.events.slice(0, 60).map((e) => [
      `${e.source.split('/').pop()}:${e.line}`,
      e.timestamp === null ? '-' : e.timestamp.toFixed(3),
      e.kind,
      e.cpu === null ? '-' : String(e.cpu),
      e.task ? `${e.task.comm}:${e.task.pid}` : '-',
      e.culprit ? `${e.culprit.function}${e.culprit.module ? ` [${e.culprit.module}]` : ''}` : '-',
    ]);
    out.push(table(rows, ['WHERE', 'TIME', 'KIND', 'CPU', 'TASK', 'CULPRIT']).replace(/^/gm, '  '));
    if (r.events.length > 60) out.push(`  (+${r.events.length - 60} more)`);
  }
  return out.join('\n') + '\n';
}
