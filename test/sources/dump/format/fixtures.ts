/** Locating the shared real vmcores (CI has shared/ beside the checkout). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const fixturesDir = path.resolve(repoRoot, '../shared/fixtures');

export interface Fixture {
  /** `<kernel>/<scenario>` */
  name: string;
  dir: string;
  vmcore: string;
  /** Made by the kernel's kdump path (makedumpfile -d 31) rather than by QEMU. */
  kdump: boolean;
  /** From the kernel directory's `config`: `x86_64` or `arm64`. */
  arch: string;
}

/** The architecture a fixture kernel directory was built for (its `config`). */
export function fixtureArch(kernelDir: string): string {
  const cfg = path.join(kernelDir, 'config');
  if (!existsSync(cfg)) return 'x86_64';
  const text = readFileSync(cfg, 'latin1');
  return /^CONFIG_ARM64=y$/m.test(text) ? 'arm64' : 'x86_64';
}

/** Architectures whose dumps Coroner reads today (arm64 is issue 16). */
export const READABLE_ARCHES = new Set(['x86_64']);

/** Every vmcore of a readable architecture under the fixtures directory: `*\/*\/vmcore.kdump` (QEMU) and `*\/*\/vmcore` (kdump). */
export function listFixtures(): Fixture[] {
  return allFixtures().filter((f) => READABLE_ARCHES.has(f.arch));
}

/** Every vmcore under the fixtures directory, whatever its architecture. */
export function allFixtures(): Fixture[] {
  if (!existsSync(fixturesDir)) return [];
  const out: Fixture[] = [];
  for (const kernel of readdirSync(fixturesDir).sort()) {
    const kdir = path.join(fixturesDir, kernel);
    let scenarios: string[];
    try {
      scenarios = readdirSync(kdir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    } catch {
      continue;
    }
    for (const s of scenarios) {
      const dir = path.join(kdir, s);
      for (const [file, kdump] of [['vmcore.kdump', false], ['vmcore', true]] as const) {
        const p = path.join(dir, file);
        if (existsSync(p)) out.push({ name: `${kernel}/${s}`, dir, vmcore: p, kdump, arch: fixtureArch(kdir) });
      }
    }
  }
  return out;
}

export const noFixtures = listFixtures().length === 0 ? `no fixtures at ${fixturesDir}` : false;

/** Per CPU, the register lines crash printed: `RIP: x RSP: y RFLAGS: z` pairs, and whether the block starts at machine_kexec (the panic CPU). */
export function crashBtRegisters(text: string): Map<number, { pairs: Array<{ rip: bigint; rsp: bigint; rflags: bigint; beforeFrames: boolean }>; panicCpu: boolean; firstFrameSp?: bigint }> {
  const out = new Map<number, { pairs: Array<{ rip: bigint; rsp: bigint; rflags: bigint; beforeFrames: boolean }>; panicCpu: boolean; firstFrameSp?: bigint }>();
  let cur: { pairs: Array<{ rip: bigint; rsp: bigint; rflags: bigint; beforeFrames: boolean }>; panicCpu: boolean; firstFrameSp?: bigint } | undefined;
  for (const line of text.split('\n')) {
    const pid = /^PID:.*\bCPU:\s+(\d+)/.exec(line);
    if (pid) {
      cur = { pairs: [], panicCpu: false };
      out.set(Number(pid[1]), cur);
      continue;
    }
    if (!cur) continue;
    const f0 = /^\s*#0 \[([0-9a-f]+)\] (\S+)/.exec(line);
    if (f0) {
      cur.firstFrameSp = BigInt(`0x${f0[1]}`);
      if (f0[2] === 'machine_kexec') cur.panicCpu = true;
    }
    const r = /RIP: ([0-9a-f]+)\s+RSP: ([0-9a-f]+)\s+RFLAGS: ([0-9a-f]+)/.exec(line);
    if (r) cur.pairs.push({ rip: BigInt(`0x${r[1]}`), rsp: BigInt(`0x${r[2]}`), rflags: BigInt(`0x${r[3]}`), beforeFrames: cur.firstFrameSp === undefined });
  }
  return out;
}

/** `KEY: value` lines of crash's `sys` output. */
export function crashSys(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const x = /^\s*([A-Z][A-Z ]+?):\s(.*)$/.exec(line);
    if (x) m.set(x[1].trim(), x[2].trim());
  }
  return m;
}
