/** Kernel-log evidence -> CaseFile: events, and the CPU and task facts they reveal. */
import { cpuOf, taskOf, type CaseFile } from '../model/casefile.ts';
import type { LogEvent } from '../model/event.ts';
import type { Fact } from '../model/provenance.ts';
import type { RegisterSet } from '../model/trace.ts';
import type { ParsedLog } from './log/index.ts';
import { codeLoopOf } from './log-code.ts';

/** Adds one parsed log to the CaseFile. Event ids are renumbered so several logs can share one CaseFile. */
export function addParsedLog(c: CaseFile, log: ParsedLog, kind: 'log' | 'dump' = 'log'): void {
  c.sources.push({
    kind,
    path: log.source,
    format: log.format,
    notes: [...log.notes],
    incomplete: log.incomplete ?? false,
    lines: log.lines,
  });
  mergeSystem(c, log);
  // The same report seen in two logs of one incident (console.log and vmcore-dmesg.txt) counts once.
  const fresh = log.events.filter((e) => !c.events.some((x) => sameReport(x, e)));
  const dropped = log.events.length - fresh.length;
  if (dropped) c.sources[c.sources.length - 1].notes.push(`${dropped} event(s) already seen in another source were merged`);
  const idMap = new Map<string, string>();
  for (const e of fresh) idMap.set(e.id, `e${c.events.length + idMap.size + 1}`);
  for (const original of fresh) {
    const e: LogEvent = { ...original, id: idMap.get(original.id)! };
    if (e.related) e.related = e.related.map((r) => idMap.get(r)).filter((r): r is string => r !== undefined);
    c.events.push(e);
    applyEvent(c, e);
  }
}

function sameReport(a: LogEvent, b: LogEvent): boolean {
  return a.source !== b.source && a.kind === b.kind && a.title === b.title && a.timestamp === b.timestamp && a.cpu === b.cpu;
}

function mergeSystem(c: CaseFile, log: ParsedLog): void {
  const s = c.system;
  const l = log.system;
  s.release ??= l.release;
  s.arch ??= l.arch;
  s.hardware ??= l.hardware;
  s.taint = l.taint ?? s.taint;
  s.cpus = Math.max(s.cpus ?? 0, l.cpus ?? 0) || undefined;
  s.commandLine ??= l.commandLine;
  s.kdumpCaptureBoot ??= l.kdumpCaptureBoot;
  s.hostname ??= l.hostname;
  if (l.uptime !== undefined) s.uptime = Math.max(s.uptime ?? 0, l.uptime);
  s.facts.push(...l.facts);
  const panic = log.events.find((e) => e.kind === 'panic');
  if (panic && !s.panic) s.panic = panic.title;
}

/** The register set of the innermost kernel context of an event (the first one printed). */
export function innermostRegisters(e: LogEvent): RegisterSet | undefined {
  return e.registers[0];
}

function applyEvent(c: CaseFile, e: LogEvent): void {
  if (e.code && !e.details.codeLoop) {
    try {
      const loop = codeLoopOf(e);
      if (loop) e.details = { ...e.details, codeLoop: loop };
    } catch {
      // Undecodable bytes are no fact: leave the event as the log had it.
    }
  }
  const fact: Fact = { text: e.title, from: { kind: 'log', source: e.source, line: e.line, endLine: e.endLine } };
  if (e.cpu !== undefined && e.kind !== 'hung-task' && e.kind !== 'sysrq-blocked' && e.kind !== 'sysrq-tasks') {
    const cpu = cpuOf(c, e.cpu);
    cpu.events.push(e.id);
    cpu.facts.push(fact);
    if (e.task) cpu.task = { ...e.task };
    if (e.trace.length > 0 && !e.details.idle) {
      cpu.stack = e.trace;
      cpu.stackFrom = fact.from;
    }
    const regs = innermostRegisters(e);
    if (regs) {
      cpu.registers = regs;
      if (regs.irqsEnabled !== undefined) cpu.irqsEnabled = regs.irqsEnabled;
      if (regs.mode) cpu.mode = regs.mode;
    }
    if (e.details.idle) cpu.idle = true;
  }
  if (e.task && e.kind !== 'sysrq-blocked' && e.kind !== 'sysrq-tasks') {
    const t = taskOf(c, e.task.pid, e.task.comm);
    t.events.push(e.id);
    t.facts.push(fact);
    if (e.kind === 'hung-task') {
      t.state = 'D';
      if (e.details.seconds !== undefined) t.blockedSeconds = Math.max(t.blockedSeconds ?? 0, e.details.seconds);
      if (e.details.ppid !== undefined) t.ppid = e.details.ppid;
      if (e.trace.length) {
        t.stack = e.trace;
        t.stackFrom = fact.from;
      }
    } else if (e.cpu !== undefined) {
      t.cpu = e.cpu;
      if (!t.state) t.state = 'R';
    }
  }
  for (const listed of e.details.tasks ?? []) {
    const t = taskOf(c, listed.pid, listed.comm);
    t.events.push(e.id);
    const letter = listed.state.trim().charAt(0).toUpperCase();
    if ('RSDTZXI'.includes(letter)) t.state = letter as 'R';
    if (listed.trace.length) {
      t.stack = listed.trace;
      t.stackFrom = { kind: 'log', source: e.source, line: listed.line };
    }
  }
}
