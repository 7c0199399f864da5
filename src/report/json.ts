/** The JSON view of a diagnosis: plain data following ReportSchema. */
import type { CaseFile } from '../model/casefile.ts';
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { cite, type Fact } from '../model/provenance.ts';
import type { Frame } from '../model/trace.ts';
import type { Diagnosis } from '../diagnose/index.ts';
import type { Report } from './schema.ts';
import { SCHEMA_VERSION } from './schema-version.ts';
import { withCoronerCommands } from './confirm.ts';

export const TOOL_VERSION = '0.1.0';

function frame(f: Frame): Report['events'][number]['trace'][number] {
  const out: Report['events'][number]['trace'][number] = { function: f.function, reliable: f.reliable, stack: f.stack };
  if (f.offset !== undefined) out.offset = f.offset;
  if (f.size !== undefined) out.size = f.size;
  if (f.module) out.module = f.module;
  if (f.address) out.address = f.address;
  if (f.line !== undefined) out.line = f.line;
  if (f.source) out.source = f.source;
  if (f.inline) out.inline = true;
  return out;
}

function evidence(fact: Fact): Report['findings'][number]['evidence'][number] {
  const p = fact.from;
  const base = { text: fact.text, kind: p.kind, cite: cite(p) };
  switch (p.kind) {
    case 'log':
      return { ...base, source: p.source, line: p.line, ...(p.endLine !== undefined ? { endLine: p.endLine } : {}) };
    case 'text':
      return { ...base, source: p.source, line: p.line };
    case 'dump':
      return { ...base, source: p.source, ...(p.address !== undefined ? { address: p.address.toString(16) } : {}) };
    case 'live':
      return { ...base, source: p.path };
  }
}

/** JSON-safe copy of event details (bigints as hex strings). */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? {}, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x)));
}

function event(e: LogEvent): Report['events'][number] {
  return {
    id: e.id,
    kind: e.kind,
    title: e.title,
    source: e.source,
    line: e.line,
    endLine: e.endLine,
    timestamp: e.timestamp ?? null,
    cpu: e.cpu ?? null,
    task: e.task ? { comm: e.task.comm, pid: e.task.pid } : null,
    culprit: e.culprit ? { function: e.culprit.function, ...(e.culprit.module ? { module: e.culprit.module } : {}) } : null,
    ...(e.details.report ? { report: { ...e.details.report } } : {}),
    ...(e.release ? { release: e.release } : {}),
    ...(e.taint ? { taint: e.taint } : {}),
    trace: e.trace.map(frame),
    registers: e.registers.map((r) => ({
      values: { ...r.values },
      ...(r.pcSymbol ? { pc: `${r.pcSymbol.function}${r.pcSymbol.offset !== undefined ? `+0x${r.pcSymbol.offset.toString(16)}` : ''}` } : {}),
      ...(r.mode ? { mode: r.mode } : {}),
      ...(r.irqsEnabled !== undefined ? { irqsEnabled: r.irqsEnabled } : {}),
    })),
    ...(e.code ? { code: e.code.unavailable ? '(unavailable)' : e.code.bytes } : {}),
    details: plain(e.details) as Record<string, unknown>,
  };
}

function findingView(f: Finding, vmcore?: string): Report['findings'][number] {
  return {
    id: f.id,
    kind: f.kind,
    role: f.role,
    summary: f.summary,
    confidence: Math.round(f.confidence * 100) / 100,
    subjects: f.subjects.map((s) => ({ ...s })),
    evidence: f.evidence.map(evidence),
    steps: f.steps,
    confirm: withCoronerCommands(f.confirm, vmcore),
    causedBy: f.causedBy ?? [],
    knownIssue: f.knownIssue ? { ...f.knownIssue } : null,
    extra: plain(f.extra) as Record<string, unknown>,
    ...(f.nodes?.length ? { nodes: [...f.nodes] } : {}),
  };
}

export function buildReport(c: CaseFile, d: Diagnosis): Report {
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'coroner', version: TOOL_VERSION },
    sources: c.sources.map((s) => ({
      kind: s.kind,
      path: s.path,
      format: s.format,
      lines: s.lines ?? null,
      notes: s.notes,
      incomplete: s.incomplete ?? false,
    })),
    system: {
      release: c.system.release ?? null,
      arch: c.system.arch ?? null,
      hardware: c.system.hardware ?? null,
      taint: c.system.taint ?? null,
      cpus: c.system.cpus ?? null,
      commandLine: c.system.commandLine ?? null,
      uptime: c.system.uptime ?? null,
      panic: c.system.panic ?? null,
    },
    events: c.events.map(event),
    cpus: c.cpus.map((cpu) => ({
      cpu: cpu.cpu,
      task: cpu.task ? { comm: cpu.task.comm, pid: cpu.task.pid } : null,
      irqsEnabled: cpu.irqsEnabled ?? null,
      mode: cpu.mode ?? null,
      idle: cpu.idle ?? null,
      pc: cpu.registers?.pcSymbol ? `${cpu.registers.pcSymbol.function}${cpu.registers.pcSymbol.offset !== undefined ? `+0x${cpu.registers.pcSymbol.offset.toString(16)}` : ''}` : (cpu.registers?.values.rip ?? cpu.registers?.values.pc ?? null),
      stack: (cpu.stack ?? []).map(frame),
      events: cpu.events,
    })),
    tasks: c.tasks.map((t) => ({
      pid: t.pid,
      tgid: t.tgid ?? null,
      ppid: t.ppid ?? null,
      comm: t.comm,
      state: t.state ?? null,
      cpu: t.cpu ?? null,
      blockedSeconds: t.blockedSeconds ?? null,
      startTime: t.startTime ?? null,
      stack: (t.stack ?? []).map(frame),
      events: t.events,
    })),
    objects: c.objects.map((o) => ({ id: o.id, kind: o.kind, symbol: o.symbol ?? null, address: o.address ?? null, observed: { ...o.observed } })),
    // With a vmcore, each crash command a finding offers comes after the Coroner command showing the same from the dump alone.
    findings: d.findings.map((f) => findingView(f, c.sources.find((x) => x.kind === 'dump' && (x as { used?: boolean }).used !== false)?.path)),
    graph: {
      nodes: [...d.graph.nodes.values()].map((n) => ({ id: n.id, kind: n.kind, label: n.label, findings: n.findings })),
      edges: d.graph.edges.map((e) => ({ from: e.from, to: e.to, kind: e.kind, finding: e.finding, ...(e.label ? { label: e.label } : {}) })),
    },
    verdict: { ...d.verdict },
    incomplete: c.sources.some((s) => s.incomplete) || d.errors.length > 0,
    ...(d.errors.length ? { diagnosisErrors: d.errors } : {}),
  };
}
