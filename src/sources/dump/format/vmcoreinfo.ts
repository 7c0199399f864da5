/** The VMCOREINFO note: KEY=VALUE lines the kernel exports for dump tools. */

export interface Vmcoreinfo {
  /** OSRELEASE, e.g. `6.1.0-56-amd64`. */
  osrelease?: string;
  buildId?: string;
  /** PAGESIZE (4096 when absent). */
  pageSize: number;
  /** SYMBOL(name)=hex: addresses as the running kernel saw them (KASLR applied). */
  symbols: Map<string, bigint>;
  /** OFFSET(struct.member)=decimal. */
  offsets: Map<string, number>;
  /** SIZE(type)=decimal. */
  sizes: Map<string, number>;
  /** LENGTH(array)=decimal. */
  lengths: Map<string, number>;
  /** NUMBER(name)=decimal, signed (NUMBER(phys_base) is often negative). */
  numbers: Map<string, bigint>;
  /** KERNELOFFSET=hex: the KASLR displacement of the kernel text (0 when absent). */
  kernelOffset: bigint;
  /** CRASHTIME=seconds since the epoch (kdump only). */
  crashTime?: bigint;
  /** Every KEY=VALUE line as written. */
  raw: Map<string, string>;
}

const KEYED = /^(SYMBOL|OFFSET|SIZE|LENGTH|NUMBER)\((.+)\)$/;

function parseHex(v: string): bigint | undefined {
  const s = v.trim().replace(/^0x/i, '');
  return /^[0-9a-f]+$/i.test(s) ? BigInt(`0x${s}`) : undefined;
}

function parseDec(v: string): bigint | undefined {
  const s = v.trim();
  if (/^-?\d+$/.test(s)) return BigInt(s);
  if (/^-?0x[0-9a-f]+$/i.test(s)) return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  return undefined;
}

/** Parses VMCOREINFO text; unknown or malformed lines are kept in `raw` only. */
export function parseVmcoreinfo(text: string): Vmcoreinfo {
  const info: Vmcoreinfo = {
    pageSize: 4096,
    symbols: new Map(),
    offsets: new Map(),
    sizes: new Map(),
    lengths: new Map(),
    numbers: new Map(),
    kernelOffset: 0n,
    raw: new Map(),
  };
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    info.raw.set(key, value);
    const m = KEYED.exec(key);
    if (m) {
      const [, kind, name] = m;
      if (kind === 'SYMBOL') {
        const v = parseHex(value);
        if (v !== undefined) info.symbols.set(name, v);
      } else {
        const v = parseDec(value);
        if (v === undefined) continue;
        if (kind === 'NUMBER') info.numbers.set(name, v);
        else (kind === 'OFFSET' ? info.offsets : kind === 'SIZE' ? info.sizes : info.lengths).set(name, Number(v));
      }
      continue;
    }
    switch (key) {
      case 'OSRELEASE':
        info.osrelease = value;
        break;
      case 'BUILD-ID':
        info.buildId = value;
        break;
      case 'PAGESIZE': {
        const v = parseDec(value);
        if (v !== undefined && v > 0n && v <= 1n << 20n) info.pageSize = Number(v);
        break;
      }
      case 'KERNELOFFSET': {
        const v = parseHex(value);
        if (v !== undefined) info.kernelOffset = v;
        break;
      }
      case 'CRASHTIME': {
        const v = parseDec(value);
        if (v !== undefined) info.crashTime = v;
        break;
      }
    }
  }
  return info;
}
