/**
 * makedumpfile `--split` output: one incident in several kdump-compressed files, each holding the pages of its own
 * page-frame range (the sub-header's split flag, start_pfn, end_pfn) with the same headers, notes and VMCOREINFO.
 * Opened together they read as one dump; a missing part leaves its range absent and the dump marked incomplete.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileSource } from './io.ts';
import { KdumpContainer } from './kdump.ts';
import { MissingPageError, type DumpContainer, type PfnRange } from './types.ts';

/** The other files of a split set: same directory, same name up to a trailing number (`vmcore.split-1`, `-2`, ...). */
export function splitSiblings(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  const m = /^(.*?)(\d+)$/.exec(base);
  if (!m) return [];
  const prefix = m[1];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n !== base && n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length))).map((n) => join(dir, n));
}

export class SplitContainer implements DumpContainer {
  readonly format: string;
  readonly incomplete: string[] = [];
  private readonly first: KdumpContainer;

  constructor(private readonly parts: KdumpContainer[]) {
    parts.sort((a, b) => ((a.header.startPfn ?? 0n) < (b.header.startPfn ?? 0n) ? -1 : 1));
    this.first = parts[0];
    this.format = `kdump-compressed (split into ${parts.length} files)`;
    for (const p of parts) this.incomplete.push(...p.incomplete.filter((x) => !/^split dump: this file holds/.test(x)));
    // Ranges no part holds: a file of the set is missing.
    let next = 0n;
    for (const p of parts) {
      const s = p.header.startPfn ?? 0n;
      if (s > next) this.incomplete.push(`split dump: no file of the set holds page frames 0x${next.toString(16)}..0x${s.toString(16)} (a part is missing)`);
      if ((p.header.endPfn ?? 0n) > next) next = p.header.endPfn ?? 0n;
    }
    const max = this.first.maxPfn;
    if (next < max) this.incomplete.push(`split dump: no file of the set holds page frames 0x${next.toString(16)}..0x${max.toString(16)} (a part is missing)`);
  }

  get path(): string {
    return this.first.path;
  }
  get compression(): string[] {
    return [...new Set(this.parts.flatMap((p) => p.compression))];
  }
  get headerVersion(): number {
    return this.first.headerVersion;
  }
  get vmcoreinfo(): string | undefined {
    return this.first.vmcoreinfo;
  }
  get cpuNotes() {
    return this.first.cpuNotes;
  }
  get pageSize(): number {
    return this.first.pageSize;
  }
  get dumpLevel(): number | undefined {
    return this.first.dumpLevel;
  }
  get nrCpus(): number | undefined {
    return this.first.nrCpus;
  }
  get utsname() {
    return this.first.utsname;
  }
  get physBase(): bigint | undefined {
    return this.first.physBase;
  }
  /** The paths of every file of the set. */
  get paths(): string[] {
    return this.parts.map((p) => p.path);
  }

  private partOf(pfn: bigint): KdumpContainer | undefined {
    return this.parts.find((p) => pfn >= (p.header.startPfn ?? 0n) && pfn < (p.header.endPfn ?? 0n));
  }

  hasPage(pfn: bigint): boolean {
    return !!this.partOf(pfn)?.hasPage(pfn);
  }

  *presentRanges(): Generator<PfnRange> {
    for (const p of this.parts) if (p.presentRanges) yield* p.presentRanges();
  }

  readPhys(paddr: bigint, length: number): Buffer {
    const ps = BigInt(this.pageSize);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const at = paddr + BigInt(done);
      const pfn = at / ps;
      const part = this.partOf(pfn);
      if (!part) throw new MissingPageError(at);
      const inPage = Number(ps - (at % ps));
      const n = Math.min(inPage, length - done);
      part.readPhys(at, n).copy(out, done);
      done += n;
    }
    return out;
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}

/** When `c` is one file of a split set, the set opened together (the other parts found beside it). */
export function withSplitSiblings(c: KdumpContainer): DumpContainer {
  if (!c.header.split) return c;
  const parts: KdumpContainer[] = [c];
  for (const path of splitSiblings(c.path)) {
    try {
      const src = new FileSource(path);
      const k = new KdumpContainer(src, 'kdump-compressed');
      // A part of the same set: same dump time, kernel and page-frame count.
      const same = k.header.timestamp === c.header.timestamp && k.header.utsname.release === c.header.utsname.release && k.maxPfn === c.maxPfn;
      if (k.header.split && same) parts.push(k);
      else k.close();
    } catch {
      // Not a part of the set: skip it.
    }
  }
  return parts.length > 1 ? new SplitContainer(parts) : c;
}
