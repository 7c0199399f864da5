/**
 * A task's open files, as crash's `files PID` lists them: root and working directory, and per descriptor the struct
 * file, its dentry and inode, the inode's type and the path (mount-aware d_path; a socket's family and type; an
 * anonymous inode's name).
 */
import type { Kernel, Value } from '../kernel/value.ts';
import { attempt } from '../kernel/errors.ts';

export interface OpenFile {
  fd: number;
  file: bigint;
  dentry: bigint;
  inode: bigint;
  type: string;
  path: string;
}

const S_IFMT = 0o170000;
const TYPES: Record<number, string> = { 0o140000: 'SOCK', 0o120000: 'LNK', 0o100000: 'REG', 0o060000: 'BLK', 0o040000: 'DIR', 0o020000: 'CHR', 0o010000: 'FIFO' };
const FAMILIES: Record<number, string> = { 1: 'UNIX', 2: 'INET', 10: 'INET6', 16: 'NETLINK', 17: 'PACKET', 38: 'ALG', 40: 'VSOCK', 44: 'XDP' };
const SOCK_TYPES: Record<number, string> = { 1: 'STREAM', 2: 'DGRAM', 3: 'RAW', 4: 'RDM', 5: 'SEQPACKET', 6: 'DCCP', 10: 'PACKET' };

/** The name of a dentry (its d_name). */
function dname(k: Kernel, dentry: Value): string {
  const q = dentry.member('d_name');
  const len = Number(q.member('len').int());
  return len ? k.read(q.member('name').pointer(), Math.min(len, 4096)).toString('latin1') : '';
}

/** d_path: the dentry's path from the root of the task's namespace, crossing mount points. */
export function dPath(k: Kernel, vfsmount: bigint, dentryAddr: bigint): string {
  const mountOff = BigInt(k.type('struct mount').offsetOf('mnt'));
  let mnt = k.value(vfsmount - mountOff, 'struct mount');
  let dentry = k.value(dentryAddr, 'struct dentry');
  const parts: string[] = [];
  for (let n = 0; n < 4096; n++) {
    const root = mnt.member('mnt').member('mnt_root').pointer();
    if (dentry.address === root) {
      const parent = mnt.member('mnt_parent').pointer();
      if (parent === mnt.address || parent === 0n) break;
      dentry = k.value(mnt.member('mnt_mountpoint').pointer(), 'struct dentry');
      mnt = k.value(parent, 'struct mount');
      continue;
    }
    const up = dentry.member('d_parent').pointer();
    if (up === dentry.address) break;
    parts.push(dname(k, dentry));
    dentry = k.value(up, 'struct dentry');
  }
  return '/' + parts.reverse().join('/');
}

/** A file's path as crash shows it: a socket by family and type, an anonymous inode by name, else d_path. */
function pathOf(k: Kernel, file: Value, dentry: Value, inode: Value, type: string): string {
  if (type === 'SOCK') {
    const r = attempt(() => {
      const sock = k.value(inode.address - BigInt(k.type('struct socket_alloc').offsetOf('vfs_inode')), 'struct socket');
      const sk = sock.member('sk');
      const family = sk.isNull() ? 0 : Number(sk.deref().member('__sk_common').member('skc_family').int());
      return `${FAMILIES[family] ?? `AF_${family}`}-${SOCK_TYPES[Number(sock.member('type').int())] ?? 'UNKNOWN'}`;
    });
    if (r.ok) return r.value;
  }
  if (type === 'UNKN') return dname(k, dentry);
  const p = file.member('f_path');
  return dPath(k, p.member('mnt').pointer(), dentry.address);
}

export function openFiles(k: Kernel, task: bigint): { root: string; cwd: string; files: OpenFile[] } {
  const t = k.value(task, 'struct task_struct');
  const fs = t.member('fs').deref();
  const root = dPath(k, fs.member('root').member('mnt').pointer(), fs.member('root').member('dentry').pointer());
  const cwd = dPath(k, fs.member('pwd').member('mnt').pointer(), fs.member('pwd').member('dentry').pointer());
  const files: OpenFile[] = [];
  const fdt = t.member('files').deref().member('fdt').deref();
  const max = Number(fdt.member('max_fds').int());
  const fds = fdt.member('fd').pointer();
  const slots = k.read(fds, Math.min(max, 1 << 16) * 8);
  for (let fd = 0; fd < Math.min(max, 1 << 16); fd++) {
    const f = slots.readBigUInt64LE(fd * 8);
    if (f === 0n) continue;
    const file = k.value(f, 'struct file');
    const dentry = file.member('f_path').member('dentry').deref();
    const inodeAddr = dentry.member('d_inode').pointer();
    const inode = k.value(inodeAddr, 'struct inode');
    const mode = Number(inode.member('i_mode').int()) & S_IFMT;
    const type = TYPES[mode] ?? 'UNKN';
    files.push({ fd, file: f, dentry: dentry.address, inode: inodeAddr, type, path: pathOf(k, file, dentry, inode, type) });
  }
  return { root, cwd: cwd === '/' ? '/' : `${cwd}/`, files };
}
