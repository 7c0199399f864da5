/**
 * The JSON report's schema: published by `coroner schema`, and the types the JSON view is built from.
 * Field names are an interface: add, never rename; bump SCHEMA_VERSION for a breaking change.
 */
import Type, { type Static } from 'typebox';

import { SCHEMA_VERSION } from './schema-version.ts';

export { SCHEMA_VERSION };

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const TaskRefSchema = Type.Object({ comm: Type.String(), pid: Type.Integer() });

export const FrameSchema = Type.Object({
  function: Type.String(),
  offset: Type.Optional(Type.Integer()),
  size: Type.Optional(Type.Integer()),
  module: Type.Optional(Type.String()),
  address: Type.Optional(Type.String({ description: 'hex, no 0x' })),
  reliable: Type.Boolean({ description: "false for frames marked '?' (found by scanning)" }),
  source: Type.Optional(Type.String({ description: 'source position printed beside the frame (symbolized reports), e.g. net/ipv4/tcp.c:123' })),
  inline: Type.Optional(Type.Boolean({ description: 'an inlined function the symbolizer printed as a frame of its own' })),
  stack: Type.Union([
    Type.Literal('task'),
    Type.Literal('irq'),
    Type.Literal('softirq'),
    Type.Literal('nmi'),
    Type.Literal('exception'),
    Type.Literal('entry'),
    Type.Literal('user'),
    Type.Literal('unknown'),
  ]),
  line: Type.Optional(Type.Integer()),
});

export const EvidenceSchema = Type.Object({
  text: Type.String(),
  source: Type.String({ description: 'file, dump or /proc path the fact came from' }),
  kind: Type.Union([Type.Literal('log'), Type.Literal('dump'), Type.Literal('live'), Type.Literal('text')]),
  line: Type.Optional(Type.Integer()),
  endLine: Type.Optional(Type.Integer()),
  address: Type.Optional(Type.String()),
  cite: Type.String({ description: 'short human citation, e.g. console.log:123' }),
});

export const EventSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  title: Type.String(),
  source: Type.String(),
  line: Type.Integer(),
  endLine: Type.Integer(),
  timestamp: Nullable(Type.Number()),
  cpu: Nullable(Type.Integer()),
  task: Nullable(TaskRefSchema),
  culprit: Nullable(Type.Object({ function: Type.String(), module: Type.Optional(Type.String()) })),
  report: Type.Optional(
    Type.Object({
      type: Type.String({ description: 'report type (kasan, warning-refcount, lockdep-deadlock, hung-task, ...)' }),
      title: Type.String({ description: 'title in the kernel-community convention, e.g. KASAN: use-after-free Read in tcp_v4_rcv' }),
      corrupted: Type.Optional(Type.String({ description: 'why the report cannot be trusted (interleaved, truncated), when so' })),
    }),
  ),
  release: Type.Optional(Type.String()),
  taint: Type.Optional(Type.String()),
  trace: Type.Array(FrameSchema),
  registers: Type.Array(
    Type.Object({
      values: Type.Record(Type.String(), Type.String()),
      pc: Type.Optional(Type.String()),
      mode: Type.Optional(Type.String()),
      irqsEnabled: Type.Optional(Type.Boolean()),
    }),
  ),
  code: Type.Optional(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const FindingSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  role: Type.Union([Type.Literal('root'), Type.Literal('symptom')]),
  summary: Type.String(),
  confidence: Type.Number({ minimum: 0, maximum: 1 }),
  subjects: Type.Array(
    Type.Object({
      kind: Type.String(),
      cpu: Type.Optional(Type.Integer()),
      pid: Type.Optional(Type.Integer()),
      comm: Type.Optional(Type.String()),
      id: Type.Optional(Type.String()),
    }),
  ),
  evidence: Type.Array(EvidenceSchema),
  steps: Type.Array(Type.String()),
  confirm: Type.Array(Type.String()),
  causedBy: Type.Array(Type.String()),
  knownIssue: Nullable(
    Type.Object({
      id: Type.String(),
      title: Type.String(),
      references: Type.Array(Type.String()),
      fix: Type.Optional(Type.String()),
      differences: Type.Optional(Type.Array(Type.String())),
    }),
  ),
  extra: Type.Record(Type.String(), Type.Unknown()),
  /** The wait-for graph nodes the finding is about (ids of graph.nodes). */
  nodes: Type.Optional(Type.Array(Type.String())),
});

export const CpuSchema = Type.Object({
  cpu: Type.Integer(),
  task: Nullable(TaskRefSchema),
  irqsEnabled: Nullable(Type.Boolean()),
  mode: Nullable(Type.String()),
  idle: Nullable(Type.Boolean()),
  pc: Nullable(Type.String()),
  stack: Type.Array(FrameSchema),
  events: Type.Array(Type.String()),
});

export const TaskSchema = Type.Object({
  pid: Type.Integer(),
  tgid: Nullable(Type.Integer()),
  ppid: Nullable(Type.Integer()),
  comm: Type.String(),
  state: Nullable(Type.String()),
  cpu: Nullable(Type.Integer()),
  blockedSeconds: Nullable(Type.Number()),
  startTime: Nullable(Type.Number()),
  stack: Type.Array(FrameSchema),
  events: Type.Array(Type.String()),
});

export const ObjectSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  symbol: Nullable(Type.String()),
  address: Nullable(Type.String()),
  observed: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
});

/** Which kernel and boot a source is evidence of (fields it does not tell are absent). */
export const BootIdentitySchema = Type.Object({
  release: Type.Optional(Type.String()),
  bootId: Type.Optional(Type.String({ description: "systemd boot id of a journal's `-- Boot <id> --` marker" })),
  bootTime: Type.Optional(Type.String({ description: "when the boot began: ISO time (a dump: crash or dump time less its uptime) or the log's own clock text" })),
  crashTime: Type.Optional(Type.String({ description: 'ISO time, from VMCOREINFO' })),
  index: Type.Optional(Type.Integer({ description: 'position (1-based) of the boot in a log holding several' })),
  firstLine: Type.Optional(Type.Integer()),
  lastLine: Type.Optional(Type.Integer()),
});

/** One boot of a log holding several. */
export const BootListingSchema = Type.Object({
  index: Type.Integer(),
  firstLine: Type.Integer(),
  lastLine: Type.Integer(),
  release: Type.Optional(Type.String()),
  bootId: Type.Optional(Type.String()),
  status: Type.Union([Type.Literal('problem'), Type.Literal('healthy'), Type.Literal('inconclusive')], { description: 'verdict of this boot on its own' }),
  headline: Type.String(),
  analysed: Type.Boolean({ description: 'the boot the verdict is about' }),
});

export const ReportSchema = Type.Object(
  {
    schemaVersion: Type.Literal(SCHEMA_VERSION),
    tool: Type.Object({ name: Type.Literal('coroner'), version: Type.String() }),
    sources: Type.Array(
      Type.Object({
        kind: Type.String(),
        path: Type.String(),
        format: Type.String(),
        lines: Nullable(Type.Integer()),
        notes: Type.Array(Type.String()),
        incomplete: Type.Boolean(),
        boot: Type.Optional(BootIdentitySchema),
        boots: Type.Optional(Type.Array(BootListingSchema, { description: 'a log holding several boots: each boot, in order' })),
        used: Type.Optional(Type.Boolean({ description: 'false: evidence of another kernel or boot, left out of the verdict (its notes say why)' })),
      }),
    ),
    system: Type.Object({
      release: Nullable(Type.String()),
      arch: Nullable(Type.String()),
      hardware: Nullable(Type.String()),
      taint: Nullable(Type.String()),
      cpus: Nullable(Type.Integer()),
      commandLine: Nullable(Type.String()),
      uptime: Nullable(Type.Number()),
      panic: Nullable(Type.String()),
    }),
    events: Type.Array(EventSchema),
    cpus: Type.Array(CpuSchema),
    tasks: Type.Array(TaskSchema),
    objects: Type.Array(ObjectSchema),
    findings: Type.Array(FindingSchema),
    graph: Type.Object({
      nodes: Type.Array(
        Type.Object({ id: Type.String(), kind: Type.String(), label: Type.String(), findings: Type.Array(Type.String()) }),
      ),
      edges: Type.Array(
        Type.Object({
          from: Type.String(),
          to: Type.String(),
          kind: Type.String(),
          finding: Type.String(),
          label: Type.Optional(Type.String()),
        }),
      ),
    }),
    verdict: Type.Object({
      status: Type.Union([Type.Literal('problem'), Type.Literal('healthy'), Type.Literal('inconclusive')]),
      summary: Type.String(),
      roots: Type.Array(Type.String({ description: 'finding ids, most important first' })),
      symptoms: Type.Array(Type.String()),
    }),
    incomplete: Type.Boolean(),
    mixedEvidence: Type.Optional(
      Type.Object(
        {
          releases: Type.Array(Type.String(), { description: 'kernel releases seen across the evidence' }),
          analysed: Type.Array(Type.String(), { description: 'sources the verdict is about' }),
          leftOut: Type.Array(Type.Object({ path: Type.String(), release: Nullable(Type.String()), reason: Type.String() })),
        },
        { description: 'present when the evidence is of more than one kernel or boot: what the verdict is about and what was left out' },
      ),
    ),
    diagnosisErrors: Type.Optional(Type.Array(Type.String({ description: 'detectors that failed; their findings are missing' }))),
  },
  {
    $id: 'https://coroner.dev/schema/report-v1.json',
    title: 'Coroner report',
    description: 'The verdict on one incident: roots first, then symptoms, each with the evidence behind it.',
  },
);

export type Report = Static<typeof ReportSchema>;
export type ReportFinding = Static<typeof FindingSchema>;
export type ReportEvent = Static<typeof EventSchema>;
