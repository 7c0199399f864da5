/**
 * Benchmark: the fast log scanner (scanLogFile) against `grep -c -F` with the same trigger needles, on the same
 * generated console log, in the same run. Also `coroner triage` when that command exists.
 *
 *   node --import tsx bench/log-scan.ts [--size-mb 1024] [--full] [--keep]
 *
 * The log (default ~1 GiB) goes to /var/tmp: realistic boot/driver noise with a few hundred incidents of varied kinds
 * (the samples of test/data/log, re-timestamped). It is reused across runs when its size matches.
 * Each contender runs in its own process; we print wall time, ratio to grep, and peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};

// Child mode: run one contender and print its result as JSON.
if (args[0] === '--child') {
  const [, which, file] = args;
  const t0 = process.hrtime.bigint();
  const mod = await import('../src/sources/log/index.ts');
  const r = which === 'scan' ? await mod.scanLogFile(file) : await mod.parseLogFile(file);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const kinds: Record<string, number> = {};
  for (const e of r.events) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  console.log(JSON.stringify({ ms, events: r.events.length, lines: r.lines, kinds, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}

const sizeMb = Number(opt('--size-mb', '1024'));
const file = `/var/tmp/coroner-log-scan-${sizeMb}mb.log`;

// ---------------------------------------------------------------------------------------------------
// Generation

const NOISE = [
  'usb 1-{a}: new high-speed USB device number {b} using xhci_hcd',
  'usb 1-{a}: New USB device found, idVendor=0bda, idProduct=8153, bcdDevice=30.00',
  'r8152 2-{a}:1.0 eth{b}: v1.12.13',
  'EXT4-fs (sda{a}): mounted filesystem with ordered data mode. Quota mode: none.',
  'audit: type=1400 audit({b}.{a}:{b}): apparmor="STATUS" operation="profile_load" profile="unconfined" name="/usr/bin/man" pid={b} comm="apparmor_parser"',
  'IPv6: ADDRCONF(NETDEV_CHANGE): eth{a}: link becomes ready',
  'e1000e 0000:00:1f.6 eth{a}: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx',
  'nvme nvme{a}: 8/0/0 default/read/poll queues',
  'systemd[1]: Started session-{b}.scope - Session {b} of User root.',
  'pci 0000:00:{a}.0: [8086:a0{a}] type 00 class 0x060000',
  'ACPI: \\_SB_.PCI0.GP{a}_: New power resource',
  'random: crng init done',
  'perf: interrupt took too long ({b} > {a}), lowering kernel.perf_event_max_sample_rate to {b}',
  'TCP: request_sock_TCP: Possible SYN flooding on port {b}. Sending cookies.',
  'device-mapper: uevent: version 1.0.3',
  'loop{a}: detected capacity change from 0 to {b}',
  'kauditd_printk_skb: {a} callbacks suppressed',
  'virtio_net virtio{a} enp{a}s0: renamed from eth{a}',
  'xhci_hcd 0000:00:14.0: xHCI Host Controller',
  'intel_rapl_common: Found RAPL domain package',
];

function generate(): void {
  const samplesDir = path.join(root, 'test/data/log');
  const incidents = readdirSync(samplesDir)
    .filter((f) => /\.(dmesg|log)$/.test(f))
    .map((f) =>
      readFileSync(path.join(samplesDir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\[\s*\d+\.\d+\](\[\s*[TC]\d+\])?\s?/, '')),
    );
  const target = sizeMb * 1024 * 1024;
  const fd = openSync(file, 'w');
  let written = 0;
  let ts = 0;
  let n = 0;
  let incidentsWritten = 0;
  // a few hundred incidents spread evenly
  const every = Math.max(1, Math.floor(target / 300));
  let nextIncident = every / 2;
  const parts: string[] = [];
  let partLen = 0;
  const flush = () => {
    const b = Buffer.from(parts.join(''));
    writeSync(fd, b);
    written += b.length;
    parts.length = 0;
    partLen = 0;
  };
  const stamp = () => `[${(ts += 0.000137).toFixed(6).padStart(12)}] `;
  while (written + partLen < target) {
    if (written + partLen >= nextIncident) {
      const inc = incidents[incidentsWritten++ % incidents.length];
      ts += 30; // a report starts after a quiet period
      for (const l of inc) {
        const s = stamp() + l + '\n';
        parts.push(s);
        partLen += s.length;
      }
      ts += 30;
      nextIncident += every;
      continue;
    }
    n++;
    const tpl = NOISE[(n * 2654435761) % NOISE.length];
    const s = stamp() + tpl.replaceAll('{a}', String(n % 10)).replaceAll('{b}', String(n)) + '\n';
    parts.push(s);
    partLen += s.length;
    if (partLen > 4 * 1024 * 1024) flush();
  }
  flush();
  closeSync(fd);
  console.log(`generated ${file}: ${(written / 1048576).toFixed(0)} MiB, ${incidentsWritten} incidents`);
}

if (!existsSync(file) || Math.abs(statSync(file).size - sizeMb * 1024 * 1024) > 8 * 1024 * 1024) generate();
else console.log(`reusing ${file} (${(statSync(file).size / 1048576).toFixed(0)} MiB)`);

// ---------------------------------------------------------------------------------------------------
// Contenders

const { scanNeedles } = await import('../src/sources/log/scan.ts');
const needles = scanNeedles();

function timeIt(cmd: string, argv: string[]): { ms: number; out: string; maxRssKb?: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = Number((r.stderr.trim().split('\n').pop() ?? '').trim());
  return { ms, out: r.stdout, maxRssKb: Number.isFinite(rss) ? rss : undefined };
}
const haveTime = existsSync('/usr/bin/time');
function run(cmd: string, argv: string[]) {
  if (haveTime) return timeIt(cmd, argv);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out: r.stdout, maxRssKb: undefined };
}

// warm the page cache so every contender reads from memory
spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });

const grepArgs = ['-c', '-F', ...needles.flatMap((n) => ['-e', n]), file];
const grep = run('grep', grepArgs);
const scan = run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', 'scan', file]);
const scanRes = JSON.parse(scan.out.trim().split('\n').pop() ?? '{}');
const rows: Array<[string, number, number | undefined, string]> = [
  ['grep -c -F (same needles)', grep.ms, grep.maxRssKb, `${grep.out.trim()} matching lines`],
  ['scanLogFile (node child)', scan.ms, scan.maxRssKb ?? scanRes.maxRssKb, `${scanRes.events} events, ${scanRes.lines} lines, in-process ${scanRes.ms?.toFixed(0)} ms`],
];
if (args.includes('--full')) {
  const full = run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', 'full', file]);
  const fr = JSON.parse(full.out.trim().split('\n').pop() ?? '{}');
  rows.push(['parseLogFile (full path)', full.ms, full.maxRssKb ?? fr.maxRssKb, `${fr.events} events`]);
  if (fr.events !== scanRes.events) console.log('WARNING: full and fast paths disagree on the event count');
}
const triage = path.join(root, 'src/cli/commands/triage.ts');
if (existsSync(triage)) {
  const t = run(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'triage', file]);
  rows.push(['coroner triage', t.ms, t.maxRssKb, 'CLI end to end']);
} else rows.push(['coroner triage', NaN, undefined, 'not measured: src/cli/commands/triage.ts does not exist yet']);

console.log(`\nfile: ${file} (${(statSync(file).size / 1048576).toFixed(0)} MiB), needles: ${needles.length}`);
console.log(`events by kind (scan): ${JSON.stringify(scanRes.kinds)}`);
for (const [name, ms, rss, note] of rows) {
  const ratio = Number.isFinite(ms) ? `${(ms / grep.ms).toFixed(2)}x grep` : '';
  console.log(`${name.padEnd(28)} ${Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s`.padStart(9) : '        -'}  ${ratio.padEnd(11)} ${rss ? `peak RSS ${(rss / 1024).toFixed(0)} MiB` : ''}  ${note}`);
}
if (!args.includes('--keep') && args.includes('--delete')) unlinkSync(file);
