/** Builders for hand-made CaseFiles: detectors are tested on edge cases no fixture has. */
import { emptyCaseFile, type CaseFile } from '../../src/model/casefile.ts';
import type { EventKind, LogEvent } from '../../src/model/event.ts';
import type { Frame, RegisterSet } from '../../src/model/trace.ts';
import { addParsedLog } from '../../src/sources/log-case.ts';

let line = 1;

export function frames(spec: string, stack: Frame['stack'] = 'task'): Frame[] {
  return spec
    .split(/\s*<-\s*/)
    .filter(Boolean)
    .map((s) => {
      const unreliable = s.startsWith('? ');
      const name = s.replace(/^\? /, '');
      const [fn, mod] = name.split(' [');
      return { function: fn, reliable: !unreliable, stack, ...(mod ? { module: mod.replace(']', '') } : {}) };
    });
}

export function regs(fn: string, values: Record<string, string>, mode: 'kernel' | 'user' = 'kernel'): RegisterSet {
  const eflags = values.eflags;
  return {
    arch: 'x86_64',
    values,
    pcSymbol: mode === 'kernel' ? { function: fn, offset: 0x30, size: 0x2a0 } : undefined,
    mode,
    irqsEnabled: eflags ? (parseInt(eflags, 16) & 0x200) !== 0 : undefined,
    line: line,
  };
}

export function ev(kind: EventKind, title: string, parts: Partial<LogEvent> = {}): LogEvent {
  const start = line;
  line += 10;
  return {
    id: `e${start}`,
    kind,
    title,
    source: 'test.log',
    line: start,
    endLine: start + 9,
    registers: [],
    trace: [],
    details: {},
    ...parts,
  };
}

export function caseOf(events: LogEvent[]): CaseFile {
  const c = emptyCaseFile();
  addParsedLog(c, { source: 'test.log', format: 'dmesg', lines: line, events, system: { facts: [] }, notes: [] });
  return c;
}
