/**
 * Memory totals as crash's `kmem -i` reports them, from the kernel's own counters: totalram, the zone and node vm
 * statistics (free, file pages, shmem, slab, swap cache), block-device page cache (buffers), huge pages, swap, and
 * the overcommit limit and committed address space.
 */
import type { Kernel, Value } from '../kernel/value.ts';
import { attempt } from '../kernel/errors.ts';

export interface MemInfo {
  /** Page size in bytes. */
  pageSize: number;
  total: bigint;
  free: bigint;
  shared: bigint;
  buffers: bigint;
  cached: bigint;
  slab: bigint;
  hugeTotal: bigint;
  hugeFree: bigint;
  swapTotal: bigint;
  swapFree: bigint;
  commitLimit: bigint;
  committed: bigint;
  /** Counters that could not be read (left at 0). */
  unknown: string[];
}

/** An enum item's value from BTF (`NR_FREE_PAGES` of `enum zone_stat_item`). */
function enumItem(k: Kernel, type: string, name: string): number {
  const v = k.type(type).enumValue(name);
  if (v === undefined) throw new Error(`${type} has no ${name}`);
  return Number(v);
}

const atomicLong = (v: Value) => (v.hasMember('counter') ? v.member('counter').int() : v.int());

export function memInfo(k: Kernel, opts: { vmemmap?: bigint; vmemmapFirstPfn?: bigint; pageSize?: number } = {}): MemInfo {
  const pageSize = opts.pageSize ?? 4096;
  const unknown: string[] = [];
  const read = (what: string, f: () => bigint): bigint => {
    const r = attempt(f);
    if (r.ok) return r.value;
    unknown.push(what);
    return 0n;
  };
  const zone = (item: string) => atomicLong(k.variable('vm_zone_stat', `atomic_long_t[${enumItem(k, 'enum zone_stat_item', 'NR_VM_ZONE_STAT_ITEMS')}]`).index(enumItem(k, 'enum zone_stat_item', item)));
  const node = (item: string) => atomicLong(k.variable('vm_node_stat', `atomic_long_t[${enumItem(k, 'enum node_stat_item', 'NR_VM_NODE_STAT_ITEMS')}]`).index(enumItem(k, 'enum node_stat_item', item)));
  const total = read('totalram', () => (k.symbols.address('_totalram_pages') !== undefined ? atomicLong(k.variable('_totalram_pages', 'atomic_long_t')) : k.variable('totalram_pages', 'unsigned long').int()));
  const free = read('free pages', () => zone('NR_FREE_PAGES'));
  const shared = read('shared pages', () => sharedPages(k, opts.vmemmap, opts.vmemmapFirstPfn ?? 0n));
  const buffers = read('buffers', () => blockdevPages(k));
  const swapCache = read('swap cache', () => node('NR_SWAPCACHE'));
  const filePages = read('file pages', () => node('NR_FILE_PAGES'));
  const cached = filePages - swapCache - buffers > 0n ? filePages - swapCache - buffers : 0n;
  const slab = read('slab', () => node('NR_SLAB_RECLAIMABLE_B') + node('NR_SLAB_UNRECLAIMABLE_B'));
  let hugeTotal = 0n;
  let hugeFree = 0n;
  read('huge pages', () => {
    const n = Number(k.variable('hugetlb_max_hstate', 'unsigned int').int());
    const hs = k.variable('hstates', `struct hstate[${Math.max(n, 1)}]`);
    for (let i = 0; i < n; i++) {
      const h = hs.index(i);
      const pages = 1n << BigInt(h.member('order').int());
      hugeTotal += h.member('nr_huge_pages').int() * pages;
      hugeFree += h.member('free_huge_pages').int() * pages;
    }
    return 0n;
  });
  const swapTotal = read('swap total', () => k.variable('total_swap_pages', 'long').int());
  const swapFree = read('swap free', () => atomicLong(k.variable('nr_swap_pages', 'atomic_long_t')));
  const commitLimit = read('commit limit', () => {
    const kbytes = k.variable('sysctl_overcommit_kbytes', 'unsigned long').int();
    const allowed = kbytes ? kbytes / BigInt(pageSize / 1024) : ((total - hugeTotal) * k.variable('sysctl_overcommit_ratio', 'int').int()) / 100n;
    return allowed + swapTotal;
  });
  // the counter's shared count, as the kernel's percpu_counter_read_positive() sees it (per-CPU deltas not folded in)
  const committed = read('committed', () => {
    const count = k.variable('vm_committed_as', 'struct percpu_counter').member('count').int();
    return count < 0n ? 0n : count;
  });
  return { pageSize, total, free, shared, buffers, cached, slab, hugeTotal, hugeFree, swapTotal, swapFree, commitLimit, committed, unknown };
}

/** The page frames each memory node spans, [start, end), from node_data (NULL entries end the possible nodes). */
export function nodePfnRanges(k: Kernel): Array<{ start: bigint; end: bigint }> {
  const nodes = k.variable('node_data');
  const out: Array<{ start: bigint; end: bigint }> = [];
  for (let i = 0; i < 1024; i++) {
    const p = attempt(() => nodes.index(i));
    if (!p.ok || p.value.isNull()) break;
    const n = p.value.deref();
    const start = n.member('node_start_pfn').int();
    out.push({ start, end: start + n.member('node_spanned_pages').int() });
  }
  return out;
}

/**
 * Pages mapped or referenced more than once: a walk of the page array (vmemmap) over every node's span, counting
 * pages whose reference count is above one, but for slab and reserved pages.
 */
function sharedPages(k: Kernel, vmemmap: bigint | undefined, firstPfn: bigint): bigint {
  if (vmemmap === undefined) throw new Error('no vmemmap base');
  const page = k.type('struct page');
  const size = page.sizeof;
  const refOff = page.offsetOf('_refcount');
  const flagsOff = page.offsetOf('flags');
  const flags = k.type('enum pageflags');
  // Slab pages: PG_slab until 6.9, then a page type in the top byte of page_type (PGTY_slab).
  const pgSlab = flags.enumValue('PG_slab');
  const skip = (pgSlab !== undefined ? 1n << pgSlab : 0n) | (1n << flags.enumValue('PG_reserved')!);
  const slabType = pgSlab === undefined ? attempt(() => ({ off: page.offsetOf('page_type'), type: Number(k.type('enum pagetype').enumValue('PGTY_slab')) })) : undefined;
  const CHUNK = 64n;
  let shared = 0n;
  for (const { start, end } of nodePfnRanges(k)) {
    for (let pfn = start; pfn < end; pfn += CHUNK) {
      const count = pfn + CHUNK <= end ? CHUNK : end - pfn;
      // a hole in the memory map, or pages the dump left out: nothing to count there
      const r = attempt(() => k.read(vmemmap + (pfn - firstPfn) * BigInt(size), Number(count) * size));
      if (!r.ok) continue;
      for (let j = 0; j < Number(count); j++) {
        if (r.value.readInt32LE(j * size + refOff) <= 1 || (r.value.readBigUInt64LE(j * size + flagsOff) & skip) !== 0n) continue;
        if (slabType?.ok && r.value.readUInt32LE(j * size + slabType.value.off) >>> 24 === slabType.value.type) continue;
        shared++;
      }
    }
  }
  return shared;
}

/** Pages cached for block devices: the page caches of the block-device pseudo filesystem's inodes (nr_blockdev_pages). */
function blockdevPages(k: Kernel): bigint {
  const sb = k.variable('blockdev_superblock', 'struct super_block *');
  if (sb.isNull()) return 0n;
  const inodes = sb.deref().member('s_inodes');
  const off = BigInt(k.type('struct inode').offsetOf('i_sb_list'));
  let pages = 0n;
  for (let p = inodes.member('next').pointer(), n = 0; p !== inodes.address && p !== 0n && n < 1_000_000; n++) {
    const inode = k.value(p - off, 'struct inode');
    pages += inode.member('i_mapping').deref().member('nrpages').int();
    p = inode.member('i_sb_list').member('next').pointer();
  }
  return pages;
}

/** crash's `kmem -i` table. */
export function renderMemInfo(m: MemInfo): string {
  const size = (pages: bigint) => {
    if (pages === 0n) return '0';
    const bytes = Number(pages) * m.pageSize;
    const gb = bytes / 1073741824;
    return gb >= 1 ? `${gb.toFixed(1)} GB` : `${(bytes / 1048576).toFixed(1)} MB`;
  };
  const pct = (part: bigint, whole: bigint) => (whole === 0n ? 0 : Number((part * 100n) / whole));
  const row = (label: string, pages: bigint, of?: [bigint, string]) =>
    `${label.padStart(13)}${pages.toString().padStart(9)}${size(pages).padStart(13)}${of ? `${String(pct(pages, of[0])).padStart(5)}% of ${of[1]}` : '         ----'}`;
  const used = m.total - m.free;
  const swapUsed = m.swapTotal - m.swapFree;
  return [
    '                 PAGES        TOTAL      PERCENTAGE',
    row('TOTAL MEM', m.total),
    row('FREE', m.free, [m.total, 'TOTAL MEM']),
    row('USED', used, [m.total, 'TOTAL MEM']),
    row('SHARED', m.shared, [m.total, 'TOTAL MEM']),
    row('BUFFERS', m.buffers, [m.total, 'TOTAL MEM']),
    row('CACHED', m.cached, [m.total, 'TOTAL MEM']),
    row('SLAB', m.slab, [m.total, 'TOTAL MEM']),
    '',
    row('TOTAL HUGE', m.hugeTotal),
    row('HUGE FREE', m.hugeFree, [m.hugeTotal, 'TOTAL HUGE']),
    '',
    row('TOTAL SWAP', m.swapTotal),
    row('SWAP USED', swapUsed, [m.swapTotal, 'TOTAL SWAP']),
    row('SWAP FREE', m.swapFree, [m.swapTotal, 'TOTAL SWAP']),
    '',
    row('COMMIT LIMIT', m.commitLimit),
    row('COMMITTED', m.committed, [m.commitLimit, 'TOTAL LIMIT']),
  ].join('\n') + '\n';
}
