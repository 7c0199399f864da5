/**
 * Pasted perf output -> CaseFile: each sampled thread with its user PC samples (call chains), activity over the sampled
 * window (on-CPU samples, CPU time from cpu-clock periods, user/kernel split, kernel entries) and the counters of a
 * `perf stat` of the same process (cycles, instructions, page faults, signals); the hot instruction from
 * `perf annotate`. The frozen-instruction detector reads these as it reads a live host's.
 */
import { taskOf, type CaseFile, type CodeAtPc, type PcSample, type TaskActivity } from '../../model/casefile.ts';
import { instructionFromText } from './att.ts';
import type { PerfFrame, PerfSample, PerfStat, PerfText } from './perf.ts';

const frameText = (f: PerfFrame) => (f.symbol ? `${f.symbol}${f.dso ? ` (${f.dso})` : ''}` : f.address.toString(16));

/** A stat block is about this thread: its pid or tid, or the command that started it (`./spin` for comm `spin`). */
function statOf(stats: PerfStat[], s: PerfSample): PerfStat | undefined {
  return stats.find((x) => x.target === `process id ${s.pid}` || x.target === `thread id ${s.tid}` || (!/^(process|thread) id|system wide|CPU\(s\)/.test(x.target) && x.target.split(/\s+/).some((w) => w.replace(/^.*\//, '') === s.comm)));
}

export function addPerfText(c: CaseFile, p: PerfText, source: string): void {
  if (p.report.length) {
    c.profile = [...(c.profile ?? []), ...p.report.map((r) => ({ percent: r.percent, symbol: r.symbol, ...(r.dso ? { dso: r.dso } : {}), kernel: r.kernel, ...(r.comm ? { comm: r.comm } : {}), callers: r.callers, ...(p.reportSamples ? { samples: `${p.reportSamples.count} samples of ${p.reportSamples.event}` } : {}), from: { kind: 'text' as const, source, line: r.line } }))];
  }
  const byTid = new Map<number, PerfSample[]>();
  for (const s of p.samples) byTid.set(s.tid, [...(byTid.get(s.tid) ?? []), s]);
  for (const [tid, all] of byTid) {
    // The thread's own samples after exec (a command's first samples belong to the shell or loader that started it).
    const comm = all[all.length - 1].comm;
    const samples = all.filter((s) => s.comm === comm);
    if (samples.length < 2) continue;
    const t = taskOf(c, tid, comm);
    t.tgid = samples[0].pid;
    const pcs: PcSample[] = [];
    const entries: string[] = [];
    let kernelSamples = 0;
    for (const s of samples) {
      const user = s.frames.filter((f) => !f.kernel);
      const kernel = s.frames.filter((f) => f.kernel);
      if (kernel.length) kernelSamples++;
      entries.push(kernel.length ? (kernel[kernel.length - 1].symbol ?? '').replace(/\+0x[0-9a-f]+$/, '') : '');
      if (!user.length) continue;
      const pc = user[0];
      pcs.push({ pc: pc.address.toString(16), ...(pc.symbol ? { pcSymbol: pc.symbol } : {}), userStack: user.slice(1).map(frameText), ...(kernel.length ? { kernelStack: kernel.map((f) => (f.symbol ?? f.address.toString(16)).replace(/\+0x[0-9a-f]+$/, '')) } : {}) });
    }
    const first = samples[0].time;
    const last = samples[samples.length - 1].time;
    const stat = statOf(p.stats, samples[0]);
    const seconds = stat?.elapsed ?? Math.max(last - first, 1e-3);
    // A cpu-clock/task-clock sample stands for its period in ns of CPU time; other events say the thread ran, not how long.
    const timed = samples.every((s) => /^(cpu-clock|task-clock)/.test(s.event) && s.period !== undefined);
    const cpuSeconds = timed ? samples.reduce((n, s) => n + s.period!, 0) / 1e9 : undefined;
    const act: TaskActivity = {
      seconds,
      // Every sample of an on-CPU event was taken while the thread ran.
      states: samples.map(() => 'R'),
      kernelEntries: entries,
      from: { kind: 'text', source, line: samples[0].line },
      notes: [],
    };
    const taskClock = stat?.counters.find((x) => /^(task-clock|cpu-clock)$/.test(x.event))?.value;
    if (stat?.userSeconds !== undefined && stat.sysSeconds !== undefined) {
      act.userSeconds = stat.userSeconds;
      act.systemSeconds = stat.sysSeconds;
    } else if (taskClock !== undefined) {
      // perf stat's task-clock (msec) is the thread's CPU time; the samples tell how it splits between user and kernel.
      act.systemSeconds = (taskClock / 1000) * (kernelSamples / samples.length);
      act.userSeconds = taskClock / 1000 - act.systemSeconds;
    } else if (cpuSeconds !== undefined) {
      act.systemSeconds = (cpuSeconds * kernelSamples) / samples.length;
      act.userSeconds = cpuSeconds - act.systemSeconds;
    } else act.notes!.push('CPU time unknown: the samples are not of cpu-clock/task-clock and no perf stat of this thread was pasted');
    const counter = (re: RegExp) => stat?.counters.find((x) => re.test(x.event));
    const num = (re: RegExp) => counter(re)?.value;
    const faults = num(/^(page-faults|faults)$/);
    if (faults !== undefined) act.pageFaults = faults;
    const sigs = num(/^signal:signal_deliver$/);
    if (sigs !== undefined) act.signalsDelivered = sigs;
    const cycles = counter(/^cycles/);
    const insns = counter(/^instructions/);
    if (cycles?.value !== undefined && insns?.value !== undefined) {
      act.cycles = cycles.value;
      act.instructions = insns.value;
    } else if (cycles || insns) act.notes!.push(`IPC unknown: cycles/instructions ${cycles?.missing ?? insns?.missing ?? 'not counted'}`);
    const switches = num(/^(context-switches|cs)$/);
    if (switches !== undefined) act.involuntarySwitches = switches;
    t.activity = act;
    t.samples = pcs;
    t.state ??= 'R';
    t.facts.push({ text: `${comm}:${tid}: ${samples.length} perf samples (${samples[0].event}) over ${(last - first).toFixed(2)} s`, from: { kind: 'text', source, line: samples[0].line } });
    // The hot instruction of its binary, from perf annotate.
    const dso = pcs[0] ? samples.flatMap((s) => s.frames).find((f) => !f.kernel && f.dso)?.dso : undefined;
    const hot = p.annotations.filter((a) => a.percent >= 50 && (!a.dso || !dso || dso.endsWith(a.dso) || a.dso === comm)).sort((a, b) => b.percent - a.percent)[0];
    if (hot) {
      const block = p.annotations.filter((a) => a.dso === hot.dso && a.symbol === hot.symbol).sort((a, b) => (a.address < b.address ? -1 : 1));
      const next = block.find((a) => a.address > hot.address)?.address;
      const insn = instructionFromText(hot.address, hot.text.replace(/\s+<[^>]*>\s*$/, '').replace(/^(j\w*|call\w*)\s+([0-9a-f]+)$/, (_, m, a) => `${m} 0x${a}`), next);
      const code: CodeAtPc = {
        address: hot.address.toString(16),
        bytes: '',
        text: hot.text,
        flow: insn.flow,
        ...(insn.target !== undefined ? { target: insn.target.toString(16), branchesToItself: insn.target === hot.address } : { branchesToItself: false }),
        ...(/^(rep|repz|repnz|repe|repne)\b/.test(hot.text) ? { repeats: true } : {}),
        from: { kind: 'text', source, line: hot.line },
      };
      t.code = code;
    }
  }
}
