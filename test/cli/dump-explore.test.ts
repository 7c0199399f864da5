/**
 * Exploration commands (issue 14, first part): `dump sym` and `dump rd` on the fixtures' vmcores, checked against
 * crash's own output on the same dumps (its `sym` lines, the values its `p` printed, the addresses its `dis` named).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allFixtureDirs, fixtureDirs, runCli } from '../helpers.ts';

const dirs = fixtureDirs().filter((d) => existsSync(join(d, 'vmcore.kdump')));

describe('dump sym / dump rd', { skip: dirs.length ? false : 'no fixtures' }, () => {
  for (const d of dirs) {
    const name = d.split('/').slice(-2).join('/');
    const vmcore = join(d, 'vmcore.kdump');
    const texts = readdirSync(d).filter((f) => /^crash\..*\.txt$/.test(f)).map((f) => readFileSync(join(d, f), 'utf8')).join('\n');
    const symLines = [...texts.matchAll(/^([0-9a-f]{16}) \(([a-zA-Z])\) (\S+)( \[\S+\])?$/gm)];
    if (symLines.length) {
      it(`${name}: dump sym prints crash's sym lines`, () => {
        for (const m of symLines) {
          const r = runCli(['dump', 'sym', vmcore, m[3]]);
          assert.equal(r.stdout.trim(), m[0]);
          const back = runCli(['dump', 'sym', vmcore, m[1]]);
          assert.equal(back.stdout.trim(), m[0]);
        }
      });
    }
    const named = [...texts.matchAll(/# 0x([0-9a-f]{16}) <([A-Za-z_]\w*)>/g)].slice(0, 5);
    if (named.length) {
      it(`${name}: dump sym names the addresses crash's dis names`, () => {
        for (const m of named) assert.match(runCli(['dump', 'sym', vmcore, m[1]]).stdout, new RegExp(`^${m[1]} \\(\\w\\) ${m[2]}\\n`));
      });
    }
    const p = existsSync(join(d, 'crash.p-jiffies_seq.txt')) ? readFileSync(join(d, 'crash.p-jiffies_seq.txt'), 'utf8') : '';
    if (p) {
      it(`${name}: dump rd reads what crash's p printed`, () => {
        const jiffies = BigInt(/^jiffies = \$\d+ = (\d+)/m.exec(p)![1]);
        assert.equal(BigInt('0x' + /:\s+([0-9a-f]{16})/.exec(runCli(['dump', 'rd', vmcore, 'jiffies']).stdout)![1]), jiffies);
        const seq = Number(/sequence = (\d+)/.exec(p)![1]);
        assert.equal(parseInt(/:\s+([0-9a-f]{8})/.exec(runCli(['dump', 'rd', '-s', '32', vmcore, 'jiffies_seq', '4']).stdout)![1], 16), seq);
      });
    }
  }
  it('an unknown symbol is an input error (exit 2), not a trace', () => {
    const r = runCli(['dump', 'sym', join(dirs[0], 'vmcore.kdump'), 'no_such_symbol_anywhere']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no symbol "no_such_symbol_anywhere"/);
  });
});

describe('dump dis', { skip: dirs.length ? false : 'no fixtures' }, () => {
  for (const d of dirs) {
    for (const f of readdirSync(d).filter((x) => /^crash\.dis-[\w.]+\.txt$/.test(x))) {
      const fn = /^crash\.dis-([\w.]+)\.txt$/.exec(f)![1];
      const name = `${d.split('/').slice(-2).join('/')}: dis ${fn}`;
      it(`${name} is crash's dis, line for line`, () => {
        const vmcore = join(d, 'vmcore.kdump');
        const theirs = readFileSync(join(d, f), 'utf8').split('\n').filter((l) => l.startsWith('0x')).map((l) => l.trimEnd());
        const ours = runCli(['dump', 'dis', vmcore, fn]).stdout.split('\n').filter(Boolean).map((l) => l.trimEnd());
        assert.equal(ours.length, theirs.length);
        for (let i = 0; i < ours.length; i++) {
          if (ours[i] === theirs[i]) continue;
          // Only an alias may differ (two symbols at one address, e.g. __indirect_thunk_start / __x86_indirect_thunk_array).
          assert.equal(ours[i].replace(/<[^>]+>/g, '<>'), theirs[i].replace(/<[^>]+>/g, '<>'), `line ${i + 1}`);
          const names = (l: string) => [...l.matchAll(/<([\w.]+)(?:\+\d+)?>/g)].map((m) => m[1]);
          const [a, b] = [names(ours[i]), names(theirs[i])];
          for (let k = 0; k < a.length; k++) {
            if (a[k] === b[k]) continue;
            const at = (s: string) => /^([0-9a-f]{16})/.exec(runCli(['dump', 'sym', vmcore, s]).stdout)?.[1];
            assert.equal(at(a[k]), at(b[k]), `${a[k]} and ${b[k]} are one address`);
          }
        }
      });
    }
  }
});

describe('dump p', { skip: dirs.length ? false : 'no fixtures' }, () => {
  for (const d of dirs.filter((x) => existsSync(join(x, 'crash.p-jiffies_seq.txt')))) {
    it(`${d.split('/').slice(-2).join('/')}: globals print as crash's p prints them (anonymous unions, u8 chars)`, () => {
      const vmcore = join(d, 'vmcore.kdump');
      const oracle = readFileSync(join(d, 'crash.p-jiffies_seq.txt'), 'utf8');
      const names = ['jiffies_seq', 'jiffies_lock', 'jiffies', 'jiffies_64'];
      // The oracle prints `NAME = $N = value` per variable; take each variable's block.
      const blocks = names.map((n) => new RegExp(`^${n} = \\$\\d+ = ([\\s\\S]*?)(?=^\\w+ = \\$\\d+ = |(?![\\s\\S]))`, 'm').exec(oracle)![1].trimEnd());
      const r = runCli(['dump', 'p', vmcore, ...names]);
      assert.equal(r.code, 0, r.stderr);
      const ours = r.stdout.trimEnd().split(/^\$\d+ = /m).slice(1).map((b) => b.trimEnd());
      assert.deepEqual(ours, blocks);
      assert.equal(runCli(['dump', 'p', vmcore, 'init_task.comm']).stdout.trim(), '$1 = "swapper/0\\000\\000\\000\\000\\000\\000"');
    });
    it(`${d.split('/').slice(-2).join('/')}: a static with no BTF type is exit 2 saying so`, () => {
      const r = runCli(['dump', 'p', join(d, 'vmcore.kdump'), 'tick_do_timer_cpu']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /BTF gives no type for the global tick_do_timer_cpu/);
      assert.match(r.stderr, /coroner dump rd VMCORE tick_do_timer_cpu/, 'it says how to read it instead');
    });
  }
});

describe('dump struct', () => {
  const withCtx = allFixtureDirs().filter((d) => existsSync(join(d, 'crash.uffd-ctx.txt')) && existsSync(join(d, 'vmcore.kdump')));
  for (const d of withCtx) {
    it(`${d.split('/').slice(-2).join('/')}: struct userfaultfd_ctx is crash's struct print`, () => {
      const oracle = readFileSync(join(d, 'crash.uffd-ctx.txt'), 'utf8');
      // The context is the uffd file's private_data (the oracle printed the file first), then the ctx itself.
      const ctx = /^\s*private_data = 0x([0-9a-f]+),$/m.exec(oracle)![1];
      const block = /^struct userfaultfd_ctx \{\n[\s\S]*?\n\}$/m.exec(oracle)![0];
      const r = runCli(['dump', 'struct', join(d, 'vmcore.kdump'), 'userfaultfd_ctx', ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trimEnd(), block);
    });
  }
});

describe('dump mod / dump waitq', () => {
  for (const d of allFixtureDirs().filter((x) => existsSync(join(x, 'vmcore.kdump')))) {
    const name = d.split('/').slice(-2).join('/');
    const vmcore = join(d, 'vmcore.kdump');
    if (existsSync(join(d, 'crash.mod.txt'))) {
      it(`${name}: dump mod lists crash's modules (struct module, name, base, size)`, () => {
        // crash also names the object file it loaded for a module; Coroner loads none.
        const strip = (t: string) => t.trim().split('\n').map((l) => l.replace(/\s+(\(not loaded\)\s+\[CONFIG_KALLSYMS\]|\/\S+\.ko)\s*$/, ''));
        assert.deepEqual(strip(runCli(['dump', 'mod', vmcore]).stdout), strip(readFileSync(join(d, 'crash.mod.txt'), 'utf8')));
      });
    }
    if (existsSync(join(d, 'crash.waitq-uffd.txt'))) {
      it(`${name}: dump waitq lists the waiters crash's waitq lists`, () => {
        for (const block of readFileSync(join(d, 'crash.waitq-uffd.txt'), 'utf8').split(/^== /m).filter(Boolean)) {
          const addr = /^waitq \S+ \(([0-9a-f]+)\)/.exec(block)![1];
          const want = block.split('\n').slice(1).filter(Boolean).join('\n');
          assert.equal(runCli(['dump', 'waitq', vmcore, addr]).stdout.trim(), want, addr);
        }
      });
    }
  }
  it('dump waitq of an address that is no wait queue says why, exit 2', { skip: !dirs.length && 'no fixtures' }, () => {
    const r = runCli(['dump', 'waitq', join(dirs[0], 'vmcore.kdump'), 'ffffffffff000000']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /waitq 0xffffffffff000000: cannot read .* is not mapped/);
  });
});

describe('dump task', () => {
  for (const d of fixtureDirs().filter((x) => existsSync(join(x, 'vmcore.kdump')) && existsSync(join(x, 'crash.foreach-UN-bt.txt')))) {
    const heads = [...readFileSync(join(d, 'crash.foreach-UN-bt.txt'), 'utf8').matchAll(/^PID: (\d+)\s+TASK: ([0-9a-f]+)\s+CPU: \d+\s+COMMAND: "(.*)"$/gm)];
    if (!heads.length) continue;
    it(`${d.split('/').slice(-2).join('/')}: dump task prints crash's task header and the task_struct (pid, comm, state)`, () => {
      for (const m of heads.slice(0, 3)) {
        const out = runCli(['dump', 'task', join(d, 'vmcore.kdump'), m[1]]).stdout;
        assert.equal(out.split('\n')[0], m[0]);
        assert.match(out, new RegExp(`^  pid = ${m[1]},$`, 'm'));
        assert.match(out, new RegExp(`^  comm = "${m[3].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(\\\\000)*",$`, 'm'));
        // the same struct by address
        assert.equal(runCli(['dump', 'task', join(d, 'vmcore.kdump'), m[2]]).stdout, out);
      }
    });
  }
});

describe('dump kmem -i', () => {
  for (const d of allFixtureDirs()) {
    const vmcore = [join(d, 'vmcore.kdump'), join(d, 'vmcore')].find((f) => existsSync(f));
    if (!vmcore) continue;
    const name = d.split('/').slice(-2).join('/');
    const oracle = join(d, 'crash.kmem-i.txt');
    it(`${name}: ${existsSync(oracle) ? "equal to crash's kmem -i" : 'totals that add up'}`, () => {
      const r = runCli(['dump', 'kmem', '-i', vmcore]);
      assert.equal(r.code, 0, r.stderr);
      if (existsSync(oracle)) assert.equal(r.stdout, readFileSync(oracle, 'utf8').replace(/\n*$/, '\n'));
      const pages = (label: string) => BigInt(new RegExp(`^\\s*${label}\\s+(\\d+)`, 'm').exec(r.stdout)![1]);
      assert.equal(pages('FREE') + pages('USED'), pages('TOTAL MEM'));
      assert.ok(pages('SHARED') > 0n && pages('SHARED') < pages('TOTAL MEM'));
      assert.ok(pages('SLAB') > 0n && pages('COMMIT LIMIT') > 0n);
    });
  }
});

describe('dump irq -s', () => {
  for (const d of allFixtureDirs()) {
    const vmcore = [join(d, 'vmcore.kdump'), join(d, 'vmcore')].find((f) => existsSync(f));
    if (!vmcore) continue;
    const name = d.split('/').slice(-2).join('/');
    const oracle = join(d, 'crash.irq-s.txt');
    if (existsSync(oracle)) {
      it(`${name}: equal to crash's irq -s`, () => assert.equal(runCli(['dump', 'irq', '-s', vmcore]).stdout, readFileSync(oracle, 'utf8')));
    } else if (/6\.12/.test(name)) {
      // 6.5+ keeps the descriptors in a maple tree: the legacy ISA interrupts are there as on 6.1
      it(`${name}: the legacy interrupts from the maple tree`, () => {
        const out = runCli(['dump', 'irq', '-s', vmcore]).stdout;
        for (const [irq, chip, handler] of [[0, 'IO-APIC-edge', 'timer'], [4, 'IO-APIC-edge', 'ttyS0'], [9, 'IO-APIC-fasteoi', 'acpi']] as const) {
          assert.match(out, new RegExp(`^ {1,2}${irq}:(\\s+\\d+){4}  ${chip}\\s+${handler}$`, 'm'));
        }
      });
    }
  }
});

describe('dump files', () => {
  for (const d of allFixtureDirs().filter((x) => existsSync(join(x, 'vmcore.kdump')) && existsSync(join(x, 'crash.files-vmm.txt')))) {
    it(`${d.split('/').slice(-2).join('/')}: equal to crash's files PID (paths across mounts, a socket, an anonymous inode)`, () => {
      const oracle = readFileSync(join(d, 'crash.files-vmm.txt'), 'utf8');
      const pid = /^PID: (\d+)/.exec(oracle)![1];
      assert.equal(runCli(['dump', 'files', join(d, 'vmcore.kdump'), pid]).stdout, oracle);
    });
  }
});

describe('dump list', () => {
  for (const d of allFixtureDirs().filter((x) => existsSync(join(x, 'vmcore.kdump')))) {
    const name = d.split('/').slice(-2).join('/');
    const vmcore = join(d, 'vmcore.kdump');
    if (existsSync(join(d, 'crash.mod.txt'))) {
      it(`${name}: the module list from its head holds crash's modules`, () => {
        const want = [...readFileSync(join(d, 'crash.mod.txt'), 'utf8').matchAll(/^([0-9a-f]{16})  /gm)].map((m) => m[1]).sort();
        assert.deepEqual(runCli(['dump', 'list', vmcore, 'modules', '-H', '-l', 'module.list']).stdout.trim().split('\n').sort(), want);
      });
    }
    if (existsSync(join(d, 'crash.ps.txt')) && name.startsWith('deb12-6.1.0-56/')) {
      it(`${name}: the task list from init_task names tasks crash's ps lists`, () => {
        const ps = new Set([...readFileSync(join(d, 'crash.ps.txt'), 'utf8').matchAll(/^>?\s*\d+\s+\d+\s+\d+\s+([0-9a-f]{16})\s/gm)].map((m) => m[1]));
        const got = runCli(['dump', 'list', vmcore, 'init_task', '-l', 'task_struct.tasks']).stdout.trim().split('\n');
        assert.ok(got.length > 10);
        for (const a of got) assert.ok(ps.has(a.padStart(16, '0')), a);
      });
    }
  }
});

describe('dump search', () => {
  const vmcore = join(dirs[0] ?? '', 'vmcore.kdump');
  it('every hit holds the value, as dump rd reads it back', { skip: (!dirs.length || !existsSync(vmcore)) && 'no fixtures' }, () => {
    const hits = runCli(['dump', 'search', vmcore, 'init_task', '--max', '3']).stdout.trim().split('\n');
    assert.equal(hits.length, 3);
    const want = runCli(['dump', 'sym', vmcore, 'init_task']).stdout.split(' ')[0];
    for (const h of hits) {
      const [addr, value] = h.split(': ');
      assert.equal(value.padStart(16, '0'), want);
      assert.match(runCli(['dump', 'rd', vmcore, addr]).stdout, new RegExp(`^${addr}:\\s+${want}`));
    }
  });
});
