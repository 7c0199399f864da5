/**
 * Evidence -> incidents: which pieces of evidence are of the same boot of the same kernel, and which incident the
 * verdict is about. A log holding several boots is several units; a vmcore, or a log of one boot, is one. Units are
 * of the same boot unless their kernel releases differ, their journal boot ids differ, or their timestamped lines
 * say so (boots.ts, `comparePrints`). The incident analysed: the one a vmcore is of, else the last one with trouble,
 * else the last one. The others are listed, one line each, never mixed into the verdict.
 */
import { diagnose } from '../diagnose/index.ts';
import { emptyCaseFile } from '../model/casefile.ts';
import type { BootIdentity, BootListing } from '../model/evidence.ts';
import { addParsedLog } from './log-case.ts';
import { comparePrints, type ParsedLog } from './log/index.ts';

/** One boot seen by one piece of evidence. */
export interface Unit {
  /** Index of the piece of evidence (argument order). */
  piece: number;
  label: string;
  kind: 'log' | 'dump';
  /** The boot's parse: its events, system facts, boot info and fingerprint. */
  log: ParsedLog;
  identity: BootIdentity;
  /** Verdict of this unit alone (set by `judgeUnits`). */
  status?: BootListing['status'];
  headline?: string;
}

export interface Incident {
  units: Unit[];
}

/** Whether two units are of the same boot (`same` undefined: cannot tell), and what tells. */
export interface Relation {
  same: boolean | undefined;
  by: 'same-log' | 'release' | 'boot-id' | 'lines' | 'nothing';
  /** Timestamped lines compared and found in both (`lines`). */
  checked?: number;
  shared?: number;
}

export function relation(a: Unit, b: Unit): Relation {
  if (a.piece === b.piece) return { same: false, by: 'same-log' };
  const ra = a.identity.release;
  const rb = b.identity.release;
  if (ra && rb && ra !== rb) return { same: false, by: 'release' };
  if (a.identity.bootId && b.identity.bootId) return { same: a.identity.bootId === b.identity.bootId, by: 'boot-id' };
  if (a.log.print && b.log.print) {
    const c = comparePrints(a.log.print, b.log.print);
    if (c.verdict !== 'unknown') return { same: c.verdict === 'same', by: 'lines', checked: c.checked, shared: c.shared };
  }
  return { same: undefined, by: 'nothing' };
}

/** Why `other` is not of the boot of `chosen`, in words. */
export function differenceText(chosen: Unit, other: Unit): string {
  const r = relation(chosen, other);
  const a = chosen.identity;
  const b = other.identity;
  switch (r.by) {
    case 'release':
      return `another kernel: it is of ${b.release}, ${chosen.label} of ${a.release}`;
    case 'boot-id':
      return `another boot: journal boot id ${b.bootId}, ${chosen.label} ${a.bootId}`;
    case 'lines':
      return `another boot${b.release ? ` of ${b.release}` : ''}: in the time both cover, its timestamped lines are not those of ${chosen.label} (${r.shared} of ${r.checked} in common)`;
    default:
      return `another boot than ${chosen.label}`;
  }
}

/** Groups units into incidents, in order: a unit joins the incident it shares most with and that nothing separates it from. */
export function groupUnits(units: Unit[]): Incident[] {
  const incidents: Incident[] = [];
  for (const u of units) {
    let best: { inc: Incident; score: number } | undefined;
    for (const inc of incidents) {
      const rels = inc.units.map((x) => relation(x, u));
      if (rels.some((r) => r.same === false)) continue;
      const score = rels.filter((r) => r.same === true).length;
      if (!best || score > best.score) best = { inc, score };
    }
    if (best) best.inc.units.push(u);
    else incidents.push({ units: [u] });
  }
  return incidents;
}

/** Verdict of one unit on its own (its log: for a vmcore, the log in it). */
export function judgeUnit(u: Unit): void {
  if (u.status) return;
  const c = emptyCaseFile();
  addParsedLog(c, u.log);
  const d = diagnose(c);
  u.status = d.verdict.status;
  const root = d.findings.find((f) => f.id === d.verdict.roots[0]);
  u.headline = clip(root ? root.summary : firstSentence(d.verdict.summary), 200);
}

function firstSentence(s: string): string {
  const m = /^(.*?[.!?])(\s|$)/.exec(s);
  return m ? m[1] : s;
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** Why an incident is the one analysed. */
export type Choice = 'vmcore' | 'last-with-trouble' | 'last' | 'only';

/** The incident the verdict is about: the one a vmcore is of, else the last with trouble, else the last. */
export function chooseIncident(incidents: Incident[]): { incident: Incident; why: Choice } {
  if (incidents.length === 1) return { incident: incidents[0], why: 'only' };
  const withDump = incidents.find((i) => i.units.some((u) => u.kind === 'dump'));
  if (withDump) return { incident: withDump, why: 'vmcore' };
  for (const inc of incidents) for (const u of inc.units) judgeUnit(u);
  const order = (i: Incident) => Math.max(...i.units.map((u) => u.piece * 1e9 + (u.identity.index ?? 0)));
  const sorted = [...incidents].sort((a, b) => order(a) - order(b));
  const trouble = sorted.filter((i) => i.units.some((u) => u.status !== 'healthy'));
  if (trouble.length) return { incident: trouble[trouble.length - 1], why: 'last-with-trouble' };
  return { incident: sorted[sorted.length - 1], why: 'last' };
}

/** The identity of a log boot. */
export function logIdentity(log: ParsedLog, multi: boolean): BootIdentity {
  const b = log.boot;
  const id: BootIdentity = {};
  const release = b?.release ?? log.system.release;
  if (release) id.release = release;
  if (b?.bootId) id.bootId = b.bootId;
  if (b?.bootTime) id.bootTime = b.bootTime;
  if (b && multi) {
    id.index = b.index;
    id.firstLine = b.firstLine;
    id.lastLine = b.lastLine;
  }
  return id;
}

/** `boot 3 (lines 1200-1830, 6.1.0-56-amd64)` */
export function describeBoot(id: BootIdentity): string {
  const bits = [id.firstLine !== undefined ? `lines ${id.firstLine}-${id.lastLine}` : undefined, id.release, id.bootId ? `boot id ${id.bootId}` : undefined].filter(Boolean);
  return `${id.index !== undefined ? `boot ${id.index}` : 'boot'}${bits.length ? ` (${bits.join(', ')})` : ''}`;
}

/** `STATUS: headline` for a unit judged on its own. */
export function unitVerdictText(u: Unit): string {
  judgeUnit(u);
  const status = u.status === 'problem' ? 'PROBLEM FOUND' : u.status === 'healthy' ? 'HEALTHY' : 'INCONCLUSIVE';
  return u.status === 'healthy' ? `${status}: nothing wrong found` : `${status}: ${u.headline}`;
}

/**
 * The boots of a multi-boot log, one line each for those with trouble and for the one analysed; runs of boots
 * without trouble are one line. Returns the notes and the full listing (for the JSON report).
 */
export function listBoots(units: Unit[], analysed: Unit | undefined, why: string): { notes: string[]; listing: BootListing[] } {
  for (const u of units) judgeUnit(u);
  const listing: BootListing[] = units.map((u) => ({
    index: u.log.boot!.index,
    firstLine: u.log.boot!.firstLine,
    lastLine: u.log.boot!.lastLine,
    ...(u.identity.release ? { release: u.identity.release } : {}),
    ...(u.identity.bootId ? { bootId: u.identity.bootId } : {}),
    status: u.status!,
    headline: u.status === 'healthy' ? 'nothing wrong found' : u.headline!,
    analysed: u === analysed,
  }));
  const notes: string[] = [];
  const trouble = listing.filter((b) => b.status !== 'healthy').length;
  notes.push(
    analysed
      ? `${units.length} boots in this log (${trouble} with trouble); the verdict is about boot ${analysed.log.boot!.index} (lines ${analysed.log.boot!.firstLine}-${analysed.log.boot!.lastLine}${analysed.identity.release ? `, ${analysed.identity.release}` : ''}): ${why}; the other boots:`
      : `${units.length} boots in this log (${trouble} with trouble), none of them the incident analysed (${why}):`,
  );
  let run: BootListing[] = [];
  const flush = () => {
    if (!run.length) return;
    const a = run[0];
    const z = run[run.length - 1];
    const rels = [...new Set(run.map((b) => b.release).filter(Boolean))];
    notes.push(
      run.length === 1
        ? `boot ${a.index} (lines ${a.firstLine}-${a.lastLine}${a.release ? `, ${a.release}` : ''}): HEALTHY: nothing wrong found`
        : `boots ${a.index}-${z.index} (lines ${a.firstLine}-${z.lastLine}${rels.length ? `, ${rels.join(', ')}` : ''}): HEALTHY: nothing wrong found in any`,
    );
    run = [];
  };
  for (const b of listing) {
    if (b.analysed) {
      flush();
      continue;
    }
    if (b.status === 'healthy') {
      run.push(b);
      continue;
    }
    flush();
    notes.push(`boot ${b.index} (lines ${b.firstLine}-${b.lastLine}${b.release ? `, ${b.release}` : ''}): ${b.status === 'problem' ? 'PROBLEM FOUND' : 'INCONCLUSIVE'}: ${b.headline}`);
  }
  flush();
  return { notes, listing };
}
