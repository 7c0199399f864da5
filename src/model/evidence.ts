/**
 * Which kernel and which boot each piece of evidence is of, and which boots a log holds: so that evidence of
 * different incidents is never mixed into one verdict without saying so (sources/incidents.ts fills these).
 */
import type { SourceInfo } from './casefile.ts';

/** The kernel and boot a source is evidence of, as far as it tells. */
export interface BootIdentity {
  release?: string;
  /** The systemd boot id of a journal's `-- Boot <id> --` marker. */
  bootId?: string;
  /** When the boot began: ISO time for a dump (crash or dump time less the uptime), else the log's own clock text. */
  bootTime?: string;
  /** Crash time of a dump (ISO), from VMCOREINFO. */
  crashTime?: string;
  /** In a log holding several boots: the boot's position (1-based) and its lines. */
  index?: number;
  firstLine?: number;
  lastLine?: number;
}

/** One boot of a log holding several, in one line: where it is, which kernel, and what it shows. */
export interface BootListing {
  index: number;
  firstLine: number;
  lastLine: number;
  release?: string;
  bootId?: string;
  status: 'problem' | 'healthy' | 'inconclusive';
  headline: string;
  /** The boot the verdict is about. */
  analysed: boolean;
}

/** A source with what is known of its boot. Sources stay `SourceInfo`s; these fields are optional additions. */
export interface EvidenceSource extends SourceInfo {
  boot?: BootIdentity;
  /** A log holding several boots: every boot, in order (the verdict is about the one marked `analysed`). */
  boots?: BootListing[];
  /** false: evidence of another kernel or boot than the one analysed, left out of the verdict (its notes say why). */
  used?: boolean;
}
