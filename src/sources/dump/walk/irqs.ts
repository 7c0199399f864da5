/**
 * Interrupt descriptors and their per-CPU counts, as crash's `irq -s` (and /proc/interrupts) shows them: the sparse
 * IRQ tree (an xarray, `irq_desc_tree`, until 6.4; a maple tree, `sparse_irqs`, since) or the flat `irq_desc` array.
 */
import type { Kernel, Value } from '../kernel/value.ts';
import { attempt, KernelLayoutError } from '../kernel/errors.ts';

export interface IrqInfo {
  irq: number;
  /** irq_chip name, with the flow handler's name when the descriptor has one (`IO-APIC` + `edge`). */
  chip: string;
  flow?: string;
  /** The names of its actions (handlers), in order. */
  actions: string[];
  /** Count per CPU, in the order of `cpus`. */
  counts: number[];
}

const XA_CHUNK = 64;

/** Every non-NULL entry of an xarray (radix tree), with its index. */
export function* xarrayEntries(k: Kernel, xa: Value): Generator<{ index: bigint; entry: bigint }> {
  const head = xa.member('xa_head').pointer();
  const isNode = (e: bigint) => (e & 3n) === 2n && e > 4096n;
  if (head === 0n) return;
  if (!isNode(head)) {
    yield { index: 0n, entry: head };
    return;
  }
  const slotsOff = k.type('struct xa_node').offsetOf('slots');
  const walk = function* (node: bigint, base: bigint, depth: number): Generator<{ index: bigint; entry: bigint }> {
    if (depth > 16) throw new KernelLayoutError('xarray deeper than 16 levels');
    const shift = BigInt(k.read(node, 1)[0]);
    const slots = k.read(node + BigInt(slotsOff), XA_CHUNK * 8);
    for (let i = 0; i < XA_CHUNK; i++) {
      const e = slots.readBigUInt64LE(i * 8);
      if (e === 0n) continue;
      const index = base + (BigInt(i) << shift);
      if (isNode(e)) yield* walk(e - 2n, index, depth + 1);
      else if ((e & 3n) !== 2n) yield { index, entry: e };
    }
  };
  yield* walk(head - 2n, 0n, 0);
}

/**
 * Every non-NULL entry of a maple tree (6.1+), in index order. A node pointer carries its type in bits 3-6 (dense,
 * leaf_64, range_64, arange_64); range nodes hold 16 slots after 15 pivots, allocation-range nodes 10 after 9.
 */
export function* mapleEntries(k: Kernel, mt: Value): Generator<bigint> {
  const root = mt.member('ma_root').pointer();
  const isNode = (e: bigint) => (e & 3n) === 2n && e > 4096n;
  if (root === 0n) return;
  if (!isNode(root)) {
    yield root;
    return;
  }
  const walk = function* (enode: bigint, depth: number): Generator<bigint> {
    if (depth > 32) throw new KernelLayoutError('maple tree deeper than 32 levels');
    const node = enode & ~0xffn;
    const type = Number((enode >> 3n) & 0xfn);
    // maple_dense = 0, maple_leaf_64 = 1, maple_range_64 = 2, maple_arange_64 = 3
    const [slotsAt, nSlots] = type === 3 ? [8 + 9 * 8, 10] : type === 0 ? [0, 31] : [8 + 15 * 8, 16];
    const slots = k.read(node + BigInt(slotsAt), nSlots * 8);
    for (let i = 0; i < nSlots; i++) {
      const e = slots.readBigUInt64LE(i * 8);
      // empty, or the metadata (end, gap) a node that is not full keeps in its last slot: not a kernel pointer
      if (e < 0xffff000000000000n) continue;
      // an internal node's slots are its children (type in the low byte, no tag); a leaf's are the entries
      if (type >= 2) yield* walk(e, depth + 1);
      else if ((e & 3n) !== 2n) yield e;
    }
  };
  yield* walk(root, 0);
}

/** The interrupt descriptors that have a handler, with their counts on `cpus`. */
export function irqStats(k: Kernel, cpus: readonly number[]): IrqInfo[] {
  const descs: bigint[] = [];
  if (k.symbols.address('irq_desc_tree') !== undefined) {
    for (const { entry } of xarrayEntries(k, k.variable('irq_desc_tree', 'struct xarray'))) descs.push(entry);
  } else if (k.symbols.address('sparse_irqs') !== undefined) {
    for (const entry of mapleEntries(k, k.variable('sparse_irqs', 'struct maple_tree'))) descs.push(entry);
  } else {
    const arr = k.variable('irq_desc');
    const n = arr.type.length ?? 0;
    for (let i = 0; i < n; i++) descs.push(arr.index(i).address);
  }
  const out: IrqInfo[] = [];
  for (const a of descs) {
    const d = k.value(a, 'struct irq_desc');
    const action = d.member('action').pointer();
    if (action === 0n) continue;
    const actions: string[] = [];
    for (let p = action, n = 0; p !== 0n && n < 64; n++) {
      const act = k.value(p, 'struct irqaction');
      const name = act.member('name').pointer();
      actions.push(name === 0n ? '' : k.readString(name, 64));
      p = act.member('next').pointer();
    }
    const chipPtr = d.member('irq_data').member('chip').pointer();
    const chipName = chipPtr === 0n ? undefined : attempt(() => k.readString(k.value(chipPtr, 'struct irq_chip').member('name').pointer(), 64));
    const chip = chipName?.ok ? chipName.value : '';
    const flowPtr = d.member('name').pointer();
    const flow = flowPtr === 0n ? undefined : attempt(() => k.readString(flowPtr, 32));
    const stats = d.member('kstat_irqs').pointer();
    const counts = cpus.map((cpu) => {
      const r = stats === 0n ? undefined : attempt(() => k.read(stats + k.perCpuOffset(cpu), 4).readUInt32LE(0));
      return r?.ok ? r.value : 0;
    });
    out.push({ irq: Number(d.member('irq_data').member('irq').int()), chip, ...(flow?.ok ? { flow: flow.value } : {}), actions, counts });
  }
  return out.sort((x, y) => x.irq - y.irq);
}

/** crash's `irq -s` table. */
export function renderIrqStats(irqs: readonly IrqInfo[], cpus: readonly number[]): string {
  const out = [`     ${cpus.map((c) => `CPU${c}`.padStart(10)).join(' ')} `];
  for (const q of irqs) {
    const chip = q.flow ? ` ${`${q.chip}-${q.flow}`.padEnd(16)}` : q.chip.padStart(8);
    out.push(`${String(q.irq).padStart(3)}: ${q.counts.map((n) => String(n).padStart(10)).join(' ')} ${chip} ${q.actions.join(', ')}`);
  }
  return out.join('\n') + '\n';
}
