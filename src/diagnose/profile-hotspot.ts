/**
 * Where a CPU profile (a pasted `perf report`) says the time goes: a lock slow path taking a large share of all
 * samples is contention on one lock, named by the first caller that is not locking code (the site that takes it);
 * one symbol taking most of the samples is a hot spot. Not a hang, but a cause: CPUs burnt on a lock.
 */
import type { Finding } from '../model/finding.ts';
import { finding, type DetectorContext } from './context.ts';
import { matchesAny, OTHER_SPIN_FUNCTIONS, SPINLOCK_SLOWPATH_FUNCTIONS } from './known/frames.ts';

/** A share of all samples in lock slow paths past which the lock is the story. */
const CONTENTION_SHARE = 20;
/** One symbol with this share of the samples is a hot spot. */
const HOT_SHARE = 50;

const LOCKING = /spin_lock|spin_unlock|queued_spin|_raw_|osq_lock|mutex_spin_on_owner|rwsem_spin_on_owner|rwsem_optimistic_spin|__mutex_lock|mutex_lock|down_read|down_write|lock_acquire/;

export function profileHotspotDetector(ctx: DetectorContext): Finding[] {
  const p = ctx.c.profile;
  if (!p?.length) return [];
  const sorted = [...p].sort((a, b) => b.percent - a.percent);
  // One entry per symbol (the largest): a paste may hold two profiles (before and after a fix), whose shares do not add.
  const spin = sorted.filter((e, i) => (matchesAny(e.symbol, SPINLOCK_SLOWPATH_FUNCTIONS) || matchesAny(e.symbol, OTHER_SPIN_FUNCTIONS)) && sorted.findIndex((x) => x.symbol === e.symbol) === i);
  const spinShare = spin.reduce((n, e) => n + e.percent, 0);
  const top = sorted[0];
  if (spin.length && spinShare >= CONTENTION_SHARE) {
    const main = spin[0];
    const site = main.callers.find((n) => !LOCKING.test(n));
    const chain = [main.symbol, ...main.callers].slice(0, 8).join(' <- ');
    const objectId = `lock:taken-in:${site ?? main.symbol}`;
    const f = finding(ctx, 'lock-contention', 'root', `${spinShare.toFixed(1)}% of the profile's samples spin in ${spin.map((e) => e.symbol).join(', ')}${site ? `: contention on the lock taken in ${site}` : ''}${main.comm ? ` (${main.comm})` : ''}`, {
      confidence: site ? 0.65 : 0.5,
      subjects: [{ kind: 'object', id: objectId }],
      evidence: spin.slice(0, 4).map((e) => ({ text: `${e.percent}% ${e.symbol}${e.callers.length ? ` <- ${e.callers.slice(0, 6).join(' <- ')}` : ''}`, from: e.from })),
      steps: [
        `The profile${main.samples ? ` (${main.samples})` : ''} puts ${spinShare.toFixed(1)}% of all samples in spinlock slow paths: CPUs wait for a lock instead of working.`,
        site ? `The hottest chain is ${chain}: the lock is the one ${site} takes, so every path through ${site} queues on it.` : 'The profile has no call graph: which code takes the lock is unknown (perf record -g, then perf report --no-children -g caller).',
        'Find why the lock is taken so often or held so long: the callers of that site and what they do under it (perf report -g caller --symbol-filter, lockstat / perf lock contention).',
      ],
      confirm: ['perf lock contention -a -b -- sleep 5   # which lock, how long, from where', `perf report --no-children -g caller --stdio -S ${main.symbol}`],
      extra: { share: Number(spinShare.toFixed(2)), ...(site ? { site } : {}), chain: [main.symbol, ...main.callers].slice(0, 12) },
      nodes: [objectId],
    });
    ctx.node(objectId, 'lock', site ? `the lock taken in ${site}` : `a contended spinlock`, f.id);
    return [f];
  }
  if (top.percent >= HOT_SHARE) {
    return [
      finding(ctx, 'cpu-hotspot', 'root', `${top.percent}% of the profile's samples are in ${top.symbol}${top.dso ? ` (${top.dso})` : ''}${top.comm ? `, in ${top.comm}` : ''}`, {
        confidence: 0.5,
        subjects: [],
        evidence: [{ text: `${top.percent}% ${top.symbol}${top.callers.length ? ` <- ${top.callers.slice(0, 6).join(' <- ')}` : ''}`, from: top.from }],
        steps: [`One function takes ${top.percent}% of the samples${top.callers.length ? `, reached through ${top.callers.slice(0, 6).join(' <- ')}` : ''}: the CPU time goes there.`],
        confirm: [`perf annotate --stdio -s ${top.symbol}   # the hot instructions`],
        extra: { share: top.percent, symbol: top.symbol },
      }),
    ];
  }
  return [];
}
