/**
 * A finding's "confirm:" commands, with the Coroner command that shows the same thing from the dump alone placed
 * before each crash command it can stand for (no debuginfo, no crash start-up): `crash> dis -r ADDR` →
 * `coroner dump dis -r VMCORE ADDR`, `crash> bt -a` → `coroner dump bt VMCORE`, `foreach UN bt`, `sym`, `rd`, `p`, `struct`, `ps`, `log`.
 */

/** A path as a POSIX shell word. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The Coroner equivalent of one crash command line, or undefined. */
export function coronerEquivalent(cmd: string, vmcore: string): string | undefined {
  const m = /^crash> (.*?)(\s+#.*)?$/.exec(cmd.trim());
  if (!m) return undefined;
  const c = m[1].trim();
  const comment = m[2] ?? '';
  const v = shellWord(vmcore);
  const t = (s: string) => `coroner dump ${s}${comment}`;
  let x: RegExpExecArray | null;
  if (/^bt -a$/.test(c)) return t(`bt ${v}`);
  if ((x = /^bt (\d+)$/.exec(c))) return t(`bt ${v} ${x[1]}`);
  if (/^foreach UN bt$/.test(c)) return t(`bt --state D ${v}`);
  if (/^foreach bt$/.test(c)) return t(`bt --tasks ${v}`);
  if ((x = /^dis -r (\S+)$/.exec(c))) return t(`dis -r ${v} ${x[1]}`);
  if ((x = /^dis(?: -l)? ([A-Za-z_][\w.]*)$/.exec(c))) return t(`dis ${v} ${x[1]}`);
  if ((x = /^sym (\S+)$/.exec(c))) return t(`sym ${v} ${x[1]}`);
  if ((x = /^rd (?:-(8|16|32|64) )?(\S+)(?: (\d+))?$/.exec(c))) return t(`rd ${x[1] ? `-s ${x[1]} ` : ''}${v} ${x[2]}${x[3] ? ` ${x[3]}` : ''}`);
  if ((x = /^p (-x )?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*)$/.exec(c))) return t(`p ${x[1] ? '-x ' : ''}${v} ${x[2]}`);
  if ((x = /^struct (?:struct )?([A-Za-z_]\w*) (?:0x)?([0-9a-f]{8,16}|[A-Za-z_]\w*)$/.exec(c))) return t(`struct ${v} ${x[1]} ${x[2]}`);
  if (/^ps$/.test(c)) return t(`ps ${v}`);
  if (/^ps -m$/.test(c)) return t(`ps -m ${v}`);
  if ((x = /^log(\s*\|.*)?$/.exec(c))) return `coroner dump log ${v}${x[1] ?? ''}${comment}`;
  return undefined;
}

/** The confirm list with Coroner commands first where one exists (each before the crash line it stands for). */
export function withCoronerCommands(confirm: readonly string[], vmcore: string | undefined): string[] {
  if (!vmcore) return [...confirm];
  const out: string[] = [];
  for (const cmd of confirm) {
    const eq = coronerEquivalent(cmd, vmcore);
    if (eq && !out.includes(eq)) out.push(eq);
    out.push(cmd);
  }
  return out;
}
