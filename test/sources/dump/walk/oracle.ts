/** Parses crash's `bt` output (bt -a, foreach bt) into comparable records. */

export interface CrashRegs {
  rip?: bigint;
  rsp?: bigint;
  rflags?: bigint;
  cs?: bigint;
}

export interface CrashBt {
  pid: number;
  task: string;
  cpu: number;
  comm: string;
  /** Function names in order: numbered frames and `[exception RIP: f+N]` lines, consecutive duplicates collapsed. */
  functions: string[];
  /** Frames crash marked `?` (not reliable). */
  unreliable: string[];
  /** `[exception RIP: f+N]` with the register block under it. */
  exceptions: Array<{ func: string; offset: number } & CrashRegs>;
  /** The user-mode register block at the bottom (`RIP: 00000000...`), if any. */
  user?: CrashRegs;
}

const HEAD = /^PID: (\d+)\s+TASK: ([0-9a-f]+)\s+CPU: (\d+)\s+COMMAND: "(.*)"/;

export function collapse(xs: string[]): string[] {
  return xs.filter((x, i) => i === 0 || xs[i - 1] !== x);
}

export function parseCrashBt(text: string): CrashBt[] {
  const out: CrashBt[] = [];
  let cur: (CrashBt & { raw: string[] }) | undefined;
  let regsOf: CrashRegs | undefined;
  for (const line of text.split('\n')) {
    const h = HEAD.exec(line);
    if (h) {
      cur = { pid: Number(h[1]), task: h[2], cpu: Number(h[3]), comm: h[4], functions: [], unreliable: [], exceptions: [], raw: [] };
      out.push(cur);
      regsOf = undefined;
      continue;
    }
    if (!cur) continue;
    const ex = /^\s+\[exception RIP: ([^+\]]+)(?:\+(\d+))?\]/.exec(line);
    if (ex) {
      const e: CrashBt["exceptions"][number] = { func: ex[1], offset: Number(ex[2] ?? 0) };
      cur.exceptions.push(e);
      cur.raw.push(ex[1]);
      regsOf = e;
      continue;
    }
    const fr = /^\s*#\d+ \[[0-9a-f]+\] (\? )?(\S+) at ([0-9a-f]+)/.exec(line);
    if (fr) {
      if (fr[1]) cur.unreliable.push(fr[2]);
      else cur.raw.push(fr[2]);
      cur.functions = collapse(cur.raw);
      regsOf = undefined;
      continue;
    }
    const rip = /^\s+RIP: ([0-9a-f]+)\s+RSP: ([0-9a-f]+)\s+RFLAGS: ([0-9a-f]+)/.exec(line);
    if (rip) {
      const r: CrashRegs = { rip: BigInt('0x' + rip[1]), rsp: BigInt('0x' + rip[2]), rflags: BigInt('0x' + rip[3]) };
      if (regsOf) Object.assign(regsOf, r);
      else cur.user = r;
      continue;
    }
    const cs = /CS: ([0-9a-f]+)/.exec(line);
    if (cs && /^\s+(ORIG_RAX|CS)/.test(line)) {
      const target = regsOf ?? cur.user;
      if (target) target.cs = BigInt('0x' + cs[1]);
      regsOf = undefined;
    }
  }
  for (const c of out) c.functions = collapse((c as CrashBt & { raw: string[] }).raw);
  return out;
}

/** crash `ps` rows: `>` current marker, pid, ppid, cpu, task, state, comm (brackets removed). */
export interface CrashPs {
  current: boolean;
  pid: number;
  ppid: number;
  cpu: number;
  task: string;
  st: string;
  vsz: number;
  rss: number;
  comm: string;
  kthread: boolean;
}

export function parseCrashPs(text: string): CrashPs[] {
  const out: CrashPs[] = [];
  for (const line of text.split('\n')) {
    const m = /^(>?)\s*(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{16})\s+([A-Z]{2})\s+[\d.]+\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const comm = m[9].trimEnd();
    const kthread = /^\[.*\]$/.test(comm);
    out.push({ current: m[1] === '>', pid: Number(m[2]), ppid: Number(m[3]), cpu: Number(m[4]), task: m[5], st: m[6], vsz: Number(m[7]), rss: Number(m[8]), comm: kthread ? comm.slice(1, -1) : comm, kthread });
  }
  return out;
}
