/**
 * Cross-CPU calls (IPIs): each CPU's call_single_queue (csds sent to it and not run yet) and each sender's per-CPU
 * cfd_data csds still locked (CSD_FLAG_LOCK: the target has not finished the function), with the function.
 */
import type { CsdRequest, IpiState, Maybe } from '../../../model/queries.ts';
import { attempt } from '../kernel/errors.ts';
import { unknownOf, type WalkContext } from './context.ts';

/** Outstanding cross-CPU calls between `cpus`. */
export function ipiState(w: WalkContext, cpus0: readonly number[]): Maybe<IpiState> {
  const r = attempt(() => {
    const k = w.k;
    const cpus = cpus0;
    const n = Math.max(...cpus, 0) + 1;
    const queues: IpiState['queues'] = [];
    const queued = new Map<bigint, number>();
    for (let cpu = 0; cpu < n; cpu++) {
      const q = attempt(() => k.perCpu('call_single_queue', cpu).member('first').pointer());
      if (!q.ok) continue;
      let entries = 0;
      let p = q.value;
      const seen = new Set<bigint>();
      while (p !== 0n && entries < 64 && !seen.has(p)) {
        seen.add(p);
        queued.set(p, cpu);
        entries++;
        const next = attempt(() => k.read(p, 8, 'llist_node.next').readBigUInt64LE(0));
        if (!next.ok) break;
        p = next.value;
      }
      queues.push({ cpu, first: q.value, entries });
    }
    const requests: CsdRequest[] = [];
    const csdType = k.type('call_single_data_t');
    const flagsOff = BigInt(csdType.offsetOf('node.u_flags'));
    const funcOff = BigInt(csdType.offsetOf('func'));
    for (let from = 0; from < n; from++) {
      const cfd = attempt(() => k.perCpu('cfd_data', from));
      if (!cfd.ok) continue;
      const csdAt = (to: number): bigint => {
        const v = cfd.value;
        if (v.hasMember('pcpu')) {
          const base = v.member('pcpu').pointer();
          const off = BigInt(k.type('struct cfd_percpu').offsetOf('csd'));
          return BigInt.asUintN(64, base + k.perCpuOffset(to)) + off;
        }
        return BigInt.asUintN(64, v.member('csd').pointer() + k.perCpuOffset(to));
      };
      for (let to = 0; to < n; to++) {
        if (to === from) continue;
        const one = attempt(() => {
          const csd = csdAt(to);
          const flags = k.read(csd + flagsOff, 4, 'csd flags').readUInt32LE(0);
          const func = k.read(csd + funcOff, 8, 'csd func').readBigUInt64LE(0);
          return { csd, flags, func };
        });
        if (!one.ok) continue;
        const locked = (one.value.flags & 1) === 1;
        if (!locked) continue;
        requests.push({ from, to, csd: one.value.csd, locked, queued: queued.get(one.value.csd) === to, ...(w.symbolAt(one.value.func) ? { func: w.symbolAt(one.value.func)! } : {}) });
      }
    }
    return { requests, queues };
  });
  return r.ok ? r.value : unknownOf(r);
}
