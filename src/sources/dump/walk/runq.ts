/**
 * Each CPU's run queue as crash's `runq` shows it: the current task, then the tasks queued to run — the RT priority
 * array (one list per priority), the CFS red-black tree in order (task groups' own trees nested under their entity),
 * and deadline tasks when there are any. A queued task is runnable but not running: on a CPU that never schedules (a
 * spin with preemption off), these are the tasks it starves.
 */
import { attempt } from '../kernel/errors.ts';
import type { Kernel, Value } from '../kernel/value.ts';
import { listEntries, type WalkNotes } from './list.ts';

export interface QueuedTask {
  task: bigint;
  pid: number;
  comm: string;
  /** task->prio (crash prints it in brackets). */
  prio: number;
}

export interface CfsQueue {
  /** Address of the tasks_timeline root. */
  root: bigint;
  /** In tree order; a group entity holds its own queue. */
  entries: Array<QueuedTask | { group: bigint; queue: CfsQueue }>;
}

export interface RunQueue {
  cpu: number;
  address: bigint;
  current?: { task: bigint; pid: number; comm: string };
  rt: { address: bigint; byPrio: Array<{ prio: number; tasks: QueuedTask[] }> };
  cfs: CfsQueue;
  dl: QueuedTask[];
  notes: string[];
}

const MAX_ENTITIES = 100_000;

function taskAt(k: Kernel, addr: bigint): QueuedTask {
  const t = k.value(addr, 'struct task_struct');
  return { task: addr, pid: t.member('pid').number(), comm: t.member('comm').string(16), prio: t.member('prio').number() };
}

/** rb_node addresses of a tree in order (left, node, right), iteratively. */
function* inOrder(k: Kernel, root: bigint, notes: WalkNotes): Generator<bigint> {
  const stack: bigint[] = [];
  const seen = new Set<bigint>();
  let node = root;
  const t = k.type('struct rb_node');
  const l = BigInt(t.offsetOf('rb_left'));
  const r = BigInt(t.offsetOf('rb_right'));
  const leftOf = (n: bigint) => k.read(n + l, 8, 'rb_node.rb_left').readBigUInt64LE(0);
  const rightOf = (n: bigint) => k.read(n + r, 8, 'rb_node.rb_right').readBigUInt64LE(0);
  while (node !== 0n || stack.length) {
    while (node !== 0n) {
      if (seen.has(node) || seen.size > MAX_ENTITIES) {
        notes.notes.push(`rb-tree at 0x${root.toString(16)}: a node repeats or the tree is too large (corrupted?), walk stopped`);
        return;
      }
      seen.add(node);
      stack.push(node);
      node = leftOf(node);
    }
    const n = stack.pop()!;
    yield n;
    node = rightOf(n);
  }
}

function cfsQueue(k: Kernel, cfsRq: Value, notes: WalkNotes, depth = 0): CfsQueue {
  const timeline = cfsRq.member('tasks_timeline');
  const root = timeline.address;
  const out: CfsQueue = { root, entries: [] };
  const top = attempt(() => timeline.member('rb_root').member('rb_node').pointer());
  if (!top.ok) {
    notes.notes.push(`cfs_rq at 0x${cfsRq.address.toString(16)}: ${top.unknown}`);
    return out;
  }
  const seType = k.type('struct sched_entity');
  const runNode = BigInt(seType.offsetOf('run_node'));
  const seOfTask = BigInt(k.type('struct task_struct').offsetOf('se'));
  const hasMyQ = seType.hasMember('my_q');
  for (const node of inOrder(k, top.value, notes)) {
    const se = node - runNode;
    const myQ = hasMyQ ? k.value(se, 'struct sched_entity').member('my_q').pointer() : 0n;
    if (myQ !== 0n) {
      // A task group's entity: its own run queue holds the group's runnable tasks.
      if (depth < 8) out.entries.push({ group: se, queue: cfsQueue(k, k.value(myQ, 'struct cfs_rq'), notes, depth + 1) });
      continue;
    }
    out.entries.push(taskAt(k, se - seOfTask));
  }
  return out;
}

/** crash `runq` for one CPU. */
export function runQueue(k: Kernel, cpu: number): RunQueue {
  const notes: WalkNotes = { notes: [] };
  const rq = k.perCpu('runqueues', cpu);
  const out: RunQueue = { cpu, address: rq.address, rt: { address: 0n, byPrio: [] }, cfs: { root: 0n, entries: [] }, dl: [], notes: notes.notes };
  const cur = attempt(() => rq.member('curr').pointer());
  if (cur.ok && cur.value !== 0n) {
    const t = attempt(() => taskAt(k, cur.value));
    if (t.ok) out.current = { task: t.value.task, pid: t.value.pid, comm: t.value.comm };
  }
  // RT: rt_prio_array.queue[prio] lists of sched_rt_entity.run_list.
  const rt = attempt(() => {
    const active = rq.member('rt').member('active');
    out.rt.address = active.address;
    const queues = active.member('queue');
    const n = queues.type.length ?? 0;
    const rtOfTask = BigInt(k.type('struct task_struct').offsetOf('rt'));
    for (let prio = 0; prio < n; prio++) {
      const tasks: QueuedTask[] = [];
      for (const e of listEntries(k, queues.index(prio), 'struct sched_rt_entity', 'run_list', notes, 10_000)) tasks.push(taskAt(k, e.address - rtOfTask));
      if (tasks.length) out.rt.byPrio.push({ prio, tasks });
    }
  });
  if (!rt.ok) notes.notes.push(`RT queue of CPU ${cpu}: ${rt.unknown}`);
  const cfs = attempt(() => cfsQueue(k, rq.member('cfs'), notes));
  if (cfs.ok) out.cfs = cfs.value;
  else notes.notes.push(`CFS queue of CPU ${cpu}: ${cfs.unknown}`);
  // Deadline: dl_rq.root, an rb-tree of sched_dl_entity.rb_node.
  const dl = attempt(() => {
    const root = rq.member('dl').member('root').member('rb_root').member('rb_node').pointer();
    if (root === 0n) return;
    const rbNode = BigInt(k.type('struct sched_dl_entity').offsetOf('rb_node'));
    const dlOfTask = BigInt(k.type('struct task_struct').offsetOf('dl'));
    for (const node of inOrder(k, root, notes)) out.dl.push(taskAt(k, node - rbNode - dlOfTask));
  });
  if (!dl.ok) notes.notes.push(`deadline queue of CPU ${cpu}: ${dl.unknown}`);
  return out;
}

const hex = (v: bigint) => v.toString(16).padStart(16, '0');
const taskLine = (t: { pid: number; task: bigint; comm: string }) => `PID: ${String(t.pid).padEnd(6)} TASK: ${hex(t.task)}  COMMAND: "${t.comm}"`;

function cfsLines(q: CfsQueue, indent: string): string[] {
  if (!q.entries.length) return [`${indent}[no tasks queued]`];
  const out: string[] = [];
  for (const e of q.entries) {
    if ('group' in e) {
      out.push(`${indent}GROUP CFS RB_ROOT: ${hex(e.queue.root)}`);
      out.push(...cfsLines(e.queue, `${indent}   `));
    } else out.push(`${indent}[${e.prio}] ${taskLine(e)}`);
  }
  return out;
}

/** crash's `runq` layout. */
export function renderRunQueues(rqs: readonly RunQueue[]): string {
  const out: string[] = [];
  for (const r of rqs) {
    if (out.length) out.push('');
    out.push(`CPU ${r.cpu} RUNQUEUE: ${hex(r.address)}`);
    out.push(`  CURRENT: ${r.current ? taskLine(r.current) : '?'}`);
    if (r.dl.length) {
      out.push('  DL_RQ:');
      for (const t of r.dl) out.push(`     [${t.prio}] ${taskLine(t)}`);
    }
    out.push(`  RT PRIO_ARRAY: ${hex(r.rt.address)}`);
    if (!r.rt.byPrio.length) out.push('     [no tasks queued]');
    for (const p of r.rt.byPrio) for (const t of p.tasks) out.push(`     [${String(t.prio).padStart(3)}] ${taskLine(t)}`);
    out.push(`  CFS RB_ROOT: ${hex(r.cfs.root)}`);
    out.push(...cfsLines(r.cfs, '     '));
    for (const n of r.notes) out.push(`  (${n})`);
  }
  return out.join('\n') + '\n';
}
