/**
 * perf output pasted as text: `perf stat` (counters of a command, a process, a thread or per CPU), `perf script`
 * samples (comm, pid/tid, CPU, time, period, event, then the call chain), `perf annotate --stdio` (percent per
 * instruction) and `perf report --stdio` (overhead per symbol). Recognised by shape; other lines are left to the
 * crash and log parsers.
 */

export interface PerfCounter {
  event: string;
  /** undefined for `<not supported>` / `<not counted>`. */
  value?: number;
  /** `not supported` / `not counted`. */
  missing?: string;
  /** `CPU3` for `perf stat -A`, `comm-tid` for `--per-thread`. */
  scope?: string;
  line: number;
}

export interface PerfStat {
  /** `timeout 2 ./spin` (a command), `process id 1234`, `thread id 1240`, `system wide`, `CPU(s) 0-3`. */
  target: string;
  counters: PerfCounter[];
  elapsed?: number;
  userSeconds?: number;
  sysSeconds?: number;
  line: number;
}

export interface PerfFrame {
  address: bigint;
  symbol?: string;
  dso?: string;
  kernel: boolean;
}

export interface PerfSample {
  comm: string;
  pid: number;
  tid: number;
  cpu?: number;
  time: number;
  period?: number;
  event: string;
  /** Innermost first. */
  frames: PerfFrame[];
  line: number;
}

export interface PerfAnnotation {
  /** Binary and symbol the block annotates (`spin`, `main`). */
  dso?: string;
  symbol?: string;
  percent: number;
  address: bigint;
  text: string;
  line: number;
}

export interface PerfReportLine {
  percent: number;
  comm?: string;
  dso: string;
  kernel: boolean;
  symbol: string;
  /** The hottest caller chain under it in a call-graph report, innermost first. */
  callers: string[];
  line: number;
}

export interface PerfText {
  stats: PerfStat[];
  samples: PerfSample[];
  annotations: PerfAnnotation[];
  report: PerfReportLine[];
  /** `# Samples: 7K of event 'cpu-clock'` of a report. */
  reportSamples?: { count: string; event: string };
  /** 1-based numbers of the lines read as perf output. */
  consumed: Set<number>;
}

const STAT_HEAD = /^\s*Performance counter stats for (?:(process id|thread id) '([^']+)'|'([^']+)'|(system wide)|'(CPU\(s\) [^']+)')/;
const STAT_LINE = /^\s*(?:(CPU\d+|\S+-\d+)\s+)?(<not supported>|<not counted>|[\d,]+(?:\.\d+)?)\s+(?:msec\s+)?([\w:./-]+(?:\/[^/\s]*\/)?[\w:]*)(?:\s+#.*)?(?:\s+\([\d.]+%\))?\s*$/;
const SAMPLE_HEAD = /^\s*(\S(?:.*?\S)?)\s+(\d+)(?:\/(\d+))?\s+(?:\[(\d+)\]\s+)?(\d+\.\d+):\s+(?:(\d+)\s+)?([\w:./-]+(?:\/[^/\s]*\/)?[\w:]*):\s*(?:([0-9a-f]+)\s+(.*?))?\s*$/;
const CHAIN = /^\s+([0-9a-f]+)\s+(.*?)\s+\(([^)]*)\)\s*$/;
const ANNOTATE_HEAD = /^\s*Percent\s+\|\s+Source code & Disassembly of (\S+) for/;
const ANNOTATE = /^\s*(\d+\.\d+)\s*:\s+([0-9a-f]+):\s+(.*?)\s*$/;
const ANNOTATE_SYMBOL = /^\s*:\s*\d*\s+([0-9a-f]+) <([^>]+)>:\s*$/;
const REPORT = /^\s*[+-]?\s*(\d+\.\d+)%\s+(?:\d+\.\d+%\s+)?(?:(\S+)\s+)?(\S+)\s+\[([.kgu])\]\s+(.+?)\s*$/;

/** Kernel text on x86_64 and arm64 lives in the upper half. */
const kernelAddress = (a: bigint) => a >= 0xffff800000000000n;

export function looksLikePerfText(text: string): boolean {
  // A report pasted alone: a few lines of `NN.NN%  [dso]  [k] symbol`.
  const head = text.split('\n', 2000);
  let hits = 0;
  for (const l of head) {
    if (STAT_HEAD.test(l) || ANNOTATE_HEAD.test(l) || (SAMPLE_HEAD.test(l) && /:\s*$|:\s+[0-9a-f]+ /.test(l)) || REPORT.test(l) || /^\s+---[A-Za-z_]/.test(l)) hits++;
    if (hits >= 2 || STAT_HEAD.test(l) || ANNOTATE_HEAD.test(l)) return true;
  }
  return false;
}

const number = (s: string) => Number(s.replace(/,/g, ''));

export function parsePerfText(text: string): PerfText {
  const lines = text.split(/\r?\n/).map((l) => l.replace(/^\s*> ?(?=\s)/, ''));
  const out: PerfText = { stats: [], samples: [], annotations: [], report: [], consumed: new Set() };
  let stat: PerfStat | undefined;
  let sample: PerfSample | undefined;
  let annotate: { dso?: string; symbol?: string } | undefined;
  const graphs = new Map<PerfReportLine, string[]>();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const n = i + 1;
    const use = () => out.consumed.add(n);
    const sh = STAT_HEAD.exec(l);
    if (sh) {
      stat = { target: sh[1] ? `${sh[1]} ${sh[2]}` : (sh[3] ?? sh[4] ?? sh[5]), counters: [], line: n };
      out.stats.push(stat);
      sample = annotate = undefined;
      use();
      continue;
    }
    if (stat) {
      const el = /^\s*([\d.]+) seconds (time elapsed|user|sys)\s*$/.exec(l);
      if (el) {
        const v = Number(el[1]);
        if (el[2] === 'time elapsed') stat.elapsed = v;
        else if (el[2] === 'user') stat.userSeconds = v;
        else stat.sysSeconds = v;
        use();
        continue;
      }
      const c = STAT_LINE.exec(l);
      if (c && !SAMPLE_HEAD.test(l)) {
        const missing = /^<not (supported|counted)>$/.exec(c[2]);
        stat.counters.push({ event: c[3], ...(missing ? { missing: `not ${missing[1]}` } : { value: number(c[2]) }), ...(c[1] ? { scope: c[1] } : {}), line: n });
        use();
        continue;
      }
      if (!l.trim()) {
        use();
        continue;
      }
      if (!/^\s+[\d.]+ \+- /.test(l)) stat = undefined;
    }
    const ah = ANNOTATE_HEAD.exec(l);
    if (ah) {
      annotate = { dso: ah[1] };
      sample = undefined;
      use();
      continue;
    }
    if (annotate) {
      const sym = ANNOTATE_SYMBOL.exec(l);
      if (sym) annotate.symbol = sym[2];
      const a = ANNOTATE.exec(l);
      if (a) {
        out.annotations.push({ ...annotate, percent: Number(a[1]), address: BigInt('0x' + a[2]), text: a[3], line: n });
        use();
        continue;
      }
      if (/^\s*:/.test(l) || /^-{10,}/.test(l) || !l.trim()) {
        use();
        continue;
      }
      annotate = undefined;
    }
    const s = SAMPLE_HEAD.exec(l);
    if (s) {
      const pid = Number(s[2]);
      sample = { comm: s[1], pid, tid: s[3] ? Number(s[3]) : pid, ...(s[4] ? { cpu: Number(s[4]) } : {}), time: Number(s[5]), ...(s[6] ? { period: Number(s[6]) } : {}), event: s[7], frames: [], line: n };
      if (s[8]) sample.frames.push(frameOf(s[8], s[9]));
      out.samples.push(sample);
      use();
      continue;
    }
    if (sample) {
      const f = CHAIN.exec(l);
      if (f) {
        sample.frames.push(frameOf(f[1], `${f[2]} (${f[3]})`));
        use();
        continue;
      }
      if (!l.trim()) {
        use();
        continue;
      }
      sample = undefined;
    }
    const samples = /^#\s*Samples:\s*(\S+)\s+of event '([^']+)'/.exec(l);
    if (samples) {
      out.reportSamples = { count: samples[1], event: samples[2] };
      use();
      continue;
    }
    const r = REPORT.exec(l);
    if (r) {
      // The same entry again (a report's detail section under its flat list): its graph lines belong to the first.
      const again = out.report.find((x) => x.symbol === r[5] && x.percent === Number(r[1]));
      if (again) out.report.push(out.report.splice(out.report.indexOf(again), 1)[0]);
      else out.report.push({ percent: Number(r[1]), ...(r[2] ? { comm: r[2] } : {}), dso: r[3], kernel: r[4] === 'k', symbol: r[5], callers: [], line: n });
      use();
      continue;
    }
    // A report's call graph under its entry (stdio `---f`, `|--61.10%--f`, `|  f`; TUI `- 68.80% f`, `- f`, `  f`).
    const last = out.report[out.report.length - 1];
    if (last && /^\s+(?:[|`]|---|-\s|\d+\.\d+%--|--\d|[A-Za-z_][\w.]*\s*$)/.test(l)) {
      graphs.set(last, [...(graphs.get(last) ?? []), l]);
      use();
      continue;
    }
    if (/^#/.test(l) && (out.report.length || out.reportSamples || /^# (To display|Overhead|Total Lost|Event count|\.{3})/.test(l))) use();
  }
  for (const [entry, lines] of graphs) entry.callers = hottestPath(lines, entry.symbol);
  return out;
}

/**
 * The first (hottest) path down a call graph: names in order until a branch marker (`|--N%--`, `--N%--`, `- N%`)
 * appears at or left of the column where the path last branched.
 */
function hottestPath(lines: string[], symbol: string): string[] {
  const out: string[] = [];
  let branchCol = -1;
  for (const l of lines) {
    const marker = /(\|?--\d+\.\d+%--|-\s+\d+\.\d+%\s)/.exec(l);
    if (marker) {
      if (branchCol >= 0 && marker.index <= branchCol && out.length) break;
      branchCol = marker.index;
    }
    const name = /([A-Za-z_][\w.]*)\s*(?:\(inlined\))?\s*$/.exec(l)?.[1];
    if (!name || (out.length === 0 && name === symbol.replace(/\s.*$/, ''))) continue;
    if (out[out.length - 1] !== name) out.push(name);
  }
  return out;
}

/** `55d0c0a0112d main+0x7a (/usr/bin/vmm)` or a sample line's `ip sym (dso)`. */
function frameOf(addr: string, rest: string | undefined): PerfFrame {
  const address = BigInt('0x' + addr);
  const m = rest ? /^(.*?)\s*\(([^)]*)\)\s*$/.exec(rest) : null;
  const symbol = m ? m[1] : rest;
  const dso = m ? m[2] : undefined;
  return { address, ...(symbol && symbol !== '[unknown]' ? { symbol } : {}), ...(dso && dso !== '[unknown]' ? { dso } : {}), kernel: kernelAddress(address) || dso === '[kernel.kallsyms]' };
}
