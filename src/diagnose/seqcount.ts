/**
 * Stuck seqcount (cases/hardlockup-seqcount.md): CPUs spin in a reader's retry loop
 * (`while (seq & 1) cpu_relax();`) on a sequence count that is odd, while no writer holds its
 * lock and no CPU is inside a write section: the odd value is corruption, and with every reader
 * spinning with IRQs off nothing can ever make it even again.
 * Facts: each CPU's registers (dump notes), the loop around its RIP (disassembly), the polled
 * address resolved to a symbol, its sequence and writer lock read from the dump.
 */
import type { Finding } from '../model/finding.ts';
import { isUnknown, loopLines, symbolText, type CpuContext, type KernelQueries, type SpinLoop } from '../model/queries.ts';
import { cpuNode, finding, type DetectorContext } from './context.ts';
import { IPI_WAIT_FUNCTIONS, matchesAny, SPINLOCK_SLOWPATH_FUNCTIONS } from './known/frames.ts';
import { contextText, cpuLabel, dumpFact, dumpTakenStep, hexOf, pcText } from './dump-facts.ts';
import { abiOf } from '../model/abi.ts';
import { pcHex } from '../model/trace.ts';

const NOT_SEQCOUNT = [...IPI_WAIT_FUNCTIONS, ...SPINLOCK_SLOWPATH_FUNCTIONS, /^osq_lock$/, /^mutex_spin_on_owner$/, /^rwsem_spin_on_owner$/, /bit_spin_lock/];

/** A named word is a sequence count when its name says so (`*seq*`). */
function looksLikeSeqcount(q: KernelQueries, name: string): boolean {
  return /seq/i.test(name) && !!q;
}

interface Reader {
  ctx: CpuContext;
  loop: SpinLoop;
}

/** `address: mnemonic operands` lines, RIP-relative operands annotated with their symbol like crash's dis. */
export function annotatedLoop(q: KernelQueries, loop: SpinLoop): string[] {
  return loop.instructions.map((i, n) => {
    const line = loopLines(loop)[n];
    const rel = i.memory?.ripRelative;
    if (rel === undefined) return line;
    const s = q.symbolAt(rel);
    return `${line}   # 0x${rel.toString(16)}${s ? ` <${symbolText(s)}>` : ''}`;
  });
}

/**
 * The spin loop this CPU is in: at its innermost PC, or — when an interrupt nested on top of the loop
 * (a timer tick caught by the dump) — at the PC saved in an exception/interrupt frame below it.
 */
function readLoopOf(ctx: DetectorContext, q: KernelQueries, x: CpuContext): SpinLoop | undefined {
  const loop = q.spinLoop(x.registers);
  if (!isUnknown(loop)) return loop;
  const stack = ctx.c.cpus.find((c) => c.cpu === x.cpu)?.stack ?? [];
  for (const f of stack) {
    if (!f.regs || f.regs.mode === 'user' || f.stack === 'nmi') continue;
    if (matchesAny(f.regs.pcSymbol?.function ?? f.function, NOT_SEQCOUNT)) continue;
    const inner = q.spinLoop(f.regs);
    // Below a nested interrupt, only a loop polling a named sequence count counts.
    if (!isUnknown(inner) && inner.polls.some((p) => p.testsBit0 && p.symbol && looksLikeSeqcount(q, p.symbol.name))) return inner;
  }
  return undefined;
}

export function seqcountDetector(ctx: DetectorContext): Finding[] {
  const q = ctx.c.kernel;
  if (!q) return [];
  // The dump's CPUs, each in the context it was working in (below kdump's NMI or the panic's interrupt).
  const dumpViews = ctx.views.cpus.filter((v) => v.from === 'dump' && v.ctx);
  const contexts = dumpViews.map((v) => v.ctx!);
  const viewOf = new Map(dumpViews.map((v) => [v.ctx!, v]));
  const working = (x: CpuContext) => !viewOf.get(x)?.unknownContext;
  const isIdleContext = (_c: unknown, x: CpuContext) => !!viewOf.get(x)?.idle;
  // Readers grouped by the sequence word their loop polls and tests for oddness.
  const bySeq = new Map<bigint, Reader[]>();
  for (const x of contexts) {
    // An idle CPU halts (hlt, wfi, mwait): no read loop to look for, and no code to disassemble.
    if (!working(x) || x.registers.mode === 'user' || viewOf.get(x)?.idle) continue;
    // Other waits test bit 0 too (CSD_FLAG_LOCK, a spinlock's locked byte): not sequence counters.
    if (matchesAny(x.registers.pcSymbol?.function, NOT_SEQCOUNT)) continue;
    const loop = readLoopOf(ctx, q, x);
    if (!loop) continue;
    for (const p of loop.polls) {
      if (!p.testsBit0 || p.size > 4) continue;
      if (p.symbol && !looksLikeSeqcount(q, p.symbol.name)) continue;
      bySeq.set(p.address, [...(bySeq.get(p.address) ?? []), { ctx: x, loop }]);
    }
  }
  const out: Finding[] = [];
  for (const [addr, readers] of bySeq) {
    const sc = q.seqcount(addr);
    if (isUnknown(sc)) continue;
    if ((sc.sequence & 1) === 0) continue; // even: readers will get through
    const name = sc.symbol ? symbolText(sc.symbol) : `0x${hexOf(addr)}`;
    const loop = readers[0].loop;
    const lines = annotatedLoop(q, loop);
    // Readers may sit in different loops (different functions inlining read_seqcount_begin) on the same word.
    const loops = new Map<bigint, { loop: SpinLoop; cpus: number[] }>();
    for (const r of readers) {
      const g = loops.get(r.loop.start) ?? { loop: r.loop, cpus: [] };
      g.cpus.push(r.ctx.cpu);
      loops.set(r.loop.start, g);
    }
    const where = [...loops.values()]
      .map((g) => `${loops.size > 1 ? `CPU${g.cpus.length > 1 ? 's' : ''} ${g.cpus.sort((a, b) => a - b).join(', ')} in ` : ''}${g.loop.function.name}${g.loop.function.module ? ` [${g.loop.function.module}]` : ''}`)
      .join(', ');
    const cpus = readers.map((r) => r.ctx.cpu).sort((a, b) => a - b);
    const others = contexts.filter((x) => !cpus.includes(x.cpu));
    const irqsOff = readers.filter((r) => r.ctx.registers.irqsEnabled === false).map((r) => r.ctx.cpu);
    const lock = sc.writerLock;
    const lockState = lock && !isUnknown(lock.state) ? lock.state : undefined;
    const lockUnknown = lock && isUnknown(lock.state) ? lock.state.unknown : undefined;
    const lockName = lock ? (lock.symbol ? symbolText(lock.symbol) : lock.address !== undefined ? `0x${hexOf(lock.address)}` : 'its writer lock') : undefined;
    const lockHex = lock?.address !== undefined ? hexOf(lock.address) : undefined;
    // A writer could be a CPU outside the loop running kernel code (not idle, not in user space).
    const possibleWriters = others.filter((x) => x.registers.mode !== 'user' && !isIdleContext(ctx.c, x) && working(x));
    const unaccounted = others.filter((x) => !working(x));
    const noWriter = (!lock || lockState?.locked === 0) && possibleWriters.length === 0;
    const all = others.length === 0;

    const steps: string[] = [];
    steps.push(
      loops.size === 1
        ? `${all ? `All ${cpus.length} CPUs` : `${cpus.length} CPU(s) (${cpus.join(', ')})`} are in the same ${loop.instructions.length}-instruction loop in ${loop.function.name} (${hexOf(loop.start)}-${hexOf(loop.end)}): ${lines.map((l) => l.replace(/^[0-9a-f]+: /, '')).join('; ')}.`
        : `${all ? `All ${cpus.length} CPUs` : `${cpus.length} CPU(s) (${cpus.join(', ')})`} spin in ${loops.size} read loops on the same word: ${[...loops.values()]
            .map((g) => `CPU${g.cpus.length > 1 ? 's' : ''} ${g.cpus.join(', ')} in ${g.loop.function.name} (${hexOf(g.loop.start)}-${hexOf(g.loop.end)}: ${annotatedLoop(q, g.loop).map((l) => l.replace(/^[0-9a-f]+: /, '')).join('; ')})`)
            .join('; ')}.`,
    );
    steps.push(
      `The loop reads ${name} at 0x${hexOf(addr)} (${readers[0].loop.polls.find((p) => p.address === addr)!.via}) and tests bit 0: it is a sequence-count reader waiting (read_seqcount_begin: while the sequence is odd, a writer is inside, retry).`,
    );
    steps.push(`${name} = ${sc.sequence}: odd, so the readers wait for a writer to finish.`);
    if (lock) {
      steps.push(
        lockState
          ? `Its writers are serialised by ${lockName} (${lock.how}); that lock word is ${lockState.value} — ${lockState.locked ? 'locked: a writer holds it' : 'unlocked: no writer holds it'}.`
          : `Its writer lock ${lockName} could not be read: ${lockUnknown}.`,
      );
    } else {
      steps.push('No writer lock is known for it (not a seqlock_t, no *_lock beside it): only the CPUs tell whether a writer is inside.');
    }
    if (all) steps.push('No CPU is outside the loop, so none can be inside a write section.');
    else if (possibleWriters.length) steps.push(`CPUs outside the loop that run kernel code and could be a writer: ${possibleWriters.map(contextText).join('; ')}.`);
    else steps.push(`The other CPUs cannot be writers: ${others.map(contextText).join('; ')}.`);
    if (unaccounted.length) steps.push(`Unknown: where ${unaccounted.map(cpuLabel).join(', ')} was working (its note is on the panic path).`);
    if (irqsOff.length) {
      steps.push(
        `${irqsOff.length === cpus.length ? (cpus.length > 1 ? 'Every reader spins' : 'The reader spins') : `CPU(s) ${irqsOff.join(', ')} spin`} with interrupts disabled (${abiOf(readers[0]?.ctx.registers).irqsOffFlag}): no timer tick or IPI runs there, so a writer that needs one of them (the tick updating jiffies) can never run, and the watchdogs that would report it cannot fire either.`,
      );
    }
    steps.push(
      noWriter
        ? 'An odd sequence with no writer in its write section is not a slow writer: the sequence word itself is wrong — a writer that never finished (missing write_seqcount_end) or memory corruption (a flipped bit 0).'
        : 'The odd sequence may belong to a writer that is still inside its section: find what that CPU is doing.',
    );
    const taken = dumpTakenStep(q);
    if (taken) steps.push(taken);
    if (noWriter) steps.push('Check for hardware: EDAC/MCE logs, the CPU microcode level and the CPU model\'s errata; audit the writers of this seqcount.');

    const objectId = `seqcount:${hexOf(addr)}`;
    const evidence = [
      ...readers.slice(0, 8).map((r) => dumpFact(q, `${contextText(r.ctx)}: in the read loop`, BigInt(`0x${pcHex(r.ctx.registers) ?? '0'}`), `CPU ${r.ctx.cpu} registers (${r.ctx.from === 'nmi-frame' ? 'NMI frame' : 'note'})`)),
      dumpFact(q, `${name} sequence = ${sc.sequence} (odd)`, addr, sc.symbol?.name ?? 'sequence'),
    ];
    if (lock && lockState) evidence.push(dumpFact(q, `${lockName} = ${lockState.value} (${lockState.locked ? 'locked' : 'unlocked'})`, lock.address, lock.symbol?.name ?? 'writer lock'));
    const summary = `${all ? `All ${cpus.length} CPUs` : `CPUs ${cpus.join(', ')}`} spin${irqsOff.length === cpus.length ? ' with IRQs off' : irqsOff.length ? ` (${irqsOff.length} with IRQs off)` : ''} ${loops.size === 1 ? ` in ${where}` : ''} reading seqcount ${name} (0x${hexOf(addr)})${loops.size > 1 ? ` (${where.replace(/, CPU/g, '; CPU')})` : ''} whose sequence ${sc.sequence} is odd${noWriter ? ` while no writer is inside${lock && lockState ? ` (${lockName} unlocked)` : ''}: a corrupted sequence` : ''}`;
    const f = finding(ctx, 'seqcount-stuck-odd', 'root', summary, {
      nodes: [objectId],
      confidence: noWriter ? (all ? 0.9 : 0.8) : 0.6,
      subjects: [{ kind: 'object', id: objectId }, ...cpus.map((cpu) => ({ kind: 'cpu' as const, cpu }))],
      evidence,
      steps,
      confirm: [
        `crash> dis -r ${pcHex(readers[0].ctx.registers)}   # the loop ends at the PC`,
        `crash> p ${sc.symbol && sc.symbol.offset === 0 ? sc.symbol.name : `*(unsigned int *)0x${hexOf(addr)}`}`,
        ...(lockName ? [`crash> p ${lock?.symbol && lock.symbol.offset === 0 ? lock.symbol.name : `*(unsigned int *)0x${lockHex}`}`] : []),
        'crash> bt -a   # every CPU in the loop? none in a write section?',
        'journalctl -k | grep -iE "mce|edac|hardware error"; grep microcode /proc/cpuinfo | sort -u',
      ],
      extra: {
        address: hexOf(addr),
        symbol: sc.symbol?.name ?? '',
        sequence: sc.sequence,
        cpus,
        function: loop.function.name,
        loop: lines,
        ...(loops.size > 1 ? { functions: [...loops.values()].map((g) => g.loop.function.name) } : {}),
        ...(lock ? { writerLock: lockName!, ...(lockHex ? { writerLockAddress: lockHex } : {}) } : {}),
        ...(lockState ? { writerLockValue: lockState.value } : {}),
        irqsOff,
        noWriter,
      },
    });
    ctx.object({
      id: objectId,
      kind: 'seqcount',
      ...(sc.symbol ? { symbol: sc.symbol.name } : {}),
      address: hexOf(addr),
      observed: {
        sequence: sc.sequence,
        odd: true,
        readers: cpus.length,
        ...(lock ? { writerLock: lockName!, ...(lockHex ? { writerLockAddress: lockHex } : {}) } : {}),
        ...(lockState ? { writerLockValue: lockState.value, writerLocked: lockState.locked !== 0 } : {}),
      },
      facts: evidence.slice(-2),
    });
    if (lock) {
      ctx.object({
        id: `lock:${lockHex ?? lock.symbol?.name ?? 'writer'}`,
        kind: 'spinlock',
        ...(lock.symbol ? { symbol: lock.symbol.name } : {}),
        ...(lockHex ? { address: lockHex } : {}),
        observed: lockState ? { value: lockState.value, locked: lockState.locked !== 0 } : { unknown: lockUnknown ?? 'unreadable' },
        facts: lockState ? [evidence[evidence.length - 1]] : [],
      });
    }
    ctx.node(objectId, 'seqcount', `seqcount ${name} = ${sc.sequence} (odd, no writer)`, f.id);
    for (const r of readers) {
      ctx.node(cpuNode(r.ctx.cpu), 'cpu', `CPU ${r.ctx.cpu}: ${pcText(r.ctx.registers)}`, f.id);
      ctx.edge(cpuNode(r.ctx.cpu), objectId, 'spins-on', f.id, 'read_seqcount_begin');
    }
    out.push(f);
  }
  return out;
}
