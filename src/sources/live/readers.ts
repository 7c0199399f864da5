/** Which descriptors a blocked thread waits to read: from its syscall (read/poll/select/epoll) and, for poll and select, its memory. */
import type { Arch } from '../../model/trace.ts';
import { readProcessMemory } from './code.ts';
import type { ProcSyscall } from './proc.ts';
import { fdInfo } from './snapshot.ts';

type WaitCall = 'read' | 'poll' | 'select' | 'epoll';

/** System call numbers of the calls a reader blocks in, per architecture (x86_64 table; arm64 uses the generic table). */
const CALLS: Partial<Record<Arch, Record<number, { name: string; kind: WaitCall }>>> = {
  x86_64: {
    0: { name: 'read', kind: 'read' },
    17: { name: 'pread64', kind: 'read' },
    19: { name: 'readv', kind: 'read' },
    7: { name: 'poll', kind: 'poll' },
    271: { name: 'ppoll', kind: 'poll' },
    23: { name: 'select', kind: 'select' },
    270: { name: 'pselect6', kind: 'select' },
    232: { name: 'epoll_wait', kind: 'epoll' },
    281: { name: 'epoll_pwait', kind: 'epoll' },
    441: { name: 'epoll_pwait2', kind: 'epoll' },
  },
  arm64: {
    63: { name: 'read', kind: 'read' },
    65: { name: 'readv', kind: 'read' },
    67: { name: 'pread64', kind: 'read' },
    73: { name: 'ppoll', kind: 'poll' },
    72: { name: 'pselect6', kind: 'select' },
    22: { name: 'epoll_pwait', kind: 'epoll' },
    441: { name: 'epoll_pwait2', kind: 'epoll' },
  },
};

export interface WaitedFds {
  call: string;
  fds: number[];
  /** What could not be read (memory of the poll set, ...). */
  note?: string;
}

/** The descriptors a thread blocked in `sc` waits on, or undefined when it is not in a read/poll-like call. */
export function waitedFds(pid: number, sc: ProcSyscall | undefined, arch: Arch): WaitedFds | undefined {
  if (!sc || sc.kind !== 'syscall') return undefined;
  const call = CALLS[arch]?.[sc.nr];
  if (!call) return undefined;
  const a = sc.args;
  switch (call.kind) {
    case 'read':
      return { call: call.name, fds: [Number(a[0])] };
    case 'poll': {
      const n = Math.min(Number(a[1]), 4096);
      const mem = readProcessMemory(pid, a[0], n * 8);
      if (typeof mem === 'string') return { call: call.name, fds: [], note: `poll set not readable (${mem})` };
      const fds: number[] = [];
      for (let i = 0; i + 8 <= mem.length; i += 8) fds.push(mem.readInt32LE(i));
      return { call: call.name, fds: fds.filter((f) => f >= 0) };
    }
    case 'select': {
      const nfds = Math.min(Number(a[0]), 65536);
      if (a[1] === 0n) return { call: call.name, fds: [] };
      const mem = readProcessMemory(pid, a[1], Math.ceil(nfds / 8));
      if (typeof mem === 'string') return { call: call.name, fds: [], note: `select set not readable (${mem})` };
      const fds: number[] = [];
      for (let fd = 0; fd < nfds && fd / 8 < mem.length; fd++) if (mem[fd >> 3] & (1 << (fd & 7))) fds.push(fd);
      return { call: call.name, fds };
    }
    case 'epoll': {
      const epfd = Number(a[0]);
      const info = fdInfo(pid, epfd);
      return { call: call.name, fds: info?.epollTargets ?? [], ...(info ? {} : { note: `epoll set ${epfd} not readable` }) };
    }
  }
}
