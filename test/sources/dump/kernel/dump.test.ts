/** The kernel layer on every real vmcore fixture, checked against the crash oracle and VMCOREINFO. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { InputError } from '../../../../src/model/errors.ts';
import { openKernelDump, type KernelDump } from '../../../../src/sources/dump/index.ts';
import { KernelLayoutError, UnreadableMemoryError, attempt } from '../../../../src/sources/dump/kernel/errors.ts';
import { ExcludedPageError } from '../../../../src/sources/dump/format/types.ts';
import { crashBtFrames, crashSys, vmcoreFixtures, type Fixture } from './fixtures.ts';

const fixtures = vmcoreFixtures();
const opened: KernelDump[] = [];
after(() => opened.forEach((d) => d.close()));

function open(f: Fixture, systemMap?: string): KernelDump {
  const d = openKernelDump(f.vmcore, systemMap ? { systemMap } : {});
  opened.push(d);
  return d;
}

test('fixtures are present', { skip: fixtures.length === 0 && 'no ../shared/fixtures' }, () => {
  assert.ok(fixtures.length >= 9, `found ${fixtures.length} vmcores`);
});

for (const f of fixtures) {
  describe(f.name, () => {
    const d = open(f);
    const sys = crashSys(f.oracle('crash.sys.txt') ?? '');

    test('info: release, version, CPUs, crash time, sources', () => {
      const i = d.info();
      assert.equal(i.release, sys.RELEASE);
      assert.equal(i.version, sys.VERSION);
      assert.equal(i.nodename, sys.NODENAME);
      assert.equal(i.cpus.online?.length, Number(sys.CPUS));
      assert.equal(i.cpus.notes, Number(sys.CPUS));
      assert.equal(i.symbols.source, 'kallsyms-in-dump');
      assert.equal(i.types.source, 'BTF');
      assert.ok(i.types.bytes > 1_000_000);
      const date = Date.parse(sys.DATE.replace(/ UTC (\d+)$/, ' $1 UTC'));
      if (f.name.includes('-kdump/')) {
        assert.equal(i.dumpedBy, 'kdump');
        assert.equal(i.crashTime, date / 1000, `CRASHTIME vs crash DATE ${sys.DATE}`);
      } else {
        assert.equal(i.dumpedBy, 'hypervisor');
        assert.equal(i.crashTime, undefined);
        assert.match(i.crashTimeNote ?? '', /dump taken on request/);
      }
      assert.equal(i.clockAtDump, date / 1000, `timekeeper vs crash DATE ${sys.DATE}`);
      const panic = sys.PANIC?.match(/^"(.*)"/)?.[1] ?? '';
      assert.equal(i.panic ?? '', panic);
      assert.deepEqual(i.incomplete, []);
    });

    test('linux_banner and init_uts_ns give the kernel banner', () => {
      const k = d.kernel;
      const banner = k.variable('linux_banner').string();
      assert.ok(banner.startsWith(`Linux version ${sys.RELEASE} `), banner);
      assert.ok(banner.trimEnd().endsWith(sys.VERSION), banner);
      const uts = k.variable('init_uts_ns').member('name');
      assert.equal(uts.member('release').string(), sys.RELEASE);
      assert.equal(uts.member('version').string(), sys.VERSION);
      assert.equal(uts.member('sysname').string(), 'Linux');
    });

    test('BTF agrees with every VMCOREINFO SIZE() and OFFSET()', () => {
      const k = d.kernel;
      let checked = 0;
      const typeOf = (name: string) => {
        for (const spec of [`struct ${name}`, name]) {
          const r = attempt(() => k.type(spec));
          if (r.ok) return r.value;
        }
        throw new Error(`no BTF type for VMCOREINFO name ${name}`);
      };
      for (const [name, size] of d.vmcoreinfo.sizes) {
        assert.equal(typeOf(name).sizeof, size, `SIZE(${name})`);
        checked++;
      }
      for (const [key, off] of d.vmcoreinfo.offsets) {
        const dot = key.indexOf('.');
        assert.equal(typeOf(key.slice(0, dot)).offsetOf(key.slice(dot + 1)), off, `OFFSET(${key})`);
        checked++;
      }
      assert.ok(checked > 40, `${checked} checked`);
      const ts = k.type('struct task_struct');
      assert.ok(ts.sizeof > 4000);
      assert.ok(ts.offsetOf('tasks') > 0 && ts.offsetOf('comm') > ts.offsetOf('tasks'));
      assert.throws(() => ts.offsetOf('state'), (e: unknown) => e instanceof KernelLayoutError && e.message === `struct task_struct has no member 'state' (kernel ${sys.RELEASE})`);
    });

    test('init_task is where crash says swapper/0 is, and walks by BTF offsets', () => {
      const ps = f.oracle('crash.ps.txt') ?? '';
      const m = /^>?\s+0\s+0\s+0\s+([0-9a-f]+)\s+\S+.*\[swapper\/0\]/m.exec(ps);
      assert.ok(m, 'swapper/0 in crash.ps.txt');
      const k = d.kernel;
      assert.equal(k.symbolAddress('init_task'), BigInt('0x' + m[1]));
      const init = k.variable('init_task');
      assert.equal(init.member('comm').string(), 'swapper/0');
      assert.equal(init.member('pid').int(), 0n);
      // The first task on init_task.tasks is init (pid 1), reached by container_of.
      const next = k.containerOf(init.member('tasks').member('next').pointer(), 'struct task_struct', 'tasks');
      assert.equal(next.member('pid').int(), 1n);
    });

    test('symbols resolve every RIP of crash bt -a, module frames included', () => {
      const frames = crashBtFrames(f.oracle('crash.bt-a.txt') ?? '');
      assert.ok(frames.length > 4);
      for (const fr of frames) {
        const s = d.symbols.lookup(fr.address);
        assert.ok(s, `no symbol for ${fr.address.toString(16)} (${fr.func})`);
        assert.equal(s.name, fr.func, `at ${fr.address.toString(16)}`);
        assert.equal(s.module, fr.module, `module of ${fr.func}`);
        assert.ok(s.offset < s.size, `${fr.func}+${s.offset}/${s.size}`);
      }
    });

    test('System.map gives the same symbols, KASLR applied, and is verified', { skip: !f.systemMap && 'no System.map' }, () => {
      const viaMap = open(f, f.systemMap);
      assert.equal(viaMap.symbols.source, f.systemMap);
      for (const fr of crashBtFrames(f.oracle('crash.bt-a.txt') ?? '')) {
        const a = d.symbols.lookup(fr.address)!;
        const b = viaMap.symbols.lookup(fr.address)!;
        assert.equal(b.name, a.name);
        assert.equal(b.offset, a.offset);
        assert.equal(b.module, a.module);
      }
      for (const n of ['init_task', 'linux_banner', '__start_BTF', 'jiffies', 'runqueues', '__per_cpu_offset']) {
        assert.equal(viaMap.symbols.address(n), d.symbols.address(n), n);
      }
      assert.equal(viaMap.kernel.variable('init_uts_ns').member('name.release').string(), sys.RELEASE);
    });
  });
}

describe('scenario values', () => {
  const byName = new Map(fixtures.map((f) => [f.name, f]));

  test('jiffies_seq and jiffies match crash p (hardlockup-seqcount)', { skip: !byName.has('deb12-6.1.0-56/hardlockup-seqcount') }, () => {
    const f = byName.get('deb12-6.1.0-56/hardlockup-seqcount')!;
    const k = open(f).kernel;
    const oracle = f.oracle('crash.p-jiffies_seq.txt')!;
    const seq = Number(/sequence = (\d+)/.exec(oracle)![1]);
    const jiffies = BigInt(/^jiffies = \$\d+ = (\d+)/m.exec(oracle)![1]);
    assert.equal(k.variable('jiffies_seq').member('seqcount').member('sequence').u32(), seq);
    assert.equal(k.variable('jiffies').u64(), jiffies);
    assert.equal(k.variable('jiffies_lock').member('raw_lock').member('val').int(), 0n);
  });

  test('per-CPU call_single_queue matches crash p (softlockup-ipi)', { skip: !byName.has('deb12-6.1.0-56/softlockup-ipi') }, () => {
    const f = byName.get('deb12-6.1.0-56/softlockup-ipi')!;
    const k = open(f).kernel;
    const oracle = f.oracle('crash.p-call_single_queue.txt')!;
    for (const m of oracle.matchAll(/per_cpu\(call_single_queue, (\d+)\) = \$\d+ = \{\s+first = (0x[0-9a-f]+)/g)) {
      assert.equal(k.perCpu('call_single_queue', Number(m[1])).member('first').pointer(), BigInt(m[2]), `cpu ${m[1]}`);
    }
    assert.throws(() => k.variable('call_single_queue'), /per-CPU variable/);
    // A module variable by its module symbol: forge_ring0's lock is held (locked = 1), through anonymous unions.
    const ring = k.value(k.symbolAddress('forge_ring0'), 'spinlock_t');
    assert.equal(ring.member('rlock.raw_lock.locked').u8(), 1);
    assert.equal(ring.member('rlock').member('raw_lock').member('val').int(), 1n);
  });

  test('a mismatched System.map is refused with a clear InputError', { skip: !byName.has('deb12-6.1.0-56/healthy') || !byName.has('deb12-6.12.117/healthy') }, () => {
    const f61 = byName.get('deb12-6.1.0-56/healthy')!;
    const map612 = byName.get('deb12-6.12.117/healthy')!.systemMap!;
    const d = openKernelDump(f61.vmcore, { systemMap: map612 });
    opened.push(d);
    assert.throws(
      () => d.symbols,
      (e: unknown) => e instanceof InputError && e.file === map612 && /System.map does not match the dump/.test(e.message),
    );
  });

  test('excluded pages surface as "excluded", never zeros (kdump -d 31)', { skip: !byName.has('deb12-6.1.0-56-kdump/softlockup-ipi') }, () => {
    const d = open(byName.get('deb12-6.1.0-56-kdump/softlockup-ipi')!);
    const k = d.kernel;
    let found: bigint | undefined;
    for (let pfn = 0x1000n; pfn < 0x10000n && found === undefined; pfn += 7n) {
      try {
        d.container.readPhys(pfn << 12n, 8);
      } catch (e) {
        if (e instanceof ExcludedPageError) found = pfn << 12n;
      }
    }
    assert.ok(found !== undefined, 'an excluded page exists');
    const va = d.memory.physToDirect(found);
    assert.throws(
      () => k.value(va, 'unsigned long').u64(),
      (e: unknown) => e instanceof UnreadableMemoryError && e.reason === 'excluded' && /excluded from the dump/.test(e.because),
    );
    const r = attempt(() => k.value(va, 'unsigned long', 'some_counter').u64());
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.unknown, /some_counter was excluded/);
  });

  test('a /var/crash directory is accepted', { skip: !byName.has('deb12-6.1.0-56-kdump/softlockup-ipi') }, () => {
    const f = byName.get('deb12-6.1.0-56-kdump/softlockup-ipi')!;
    const d = openKernelDump(f.dir);
    opened.push(d);
    assert.equal(d.path, f.vmcore);
  });
});
