/** A queued spinlock's 32-bit word decoded: locked byte, pending, and the tail (last CPU queued). */
import type { QSpinlockState } from '../../model/queries.ts';

/** QSpinlock tail layout for NR_CPUS < 16K (8-bit pending byte) vs larger (1-bit pending). */
export function decodeQspinlock(address: bigint, value: number, bigCpus: boolean): QSpinlockState {
  const locked = value & 0xff;
  const pending = bigCpus ? ((value >>> 8) & 1) === 1 : ((value >>> 8) & 0xff) !== 0;
  const idxShift = bigCpus ? 9 : 16;
  const cpuShift = bigCpus ? 11 : 18;
  const tailIdx = (value >>> idxShift) & 3;
  const tailCpuPlus1 = value >>> cpuShift;
  const out: QSpinlockState = { address, value, locked, pending };
  if (tailCpuPlus1 > 0) {
    out.tailCpu = tailCpuPlus1 - 1;
    out.tailIdx = tailIdx;
  }
  return out;
}
